use crate::declare_rule;
use crate::lifecycle::{facts, owned_members, slot_body, types};
use crate::registry::{Check, FileContext, FileFinding, Message};
use crate::rules::dealloc_missing_release::dedup;

declare_rule! {
    /// ## What it does
    /// Finds a `tp_traverse` that does not visit a member holding an owned reference to a
    /// Python object which the type's `tp_clear` clears.
    ///
    /// ## Why is this bad?
    /// The garbage collector only sees references that `tp_traverse` reports. A reference
    /// cycle through an unvisited member is never collected: every object in the cycle leaks.
    ///
    /// ## Example
    /// ```c
    /// static int
    /// Node_traverse(NodeObject *self, visitproc visit, void *arg)
    /// {
    ///     Py_VISIT(self->parent);   /* self->payload is forgotten */
    ///     return 0;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     Py_VISIT(self->parent);
    ///     Py_VISIT(self->payload);
    ///     return 0;
    /// ```
    ///
    /// ## Known limitations
    /// Members are considered owned only when the file itself shows it (see CPY301), and
    /// only members that `tp_clear` clears are required (a type may leave members that
    /// cannot form cycles out of both); types without `tp_clear` are not checked. A
    /// traverse that passes `self` to a function outside the file is not checked.
    ///
    /// ## References
    /// - [`tp_traverse`](https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_traverse)
    pub TraverseIncomplete, "CPY304", "traverse-incomplete", preview = true
}

impl TraverseIncomplete {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for t in types(cx.model) {
            if !t.ty.has_gc() {
                continue;
            }
            let Some(body) = slot_body(cx, t.ty, "tp_traverse") else {
                continue;
            };
            let is_member = |n: &str| t.is_object_member(n);
            let f = facts(cx, body, 0, &is_member);
            if f.opaque {
                continue;
            }
            // Only members that `tp_clear` clears: clearing them is how the type breaks
            // cycles through them, so the collector must see them. Members a type leaves
            // out of both (strings, code objects, which cannot form cycles) are its choice.
            let Some(clear) = slot_body(cx, t.ty, "tp_clear") else {
                continue;
            };
            let cleared = facts(cx, clear, 0, &is_member);
            let owned = owned_members(cx, &t);
            for m in &t.object_members {
                let clears = cleared.released.contains_key(&m.name);
                if !owned.contains(&m.name) || !clears || f.passed.contains(&m.name) {
                    continue;
                }
                let message = Message::new(format!(
                    "`{}` does not visit member `{}`",
                    body.name, m.name
                ))
                .label(m.span, "member declared here")
                .help(format!("add `Py_VISIT(self->{});`", m.name));
                out.push(FileFinding::new(body.name_span, message).in_function(&body.name));
            }
        }
        dedup(out)
    }
}
