//! The abstract state of one path: what each place holds, and what is known of each object.

use crate::budget::{HISTORY_EVENTS, TRACE_STEPS};
use crate::finding::OriginKind;
use cpycheck_ir::Place;
use cpycheck_syntax::Span;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusId(pub u32);

/// A place of the function being analysed, interned by [`Places`]: states refer to places by
/// number, so cloning, comparing and hashing a state never touches the places' names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlaceId(pub u32);

/// The places one analysis has met, numbered in order of first use. A number stands for the
/// same place in every state of the analysis, which is all [`State::key_with`] needs.
#[derive(Default)]
pub struct Places {
    ids: HashMap<Place, PlaceId, std::hash::BuildHasherDefault<KeyHasher>>,
    /// The number of a place of the analysed body, by the place's address: the body is
    /// borrowed for the whole analysis, so an address met in it stands for one place, and
    /// looking it up spares hashing the place's names. Filled in on first use, so places
    /// are numbered in the same order as without it.
    at: HashMap<usize, Option<PlaceId>, std::hash::BuildHasherDefault<KeyHasher>>,
    info: Vec<PlaceInfo>,
}

struct PlaceInfo {
    place: Place,
    /// `p` for `p->x` and `*p`.
    base: Option<PlaceId>,
    /// The places whose base this place is.
    children: Vec<PlaceId>,
    /// The place is, or is reached through, a compiler temporary.
    temp: bool,
}

impl Places {
    /// The number of `place`; `is_temp_local` says whether a local is a temporary.
    pub fn intern(
        &mut self,
        place: &Place,
        is_temp_local: &dyn Fn(cpycheck_ir::LocalId) -> bool,
    ) -> PlaceId {
        if let Some(&id) = self.ids.get(place) {
            return id;
        }
        let (base, temp) = match place {
            Place::Local(l) => (None, is_temp_local(*l)),
            Place::Global(_) => (None, false),
            Place::Field(b, _) | Place::Deref(b) | Place::Elem(b, _) => {
                let b = self.intern(b, is_temp_local);
                (Some(b), self.info[b.0 as usize].temp)
            }
        };
        let id = PlaceId(self.info.len() as u32);
        if let Some(b) = base {
            self.info[b.0 as usize].children.push(id);
        }
        self.info.push(PlaceInfo {
            place: place.clone(),
            base,
            children: Vec::new(),
            temp,
        });
        self.ids.insert(place.clone(), id);
        id
    }

    /// Makes [`Places::intern_at`] recognise the places of `body` by address.
    pub fn know_body(&mut self, body: &cpycheck_ir::Body) {
        use cpycheck_ir::{Cond, Operand, Rvalue, StatementKind, Terminator};
        fn place(
            at: &mut HashMap<usize, Option<PlaceId>, std::hash::BuildHasherDefault<KeyHasher>>,
            p: &Place,
        ) {
            at.insert(std::ptr::from_ref(p) as usize, None);
            if let Place::Field(b, _) | Place::Deref(b) | Place::Elem(b, _) = p {
                place(at, b);
            }
        }
        let at = &mut self.at;
        let operand = |at: &mut HashMap<_, _, _>, op: &Operand| {
            if let Operand::Copy(p) | Operand::AddrOf(p) = op {
                place(at, p);
            }
        };
        for block in &body.blocks {
            for s in &block.stmts {
                match &s.kind {
                    StatementKind::Assign { dest, value } => {
                        place(at, dest);
                        match value {
                            Rvalue::Use(op) => operand(at, op),
                            Rvalue::Call(call) => {
                                for a in &call.args {
                                    operand(at, a);
                                }
                            }
                        }
                    }
                    StatementKind::IncRef { arg, .. }
                    | StatementKind::DecRef { arg, .. }
                    | StatementKind::Use { arg }
                    | StatementKind::Reveal { arg }
                    | StatementKind::Discard { arg } => operand(at, arg),
                    StatementKind::EndStatement => {}
                }
            }
            match &block.term {
                Terminator::Branch { cond, .. } => match cond {
                    Cond::Truthy(op) => operand(at, op),
                    Cond::Compare { lhs, rhs, .. } => {
                        operand(at, lhs);
                        operand(at, rhs);
                    }
                },
                Terminator::Return(Some(op)) => operand(at, op),
                _ => {}
            }
        }
    }

