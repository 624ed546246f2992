//! How CPython names its C API: which unknown callees read like CPython's, and what such a
//! name says about the call when the contracts table does not know it.

/// CPython's scalar type names: `(Py_ssize_t)(x)` may read as a call, but it is a cast.
const TYPE_NAMES: &[&str] = &[
    "Py_UCS1",
    "Py_UCS2",
    "Py_UCS4",
    "Py_UNICODE",
    "Py_hash_t",
    "Py_ssize_t",
    "Py_uhash_t",
];

/// Whether `name` is spelled like a CPython C-API function or macro: `Py` or `_Py` followed by
/// an upper-case letter or `_` (`PyTuple_GET_SIZE`, `Py_SIZE`, `_PyObject_LookupAttr`). Extension
/// libraries that follow CPython's style (`PyArray_*`) match too; Cython's `__Pyx_*` and
/// names such as `Pyramid_*` or `python_init` do not, nor do CPython's type names.
pub fn is_api_style(name: &str) -> bool {
    if TYPE_NAMES.contains(&name) {
        return false;
    }
    let rest = name.strip_prefix("_Py").or_else(|| name.strip_prefix("Py"));
    rest.and_then(|r| r.bytes().next())
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_style_names() {
        for name in [
            "Py_SIZE",
            "PyTuple_GET_SIZE",
            "_PyObject_LookupAttr",
            "_Py_HashDouble",
            "PyArray_DATA",
        ] {
            assert!(is_api_style(name), "{name}");
        }
        for name in [
            "__Pyx_GetItemInt",
            "Pyramid_open",
            "python_init",
            "Py",
            "_Py",
            "py_size",
            "MyPy_Foo",
            "Py_ssize_t",
            "Py_UCS4",
        ] {
            assert!(!is_api_style(name), "{name}");
        }
    }
}
