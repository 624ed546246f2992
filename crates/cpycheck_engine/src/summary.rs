//! Contracts of the user's own functions: inferred from their bodies, or declared by the user.
//!
//! A summary says what a call does, the same way an API contract does: what it returns, what
//! it does with each object argument, and whether it may run Python code. Summaries are
//! inferred callee-first; a function whose summary is not known yet (recursion, another
//! file, a budget that ran out) is an unknown function.

use cpycheck_contracts::annotation::Annotation;
use cpycheck_syntax::Span;

/// What a user function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnSummary {
    /// Every path returns a new reference (or NULL).
    New,
    /// Every path returns a borrowed reference (or NULL).
    Borrowed,
    /// An `int` that is `-1` on error.
    Status,
    /// One of its arguments, as it is (no reference added): the caller gets an alias.
    Arg(usize),
    /// Mixed, or nothing we track.
    Unknown,
}

/// What a user function does with one of its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamSummary {
    /// Only looks at the object.
    Borrow,
    /// Looks at it and may keep a reference of its own (stores it in a container).
    Store,
    /// Takes over the caller's reference on every path.
    Steal,
    /// Takes over the caller's reference when it succeeds (returns `>= 0`).
    StealOnSuccess,
    /// Takes over the caller's reference when it fails (returns `-1`): it cleans up for its
    /// caller on the error path.
    StealOnFailure,
    /// Not an object, or not known (passed to an unknown function, paths disagree).
    Unknown,
}

/// The contract of one user function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub returns: ReturnSummary,
    /// One entry per parameter, in order.
    pub params: Vec<ParamSummary>,
    /// The function may run Python code (and so free objects its caller borrows).
    pub runs_python: bool,
    /// Whether the function's error returns set an exception: `Some(true)` on every error
    /// path, `Some(false)` on none, `None` when unknown or mixed.
    pub error_sets_exception: Option<bool>,
    /// Per parameter: the function may change it as a container (remove items, call its
    /// methods), which may free items the caller borrowed from it.
    pub mutates: Vec<bool>,
    /// The function never returns: every path it has ends the process (`abort()`,
    /// `Py_FatalError()`) or never ends. A call to it ends its caller's path.
    pub noreturn: bool,
    /// Where the contract came from, for messages.
    pub source: SummarySource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummarySource {
    /// Inferred from the function's body.
    Inferred,
    /// Declared in a `cpycheck:` comment or in the configuration file.
    Declared,
}

impl Summary {
    /// The summary of a function nothing is known about.
    pub fn unknown(params: usize) -> Summary {
        Summary {
            returns: ReturnSummary::Unknown,
            params: vec![ParamSummary::Unknown; params],
            runs_python: true,
            error_sets_exception: None,
            mutates: vec![false; params],
            noreturn: false,
            source: SummarySource::Inferred,
        }
    }

    /// Whether the contract says more than [`Summary::unknown`] about ownership.
    pub fn is_informative(&self) -> bool {
        self.returns != ReturnSummary::Unknown
            || self.params.iter().any(|p| *p != ParamSummary::Unknown)
            || self.mutates.iter().any(|m| *m)
            || self.noreturn
    }

    /// The contract a user declared. `params` are the function's parameter names, when the
    /// declaration is known (annotations may name parameters); parameters it does not name
    /// are borrowed. Returns an error for a parameter that does not exist.
    pub fn declared(annotations: &[Annotation], params: &[&str]) -> Result<Summary, String> {
        let mut s = Summary {
            returns: ReturnSummary::Unknown,
            params: vec![ParamSummary::Borrow; params.len()],
            runs_python: true,
            error_sets_exception: Some(true),
            mutates: vec![false; params.len()],
            noreturn: false,
            source: SummarySource::Declared,
        };
        for a in annotations {
            match a {
                Annotation::ReturnsNew => s.returns = ReturnSummary::New,
                Annotation::ReturnsBorrowed => s.returns = ReturnSummary::Borrowed,
                Annotation::ReturnsStatus => s.returns = ReturnSummary::Status,
                Annotation::NoPython => s.runs_python = false,
                Annotation::Steals(p) | Annotation::StealsOnSuccess(p) => {
                    let Some(i) = p.index(params) else {
                        return Err(format!("`{a}`: no parameter `{p}`"));
                    };
                    s.params[i] = if matches!(a, Annotation::Steals(_)) {
                        ParamSummary::Steal
                    } else {
                        ParamSummary::StealOnSuccess
                    };
                }
            }
        }
        Ok(s)
    }
}

/// Where a function's paths disagree about its contract: the finding the inference makes
/// instead of silently picking one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inconsistency {
    /// Returns a new reference at `new_at` and a borrowed one at `borrowed_at`.
    Returns { new_at: Span, borrowed_at: Span },
    /// Takes over the reference to parameter `param` on the path returning at `steals_at`
    /// but not on the path returning at `keeps_at`.
    Steals {
        param: String,
        steals_at: Span,
        keeps_at: Span,
    },
}