    /// [`Places::intern`], by address for the places of the body given to
    /// [`Places::know_body`].
    pub fn intern_at(
        &mut self,
        place: &Place,
        is_temp_local: &dyn Fn(cpycheck_ir::LocalId) -> bool,
    ) -> PlaceId {
        let addr = std::ptr::from_ref(place) as usize;
        match self.at.get(&addr) {
            Some(Some(id)) => *id,
            Some(None) => {
                let id = self.intern(place, is_temp_local);
                self.at.insert(addr, Some(id));
                id
            }
            None => self.intern(place, is_temp_local),
        }
    }

    /// Calls `f` with every place other than `base` that a change of `base` invalidates:
    /// the places reached through it (`base->x`, `base->x->y`, `*base`) and, for `*a` and
    /// `a[k]`, the elements of `a` it may be (`a[k]` for `*a`, `*a` for `a[k]`).
    pub fn for_each_invalidated(&self, base: PlaceId, mut f: impl FnMut(PlaceId)) {
        let mut stack: Vec<PlaceId> = self.info[base.0 as usize].children.clone();
        while let Some(p) = stack.pop() {
            f(p);
            stack.extend_from_slice(&self.info[p.0 as usize].children);
        }
        let info = &self.info[base.0 as usize];
        let want_elem = match info.place {
            Place::Deref(_) => true,
            Place::Elem(..) => false,
            _ => return,
        };
        let Some(parent) = info.base else { return };
        for &sib in &self.info[parent.0 as usize].children {
            let is_alias = match self.info[sib.0 as usize].place {
                Place::Elem(..) => want_elem,
                Place::Deref(_) => !want_elem,
                _ => false,
            };
            if is_alias {
                f(sib);
            }
        }
    }

    pub fn has_invalidated(&self, base: PlaceId) -> bool {
        let info = &self.info[base.0 as usize];
        !info.children.is_empty() || matches!(info.place, Place::Deref(_) | Place::Elem(..))
    }

    pub fn place(&self, id: PlaceId) -> &Place {
        &self.info[id.0 as usize].place
    }

    pub fn is_temp(&self, id: PlaceId) -> bool {
        self.info[id.0 as usize].temp
    }
}

/// What each place holds: a map from places to values, kept as a vector sorted by place so
/// that cloning it is one copy.
#[derive(Debug, Default)]
pub struct Env {
    entries: Vec<(PlaceId, Value)>,
    /// A reference to an object or status was overwritten or removed since
    /// [`Env::take_dropped`]: something may have become unreachable.
    dropped: bool,
    /// A place set since [`Env::take_temps`] may be a temporary.
    temps: bool,
}

impl Clone for Env {
    fn clone(&self) -> Env {
        // Room for a few more places: the path that continues usually binds some.
        let mut entries = Vec::with_capacity(self.entries.len() + 8);
        entries.extend_from_slice(&self.entries);
        Env {
            entries,
            dropped: self.dropped,
            temps: self.temps,
        }
    }
}

fn refers(v: &Value) -> bool {
    matches!(v, Value::Obj(_) | Value::Status(_))
}

impl Env {
    pub fn get(&self, p: PlaceId) -> Option<Value> {
        self.entries
            .binary_search_by_key(&p, |e| e.0)
            .ok()
            .map(|i| self.entries[i].1)
    }

    /// Binds `p`; `temp` says whether it is a temporary.
    pub fn insert(&mut self, p: PlaceId, v: Value, temp: bool) {
        self.temps |= temp;
        match self.entries.binary_search_by_key(&p, |e| e.0) {
            Ok(i) => {
                let old = std::mem::replace(&mut self.entries[i].1, v);
                self.dropped |= old != v && refers(&old);
            }
            Err(i) => self.entries.insert(i, (p, v)),
        }
    }

