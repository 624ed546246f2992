//! `path:line:col: warning: message [CPY101]`, one line per diagnostic: the form editors'
//! and CI's problem matchers parse (the same shape as gcc's).

use std::fmt::Write as _;

use cpycheck_diagnostics::FileReport;
use cpycheck_source::LineIndex;

use crate::{Location, sorted_diagnostics, sorted_reports};

/// Renders one line per diagnostic, each ending in a newline. File-level errors are not
/// included (see [`render_errors`](crate::render_errors)).
pub fn render_concise(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in sorted_reports(reports) {
        if report.diagnostics.is_empty() {
            continue;
        }
        let index = LineIndex::new(&report.source);
        for diagnostic in sorted_diagnostics(report) {
            let loc = Location::of(diagnostic.span, &report.source, &index);
            let _ = writeln!(
                out,
                "{}:{}:{}: {}: {} [{}]",
                report.path,
                loc.line,
                loc.column,
                diagnostic.severity.as_str(),
                diagnostic.message,
                diagnostic.code
            );
        }
    }
    out
}
