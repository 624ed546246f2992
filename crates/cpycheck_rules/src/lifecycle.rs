//! What a type's lifecycle functions (`tp_dealloc`, `tp_traverse`, `tp_clear`) do to the
//! object they receive: the analysis shared by the type-level rules CPY301–CPY307.
//!
//! Facts are read from the lowered functions (`cpycheck_ir::Body`): releases of members of
//! `self` (directly, or through a copy as `Py_CLEAR` does), stores of NULL, members passed to
//! calls, dereferences, NULL tests, and calls that free or untrack `self`. A call that passes
//! `self` to another function of the file contributes that function's facts; a call that
//! passes `self` to a function the analysis cannot see makes the facts *opaque*, and rules
//! that need to know everything the function does then stay silent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use cpycheck_contracts::lifecycle::{frees_object, untracks_object};
use cpycheck_ir::{
    Body, Callee, Cond, LocalId, Operand, Place, Rvalue, StatementKind, Terminator, is_object_type,
};
use cpycheck_syntax::{FileModel, Member, Span, TypeObject};

use crate::registry::FileContext;

/// How deep calls that pass `self` along are followed.
const MAX_CALL_DEPTH: usize = 3;

/// An extension type whose instance struct the file defines.
pub(crate) struct TypeInfo<'a> {
    pub ty: &'a TypeObject,
    /// Members that hold a Python object (`PyObject *`, pointers to object structs),
    /// including those of embedded base structs.
    pub object_members: Vec<&'a Member>,
}

impl TypeInfo<'_> {
    pub fn is_object_member(&self, name: &str) -> bool {
        self.object_members.iter().any(|m| m.name == name)
    }
}

/// The types of the file with a known instance struct.
pub(crate) fn types<'a>(model: &'a FileModel) -> Vec<TypeInfo<'a>> {
    model
        .type_objects
        .iter()
        .filter_map(|ty| {
            let instance = ty.instance.as_deref()?;
            model.object_struct(instance)?;
            let object_members = model
                .instance_members(instance)
                .into_iter()
                .filter(|m| is_object_type(&m.ty, &model.object_types))
                .collect();
            Some(TypeInfo { ty, object_members })
        })
        .collect()
}

/// The dealloc views `self` as an object struct that is neither the type's instance
/// struct nor one embedded in it (`Foo *self = (Foo *)op;` where `tp_basicsize` says
/// `sizeof(Bar)`): the file disagrees with itself about the layout, and member facts
/// would be read against the wrong struct.
pub(crate) fn views_other_struct(model: &FileModel, t: &TypeInfo<'_>, body: &Body) -> bool {
    let Some(instance) = t.ty.instance.as_deref() else {
        return false;
    };
    // The instance struct and the structs it embeds.
    let mut chain: Vec<&str> = Vec::new();
    let mut cur = model.object_struct(instance);
    for _ in 0..16 {
        let Some(s) = cur else { break };
        chain.extend(s.names.iter().map(String::as_str));
        cur = model.object_struct(&s.base);
    }
    self_locals(body, 0).into_iter().any(|id| {
        let ty = body.local(id).ty.base.trim_start_matches("struct ").trim();
        model.object_struct(ty).is_some() && !chain.contains(&ty)
    })
}

/// The lowered body of the function in a slot.
pub(crate) fn slot_body<'a>(
    cx: &'a FileContext<'_>,
    ty: &TypeObject,
    slot: &str,
) -> Option<&'a Body> {
    let f = ty.slot(slot)?;
    cx.bodies.iter().find(|b| b.name == f.function)
}

/// What one function does to the object in one of its parameters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    /// Members released (`Py_DECREF`, `Py_XDECREF`, `Py_CLEAR`, ...), with the first place.
    pub released: BTreeMap<String, Span>,
    /// `Py_DECREF(self->m)` on the member itself rather than on a copy taken after which
    /// the member was set to NULL (as `Py_CLEAR` does).
    pub released_in_place: Vec<(String, Span)>,
    /// Members set to NULL.
    pub nulled: BTreeSet<String>,
    /// Members passed to `Py_VISIT` or to the `visit` callback (any call, in fact), directly
    /// or through a local copy.
    pub passed: BTreeSet<String>,
    /// Members dereferenced (`self->m->x`), with where.
    pub derefs: Vec<(String, Span)>,
    /// Members tested for NULL / truthiness.
    pub tested: BTreeSet<String>,
    /// `Py_DECREF(Py_TYPE(self))`.
    pub releases_type: bool,
    /// Calls `PyObject_GC_UnTrack(self)`.
    pub untracks: bool,
    /// Frees `self` somewhere (`tp_free`, `PyObject_GC_Del`, a base type's `tp_dealloc`).
    pub frees: bool,
    /// Calls a base type's dealloc through a type object (`BaseType.tp_dealloc(self)`),
    /// which releases the members of the embedded base struct.
    pub base_dealloc: bool,
    /// `self` reaches a function the analysis cannot see.
    pub opaque: bool,
}