    pub fn remove(&mut self, p: PlaceId) {
        if let Ok(i) = self.entries.binary_search_by_key(&p, |e| e.0) {
            let (_, old) = self.entries.remove(i);
            self.dropped |= refers(&old);
        }
    }

    /// Whether a reference was dropped since the last call.
    pub fn take_dropped(&mut self) -> bool {
        std::mem::take(&mut self.dropped)
    }

    /// Whether a temporary may have been bound since the last call.
    pub fn take_temps(&mut self) -> bool {
        std::mem::take(&mut self.temps)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(PlaceId, &Value) -> bool) {
        let mut dropped = false;
        self.entries.retain(|(p, v)| {
            let k = keep(*p, v);
            dropped |= !k && refers(v);
            k
        });
        self.dropped |= dropped;
    }

    pub fn clear(&mut self) {
        self.dropped |= self.entries.iter().any(|e| refers(&e.1));
        self.entries.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (PlaceId, Value)> + '_ {
        self.entries.iter().copied()
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.entries.iter().map(|e| &e.1)
    }
}

/// The abstract value of a place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Obj(ObjId),
    /// The int result of a fallible call, refined lazily by the branches that test it.
    Status(StatusId),
    Null,
    Int(i64),
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Nullness {
    Null,
    NonNull,
    Maybe,
}

/// Classes of int results: bit set over {negative (-1), zero, one, more than one}.
pub const NEG: u8 = 1;
pub const ZERO: u8 = 2;
pub const ONE: u8 = 4;
pub const MANY: u8 = 8;
pub const POS: u8 = ONE | MANY;

/// A persistent list of events: cheap to clone with the state, shared between paths.
///
/// Its length is bounded ([`HISTORY_EVENTS`]): a trace renders the oldest event and the
/// [`TRACE_STEPS`] most recent ones (see `Interp::trace`), so a longer list is cut back to
/// those, and a function that makes millions of events in one block (macros of macros) keeps
/// a few dozen per object. It is freed iteratively (`Drop` below), never one stack frame per
/// event.
#[derive(Debug)]
pub struct Event {
    pub seq: u32,
    pub span: Span,
    pub message: String,
    pub prev: Option<Rc<Event>>,
    /// Events in the list that ends here, this one included.
    len: u32,
}

pub type History = Option<Rc<Event>>;

pub fn push_event(h: &History, seq: u32, span: Span, message: String) -> History {
    let prev = match h {
        Some(last) if last.len as usize >= HISTORY_EVENTS => cut_back(last),
        _ => h.clone(),
    };
    Some(Rc::new(Event {
        seq,
        span,
        message,
        len: prev.as_ref().map_or(0, |p| p.len) + 1,
        prev,
    }))
}

/// The oldest event of `last`'s list followed by its [`TRACE_STEPS`] most recent ones: every
/// event a trace can render (the other lists it is merged with keep theirs).
fn cut_back(last: &Rc<Event>) -> History {
    let mut kept: Vec<&Event> = Vec::with_capacity(TRACE_STEPS + 1);
    let mut cur = Some(last);
    let mut oldest = last;
    while let Some(e) = cur {
        if kept.len() < TRACE_STEPS {
            kept.push(e);
        }
        oldest = e;
        cur = e.prev.as_ref();
    }
    let mut list: History = None;
    for e in std::iter::once(&**oldest).chain(kept.into_iter().rev()) {
        list = Some(Rc::new(Event {
            seq: e.seq,
            span: e.span,
            message: e.message.clone(),
            len: list.as_ref().map_or(0, |p| p.len) + 1,
            prev: list,
        }));
    }
    list
}

