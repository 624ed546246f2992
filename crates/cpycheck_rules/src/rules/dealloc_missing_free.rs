use crate::declare_rule;
use crate::lifecycle::{SelfCall, classify_call, facts, return_avoiding, self_locals};
use crate::registry::{Check, FileContext, FileFinding, Message};
use crate::rules::dealloc_missing_release::dedup;
use cpycheck_contracts::lifecycle::may_resurrect;
use cpycheck_contracts::noreturn::is_noreturn;
use cpycheck_ir::{Callee, Operand, Place, Rvalue, StatementKind};

declare_rule! {
    /// ## What it does
    /// Finds a `tp_dealloc` that returns without freeing the object (`tp_free`,
    /// `PyObject_GC_Del`, `PyObject_Free`, or a base type's `tp_dealloc`) on some path.
    ///
    /// ## Why is this bad?
    /// The object's memory is never returned: every instance that dies on that path is
    /// leaked, with whatever it still refers to.
    ///
    /// ## Example
    /// ```c
    /// static void
    /// HashTable_dealloc(HashTableObject *self)
    /// {
    ///     Py_XDECREF(self->hash_func);
    ///     if (self->hashtable != NULL) {
    ///         Py_TYPE(self)->tp_free((PyObject *)self);
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     Py_XDECREF(self->hash_func);
    ///     if (self->hashtable != NULL) {
    ///         hashtable_free(self->hashtable);
    ///     }
    ///     Py_TYPE(self)->tp_free((PyObject *)self);
    /// ```
    ///
    /// ## Known limitations
    /// A call that passes `self` to a function outside the file is assumed to free it, and
    /// so is storing `self` into memory (a free list). Paths through
    /// `PyObject_CallFinalizerFromDealloc` (resurrection) are not checked. Paths are not
    /// pruned by the values of conditions. A path that calls a function that never
    /// returns (`Py_FatalError`, `abort`: an immortal singleton's dealloc) ends there.
    ///
    /// ## References
    /// - [`tp_dealloc`](https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_dealloc)
    pub DeallocMissingFree, "CPY302", "dealloc-missing-free", preview = true
}

impl DeallocMissingFree {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for ty in &cx.model.type_objects {
            let Some(body) = crate::lifecycle::slot_body(cx, ty, "tp_dealloc") else {
                continue;
            };
            let selfs = self_locals(body, 0);
            let no_member = |_: &str| false;
            let frees = |s: &cpycheck_ir::Statement| {
                let call = match &s.kind {
                    StatementKind::Assign {
                        value: Rvalue::Call(call),
                        ..
                    } => call,
                    // `freelist[n++] = self`: the memory is kept for reuse, not leaked.
                    StatementKind::Assign {
                        dest,
                        value: Rvalue::Use(Operand::Copy(Place::Local(id))),
                    } => return selfs.contains(id) && !matches!(dest, Place::Local(_)),
                    _ => return false,
                };
                // A finalizer that may resurrect the object: the early return after it
                // is how a dealloc must leave a resurrected object alone.
                if let Callee::Named(n) = &call.callee
                    && may_resurrect(n)
                {
                    return true;
                }
                // `Py_FatalError(...)`, `abort()`: the path ends; it does not return.
                if let Callee::Named(n) = &call.callee
                    && is_noreturn(n)
                {
                    return true;
                }
                call.args.iter().enumerate().any(|(i, a)| {
                    let is_self =
                        matches!(a, Operand::Copy(Place::Local(id)) if selfs.contains(id));
                    is_self
                        && match classify_call(cx, &call.callee, i) {
                            SelfCall::Frees | SelfCall::Unknown => true,
                            SelfCall::Local(b, p) => facts(cx, b, p, &no_member).frees,
                            SelfCall::Untracks | SelfCall::Known => false,
                        }
                })
            };
            let Some(ret) = return_avoiding(body, &frees) else {
                continue;
            };
            let never = return_avoiding(body, &|_| false).is_some()
                && !body.blocks.iter().flat_map(|b| &b.stmts).any(frees);
            let message = if never {
                Message::new(format!("`{}` never frees the object", body.name))
            } else {
                Message::new(format!(
                    "`{}` does not free the object on every path",
                    body.name
                ))
                .label(ret, "returns here without freeing it")
            };
            let message =
                message.help("call `Py_TYPE(self)->tp_free((PyObject *)self)` on every path");
            out.push(FileFinding::new(body.name_span, message).in_function(&body.name));
        }
        dedup(out)
    }
}