impl Facts {
    fn merge_callee(&mut self, other: Facts) {
        for (m, s) in other.released {
            self.released.entry(m).or_insert(s);
        }
        self.nulled.extend(other.nulled);
        self.passed.extend(other.passed);
        self.releases_type |= other.releases_type;
        self.untracks |= other.untracks;
        self.frees |= other.frees;
        self.base_dealloc |= other.base_dealloc;
        self.opaque |= other.opaque;
    }
}

/// Locals that hold `self`: the parameter and its copies (`Foo *o = (Foo *)self;`).
pub(crate) fn self_locals(body: &Body, param: usize) -> HashSet<LocalId> {
    let mut set = HashSet::new();
    let Some(&p) = body.params.get(param) else {
        return set;
    };
    set.insert(p);
    for _ in 0..8 {
        let before = set.len();
        for s in body.blocks.iter().flat_map(|b| &b.stmts) {
            if let StatementKind::Assign {
                dest: Place::Local(d),
                value: Rvalue::Use(Operand::Copy(Place::Local(src))),
            } = &s.kind
                && set.contains(src)
            {
                set.insert(*d);
            }
        }
        if set.len() == before {
            break;
        }
    }
    set
}

/// The member a place names: `self->m`, or `self->base.m` through embedded structs. The
/// last field is the member (`is_member`); fields before it must not be members themselves
/// (`self->m->x` is not a member of `self`).
pub(crate) fn member_of<'p>(
    place: &'p Place,
    selfs: &HashSet<LocalId>,
    is_member: &dyn Fn(&str) -> bool,
) -> Option<&'p str> {
    let Place::Field(base, last) = place else {
        return None;
    };
    let mut cur: &Place = base;
    for _ in 0..16 {
        match cur {
            Place::Local(id) => {
                return (selfs.contains(id) && is_member(last)).then_some(last.as_str());
            }
            Place::Field(inner, f) if !is_member(f) => cur = inner,
            _ => return None,
        }
    }
    None
}

/// The operand is `self` (or a copy of it, or the address of something inside it).
fn is_self(op: &Operand, selfs: &HashSet<LocalId>) -> bool {
    match op {
        Operand::Copy(Place::Local(id)) => selfs.contains(id),
        Operand::AddrOf(p) => root_local(p).is_some_and(|id| selfs.contains(&id)),
        _ => false,
    }
}

/// The operand is `&self->m` for a member through which no Python object can be written
/// (`pthread_mutex_destroy(&self->lock)`, `sqlite3_close_v2(&self->db)`): the callee can
/// neither free `self` nor change what its object members hold.
fn addr_of_plain_member(model: &FileModel, op: &Operand, selfs: &HashSet<LocalId>) -> bool {
    let Operand::AddrOf(Place::Field(base, m)) = op else {
        return false;
    };
    if !matches!(&**base, Place::Local(id) if selfs.contains(id)) {
        return false;
    }
    let mut declared = model
        .object_structs
        .iter()
        .flat_map(|s| &s.members)
        .filter(|member| &member.name == m)
        .peekable();
    declared.peek().is_some()
        && declared.all(|member| {
            let ty = &member.ty;
            let base = ty.base.trim_start_matches("struct ").trim();
            !is_object_type(ty, &model.object_types)
                && base != "void"
                && !base.starts_with("Py")
                && model.object_struct(base).is_none()
        })
}

fn root_local(p: &Place) -> Option<LocalId> {
    let mut cur = p;
    for _ in 0..16 {
        match cur {
            Place::Local(id) => return Some(*id),
            Place::Field(inner, _) | Place::Deref(inner) | Place::Elem(inner, _) => cur = inner,
            Place::Global(_) => return None,
        }
    }
    None
}

/// What a call that receives `self` does to it.
pub(crate) enum SelfCall<'a> {
    Frees,
    Untracks,
    /// An API function that only looks at the object.
    Known,
    /// A function of this file.
    Local(&'a Body, usize),
    Unknown,
}

