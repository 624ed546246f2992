//! The rules and the per-file check that runs the whole pipeline:
//! source prep → syntax model → IR → ownership engine → rules → diagnostics.

pub mod annotations;
mod api_coverage;
pub mod registry;
pub mod rules;

mod check;
mod format_calls;
mod lifecycle;

pub use api_coverage::{ApiCalls, unknown_api_calls};
pub use check::{
    ExternalSummaries, FileExports, LIMIT_MACRO_DEPTH, SKIP_TOO_DEEP, Settings,
    check_cython_module, check_file, check_file_with, dump_cfg, dump_summaries, recheck_file,
};
pub use registry::RuleMeta;

/// All rules, in code order.
pub fn all_rules() -> &'static [RuleMeta] {
    rules::ALL
}

/// Looks a rule up by its code (`CPY101`) or name (`reference-leak`).
pub fn rule(code_or_name: &str) -> Option<&'static RuleMeta> {
    rules::ALL
        .iter()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}
