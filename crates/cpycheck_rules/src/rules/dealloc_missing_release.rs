use crate::declare_rule;
use crate::lifecycle::{facts, owned_members, slot_body, types};
use crate::registry::{Check, FileContext, FileFinding, Message};

declare_rule! {
    /// ## What it does
    /// Finds a type's `tp_dealloc` that does not release a member holding a Python object
    /// which the rest of the file treats as owned (stores a new reference in it, or releases
    /// it elsewhere, e.g. in `tp_clear` or a setter).
    ///
    /// ## Why is this bad?
    /// Each instance that dies keeps the member's object alive for ever: one leaked
    /// reference per instance.
    ///
    /// ## Example
    /// ```c
    /// typedef struct {
    ///     PyObject_HEAD
    ///     PyObject *hash_func;
    /// } HashTableObject;
    ///
    /// static void
    /// HashTable_dealloc(HashTableObject *self)
    /// {
    ///     Py_TYPE(self)->tp_free((PyObject *)self);   /* hash_func is never released */
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     Py_XDECREF(self->hash_func);
    ///     Py_TYPE(self)->tp_free((PyObject *)self);
    /// ```
    ///
    /// ## Known limitations
    /// The instance struct is found through `sizeof(...)` in `tp_basicsize` or the spec's
    /// `basicsize`. A dealloc that passes `self` to a function outside the file (a base
    /// type's dealloc through a pointer, a generated helper) is not checked. Members are
    /// considered owned only when the file itself shows it.
    ///
    /// ## References
    /// - [`tp_dealloc`](https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_dealloc)
    pub DeallocMissingRelease, "CPY301", "dealloc-missing-release", preview = true
}

impl DeallocMissingRelease {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for t in types(cx.model) {
            let Some(body) = slot_body(cx, t.ty, "tp_dealloc") else {
                continue;
            };
            let is_member = |n: &str| t.is_object_member(n);
            let f = facts(cx, body, 0, &is_member);
            if f.opaque {
                continue;
            }
            let owned = owned_members(cx, &t);
            for m in &t.object_members {
                if !owned.contains(&m.name)
                    || f.released.contains_key(&m.name)
                    || f.passed.contains(&m.name)
                {
                    continue;
                }
                let message = Message::new(format!(
                    "`{}` does not release member `{}`",
                    body.name, m.name
                ))
                .label(m.span, "member declared here")
                .help(format!(
                    "release it in the dealloc with `Py_XDECREF(self->{})` or `Py_CLEAR(self->{})`",
                    m.name, m.name
                ));
                out.push(FileFinding::new(body.name_span, message).in_function(&body.name));
            }
        }
        dedup(out)
    }
}

/// One finding per place and message (a dealloc shared by several types).
pub(crate) fn dedup(mut v: Vec<FileFinding>) -> Vec<FileFinding> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|f| seen.insert((f.span.start, f.message.message.clone())));
    v
}
