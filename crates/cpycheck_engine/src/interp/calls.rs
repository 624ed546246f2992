//! Calls and contracts: resolving a callee (API contract, user summary, unknown), applying
//! its effects on arguments and result, format-described arguments, out-parameters.

use super::*;
use crate::finding::OriginKind;
use crate::formats::{BuildArg, ParseArg, parse_args_format, parse_build_format};
use crate::state::*;
use crate::summary::{ParamSummary, ReturnSummary};
use cpycheck_contracts::containers::{self, mutated_arg};
use cpycheck_contracts::{ArgEffect, ErrorConvention, Returns, Varargs};
use cpycheck_ir::{Call, Callee, Operand, Place};
use cpycheck_syntax::Span;
use std::rc::Rc;

impl<'a> Interp<'a> {
    pub(super) fn new_status(&self, st: &mut State, conv: ErrorConvention, callee: &str) -> Value {
        let (classes, err) = match conv {
            ErrorConvention::NegOne => (NEG | ZERO | POS, NEG),
            ErrorConvention::NegOneOrZero => (NEG | ZERO, NEG),
            ErrorConvention::NegOneZeroOrOne => (NEG | ZERO | ONE, NEG),
            ErrorConvention::Zero => (ZERO | POS, ZERO),
            ErrorConvention::Infallible => return Value::Unknown,
        };
        Value::Status(st.alloc_status(Status {
            classes,
            err,
            callee: callee.into(),
            exc: None,
        }))
    }

    // ----- statements -----

    pub(super) fn resolve(&self, call: &Call) -> Resolved<'a> {
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

