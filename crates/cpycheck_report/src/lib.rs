//! Report renderers: the only place diagnostics are serialised.
//!
//! Every renderer takes the [`FileReport`]s of a run in any order and produces a `String`;
//! printing is the CLI's job. Output order is deterministic: files sorted by path,
//! diagnostics by position (then code, then message), whatever order the files were
//! analysed in.
//!
//! - [`render_text`]: rustc-style snippets with the numbered path trace.
//! - [`render_concise`]: `path:line:col: warning: message [CPY101]`, one line each.
//! - [`render_json`]: the versioned JSON document other tools read.
//! - [`render_sarif`]: SARIF 2.1.0 for code-scanning dashboards.
//! - [`render_github`]: GitHub Actions `::warning` annotations.
//! - [`render_gitlab`]: GitLab Code Quality JSON.
//! - [`render_summary`] and [`render_errors`]: the closing summary (findings per rule, then
//!   a line of counts) and the file-level errors, for the text formats.

mod concise;
mod github;
mod gitlab;
mod json;
mod location;
mod sarif;
mod text;

pub use concise::render_concise;
pub use github::render_github;
pub use gitlab::render_gitlab;
pub use json::{JSON_VERSION, render_json};
pub use location::Location;
pub use sarif::{SARIF_VERSION, SarifRule, SarifTool, render_sarif};
pub use text::{TextOptions, render_errors, render_summary, render_text};

use cpycheck_diagnostics::{Diagnostic, FileReport};

/// Run-wide statistics, shown in the summary and at the top of the JSON document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Files analysed without a file-level error.
    pub files_analyzed: usize,
    /// Files that could not be analysed (unreadable, binary, internal error, ...).
    pub files_with_errors: usize,
    pub functions_analyzed: usize,
    pub functions_skipped: usize,
    pub functions_incomplete: usize,
    /// Findings removed by suppression comments (not counting rules that were not
    /// selected). Set by the caller that applied the suppressions.
    pub suppressed: usize,
    /// How long the run took, when the caller measured it.
    pub elapsed: Option<std::time::Duration>,
}

impl RunStats {
    /// Adds up the counts of every report.
    pub fn from_reports(reports: &[FileReport]) -> RunStats {
        let mut stats = RunStats::default();
        for report in reports {
            if report.error.is_some() {
                stats.files_with_errors += 1;
            } else {
                stats.files_analyzed += 1;
            }
            stats.functions_analyzed += report.functions_analyzed;
            stats.functions_skipped += report.functions_skipped;
            stats.functions_incomplete += report.functions_incomplete;
        }
        stats
    }
}

/// The reports sorted by path (stable, so equal paths keep their order).
fn sorted_reports(reports: &[FileReport]) -> Vec<&FileReport> {
    let mut sorted: Vec<&FileReport> = reports.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    sorted
}

/// A report's diagnostics in position order, like [`FileReport::sort`].
fn sorted_diagnostics(report: &FileReport) -> Vec<&Diagnostic> {
    let mut sorted: Vec<&Diagnostic> = report.diagnostics.iter().collect();
    sorted.sort_by(|a, b| (a.span, a.code, &a.message).cmp(&(b.span, b.code, &b.message)));
    sorted
}

#[cfg(test)]
mod tests;
