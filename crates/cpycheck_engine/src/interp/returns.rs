//! Returns: what a return hands to the caller, leaks at the return, and the record of the
//! path for the function's summary.

use super::*;
use crate::finding::{FindingKind, OriginKind};
use crate::state::*;
use crate::summary::ReturnSummary;
use cpycheck_ir::{Operand, Place};
use cpycheck_syntax::Span;

impl<'a> Interp<'a> {
    pub(super) fn ret(&mut self, mut st: State, op: Option<&Operand>, span: Span) {
        self.reached_return = true;
        let mut outcome = Outcome::Either;
        // A parameter handed back without a reference of its own (checked before the
        // return below hands over whatever reference it has).
        let returned_bare = match op.map(|op| self.eval(&mut st, op)) {
            Some(Value::Obj(id)) if st.obj(id).owned == 0 => Some(id),
            _ => None,
        };
        if let Some(op) = op {
            let v = self.eval(&mut st, op);
            match v {
                Value::Obj(id) if self.body.returns_object => {
                    outcome = if st.is_null(id) {
                        Outcome::Failure
                    } else if st.is_non_null(id) {
                        Outcome::Success
                    } else {
                        Outcome::Either
                    };
                    self.return_obj(&mut st, id, span)
                }
                Value::Obj(id) => {
                    // The return type is not recognised as an object pointer: whatever is
                    // returned is handed over, but nothing is claimed about the contract.
                    let o = st.obj_mut(id);
                    o.owned = o.owned.saturating_sub(1);
                    self.returns |= RET_OTHER;
                }
                Value::Null if self.body.returns_object => {
                    outcome = Outcome::Failure;
                    self.returns |= RET_NULL;
                }
                Value::Int(i) if !self.body.returns_object => {
                    outcome = if i < 0 {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    self.returns |= if i < 0 { RET_INT_ERR } else { RET_INT_OK };
                }
                Value::Status(s) if !self.body.returns_object && st.status(s).err == NEG => {
                    let classes = st.status(s).classes;
                    if classes & NEG != 0 {
                        self.returns |= RET_INT_ERR;
                    }
                    if classes & !NEG != 0 {
                        self.returns |= RET_INT_OK;
                    }
                    outcome = if classes == NEG {
                        Outcome::Failure
                    } else if classes & NEG == 0 {
                        Outcome::Success
                    } else {
                        Outcome::Either
                    };
                }
                _ => self.returns |= RET_OTHER,
            }
        }
        if outcome == Outcome::Failure && st.exc == Exc::Clear && self.must_raise() {
            self.error_without_exception(&st, span);
        }
        if !self.contract_is_fixed() {
            let params = st
                .params
                .iter()
                .map(|p| match p {
                    None => ParamFate::Unknown,
                    Some(id) if st.is_null(*id) => ParamFate::Null,
                    Some(id) => {
                        let o = st.obj(*id);
                        let consumed = o.consumed.or(o.stored_unowned.as_ref().map(|s| s.0));
                        match (o.origin, consumed) {
                            (OriginKind::HelperParam, None) if returned_bare == Some(*id) => {
                                ParamFate::Returned(span)
                            }
                            (OriginKind::HelperParam, Some(at)) => ParamFate::Consumed(at),
                            (OriginKind::HelperParam, None) => {
                                ParamFate::Kept { escaped: o.escaped }
                            }
                            // Handed to a function we know nothing about.
                            _ => ParamFate::Unknown,
                        }
                    }
                })
                .collect();
            self.paths.push(ReturnPath {
                span,
                outcome,
                param_tests: st.param_tests.clone(),
                exc: st.exc,
                params,
            });
        }
        self.hand_over_to_memory(&mut st, span);
        st.env.clear();
        st.params.clear();
        // The parameters' objects are no longer kept alive.
        st.gc_dirty = true;
        self.collect(&mut st, span);
    }

    /// At a return, memory that outlives the function (`*out`, `self->x`, a global) keeps
    /// one reference to the object it holds: `*out = v; Py_INCREF(*out);` and
    /// `self->x = v; Py_INCREF(v);` take the reference the memory owns after the store.
    pub(super) fn hand_over_to_memory(&mut self, st: &mut State, span: Span) {
        let places = self.places.borrow();
        // Objects the function owns no reference to are left as they are: their places'
        // names are not needed.
        let mut held: Vec<(ObjId, String)> = st
            .env
            .iter()
            .filter(|&(p, v)| {
                matches!(v, Value::Obj(id) if st.obj(id).owned > 0)
                    && !matches!(places.place(p), Place::Local(_))
                    && !places.is_temp(p)
                    && !self.local_array_elem(places.place(p))
            })
            .filter_map(|(p, v)| match v {
                Value::Obj(id) => Some((id, self.body.place_name(places.place(p)))),
                _ => None,
            })
            .collect();
        drop(places);
        held.sort();
        for (id, name) in held {
            let o = st.obj_mut(id);
            if o.owned > 0 {
                o.owned -= 1;
                o.escaped = true;
                self.event(st, id, span, format!("kept in `{name}`"));
            }
        }
    }

    pub(super) fn return_obj(&mut self, st: &mut State, id: ObjId, span: Span) {
        if st.is_null(id) {
            self.returns |= RET_NULL;
            return;
        }
        if self.check_released(st, id, span, false, true) {
            return;
        }
        self.check_invalidated(st, id, span);
        let o = st.obj(id);
        if o.owned > 0 {
            st.obj_mut(id).owned -= 1;
            self.event(st, id, span, "returned to the caller".to_string());
            self.returns |= RET_NEW;
            self.new_at.get_or_insert(span);
            return;
        }
        if o.origin == OriginKind::HelperParam && o.consumed.is_none() {
            self.returns |= RET_PARAM;
            return;
        }
        let stolen_by = o.stolen.as_ref().map(|(_, t)| t.to_string());
        if o.origin.is_borrowed() || stolen_by.is_some() {
            self.returns |= RET_BORROWED;
            self.borrowed_at.get_or_insert(span);
            let must_return_new = self.cx.registered
                || self
                    .cx
                    .declared
                    .is_some_and(|d| d.returns == ReturnSummary::New);
            if must_return_new {
                self.report(st, id, FindingKind::BorrowedReturn { stolen_by }, span);
            }
            return;
        }
        self.returns |= RET_OTHER;
    }

    // ----- branches -----
}