pub(crate) fn classify_call<'a>(
    cx: &'a FileContext<'_>,
    callee: &Callee,
    arg: usize,
) -> SelfCall<'a> {
    match callee {
        Callee::Named(n) if frees_object(n) => SelfCall::Frees,
        Callee::Named(n) if untracks_object(n) => SelfCall::Untracks,
        Callee::Named(n) => {
            if let Some(b) = cx.bodies.iter().find(|b| &b.name == n) {
                SelfCall::Local(b, arg)
            } else if cpycheck_contracts::lookup(n).is_some() {
                SelfCall::Known
            } else {
                SelfCall::Unknown
            }
        }
        // `Py_TYPE(self)->tp_free(self)`, or a base type's `tp_dealloc(self)`.
        Callee::Indirect { field: Some(f), .. } if f == "tp_free" || f == "tp_dealloc" => {
            SelfCall::Frees
        }
        Callee::Indirect { .. } => SelfCall::Unknown,
    }
}

/// The facts of `body` about the object in parameter `param`.
pub(crate) fn facts(
    cx: &FileContext<'_>,
    body: &Body,
    param: usize,
    is_member: &dyn Fn(&str) -> bool,
) -> Facts {
    let mut seen = Vec::new();
    facts_rec(cx, body, param, is_member, 0, &mut seen)
}

