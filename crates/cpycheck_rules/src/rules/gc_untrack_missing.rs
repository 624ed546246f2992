use std::collections::HashSet;

use crate::declare_rule;
use crate::lifecycle::{SelfCall, classify_call, facts, member_of, self_locals, types};
use crate::registry::{Check, FileContext, FileFinding, Message};
use crate::rules::dealloc_missing_release::dedup;
use cpycheck_ir::{Operand, Place, Rvalue, StatementKind, Terminator};

declare_rule! {
    /// ## What it does
    /// Finds the `tp_dealloc` of a garbage-collected type (`Py_TPFLAGS_HAVE_GC`) that
    /// releases a member before calling `PyObject_GC_UnTrack(self)`.
    ///
    /// ## Why is this bad?
    /// Releasing a member can run arbitrary code (a `__del__`, a weakref callback) that
    /// triggers a collection. The collector still tracks the half-destroyed object, calls
    /// its `tp_traverse` and may visit members that were already freed.
    ///
    /// ## Example
    /// ```c
    /// static void
    /// Node_dealloc(NodeObject *self)
    /// {
    ///     Py_CLEAR(self->children);
    ///     PyObject_GC_UnTrack(self);
    ///     Py_TYPE(self)->tp_free((PyObject *)self);
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     PyObject_GC_UnTrack(self);
    ///     Py_CLEAR(self->children);
    ///     Py_TYPE(self)->tp_free((PyObject *)self);
    /// ```
    ///
    /// ## Known limitations
    /// Only types whose flags are written with `Py_TPFLAGS_HAVE_GC` in the type object are
    /// checked. A call that passes `self` to a function outside the file is assumed to
    /// untrack it.
    ///
    /// ## References
    /// - [Supporting cyclic garbage collection](https://docs.python.org/3/c-api/gcsupport.html)
    pub GcUntrackMissing, "CPY303", "gc-untrack-missing", preview = true
}

impl GcUntrackMissing {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for t in types(cx.model) {
            if !t.ty.has_gc() {
                continue;
            }
            let Some(body) = crate::lifecycle::slot_body(cx, t.ty, "tp_dealloc") else {
                continue;
            };
            let is_member = |n: &str| t.is_object_member(n);
            let selfs = self_locals(body, 0);
            // Depth-first over (block, untracked yet).
            let mut seen: HashSet<(u32, bool)> = HashSet::new();
            let mut stack = vec![(body.entry, false)];
            let mut found = None;
            'search: while let Some((b, mut untracked)) = stack.pop() {
                if !seen.insert((b.0, untracked)) {
                    continue;
                }
                let block = body.block(b);
                for s in &block.stmts {
                    match &s.kind {
                        StatementKind::DecRef {
                            arg: Operand::Copy(p),
                            ..
                        } if !untracked && releases_member(p, &selfs, &is_member, body) => {
                            found = Some(s.span);
                            break 'search;
                        }
                        StatementKind::Assign {
                            value: Rvalue::Call(call),
                            ..
                        } => {
                            for (i, a) in call.args.iter().enumerate() {
                                if !matches!(a, Operand::Copy(Place::Local(id)) if selfs.contains(id))
                                {
                                    continue;
                                }
                                match classify_call(cx, &call.callee, i) {
                                    SelfCall::Untracks | SelfCall::Unknown => untracked = true,
                                    SelfCall::Local(callee, p) => {
                                        let f = facts(cx, callee, p, &is_member);
                                        if f.untracks || f.opaque {
                                            untracked = true;
                                        } else if !untracked && !f.released.is_empty() {
                                            found = Some(s.span);
                                            break 'search;
                                        }
                                    }
                                    SelfCall::Frees | SelfCall::Known => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                match &block.term {
                    Terminator::Goto(t) => stack.push((*t, untracked)),
                    Terminator::Branch { then, els, .. } => {
                        stack.extend([(*then, untracked), (*els, untracked)])
                    }
                    Terminator::Switch { targets } => {
                        stack.extend(targets.iter().map(|t| (*t, untracked)))
                    }
                    Terminator::Return(_) | Terminator::Unreachable => {}
                }
            }
            if let Some(span) = found {
                let message = Message::new(format!(
                    "`{}` releases members of a tracked object before `PyObject_GC_UnTrack`",
                    body.name
                ))
                .help("call `PyObject_GC_UnTrack(self)` first in the dealloc");
                out.push(FileFinding::new(span, message).in_function(&body.name));
            }
        }
        dedup(out)
    }
}

/// The place is a member of `self`, or a copy of one (`Py_CLEAR`'s temporary).
fn releases_member(
    p: &Place,
    selfs: &HashSet<cpycheck_ir::LocalId>,
    is_member: &dyn Fn(&str) -> bool,
    body: &cpycheck_ir::Body,
) -> bool {
    if member_of(p, selfs, is_member).is_some() {
        return true;
    }
    let Place::Local(id) = p else {
        return false;
    };
    body.blocks.iter().flat_map(|b| &b.stmts).any(|s| {
        matches!(&s.kind, StatementKind::Assign { dest: Place::Local(d), value: Rvalue::Use(Operand::Copy(src)) }
            if d == id && member_of(src, selfs, is_member).is_some())
    })
}
