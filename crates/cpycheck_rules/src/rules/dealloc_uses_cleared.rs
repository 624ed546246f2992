use crate::declare_rule;
use crate::lifecycle::{facts, slot_body, types};
use crate::registry::{Check, FileContext, FileFinding, Message};
use crate::rules::dealloc_missing_release::dedup;

declare_rule! {
    /// ## What it does
    /// Finds the `tp_dealloc` of a garbage-collected type that dereferences a member which
    /// the type's `tp_clear` clears, without testing it for NULL first.
    ///
    /// ## Why is this bad?
    /// When the object is part of a reference cycle, the collector calls `tp_clear` before
    /// the last reference goes away and `tp_dealloc` runs: the member is NULL by then, and
    /// the dealloc crashes — only when a cycle happened, so the crash looks random.
    ///
    /// ## Example
    /// ```c
    /// static void
    /// Slots_dealloc(SlotsObject *self)
    /// {
    ///     PyObject_GC_UnTrack(self);
    ///     release_all(((ContextObject *)self->context)->imp, self->slots);
    ///     Py_CLEAR(self->context);
    ///     Py_TYPE(self)->tp_free((PyObject *)self);
    /// }
    /// ```
    ///
    /// ## Use instead
    /// Keep what the dealloc needs out of `tp_clear` (clear only the members that can form
    /// cycles), or test the member and handle the cleared case:
    /// ```c
    ///     if (self->context != NULL) {
    ///         release_all(((ContextObject *)self->context)->imp, self->slots);
    ///     }
    /// ```
    ///
    /// ## Known limitations
    /// Only dereferences in the dealloc itself are checked; passing the member to another
    /// function is not treated as a use.
    ///
    /// ## References
    /// - [`tp_clear`](https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_clear)
    pub DeallocUsesCleared, "CPY306", "dealloc-uses-cleared", preview = true
}

impl DeallocUsesCleared {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for t in types(cx.model) {
            if !t.ty.has_gc() {
                continue;
            }
            let (Some(dealloc), Some(clear)) = (
                slot_body(cx, t.ty, "tp_dealloc"),
                slot_body(cx, t.ty, "tp_clear"),
            ) else {
                continue;
            };
            let is_member = |n: &str| t.is_object_member(n);
            let cleared = facts(cx, clear, 0, &is_member);
            let d = facts(cx, dealloc, 0, &is_member);
            for (m, span) in &d.derefs {
                let clears = cleared.released.contains_key(m) || cleared.nulled.contains(m);
                if !clears || d.tested.contains(m) {
                    continue;
                }
                let message = Message::new(format!(
                    "`{}` uses `self->{m}`, which `{}` may already have cleared",
                    dealloc.name, clear.name
                ))
                .help(format!(
                    "test `self->{m}` for NULL in the dealloc, or do not clear it in `{}`",
                    clear.name
                ));
                out.push(
                    FileFinding::new(*span, message)
                        .in_function(&dealloc.name)
                        .note("the collector calls tp_clear before tp_dealloc when the object is in a reference cycle"),
                );
            }
        }
        dedup(out)
    }
}
