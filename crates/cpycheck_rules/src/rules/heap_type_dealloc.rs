use crate::declare_rule;
use crate::lifecycle::{facts, slot_body};
use crate::registry::{Check, FileContext, FileFinding, Message};
use crate::rules::dealloc_missing_release::dedup;
use cpycheck_ir::{Callee, Rvalue, StatementKind};

declare_rule! {
    /// ## What it does
    /// Finds the `tp_dealloc` of a heap type (made with `PyType_FromSpec` and friends) that
    /// does not release the reference its instance holds to the type:
    /// `Py_DECREF(Py_TYPE(self))` (or `Py_DECREF(tp)` after `tp = Py_TYPE(self)`).
    ///
    /// ## Why is this bad?
    /// Since Python 3.8 every instance of a heap type owns a reference to its type. A dealloc
    /// that does not release it leaks one reference per instance, and the type (and its
    /// module) can never be freed.
    ///
    /// ## Example
    /// ```c
    /// static void
    /// Point_dealloc(PointObject *self)
    /// {
    ///     Py_TYPE(self)->tp_free((PyObject *)self);
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     PyTypeObject *tp = Py_TYPE(self);
    ///     tp->tp_free((PyObject *)self);
    ///     Py_DECREF(tp);
    /// ```
    ///
    /// ## Known limitations
    /// A dealloc that passes `self` to a function outside the file, or calls a base type's
    /// `tp_dealloc`, is not checked.
    ///
    /// ## References
    /// - [`tp_dealloc`](https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_dealloc)
    /// - [What's new in 3.8: heap types](https://docs.python.org/3/whatsnew/3.8.html#changes-in-the-c-api)
    pub HeapTypeDealloc, "CPY307", "heap-type-dealloc"
}

impl HeapTypeDealloc {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        if cx.python_version < (3, 8) {
            return out;
        }
        for ty in &cx.model.type_objects {
            if !ty.is_heap() {
                continue;
            }
            let Some(body) = slot_body(cx, ty, "tp_dealloc") else {
                continue;
            };
            let calls_base_dealloc = body.blocks.iter().flat_map(|b| &b.stmts).any(|s| {
                matches!(&s.kind, StatementKind::Assign { value: Rvalue::Call(c), .. }
                    if matches!(&c.callee, Callee::Indirect { field: Some(f) } if f == "tp_dealloc"))
            });
            let f = facts(cx, body, 0, &|_| false);
            if f.opaque || f.releases_type || calls_base_dealloc {
                continue;
            }
            let message = Message::new(format!(
                "`{}` of heap type `{}` does not release the type",
                body.name,
                ty.name.as_deref().unwrap_or(&ty.variable)
            ))
            .help("add `Py_DECREF(tp)` after `tp->tp_free(self)`, with `tp = Py_TYPE(self)` read first");
            out.push(FileFinding::new(body.name_span, message).in_function(&body.name));
        }
        dedup(out)
    }
}
