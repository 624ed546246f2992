//! Bad input never panics and never overflows the stack.

use cpycheck_syntax::{ExprKind, FileModel, StmtKind, parse};

/// Runs `parse` on a thread with a 2 MiB stack, like a rayon worker.
fn parse_small_stack(text: String) -> FileModel {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || parse(&text))
        .expect("spawn")
        .join()
        .expect("parse must not panic or overflow")
}

fn wrap_fn(body: &str) -> String {
    format!("int f(void)\n{{\n{body}\n}}\n")
}

#[test]
fn deeply_nested_parentheses() {
    let n = 10_000;
    let body = format!("return {}1{};", "(".repeat(n), ")".repeat(n));
    let model = parse_small_stack(wrap_fn(&body));
    let f = &model.functions[0];
    // Parentheses are removed iteratively: the literal survives.
    match &f.body[0].kind {
        StmtKind::Return(Some(e)) => assert!(matches!(e.kind, ExprKind::Int(1))),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn long_binary_chain() {
    let terms = vec!["1"; 10_000].join("+");
    let model = parse_small_stack(wrap_fn(&format!("return {terms};")));
    let f = &model.functions[0];
    assert!(f.has_errors, "a truncated expression marks the function");
}

#[test]
fn deeply_nested_blocks() {
    let n = 10_000;
    let body = format!("{}x = 1;{}", "{".repeat(n), "}".repeat(n));
    let model = parse_small_stack(wrap_fn(&body));
    assert_eq!(model.functions.len(), 1);
    assert!(model.functions[0].has_errors);
}

#[test]
fn deeply_nested_ifs() {
    let n = 5_000;
    let body = format!("{}return 1;", "if (x) ".repeat(n));
    let model = parse_small_stack(wrap_fn(&body));
    assert_eq!(model.functions.len(), 1);
}

#[test]
fn non_c_text() {
    let python =
        "import os\n\ndef f(x):\n    return {'a': [1, 2, (3,)]}\n\nclass A(object):\n    pass\n";
    let markdown = "# Title\n\n* item `code` {\n\n```c\nint main(void) { return 0; }\n```\n";
    for text in [
        python,
        markdown,
        "",
        "}}}}{{{{",
        "\u{0}\u{1}",
        "int f(",
        "#",
    ] {
        let _ = parse_small_stack(text.to_string());
    }
}

#[test]
fn syntax_errors_are_counted_and_modelled() {
    let model = parse(&wrap_fn("int x = ;\n  foo(1 2);\n  return x;"));
    assert!(model.error_regions > 0);
    // The errors are confined to statements, which are opaque.
    assert!(!model.functions[0].has_errors);
    assert!(model.functions[0].opaque_regions > 0);
    assert!(
        model.functions[0]
            .body
            .iter()
            .any(|s| matches!(s.kind, StmtKind::Return(_)))
    );
}

#[test]
fn hundred_thousand_line_file() {
    let mut src = String::new();
    let mut i = 0;
    while i < 100_000 / 8 {
        src.push_str(&format!(
            "static int\nf{i}(int a)\n{{\n    int b = a + {i};\n    if (b < 0)\n        return -1;\n    return b;\n}}\n"
        ));
        i += 1;
    }
    assert_eq!(src.lines().count(), 100_000);
    let model = parse_small_stack(src);
    assert_eq!(model.functions.len(), 100_000 / 8);
    assert_eq!(model.error_regions, 0);
}
