//! Inputs that once aborted the process or were dropped silently: each must give a report.

use cpycheck_rules::{Settings, check_file};

/// A module whose function `f` runs `Py_INCREF(x); Py_DECREF(x)` `fan^levels` times in one
/// basic block, through macros that use macros.
fn macro_storm(levels: usize, fan: usize) -> String {
    let mut src = String::from("#include <Python.h>\n#define A0(o) Py_INCREF(o); Py_DECREF(o)\n");
    for i in 1..=levels {
        let uses = vec![format!("A{}(o)", i - 1); fan].join("; ");
        src.push_str(&format!("#define A{i}(o) {uses}\n"));
    }
    src.push_str(&format!(
        "static PyObject *f(PyObject *self, PyObject *x) {{\n    A{levels}(x);\n    \
         Py_RETURN_NONE;\n}}\n\
         static PyMethodDef methods[] = {{{{\"f\", f, METH_O, NULL}}, {{NULL}}}};\n"
    ));
    src
}

/// The history of `x` grows by one event per reference operation. It used to be freed by a
/// recursive `Drop`, one stack frame per event: 60,000 events overflowed a small stack (and
/// a few million the analysis threads' 64 MiB), aborting the whole run. On a 256 KiB stack,
/// the history must be bounded and freed without recursion.
#[test]
fn a_function_with_a_huge_history_does_not_overflow_the_stack() {
    let src = macro_storm(4, 15); // 50,625 expansions, 101,250 events on `x`
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .stack_size(256 * 1024)
        .build()
        .expect("a thread pool");
    let report = pool.install(|| check_file("storm.c", src.as_bytes(), &Settings::default()));
    assert_eq!(report.error, None);
    assert_eq!(report.functions_analyzed, 1);
}

/// The line and column of a byte offset in `text`, counting `\n` only.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// A file whose lines end in a lone CR was one line: its `#include` directive blanked the
/// whole file, and nothing was analysed. Each CR now ends a line.
#[test]
fn carriage_returns_alone_end_lines() {
    let src = "#include <Python.h>\rstatic PyObject *\rf(PyObject *self, PyObject *args)\r{\r    \
               return PyNumber_Negative(PyLong_FromLong(1));\r}\r\
               static PyMethodDef m[] = {{\"f\", f, METH_VARARGS, NULL}, {NULL}};\r";
    let report = check_file("cr.c", src.as_bytes(), &Settings::default());
    assert_eq!(report.functions_analyzed, 1);
    assert_eq!(report.diagnostics.len(), 1, "{:?}", report.diagnostics);
    let span = report.diagnostics[0].span;
    assert_eq!(report.source.len(), src.len());
    assert_eq!(line_col(&report.source, span.start as usize), (5, 5));
}

/// A long generated `else if` chain nests past the syntax model's cap: the function is
/// skipped, and says why (it claimed "parse error regions" where there were none).
#[test]
fn a_function_nested_too_deep_is_skipped_with_its_reason() {
    let mut src = String::from(
        "#include <Python.h>\nstatic PyObject *f(PyObject *self, PyObject *x) {\n    \
         long i = PyLong_AsLong(x);\n    if (i == 0) { i = 1; }\n",
    );
    for k in 1..300 {
        src.push_str(&format!("    else if (i == {k}) {{ i = {}; }}\n", k + 1));
    }
    src.push_str("    Py_RETURN_NONE;\n}\n");
    let report = check_file("deep.c", src.as_bytes(), &Settings::default());
    assert_eq!(report.functions_skipped, 1);
    assert_eq!(
        report.skip_reasons.keys().collect::<Vec<_>>(),
        [cpycheck_rules::SKIP_TOO_DEEP]
    );
}

/// Macros of the file nested deeper than the IR expands them were left unexpanded with
/// nothing said; the limit is now counted.
#[test]
fn macros_nested_too_deep_are_counted() {
    let mut src = String::from("#include <Python.h>\n#define M0(o) Py_DECREF(o)\n");
    for k in 1..=20 {
        src.push_str(&format!("#define M{k}(o) M{}(o)\n", k - 1));
    }
    src.push_str(
        "static PyObject *f(PyObject *self, PyObject *x) {\n    M20(x);\n    \
         Py_RETURN_NONE;\n}\n",
    );
    let report = check_file("mdeep.c", src.as_bytes(), &Settings::default());
    assert_eq!(report.functions_analyzed, 1);
    assert_eq!(
        report.limits.get(cpycheck_rules::LIMIT_MACRO_DEPTH),
        Some(&1),
        "{:?}",
        report.limits
    );
    let shallow = src.replace("M20(x);", "M3(x);");
    let report = check_file("mdeep.c", shallow.as_bytes(), &Settings::default());
    assert!(report.limits.is_empty(), "{:?}", report.limits);
}
