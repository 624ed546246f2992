//! Places and values: reading and writing locals, members (`p->field`), globals and
//! elements; what a store invalidates; which places outlive the call.

use super::*;
use crate::finding::OriginKind;
use crate::state::*;
use cpycheck_contracts::macros::{MacroKind, lookup_macro};
use cpycheck_ir::{Body, LocalKind, Operand, Place};
use cpycheck_syntax::Span;

impl<'a> Interp<'a> {
    pub(super) fn singleton(&self, st: &mut State, place: &Place) -> Option<Value> {
        let Place::Global(name) = place else {
            return None;
        };
        if lookup_macro(name) != Some(MacroKind::Singleton) {
            return None;
        }
        let id = st.alloc_obj(new_obj(
            OriginKind::Singleton,
            name,
            Span::default(),
            0,
            Nullness::NonNull,
        ));
        let v = Value::Obj(id);
        self.bind(st, self.pid(place), v);
        Some(v)
    }

    /// Binds the place `p` to `v`.
    pub(super) fn bind(&self, st: &mut State, p: PlaceId, v: Value) {
        let temp = self.places.borrow().is_temp(p);
        st.env.insert(p, v, temp);
    }

    /// The number of a place in the states.
    pub(super) fn pid(&self, place: &Place) -> PlaceId {
        self.places
            .borrow_mut()
            .intern_at(place, &|l| self.body.local(l).kind == LocalKind::Temp)
    }

    pub(super) fn read(&self, st: &mut State, place: &Place) -> Value {
        if let Some(v) = st.env.get(self.pid(place)) {
            return v;
        }
        if let Some(v) = self.singleton(st, place) {
            return v;
        }
        Value::Unknown
    }

    pub(super) fn eval(&self, st: &mut State, op: &Operand) -> Value {
        match op {
            Operand::Copy(p) => self.read(st, p),
            Operand::Null => Value::Null,
            Operand::Int(i) => Value::Int(*i),
            Operand::AddrOf(_) | Operand::Str(_) | Operand::Other => Value::Unknown,
        }
    }

    /// The object an operand refers to, creating an object of unknown origin for places
    /// whose content is not known yet (struct fields, globals, unknown results).
    pub(super) fn obj_of(&self, st: &mut State, op: &Operand) -> Option<ObjId> {
        match self.eval(st, op) {
            Value::Obj(id) => Some(id),
            Value::Unknown => {
                let Operand::Copy(place) = op else {
                    return None;
                };
                let id = st.alloc_obj(new_obj(
                    OriginKind::Unknown,
                    "",
                    Span::default(),
                    0,
                    Nullness::Maybe,
                ));
                self.bind(st, self.pid(place), Value::Obj(id));
                Some(id)
            }
            _ => None,
        }
    }

    /// Drops bindings of places reached through `place` (`p->x` when `p` changes), and of
    /// the elements `place` may be (`a[i]` may be `a[2]`).
    pub(super) fn invalidate_derived(&self, st: &mut State, place: &Place) {
        let base = self.pid(place);
        let places = self.places.borrow();
        if places.has_invalidated(base) {
            places.for_each_invalidated(base, |p| st.env.remove(p));
        }
    }

