//! Which APIs lend references that a container owns, and which APIs change containers: the
//! data behind "borrowed reference used after the container changed".
//!
//! Tuples are not here: a tuple cannot change, so an item borrowed from it lives as long as
//! the tuple does.

/// Where a borrowed result's owner is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lender {
    /// The container passed as this argument owns the result (and out-parameters).
    Arg(usize),
    /// A weak reference's referent: any Python code may free it.
    AnyPythonCode,
}

/// APIs whose borrowed result (or borrowed out-parameters) a container owns. Sorted.
const LENDERS: &[(&str, Lender)] = &[
    ("PyDict_GetItem", Lender::Arg(0)),
    ("PyDict_GetItemString", Lender::Arg(0)),
    ("PyDict_GetItemWithError", Lender::Arg(0)),
    ("PyDict_Next", Lender::Arg(0)),
    ("PyList_GET_ITEM", Lender::Arg(0)),
    ("PyList_GetItem", Lender::Arg(0)),
    ("PySequence_Fast_GET_ITEM", Lender::Arg(0)),
    ("PyWeakref_GET_OBJECT", Lender::AnyPythonCode),
    ("PyWeakref_GetObject", Lender::AnyPythonCode),
];

/// APIs that may remove items from the container passed as the given argument (and so
/// release them), or call one of its methods, which may do anything to it. Sorted.
const MUTATORS: &[(&str, usize)] = &[
    ("PyDict_Clear", 0),
    ("PyDict_DelItem", 0),
    ("PyDict_DelItemString", 0),
    ("PyDict_Pop", 0),
    ("PyDict_PopString", 0),
    ("PyDict_SetItem", 0),
    ("PyDict_SetItemString", 0),
    ("PyDict_Update", 0),
    ("PyList_SetItem", 0),
    ("PyList_SetSlice", 0),
    ("PyObject_CallMethod", 0),
    ("PyObject_CallMethodNoArgs", 0),
    ("PyObject_CallMethodObjArgs", 0),
    ("PyObject_CallMethodOneArg", 0),
    ("PyObject_DelItem", 0),
    ("PyObject_SetItem", 0),
    ("PySequence_DelItem", 0),
    ("PySequence_DelSlice", 0),
    ("PySequence_SetItem", 0),
    ("PySequence_SetSlice", 0),
];

/// APIs that put an item in place of another without releasing the old one (meant for
/// filling in new containers): the container's reference to an item it lent before passes
/// to the caller (`old = PyList_GET_ITEM(l, i); PyList_SET_ITEM(l, i, v); Py_DECREF(old);`).
/// `Py_SET_SIZE` shrinking a list hands the items past the new size to the caller the same
/// way (Cython's `list.pop`: `v = PyList_GET_ITEM(L, i); Py_SET_SIZE(L, n - 1); return v;`).
/// The argument is the container. Sorted.
const OVERWRITERS: &[(&str, usize)] = &[("PyList_SET_ITEM", 0), ("Py_SET_SIZE", 0)];

/// The container whose lent items an API may hand over to the caller, if any.
pub fn overwritten_arg(api: &str) -> Option<usize> {
    OVERWRITERS
        .binary_search_by(|(n, _)| n.cmp(&api))
        .ok()
        .map(|i| OVERWRITERS[i].1)
}

/// The owner of a borrowed reference the API returns, if a container owns it.
pub fn lender(api: &str) -> Option<Lender> {
    LENDERS
        .binary_search_by(|(n, _)| n.cmp(&api))
        .ok()
        .map(|i| LENDERS[i].1)
}

/// The argument an API may change as a container, if any.
pub fn mutated_arg(api: &str) -> Option<usize> {
    MUTATORS
        .binary_search_by(|(n, _)| n.cmp(&api))
        .ok()
        .map(|i| MUTATORS[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_are_sorted_and_name_known_apis() {
        assert!(super::LENDERS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(super::MUTATORS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(super::OVERWRITERS.windows(2).all(|w| w[0].0 < w[1].0));
        for name in super::LENDERS
            .iter()
            .map(|l| l.0)
            .chain(super::MUTATORS.iter().map(|m| m.0))
            .chain(super::OVERWRITERS.iter().map(|m| m.0))
        {
            assert!(crate::lookup(name).is_some(), "{name} has no contract");
        }
    }
}
