//! Per-function IR: a control-flow graph whose statements are ownership-relevant operations.
//!
//! Architecture invariant: the IR knows the syntax model and the macro table, nothing of
//! tree-sitter and nothing of ownership states or rules.

mod ir;
mod local_macros;
mod lower;

pub use ir::*;
pub use local_macros::{DefineText, LocalMacro, LocalMacros, UndefText};
pub use lower::{LowerContext, MAX_EXPANSION_DEPTH, OPAQUE_CALLEE, is_object_type, lower_function};
