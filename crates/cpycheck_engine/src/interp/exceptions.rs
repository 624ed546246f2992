//! Exception state: whether an exception is set on a path, how a call changes it, and the
//! findings about error returns without one and ignored errors.

use super::*;
use crate::budget;
use crate::finding::{Finding, FindingKind, ObjectDesc, OriginKind, Step};
use crate::state::*;
use crate::summary::ReturnSummary;
use cpycheck_contracts::exceptions::{ExcEffect, exc_effect};
use cpycheck_contracts::{ErrorConvention, Returns};
use cpycheck_syntax::Span;

impl<'a> Interp<'a> {
    /// Whether the function's error returns must come with an exception: it is registered
    /// with Python, or declares a `returns-new` / `returns-status` contract.
    pub(super) fn must_raise(&self) -> bool {
        (self.cx.registered && !self.cx.null_is_quiet)
            || self
                .cx
                .declared
                .is_some_and(|d| matches!(d.returns, ReturnSummary::New | ReturnSummary::Status))
    }

    pub(super) fn error_without_exception(&mut self, st: &State, span: Span) {
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
    pub(super) fn ignored_error(&mut self, callee: String, span: Span) {
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

    /// What a call does to the exception state: raise, clear, or (when it can fail) leave it
    /// unknown until its result is tested, with a link that says what the test reveals.
    pub(super) fn exception_effect(
        &self,
        st: &mut State,
        resolved: &Resolved<'_>,
        name: &str,
        result: Value,
    ) {
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
}
