//! Source prep: the offset invariant and each rewrite.

use cpycheck_source::{PrepError, PrepOptions, Prepared, RewriteKind, prepare};

fn prep(text: &str) -> Prepared {
    prepare(text.as_bytes(), &PrepOptions::default()).expect("text input")
}

fn assert_invariant(bytes: &[u8], p: &Prepared) {
    assert_eq!(p.text.len(), bytes.len(), "length changed");
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert_eq!(p.text.as_bytes()[i], b'\n', "newline moved at {i}");
        }
    }
    assert_eq!(
        bytes.iter().filter(|&&b| b == b'\n').count(),
        p.text.bytes().filter(|&b| b == b'\n').count(),
        "newline added or removed"
    );
}

/// Small deterministic generator (xorshift), so the property test needs no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn offsets_are_stable_over_many_generated_inputs() {
    let pieces: &[&[u8]] = &[
        b"#if PY_VERSION_HEX >= 0x030D0000\n",
        b"#ifdef FOO\n",
        b"#ifndef Py_LIMITED_API\n",
        b"#elif defined(__GNUC__) && X > 1\n",
        b"#else\n",
        b"#endif\n",
        b"#define FOO 1\n",
        b"#define EMPTY\n",
        b"#define F(a, b) \\\n  do { a; } while (0)\n",
        b"#undef FOO\n",
        b"#if (1 +\n",
        b"  Py_BEGIN_ALLOW_THREADS\n",
        b"  Py_END_ALLOW_THREADS\n",
        b"PyVarObject_HEAD_INIT(NULL, 0)\n",
        b"PyObject_HEAD_INIT(&PyType_Type)\n",
        b"PyVarObject_HEAD_INIT(\n NULL,\n 0)\n",
        b"typedef struct { PyObject_HEAD int x; } O;\n",
        b"PyObject_VAR_HEAD;\n",
        b"static PyObject *f(PyObject *Py_UNUSED(self))\n{\n",
        b"}\n",
        b"STATS(x)\n",
        b"EMPTY static int g(void) { return 0; }\n",
        b"/* comment #if 0\n",
        b"*/\n",
        b"// line comment \\\n",
        b"\"string with #if\" 'c' '\\''\n",
        b"caf\xc3\xa9 \xe9\xff latin-1\n",
        b"\xe2\x82",
        b"\\\n",
        b"\r\n",
        b"#",
        b"(",
        b")",
        b"{",
        b"x",
        b" ",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2000 {
        let mut input = Vec::new();
        let n = rng.next() % 40;
        for _ in 0..n {
            input.extend_from_slice(rng.pick(pieces));
        }
        let p = prepare(&input, &PrepOptions::default()).expect("no NUL in generated input");
        assert_invariant(&input, &p);
    }
}

#[test]
fn invalid_utf8_becomes_question_marks() {
    let bytes = b"/* caf\xe9 */ int x;\n\xff\xfe\n";
    let p = prepare(bytes, &PrepOptions::default()).unwrap();
    assert_eq!(p.invalid_utf8_bytes, 3);
    assert_eq!(p.text, "/* caf? */ int x;\n??\n");
    assert_invariant(bytes, &p);
}

#[test]
fn nul_bytes_mean_binary() {
    let err = prepare(b"\x7fELF\0\0", &PrepOptions::default()).unwrap_err();
    assert_eq!(err, PrepError::Binary { offset: 4 });
    assert_eq!(
        err.to_string(),
        "not a text file (NUL byte at offset 4), skipped"
    );
}

#[test]
fn directives_are_blanked_and_defines_recorded() {
    let src = "#include <Python.h>\n#define ONE 1\n#define MAX(a, b) \\\n  ((a) > (b) ? (a) : (b))\nint x;\n";
    let p = prep(src);
    assert_eq!(
        p.text,
        format!(
            "{}\n{}\n{}\n{}\nint x;\n",
            " ".repeat(19),
            " ".repeat(13),
            " ".repeat(19),
            " ".repeat(25)
        )
    );
    assert_eq!(p.defines.len(), 2);
    assert_eq!(p.defines[0].name, "ONE");
    assert_eq!(p.defines[0].params, None);
    assert_eq!(p.defines[1].name, "MAX");
    assert_eq!(p.defines[1].params, Some(vec!["a".into(), "b".into()]));
    assert_eq!(p.defines[1].body, "((a) > (b) ? (a) : (b))");
    assert_eq!(
        &src[p.defines[1].span.range()],
        "#define MAX(a, b) \\\n  ((a) > (b) ? (a) : (b))"
    );
}

fn active_words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

