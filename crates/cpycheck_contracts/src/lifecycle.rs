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