impl Drop for Event {
    /// Frees the events only this one holds one by one, instead of recursing once per event.
    fn drop(&mut self) {
        let mut prev = self.prev.take();
        while let Some(rc) = prev {
            match Rc::try_unwrap(rc) {
                Ok(mut e) => prev = e.prev.take(),
                Err(_) => break,
            }
        }
    }
}

pub fn events(h: &History) -> Vec<(u32, Span, String)> {
    let mut out = Vec::new();
    let mut cur = h.as_ref();
    while let Some(e) = cur {
        out.push((e.seq, e.span, e.message.clone()));
        cur = e.prev.as_ref();
    }
    out.reverse();
    out
}

#[derive(Clone, Debug)]
pub struct Obj {
    pub origin: OriginKind,
    /// The API, function, parameter or singleton the object came from.
    pub what: Rc<str>,
    pub origin_span: Span,
    /// References this function is responsible for releasing (or handing over).
    pub owned: u32,
    pub null: Nullness,
    /// The object exists (is non-NULL) only when the status is in the class set.
    pub exists_if: Option<(StatusId, u8)>,
    /// Released by this function while it was (as far as we know) the only owner.
    pub released: Option<Span>,
    /// Our last reference was stolen by the named call.
    pub stolen: Option<(Span, Rc<str>)>,
    /// Stolen by the named call if it succeeds (or, `on_failure`, if it fails); the status
    /// is not yet known on this path.
    pub pending_steal: Option<PendingSteal>,
    /// Someone else may hold a reference too (stored in a container or in memory).
    pub escaped: bool,
    /// References this function handed to memory places (`p->x = v` while owning `v`).
    /// Overwriting such a place gives one back: the function must now release it.
    pub held_by_memory: u32,
    /// The variable that last held the object.
    pub name: Option<Rc<str>>,
    pub history: History,
    pub created: u32,
    /// A parameter of a helper whose reference this function gave away (released, stored
    /// or handed to a stealing call) without taking one first: where it first did.
    pub consumed: Option<Span>,
    /// A borrowed reference whose lender is a container (or, for weak references, anything
    /// that runs Python code).
    pub lender: Option<Lender>,
    /// The lender may have changed since: the call that did it.
    pub invalidated: Option<(Span, Rc<str>)>,
    /// The result of an API call that returns NULL when it fails, not yet tested.
    pub fallible: bool,
    /// What a NULL test of this call result says about the exception state.
    pub exc_link: Option<ExcLink>,
    /// Stored into a long-lived place (an object's field, a static) without a reference of
    /// its own: where, and the place. A later `Py_INCREF` settles it.
    pub stored_unowned: Option<(Span, Rc<str>)>,
    /// A borrowed reference handed to a stealing call (`PyList_SET_ITEM(l, i, b)`) whose
    /// `Py_INCREF` may still follow in the same straight-line code: where the first was, the
    /// call, and how many references are owed.
    pub unpaid_steal: Option<(Span, Rc<str>, u32)>,
    /// The part of [`State::key_with`] that depends on this object alone, once computed
    /// (0: not yet). Reset by [`State::obj_mut`].
    pub key_part: std::cell::Cell<u64>,
}

impl Obj {
    /// What [`State::key_with`] hashes of the object's own fields (not of the statuses it
    /// refers to, nor of the exception state), in one word.
    fn key_part(&self) -> u64 {
        let cached = self.key_part.get();
        if cached != 0 {
            debug_assert_eq!(cached, self.compute_key_part(), "stale key part");
            return cached;
        }
        let part = self.compute_key_part();
        self.key_part.set(part);
        part
    }