#[test]
fn version_conditionals_follow_the_target_python() {
    let src = "#if PY_VERSION_HEX >= 0x030D0000\nnew_api();\n#elif PY_VERSION_HEX >= 0x030A0000\nmid_api();\n#else\nold_api();\n#endif\n";
    for (version, expect) in [
        ((3, 13), "new_api();"),
        ((3, 11), "mid_api();"),
        ((3, 8), "old_api();"),
    ] {
        let p = prepare(
            src.as_bytes(),
            &PrepOptions {
                python_version: version,
            },
        )
        .unwrap();
        assert_eq!(active_words(&p.text), vec![expect], "{version:?}");
    }
    let p = prep("#if PY_MAJOR_VERSION >= 3 && PY_MINOR_VERSION == 13\nyes\n#endif\n");
    assert_eq!(active_words(&p.text), vec!["yes"]);
    let p = prep("#if PY_VERSION_HEX == 0x030D00F0\nexact\n#endif\n");
    assert_eq!(active_words(&p.text), vec!["exact"]);
}

#[test]
fn defined_uses_file_defines_and_builtins() {
    let src = "#define HAVE_X\n#ifdef HAVE_X\na\n#endif\n#undef HAVE_X\n#ifdef HAVE_X\nb\n#endif\n\
               #if defined(__GNUC__) && !defined(_WIN32) && !defined(Py_LIMITED_API)\nc\n#endif\n\
               #ifdef PYPY_VERSION\nd\n#else\ne\n#endif\n#if UNKNOWN_THING\nf\n#endif\n\
               #ifndef Py_RETURN_NONE\ng\n#endif\n";
    assert_eq!(active_words(&prep(src).text), vec!["a", "c", "e"]);
}

#[test]
fn python_h_feature_macros_are_defined_for_the_target_python() {
    // Cython's test for PEP 393 unicode: `PyUnicode_KIND` comes from Python.h.
    let src = "#if PY_VERSION_HEX > 0x03030000 && defined(PyUnicode_KIND)\npep393\n#else\nlegacy\n#endif\n\
               #if !defined(PyUnicode_AS_UNICODE)\nno_wstr\n#endif\n\
               #if defined(PyObject_Format)\nfunction_not_macro\n#endif\n\
               #if !defined(Py_UNICODE_SIZE) || Py_UNICODE_SIZE == 2\nnarrow\n#endif\n\
               #if PY_BIG_ENDIAN\nbig\n#endif\n";
    for (version, expect) in [
        ((3, 13), vec!["pep393", "no_wstr"]),
        ((3, 11), vec!["pep393"]),
        ((3, 6), vec!["pep393"]),
    ] {
        let p = prepare(
            src.as_bytes(),
            &PrepOptions {
                python_version: version,
            },
        )
        .unwrap();
        assert_eq!(active_words(&p.text), expect, "{version:?}");
    }
}

#[test]
fn nested_conditionals() {
    let src = "#if 0\n#if 1\na\n#else\nb\n#endif\nc\n#elif 1\n#ifdef NOPE\nd\n#elif 1\ne\n#endif\n#else\nf\n#endif\ng\n";
    assert_eq!(active_words(&prep(src).text), vec!["e", "g"]);
}

#[test]
fn malformed_condition_takes_the_first_arm() {
    let src = "#if (1 +\na\n#else\nb\n#endif\n#if FOO(1)\nc\n#endif\n";
    assert_eq!(active_words(&prep(src).text), vec!["a", "c"]);
}

#[test]
fn arms_that_each_open_a_brace_leave_one() {
    let src = "int f(void)\n{\n#if PY_VERSION_HEX >= 0x030C0000\n    if (a) {\n#else\n    if (b) {\n#endif\n        g();\n    }\n}\n";
    let p = prep(src);
    assert_eq!(p.text.matches('{').count(), 2);
    assert_eq!(p.inactive.len(), 1);
}

#[test]
fn directive_inside_comment_is_not_a_directive() {
    let src = "/*\n#if 0\n*/\nint x;\n/* one-line */ #define NOT_AT_LINE_START\n";
    let p = prep(src);
    assert!(p.text.contains("int x;"));
    assert!(p.defines.is_empty());
}

#[test]
fn thread_macros_are_blanked() {
    let src = "Py_BEGIN_ALLOW_THREADS\nx = f();\nPy_END_ALLOW_THREADS\n";
    assert_eq!(active_words(&prep(src).text), vec!["x", "=", "f();"]);
}

#[test]
fn py_unused_keeps_the_name() {
    let p = prep("PyObject *f(PyObject *Py_UNUSED(self), PyObject *args)");
    assert_eq!(
        p.text,
        "PyObject *f(PyObject *          self , PyObject *args)"
    );
}