fn facts_rec(
    cx: &FileContext<'_>,
    body: &Body,
    param: usize,
    is_member: &dyn Fn(&str) -> bool,
    depth: usize,
    seen: &mut Vec<(String, usize)>,
) -> Facts {
    let mut out = Facts::default();
    if depth > MAX_CALL_DEPTH || seen.contains(&(body.name.clone(), param)) {
        out.opaque = true;
        return out;
    }
    seen.push((body.name.clone(), param));
    let selfs = self_locals(body, param);
    // Locals holding a copy of a member (`tmp = self->m`, as `Py_CLEAR` lowers).
    let mut copies: HashMap<LocalId, String> = HashMap::new();
    // Locals holding `Py_TYPE(self)`.
    let mut type_copies: HashSet<LocalId> = HashSet::new();
    let member = |op: &Operand| -> Option<String> {
        match op {
            Operand::Copy(p) => member_of(p, &selfs, is_member).map(str::to_string),
            _ => None,
        }
    };
    let is_type_of_self = |op: &Operand, type_copies: &HashSet<LocalId>| match op {
        Operand::Copy(Place::Field(base, f)) if f == "ob_type" => {
            matches!(&**base, Place::Local(id) if selfs.contains(id))
        }
        Operand::Copy(Place::Local(id)) => type_copies.contains(id),
        _ => false,
    };
    for block in &body.blocks {
        for s in &block.stmts {
            match &s.kind {
                StatementKind::Assign { dest, value } => {
                    if let Some(m) = member_of(dest, &selfs, is_member)
                        && matches!(value, Rvalue::Use(Operand::Null | Operand::Int(0)))
                    {
                        out.nulled.insert(m.to_string());
                    }
                    match (dest, value) {
                        (Place::Local(d), Rvalue::Use(op)) => {
                            if let Some(m) = member(op) {
                                copies.insert(*d, m);
                            } else if is_type_of_self(op, &type_copies) {
                                type_copies.insert(*d);
                            }
                        }
                        (_, Rvalue::Call(call)) => {
                            for (i, a) in call.args.iter().enumerate() {
                                if let Some(m) = member(a) {
                                    out.passed.insert(m);
                                } else if let Operand::Copy(Place::Local(id)) = a
                                    && let Some(m) = copies.get(id)
                                {
                                    // `PyObject *x = self->m; Py_VISIT(x);`
                                    out.passed.insert(m.clone());
                                }
                                if !is_self(a, &selfs) || addr_of_plain_member(cx.model, a, &selfs)
                                {
                                    continue;
                                }
                                if matches!(&call.callee, Callee::Indirect { field: Some(f), .. } if f == "tp_dealloc")
                                {
                                    out.base_dealloc = true;
                                }
                                match classify_call(cx, &call.callee, i) {
                                    SelfCall::Frees => out.frees = true,
                                    SelfCall::Untracks => out.untracks = true,
                                    SelfCall::Known => {}
                                    SelfCall::Local(b, p) => {
                                        let f = facts_rec(cx, b, p, is_member, depth + 1, seen);
                                        out.merge_callee(f);
                                    }
                                    SelfCall::Unknown => {
                                        out.opaque = true;
                                        // A function we cannot see may free `self`.
                                        out.frees = true;
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
                StatementKind::DecRef { arg, .. } => {
                    if let Some(m) = member(arg) {
                        out.released.entry(m.clone()).or_insert(s.span);
                        out.released_in_place.push((m, s.span));
                    } else if let Operand::Copy(Place::Local(id)) = arg
                        && let Some(m) = copies.get(id)
                    {
                        out.released.entry(m.clone()).or_insert(s.span);
                    } else if is_type_of_self(arg, &type_copies) {
                        out.releases_type = true;
                    }
                }
                StatementKind::Use { arg } => {
                    if let Some(m) = member(arg) {
                        out.derefs.push((m, s.span));
                    } else if let Operand::Copy(Place::Local(id)) = arg
                        && let Some(m) = copies.get(id)
                    {
                        out.derefs.push((m.clone(), s.span));
                    }
                }
                StatementKind::IncRef { .. }
                | StatementKind::Reveal { .. }
                | StatementKind::Discard { .. }
                | StatementKind::EndStatement => {}
            }
        }
        if let Terminator::Branch { cond, .. } = &block.term {
            let ops: Vec<&Operand> = match cond {
                Cond::Truthy(op) => vec![op],
                Cond::Compare { lhs, rhs, .. } => vec![lhs, rhs],
            };
            for op in ops {
                if let Some(m) = member(op) {
                    out.tested.insert(m);
                } else if let Operand::Copy(Place::Local(id)) = op
                    && let Some(m) = copies.get(id)
                {
                    out.tested.insert(m.clone());
                }
            }
        }
    }
    seen.pop();
    out
}

/// A return of `body` reachable from its entry without passing a block in which `event`
/// holds for some statement. Returns the span of that return.
pub(crate) fn return_avoiding(
    body: &Body,
    event: &dyn Fn(&cpycheck_ir::Statement) -> bool,
) -> Option<Span> {
    let mut visited = vec![false; body.blocks.len()];
    let mut stack = vec![body.entry];
    while let Some(b) = stack.pop() {
        let Some(v) = visited.get_mut(b.0 as usize) else {
            continue;
        };
        if *v {
            continue;
        }
        *v = true;
        let block = body.block(b);
        if block.stmts.iter().any(event) {
            continue;
        }
        match &block.term {
            Terminator::Goto(t) => stack.push(*t),
            Terminator::Branch { then, els, .. } => stack.extend([*then, *els]),
            Terminator::Switch { targets } => stack.extend(targets.iter().copied()),
            Terminator::Return(_) => return Some(block.term_span),
            Terminator::Unreachable => {}
        }
    }
    None
}

/// What the file's functions do with members of objects, in statement order: the
/// statements [`owned_members`] reads, gathered once per file (a file may define hundreds
/// of types; each would otherwise walk every statement of every function).
pub(crate) struct MemberUses<'b> {
    /// Per function, its uses in statement order.
    bodies: Vec<Vec<MemberUse<'b>>>,
    /// For each member name, how many object structs of the file declare it.
    structs_with: HashMap<&'b str, usize>,
}

/// A member place `root->...->member` whose root is a local of declared type `root_ty`
/// (`struct ` and spaces trimmed).
#[derive(Clone, Copy)]
struct MemberPlace<'b> {
    member: &'b str,
    root_ty: &'b str,
}

enum MemberUse<'b> {
    /// `local = member`.
    Copy(LocalId, MemberPlace<'b>),
    /// `local = name(...)`.
    Call(LocalId, &'b str),
    /// `member = local`.
    Store(MemberPlace<'b>, LocalId),
    /// `Py_INCREF(local)` (`incref`) or `Py_DECREF(local)`.
    RefLocal(LocalId, bool),
    /// `Py_INCREF(member)` or `Py_DECREF(member)`.
    RefMember(MemberPlace<'b>),
}

impl<'b> MemberUses<'b> {
    pub(crate) fn new(model: &'b FileModel, bodies: &'b [Body]) -> MemberUses<'b> {
        let mut structs_with: HashMap<&str, usize> = HashMap::new();
        for s in &model.object_structs {
            let mut names: Vec<&str> = s.members.iter().map(|m| m.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                *structs_with.entry(name).or_default() += 1;
            }
        }
        let bodies = bodies
            .iter()
            .map(|body| {
                let member_place = |p: &'b Place| -> Option<MemberPlace<'b>> {
                    let Place::Field(base, member) = p else {
                        return None;
                    };
                    let root = root_local(base)?;
                    let root_ty = body
                        .local(root)
                        .ty
                        .base
                        .trim_start_matches("struct ")
                        .trim();
                    Some(MemberPlace { member, root_ty })
                };
                let mut uses = Vec::new();
                for s in body.blocks.iter().flat_map(|b| &b.stmts) {
                    match &s.kind {
                        StatementKind::Assign { dest, value } => match (dest, value) {
                            (Place::Local(d), Rvalue::Use(Operand::Copy(p))) => {
                                if let Some(m) = member_place(p) {
                                    uses.push(MemberUse::Copy(*d, m));
                                }
                            }
                            (Place::Local(d), Rvalue::Call(c)) => {
                                if let Callee::Named(n) = &c.callee {
                                    uses.push(MemberUse::Call(*d, n));
                                }
                            }
                            (p, Rvalue::Use(Operand::Copy(Place::Local(v)))) => {
                                if let Some(m) = member_place(p) {
                                    uses.push(MemberUse::Store(m, *v));
                                }
                            }
                            _ => {}
                        },
                        StatementKind::DecRef { arg, .. } | StatementKind::IncRef { arg, .. } => {
                            match arg {
                                Operand::Copy(Place::Local(id)) => uses.push(MemberUse::RefLocal(
                                    *id,
                                    matches!(s.kind, StatementKind::IncRef { .. }),
                                )),
                                Operand::Copy(p) => {
                                    if let Some(m) = member_place(p) {
                                        uses.push(MemberUse::RefMember(m));
                                    }
                                }
                                _ => {}
                            }
                        }
                        _ => {}
                    }
                }
                uses
            })
            .collect();
        MemberUses {
            bodies,
            structs_with,
        }
    }
}

/// Members of `t` the file treats as owned references anywhere: released (`Py_DECREF`,
/// `Py_CLEAR`, `Py_SETREF` of `obj->m`), increfed in place, or assigned a reference the same
/// function increfed or got new from an API call. A member only ever stored borrowed (a
/// back-pointer, a weak-reference list) is not owned, and no rule asks for its release.
/// `uses` are the file's, from [`MemberUses::new`].
pub(crate) fn owned_members(cx: &FileContext<'_>, t: &TypeInfo<'_>) -> BTreeSet<String> {
    let uses = cx.member_uses();
    let model = cx.model;
    let Some(instance) = t.ty.instance.as_deref() else {
        return BTreeSet::new();
    };
    let names: Vec<&str> = model
        .object_struct(instance)
        .map(|s| s.names.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let unique = |m: &str| uses.structs_with.get(m).copied().unwrap_or(0) <= 1;
    // The place is a member of an instance of this type (its root local has the type's
    // struct as declared type, or is a `PyObject *` when the member name belongs to no other
    // object struct of the file).
    let member_of = |p: &MemberPlace<'_>| {
        t.is_object_member(p.member)
            && (names.contains(&p.root_ty) || (p.root_ty == "PyObject" && unique(p.member)))
    };
    let mut out = BTreeSet::new();
    for body in &uses.bodies {
        let mut copies: HashMap<LocalId, &str> = HashMap::new();
        let mut increfed: HashSet<LocalId> = HashSet::new();
        // Locals assigned a call's result; whether the call returns a new reference is looked
        // up only for the locals stored into a member (most bodies store none).
        let mut call_results: Vec<(LocalId, &str)> = Vec::new();
        let mut stored: Vec<(LocalId, &str)> = Vec::new();
        for u in body {
            match u {
                MemberUse::Copy(d, p) => {
                    if member_of(p) {
                        copies.insert(*d, p.member);
                    }
                }
                MemberUse::Call(d, n) => call_results.push((*d, n)),
                MemberUse::Store(p, v) => {
                    if member_of(p) {
                        stored.push((*v, p.member));
                    }
                }
                MemberUse::RefLocal(id, incref) => {
                    if let Some(m) = copies.get(id) {
                        out.insert(m.to_string());
                    }
                    if *incref {
                        increfed.insert(*id);
                    }
                }
                MemberUse::RefMember(p) => {
                    if member_of(p) {
                        out.insert(p.member.to_string());
                    }
                }
            }
        }
        let new_ref = |v: LocalId| {
            call_results.iter().any(|&(d, n)| {
                d == v
                    && cpycheck_contracts::lookup(n).is_some_and(|k| {
                        matches!(k.returns, cpycheck_contracts::Returns::New { .. })
                    })
            })
        };
        for (v, m) in stored {
            if increfed.contains(&v) || new_ref(v) {
                out.insert(m.to_string());
            }
        }
    }
    out
}
