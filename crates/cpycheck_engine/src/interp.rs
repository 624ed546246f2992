//! The abstract interpreter: transfer functions for IR statements, edge effects for
//! branches, and the worklist over the CFG.

use crate::budget;
use crate::finding::{Finding, FindingKind, ObjectDesc, OriginKind, Step};
use crate::formats::{BuildArg, ParseArg, parse_args_format, parse_build_format};
use crate::state::*;
use crate::{EngineContext, FunctionResult, ReturnSummary};
use cpycheck_contracts::macros::{MacroKind, lookup_macro};
use cpycheck_contracts::{ArgEffect, Contract, ErrorConvention, Returns, Varargs};
use cpycheck_ir::{
    Body, Call, Callee, CmpOp, Cond, LocalKind, Operand, Place, Rvalue, StatementKind, Terminator,
};
use cpycheck_syntax::Span;
use std::collections::HashSet;
use std::rc::Rc;

/// What the callee of a call is known to do.
enum Resolved<'c> {
    Api(&'c Contract),
    User(ReturnSummary),
    Unknown,
}

pub(crate) struct Interp<'a> {
    body: &'a Body,
    cx: &'a EngineContext<'a>,
    findings: Vec<Finding>,
    seen_findings: HashSet<(u8, Span, Span, String)>,
    returns: u8,
}

const RET_NEW: u8 = 1;
const RET_BORROWED: u8 = 2;
const RET_OTHER: u8 = 4;

impl<'a> Interp<'a> {
    pub(crate) fn run(body: &'a Body, cx: &'a EngineContext<'a>) -> FunctionResult {
        let mut it = Interp {
            body,
            cx,
            findings: Vec::new(),
            seen_findings: HashSet::new(),
            returns: 0,
        };
        let mut incomplete = false;
        if body.blocks.len() > budget::MAX_BLOCKS {
            return FunctionResult {
                findings: Vec::new(),
                incomplete: true,
                returns: ReturnSummary::Unknown,
            };
        }
        let mut seen: Vec<HashSet<u64>> = vec![HashSet::new(); body.blocks.len()];
        let mut work = vec![(body.entry, it.initial_state())];
        let mut visits = 0usize;
        while let Some((b, st)) = work.pop() {
            let set = &mut seen[b.0 as usize];
            if set.len() >= budget::STATES_PER_BLOCK {
                incomplete = true;
                continue;
            }
            if !set.insert(st.key()) {
                continue;
            }
            visits += 1;
            if visits > budget::BLOCK_VISITS {
                incomplete = true;
                break;
            }
            let mut st = st;
            let block = body.block(b);
            for s in &block.stmts {
                it.exec(&mut st, &s.kind, s.span);
            }
            match &block.term {
                Terminator::Goto(t) => work.push((*t, st)),
                Terminator::Switch { targets } => {
                    for t in targets.iter().rev() {
                        work.push((*t, st.clone()));
                    }
                }
                Terminator::Branch { cond, then, els } => {
                    let (t, f) = it.branch(st, cond, block.term_span);
                    // Explore the "then" side first (pushed last).
                    if let Some(f) = f {
                        work.push((*els, f));
                    }
                    if let Some(t) = t {
                        work.push((*then, t));
                    }
                }
                Terminator::Return(op) => it.ret(st, op.as_ref(), block.term_span),
                Terminator::Unreachable => {}
            }
        }
        let returns = match it.returns {
            RET_NEW => ReturnSummary::New,
            RET_BORROWED => ReturnSummary::Borrowed,
            _ => ReturnSummary::Unknown,
        };
        FunctionResult {
            findings: it.findings,
            incomplete,
            returns,
        }
    }

