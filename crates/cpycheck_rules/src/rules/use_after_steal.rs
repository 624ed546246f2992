use crate::declare_rule;
use crate::registry::{Check, Message, object_name};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds references used, released or stolen a second time after a call stole them
    /// (`PyTuple_SetItem`, `PyList_SET_ITEM`, `PyModule_AddObject` on success,
    /// `PyModule_Add`, `Py_BuildValue`'s `N` and the other stealing calls).
    ///
    /// ## Why is this bad?
    /// After the steal the container owns the reference. Releasing it again takes the
    /// container's reference away: the item is freed while the container still points at it,
    /// and the crash comes when the container is used or deallocated.
    ///
    /// ## Example
    /// ```c
    /// PyObject *v = PyLong_FromLong(1);
    /// PyTuple_SetItem(t, 0, v);     /* t now owns v's reference */
    /// Py_DECREF(v);                 /* releases t's reference */
    /// ```
    ///
    /// ## Use instead
    /// Drop the `Py_DECREF`: the stolen reference is the container's to release. If the
    /// function needs the object afterwards, take a reference before the steal with
    /// `Py_INCREF`.
    ///
    /// ## References
    /// - [Reference stealing](https://docs.python.org/3/extending/extending.html#ownership-rules)
    pub UseAfterSteal, "CPY105", "use-after-steal"
}

impl UseAfterSteal {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::UseAfterSteal {
            thief,
            stolen_at,
            again_by,
        } = &f.kind
        else {
            return None;
        };
        let name = object_name(&f.object);
        let message = match again_by {
            Some(second) => format!(
                "`{name}` is stolen by `{second}` after `{thief}` already stole its reference"
            ),
            None => format!("`{name}` is released after `{thief}` stole its reference"),
        };
        Some(
            Message::new(message)
                .label(*stolen_at, format!("stolen by `{thief}` here"))
                .help("the container owns the reference now: remove the release, or `Py_INCREF` before the steal"),
        )
    }
}
