//! The ownership engine: a path-sensitive abstract interpreter over the IR.
//!
//! Each `PyObject *` value is a symbolic object with an ownership state (owned ×n, borrowed,
//! stolen, released) and a nullness. Branches refine nullness and the outcome of fallible
//! calls, so the NULL path of a failed call owns nothing. Paths are explored depth-first with
//! states deduplicated per block (up to renaming of objects); loops reach a fixed point
//! because unreachable objects are collected after every statement.
//!
//! Architecture invariant: the engine knows no rule codes and no output formats. It reports
//! [`Finding`]s; the rules crate turns them into diagnostics.

mod budget;
mod deferred;
mod finding;
pub mod formats;
mod interp;
mod state;
mod summary;

pub use budget::*;
pub use finding::*;
pub use summary::*;

use cpycheck_ir::Body;

/// What the engine needs to know about the function's surroundings.
pub struct EngineContext<'a> {
    /// The function is registered with Python (method table, type slot, module init): its
    /// object parameters are borrowed and it must return a new reference.
    pub registered: bool,
    /// The function's NULL result needs no exception (`tp_iternext`: NULL alone means the
    /// iterator is exhausted).
    pub null_is_quiet: bool,
    pub python_version: (u8, u8),
    /// Contracts of the user's own functions (inferred or declared), by name.
    pub summary: &'a dyn Fn(&str) -> Option<&'a Summary>,
    /// The contract the user declared for this function, which its body is checked against
    /// (a parameter it steals starts out owned; `returns-new` makes a borrowed return a bug).
    pub declared: Option<&'a Summary>,
}

pub struct FunctionResult {
    pub findings: Vec<Finding>,
    /// A budget ran out: some paths were not explored.
    pub incomplete: bool,
    /// The contract inferred from the body, for the function's callers.
    pub summary: Summary,
}

/// Analyses one function.
pub fn analyze<'a>(body: &'a Body, cx: &'a EngineContext<'a>) -> FunctionResult {
    interp::Interp::run(body, cx)
}
