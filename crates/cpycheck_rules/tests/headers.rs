//! Macros of the package's own headers: a statement macro defined in a header is expanded
//! where the file uses it, as the file's own macros are.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use cpycheck_diagnostics::FileReport;
use cpycheck_rules::{ExternalSummaries, Settings, check_file_with};
use cpycheck_source::{Header, Includes, NoIncludes};

/// Headers in memory, by the name they are included as.
struct Memory(HashMap<String, Arc<Header>>);

impl Memory {
    fn new(files: &[(&str, &str)]) -> Memory {
        Memory(
            files
                .iter()
                .map(|(name, text)| {
                    let header = Header::parse(Arc::from(Path::new(name)), text.as_bytes())
                        .expect("text header");
                    (name.to_string(), Arc::new(header))
                })
                .collect(),
        )
    }
}

impl Includes for Memory {
    fn resolve(&self, _: Option<&Header>, name: &str, _: bool) -> Option<Arc<Header>> {
        self.0.get(name).cloned()
    }
}

fn check(src: &str, includes: &dyn Includes) -> FileReport {
    check_file_with(
        "mod.c",
        src.as_bytes(),
        &Settings::default(),
        &ExternalSummaries::default(),
        includes,
    )
    .0
}

fn codes(report: &FileReport) -> Vec<(&str, usize)> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            let line = report.source[..d.span.start as usize].matches('\n').count() + 1;
            (d.code, line)
        })
        .collect()
}

/// The shape of a real package's error macro: it raises and returns from the function.
const ERRORS_H: &str = r#"
#ifndef ERRORS_H
#define ERRORS_H
#include "config.h"
#define RAISE_MSG(msg) do { \
    PyErr_SetString(PyExc_RuntimeError, (msg)); \
    return NULL; \
} while (0)
#endif
"#;

/// Only macros reach the file: the function defined here is not analysed with it.
const CONFIG_H: &str = r#"
#define FAIL_IF_NULL(x) if ((x) == NULL) return NULL
static PyObject *header_function(void) { return PyLong_FromLong(1); }
"#;

const RELEASES: &str = r#"#include <Python.h>
#include "errors.h"

static PyObject *
pair(PyObject *module, PyObject *args)
{
    PyObject *a = PyList_New(0);
    if (a == NULL)
        return NULL;
    PyObject *b = PyList_New(0);
    if (b == NULL) {
        Py_DECREF(a);
        RAISE_MSG("no list");
    }
    PyObject *r = PyTuple_Pack(2, a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return r;
}
"#;

#[test]
fn a_header_macro_that_returns_ends_the_path() {
    let headers = Memory::new(&[("errors.h", ERRORS_H), ("config.h", CONFIG_H)]);
    // Alone, `RAISE_MSG` is an unknown call and the path goes on to use `a` again.
    let alone = check(RELEASES, &NoIncludes);
    assert!(
        codes(&alone).iter().any(|(code, _)| *code == "CPY102"),
        "{:?}",
        alone.diagnostics
    );
    let with = check(RELEASES, &headers);
    assert_eq!(codes(&with), [], "{:?}", with.diagnostics);
    assert_eq!(with.functions_analyzed, 1);
}

const LEAKS: &str = r#"#include <Python.h>
#include "errors.h"

static PyObject *
make(PyObject *module, PyObject *arg)
{
    PyObject *list = PyList_New(0);
    FAIL_IF_NULL(list);
    PyObject *item = PyObject_Str(arg);
    FAIL_IF_NULL(item);
    if (PyList_Append(list, item) < 0) {
        Py_DECREF(item);
        Py_DECREF(list);
        return NULL;
    }
    Py_DECREF(item);
    return list;
}
"#;

#[test]
fn a_bug_only_visible_through_a_header_macro_is_found() {
    let headers = Memory::new(&[("errors.h", ERRORS_H), ("config.h", CONFIG_H)]);
    // Alone, `FAIL_IF_NULL` is an unknown call that does not end the path: the leak is
    // not seen, and `list` and `item` are thought to reach `PyList_Append` possibly NULL.
    assert_eq!(
        codes(&check(LEAKS, &NoIncludes)),
        [("CPY201", 12), ("CPY201", 13)]
    );
    // Through the nested header, the second `FAIL_IF_NULL` returns and leaks `list`.
    assert_eq!(codes(&check(LEAKS, &headers)), [("CPY101", 10)]);
}

#[test]
fn the_files_own_later_definition_wins() {
    let headers = Memory::new(&[("errors.h", ERRORS_H), ("config.h", CONFIG_H)]);
    // Redefined by the file after the `#include`: the file's definition is the one used.
    let redefined = LEAKS.replace(
        "#include \"errors.h\"\n",
        "#include \"errors.h\"\n#undef FAIL_IF_NULL\n#define FAIL_IF_NULL(x) if ((x) == NULL) { Py_XDECREF(list); return NULL; }\n",
    );
    assert_eq!(codes(&check(&redefined, &headers)), []);
    // Undefined by the file and not redefined: an unknown call again.
    let undefined = LEAKS.replace(
        "#include \"errors.h\"\n",
        "#include \"errors.h\"\n#undef FAIL_IF_NULL\n",
    );
    assert_eq!(
        codes(&check(&undefined, &headers)),
        [("CPY201", 13), ("CPY201", 14)]
    );
    // Defined by the file before the `#include` and by the header after it: the header's.
    let before = LEAKS.replace(
        "#include \"errors.h\"\n",
        "#define FAIL_IF_NULL(x) (void)0\n#include \"errors.h\"\n",
    );
    assert_eq!(codes(&check(&before, &headers)), [("CPY101", 11)]);
}
