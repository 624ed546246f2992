//! Contracts declared in the configuration (`Settings::contracts`) change what callers see.

use cpycheck_contracts::annotation::parse_annotations;
use cpycheck_rules::{Settings, check_file};

const CALLER: &str = r#"
#include <Python.h>

PyObject *lib_lookup(PyObject *key);

static PyObject *
get(PyObject *module, PyObject *key)
{
    PyObject *value = lib_lookup(key);
    if (value == NULL)
        return NULL;
    Py_DECREF(value);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"get", get, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};
"#;

fn codes(settings: &Settings) -> Vec<&'static str> {
    check_file("caller.c", CALLER.as_bytes(), settings)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}

#[test]
fn a_configured_contract_is_used_at_call_sites() {
    // Unknown function: nothing is claimed.
    assert!(codes(&Settings::default()).is_empty());
    let mut borrowed = Settings::default();
    borrowed.contracts.insert(
        "lib_lookup".to_string(),
        parse_annotations("returns-borrowed").unwrap(),
    );
    assert_eq!(codes(&borrowed), ["CPY103"]);
    let mut new = Settings::default();
    new.contracts.insert(
        "lib_lookup".to_string(),
        parse_annotations("returns-new").unwrap(),
    );
    assert!(codes(&new).is_empty());
}
