//! Reference transitions of one object: release, steal, havoc, and the checks that a use
//! does not touch a released, unchecked or invalidated object.

use super::places::is_temp_place;
use super::*;
use crate::finding::{FindingKind, OriginKind};
use crate::state::*;
use cpycheck_ir::{Operand, Place};
use cpycheck_syntax::Span;
use std::rc::Rc;

impl<'a> Interp<'a> {
    /// `Py_DECREF(arr[i])`, `Py_DECREF(self->x)` of an object the function owns no
    /// reference to but once stored into memory: the reference released is the one the
    /// memory held (`Py_INCREF(v); arr[i] = v;` ... `Py_DECREF(arr[i])`), not the function's.
    pub(super) fn releases_memory_reference(&self, st: &State, arg: &Operand, id: ObjId) -> bool {
        let Operand::Copy(place) = arg else {
            return false;
        };
        let o = st.obj(id);
        !matches!(place, Place::Local(_))
            && !is_temp_place(self.body, place)
            && o.owned == 0
            && o.escaped
            && o.stolen.is_none()
            && o.released.is_none()
    }

    /// `if (r == Py_NotImplemented) { Py_DECREF(Py_NotImplemented); ... }`: a release
    /// written on an object the function owns nothing of, which this path proved identical
    /// to an object it owns (or to one of unknown origin, such as the result of a function
    /// whose contract is unknown), releases that one.
    pub(super) fn identical_owned(&self, st: &State, id: ObjId) -> Option<ObjId> {
        // A helper releasing its parameter takes over its caller's reference: that is the
        // release of the parameter itself.
        // Only a release that would otherwise release a borrowed reference is redirected:
        // an object of unknown origin (`tmp = k; ...; Py_XDECREF(tmp)` where `k` was once
        // tested `== Py_None`) may carry references of its own.
        if st.obj(id).owned > 0 || !st.obj(id).origin.is_borrowed() {
            return None;
        }
        st.eq_facts
            .iter()
            .filter(|f| f.2)
            .filter_map(|f| {
                if f.0 == id {
                    Some(f.1)
                } else if f.1 == id {
                    Some(f.0)
                } else {
                    None
                }
            })
            .find(|&other| {
                st.objs[other.0 as usize].is_some()
                    && (st.obj(other).owned > 0 || st.obj(other).origin == OriginKind::Unknown)
            })
    }

    pub(super) fn describe(&self, st: &State, id: ObjId) -> String {
        let o = st.obj(id);
        let own = if o.released.is_some() {
            "released".to_string()
        } else if o.owned > 0 {
            format!("owned({})", o.owned)
        } else if o.stolen.is_some() {
            "stolen".to_string()
        } else if o.origin.is_borrowed() {
            "borrowed".to_string()
        } else {
            "unknown".to_string()
        };
        let null = if st.is_null(id) {
            "null"
        } else if st.is_non_null(id) {
            "non-null"
        } else {
            "maybe-null"
        };
        format!("{own} {null}")
    }

    /// Reports a use of a released object. Returns true when reported.
    pub(super) fn check_released(
        &mut self,
        st: &State,
        id: ObjId,
        span: Span,
        release: bool,
        returned: bool,
    ) -> bool {
        let o = st.obj(id);
        if let Some(at) = o.released
            && (!o.escaped || release)
        {
            let kind = FindingKind::UseAfterRelease {
                released_at: at,
                release,
                returned,
            };
            self.report(st, id, kind, span);
            return true;
        }
        false
    }

    /// Reports the use of a fallible call's result that may still be NULL. Returns true when
    /// reported.
    pub(super) fn check_unchecked(
        &mut self,
        st: &mut State,
        id: ObjId,
        span: Span,
        what: &str,
    ) -> bool {
        let o = st.obj(id);
        if !o.fallible || o.exists_if.is_some() || st.is_null(id) || st.is_non_null(id) {
            return false;
        }
        let kind = FindingKind::UncheckedNull {
            what: what.to_string(),
            known_null: false,
        };
        self.report(st, id, kind, span);
        // Reported once: past this point the object is taken to exist.
        st.obj_mut(id).null = Nullness::NonNull;
        true
    }