    fn compute_key_part(&self) -> u64 {
        let mut h = KeyHasher::default();
        // The flags packed into words: one hasher step each instead of one per field.
        let flags = self.origin as u64
            | (self.null as u64) << 8
            | u64::from(self.released.is_some()) << 16
            | u64::from(self.escaped) << 17
            | u64::from(self.consumed.is_some()) << 18
            | u64::from(self.invalidated.is_some()) << 19
            | u64::from(self.stored_unowned.is_some()) << 20;
        h.write_u64(flags);
        h.write_u64(u64::from(self.origin_span.start) << 32 | u64::from(self.origin_span.end));
        h.write_u64(u64::from(self.owned) << 32 | u64::from(self.held_by_memory));
        self.unpaid_steal.as_ref().map(|u| u.2).hash(&mut h);
        self.stolen.as_ref().map(|s| s.0).hash(&mut h);
        // Never 0, which means "not computed".
        h.finish() | 1
    }
}

#[derive(Clone, Debug)]
pub struct PendingSteal {
    pub status: StatusId,
    pub span: Span,
    pub thief: Rc<str>,
    pub on_failure: bool,
}

/// Who owns a borrowed reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lender {
    Container(ObjId),
    AnyPythonCode,
}

#[derive(Clone, Debug)]
pub struct Status {
    /// Possible classes of the value.
    pub classes: u8,
    /// The class that means failure.
    pub err: u8,
    pub callee: Rc<str>,
    /// What testing the status says about the exception state.
    pub exc: Option<ExcLink>,
}

/// Whether an exception is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exc {
    Clear,
    Set,
    Unknown,
}

/// The exception state a test of a call's result reveals: on failure (error value, NULL)
/// and on success. Valid while no later call has changed the state (`epoch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExcLink {
    pub on_failure: Exc,
    pub on_success: Exc,
    pub epoch: u32,
}

#[derive(Clone, Debug)]
pub struct State {
    pub env: Env,
    /// The objects, shared with the states this one was cloned from until one of them
    /// changes the object ([`State::obj_mut`] copies it then).
    pub objs: Vec<Option<Rc<Obj>>>,
    pub statuses: Vec<Option<Status>>,
    /// Identity facts learnt from branches: `(a, b, equal)` with `a < b`.
    pub eq_facts: Vec<(ObjId, ObjId, bool)>,
    /// Branch decisions on this path.
    pub path: History,
    pub seq: u32,
    /// The objects the parameters held on entry (None for non-object parameters). They stay
    /// alive to the end of the path, so that the summary can say what happened to them.
    pub params: Vec<Option<ObjId>>,
    /// Decisions taken on non-object parameters (`(local, taken)`), which may decide a
    /// helper's contract (`decref_tuple` flags).
    pub param_tests: std::collections::BTreeSet<(u32, bool)>,
    /// Whether an exception is set on this path.
    pub exc: Exc,
    /// Bumped by every call that may change the exception state.
    pub exc_epoch: u32,
    /// An object or status was created, or an object's tie to a status changed, since the
    /// last collection: something may have become unreachable.
    pub gc_dirty: bool,
}

impl Default for State {
    fn default() -> State {
        State {
            env: Env::default(),
            objs: Vec::new(),
            statuses: Vec::new(),
            eq_facts: Vec::new(),
            path: None,
            seq: 0,
            params: Vec::new(),
            param_tests: Default::default(),
            exc: Exc::Clear,
            exc_epoch: 0,
            gc_dirty: false,
        }
    }
}

impl State {
    pub fn obj(&self, id: ObjId) -> &Obj {
        self.objs[id.0 as usize].as_deref().expect("live object")
    }

    pub fn obj_mut(&mut self, id: ObjId) -> &mut Obj {
        let o = Rc::make_mut(self.objs[id.0 as usize].as_mut().expect("live object"));
        o.key_part.set(0);
        o
    }

    pub fn status(&self, id: StatusId) -> &Status {
        self.statuses[id.0 as usize].as_ref().expect("live status")
    }

    pub fn status_mut(&mut self, id: StatusId) -> &mut Status {
        self.statuses[id.0 as usize].as_mut().expect("live status")
    }

    pub fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    pub fn alloc_obj(&mut self, obj: Obj) -> ObjId {
        self.gc_dirty = true;
        if let Some(i) = self.objs.iter().position(Option::is_none) {
            self.objs[i] = Some(Rc::new(obj));
            return ObjId(i as u32);
        }
        self.objs.push(Some(Rc::new(obj)));
        ObjId(self.objs.len() as u32 - 1)
    }

