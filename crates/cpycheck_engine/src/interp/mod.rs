//! The abstract interpreter: transfer functions for IR statements, edge effects for
//! branches, and the worklist over the CFG.

mod branches;
mod calls;
mod collect;
mod exceptions;
mod places;
mod references;
mod returns;
mod statements;
mod summaries;

use crate::budget;
use crate::finding::{Finding, FindingKind, ObjectDesc, OriginKind, Step};
use crate::state::*;
use crate::summary::{ParamSummary, Summary};
use crate::{EngineContext, FunctionResult};
use cpycheck_contracts::Contract;
use cpycheck_ir::{Body, Place, Terminator};
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
    /// The statement just executed never returns on this path (a call of `abort()`,
    /// `Py_FatalError()` or a function of the file that never returns): the path ends there.
    path_ended: bool,
    /// Some path reached a `return` (or the end of the body).
    reached_return: bool,
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
            path_ended: false,
            reached_return: false,
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
            it.path_ended = false;
            for s in &block.stmts {
                it.exec(&mut st, &s.kind, s.span);
                if it.path_ended {
                    break;
                }
            }
            if it.path_ended {
                // The process ends here: nothing after it happens on this path.
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
            | FindingKind::UncheckedNull {
                known_null: false, ..
            } => (tag, Span::default(), o.origin_span, name),
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
            FindingKind::UncheckedNull {
                known_null: false, ..
            } => "used here without a NULL check",
            FindingKind::UncheckedNull {
                known_null: true, ..
            } => "used here while NULL",
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
