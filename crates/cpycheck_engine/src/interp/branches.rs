//! Conditions and branches: the edge effects of a test (nullness, truthiness, status
//! outcomes, identity facts) and the split of a state into its two successors.

use super::places::is_temp_place;
use super::*;
use crate::finding::OriginKind;
use crate::state::*;
use cpycheck_ir::{CmpOp, Cond, LocalKind, Operand, Place};
use cpycheck_syntax::Span;

impl<'a> Interp<'a> {
    pub(super) fn branch(
        &mut self,
        st: State,
        cond: &Cond,
        span: Span,
    ) -> (Option<State>, Option<State>) {
        // Only an inferred contract can depend on a flag parameter.
        let tested = if self.contract_is_fixed() {
            None
        } else {
            self.tested_param(cond)
        };
        let (mut t, mut f) = self.branch_inner(st, cond, span);
        if let Some(p) = tested {
            // Remember the decision: a contract that depends on it is the caller's choice.
            if let Some(t) = &mut t {
                t.param_tests.insert((p, true));
            }
            if let Some(f) = &mut f {
                f.param_tests.insert((p, false));
            }
        }
        (t, f)
    }

    /// The non-object parameter a condition tests directly (`if (decref_tuple)`,
    /// `if (flags & X)`), if any.
    pub(super) fn tested_param(&self, cond: &Cond) -> Option<u32> {
        let ops: Vec<&Operand> = match cond {
            Cond::Truthy(op) => vec![op],
            Cond::Compare { lhs, rhs, .. } => vec![lhs, rhs],
        };
        ops.into_iter().find_map(|op| match op {
            Operand::Copy(Place::Local(l))
                if self.body.params.contains(l) && !self.body.local(*l).is_object =>
            {
                Some(l.0)
            }
            _ => None,
        })
    }

    pub(super) fn branch_inner(
        &mut self,
        st: State,
        cond: &Cond,
        span: Span,
    ) -> (Option<State>, Option<State>) {
        match cond {
            Cond::Truthy(op) => {
                let mut st = st;
                let v = self.eval_in_cond(&mut st, op);
                self.split_truthy(st, v, op, span)
            }
            Cond::Compare { op, lhs, rhs } => {
                let mut st = st;
                let mut l = self.eval_in_cond(&mut st, lhs);
                let mut r = self.eval_in_cond(&mut st, rhs);
                // A pointer of a type this file does not declare compared with a singleton
                // (`common == (PyArray_DTypeMeta *)Py_NotImplemented`) is an object: remember
                // what the branch learns, so that `Py_DECREF(Py_NotImplemented)` under it
                // releases that object.
                if matches!(*op, CmpOp::Eq | CmpOp::Ne) {
                    let singleton = |st: &State, v: Value| matches!(v, Value::Obj(id) if st.obj(id).origin == OriginKind::Singleton);
                    if l == Value::Unknown && singleton(&st, r) {
                        l = self.obj_of(&mut st, lhs).map_or(l, Value::Obj);
                    } else if r == Value::Unknown && singleton(&st, l) {
                        r = self.obj_of(&mut st, rhs).map_or(r, Value::Obj);
                    }
                }
                let (mut cmp, mut a, mut b, mut aop) = (*op, l, r, lhs);
                if matches!(a, Value::Null | Value::Int(_))
                    && !matches!(b, Value::Null | Value::Int(_))
                {
                    cmp = cmp.swap();
                    std::mem::swap(&mut a, &mut b);
                    aop = rhs;
                }
                match (a, b) {
                    (Value::Int(x), Value::Int(y)) => {
                        if cmp.eval(x, y) {
                            (Some(st), None)
                        } else {
                            (None, Some(st))
                        }
                    }
                    (Value::Obj(_), Value::Null | Value::Int(0)) | (Value::Null, Value::Null)
                        if matches!(cmp, CmpOp::Eq | CmpOp::Ne) =>
                    {
                        // `x != NULL` is `x`; `x == NULL` is `!x`.
                        let (t, f) = self.split_truthy(st, a, aop, span);
                        if cmp == CmpOp::Ne { (t, f) } else { (f, t) }
                    }
                    (Value::Obj(x), Value::Obj(y)) if matches!(cmp, CmpOp::Eq | CmpOp::Ne) => {
                        let eq = match st.identical(x, y) {
                            Some(true) => (Some(st), None),
                            Some(false) => (None, Some(st)),
                            None => {
                                let mut t = st.clone();
                                let mut f = st;
                                t.add_eq_fact(x, y, true);
                                f.add_eq_fact(x, y, false);
                                // Identical to an object that is not NULL: not NULL either
                                // (`if (r == Py_True)`).
                                for (p, q) in [(x, y), (y, x)] {
                                    if t.obj(p).null == Nullness::NonNull
                                        && t.obj(q).null != Nullness::NonNull
                                    {
                                        self.set_null(&mut t, q, Nullness::NonNull);
                                    }
                                }
                                (Some(t), Some(f))
                            }
                        };
                        if cmp == CmpOp::Eq { eq } else { (eq.1, eq.0) }
                    }
                    (Value::Status(s), Value::Int(c)) => {
                        self.split_status(st, s, |v| cmp.eval(v, c), span)
                    }
                    _ => (Some(st.clone()), Some(st)),
                }
            }
        }
    }