#[test]
fn head_init_becomes_one_element_with_its_comma() {
    let src = "static PyTypeObject T = {\n    PyVarObject_HEAD_INIT(NULL, 0)\n    \"m.T\",\n};\n";
    let p = prep(src);
    assert!(
        p.text.contains(&format!("    {{0}}{},\n", " ".repeat(26))),
        "{:?}",
        p.text
    );
    let p = prep("{ PyObject_HEAD_INIT(NULL) 0, \"x\" }");
    assert_eq!(p.text, format!("{{ {{}}{}, 0, \"x\" }}", " ".repeat(21)));
    assert!(
        matches!(&p.rewrites[0].kind, RewriteKind::HeadInit { name } if name == "PyObject_HEAD_INIT")
    );
    // Spread over lines: newlines stay where they are.
    let src = "{ PyVarObject_HEAD_INIT(\n  NULL, 0)\n \"x\" }";
    let p = prep(src);
    assert_eq!(p.text, "{ {0}                   \n         ,\n \"x\" }");
}

#[test]
fn object_heads_become_members() {
    let p = prep("typedef struct {\n    PyObject_HEAD\n    PyObject *x;\n} O;\n");
    assert!(p.text.contains("    PyObject _ob;\n"), "{:?}", p.text);
    let p = prep("struct o { PyObject_VAR_HEAD; int n; };");
    assert_eq!(p.text, "struct o { PyVarObject _ob  ; int n; };");
}

#[test]
fn attribute_macros_from_the_file_are_blanked_or_replaced() {
    let src = "#define EXPORT __attribute__((visibility(\"default\")))\n#define MY_INLINE static inline\n#define NOTHING\n\
               EXPORT int f(void);\nMY_INLINE int g(void) { return 0; }\nint h(int x NOTHING);\n";
    let p = prep(src);
    let lines: Vec<&str> = p.text.lines().collect();
    assert_eq!(lines[3].trim_start(), "int f(void);");
    assert!(
        lines[4].starts_with("static    int g(void)"),
        "{:?}",
        lines[4]
    );
    assert_eq!(
        lines[5].split_whitespace().collect::<String>(),
        "inth(intx);"
    );
}

#[test]
fn unknown_header_macros_in_function_heads() {
    let p = prep(
        "VOID CALLBACK cb(PVOID h) { }\nstatic ATTR INLINE void f(void) { }\nNPY_NO_EXPORT PyObject *g(void) { }\nPyMODINIT_FUNC PyInit_m(void) { }\n",
    );
    let lines: Vec<&str> = p.text.lines().map(str::trim_start).collect();
    assert_eq!(lines[0], "CALLBACK cb(PVOID h) { }");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["static", "void", "f(void)", "{", "}"]
    );
    assert_eq!(lines[2], "PyObject *g(void) { }");
    assert_eq!(lines[3], "PyMODINIT_FUNC PyInit_m(void) { }");
}

#[test]
fn statement_macros_get_a_semicolon() {
    let p =
        prep("void f(void) {\n    STATS(x)\n    g();\n    LIST_FOREACH(k, &h, e) {\n    }\n}\n");
    assert!(p.text.contains("STATS(x)\n;   g();"), "{:?}", p.text);
    assert!(p.text.contains("LIST_FOREACH(k, &h, e);{"), "{:?}", p.text);
    // A declaration with a type macro is left alone.
    let p = prep("void f(void) {\n    TYPE(x) y;\n}\n");
    assert!(p.text.contains("TYPE(x) y;"));
}

#[test]
fn statement_macros_after_if_and_else_get_a_semicolon() {
    // Cython's `if (c) __PYX_ERR(0, 1, L_error)` with no `;`, before `else`, before the
    // next statement (even an assignment) and before a comment.
    let src = "#define ERR(l) { x = l; goto L; }\nint f(int c) {\n  if (c) ERR(1)\n  else goto L;\n  if (g(c)) ERR(2)\n\n  /* a b */\n  r = 0;\n  if (c) ERR(3)\n}\n";
    let p = prep(src);
    assert_invariant(src.as_bytes(), &p);
    assert!(p.text.contains("ERR(1)\n; else goto L;"), "{:?}", p.text);
    assert!(
        p.text.contains("ERR(2)\n\n; /* a b */\n  r = 0;"),
        "{:?}",
        p.text
    );
    assert!(p.text.contains("ERR(3)\n}"), "{:?}", p.text);
    // A cast before a call is not a condition.
    let p = prep("int f(void) {\n  x = (T) g(1)\n  + 2;\n}\n");
    assert!(p.text.contains("g(1)\n  + 2;"), "{:?}", p.text);
}