    pub(super) fn call(&mut self, st: &mut State, call: &Call, span: Span) -> Value {
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
            Resolved::User(s) => match s.returns {
                ReturnSummary::New => {
                    self.fresh(st, OriginKind::New, &name, span, 1, Nullness::Maybe)
                }
                ReturnSummary::Borrowed => {
                    self.fresh(st, OriginKind::Borrowed, &name, span, 0, Nullness::Maybe)
                }
                ReturnSummary::Status => self.new_status(st, ErrorConvention::NegOne, &name),
                ReturnSummary::Arg(i) => match call.args.get(i).map(|a| self.eval(st, a)) {
                    Some(v @ Value::Obj(_)) => v,
                    _ => Value::Unknown,
                },
                ReturnSummary::Unknown => Value::Unknown,
            },
            Resolved::Unknown => Value::Unknown,
        };
        self.runs_python |= match &resolved {
            Resolved::Api(c) => c.runs_python,
            Resolved::User(s) => s.runs_python,
            Resolved::Unknown => true,
        };
        let status = match result {
            Value::Status(s) => Some(s),
            _ => None,
        };
        self.exception_effect(st, &resolved, &name, result);
        if let (Resolved::Api(c), Value::Obj(id)) = (&resolved, result)
            && match c.returns {
                Returns::New { nullable } => nullable,
                Returns::Borrowed { nullable } => {
                    nullable && cpycheck_contracts::derefs::borrowed_result_can_fail(&name)
                }
                _ => false,
            }
        {
            use cpycheck_contracts::derefs;
            let cached = match call.args.first() {
                Some(Operand::Int(v)) => derefs::cannot_fail_for(&name, *v),
                Some(Operand::Str(text)) => derefs::cannot_fail_for_literal(&name, text),
                _ => false,
            };
            // A named constant whose value the file does not show (an enum or `#define` from
            // a header not read) is most often a small flag or enum value: the result may be
            // a cached small int, so its failure is not certain enough to report.
            let unknown_constant = matches!(
                call.args.first(),
                Some(Operand::Copy(Place::Global(n))) if is_constant_name(n)
            ) && derefs::is_small_int_constructor(&name);
            if cached {
                st.obj_mut(id).null = Nullness::NonNull;
            } else if !unknown_constant && !derefs::fails_only_out_of_range(&name) {
                st.obj_mut(id).fallible = true;
            }
        }
        let lender = match (&resolved, &call.callee) {
            (Resolved::Api(_), Callee::Named(n)) => match containers::lender(n) {
                Some(containers::Lender::Arg(i)) => {
                    call.args.get(i).and_then(|a| match self.eval(st, a) {
                        Value::Obj(c) => Some(Lender::Container(c)),
                        _ => None,
                    })
                }
                Some(containers::Lender::AnyPythonCode) => Some(Lender::AnyPythonCode),
                None => None,
            },
            _ => None,
        };
        if let (Some(l), Value::Obj(id)) = (lender, result) {
            st.obj_mut(id).lender = Some(l);
        }
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
                Resolved::User(s) => match s.params.get(i) {
                    Some(ParamSummary::Borrow) => Some(ArgEffect::Borrow),
                    Some(ParamSummary::Store) => Some(ArgEffect::Store),
                    Some(ParamSummary::Steal) => Some(ArgEffect::Steal),
                    Some(ParamSummary::StealOnSuccess) => Some(ArgEffect::StealOnSuccess),
                    Some(ParamSummary::StealOnFailure) => Some(ArgEffect::StealOnFailure),
                    Some(ParamSummary::Unknown) | None => None,
                },
                // Unknown functions are not trusted with ownership: they may steal or store.
                Resolved::Unknown => None,
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
            if self.check_invalidated(st, id, aspan) {
                continue;
            }
            if i == 0
                && matches!(resolved, Resolved::Api(_))
                && cpycheck_contracts::derefs::derefs_first_arg(&name)
            {
                self.check_unchecked(st, id, aspan, &format!("passed to `{name}`"));
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
                Some(effect @ (ArgEffect::StealOnSuccess | ArgEffect::StealOnFailure)) => {
                    if self.check_released(st, id, aspan, true, false) {
                        continue;
                    }
                    let on_failure = effect == ArgEffect::StealOnFailure;
                    match status {
                        Some(s) if st.obj(id).owned > 0 => {
                            st.gc_dirty = true;
                            st.obj_mut(id).pending_steal = Some(PendingSteal {
                                status: s,
                                span: aspan,
                                thief: name.clone(),
                                on_failure,
                            });
                            let when = if on_failure { "fails" } else { "succeeds" };
                            self.event(st, id, aspan, format!("stolen by `{name}` if it {when}"));
                        }
                        // Without a status to test, the steal cannot be followed.
                        _ if on_failure => self.havoc(st, id),
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
        if let Some(l) = lender {
            // Borrowed out-parameters (`PyDict_Next`) have the same lender.
            for arg in &call.args {
                if let Operand::AddrOf(place) = arg
                    && let Some(Value::Obj(id)) = st.env.get(self.pid(place))
                    && st.obj(id).origin == OriginKind::OutBorrowed
                    && st.obj(id).origin_span == span
                {
                    st.obj_mut(id).lender = Some(l);
                }
            }
        }
        self.after_call_effects(st, call, &resolved, &name, span);
        // `abort()`, `Py_FatalError(...)`, a function of the file that never returns: the
        // path ends with the call.
        if match (&resolved, &call.callee) {
            (Resolved::User(s), _) => s.noreturn,
            (_, Callee::Named(n)) => cpycheck_contracts::noreturn::is_noreturn(n),
            _ => false,
        } {
            self.path_ended = true;
        }
        result
    }

    /// What a call may do to other references: change the containers it is given, run
    /// Python code that frees weakly referenced objects.
    pub(super) fn after_call_effects(
        &mut self,
        st: &mut State,
        call: &Call,
        resolved: &Resolved<'_>,
        name: &Rc<str>,
        span: Span,
    ) {
        let mut changed: Vec<usize> = Vec::new();
        let runs_python = match resolved {
            Resolved::Api(c) => {
                if let Callee::Named(n) = &call.callee
                    && let Some(i) = mutated_arg(n)
                {
                    changed.push(i);
                }
                c.runs_python
            }
            Resolved::User(s) => {
                changed.extend(s.mutates.iter().enumerate().filter(|m| *m.1).map(|m| m.0));
                s.runs_python
            }
            Resolved::Unknown => false,
        };
        for i in changed {
            if let Some(Value::Obj(c)) = call.args.get(i).map(|a| self.eval(st, a)) {
                self.invalidate(st, Lender::Container(c), span, name);
            }
        }
        if let (Resolved::Api(_), Callee::Named(n)) = (resolved, &call.callee)
            && let Some(i) = containers::overwritten_arg(n)
            && let Some(Value::Obj(c)) = call.args.get(i).map(|a| self.eval(st, a))
        {
            // The item overwritten may be one the container lent: its reference is now
            // the caller's, which we cannot tell apart from the others.
            let lent: Vec<ObjId> = st
                .live_objs()
                .filter(|&o| {
                    matches!(st.obj(o).lender, Some(Lender::Container(l)) if st.identical(l, c) == Some(true))
                        && st.obj(o).owned == 0
                })
                .collect();
            for o in lent {
                let o = st.obj_mut(o);
                o.origin = OriginKind::Unknown;
                o.lender = None;
            }
        }
        if runs_python {
            self.invalidate(st, Lender::AnyPythonCode, span, name);
        }
    }

    /// Roles of variadic arguments given by a format string.
    pub(super) fn format_roles(
        &self,
        call: &Call,
        resolved: &Resolved<'_>,
    ) -> Vec<Option<ArgEffect>> {
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

    pub(super) fn out_param(
        &mut self,
        st: &mut State,
        place: &Place,
        effect: Option<ArgEffect>,
        status: Option<StatusId>,
        name: &Rc<str>,
        span: Span,
    ) {
        // Which results fill the out-parameter: 1 for a -1/0/1 lookup (`PyDict_GetItemRef`:
        // 0 is "not found", NULL), any result but the error value otherwise
        // (`PyContextVar_Get` returns 0 or -1, `PyArg_UnpackTuple` 0 or non-zero).
        let success = status.map(|s| {
            let st_ = st.status(s);
            let lookup = st_.err == NEG && st_.classes & ONE != 0 && st_.classes & MANY == 0;
            (s, st_.classes & if lookup { ONE } else { !st_.err })
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
                    st.gc_dirty = true;
                    st.obj_mut(id).exists_if = Some(s);
                }
                self.assign_local_or_store(st, place, v);
            }
            Some(ArgEffect::Replace { nullable }) => {
                // The old reference is consumed, a new one takes its place.
                if let Some(Value::Obj(old)) = st.env.get(self.pid(place)) {
                    let o = st.obj_mut(old);
                    if o.owned == 0 && o.origin == OriginKind::HelperParam {
                        // A helper's parameter replaced in place: the caller's reference
                        // is taken over.
                        o.consumed.get_or_insert(span);
                    }
                    o.owned = o.owned.saturating_sub(1);
                    o.escaped = true;
                }
                let v = self.fresh(st, OriginKind::New, name, span, 1, Nullness::Maybe);
                // A nullable replacement is NULL exactly when the call fails
                // (`if (_PyBytes_Resize(&buf, n) < 0) return NULL;`).
                if let (true, Value::Obj(id), Some(s)) = (nullable, v, status) {
                    let ok = st.status(s).classes & !st.status(s).err;
                    st.gc_dirty = true;
                    st.obj_mut(id).exists_if = Some((s, ok));
                }
                self.assign_local_or_store(st, place, v);
            }
            Some(ArgEffect::Borrow) | Some(ArgEffect::Store) => {
                // `&flag` of a non-object (`PyArg_ParseTuple(args, "|i", &flag)`): the call
                // may write it, so it no longer holds the constant it was initialised with.
                let pid = self.pid(place);
                let is_object = match place {
                    Place::Local(l) => self.body.local(*l).is_object,
                    _ => matches!(st.env.get(pid), Some(Value::Obj(_))),
                };
                if !is_object && st.env.get(pid).is_some_and(|v| v != Value::Unknown) {
                    self.invalidate_derived(st, place);
                    self.bind(st, pid, Value::Unknown);
                }
            }
            Some(ArgEffect::Steal | ArgEffect::StealOnSuccess | ArgEffect::StealOnFailure)
            | None => {
                // Unknown function with `&x`: it may replace `x` or take its reference.
                if let Some(Value::Obj(old)) = st.env.get(self.pid(place)) {
                    self.havoc(st, old);
                }
                self.invalidate_derived(st, place);
                self.bind(st, self.pid(place), Value::Unknown);
            }
        }
    }

    /// Binds an out-parameter result: the call writes through the pointer, so the place
    /// holds the reference (no ownership transfer, whatever the place is).
    pub(super) fn assign_local_or_store(&mut self, st: &mut State, place: &Place, v: Value) {
        self.invalidate_derived(st, place);
        self.bind(st, self.pid(place), v);
        if let (Value::Obj(id), Place::Local(l)) = (v, place) {
            st.obj_mut(id).name = Some(self.body.local(*l).name.as_str().into());
        }
    }

    pub(super) fn fresh(
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
}

/// A name spelled as a constant (`NPY_BYTE`, `F2PY_INTENT_IN`): upper-case letters, digits and
/// underscores, with at least one letter.
pub(super) fn is_constant_name(name: &str) -> bool {
    name.bytes().any(|b| b.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}