    /// Like `eval`, but a pointer read from memory (`self->x`, a global) or an object-typed
    /// local becomes an object, so that what the branch learns about it is remembered.
    pub(super) fn eval_in_cond(&self, st: &mut State, op: &Operand) -> Value {
        let v = self.eval(st, op);
        let Operand::Copy(place) = op else { return v };
        let materialize = match place {
            Place::Local(l) => {
                let local = self.body.local(*l);
                local.is_object && local.kind != LocalKind::Temp
            }
            _ => true,
        };
        if v == Value::Unknown && materialize {
            return self.obj_of(st, op).map_or(Value::Unknown, Value::Obj);
        }
        v
    }

    pub(super) fn split_truthy(
        &mut self,
        st: State,
        v: Value,
        op: &Operand,
        span: Span,
    ) -> (Option<State>, Option<State>) {
        match v {
            Value::Null | Value::Int(0) => (None, Some(st)),
            Value::Int(_) => (Some(st), None),
            Value::Status(s) => self.split_status(st, s, |v| v != 0, span),
            Value::Obj(id) => {
                if st.is_null(id) {
                    return (None, Some(st));
                }
                if st.is_non_null(id) {
                    return (Some(st), None);
                }
                let name = self.operand_name(&st, op, id);
                let mut t = st.clone();
                let mut f = st;
                self.set_null(&mut t, id, Nullness::NonNull);
                self.set_null(&mut f, id, Nullness::Null);
                path_step(&mut t, span, format!("`{name}` is not NULL"));
                path_step(&mut f, span, format!("`{name}` is NULL"));
                (Some(t), Some(f))
            }
            Value::Unknown => (Some(st.clone()), Some(st)),
        }
    }

    pub(super) fn operand_name(&self, st: &State, op: &Operand, id: ObjId) -> String {
        match op {
            Operand::Copy(p) if !is_temp_place(self.body, p) => self.body.place_name(p),
            _ => {
                let o = st.obj(id);
                match &o.name {
                    Some(n) => n.to_string(),
                    None => format!("{}(...)", o.what),
                }
            }
        }
    }