    pub fn alloc_status(&mut self, s: Status) -> StatusId {
        self.gc_dirty = true;
        if let Some(i) = self.statuses.iter().position(Option::is_none) {
            self.statuses[i] = Some(s);
            return StatusId(i as u32);
        }
        self.statuses.push(Some(s));
        StatusId(self.statuses.len() as u32 - 1)
    }

    pub fn live_objs(&self) -> impl Iterator<Item = ObjId> + '_ {
        self.objs
            .iter()
            .enumerate()
            .filter(|(_, o)| o.is_some())
            .map(|(i, _)| ObjId(i as u32))
    }

    /// What is known of `a == b` on this path.
    pub fn identical(&self, a: ObjId, b: ObjId) -> Option<bool> {
        if a == b {
            return Some(true);
        }
        let key = (a.min(b), a.max(b));
        self.eq_facts
            .iter()
            .find(|f| (f.0, f.1) == key)
            .map(|f| f.2)
    }

    pub fn add_eq_fact(&mut self, a: ObjId, b: ObjId, equal: bool) {
        if a != b && self.identical(a, b).is_none() {
            self.eq_facts.push((a.min(b), a.max(b), equal));
        }
    }

    /// Whether the object is known not to exist (NULL) on this path.
    pub fn is_null(&self, id: ObjId) -> bool {
        let o = self.obj(id);
        if o.null == Nullness::Null {
            return true;
        }
        match o.exists_if {
            Some((s, set)) => self.statuses[s.0 as usize]
                .as_ref()
                .is_some_and(|st| st.classes & set == 0),
            None => false,
        }
    }

    pub fn is_non_null(&self, id: ObjId) -> bool {
        let o = self.obj(id);
        if o.null == Nullness::NonNull {
            return true;
        }
        match o.exists_if {
            Some((s, set)) => self.statuses[s.0 as usize]
                .as_ref()
                .is_some_and(|st| st.classes & !set == 0),
            None => false,
        }
    }

    /// A hash of the state up to renaming of objects and statuses. Paths reaching a block in
    /// states with equal keys behave identically from there on (histories aside). `scratch`
    /// is work space, kept between calls to spare allocations.
    pub fn key_with(&self, scratch: &mut KeyScratch) -> u64 {
        let mut h = KeyHasher::default();
        let KeyScratch {
            obj_map,
            st_map,
            order,
            facts,
        } = scratch;
        // 0 is "not numbered yet"; numbers start at 1.
        obj_map.clear();
        obj_map.resize(self.objs.len(), 0);
        st_map.clear();
        st_map.resize(self.statuses.len(), 0);
        order.clear();
        let mut next_obj = 0u32;
        let mut next_st = 0u32;
        let mut canon_st = |s: StatusId, st_map: &mut Vec<u32>| -> u32 {
            let slot = &mut st_map[s.0 as usize];
            if *slot == 0 {
                next_st += 1;
                *slot = next_st;
            }
            *slot
        };
        let mut canon_obj = |o: ObjId, obj_map: &mut Vec<u32>, order: &mut Vec<ObjId>| -> u32 {
            let slot = &mut obj_map[o.0 as usize];
            if *slot == 0 {
                next_obj += 1;
                *slot = next_obj;
                order.push(o);
            }
            *slot
        };
        for p in &self.params {
            p.map(|o| canon_obj(o, obj_map, order)).hash(&mut h);
        }
        self.param_tests.hash(&mut h);
        self.exc.hash(&mut h);
        for (place, value) in self.env.iter() {
            // The place and an object's or status's number in one word.
            let place = u64::from(place.0) << 32;
            match value {
                Value::Obj(o) => {
                    h.write_u64(place | u64::from(canon_obj(o, obj_map, order)) << 1);
                }
                Value::Status(s) => {
                    h.write_u64(place | u64::from(canon_st(s, st_map)) << 1 | 1);
                }
                other => {
                    h.write_u64(place | 1 << 31);
                    other.hash(&mut h);
                }
            }
        }
        // Objects no place refers to any more (kept for their pending effects) come last.
        for (i, o) in self.objs.iter().enumerate() {
            if o.is_some() && obj_map[i] == 0 {
                order.push(ObjId(i as u32));
            }
        }
        for &id in order.iter() {
            let o = self.obj(id);
            h.write_u64(o.key_part());
            o.exists_if
                .map(|(s, set)| (canon_st(s, st_map), set))
                .hash(&mut h);
            o.exc_link
                .filter(|l| l.epoch == self.exc_epoch)
                .map(|l| (l.on_failure, l.on_success))
                .hash(&mut h);
            o.pending_steal
                .as_ref()
                .map(|p| (canon_st(p.status, st_map), p.on_failure))
                .hash(&mut h);
        }
        for (i, s) in self.statuses.iter().enumerate() {
            if let Some(s) = s
                && st_map[i] != 0
            {
                (st_map[i], s.classes).hash(&mut h);
                s.exc
                    .filter(|l| l.epoch == self.exc_epoch)
                    .map(|l| (l.on_failure, l.on_success))
                    .hash(&mut h);
            }
        }
        if self.eq_facts.is_empty() {
            // What hashing an empty list of facts writes.
            h.write_usize(0);
            return h.finish();
        }
        facts.clear();
        facts.extend(self.eq_facts.iter().filter_map(|&(a, b, eq)| {
            let ca = *obj_map.get(a.0 as usize)?;
            let cb = *obj_map.get(b.0 as usize)?;
            (ca != 0 && cb != 0).then_some((ca.min(cb), ca.max(cb), eq))
        }));
        facts.sort_unstable();
        facts.hash(&mut h);
        h.finish()
    }
}

