//! Summaries of functions defined in another file of the same run.

use cpycheck_rules::{ExternalSummaries, Settings, check_file_with};
use cpycheck_source::NoIncludes;

const HELPER: &str = r#"
#include <Python.h>

/* Returns a borrowed reference: the registry keeps it. */
PyObject *
registry_get(PyObject *registry, PyObject *key)
{
    return PyDict_GetItem(registry, key);
}
"#;

const USER: &str = r#"
#include <Python.h>

PyObject *registry_get(PyObject *registry, PyObject *key);

static PyObject *
lookup_repr(PyObject *module, PyObject *args)
{
    PyObject *registry, *key;
    if (!PyArg_ParseTuple(args, "OO", &registry, &key))
        return NULL;
    PyObject *value = registry_get(registry, key);
    if (value == NULL)
        Py_RETURN_NONE;
    PyObject *r = PyObject_Repr(value);
    Py_DECREF(value);
    return r;
}

static PyMethodDef methods[] = {
    {"lookup_repr", lookup_repr, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
"#;

#[test]
fn a_helper_defined_in_another_file_is_checked_by_its_summary() {
    let settings = Settings::default();
    let none = ExternalSummaries::default();
    let (_, helper_exports) =
        check_file_with("helper.c", HELPER.as_bytes(), &settings, &none, &NoIncludes);
    let (alone, user_exports) =
        check_file_with("user.c", USER.as_bytes(), &settings, &none, &NoIncludes);
    // Alone, `registry_get` is unknown: nothing can be said about `value`.
    assert!(alone.diagnostics.is_empty(), "{:?}", alone.diagnostics);
    assert_eq!(user_exports.unresolved_calls, ["registry_get"]);

    let external = ExternalSummaries::from_exports([&helper_exports, &user_exports]);
    assert!(external.knows_any(&user_exports.unresolved_calls));
    let (together, _) =
        check_file_with("user.c", USER.as_bytes(), &settings, &external, &NoIncludes);
    let codes: Vec<&str> = together.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["CPY103"], "{:?}", together.diagnostics);
}

#[test]
fn names_defined_differently_in_two_files_are_left_out() {
    let settings = Settings::default();
    let none = ExternalSummaries::default();
    let other = HELPER.replace(
        "return PyDict_GetItem(registry, key);",
        "return PyObject_GetItem(registry, key);",
    );
    let (_, a) = check_file_with("a.c", HELPER.as_bytes(), &settings, &none, &NoIncludes);
    let (_, b) = check_file_with("b.c", other.as_bytes(), &settings, &none, &NoIncludes);
    let external = ExternalSummaries::from_exports([&a, &b]);
    assert!(!external.knows_any(&["registry_get".to_string()]));
}
