//! Transfer functions for IR statements: assignments, increfs, releases, uses and the end
//! of a full expression.

use super::places::one_place;
use super::*;
use crate::finding::{FindingKind, OriginKind};
use crate::state::*;
use cpycheck_ir::{LocalKind, Operand, Place, Rvalue, StatementKind};
use cpycheck_syntax::Span;

impl<'a> Interp<'a> {
    pub(super) fn exec(&mut self, st: &mut State, kind: &StatementKind, span: Span) {
        // The end of the store's statement, and the dereferences of the next one
        // (`Py_INCREF(result->reader)`), keep it "just stored" for the next statement.
        let just_stored = if matches!(
            kind,
            StatementKind::EndStatement | StatementKind::Use { .. }
        ) {
            self.just_stored.clone()
        } else {
            self.just_stored.take()
        };
        match kind {
            StatementKind::Assign {
                dest,
                value: Rvalue::Use(op),
            } => {
                let v = self.eval(st, op);
                self.assign(st, dest, v, span);
            }
            StatementKind::Assign {
                dest,
                value: Rvalue::Call(call),
            } => {
                let v = self.call(st, call, span);
                self.assign(st, dest, v, span);
            }
            StatementKind::IncRef { arg, nullable } => {
                let Some(id) = self.obj_of(st, arg) else {
                    return;
                };
                if st.is_null(id) {
                    return;
                }
                self.check_released(st, id, span, false, false);
                self.check_invalidated(st, id, span);
                if !nullable {
                    self.check_unchecked(st, id, span, "passed to `Py_INCREF`");
                }
                let what = if *nullable { "Py_XINCREF" } else { "Py_INCREF" };
                let o = st.obj_mut(id);
                if o.origin == OriginKind::Unknown && o.name.is_none() {
                    // `Py_INCREF(PyArray_DESCR(a))`, `Py_INCREF(s->x)` with `s` of a type we
                    // do not model: a value read anew at each use (a header's accessor
                    // macro is a call we cannot see through) may be the object the next
                    // read returns, stores or hands over. Its references are not counted.
                    return;
                }
                if !nullable {
                    o.null = Nullness::NonNull;
                }
                if let Some((at, thief, n)) = o.unpaid_steal.take() {
                    // The reference the steal needed (`PyList_SET_ITEM(l, i, b); Py_INCREF(b);`).
                    if n > 1 {
                        o.unpaid_steal = Some((at, thief.clone(), n - 1));
                    }
                    self.event(
                        st,
                        id,
                        span,
                        format!("reference for `{thief}` taken with `{what}`"),
                    );
                    return;
                }
                // The reference a store needed, the one right before or one never paid
                // for: the memory holds it, and gives it back when overwritten
                // (`Py_CLEAR(self->dict)`).
                let paid_store = match just_stored.filter(|j| j.0 == id) {
                    Some((_, place)) => Some(place),
                    None => o.stored_unowned.take().map(|(_, place)| place),
                };
                if let Some(place) = paid_store {
                    o.held_by_memory += 1;
                    self.event(
                        st,
                        id,
                        span,
                        format!("reference for `{place}` taken with `{what}`"),
                    );
                    return;
                }
                o.owned += 1;
                o.stolen = None;
                o.released = None;
                self.event(st, id, span, format!("new reference taken with `{what}`"));
            }
            StatementKind::DecRef { arg, nullable } => {
                let Some(id) = self.obj_of(st, arg) else {
                    return;
                };
                if !nullable && st.is_null(id) {
                    // `Py_DECREF(NULL)` dereferences NULL. Reported; the path goes on, so
                    // what follows is still checked (a real program would have crashed,
                    // but the bug to fix is this one, and the ones after it are real too).
                    self.released_null(st, arg, id, span);
                    return;
                }
                if self.releases_memory_reference(st, arg, id) {
                    let o = st.obj_mut(id);
                    // The last reference to a new object, released through a global or a
                    // field (`Py_DECREF(g)` after the function gave its own back): what
                    // that place still points to may be freed.
                    let last = o.held_by_memory == 1 && o.origin.is_new();
                    o.held_by_memory = o.held_by_memory.saturating_sub(1);
                    if last && matches!(arg, Operand::Copy(p) if one_place(p)) {
                        o.released = Some(span);
                        let what = if *nullable { "Py_XDECREF" } else { "Py_DECREF" };
                        self.event(st, id, span, format!("released with `{what}`"));
                    }
                    return;
                }
                let id = self.identical_owned(st, id).unwrap_or(id);
                self.release(st, id, span, *nullable);
            }
            StatementKind::Use { arg } => {
                if let Some(Value::Obj(id)) = Some(self.eval(st, arg)) {
                    self.check_released(st, id, span, false, false);
                    self.check_invalidated(st, id, span);
                    self.check_unchecked(st, id, span, "dereferenced");
                }
            }
            StatementKind::Reveal { arg } => {
                let Some(id) = self.obj_of(st, arg) else {
                    return;
                };
                let state = self.describe(st, id);
                self.report(st, id, FindingKind::Reveal { state }, span);
            }
            StatementKind::Discard { arg } => {
                if let Value::Status(s) = self.eval(st, arg) {
                    let status = st.status(s);
                    if status.classes & status.err != 0
                        && cpycheck_contracts::must_check::must_check(&status.callee)
                        && !self
                            .handled_discards
                            .get_or_insert_with(|| crate::deferred::handled_discards(self.body))
                            .contains(&span)
                    {
                        let callee = status.callee.to_string();
                        self.ignored_error(callee, span);
                    }
                }
            }
            StatementKind::EndStatement => {
                if st.env.take_temps() {
                    let places = self.places.borrow();
                    st.env.retain(|p, _| !places.is_temp(p));
                }
                self.collect(st, span);
            }
        }
    }
}

impl Interp<'_> {
    /// Reports `Py_DECREF` of an object this path proved NULL (`if (x == NULL) goto
    /// error; ... error: Py_DECREF(x);`). A variable that merely still holds its initial
    /// `NULL` is not reported: the analysis does not know that a loop runs at least once or
    /// which element `a[i]` is, and such findings were mostly wrong on real code.
    fn released_null(&mut self, st: &State, arg: &Operand, id: ObjId, span: Span) {
        // Only a variable of the function: an element (`a[i]`, one place for every `i`) or
        // a member may be another one than the one known NULL, and a temporary may hold
        // such an element.
        let Operand::Copy(Place::Local(l)) = arg else {
            return;
        };
        if self.body.local(*l).kind == LocalKind::Temp {
            return;
        }
        let kind = FindingKind::UncheckedNull {
            what: "passed to `Py_DECREF`".to_string(),
            known_null: true,
        };
        self.report(st, id, kind, span);
    }
}
