//! Fallible APIs whose result must be tested: when they fail, data is silently lost (an
//! item not added, an attribute not set, a type not ready, arguments not parsed) and an
//! exception is left pending. The data behind CPY203.
//!
//! Deliberately a list rather than every function with an error convention: some results
//! are ignored by design in careful code (`PyException_SetTraceback` while raising,
//! `PyErr_WarnEx` in best-effort warnings), and some calls cannot fail where they are
//! idiomatically used (`PyTuple_SetItem` / `PyList_SetItem` filling a fresh tuple or list
//! in range); reporting them would bury the real cases.

/// Sorted.
const MUST_CHECK: &[&str] = &[
    "PyArg_Parse",
    "PyArg_ParseTuple",
    "PyArg_ParseTupleAndKeywords",
    "PyArg_UnpackTuple",
    "PyBytes_AsStringAndSize",
    "PyDict_DelItem",
    "PyDict_DelItemString",
    "PyDict_Merge",
    "PyDict_SetItem",
    "PyDict_SetItemString",
    "PyDict_Update",
    "PyList_Append",
    "PyList_Insert",
    "PyList_SetSlice",
    "PyModule_Add",
    "PyModule_AddFunctions",
    "PyModule_AddIntConstant",
    "PyModule_AddObject",
    "PyModule_AddObjectRef",
    "PyModule_AddStringConstant",
    "PyModule_AddType",
    "PyObject_DelItem",
    "PyObject_SetAttr",
    "PyObject_SetAttrString",
    "PyObject_SetItem",
    "PySequence_DelItem",
    "PySequence_SetItem",
    "PySet_Add",
    "PySet_Discard",
    "PyType_Ready",
];

/// Whether ignoring the API's result loses data silently.
pub fn must_check(api: &str) -> bool {
    MUST_CHECK.binary_search(&api).is_ok()
}

/// APIs that, given a length pointer, fail only when their first argument is not a bytes
/// object. Sorted.
const FAILS_ONLY_ON_NON_BYTES: &[&str] = &["PyBytes_AsStringAndSize"];

/// Type checks that prove their argument is a bytes object. Sorted.
const BYTES_CHECKS: &[&str] = &["PyBytes_Check", "PyBytes_CheckExact"];

/// APIs whose result, when not NULL, is a bytes object. Sorted.
const RETURNS_BYTES: &[&str] = &[
    "PyBytes_FromFormat",
    "PyBytes_FromObject",
    "PyBytes_FromString",
    "PyBytes_FromStringAndSize",
    "PyUnicode_AsASCIIString",
    "PyUnicode_AsEncodedString",
    "PyUnicode_AsLatin1String",
    "PyUnicode_AsUTF16String",
    "PyUnicode_AsUTF32String",
    "PyUnicode_AsUTF8String",
    "PyUnicode_EncodeFSDefault",
];

/// Whether the API, called with a length pointer, fails only for a first argument that is
/// not bytes (`PyBytes_AsStringAndSize`).
pub fn fails_only_on_non_bytes(api: &str) -> bool {
    FAILS_ONLY_ON_NON_BYTES.binary_search(&api).is_ok()
}

/// Whether a true result of the API proves its argument is a bytes object.
pub fn is_bytes_check(api: &str) -> bool {
    BYTES_CHECKS.binary_search(&api).is_ok()
}

/// Whether the API's result, when not NULL, is a bytes object.
pub fn returns_bytes(api: &str) -> bool {
    RETURNS_BYTES.binary_search(&api).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_tables_are_sorted_and_name_known_apis() {
        for table in [
            super::FAILS_ONLY_ON_NON_BYTES,
            super::BYTES_CHECKS,
            super::RETURNS_BYTES,
        ] {
            assert!(table.windows(2).all(|w| w[0] < w[1]));
            for name in table {
                assert!(crate::lookup(name).is_some(), "{name} has no contract");
            }
        }
    }

    #[test]
    fn table_is_sorted_and_names_fallible_apis() {
        assert!(super::MUST_CHECK.windows(2).all(|w| w[0] < w[1]));
        for name in super::MUST_CHECK {
            let c = crate::lookup(name).unwrap_or_else(|| panic!("{name} has no contract"));
            assert!(
                matches!(
                    c.returns,
                    crate::Returns::Status(
                        crate::ErrorConvention::NegOne
                            | crate::ErrorConvention::NegOneOrZero
                            | crate::ErrorConvention::NegOneZeroOrOne
                            | crate::ErrorConvention::Zero
                    )
                ),
                "{name} has no error result"
            );
        }
    }
}
