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
mod finding;
pub mod formats;
mod interp;
mod state;

pub use budget::*;
pub use finding::*;

use cpycheck_ir::Body;

/// What a user function is known to return, inferred from its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnSummary {
    /// Every path returns a new reference (or NULL).
    New,
    /// Every path returns a borrowed reference (or NULL).
    Borrowed,
    /// Mixed, or not an object.
    Unknown,
}

/// What the engine needs to know about the function's surroundings.
pub struct EngineContext<'a> {
    /// The function is registered with Python (method table, type slot, module init): its
    /// object parameters are borrowed and it must return a new reference.
    pub registered: bool,
    pub python_version: (u8, u8),
    /// Summaries of the user's own functions, by name.
    pub summary: &'a dyn Fn(&str) -> Option<ReturnSummary>,
}

pub struct FunctionResult {
    pub findings: Vec<Finding>,
    /// A budget ran out: some paths were not explored.
    pub incomplete: bool,
    pub returns: ReturnSummary,
}

/// Analyses one function.
pub fn analyze(body: &Body, cx: &EngineContext<'_>) -> FunctionResult {
    interp::Interp::run(body, cx)
}
