//! Object lifecycle functions: what a `tp_dealloc` may call to free or untrack
//! the object. Data for the type-level rules, kept here so that no
//! other crate matches on C-API names.

/// Functions (and function-like macros) that free an object's memory, as `tp_free` does.
const FREES: &[&str] = &[
    "PyObject_Del",
    "PyObject_DEL",
    "PyObject_Free",
    "PyObject_FREE",
    "PyObject_GC_Del",
    "PyMem_Free",
    "PyMem_Del",
    "PyMem_DEL",
    "PyMem_FREE",
];

/// Functions that take an object out of the garbage collector's tracking.
const UNTRACKS: &[&str] = &[
    "PyObject_GC_UnTrack",
    "PyObject_GC_UNTRACK",
    "_PyObject_GC_UNTRACK",
];

/// The call frees the object passed to it.
pub fn frees_object(name: &str) -> bool {
    FREES.contains(&name)
}

/// The call stops the garbage collector tracking the object passed to it.
pub fn untracks_object(name: &str) -> bool {
    UNTRACKS.contains(&name)
}

/// Functions after whose success a dealloc must return without freeing: the object was
/// resurrected (`if (PyObject_CallFinalizerFromDealloc(self) < 0) return;`).
const RESURRECTS: &[&str] = &["PyObject_CallFinalizerFromDealloc"];

/// The call may resurrect the object passed to it; the dealloc then returns early.
pub fn may_resurrect(name: &str) -> bool {
    RESURRECTS.contains(&name)
}

/// CPython's own concrete types that a static extension type may name as its `tp_base`.
/// Their deallocs release only what the builtin type itself holds: a subtype that adds
/// object members and inherits the dealloc never releases them. Sorted.
const BUILTIN_TYPES: &[&str] = &[
    "PyBaseObject_Type",
    "PyByteArray_Type",
    "PyBytes_Type",
    "PyComplex_Type",
    "PyDict_Type",
    "PyFloat_Type",
    "PyFrozenSet_Type",
    "PyList_Type",
    "PyLong_Type",
    "PyModule_Type",
    "PySet_Type",
    "PyTuple_Type",
    "PyUnicode_Type",
];

/// The variable is one of CPython's builtin type objects (`PyList_Type`, ...), whose
/// dealloc knows nothing of a subtype's own members.
pub fn is_builtin_type(name: &str) -> bool {
    BUILTIN_TYPES.binary_search(&name).is_ok()
}

/// C library functions that use a pointer argument only while they run: handing them an
/// object's address as `void *` keeps nothing. Sorted.
const TRANSIENT_POINTER: &[&str] = &[
    "bsearch", "fprintf", "fwrite", "memchr", "memcmp", "memcpy", "memmove", "memset", "printf",
    "qsort", "qsort_r", "snprintf", "sprintf",
];

/// The C library function only uses a pointer passed to it during the call (`qsort`'s
/// context, `memcpy`'s buffers).
pub fn uses_pointer_only_during_call(name: &str) -> bool {
    TRANSIENT_POINTER.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_types_are_sorted() {
        assert!(BUILTIN_TYPES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_builtin_type("PyList_Type"));
        assert!(!is_builtin_type("PyList_New"));
        assert!(TRANSIENT_POINTER.windows(2).all(|w| w[0] < w[1]));
        assert!(uses_pointer_only_during_call("qsort"));
    }
}