    pub(super) fn set_null(&self, st: &mut State, id: ObjId, null: Nullness) {
        st.obj_mut(id).null = null;
        if let Some(link) = st.obj(id).exc_link
            && link.epoch == st.exc_epoch
        {
            st.exc = if null == Nullness::Null {
                link.on_failure
            } else {
                link.on_success
            };
            // `PyErr_Occurred()` is NULL: the calls whose failure would have raised did not
            // fail.
            let tests_exception = link.on_failure == Exc::Clear && link.on_success == Exc::Set;
            if tests_exception && null == Nullness::Null {
                let ok: Vec<ObjId> =
                    st.live_objs()
                        .filter(|&o| {
                            st.obj(o).exc_link.is_some_and(|l| {
                                l.epoch == st.exc_epoch && l.on_failure == Exc::Set
                            }) && st.obj(o).null == Nullness::Maybe
                        })
                        .collect();
                for o in ok {
                    st.obj_mut(o).null = Nullness::NonNull;
                }
            }
        }
        if let Some((s, set)) = st.obj(id).exists_if {
            let mask = if null == Nullness::NonNull { set } else { !set };
            let classes = st.status(s).classes & mask;
            if classes != 0 {
                self.refine_status(st, s, classes);
            }
        }
    }

    pub(super) fn split_status(
        &mut self,
        st: State,
        s: StatusId,
        test: impl Fn(i64) -> bool,
        span: Span,
    ) -> (Option<State>, Option<State>) {
        let status = st.status(s).clone();
        let mut t_classes = 0;
        let mut f_classes = 0;
        for (class, samples) in [
            (NEG, &[-1i64][..]),
            (ZERO, &[0][..]),
            (ONE, &[1][..]),
            (MANY, &[2, 1 << 40][..]),
        ] {
            if status.classes & class == 0 {
                continue;
            }
            if samples.iter().any(|&v| test(v)) {
                t_classes |= class;
            }
            if samples.iter().any(|&v| !test(v)) {
                f_classes |= class;
            }
        }
        let both = t_classes != 0 && f_classes != 0;
        let side = |classes: u8, st: State| -> Option<State> {
            if classes == 0 {
                return None;
            }
            let mut st = st;
            self.refine_status(&mut st, s, classes);
            if both {
                let value_or_error = status.exc.is_some_and(|l| l.on_failure == Exc::Unknown);
                let msg = if classes == status.err && value_or_error {
                    format!("`{}` returns -1", status.callee)
                } else if classes == status.err {
                    format!("`{}` fails", status.callee)
                } else if classes & status.err == 0 {
                    format!("`{}` succeeds", status.callee)
                } else if classes & ZERO == 0 {
                    format!("`{}` returns non-zero", status.callee)
                } else {
                    format!("`{}` returns zero or more", status.callee)
                };
                path_step(&mut st, span, msg);
            }
            Some(st)
        };
        let t = side(t_classes, st.clone());
        let f = side(f_classes, st);
        (t, f)
    }

    /// Narrows a status and applies what depends on it (conditional steals, out-params).
    pub(super) fn refine_status(&self, st: &mut State, s: StatusId, classes: u8) {
        let status = st.status_mut(s);
        status.classes = classes;
        let err = status.err;
        if let Some(link) = status.exc
            && link.epoch == st.exc_epoch
        {
            if classes == err {
                st.exc = link.on_failure;
            } else if classes & err == 0 {
                st.exc = link.on_success;
            }
        }
        let ids: Vec<ObjId> = st.live_objs().collect();
        for id in ids {
            let pending = st.obj(id).pending_steal.clone();
            if let Some(PendingSteal {
                status: ps,
                span,
                thief,
                on_failure,
            }) = pending
            {
                if ps != s {
                    continue;
                }
                let (steals, keeps) = if on_failure {
                    (classes == err, classes & err == 0)
                } else {
                    (classes & err == 0, classes == err)
                };
                if steals {
                    let seq = st.next_seq();
                    st.gc_dirty = true;
                    let o = st.obj_mut(id);
                    o.pending_steal = None;
                    o.owned = o.owned.saturating_sub(1);
                    o.escaped = true;
                    if o.owned == 0 {
                        o.stolen = Some((span, thief.clone()));
                    }
                    o.history = push_event(
                        &o.history,
                        seq,
                        span,
                        format!("reference stolen by `{thief}`"),
                    );
                } else if keeps {
                    st.gc_dirty = true;
                    st.obj_mut(id).pending_steal = None;
                }
            }
        }
    }
}