    pub(super) fn assign(&mut self, st: &mut State, dest: &Place, value: Value, span: Span) {
        // Not through `Deref`: `a[i] = v` in a loop writes another element each time.
        if matches!(dest, Place::Field(..) | Place::Global(_))
            && !through_index(dest)
            && let Some(Value::Obj(old)) = st.env.get(self.pid(dest))
            && Value::Obj(old) != value
            && st.obj(old).held_by_memory > 0
        {
            // The memory's reference to the object it held is now the function's to
            // release (`tmp = p->x; p->x = v; Py_XDECREF(tmp);`).
            let name = self.body.place_name(dest);
            let o = st.obj_mut(old);
            o.held_by_memory -= 1;
            o.owned += 1;
            self.event(st, old, span, format!("taken back from `{name}`"));
        }
        // Storing into memory the object it already holds a reference to: the memory's
        // reference comes back and the store hands one over, which changes nothing
        // (`tmp = p->x; p->x = v; Py_DECREF(tmp);` with `v` the object `p->x` held).
        let restored = matches!(dest, Place::Field(..) | Place::Global(_))
            && st.env.get(self.pid(dest)) == Some(value)
            && matches!(value, Value::Obj(id) if st.obj(id).held_by_memory > 0);
        self.invalidate_derived(st, dest);
        self.bind(st, self.pid(dest), value);
        let Value::Obj(id) = value else { return };
        if restored {
            return;
        }
        match dest {
            Place::Local(l) => {
                let local = self.body.local(*l);
                if local.kind != LocalKind::Temp {
                    st.obj_mut(id).name = Some(local.name.as_str().into());
                }
            }
            // An element of the function's own array is a variable of its own (`PyObject
            // *vargs[] = {NULL, self, PyLong_FromLong(n)}` ... `Py_DECREF(vargs[2])`).
            place if self.local_array_elem(place) => {}
            _ => {
                // A store into memory hands one reference over to the memory.
                let body = self.body;
                let name = || body.place_name(dest);
                let o = st.obj_mut(id);
                o.escaped = true;
                if o.owned > 0 {
                    o.owned -= 1;
                    o.held_by_memory += 1;
                    self.event(st, id, span, format!("stored into `{}`", name()));
                } else if (o.origin.is_borrowed() || o.origin == OriginKind::HelperParam)
                    && o.stored_unowned.is_none()
                    && self.is_long_lived(dest)
                {
                    let name = name();
                    o.stored_unowned = Some((span, name.as_str().into()));
                    self.event(
                        st,
                        id,
                        span,
                        format!("stored into `{name}` without a reference of its own"),
                    );
                } else if o.origin == OriginKind::HelperParam
                    && o.stored_unowned.is_none()
                    && self.reached_from_param(dest)
                {
                    // A helper filling in its caller's C structure: whether the structure
                    // now owns the reference is its caller's convention, not ours to guess.
                    self.havoc(st, id);
                } else if o.origin.is_borrowed() && !self.in_local_array(dest) {
                    // Other memory (`self->buffers[i] = item`): whether it owns a reference
                    // is not known, but a `Py_INCREF` right after pays for the store.
                    self.just_stored = Some((id, name().as_str().into()));
                }
            }
        }
    }

    /// `a[k]` with a constant `k` and `a` an array declared in the function.
    pub(super) fn local_array_elem(&self, place: &Place) -> bool {
        matches!(place, Place::Elem(base, _) if matches!(**base, Place::Local(l)
            if self.body.local(l).ty.array && self.body.local(l).kind == LocalKind::Var))
    }

    /// An element of an array declared in the function (`x[0]`, `x[i]`, `x[2]`).
    pub(super) fn in_local_array(&self, place: &Place) -> bool {
        matches!(place, Place::Deref(base) | Place::Elem(base, _) if matches!(**base, Place::Local(l)
            if self.body.local(l).ty.array && self.body.local(l).kind == LocalKind::Var))
    }

    /// Memory reached through a pointer parameter (`ctx->obj`, `out[0]`).
    pub(super) fn reached_from_param(&self, place: &Place) -> bool {
        match place {
            Place::Local(l) => self.body.params.contains(l),
            Place::Field(base, _) | Place::Deref(base) | Place::Elem(base, _) => {
                self.reached_from_param(base)
            }
            Place::Global(_) => false,
        }
    }

    /// Memory that outlives the call: a field of a Python object, or a static.
    pub(super) fn is_long_lived(&self, place: &Place) -> bool {
        match place {
            Place::Global(name) => lookup_macro(name).is_none(),
            Place::Field(base, _) => {
                matches!(**base, Place::Local(l) if self.body.local(l).is_object)
            }
            _ => false,
        }
    }
}

/// A global or a field of one (`g`, `self->x`, `s->a.b`): the same memory each time, never
/// an element reached through an index or a pointer.
pub(super) fn one_place(p: &Place) -> bool {
    match p {
        Place::Global(_) => true,
        Place::Field(b, _) => matches!(**b, Place::Local(_)) || one_place(b),
        _ => false,
    }
}

/// A place reached through `a[i]` with an index the IR does not track
/// (`descs[i].cls`): each iteration of a loop may write another one.
pub(super) fn through_index(p: &Place) -> bool {
    match p {
        Place::Deref(_) => true,
        Place::Field(b, _) | Place::Elem(b, _) => through_index(b),
        _ => false,
    }
}

pub(super) fn is_temp_place(body: &Body, p: &Place) -> bool {
    match p {
        Place::Local(l) => body.local(*l).kind == LocalKind::Temp,
        Place::Field(b, _) | Place::Deref(b) | Place::Elem(b, _) => is_temp_place(body, b),
        Place::Global(_) => false,
    }
}
