//! APIs (mostly macros) that read through their first argument without checking it for NULL:
//! passing them an unchecked result of a call that can fail crashes. The data behind CPY201.
//!
//! Functions that check for NULL themselves, or that give NULL a meaning (`PyObject_SetAttr`
//! deletes, `Py_BuildValue("N", NULL)` propagates the error), are deliberately absent.

/// Sorted.
const DEREF_ARG0: &[&str] = &[
    "PyByteArray_AS_STRING",
    "PyBytes_AS_STRING",
    "PyBytes_Check",
    "PyBytes_GET_SIZE",
    "PyDict_Check",
    "PyDict_CheckExact",
    "PyDict_GET_SIZE",
    "PyFloat_AS_DOUBLE",
    "PyFloat_Check",
    "PyList_Check",
    "PyList_CheckExact",
    "PyList_GET_ITEM",
    "PyList_GET_SIZE",
    "PyList_SET_ITEM",
    "PyLong_Check",
    "PyLong_CheckExact",
    "PyObject_TypeCheck",
    "PySequence_Fast_GET_ITEM",
    "PySequence_Fast_GET_SIZE",
    "PySequence_Fast_ITEMS",
    "PyTuple_Check",
    "PyTuple_CheckExact",
    "PyTuple_GET_ITEM",
    "PyTuple_GET_SIZE",
    "PyTuple_SET_ITEM",
    "PyType_Check",
    "PyUnicode_Check",
    "PyUnicode_CheckExact",
    "PyUnicode_DATA",
    "PyUnicode_GET_LENGTH",
    "PyUnicode_KIND",
    "Py_REFCNT",
];

/// Borrowed results that really are NULL on failure (most NULL-able borrowed results in the
/// contracts table never are in practice: `PyMethod_GET_FUNCTION`, `PyModule_GetDict`).
/// Sorted.
const FALLIBLE_BORROWED: &[&str] = &[
    "PyDict_GetItem",
    "PyDict_GetItemString",
    "PyDict_GetItemWithError",
    "PyImport_AddModule",
    "PyList_GetItem",
    "PySys_GetObject",
    "PyTuple_GetItem",
];

/// Whether a borrowed result of the API is NULL when the API fails (or finds nothing).
pub fn borrowed_result_can_fail(api: &str) -> bool {
    FALLIBLE_BORROWED.binary_search(&api).is_ok()
}

/// Indexed reads whose result is NULL only for an index out of range or a container of
/// the wrong type. Code indexes after testing the size (`for (i = 0; i < n; i++)`, `if
/// (PyTuple_GET_SIZE(t) == 2)`), which the analysis does not follow, so their unchecked
/// results are not reported. Sorted.
const INDEXED_READS: &[&str] = &["PyList_GetItem", "PyList_GetItemRef", "PyTuple_GetItem"];

/// Whether the API's result is NULL only for a bad index or container type.
pub fn fails_only_out_of_range(api: &str) -> bool {
    INDEXED_READS.binary_search(&api).is_ok()
}

/// Integer constructors that cannot fail for CPython's cached small ints (-5..=256): their
/// result for a constant in that range is never NULL. Sorted.
const SMALL_INT_CONSTRUCTORS: &[&str] = &[
    "PyLong_FromLong",
    "PyLong_FromLongLong",
    "PyLong_FromSize_t",
    "PyLong_FromSsize_t",
    "PyLong_FromUnsignedLong",
    "PyLong_FromUnsignedLongLong",
];

/// Whether `api(value)` cannot fail because `value` is one of the interpreter's cached
/// small ints.
pub fn cannot_fail_for(api: &str, value: i64) -> bool {
    (-5..=256).contains(&value) && SMALL_INT_CONSTRUCTORS.binary_search(&api).is_ok()
}

/// String constructors that return an interned singleton, and so cannot fail, for the empty
/// string and for a single ASCII character. Sorted.
const SINGLE_CHAR_CONSTRUCTORS: &[&str] = &["PyBytes_FromString", "PyUnicode_FromString"];

/// Whether `api(literal)` cannot fail because the literal (its text as written, without
/// quotes) is the empty string or one ASCII character, which CPython caches.
pub fn cannot_fail_for_literal(api: &str, text: &str) -> bool {
    let cached = text.is_empty() || (text.len() == 1 && text.is_ascii() && text != "\\");
    cached && SINGLE_CHAR_CONSTRUCTORS.binary_search(&api).is_ok()
}

/// Whether `api(x)` returns a cached small int, which cannot fail, when `x` is small.
pub fn is_small_int_constructor(api: &str) -> bool {
    SMALL_INT_CONSTRUCTORS.binary_search(&api).is_ok()
}

/// Whether the API reads through its first argument unchecked.
pub fn derefs_first_arg(api: &str) -> bool {
    DEREF_ARG0.binary_search(&api).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_names_known_apis() {
        assert!(super::DEREF_ARG0.windows(2).all(|w| w[0] < w[1]));
        assert!(super::FALLIBLE_BORROWED.windows(2).all(|w| w[0] < w[1]));
        assert!(
            super::SMALL_INT_CONSTRUCTORS
                .windows(2)
                .all(|w| w[0] < w[1])
        );
        assert!(
            super::SINGLE_CHAR_CONSTRUCTORS
                .windows(2)
                .all(|w| w[0] < w[1])
        );
        assert!(super::INDEXED_READS.windows(2).all(|w| w[0] < w[1]));
        for name in super::DEREF_ARG0
            .iter()
            .chain(super::FALLIBLE_BORROWED)
            .chain(super::SMALL_INT_CONSTRUCTORS)
            .chain(super::SINGLE_CHAR_CONSTRUCTORS)
            .chain(super::INDEXED_READS)
        {
            assert!(crate::lookup(name).is_some(), "{name} has no contract");
        }
    }
}
