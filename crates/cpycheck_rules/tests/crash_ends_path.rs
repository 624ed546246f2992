//! A `Py_DECREF` of a value known to be NULL is reported, and its path goes on: the bugs
//! after it on that path are reported too. A call that never returns (`abort()`) ends its
//! path.

use cpycheck_rules::check_file;

/// `goto error` with `name` NULL reaches `Py_DECREF(name)`, which dereferences NULL: that
/// is reported (CPY201), and so is the stale `display` released after it on that path
/// (released at the end of the previous iteration), and the stale `tuple` on the path where
/// `display` fails.
const LOOP: &str = r#"
#include <Python.h>
static PyObject *
names(PyObject *self, PyObject *args)
{
    PyObject *list = PyList_New(0), *name = NULL, *display = NULL, *tuple = NULL;
    if (list == NULL)
        return NULL;
    for (int i = 0; i < 3; i++) {
        name = PyUnicode_FromString("name");
        if (name == NULL)
            goto error;
        display = NULL;
        display = PyUnicode_FromString("display");
        if (display == NULL)
            goto error;
        tuple = PyTuple_Pack(2, name, display);
        if (tuple == NULL)
            goto error;
        if (PyList_Append(list, tuple))
            goto error;
        Py_DECREF(display);
        Py_DECREF(name);
        Py_DECREF(tuple);
    }
    return list;
error:
    Py_DECREF(name);
    Py_XDECREF(display);
    Py_XDECREF(tuple);
    Py_DECREF(list);
    return NULL;
}
"#;

#[test]
fn a_release_of_null_is_reported_and_the_path_goes_on() {
    let report = check_file("names.c", LOOP.as_bytes(), &Default::default());
    let index = cpycheck_source::LineIndex::new(&report.source);
    let mut found: Vec<(&str, usize)> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == "CPY102" || d.code == "CPY201")
        .map(|d| (d.code, index.line_col(d.span.start).0))
        .collect();
    found.sort();
    // The last line with `text`: the error path.
    let lines: Vec<&str> = LOOP.lines().collect();
    let line = |text: &str| lines.iter().rposition(|l| l.contains(text)).unwrap() + 1;
    assert_eq!(
        found,
        [
            ("CPY102", line("Py_XDECREF(display)")),
            ("CPY102", line("Py_XDECREF(tuple)")),
            ("CPY201", line("Py_DECREF(name)")),
        ],
        "{:?}",
        report.diagnostics
    );
}

/// The same loop, with the error path ending in `abort()` before anything is released:
/// nothing after it is reported, not even the list it never releases.
#[test]
fn a_call_that_never_returns_ends_the_path() {
    let source = LOOP.replace("error:\n", "error:\n    abort();\n");
    assert!(source.contains("abort();"));
    let report = check_file("names.c", source.as_bytes(), &Default::default());
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
}
