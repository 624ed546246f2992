//! Summaries: the contract a function's return paths imply for its callers
//! ([`Summary`]), and the findings when paths disagree.

use super::*;
use crate::finding::{Finding, FindingKind, ObjectDesc, OriginKind, Step};
use crate::state::*;
use crate::summary::{Inconsistency, ParamSummary, ReturnSummary, Summary, SummarySource};
use cpycheck_syntax::Span;

impl<'a> Interp<'a> {
    /// Whether this function's own contract is fixed from outside (registered with Python,
    /// or declared by the user) rather than inferred from its body.
    pub(super) fn contract_is_fixed(&self) -> bool {
        self.cx.registered || self.cx.declared.is_some()
    }

    /// The contract the body shows, and a finding where its paths disagree.
    pub(super) fn infer_summary(&mut self) -> Summary {
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
            noreturn: !self.reached_return,
            source: SummarySource::Inferred,
        }
    }

    pub(super) fn param_summary(
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
    pub(super) fn first_param_is_self(&self) -> bool {
        self.body
            .params
            .first()
            .is_some_and(|&p| matches!(self.body.local(p).name.as_str(), "self" | "__pyx_v_self"))
    }

    /// `Py_INCREF(self)` kept past the end of a method: the object keeps itself alive until
    /// a callback (a C library holds it and releases it later, `uv_close(handle, cb)`), a
    /// deliberate idiom rather than a leak. The matching release is in another function.
    pub(super) fn is_self_keep_alive(&self, st: &State, id: ObjId) -> bool {
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

    pub(super) fn inconsistent(&mut self, detail: Inconsistency) {
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
}
