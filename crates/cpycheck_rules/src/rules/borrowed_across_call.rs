use crate::declare_rule;
use crate::registry::{Check, Message, object_name};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds borrowed references to the items of a list or dict (`PyList_GetItem`,
    /// `PyList_GET_ITEM`, `PyDict_GetItem*`, `PySequence_Fast_GET_ITEM`, `PyDict_Next`) used
    /// after a call that may have changed that container — an API that removes or replaces
    /// items (`PyList_SetSlice`, `PyDict_DelItem`, `PySequence_DelItem`, ...), a method call on
    /// it, one of your own functions that does either, or the release of the container
    /// itself — and weak-reference targets (`PyWeakref_GetObject`) used after any call that
    /// runs Python code, without a `Py_INCREF` to hold them.
    ///
    /// ## Why is this bad?
    /// A borrowed item lives only as long as the container holds it. Once the item is
    /// removed its memory may be freed and reused, and the function goes on reading a
    /// dangling pointer: it prints garbage, returns the wrong object or crashes, and only on
    /// the data that makes the container drop its last reference.
    ///
    /// ## Example
    /// ```c
    /// PyObject *last = PyList_GetItem(list, PyList_Size(list) - 1);
    /// do_something(list);              /* may remove items from `list` */
    /// PyObject_Print(last, stdout, 0); /* `last` may have been freed */
    /// ```
    ///
    /// ## Use instead
    /// ```c
    /// PyObject *last = PyList_GetItem(list, PyList_Size(list) - 1);
    /// Py_INCREF(last);                 /* hold it while the list may change */
    /// do_something(list);
    /// PyObject_Print(last, stdout, 0);
    /// Py_DECREF(last);
    /// ```
    /// or use the strong-reference APIs (`PyList_GetItemRef`, `PyDict_GetItemRef`).
    ///
    /// ## Known limitations
    /// Calls to functions cpycheck knows nothing about (defined in files that are not
    /// analysed) are assumed not to change the container, and neither is arbitrary Python code
    /// run by calls that do not receive the container. Items of tuples are not tracked: a tuple
    /// cannot change.
    pub BorrowedAcrossCall, "CPY106", "borrowed-across-call", preview = true
}

impl BorrowedAcrossCall {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::BorrowedAcrossCall {
            call,
            call_span,
            container,
        } = &f.kind
        else {
            return None;
        };
        let name = object_name(&f.object);
        let message = match container {
            Some(c) if call.contains("DECREF") => format!(
                "borrowed reference `{name}` is used after its container `{c}` was released"
            ),
            Some(c) => format!(
                "borrowed reference `{name}` is used after `{call}` may have removed it from `{c}`"
            ),
            None => format!("borrowed reference `{name}` is used after `{call}` may have freed it"),
        };
        Some(
            Message::new(message)
                .label(*call_span, format!("`{call}` may free `{name}`"))
                .help(format!(
                    "hold a reference across the call: `Py_INCREF({name})` before it and `Py_DECREF({name})` when done"
                )),
        )
    }
}