    fn initial_state(&self) -> State {
        let mut st = State::default();
        for &p in &self.body.params {
            let local = self.body.local(p);
            if !local.is_object {
                continue;
            }
            let origin = if self.cx.registered {
                OriginKind::Param
            } else {
                OriginKind::HelperParam
            };
            let id = st.alloc_obj(Obj {
                origin,
                what: local.name.as_str().into(),
                origin_span: self.body.name_span,
                owned: 0,
                // `self` and the arguments of a registered function are never NULL, except
                // the optional ones (`kwds`, METH_O/NOARGS `args`): unknown.
                null: Nullness::Maybe,
                exists_if: None,
                released: None,
                stolen: None,
                pending_steal: None,
                escaped: false,
                held_by_memory: 0,
                name: Some(local.name.as_str().into()),
                history: None,
                created: 0,
            });
            st.env.insert(Place::Local(p), Value::Obj(id));
        }
        st
    }

    // ----- findings -----

    fn desc(&self, st: &State, id: ObjId) -> ObjectDesc {
        let o = st.obj(id);
        ObjectDesc {
            name: o.name.as_deref().map(str::to_string),
            origin: o.origin,
            what: o.what.to_string(),
            origin_span: o.origin_span,
        }
    }

    fn report(&mut self, st: &State, id: ObjId, kind: FindingKind, span: Span) {
        let o = st.obj(id);
        let tag = match &kind {
            FindingKind::Leak { .. } => 0,
            FindingKind::UseAfterRelease { .. } => 1,
            FindingKind::ReleaseOfBorrowed { .. } => 2,
            FindingKind::BorrowedReturn { .. } => 3,
            FindingKind::UseAfterSteal { .. } => 4,
            FindingKind::Reveal { .. } => 5,
        };
        let name = o.name.as_deref().unwrap_or("").to_string();
        // A leak is reported once per object (its first leaking exit, the others as notes);
        // other findings once per (location, variable); reveals once per state.
        let key = match &kind {
            FindingKind::Leak { .. } => (tag, Span::default(), o.origin_span, name),
            FindingKind::Reveal { state } => (tag, span, Span::default(), state.clone()),
            _ => (tag, span, Span::default(), name),
        };
        // Two objects leaked through the same variable at the same exit are one finding.
        let same_exit = tag == 0
            && !key.3.is_empty()
            && self.findings.iter().any(|f| {
                matches!(f.kind, FindingKind::Leak { .. })
                    && f.span == span
                    && f.object.name.as_deref().unwrap_or("") == key.3
            });
        if same_exit {
            return;
        }
        if !self.seen_findings.insert(key.clone()) {
            if tag == 0
                && let Some(f) = self.findings.iter_mut().find(|f| {
                    matches!(f.kind, FindingKind::Leak { .. })
                        && f.object.origin_span == key.2
                        && f.object.name.as_deref().unwrap_or("") == key.3
                })
                && f.span != span
                && !f.also_at.contains(&span)
            {
                f.also_at.push(span);
            }
            return;
        }
        let trace = self.trace(st, id, span, &kind);
        let object = self.desc(st, id);
        self.findings.push(Finding {
            kind,
            span,
            object,
            trace,
            also_at: Vec::new(),
        });
    }

    /// The object's history merged with the branch decisions taken since it was created.
    fn trace(&self, st: &State, id: ObjId, at: Span, kind: &FindingKind) -> Vec<Step> {
        let o = st.obj(id);
        let mut ev = events(&o.history);
        ev.extend(events(&st.path).into_iter().filter(|e| e.0 > o.created));
        ev.sort_by_key(|e| e.0);
        let mut steps: Vec<Step> = ev
            .into_iter()
            .map(|(_, span, message)| Step { span, message })
            .collect();
        if steps.len() > budget::TRACE_STEPS {
            // Keep the acquisition and the most recent steps.
            let tail = steps.split_off(steps.len() - (budget::TRACE_STEPS - 1));
            steps.truncate(1);
            steps.extend(tail);
        }
        let last = match kind {
            FindingKind::Leak { .. } => "the last reference is lost here",
            FindingKind::UseAfterRelease { .. } => "used here after the release",
            FindingKind::ReleaseOfBorrowed { .. } => "released here without being owned",
            FindingKind::BorrowedReturn { .. } => "returned here without a new reference",
            FindingKind::UseAfterSteal { .. } => "used here after it was stolen",
            FindingKind::Reveal { .. } => "revealed here",
        };
        steps.push(Step {
            span: at,
            message: last.to_string(),
        });
        steps
    }