    /// Reports a use of a borrowed reference whose lender may have changed. Returns true when
    /// reported.
    pub(super) fn check_invalidated(&mut self, st: &State, id: ObjId, span: Span) -> bool {
        let o = st.obj(id);
        let Some((call_span, call)) = o.invalidated.clone() else {
            return false;
        };
        if o.owned > 0 {
            return false;
        }
        let container = match o.lender {
            Some(Lender::Container(c))
                if st.objs.get(c.0 as usize).is_some_and(Option::is_some) =>
            {
                st.obj(c).name.as_deref().map(str::to_string)
            }
            _ => None,
        };
        let kind = FindingKind::BorrowedAcrossCall {
            call: call.to_string(),
            call_span,
            container,
        };
        self.report(st, id, kind, span);
        true
    }

    /// A call (or release) may have changed `lender`: the references it lent are suspect.
    pub(super) fn invalidate(
        &mut self,
        st: &mut State,
        lender: Lender,
        span: Span,
        call: &Rc<str>,
    ) {
        if let Lender::Container(c) = lender {
            for (i, p) in st.params.iter().enumerate() {
                if *p == Some(c) {
                    self.mutated[i] = true;
                }
            }
        }
        let victims: Vec<ObjId> = st
            .live_objs()
            .filter(|&id| {
                let o = st.obj(id);
                o.owned == 0
                    && o.invalidated.is_none()
                    && match (o.lender, lender) {
                        (Some(Lender::Container(a)), Lender::Container(b)) => {
                            st.identical(a, b) == Some(true)
                        }
                        (Some(Lender::AnyPythonCode), Lender::AnyPythonCode) => true,
                        _ => false,
                    }
            })
            .collect();
        for id in victims {
            let what = match lender {
                Lender::Container(c) => {
                    let name = st
                        .obj(c)
                        .name
                        .as_deref()
                        .unwrap_or("its container")
                        .to_string();
                    if call.contains("DECREF") {
                        format!("`{name}` is released, which may free this reference")
                    } else {
                        format!("`{call}` may change `{name}` and free this reference")
                    }
                }
                Lender::AnyPythonCode => {
                    format!("`{call}` runs Python code, which may free this object")
                }
            };
            st.obj_mut(id).invalidated = Some((span, call.clone()));
            self.event(st, id, span, what);
        }
    }

    pub(super) fn release(&mut self, st: &mut State, id: ObjId, span: Span, nullable: bool) {
        if st.is_null(id) {
            return;
        }
        if self.check_released(st, id, span, true, false) {
            return;
        }
        let what = if nullable { "Py_XDECREF" } else { "Py_DECREF" };
        if !nullable {
            self.check_unchecked(st, id, span, "passed to `Py_DECREF`");
            st.obj_mut(id).null = Nullness::NonNull;
        }
        if st.obj(id).pending_steal.is_some() {
            // Released before the outcome of the stealing call was tested: this is the
            // failure-path cleanup (or a bug we cannot prove). Either way, stop tracking.
            st.gc_dirty = true;
            let o = st.obj_mut(id);
            o.pending_steal = None;
            o.owned = o.owned.saturating_sub(1);
            return;
        }
        let o = st.obj_mut(id);
        if o.owned > 0 {
            o.owned -= 1;
            // Memory that holds a reference of its own (`p->x = v`, or `g = PyErr_NewException(..);
            // Py_XINCREF(g);`) keeps the object alive: releasing one the function took since
            // (`t = p->x; Py_INCREF(t); ...; Py_DECREF(t);`) cannot free it.
            let last = o.owned == 0 && o.held_by_memory == 0 && o.origin.is_new();
            if last {
                o.released = Some(span);
            }
            self.event(st, id, span, format!("released with `{what}`"));
            if last {
                // Freeing a container frees the items it lent.
                self.invalidate(st, Lender::Container(id), span, &what.into());
            }
        } else if o.held_by_memory > 0 && o.origin.is_new() {
            // The function owns nothing more: this gives back the reference memory holds
            // (`Py_INCREF(v); self->x = v; Py_DECREF(v); Py_DECREF(v);`), and the memory
            // may now point to a freed object.
            o.held_by_memory -= 1;
            if o.held_by_memory == 0 {
                o.released = Some(span);
            }
            self.event(st, id, span, format!("released with `{what}`"));
        } else if let Some((at, thief)) = o.stolen.clone() {
            self.report(
                st,
                id,
                FindingKind::UseAfterSteal {
                    thief: thief.to_string(),
                    stolen_at: at,
                    again_by: None,
                },
                span,
            );
        } else if o.origin == OriginKind::HelperParam {
            o.consumed.get_or_insert(span);
            // The caller's reference, which this function took over and gave up: the
            // object may be freed now. Not `self` releasing the reference it kept to
            // itself (`close()` ending a keep-alive taken elsewhere): its caller holds one.
            if !self.is_self_keep_alive(st, id) {
                st.obj_mut(id).released = Some(span);
                self.event(st, id, span, format!("released with `{what}`"));
            }
        } else if o.origin.is_borrowed() {
            self.report(
                st,
                id,
                FindingKind::ReleaseOfBorrowed { stolen_by: None },
                span,
            );
        }
    }

