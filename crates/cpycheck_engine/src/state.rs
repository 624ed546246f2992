//! The abstract state of one path: what each place holds, and what is known of each object.

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
/// same place in every state of the analysis, which is all [`State::key`] needs.
#[derive(Default)]
pub struct Places {
    ids: HashMap<Place, PlaceId, std::hash::BuildHasherDefault<KeyHasher>>,
    info: Vec<PlaceInfo>,
}

struct PlaceInfo {
    place: Place,
    /// `p` for `p->x` and `*p`.
    base: Option<PlaceId>,
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
        self.info.push(PlaceInfo {
            place: place.clone(),
            base,
            temp,
        });
        self.ids.insert(place.clone(), id);
        id
    }

    pub fn place(&self, id: PlaceId) -> &Place {
        &self.info[id.0 as usize].place
    }

    pub fn is_temp(&self, id: PlaceId) -> bool {
        self.info[id.0 as usize].temp
    }

    /// Whether `p` is reached through `base` (`base->x`, `base->x->y`, `*base`).
    pub fn derives_from(&self, p: PlaceId, base: PlaceId) -> bool {
        let mut cur = self.info[p.0 as usize].base;
        while let Some(b) = cur {
            if b == base {
                return true;
            }
            cur = self.info[b.0 as usize].base;
        }
        false
    }
}

/// What each place holds: a map from places to values, kept as a vector sorted by place so
/// that cloning it is one copy.
#[derive(Clone, Debug, Default)]
pub struct Env(Vec<(PlaceId, Value)>);

impl Env {
    pub fn get(&self, p: PlaceId) -> Option<Value> {
        self.0
            .binary_search_by_key(&p, |e| e.0)
            .ok()
            .map(|i| self.0[i].1)
    }

    pub fn insert(&mut self, p: PlaceId, v: Value) {
        match self.0.binary_search_by_key(&p, |e| e.0) {
            Ok(i) => self.0[i].1 = v,
            Err(i) => self.0.insert(i, (p, v)),
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(PlaceId, &Value) -> bool) {
        self.0.retain(|(p, v)| keep(*p, v));
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (PlaceId, Value)> + '_ {
        self.0.iter().copied()
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.0.iter().map(|e| &e.1)
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
#[derive(Debug)]
pub struct Event {
    pub seq: u32,
    pub span: Span,
    pub message: String,
    pub prev: Option<Rc<Event>>,
}

pub type History = Option<Rc<Event>>;

pub fn push_event(h: &History, seq: u32, span: Span, message: String) -> History {
    Some(Rc::new(Event {
        seq,
        span,
        message,
        prev: h.clone(),
    }))
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
    pub objs: Vec<Option<Obj>>,
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
        }
    }
}

impl State {
    pub fn obj(&self, id: ObjId) -> &Obj {
        self.objs[id.0 as usize].as_ref().expect("live object")
    }

    pub fn obj_mut(&mut self, id: ObjId) -> &mut Obj {
        self.objs[id.0 as usize].as_mut().expect("live object")
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
        if let Some(i) = self.objs.iter().position(Option::is_none) {
            self.objs[i] = Some(obj);
            return ObjId(i as u32);
        }
        self.objs.push(Some(obj));
        ObjId(self.objs.len() as u32 - 1)
    }

    pub fn alloc_status(&mut self, s: Status) -> StatusId {
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
    /// states with equal keys behave identically from there on (histories aside).
    pub fn key(&self) -> u64 {
        let mut h = KeyHasher::default();
        let mut obj_map: Vec<Option<u32>> = vec![None; self.objs.len()];
        let mut st_map: Vec<Option<u32>> = vec![None; self.statuses.len()];
        let mut next_obj = 0u32;
        let mut next_st = 0u32;
        let mut canon_st = |s: StatusId, st_map: &mut Vec<Option<u32>>| -> u32 {
            let slot = &mut st_map[s.0 as usize];
            *slot.get_or_insert_with(|| {
                next_st += 1;
                next_st
            })
        };
        let mut order: Vec<ObjId> = Vec::with_capacity(self.objs.len());
        let mut canon_obj = |o: ObjId, order: &mut Vec<ObjId>| -> u32 {
            let slot = &mut obj_map[o.0 as usize];
            *slot.get_or_insert_with(|| {
                next_obj += 1;
                order.push(o);
                next_obj
            })
        };
        for p in &self.params {
            p.map(|o| canon_obj(o, &mut order)).hash(&mut h);
        }
        self.param_tests.hash(&mut h);
        self.exc.hash(&mut h);
        for (place, value) in self.env.iter() {
            // The place and an object's or status's number in one word.
            let place = u64::from(place.0) << 32;
            match value {
                Value::Obj(o) => h.write_u64(place | u64::from(canon_obj(o, &mut order)) << 1),
                Value::Status(s) => {
                    h.write_u64(place | u64::from(canon_st(s, &mut st_map)) << 1 | 1);
                }
                other => {
                    h.write_u64(place | 1 << 31);
                    other.hash(&mut h);
                }
            }
        }
        // Objects no place refers to any more (kept for their pending effects) come last.
        for id in self.live_objs() {
            if obj_map[id.0 as usize].is_none() {
                order.push(id);
            }
        }
        for id in order {
            let o = self.obj(id);
            // The flags packed into words: one hasher step each instead of one per field.
            let flags = o.origin as u64
                | (o.null as u64) << 8
                | u64::from(o.released.is_some()) << 16
                | u64::from(o.escaped) << 17
                | u64::from(o.consumed.is_some()) << 18
                | u64::from(o.invalidated.is_some()) << 19
                | u64::from(o.stored_unowned.is_some()) << 20;
            h.write_u64(flags);
            h.write_u64(u64::from(o.origin_span.start) << 32 | u64::from(o.origin_span.end));
            h.write_u64(u64::from(o.owned) << 32 | u64::from(o.held_by_memory));
            o.unpaid_steal.as_ref().map(|u| u.2).hash(&mut h);
            o.stolen.as_ref().map(|s| s.0).hash(&mut h);
            o.exists_if
                .map(|(s, set)| (canon_st(s, &mut st_map), set))
                .hash(&mut h);
            o.exc_link
                .filter(|l| l.epoch == self.exc_epoch)
                .map(|l| (l.on_failure, l.on_success))
                .hash(&mut h);
            o.pending_steal
                .as_ref()
                .map(|p| (canon_st(p.status, &mut st_map), p.on_failure))
                .hash(&mut h);
        }
        for (i, s) in self.statuses.iter().enumerate() {
            if let (Some(s), Some(c)) = (s, st_map[i]) {
                (c, s.classes).hash(&mut h);
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
        let mut facts: Vec<(u32, u32, bool)> = self
            .eq_facts
            .iter()
            .filter_map(|&(a, b, eq)| {
                let ca = (*obj_map.get(a.0 as usize)?)?;
                let cb = (*obj_map.get(b.0 as usize)?)?;
                Some((ca.min(cb), ca.max(cb), eq))
            })
            .collect();
        facts.sort_unstable();
        facts.hash(&mut h);
        h.finish()
    }
}

/// The hasher of [`State::key`]: the keys only deduplicate paths inside one function, so
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