    fn event(&self, st: &mut State, id: ObjId, span: Span, message: String) {
        let seq = st.next_seq();
        let o = st.obj_mut(id);
        o.history = push_event(&o.history, seq, span, message);
    }

    // ----- values -----

    fn singleton(&self, st: &mut State, place: &Place) -> Option<Value> {
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
        st.env.insert(place.clone(), v);
        Some(v)
    }

    fn read(&self, st: &mut State, place: &Place) -> Value {
        if let Some(v) = st.env.get(place) {
            return *v;
        }
        if let Some(v) = self.singleton(st, place) {
            return v;
        }
        Value::Unknown
    }

    fn eval(&self, st: &mut State, op: &Operand) -> Value {
        match op {
            Operand::Copy(p) => self.read(st, p),
            Operand::Null => Value::Null,
            Operand::Int(i) => Value::Int(*i),
            Operand::AddrOf(_) | Operand::Str(_) | Operand::Other => Value::Unknown,
        }
    }

    /// The object an operand refers to, creating an object of unknown origin for places
    /// whose content is not known yet (struct fields, globals, unknown results).
    fn obj_of(&self, st: &mut State, op: &Operand) -> Option<ObjId> {
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
                st.env.insert(place.clone(), Value::Obj(id));
                Some(id)
            }
            _ => None,
        }
    }

    /// Drops bindings of places reached through `place` (`p->x` when `p` changes).
    fn invalidate_derived(&self, st: &mut State, place: &Place) {
        st.env.retain(|p, _| p == place || !derives_from(p, place));
    }

    fn assign(&mut self, st: &mut State, dest: &Place, value: Value, span: Span) {
        // Not through `Deref`: `a[i] = v` in a loop writes another element each time.
        if matches!(dest, Place::Field(..) | Place::Global(_))
            && let Some(&Value::Obj(old)) = st.env.get(dest)
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
        self.invalidate_derived(st, dest);
        st.env.insert(dest.clone(), value);
        let Value::Obj(id) = value else { return };
        match dest {
            Place::Local(l) => {
                let local = self.body.local(*l);
                if local.kind != LocalKind::Temp {
                    st.obj_mut(id).name = Some(local.name.as_str().into());
                }
            }
            _ => {
                // A store into memory hands one reference over to the memory.
                let name = self.body.place_name(dest);
                let o = st.obj_mut(id);
                o.escaped = true;
                if o.owned > 0 {
                    o.owned -= 1;
                    o.held_by_memory += 1;
                    self.event(st, id, span, format!("stored into `{name}`"));
                }
            }
        }
    }

    fn new_status(&self, st: &mut State, conv: ErrorConvention, callee: &str) -> Value {
        let (classes, err) = match conv {
            ErrorConvention::NegOne => (NEG | ZERO | POS, NEG),
            ErrorConvention::Zero => (ZERO | POS, ZERO),
            ErrorConvention::Infallible => return Value::Unknown,
        };
        Value::Status(st.alloc_status(Status {
            classes,
            err,
            callee: callee.into(),
        }))
    }

    // ----- statements -----

    fn exec(&mut self, st: &mut State, kind: &StatementKind, span: Span) {
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
                let o = st.obj_mut(id);
                if o.origin == OriginKind::Unknown && o.name.is_none() {
                    // `Py_INCREF(PyArray_DESCR(a))`, `Py_INCREF(s->x)` with `s` of a type we
                    // do not model: a value read anew at each use (a header's accessor
                    // macro is a call we cannot see through) may be the object the next
                    // read returns, stores or hands over. Its references are not counted.
                    return;
                }
                o.owned += 1;
                o.stolen = None;
                o.released = None;
                if !nullable {
                    o.null = Nullness::NonNull;
                }
                let what = if *nullable { "Py_XINCREF" } else { "Py_INCREF" };
                self.event(st, id, span, format!("new reference taken with `{what}`"));
            }
            StatementKind::DecRef { arg, nullable } => {
                let Some(id) = self.obj_of(st, arg) else {
                    return;
                };
                if self.releases_memory_reference(st, arg, id) {
                    let o = st.obj_mut(id);
                    o.held_by_memory = o.held_by_memory.saturating_sub(1);
                    return;
                }
                let id = self.identical_owned(st, id).unwrap_or(id);
                self.release(st, id, span, *nullable);
            }
            StatementKind::Use { arg } => {
                if let Some(Value::Obj(id)) = Some(self.eval(st, arg)) {
                    self.check_released(st, id, span, false, false);
                }
            }
            StatementKind::Reveal { arg } => {
                let Some(id) = self.obj_of(st, arg) else {
                    return;
                };
                let state = self.describe(st, id);
                self.report(st, id, FindingKind::Reveal { state }, span);
            }
            StatementKind::EndStatement => {
                st.env.retain(|p, _| !is_temp_place(self.body, p));
                self.collect(st, span);
            }
        }
    }

    /// `Py_DECREF(arr[i])`, `Py_DECREF(self->x)` of an object the function owns no
    /// reference to but once stored into memory: the reference released is the one the
    /// memory held (`Py_INCREF(v); arr[i] = v;` ... `Py_DECREF(arr[i])`), not the function's.
    fn releases_memory_reference(&self, st: &State, arg: &Operand, id: ObjId) -> bool {
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
    fn identical_owned(&self, st: &State, id: ObjId) -> Option<ObjId> {
        if st.obj(id).owned > 0 {
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

    fn describe(&self, st: &State, id: ObjId) -> String {
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
    fn check_released(
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

    fn release(&mut self, st: &mut State, id: ObjId, span: Span, nullable: bool) {
        if st.is_null(id) {
            return;
        }
        if self.check_released(st, id, span, true, false) {
            return;
        }
        let what = if nullable { "Py_XDECREF" } else { "Py_DECREF" };
        if !nullable {
            st.obj_mut(id).null = Nullness::NonNull;
        }
        if st.obj(id).pending_steal.is_some() {
            // Released before the outcome of the stealing call was tested: this is the
            // failure-path cleanup (or a bug we cannot prove). Either way, stop tracking.
            let o = st.obj_mut(id);
            o.pending_steal = None;
            o.owned = o.owned.saturating_sub(1);
            return;
        }
        let o = st.obj_mut(id);
        if o.owned > 0 {
            o.owned -= 1;
            if o.owned == 0 && o.origin.is_new() {
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
        } else if o.origin.is_borrowed() {
            self.report(
                st,
                id,
                FindingKind::ReleaseOfBorrowed { stolen_by: None },
                span,
            );
        }
    }

    fn steal(&mut self, st: &mut State, id: ObjId, span: Span, thief: &str) {
        if st.is_null(id) || self.check_released(st, id, span, true, false) {
            return;
        }
        let o = st.obj_mut(id);
        if o.owned > 0 {
            o.owned -= 1;
            o.escaped = true;
            // Of an object of unknown origin the function may hold more references than
            // it took here (a call's result kept in a variable, then `Py_INCREF` before the
            // steal): the count reaching 0 proves nothing.
            if o.owned == 0 && o.origin != OriginKind::Unknown {
                o.stolen = Some((span, thief.into()));
            }
            self.event(st, id, span, format!("reference stolen by `{thief}`"));
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
            self.report(
                st,
                id,
                FindingKind::ReleaseOfBorrowed {
                    stolen_by: Some(thief.to_string()),
                },
                span,
            );
        }
    }

    /// Gives up on an object's ownership: an unknown function may have stolen or stored it.
    fn havoc(&self, st: &mut State, id: ObjId) {
        let o = st.obj_mut(id);
        o.origin = OriginKind::Unknown;
        o.owned = 0;
        o.escaped = true;
        o.released = None;
        o.stolen = None;
        o.pending_steal = None;
    }

    fn resolve(&self, call: &Call) -> Resolved<'a> {
        match &call.callee {
            Callee::Named(name) => {
                if let Some(c) = cpycheck_contracts::lookup(name)
                    && c.since.is_none_or(|v| v <= self.cx.python_version)
                {
                    return Resolved::Api(c);
                }
                match (self.cx.summary)(name) {
                    Some(s) => Resolved::User(s),
                    None => Resolved::Unknown,
                }
            }
            Callee::Indirect { field: Some(f) } => {
                match cpycheck_contracts::lookup(&format!("->{f}")) {
                    Some(c) => Resolved::Api(c),
                    None => Resolved::Unknown,
                }
            }
            Callee::Indirect { field: None } => Resolved::Unknown,
        }
    }

    fn call(&mut self, st: &mut State, call: &Call, span: Span) -> Value {
        let resolved = self.resolve(call);
        let name: Rc<str> = match &call.callee {
            Callee::Named(n) => n.as_str().into(),
            Callee::Indirect { field: Some(f) } => f.as_str().into(),
            Callee::Indirect { field: None } => "function pointer".into(),
        };
        // The result first: out-parameters and conditional steals refer to it.
        let result = match &resolved {
            Resolved::Api(c) => match c.returns {
                Returns::New { nullable } => {
                    let null = if nullable {
                        Nullness::Maybe
                    } else {
                        Nullness::NonNull
                    };
                    self.fresh(st, OriginKind::New, &name, span, 1, null)
                }
                Returns::Borrowed { nullable } => {
                    let null = if nullable {
                        Nullness::Maybe
                    } else {
                        Nullness::NonNull
                    };
                    self.fresh(st, OriginKind::Borrowed, &name, span, 0, null)
                }
                Returns::AlwaysNull => Value::Null,
                Returns::Status(conv) => self.new_status(st, conv, &name),
                Returns::Plain => Value::Unknown,
            },
            Resolved::User(ReturnSummary::New) => {
                self.fresh(st, OriginKind::New, &name, span, 1, Nullness::Maybe)
            }
            Resolved::User(ReturnSummary::Borrowed) => {
                self.fresh(st, OriginKind::Borrowed, &name, span, 0, Nullness::Maybe)
            }
            Resolved::User(ReturnSummary::Unknown) | Resolved::Unknown => Value::Unknown,
        };
        let status = match result {
            Value::Status(s) => Some(s),
            _ => None,
        };
        let formats = self.format_roles(call, &resolved);
        for (i, arg) in call.args.iter().enumerate() {
            let aspan = call.arg_spans.get(i).copied().unwrap_or(span);
            let effect = match &resolved {
                Resolved::Api(c) => match c.args.get(i) {
                    Some(e) => Some(*e),
                    None => formats.get(i).copied().flatten().or(match c.varargs {
                        Varargs::OutBorrowed => Some(ArgEffect::OutBorrowed),
                        _ => Some(ArgEffect::Borrow),
                    }),
                },
                // Neither the user's own functions (until summaries say more) nor unknown
                // functions are trusted with ownership: they may steal or store.
                _ => None,
            };
            if let Operand::AddrOf(place) = arg {
                self.out_param(st, place, effect, status, &name, aspan);
                continue;
            }
            let v = self.eval(st, arg);
            let Value::Obj(id) = v else { continue };
            if st.is_null(id) {
                continue;
            }
            match effect {
                Some(ArgEffect::Borrow | ArgEffect::OutBorrowed | ArgEffect::OutNew) => {
                    self.check_released(st, id, aspan, false, false);
                }
                Some(ArgEffect::Store) => {
                    self.check_released(st, id, aspan, false, false);
                    st.obj_mut(id).escaped = true;
                }
                Some(ArgEffect::Steal) => self.steal(st, id, aspan, &name),
                Some(ArgEffect::StealOnSuccess) => {
                    if self.check_released(st, id, aspan, true, false) {
                        continue;
                    }
                    match status {
                        Some(s) if st.obj(id).owned > 0 => {
                            st.obj_mut(id).pending_steal = Some((s, aspan, name.clone()));
                            self.event(st, id, aspan, format!("stolen by `{name}` if it succeeds"));
                        }
                        _ => self.steal(st, id, aspan, &name),
                    }
                }
                Some(ArgEffect::Replace { .. }) | None => {
                    if self.check_released(st, id, aspan, false, false) {
                        continue;
                    }
                    self.havoc(st, id);
                }
            }
        }
        result
    }

    /// Roles of variadic arguments given by a format string.
    fn format_roles(&self, call: &Call, resolved: &Resolved<'_>) -> Vec<Option<ArgEffect>> {
        let Resolved::Api(c) = resolved else {
            return Vec::new();
        };
        let mut roles = vec![None; call.args.len()];
        let (format, parse) = match c.varargs {
            Varargs::ParseFormat { format } => (format, true),
            Varargs::BuildFormat { format } => (format, false),
            _ => return roles,
        };
        let Some(Operand::Str(text)) = call.args.get(format) else {
            return roles;
        };
        let start = c.args.len().max(format + 1);
        if parse {
            let Some(units) = parse_args_format(text) else {
                return roles;
            };
            for (k, u) in units.iter().enumerate() {
                if let Some(r) = roles.get_mut(start + k) {
                    *r = match u {
                        ParseArg::BorrowedOut => Some(ArgEffect::OutBorrowed),
                        ParseArg::ConverterOut => None,
                        ParseArg::Other => Some(ArgEffect::Borrow),
                    };
                }
            }
        } else {
            let Some(units) = parse_build_format(text) else {
                return roles;
            };
            for (k, u) in units.iter().enumerate() {
                if let Some(r) = roles.get_mut(start + k) {
                    *r = Some(match u {
                        BuildArg::Borrowed | BuildArg::Other => ArgEffect::Borrow,
                        BuildArg::Stolen => ArgEffect::Steal,
                    });
                }
            }
        }
        roles
    }

    fn out_param(
        &mut self,
        st: &mut State,
        place: &Place,
        effect: Option<ArgEffect>,
        status: Option<StatusId>,
        name: &Rc<str>,
        span: Span,
    ) {
        let success = status.map(|s| {
            let st_ = st.status(s);
            (
                s,
                st_.classes & !st_.err & if st_.err == NEG { POS } else { POS | ZERO },
            )
        });
        match effect {
            Some(ArgEffect::OutBorrowed) | Some(ArgEffect::OutNew) => {
                let is_object = match place {
                    Place::Local(l) => self.body.local(*l).is_object,
                    _ => true,
                };
                if !is_object {
                    self.assign(st, place, Value::Unknown, span);
                    return;
                }
                let (origin, owned) = if effect == Some(ArgEffect::OutNew) {
                    (OriginKind::OutNew, 1)
                } else {
                    (OriginKind::OutBorrowed, 0)
                };
                let v = self.fresh(st, origin, name, span, owned, Nullness::Maybe);
                if let (Value::Obj(id), Some(s)) = (v, success) {
                    st.obj_mut(id).exists_if = Some(s);
                }
                self.assign_local_or_store(st, place, v);
            }
            Some(ArgEffect::Replace { .. }) => {
                // The old reference is consumed, a new one takes its place.
                if let Some(Value::Obj(old)) = st.env.get(place).copied() {
                    let o = st.obj_mut(old);
                    o.owned = o.owned.saturating_sub(1);
                    o.escaped = true;
                }
                let v = self.fresh(st, OriginKind::New, name, span, 1, Nullness::Maybe);
                self.assign_local_or_store(st, place, v);
            }
            Some(ArgEffect::Borrow) | Some(ArgEffect::Store) => {}
            Some(ArgEffect::Steal | ArgEffect::StealOnSuccess) | None => {
                // Unknown function with `&x`: it may replace `x` or take its reference.
                if let Some(Value::Obj(old)) = st.env.get(place).copied() {
                    self.havoc(st, old);
                }
                self.invalidate_derived(st, place);
                st.env.insert(place.clone(), Value::Unknown);
            }
        }
    }

    /// Binds an out-parameter result: the call writes through the pointer, so the place
    /// holds the reference (no ownership transfer, whatever the place is).
    fn assign_local_or_store(&mut self, st: &mut State, place: &Place, v: Value) {
        self.invalidate_derived(st, place);
        st.env.insert(place.clone(), v);
        if let (Value::Obj(id), Place::Local(l)) = (v, place) {
            st.obj_mut(id).name = Some(self.body.local(*l).name.as_str().into());
        }
    }

    fn fresh(
        &self,
        st: &mut State,
        origin: OriginKind,
        what: &str,
        span: Span,
        owned: u32,
        null: Nullness,
    ) -> Value {
        let seq = st.next_seq();
        let mut o = new_obj(origin, what, span, owned, null);
        o.created = seq;
        let msg = match origin {
            OriginKind::New | OriginKind::OutNew => format!("new reference from `{what}`"),
            OriginKind::Borrowed | OriginKind::OutBorrowed => {
                format!("borrowed reference from `{what}`")
            }
            _ => format!("reference from `{what}`"),
        };
        o.history = push_event(&None, seq, span, msg);
        Value::Obj(st.alloc_obj(o))
    }

    // ----- end of statements and of paths -----

    /// Finds objects that no place refers to any more: an owned one is leaked here.
    fn collect(&mut self, st: &mut State, span: Span) {
        let mut reachable = vec![false; st.objs.len()];
        let mut live_status = vec![false; st.statuses.len()];
        for v in st.env.values() {
            match v {
                Value::Obj(id) => reachable[id.0 as usize] = true,
                Value::Status(s) => live_status[s.0 as usize] = true,
                _ => {}
            }
        }
        let dead: Vec<ObjId> = st
            .live_objs()
            .filter(|id| !reachable[id.0 as usize])
            .collect();
        for &id in &dead {
            self.check_leak(st, id, span);
            st.objs[id.0 as usize] = None;
        }
        if !dead.is_empty() {
            st.eq_facts
                .retain(|f| st.objs[f.0.0 as usize].is_some() && st.objs[f.1.0 as usize].is_some());
        }
        for o in st.objs.iter().flatten() {
            if let Some((s, _)) = o.exists_if {
                live_status[s.0 as usize] = true;
            }
            if let Some((s, _, _)) = &o.pending_steal {
                live_status[s.0 as usize] = true;
            }
        }
        for (i, s) in st.statuses.iter_mut().enumerate() {
            if !live_status[i] {
                *s = None;
            }
        }
    }

    fn check_leak(&mut self, st: &State, id: ObjId, span: Span) {
        let o = st.obj(id);
        if o.owned == 0 || st.is_null(id) {
            return;
        }
        let when_fails = match &o.pending_steal {
            Some((s, _, thief)) => {
                let status = st.status(*s);
                if status.classes & status.err == 0 {
                    // Stolen on every outcome still possible.
                    if o.owned <= 1 {
                        return;
                    }
                    None
                } else {
                    Some(thief.to_string())
                }
            }
            None => None,
        };
        self.report(st, id, FindingKind::Leak { when_fails }, span);
    }

    fn ret(&mut self, mut st: State, op: Option<&Operand>, span: Span) {
        if let Some(op) = op {
            let v = self.eval(&mut st, op);
            match v {
                Value::Obj(id) if self.body.returns_object => self.return_obj(&mut st, id, span),
                Value::Obj(id) => {
                    // The return type is not recognised as an object pointer: whatever is
                    // returned is handed over, but nothing is claimed about the contract.
                    let o = st.obj_mut(id);
                    o.owned = o.owned.saturating_sub(1);
                    self.returns |= RET_OTHER;
                }
                _ => self.returns |= RET_OTHER,
            }
        }
        self.hand_over_to_memory(&mut st, span);
        st.env.clear();
        self.collect(&mut st, span);
    }

    /// At a return, memory that outlives the function (`*out`, `self->x`, a global) keeps
    /// one reference to the object it holds: `*out = v; Py_INCREF(*out);` and
    /// `self->x = v; Py_INCREF(v);` take the reference the memory owns after the store.
    fn hand_over_to_memory(&mut self, st: &mut State, span: Span) {
        let mut held: Vec<(ObjId, String)> = st
            .env
            .iter()
            .filter(|(p, _)| !matches!(p, Place::Local(_)) && !is_temp_place(self.body, p))
            .filter_map(|(p, v)| match v {
                Value::Obj(id) => Some((*id, self.body.place_name(p))),
                _ => None,
            })
            .collect();
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

    fn return_obj(&mut self, st: &mut State, id: ObjId, span: Span) {
        if st.is_null(id) {
            self.returns |= RET_OTHER;
            return;
        }
        if self.check_released(st, id, span, false, true) {
            return;
        }
        let o = st.obj(id);
        if o.owned > 0 {
            st.obj_mut(id).owned -= 1;
            self.event(st, id, span, "returned to the caller".to_string());
            self.returns |= RET_NEW;
            return;
        }
        let stolen_by = o.stolen.as_ref().map(|(_, t)| t.to_string());
        if o.origin.is_borrowed() || stolen_by.is_some() {
            self.returns |= RET_BORROWED;
            if self.cx.registered {
                self.report(st, id, FindingKind::BorrowedReturn { stolen_by }, span);
            }
            return;
        }
        self.returns |= RET_OTHER;
    }

    // ----- branches -----

    fn branch(&mut self, st: State, cond: &Cond, span: Span) -> (Option<State>, Option<State>) {
        match cond {
            Cond::Truthy(op) => {
                let mut st = st;
                let v = self.eval_in_cond(&mut st, op);
                self.split_truthy(st, v, op, span)
            }
            Cond::Compare { op, lhs, rhs } => {
                let mut st = st;
                let l = self.eval_in_cond(&mut st, lhs);
                let r = self.eval_in_cond(&mut st, rhs);
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
    fn eval_in_cond(&self, st: &mut State, op: &Operand) -> Value {
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

    fn split_truthy(
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

    fn operand_name(&self, st: &State, op: &Operand, id: ObjId) -> String {
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

    fn set_null(&self, st: &mut State, id: ObjId, null: Nullness) {
        st.obj_mut(id).null = null;
        if let Some((s, set)) = st.obj(id).exists_if {
            let mask = if null == Nullness::NonNull { set } else { !set };
            let classes = st.status(s).classes & mask;
            if classes != 0 {
                self.refine_status(st, s, classes);
            }
        }
    }

    fn split_status(
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
            (POS, &[1, 2, 1 << 40][..]),
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
                let msg = if classes == status.err {
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
    fn refine_status(&self, st: &mut State, s: StatusId, classes: u8) {
        let status = st.status_mut(s);
        status.classes = classes;
        let err = status.err;
        let ids: Vec<ObjId> = st.live_objs().collect();
        for id in ids {
            let pending = st.obj(id).pending_steal.clone();
            if let Some((ps, span, thief)) = pending {
                if ps != s {
                    continue;
                }
                if classes & err == 0 {
                    let seq = st.next_seq();
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
                } else if classes == err {
                    st.obj_mut(id).pending_steal = None;
                }
            }
        }
    }
}

fn path_step(st: &mut State, span: Span, message: String) {
    let seq = st.next_seq();
    st.path = push_event(&st.path, seq, span, message);
}

fn new_obj(origin: OriginKind, what: &str, span: Span, owned: u32, null: Nullness) -> Obj {
    Obj {
        origin,
        what: what.into(),
        origin_span: span,
        owned,
        null,
        exists_if: None,
        released: None,
        stolen: None,
        pending_steal: None,
        escaped: false,
        held_by_memory: 0,
        name: None,
        history: None,
        created: 0,
    }
}

fn derives_from(p: &Place, base: &Place) -> bool {
    match p {
        Place::Field(b, _) | Place::Deref(b) => b.as_ref() == base || derives_from(b, base),
        _ => false,
    }
}

fn is_temp_place(body: &Body, p: &Place) -> bool {
    match p {
        Place::Local(l) => body.local(*l).kind == LocalKind::Temp,
        Place::Field(b, _) | Place::Deref(b) => is_temp_place(body, b),
        Place::Global(_) => false,
    }
}