/// Work space of [`State::key_with`], kept between calls.
#[derive(Default)]
pub struct KeyScratch {
    obj_map: Vec<u32>,
    st_map: Vec<u32>,
    order: Vec<ObjId>,
    facts: Vec<(u32, u32, bool)>,
}

/// The hasher of [`State::key_with`]: the keys only deduplicate paths inside one function, so
/// they need speed, not resistance to chosen inputs (SipHash was most of the engine's time
/// on generated code). The multiply-rotate scheme of rustc's FxHasher, with a final mix.
#[derive(Default)]
struct KeyHasher(u64);

impl KeyHasher {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // Final avalanche (splitmix64), so keys differing in few bits spread out.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    fn push_n(mut h: History, from: u32, n: u32) -> History {
        for seq in from..from + n {
            h = push_event(&h, seq, Span::default(), format!("e{seq}"));
        }
        h
    }

    /// A long history keeps what a trace can render: its oldest event and at least the
    /// [`TRACE_STEPS`] most recent, in order.
    #[test]
    fn a_long_history_keeps_its_oldest_and_most_recent_events() {
        let h = push_n(None, 1, 10_000);
        let seqs: Vec<u32> = events(&h).into_iter().map(|e| e.0).collect();
        assert!(seqs.len() <= HISTORY_EVENTS, "{}", seqs.len());
        assert_eq!(seqs[0], 1);
        let recent: Vec<u32> = (10_000 - TRACE_STEPS as u32 + 1..=10_000).collect();
        assert!(seqs.ends_with(&recent), "{seqs:?}");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }

    /// Cutting one list back does not change the lists that share its events.
    #[test]
    fn cutting_a_shared_history_leaves_the_others_whole() {
        let shared = push_n(None, 1, HISTORY_EVENTS as u32);
        let before = events(&shared);
        let longer = push_n(shared.clone(), 1000, 5);
        assert_eq!(events(&shared), before);
        assert_eq!(events(&longer).len(), TRACE_STEPS + 1 + 5);
    }
}
