use crate::declare_rule;
use crate::lifecycle::{facts, slot_body, types};
use crate::registry::{Check, FileContext, FileFinding, Message};
use crate::rules::dealloc_missing_release::dedup;

declare_rule! {
    /// ## What it does
    /// Finds a `tp_clear` that releases a member in place (`Py_DECREF(self->m)`,
    /// `Py_XDECREF(self->m)`) instead of with `Py_CLEAR(self->m)`.
    ///
    /// ## Why is this bad?
    /// While the reference is released the member still points at the object, which may be
    /// freed by then; code run by the release (a `__del__`, the collector, the type's own
    /// dealloc later) sees a dangling pointer and releases or uses it again.
    ///
    /// ## Example
    /// ```c
    /// static int
    /// Node_clear(NodeObject *self)
    /// {
    ///     Py_XDECREF(self->payload);
    ///     return 0;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     Py_CLEAR(self->payload);
    ///     return 0;
    /// ```
    ///
    /// ## Known limitations
    /// Only the `tp_clear` function itself is checked, not helpers it calls.
    ///
    /// ## References
    /// - [`tp_clear`](https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_clear)
    pub ClearMisuse, "CPY305", "clear-misuse", preview = true
}

impl ClearMisuse {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for t in types(cx.model) {
            let Some(body) = slot_body(cx, t.ty, "tp_clear") else {
                continue;
            };
            let is_member = |n: &str| t.is_object_member(n);
            let f = facts(cx, body, 0, &is_member);
            for (m, span) in &f.released_in_place {
                let message = Message::new(format!(
                    "`{}` releases `self->{m}` without clearing it",
                    body.name
                ))
                .help(format!(
                    "use `Py_CLEAR(self->{m})`: it sets the member to NULL before the release"
                ));
                out.push(FileFinding::new(*span, message).in_function(&body.name));
            }
        }
        dedup(out)
    }
}