    pub(super) fn steal(&mut self, st: &mut State, id: ObjId, span: Span, thief: &str) {
        if st.is_null(id) || self.check_released(st, id, span, true, false) {
            return;
        }
        let o = st.obj_mut(id);
        if o.owned > 0 {
            o.owned -= 1;
            o.escaped = true;
            // Of an object of unknown origin the function may hold more references than
            // it took here (a call's result kept in a variable, then `Py_INCREF` before the
            // steal): the count reaching 0 proves nothing. Nor does it while memory holds a
            // reference the function handed over (`self->flag = Py_True` earlier): a later
            // `Py_DECREF(self->flag)` releases that one.
            if o.owned == 0 && o.origin != OriginKind::Unknown && o.held_by_memory == 0 {
                o.stolen = Some((span, thief.into()));
            }
            self.event(st, id, span, format!("reference stolen by `{thief}`"));
        } else if o.origin == OriginKind::HelperParam {
            o.consumed.get_or_insert(span);
        } else if let Some((at, first)) = o.stolen.clone() {
            self.report(
                st,
                id,
                FindingKind::UseAfterSteal {
                    thief: first.to_string(),
                    stolen_at: at,
                    again_by: Some(thief.to_string()),
                },
                span,
            );
        } else if o.origin.is_borrowed() {
            // Reported at the end of the block unless a `Py_INCREF` pays for it first.
            o.unpaid_steal = match o.unpaid_steal.take() {
                Some((at, first, n)) => Some((at, first, n + 1)),
                None => Some((span, thief.into(), 1)),
            };
            o.escaped = true;
            self.event(
                st,
                id,
                span,
                format!("stolen by `{thief}` without a reference of its own"),
            );
        }
    }

    /// Steals of borrowed references that no `Py_INCREF` paid for before the end of the
    /// straight-line code (or before the object died): the container holds a reference
    /// nobody took.
    pub(super) fn settle_unpaid_steals(&mut self, st: &mut State, only: Option<ObjId>) {
        let (from, to) = match only {
            Some(id) => (id.0 as usize, id.0 as usize + 1),
            None => (0, st.objs.len()),
        };
        for i in from..to {
            let id = ObjId(i as u32);
            if st.objs[i].as_ref().is_none_or(|o| o.unpaid_steal.is_none()) {
                continue;
            }
            if let Some((at, thief, _)) = st.obj_mut(id).unpaid_steal.take() {
                self.report(
                    st,
                    id,
                    FindingKind::ReleaseOfBorrowed {
                        stolen_by: Some(thief.to_string()),
                    },
                    at,
                );
            }
        }
    }

    /// Gives up on an object's ownership: an unknown function may have stolen or stored it.
    pub(super) fn havoc(&self, st: &mut State, id: ObjId) {
        st.gc_dirty = true;
        let o = st.obj_mut(id);
        o.origin = OriginKind::Unknown;
        o.owned = 0;
        o.escaped = true;
        o.released = None;
        o.stolen = None;
        o.pending_steal = None;
        // What it lent too: the unknown function may have moved items out of it.
        let lent: Vec<ObjId> = st
            .live_objs()
            .filter(|&i| st.obj(i).lender == Some(Lender::Container(id)))
            .collect();
        for i in lent {
            let o = st.obj_mut(i);
            o.origin = OriginKind::Unknown;
            o.lender = None;
            o.invalidated = None;
        }
    }
}
