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

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_names_fallible_apis() {
        assert!(super::MUST_CHECK.windows(2).all(|w| w[0] < w[1]));
        for name in super::MUST_CHECK {
            let c = crate::lookup(name).unwrap_or_else(|| panic!("{name} has no contract"));
            assert!(
                matches!(
                    c.returns,
                    crate::Returns::Status(
                        crate::ErrorConvention::NegOne | crate::ErrorConvention::Zero
                    )
                ),
                "{name} has no error result"
            );
        }
    }
}
