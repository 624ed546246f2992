//! A statement that crashes the process ends its path: nothing after it is reported.

use cpycheck_rules::check_file;

/// `goto error` with `name` NULL reaches `Py_DECREF(name)`, which dereferences NULL: the
/// stale `display` released after it on that path is never reached. The stale `tuple` is,
/// on the path where `display` fails.
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
fn a_release_of_null_ends_the_path() {
    let report = check_file("names.c", LOOP.as_bytes(), &Default::default());
    let index = cpycheck_source::LineIndex::new(&report.source);
    let found: Vec<(&str, usize)> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == "CPY102")
        .map(|d| (d.code, index.line_col(d.span.start).0))
        .collect();
    let stale_tuple = LOOP
        .lines()
        .position(|l| l.contains("Py_XDECREF(tuple)"))
        .unwrap()
        + 1;
    assert_eq!(found, [("CPY102", stale_tuple)], "{:?}", report.diagnostics);
}
