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

/// The family of an API-style name: what precedes its first `_` after the `Py`, without a
/// leading `_` (`PyUnicode` for `_PyUnicode_Ready`, `Py` for `Py_SIZE`).
fn family(name: &str) -> Option<&str> {
    let name = name.strip_prefix('_').unwrap_or(name);
    name.get(2..)?.find('_').map(|i| &name[..i + 2])
}

/// Whether the name belongs to a family the contracts table has (`PyUnicode_*`, `Py_*`):
/// CPython's own naming conventions hold there. Libraries that imitate them (numpy's
/// `PyArray_*`) define their own, and their macros are left to the conservative default.
fn in_cpython_family(name: &str) -> bool {
    static FAMILIES: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
        std::sync::LazyLock::new(|| crate::all().iter().filter_map(|c| family(c.name)).collect());
    family(name).is_some_and(|f| FAMILIES.contains(f))
}

/// Words that say a call changes or hands over what it is given: an unknown name holding one
/// (any case) is never taken for an accessor (`PyFoo_SET_ITEM` may steal like
/// `PyTuple_SET_ITEM`; `PyArray_XDECREF_ERR` releases).
const CHANGING_WORDS: &[&str] = &[
    "add", "alloc", "append", "clear", "decref", "del", "discard", "final", "free", "give",
    "incref", "init", "insert", "new", "pop", "push", "put", "release", "replace", "resize", "set",
    "steal", "store", "swap", "take", "track",
];

/// Whether an API-style name the contracts table does not know reads like an accessor,
/// which only looks at its arguments: a type check (`PyFoo_Check`, `PyFoo_CheckExact`), a
/// size (`PyFoo_Size`, `PyFoo_GET_SIZE`), or an all-caps macro (`PyArray_NDIM`,
/// `PyDataType_FLAGS`, `PyFoo_AS_LONG`), and none of [`CHANGING_WORDS`], in a family of
/// CPython's (see `in_cpython_family`). Calls to such a
/// name borrow their arguments instead of possibly stealing them (see ARCHITECTURE.md,
/// "Policy for unknown functions").
pub fn reads_as_accessor(name: &str) -> bool {
    if !is_api_style(name) || !in_cpython_family(name) {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if CHANGING_WORDS.iter().any(|w| lower.contains(w)) {
        return false;
    }
    // What follows the family prefix: `NDIM` in `PyArray_NDIM`, `SIZE` in `Py_SIZE`.
    let rest = name.trim_start_matches('_');
    let Some((_, member)) = rest.split_once('_') else {
        return false;
    };
    let all_caps = member.bytes().any(|b| b.is_ascii_uppercase())
        && member
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    all_caps
        || member.starts_with("Check")
        || member.ends_with("_Check")
        || member == "Size"
        || member.ends_with("_Size")
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

    #[test]
    fn accessor_names() {
        assert_eq!(family("_PyUnicode_Ready"), Some("PyUnicode"));
        assert_eq!(family("Py_SIZE"), Some("Py"));
        assert_eq!(family("PyNoFamily"), None);
        for name in [
            "PyUnicode_IS_COMPACT",
            "PyUnicode_KIND_OF",
            "PyList_CheckSomething",
            "PyLong_Size",
            "PyBytes_GET_LEN",
            "PyFloat_AS_FLOAT",
            "_PyUnicode_GET_WSTR",
            "Py_MAX",
            "Py_HASH_POINTER",
        ] {
            assert!(reads_as_accessor(name), "{name}");
        }
        for name in [
            // Changes or hands over what it is given.
            "PyList_SET_SLOT",
            "PyUnicode_STEAL_DATA",
            "PyDict_CLEAR_CACHE",
            "PyObject_XDECREF_ALL",
            "PyTuple_NEW_EMPTY",
            // Not accessor-shaped: conservative.
            "PyUnicode_Frobnicate",
            "PyModule_Something",
            "Pyfoo",
            // Another library's family: its own conventions.
            "PyArray_NDIM",
            "PyArray_Check",
            "PyDataType_FLAGS",
            "PyGreenlet_ACTIVE",
            // Not API-style.
            "__Pyx_PyList_GET_SIZE",
            "my_GET_SIZE",
        ] {
            assert!(!reads_as_accessor(name), "{name}");
        }
    }
}
