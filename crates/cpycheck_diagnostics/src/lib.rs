//! The diagnostic model: what a finding is, independent of how it is printed.
//!
//! Rules build [`Diagnostic`]s; only `cpycheck_report` turns them into text, JSON or SARIF.

pub use cpycheck_source::Span;

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One step of the path that produces a finding ("new reference from `PyLong_FromLong`",
/// "taken when `PyList_Append` fails", ...). Steps are in path order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    pub span: Span,
    pub message: String,
}

/// A secondary span with a short label, shown under the snippet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable rule code, e.g. `CPY101`.
    pub code: &'static str,
    /// Rule name, e.g. `reference-leak`.
    pub rule: &'static str,
    pub severity: Severity,
    /// One line, lowercase start, no trailing period, C identifiers in backticks.
    pub message: String,
    /// The primary span.
    pub span: Span,
    /// The enclosing C function, when there is one.
    pub function: Option<String>,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
    pub trace: Vec<TraceStep>,
}

/// What analysing one file produced.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// The path as the user gave it (or as found under a directory the user gave).
    pub path: String,
    /// The file's text as analysed (invalid UTF-8 replaced byte for byte), for snippets.
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
    pub functions_analyzed: usize,
    /// Functions not analysed at all (parse error regions, unsupported constructs).
    pub functions_skipped: usize,
    /// Functions whose analysis ran out of budget; their findings so far are kept, and no
    /// finding is ever made from running out.
    pub functions_incomplete: usize,
    /// Analysed functions (counted in `functions_analyzed`) in which statements with a
    /// parse error confined to them were read as opaque: what those statements mention is
    /// unknown to the analysis.
    pub functions_opaque: usize,
    /// A file-level error (unreadable, not text, not C, internal error). The file may still
    /// have partial results.
    pub error: Option<String>,
    /// Error regions in the parse of the prepared text (each `ERROR` or missing node).
    pub parse_error_regions: usize,
    /// Why functions were skipped: reason → number of functions. The counts add up to
    /// `functions_skipped`.
    pub skip_reasons: BTreeMap<String, usize>,
    /// Each skipped function, in file order: where it starts, its name when known, and why.
    pub skipped: Vec<SkippedEntry>,
    /// Limits of the analysis that this file reached without a function being skipped
    /// (macros nested too deep to expand, ...): what → how many times. Shown in the
    /// statistics, so that no limit is reached silently.
    pub limits: BTreeMap<String, usize>,
    /// Wall time spent on this file, when the caller measured it (not deterministic, so
    /// only measured on request).
    pub elapsed: Option<Duration>,
}

/// One function that was not analysed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The span of the function definition.
    pub span: Span,
    pub name: Option<String>,
    pub reason: String,
}

impl FileReport {
    /// Sorts diagnostics into a deterministic order (position, then code, then message).
    pub fn sort(&mut self) {
        self.diagnostics
            .sort_by(|a, b| (a.span, a.code, &a.message).cmp(&(b.span, b.code, &b.message)));
        self.skipped.sort_by_key(|s| s.span);
    }
}
