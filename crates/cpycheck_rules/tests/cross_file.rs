//! Summaries of functions defined in another file of the same run.

use cpycheck_rules::{ExternalSummaries, Settings, check_file, check_file_with, recheck_file};
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

/// `USER` plus functions that do not reach `registry_get` (one with a leak of its own) and a
/// caller that reaches it through another function of the file.
fn user_with_more() -> String {
    USER.replace(
        "static PyMethodDef methods[]",
        r#"static PyObject *
leaky(PyObject *module, PyObject *args)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
through(PyObject *registry, PyObject *key)
{
    return registry_get(registry, key);
}

static PyObject *
via_helper(PyObject *module, PyObject *args)
{
    PyObject *registry, *key;
    if (!PyArg_ParseTuple(args, "OO", &registry, &key))
        return NULL;
    PyObject *value = through(registry, key);
    if (value == NULL)
        Py_RETURN_NONE;
    Py_DECREF(value);
    Py_RETURN_NONE;
}

static PyMethodDef methods[]"#,
    )
}

#[test]
fn a_second_analysis_that_reuses_the_first_gives_the_full_answer() {
    let settings = Settings::default();
    let none = ExternalSummaries::default();
    let user = user_with_more();
    let (_, helper_exports) =
        check_file_with("helper.c", HELPER.as_bytes(), &settings, &none, &NoIncludes);
    let (alone, user_exports) =
        check_file_with("user.c", user.as_bytes(), &settings, &none, &NoIncludes);
    let codes: Vec<&str> = alone.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["CPY101"], "{:?}", alone.diagnostics);

    let external = ExternalSummaries::from_exports([&helper_exports, &user_exports]);
    let (full, _) = check_file_with("user.c", user.as_bytes(), &settings, &external, &NoIncludes);
    // Without the kept bodies, from the bytes again.
    let (first, mut forgetful) =
        check_file_with("user.c", user.as_bytes(), &settings, &none, &NoIncludes);
    forgetful.forget_bodies();
    assert!(forgetful.recheck_needs_bytes());
    let reparsed = recheck_file(
        first,
        forgetful,
        Some(user.as_bytes()),
        &settings,
        &external,
        &NoIncludes,
    );
    assert_eq!(reparsed.diagnostics, full.diagnostics);

    assert!(!user_exports.recheck_needs_bytes());
    let again = recheck_file(alone, user_exports, None, &settings, &external, &NoIncludes);
    assert_eq!(again.diagnostics, full.diagnostics);
    assert_eq!(again.functions_incomplete, full.functions_incomplete);
    let found: Vec<(&str, Option<&str>)> = again
        .diagnostics
        .iter()
        .map(|d| (d.code, d.function.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("CPY103", Some("lookup_repr")),
            ("CPY101", Some("leaky")),
            ("CPY103", Some("via_helper")),
        ],
        "{:?}",
        again.diagnostics
    );
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let settings = Settings::default();
    let user = user_with_more();
    let mut reports = Vec::new();
    for threads in [1, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        reports.push(pool.install(|| check_file("user.c", user.as_bytes(), &settings)));
    }
    assert_eq!(reports[0].diagnostics, reports[1].diagnostics);
    assert!(!reports[0].diagnostics.is_empty());
}

const PLATFORM_A: &str = r#"
#include <Python.h>

/* One platform's variant: a Python-level function. */
PyObject *
page_size(PyObject *self, PyObject *args)
{
    return PyLong_FromLong(4096);
}
"#;

const PLATFORM_B_USER: &str = r#"
#include <Python.h>

/* Another platform declares the helper as a plain C function (its definition is elsewhere). */
long page_size(void);

static PyObject *
swap_mem(PyObject *self, PyObject *args)
{
    long pagesize = page_size();
    return PyLong_FromLong(pagesize * 2);
}

static PyMethodDef methods[] = {
    {"swap_mem", swap_mem, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};
"#;

#[test]
fn a_summary_is_not_used_where_the_declarations_disagree() {
    let settings = Settings::default();
    let none = ExternalSummaries::default();
    let (_, a) = check_file_with("a.c", PLATFORM_A.as_bytes(), &settings, &none, &NoIncludes);
    let (_, b) = check_file_with(
        "b.c",
        PLATFORM_B_USER.as_bytes(),
        &settings,
        &none,
        &NoIncludes,
    );
    assert_eq!(b.unresolved_calls, ["page_size"]);
    let external = ExternalSummaries::from_exports([&a, &b]);
    assert!(external.knows_any(&b.unresolved_calls));
    // `page_size()` is called with no arguments and its result stored into a `long`: the
    // other file's `PyObject *page_size(PyObject *, PyObject *)` is another function.
    let (together, _) = check_file_with(
        "b.c",
        PLATFORM_B_USER.as_bytes(),
        &settings,
        &external,
        &NoIncludes,
    );
    assert!(
        together.diagnostics.is_empty(),
        "{:?}",
        together.diagnostics
    );
}
