//! The abstract interpreter: transfer functions for IR statements, edge effects for
//! branches, and the worklist over the CFG.

use crate::budget;
use crate::finding::{Finding, FindingKind, ObjectDesc, OriginKind, Step};
use crate::formats::{BuildArg, ParseArg, parse_args_format, parse_build_format};
use crate::state::*;
use crate::summary::{Inconsistency, ParamSummary, ReturnSummary, Summary, SummarySource};
use crate::{EngineContext, FunctionResult};
use cpycheck_contracts::containers::{self, mutated_arg};
use cpycheck_contracts::exceptions::{ExcEffect, exc_effect};
use cpycheck_contracts::macros::{MacroKind, lookup_macro};
use cpycheck_contracts::{ArgEffect, Contract, ErrorConvention, Returns, Varargs};
use cpycheck_ir::{
    Body, Call, Callee, CmpOp, Cond, LocalKind, Operand, Place, Rvalue, StatementKind, Terminator,
};
use cpycheck_syntax::Span;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

/// What the callee of a call is known to do.
enum Resolved<'c> {
    Api(&'c Contract),
    User(&'c Summary),
    Unknown,
}

/// What one path that returns tells about the function's contract.
struct ReturnPath {
    span: Span,
    outcome: Outcome,
    /// Decisions on non-object parameters along the path.
    param_tests: std::collections::BTreeSet<(u32, bool)>,
    /// Whether an exception is set when the path returns.
    exc: Exc,
    /// Per parameter: what happened to the caller's reference.
    params: Vec<ParamFate>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Either,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParamFate {
    Kept {
        escaped: bool,
    },
    Consumed(Span),
    /// The parameter itself is returned without a reference of its own: borrowed, or the
    /// caller's reference handed back as the result (which the other paths decide).
    Returned(Span),
    /// NULL on this path: there is no reference to take over.
    Null,
    Unknown,
}

pub(crate) struct Interp<'a> {
    body: &'a Body,
    cx: &'a EngineContext<'a>,
    findings: Vec<Finding>,
    seen_findings: HashSet<(u8, Span, Span, String)>,
    returns: u8,
    /// The first return of a new and of a borrowed reference.
    new_at: Option<Span>,
    borrowed_at: Option<Span>,
    paths: Vec<ReturnPath>,
    /// The body may run Python code: it calls the object protocol, an unknown function, or
    /// releases a reference.
    runs_python: bool,
    /// Per parameter: changed as a container by some call.
    mutated: Vec<bool>,
    /// Calls whose thrown-away failure is handled another way, or cannot happen.
    /// Computed when first needed.
    handled_discards: Option<HashSet<Span>>,
    /// Calls made for the exception they raise, right before an error return.
    calls_for_their_exception: HashSet<Span>,
    /// The places the states refer to, by number.
    places: RefCell<Places>,
    /// A borrowed reference the previous statement of the block stored into memory, and the
    /// place: a `Py_INCREF` of it right after pays for the store.
    just_stored: Option<(ObjId, Rc<str>)>,
    /// The statement just executed crashes the process on this path (`Py_DECREF` of a
    /// pointer known to be NULL): the path ends there.
    crashed: bool,
    /// Work space reused by [`State::key_with`] and [`Interp::collect`].
    key_scratch: KeyScratch,
    reachable: Vec<bool>,
    live_status: Vec<bool>,
    dead: Vec<ObjId>,
}

const RET_NEW: u8 = 1;
const RET_BORROWED: u8 = 2;
const RET_OTHER: u8 = 4;
/// `return NULL;`: says nothing about new or borrowed.
const RET_NULL: u8 = 8;
/// A helper returns one of its parameters: borrowed, unless other paths return new
/// references (then the caller's reference is handed back).
const RET_PARAM: u8 = 64;
/// An int that is `-1` on this path / `>= 0` on this path / either (a fallible call's result).
const RET_INT_ERR: u8 = 16;
const RET_INT_OK: u8 = 32;

impl<'a> Interp<'a> {
    pub(crate) fn run(body: &'a Body, cx: &'a EngineContext<'a>) -> FunctionResult {
        let mut it = Interp {
            body,
            cx,
            findings: Vec::new(),
            seen_findings: HashSet::new(),
            returns: 0,
            new_at: None,
            borrowed_at: None,
            paths: Vec::new(),
            runs_python: false,
            mutated: vec![false; body.params.len()],
            handled_discards: None,
            calls_for_their_exception: crate::deferred::calls_for_their_exception(body),
            places: RefCell::new({
                let mut places = Places::default();
                places.know_body(body);
                places
            }),
            just_stored: None,
            crashed: false,
            key_scratch: KeyScratch::default(),
            reachable: Vec::new(),
            live_status: Vec::new(),
            dead: Vec::new(),
        };
        let mut incomplete = false;
        if body.blocks.len() > budget::MAX_BLOCKS {
            return FunctionResult {
                findings: Vec::new(),
                incomplete: true,
                summary: Summary::unknown(body.params.len()),
            };
        }
        // The keys of the states met at each block: at most `STATES_PER_BLOCK`, so a list
        // searched in order is cheaper than a hash set.
        let mut seen: Vec<Vec<u64>> = vec![Vec::new(); body.blocks.len()];
        let mut work = vec![(body.entry, it.initial_state())];
        let mut visits = 0usize;
        while let Some((b, st)) = work.pop() {
            let set = &mut seen[b.0 as usize];
            if set.len() >= budget::STATES_PER_BLOCK {
                incomplete = true;
                continue;
            }
            let k = st.key_with(&mut it.key_scratch);
            if set.contains(&k) {
                continue;
            }
            set.push(k);
            visits += 1;
            if visits > budget::BLOCK_VISITS {
                incomplete = true;
                break;
            }
            let mut st = st;
            let block = body.block(b);
            it.just_stored = None;
            it.crashed = false;
            for s in &block.stmts {
                it.exec(&mut st, &s.kind, s.span);
                if it.crashed {
                    break;
                }
            }
            if it.crashed {
                // The process dies here: nothing after it happens on this path.
                continue;
            }
            it.settle_unpaid_steals(&mut st, None);
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
        let summary = if incomplete {
            Summary::unknown(body.params.len())
        } else {
            it.infer_summary()
        };
        FunctionResult {
            findings: it.findings,
            incomplete,
            summary,
        }
    }

    /// Whether this function's own contract is fixed from outside (registered with Python,
    /// or declared by the user) rather than inferred from its body.
    fn contract_is_fixed(&self) -> bool {
        self.cx.registered || self.cx.declared.is_some()
    }

    /// The contract the body shows, and a finding where its paths disagree.
    fn infer_summary(&mut self) -> Summary {
        // `return param;` next to new references: the helper takes over the caller's
        // reference and hands it back as its result (`x = convert(x)`).
        let consumed_somewhere = |i: usize| {
            self.paths
                .iter()
                .any(|p| matches!(p.params.get(i), Some(ParamFate::Consumed(_))))
        };
        let returned_params: Vec<usize> = (0..self.body.params.len())
            .filter(|&i| {
                self.paths
                    .iter()
                    .any(|p| matches!(p.params.get(i), Some(ParamFate::Returned(_))))
            })
            .collect();
        let hands_back = self.returns & RET_NEW != 0
            || (!returned_params.is_empty()
                && returned_params.iter().all(|&i| consumed_somewhere(i)));
        // Otherwise a function that returns one of its parameters as it is, and nothing
        // else, returns an alias of that argument (`PyObject_Init`-like helpers).
        let returns_alias = match returned_params.as_slice() {
            [i] if !hands_back && self.returns & !(RET_PARAM | RET_NULL) == 0 => Some(*i),
            _ => None,
        };
        if self.returns & RET_PARAM != 0 {
            if hands_back {
                self.returns |= RET_NEW;
            } else {
                // Mixed with other kinds of results: nothing to say.
                self.returns |= RET_OTHER;
            }
        }
        for path in &mut self.paths {
            for fate in &mut path.params {
                if let ParamFate::Returned(at) = *fate {
                    *fate = if hands_back {
                        ParamFate::Consumed(at)
                    } else {
                        ParamFate::Kept { escaped: false }
                    };
                }
            }
        }
        let r = self.returns & !(RET_NULL | RET_PARAM);
        let returns = if let Some(i) = returns_alias {
            ReturnSummary::Arg(i)
        } else if r == RET_NEW {
            ReturnSummary::New
        } else if r == RET_BORROWED {
            ReturnSummary::Borrowed
        } else if r & (RET_INT_ERR | RET_INT_OK) != 0
            && r & !(RET_INT_ERR | RET_INT_OK) == 0
            && r & RET_INT_ERR != 0
            && self.returns & RET_NULL == 0
        {
            ReturnSummary::Status
        } else {
            ReturnSummary::Unknown
        };
        // Paths meeting at one `return` (a common exit) disagree only through what flows
        // into it, which the per-path state follows less reliably: not reported.
        if !self.contract_is_fixed()
            && let (Some(new_at), Some(borrowed_at)) = (self.new_at, self.borrowed_at)
            && new_at != borrowed_at
        {
            self.inconsistent(Inconsistency::Returns {
                new_at,
                borrowed_at,
            });
        }
        let mut params = Vec::with_capacity(self.body.params.len());
        for (i, &p) in self.body.params.iter().enumerate() {
            let fates: Vec<(ParamFate, Outcome, Span)> = self
                .paths
                .iter()
                .map(|r| {
                    (
                        r.params.get(i).copied().unwrap_or(ParamFate::Unknown),
                        r.outcome,
                        r.span,
                    )
                })
                .collect();
            let summary = if self.contract_is_fixed() || !self.body.local(p).is_object {
                ParamSummary::Unknown
            } else {
                self.param_summary(i, &fates, returns)
            };
            params.push(summary);
        }
        let failures: Vec<Exc> = self
            .paths
            .iter()
            .filter(|p| p.outcome == Outcome::Failure)
            .map(|p| p.exc)
            .collect();
        let error_sets_exception = if failures.is_empty() {
            None
        } else if failures.iter().all(|e| *e == Exc::Set) {
            Some(true)
        } else if failures.iter().all(|e| *e == Exc::Clear) {
            Some(false)
        } else {
            None
        };
        Summary {
            returns,
            params,
            runs_python: self.runs_python,
            error_sets_exception,
            mutates: self.mutated.clone(),
            source: SummarySource::Inferred,
        }
    }

    fn param_summary(
        &mut self,
        i: usize,
        fates: &[(ParamFate, Outcome, Span)],
        returns: ReturnSummary,
    ) -> ParamSummary {
        if fates.iter().any(|f| f.0 == ParamFate::Unknown) {
            return ParamSummary::Unknown;
        }
        let fates: Vec<_> = fates
            .iter()
            .copied()
            .filter(|f| f.0 != ParamFate::Null)
            .collect();
        if fates.is_empty() {
            return ParamSummary::Unknown;
        }
        let consumed = |f: &ParamFate| matches!(f, ParamFate::Consumed(_));
        if fates.iter().all(|f| consumed(&f.0)) {
            return ParamSummary::Steal;
        }
        if !fates.iter().any(|f| consumed(&f.0)) {
            let escaped = fates
                .iter()
                .any(|f| matches!(f.0, ParamFate::Kept { escaped: true }));
            return if escaped {
                ParamSummary::Store
            } else {
                ParamSummary::Borrow
            };
        }
        // Consumed on some paths only: fine if exactly the successful ones.
        let on_success = fates.iter().all(|&(f, outcome, _)| match outcome {
            Outcome::Success => consumed(&f),
            Outcome::Failure => !consumed(&f),
            Outcome::Either => false,
        });
        let on_failure = fates.iter().all(|&(f, outcome, _)| match outcome {
            Outcome::Success => !consumed(&f),
            Outcome::Failure => consumed(&f),
            Outcome::Either => false,
        });
        if on_success || on_failure {
            return match returns {
                ReturnSummary::Status if on_success => ParamSummary::StealOnSuccess,
                ReturnSummary::Status => ParamSummary::StealOnFailure,
                _ => ParamSummary::Unknown,
            };
        }
        // A flag parameter that separates the paths that take the reference over from those
        // that keep it (`decref_tuple`) makes the contract the caller's choice.
        let consuming: Vec<&ReturnPath> = self
            .paths
            .iter()
            .filter(|p| matches!(p.params.get(i), Some(ParamFate::Consumed(_))))
            .collect();
        let keeping: Vec<&ReturnPath> = self
            .paths
            .iter()
            .filter(|p| matches!(p.params.get(i), Some(ParamFate::Kept { .. })))
            .collect();
        let controlled = consuming.iter().any(|c| {
            keeping.iter().any(|k| {
                c.param_tests
                    .iter()
                    .any(|&(p, v)| k.param_tests.contains(&(p, !v)))
            })
        });
        // A method releasing its own object on some paths is the other half of a
        // keep-alive (see `is_self_keep_alive`): not a contract the caller relies on.
        if controlled || (i == 0 && self.first_param_is_self()) {
            return ParamSummary::Unknown;
        }
        let steals_at = fates.iter().find_map(|f| match f.0 {
            ParamFate::Consumed(at) => Some(at),
            _ => None,
        });
        let keeps_at = fates.iter().find(|f| !consumed(&f.0)).map(|f| f.2);
        if let (Some(steals_at), Some(keeps_at)) = (steals_at, keeps_at) {
            let param = self.body.local(self.body.params[i]).name.clone();
            self.inconsistent(Inconsistency::Steals {
                param,
                steals_at,
                keeps_at,
            });
        }
        ParamSummary::Unknown
    }

    /// Whether the function's first parameter is its object, by the convention of method
    /// parameters (`self`; `__pyx_v_self` in Cython's output).
    fn first_param_is_self(&self) -> bool {
        self.body
            .params
            .first()
            .is_some_and(|&p| matches!(self.body.local(p).name.as_str(), "self" | "__pyx_v_self"))
    }

    /// `Py_INCREF(self)` kept past the end of a method: the object keeps itself alive until
    /// a callback (a C library holds it and releases it later, `uv_close(handle, cb)`), a
    /// deliberate idiom rather than a leak. The matching release is in another function.
    fn is_self_keep_alive(&self, st: &State, id: ObjId) -> bool {
        let o = st.obj(id);
        // The parameters' objects are named after them (`what`) when the state is built;
        // `st.params` is already cleared when a return collects the path's objects.
        matches!(o.origin, OriginKind::Param | OriginKind::HelperParam)
            && self.first_param_is_self()
            && self
                .body
                .params
                .first()
                .is_some_and(|&p| *o.what == *self.body.local(p).name)
    }

    /// Whether the function's error returns must come with an exception: it is registered
    /// with Python, or declares a `returns-new` / `returns-status` contract.
    fn must_raise(&self) -> bool {
        (self.cx.registered && !self.cx.null_is_quiet)
            || self
                .cx
                .declared
                .is_some_and(|d| matches!(d.returns, ReturnSummary::New | ReturnSummary::Status))
    }

    fn error_without_exception(&mut self, st: &State, span: Span) {
        if self
            .findings
            .iter()
            .any(|f| f.span == span && matches!(f.kind, FindingKind::ErrorWithoutException { .. }))
        {
            return;
        }
        let mut trace: Vec<Step> = events(&st.path)
            .into_iter()
            .map(|(_, span, message)| Step { span, message })
            .collect();
        if trace.len() > budget::TRACE_STEPS {
            trace.drain(..trace.len() - (budget::TRACE_STEPS - 1));
        }
        trace.push(Step {
            span,
            message: "returns its error value with no exception set".to_string(),
        });
        self.findings.push(Finding {
            kind: FindingKind::ErrorWithoutException {
                null: self.body.returns_object,
            },
            span,
            object: ObjectDesc {
                name: None,
                origin: OriginKind::Unknown,
                what: self.body.name.clone(),
                origin_span: self.body.name_span,
            },
            trace,
            also_at: Vec::new(),
        });
    }

    /// A fallible call's result thrown away: reported once per callee and function, the
    /// other calls as "also at".
    fn ignored_error(&mut self, callee: String, span: Span) {
        if let Some(f) = self
            .findings
            .iter_mut()
            .find(|f| matches!(&f.kind, FindingKind::IgnoredError { callee: c } if *c == callee))
        {
            if f.span != span && !f.also_at.contains(&span) {
                f.also_at.push(span);
            }
            return;
        }
        self.findings.push(Finding {
            kind: FindingKind::IgnoredError {
                callee: callee.clone(),
            },
            span,
            object: ObjectDesc {
                name: None,
                origin: OriginKind::Unknown,
                what: callee,
                origin_span: span,
            },
            trace: Vec::new(),
            also_at: Vec::new(),
        });
    }

    fn inconsistent(&mut self, detail: Inconsistency) {
        let (span, trace) = match &detail {
            Inconsistency::Returns {
                new_at,
                borrowed_at,
            } => (
                *borrowed_at,
                vec![
                    Step {
                        span: *new_at,
                        message: "returns a new reference here".to_string(),
                    },
                    Step {
                        span: *borrowed_at,
                        message: "but a borrowed reference here".to_string(),
                    },
                ],
            ),
            Inconsistency::Steals {
                param,
                steals_at,
                keeps_at,
            } => (
                *keeps_at,
                vec![
                    Step {
                        span: *steals_at,
                        message: format!("the caller's reference to `{param}` is taken over here"),
                    },
                    Step {
                        span: *keeps_at,
                        message: "but this path returns without taking it over".to_string(),
                    },
                ],
            ),
        };
        self.findings.push(Finding {
            kind: FindingKind::InconsistentContract { detail },
            span,
            object: ObjectDesc {
                name: None,
                origin: OriginKind::Unknown,
                what: self.body.name.clone(),
                origin_span: self.body.name_span,
            },
            trace,
            also_at: Vec::new(),
        });
    }

    fn initial_state(&self) -> State {
        let mut st = State::default();
        for (i, &p) in self.body.params.iter().enumerate() {
            let local = self.body.local(p);
            if !local.is_object {
                st.params.push(None);
                continue;
            }
            let declared = self.cx.declared.map(|d| d.params.get(i).copied());
            let (origin, owned) = match declared {
                None if self.cx.registered => (OriginKind::Param, 0),
                None => (OriginKind::HelperParam, 0),
                // A parameter the declared contract steals is ours to release or hand on.
                Some(Some(
                    ParamSummary::Steal
                    | ParamSummary::StealOnSuccess
                    | ParamSummary::StealOnFailure,
                )) => (OriginKind::StolenParam, 1),
                Some(Some(ParamSummary::Unknown) | None) => (OriginKind::HelperParam, 0),
                Some(Some(ParamSummary::Borrow | ParamSummary::Store)) => (OriginKind::Param, 0),
            };
            let id = st.alloc_obj(Obj {
                origin,
                what: local.name.as_str().into(),
                origin_span: self.body.name_span,
                owned,
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
                consumed: None,
                lender: None,
                invalidated: None,
                stored_unowned: None,
                unpaid_steal: None,
                exc_link: None,
                fallible: false,
                key_part: Default::default(),
            });
            let pid = self.pid(&Place::Local(p));
            self.bind(&mut st, pid, Value::Obj(id));
            st.params.push(Some(id));
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
            FindingKind::InconsistentContract { .. } => 6,
            FindingKind::BorrowedAcrossCall { .. } => 7,
            FindingKind::BorrowedStored { .. } => 8,
            FindingKind::IgnoredError { .. } => 9,
            FindingKind::ErrorWithoutException { .. } => 10,
            FindingKind::UncheckedNull { .. } => 11,
        };
        let name = o.name.as_deref().unwrap_or("").to_string();
        // A leak is reported once per object (its first leaking exit, the others as notes);
        // other findings once per (location, variable); reveals once per state.
        let key = match &kind {
            FindingKind::Leak { .. }
            | FindingKind::BorrowedAcrossCall { .. }
            | FindingKind::UncheckedNull { .. } => (tag, Span::default(), o.origin_span, name),
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
            FindingKind::InconsistentContract { .. } => "here",
            FindingKind::BorrowedAcrossCall { .. } => "used here",
            FindingKind::BorrowedStored { .. } => "stored here without a reference of its own",
            FindingKind::IgnoredError { .. } => "its result is ignored here",
            FindingKind::ErrorWithoutException { .. } => "returned here",
            FindingKind::UncheckedNull { .. } => "used here without a NULL check",
        };
        // The finding's own event already says what happens here.
        let said = matches!(
            kind,
            FindingKind::BorrowedStored { .. }
                | FindingKind::ReleaseOfBorrowed { stolen_by: Some(_) }
        ) && steps.last().is_some_and(|s| s.span == at);
        if !said {
            steps.push(Step {
                span: at,
                message: last.to_string(),
            });
        }
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
        self.bind(st, self.pid(place), v);
        Some(v)
    }

    /// Binds the place `p` to `v`.
    fn bind(&self, st: &mut State, p: PlaceId, v: Value) {
        let temp = self.places.borrow().is_temp(p);
        st.env.insert(p, v, temp);
    }

    /// The number of a place in the states.
    fn pid(&self, place: &Place) -> PlaceId {
        self.places
            .borrow_mut()
            .intern_at(place, &|l| self.body.local(l).kind == LocalKind::Temp)
    }

    fn read(&self, st: &mut State, place: &Place) -> Value {
        if let Some(v) = st.env.get(self.pid(place)) {
            return v;
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
                self.bind(st, self.pid(place), Value::Obj(id));
                Some(id)
            }
            _ => None,
        }
    }

    /// Drops bindings of places reached through `place` (`p->x` when `p` changes), and of
    /// the elements `place` may be (`a[i]` may be `a[2]`).
    fn invalidate_derived(&self, st: &mut State, place: &Place) {
        let base = self.pid(place);
        let places = self.places.borrow();
        if places.has_invalidated(base) {
            places.for_each_invalidated(base, |p| st.env.remove(p));
        }
    }

    fn assign(&mut self, st: &mut State, dest: &Place, value: Value, span: Span) {
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
    fn local_array_elem(&self, place: &Place) -> bool {
        matches!(place, Place::Elem(base, _) if matches!(**base, Place::Local(l)
            if self.body.local(l).ty.array && self.body.local(l).kind == LocalKind::Var))
    }

    /// An element of an array declared in the function (`x[0]`, `x[i]`, `x[2]`).
    fn in_local_array(&self, place: &Place) -> bool {
        matches!(place, Place::Deref(base) | Place::Elem(base, _) if matches!(**base, Place::Local(l)
            if self.body.local(l).ty.array && self.body.local(l).kind == LocalKind::Var))
    }

    /// Memory reached through a pointer parameter (`ctx->obj`, `out[0]`).
    fn reached_from_param(&self, place: &Place) -> bool {
        match place {
            Place::Local(l) => self.body.params.contains(l),
            Place::Field(base, _) | Place::Deref(base) | Place::Elem(base, _) => {
                self.reached_from_param(base)
            }
            Place::Global(_) => false,
        }
    }

    /// Memory that outlives the call: a field of a Python object, or a static.
    fn is_long_lived(&self, place: &Place) -> bool {
        match place {
            Place::Global(name) => lookup_macro(name).is_none(),
            Place::Field(base, _) => {
                matches!(**base, Place::Local(l) if self.body.local(l).is_object)
            }
            _ => false,
        }
    }

    fn new_status(&self, st: &mut State, conv: ErrorConvention, callee: &str) -> Value {
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

    fn exec(&mut self, st: &mut State, kind: &StatementKind, span: Span) {
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
                    // `Py_DECREF(NULL)` dereferences NULL.
                    self.crashed = true;
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

    /// Reports the use of a fallible call's result that may still be NULL. Returns true when
    /// reported.
    fn check_unchecked(&mut self, st: &mut State, id: ObjId, span: Span, what: &str) -> bool {
        let o = st.obj(id);
        if !o.fallible || o.exists_if.is_some() || st.is_null(id) || st.is_non_null(id) {
            return false;
        }
        let kind = FindingKind::UncheckedNull {
            what: what.to_string(),
        };
        self.report(st, id, kind, span);
        // Reported once: past this point the object is taken to exist.
        st.obj_mut(id).null = Nullness::NonNull;
        true
    }

    /// Reports a use of a borrowed reference whose lender may have changed. Returns true when
    /// reported.
    fn check_invalidated(&mut self, st: &State, id: ObjId, span: Span) -> bool {
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
    fn invalidate(&mut self, st: &mut State, lender: Lender, span: Span, call: &Rc<str>) {
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

    fn release(&mut self, st: &mut State, id: ObjId, span: Span, nullable: bool) {
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
    fn settle_unpaid_steals(&mut self, st: &mut State, only: Option<ObjId>) {
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
    fn havoc(&self, st: &mut State, id: ObjId) {
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
        result
    }

    /// What a call does to the exception state: raise, clear, or (when it can fail) leave it
    /// unknown until its result is tested, with a link that says what the test reveals.
    fn exception_effect(&self, st: &mut State, resolved: &Resolved<'_>, name: &str, result: Value) {
        let prev = st.exc;
        let link = |st: &mut State, on_failure: Exc| {
            st.exc_epoch += 1;
            st.exc = Exc::Unknown;
            let link = ExcLink {
                on_failure,
                on_success: prev,
                epoch: st.exc_epoch,
            };
            match result {
                Value::Obj(id) => st.obj_mut(id).exc_link = Some(link),
                Value::Status(s) => st.status_mut(s).exc = Some(link),
                _ => {}
            }
        };
        match resolved {
            Resolved::Api(c) => match exc_effect(name) {
                Some(ExcEffect::Raises) => st.exc = Exc::Set,
                Some(ExcEffect::Clears) => st.exc = Exc::Clear,
                Some(ExcEffect::Restores) => st.exc = Exc::Unknown,
                Some(ExcEffect::Tests) => {
                    if let Value::Obj(id) = result {
                        st.obj_mut(id).exc_link = Some(ExcLink {
                            on_failure: Exc::Clear,
                            on_success: Exc::Set,
                            epoch: st.exc_epoch,
                        });
                        // A call that failed and raised on this path: `PyErr_Occurred()` is
                        // not NULL. (A clear state is not trusted the same way: a helper may
                        // be called with an exception set.)
                        if prev == Exc::Set {
                            st.obj_mut(id).null = Nullness::NonNull;
                        }
                    }
                }
                Some(ExcEffect::FailsQuietly | ExcEffect::ValueOrError) => link(st, Exc::Unknown),
                Some(ExcEffect::NeverRaises) => link(st, prev),
                None => match c.returns {
                    Returns::AlwaysNull => st.exc = Exc::Set,
                    Returns::New { nullable: true }
                    | Returns::Status(
                        ErrorConvention::NegOne
                        | ErrorConvention::NegOneOrZero
                        | ErrorConvention::NegOneZeroOrOne
                        | ErrorConvention::Zero,
                    ) => link(st, Exc::Set),
                    Returns::Borrowed { nullable: true } => link(st, Exc::Unknown),
                    // A C result (`char *` from `PyUnicode_AsUTF8`, a pointer from
                    // `PyCapsule_GetPointer`) may come with an exception we cannot see.
                    Returns::Plain => {
                        st.exc_epoch += 1;
                        st.exc = Exc::Unknown;
                    }
                    _ => {}
                },
            },
            Resolved::User(s) => {
                let on_failure = match s.error_sets_exception {
                    Some(true) => Exc::Set,
                    Some(false) => prev,
                    None => Exc::Unknown,
                };
                link(st, on_failure)
            }
            Resolved::Unknown => {
                st.exc_epoch += 1;
                st.exc = Exc::Unknown;
            }
        }
    }

    /// What a call may do to other references: change the containers it is given, run
    /// Python code that frees weakly referenced objects.
    fn after_call_effects(
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
            Some(ArgEffect::Borrow) | Some(ArgEffect::Store) => {}
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
    fn assign_local_or_store(&mut self, st: &mut State, place: &Place, v: Value) {
        self.invalidate_derived(st, place);
        self.bind(st, self.pid(place), v);
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
        // Nothing can have become unreachable unless a reference was dropped, or an object
        // or status made, or an object's tie to a status changed.
        let dirty = std::mem::take(&mut st.gc_dirty) | st.env.take_dropped();
        if !dirty {
            #[cfg(debug_assertions)]
            self.assert_nothing_to_collect(st);
            return;
        }
        let mut reachable = std::mem::take(&mut self.reachable);
        let mut live_status = std::mem::take(&mut self.live_status);
        let mut dead = std::mem::take(&mut self.dead);
        reachable.clear();
        reachable.resize(st.objs.len(), false);
        live_status.clear();
        live_status.resize(st.statuses.len(), false);
        dead.clear();
        mark_roots(st, &mut reachable, &mut live_status);
        dead.extend(
            st.objs
                .iter()
                .enumerate()
                .filter(|(i, o)| o.is_some() && !reachable[*i])
                .map(|(i, _)| ObjId(i as u32)),
        );
        for &id in &dead {
            self.settle_unpaid_steals(st, Some(id));
            self.check_leak(st, id, span);
            if let Some((at, place)) = st.obj(id).stored_unowned.clone()
                && st.obj(id).origin.is_borrowed()
            {
                self.report(
                    st,
                    id,
                    FindingKind::BorrowedStored {
                        place: place.to_string(),
                    },
                    at,
                );
            }
            st.objs[id.0 as usize] = None;
        }
        if !dead.is_empty() {
            for o in st.objs.iter_mut().flatten() {
                if let Some(Lender::Container(c)) = o.lender
                    && dead.contains(&c)
                {
                    Rc::make_mut(o).lender = None;
                }
            }
        }
        if !dead.is_empty() {
            st.eq_facts
                .retain(|f| st.objs[f.0.0 as usize].is_some() && st.objs[f.1.0 as usize].is_some());
        }
        for o in st.objs.iter().flatten() {
            if let Some((s, _)) = o.exists_if {
                live_status[s.0 as usize] = true;
            }
            if let Some(p) = &o.pending_steal {
                live_status[p.status.0 as usize] = true;
            }
        }
        for (i, s) in st.statuses.iter_mut().enumerate() {
            if !live_status[i] {
                *s = None;
            }
        }
        self.reachable = reachable;
        self.live_status = live_status;
        self.dead = dead;
    }

    /// What [`Interp::collect`] relies on when it skips its work: no object or status is
    /// unreachable.
    #[cfg(debug_assertions)]
    fn assert_nothing_to_collect(&self, st: &State) {
        let mut reachable = vec![false; st.objs.len()];
        let mut live_status = vec![false; st.statuses.len()];
        mark_roots(st, &mut reachable, &mut live_status);
        for (i, o) in st.objs.iter().enumerate() {
            let Some(o) = o else { continue };
            assert!(reachable[i], "object {i} unreachable but not collected");
            if let Some((s, _)) = o.exists_if {
                live_status[s.0 as usize] = true;
            }
            if let Some(p) = &o.pending_steal {
                live_status[p.status.0 as usize] = true;
            }
        }
        for (i, s) in st.statuses.iter().enumerate() {
            assert!(
                s.is_none() || live_status[i],
                "status {i} unreachable but not collected"
            );
        }
    }

    fn check_leak(&mut self, st: &State, id: ObjId, span: Span) {
        let o = st.obj(id);
        if o.owned == 0 || st.is_null(id) || self.is_self_keep_alive(st, id) {
            return;
        }
        if self.calls_for_their_exception.contains(&o.origin_span)
            && o.exc_link.is_some_and(|l| l.on_success != Exc::Set)
        {
            // Called, with no exception known to be set, for the one it raises, right
            // before an error return: the return is correct only if the call failed and
            // returned NULL.
            return;
        }
        if o.origin == OriginKind::Unknown && o.escaped {
            // Handed to a function we know nothing about, which may have kept it: a
            // reference taken afterwards may be the one it needed.
            return;
        }
        let when_fails = match &o.pending_steal {
            Some(p) if p.on_failure => {
                let status = st.status(p.status);
                if status.classes & !status.err == 0 {
                    // Only the failure (which steals) is still possible.
                    if o.owned <= 1 {
                        return;
                    }
                }
                None
            }
            Some(PendingSteal { status, thief, .. }) => {
                let status = st.status(*status);
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
    fn hand_over_to_memory(&mut self, st: &mut State, span: Span) {
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

    fn return_obj(&mut self, st: &mut State, id: ObjId, span: Span) {
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

    fn branch(&mut self, st: State, cond: &Cond, span: Span) -> (Option<State>, Option<State>) {
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
    fn tested_param(&self, cond: &Cond) -> Option<u32> {
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

    fn branch_inner(
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
    fn refine_status(&self, st: &mut State, s: StatusId, classes: u8) {
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
        consumed: None,
        lender: None,
        invalidated: None,
        stored_unowned: None,
        unpaid_steal: None,
        exc_link: None,
        fallible: false,
        key_part: Default::default(),
    }
}

/// Marks what the function's places and parameters refer to directly: the roots of
/// [`Interp::collect`].
fn mark_roots(st: &State, reachable: &mut [bool], live_status: &mut [bool]) {
    for v in st.env.values() {
        match v {
            Value::Obj(id) => reachable[id.0 as usize] = true,
            Value::Status(s) => live_status[s.0 as usize] = true,
            _ => {}
        }
    }
    for id in st.params.iter().flatten() {
        reachable[id.0 as usize] = true;
    }
}

/// A global or a field of one (`g`, `self->x`, `s->a.b`): the same memory each time, never
/// an element reached through an index or a pointer.
fn one_place(p: &Place) -> bool {
    match p {
        Place::Global(_) => true,
        Place::Field(b, _) => matches!(**b, Place::Local(_)) || one_place(b),
        _ => false,
    }
}

/// A place reached through `a[i]` with an index the IR does not track
/// (`descs[i].cls`): each iteration of a loop may write another one.
fn through_index(p: &Place) -> bool {
    match p {
        Place::Deref(_) => true,
        Place::Field(b, _) | Place::Elem(b, _) => through_index(b),
        _ => false,
    }
}

fn is_temp_place(body: &Body, p: &Place) -> bool {
    match p {
        Place::Local(l) => body.local(*l).kind == LocalKind::Temp,
        Place::Field(b, _) | Place::Deref(b) | Place::Elem(b, _) => is_temp_place(body, b),
        Place::Global(_) => false,
    }
}

/// A name spelled as a constant (`NPY_BYTE`, `F2PY_INTENT_IN`): upper-case letters, digits and
/// underscores, with at least one letter.
fn is_constant_name(name: &str) -> bool {
    name.bytes().any(|b| b.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}