#[test]
fn non_c_text_does_not_break_prep() {
    for text in [
        "import os\nif x:\n    pass\n",
        "# Title\n\n```c\n#if 0\n```\n",
        "#\n#if\n#endif\n#endif\n#else\n",
        "'\"\\",
    ] {
        let p = prep(text);
        assert_invariant(text.as_bytes(), &p);
    }
}

#[test]
fn object_like_statement_macros_get_a_semicolon() {
    // Cython's `__Pyx_PyThreadState_declare` / `_assign`, each alone on its line.
    let src = "#define DECL PyThreadState *ts;\n#define ASSIGN ts = current;\nvoid f(void) {\n  DECL\n  ASSIGN\n  g(ts);\n  DECL;\n}\n";
    let p = prep(src);
    assert_invariant(src.as_bytes(), &p);
    assert!(p.text.contains("DECL\n; ASSIGN\n; g(ts);"), "{:?}", p.text);
    // Already followed by `;`: unchanged.
    assert!(p.text.contains("  DECL;\n"), "{:?}", p.text);
}

#[test]
fn statement_macros_before_a_parenthesis_get_a_semicolon() {
    // `if (c) __PYX_ERR(0, 1, L)` followed by `(void)f();` on the next line.
    let src = "#define ERR(l) { goto l; }\nint f(int c) {\n  if (c) ERR(L)\n  (void)g();\nL:\n  return 0;\n}\n";
    let p = prep(src);
    assert_invariant(src.as_bytes(), &p);
    assert!(p.text.contains("ERR(L)\n; (void)g();"), "{:?}", p.text);
}

#[test]
fn fpe_protect_and_qualifier_macros_are_blanked() {
    let src = "#define MY_RESTRICT __restrict__\nvoid f(PyObject *MY_RESTRICT src) {\n  PyFPE_START_PROTECT(\"add\", return NULL)\n  r = a + b;\n  PyFPE_END_PROTECT(r)\n}\n";
    let p = prep(src);
    assert_invariant(src.as_bytes(), &p);
    let lines: Vec<&str> = p.text.lines().map(str::trim).collect();
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["void", "f(PyObject", "*", "src)", "{"]
    );
    assert_eq!(lines[2], "");
    assert_eq!(lines[4], "");
}

#[test]
fn crlf_line_continuations_in_strings_are_respelled() {
    // `\` CR LF continues a line like `\` LF; the parser only knows the latter.
    let src = "static char doc[] = \"a\\n\\\r\nb\";\r\nint f(void) { return 0; }\r\n";
    let p = prep(src);
    assert_invariant(src.as_bytes(), &p);
    assert!(p.text.contains("\"a\\n \\\nb\";"), "{:?}", p.text);
}

#[test]
fn digraphs_become_brackets() {
    let src = "int f(int a) <% int b<:2:>; return 0; %>\nchar *s = \"<% %>\";\nX<::y> z;\n";
    let p = prep(src);
    assert_invariant(src.as_bytes(), &p);
    assert!(
        p.text
            .starts_with("int f(int a) {  int b[ 2] ; return 0; } \n"),
        "{:?}",
        p.text
    );
    assert!(p.text.contains("\"<% %>\""));
    // `<::` is left alone (C++ reads it as `<` `::`).
    assert!(p.text.contains("X<::y> z;"), "{:?}", p.text);
}

#[test]
fn thread_state_pairs_of_the_package_get_a_semicolon() {
    // A package's begin/end pair built on `Py_BEGIN_ALLOW_THREADS` (which opens a block the
    // end macro closes), each alone on its line.
    let src = "#define MY_BEGIN if (s) { s->n = 1; } Py_BEGIN_ALLOW_THREADS\n#define MY_END Py_END_ALLOW_THREADS if (s) s->n = 0;\n#define OUTER MY_BEGIN\nvoid f(void) {\n  OUTER\n  g();\n  MY_END\n  h();\n}\n";
    let p = prep(src);
    assert_invariant(src.as_bytes(), &p);
    assert!(
        p.text.contains("OUTER\n; g();\n  MY_END\n; h();"),
        "{:?}",
        p.text
    );
}

#[test]
fn iso646_operator_names_become_operators() {
    let src = "#include <iso646.h>\nint f(int a, int b) { if (not a and b or a not_eq b) return compl a; return 0; }\n";
    let p = prep(src);
    assert_invariant(src.as_bytes(), &p);
    assert!(
        p.text
            .contains("if (!   a &&  b || a !=     b) return ~     a;"),
        "{:?}",
        p.text
    );
    // Without the header, `and` is an ordinary identifier.
    let plain = "int f(int and) { return and; }\n";
    assert_eq!(prep(plain).text, plain);
}
