//! GitHub Actions workflow commands: one `::warning` annotation per diagnostic, which
//! GitHub shows on the pull request's diff
//! (<https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions>).
//!
//! `::warning file=src/mod.c,line=12,col=5,endLine=12,endColumn=30,title=CPY101 (reference-leak)::message`
//!
//! Columns count characters (Unicode scalar values), 1-based, as the text format's do;
//! `endColumn` is exclusive. Property values escape `%`, CR, LF, `:` and `,`; the message
//! escapes `%`, CR and LF, as the runner's parser expects.

use std::fmt::Write as _;

use cpycheck_diagnostics::FileReport;
use cpycheck_source::LineIndex;

use crate::{Location, sorted_diagnostics, sorted_reports};

/// Renders one annotation per diagnostic, each on its own line. File-level errors become
/// `::error` annotations naming the file.
pub fn render_github(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in sorted_reports(reports) {
        if let Some(error) = &report.error {
            let _ = writeln!(
                out,
                "::error file={},title=cpycheck::{}",
                property(&report.path),
                data(&format!("{}: {error}", report.path))
            );
        }
        if report.diagnostics.is_empty() {
            continue;
        }
        let index = LineIndex::new(&report.source);
        for diagnostic in sorted_diagnostics(report) {
            let loc = Location::of(diagnostic.span, &report.source, &index)
                .in_chars(&report.source, &index);
            let _ = writeln!(
                out,
                "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
                diagnostic.severity.as_str(),
                property(&report.path),
                loc.line,
                loc.column,
                loc.end_line,
                loc.end_column,
                property(&format!("{} ({})", diagnostic.code, diagnostic.rule)),
                data(&format!(
                    "{}:{}:{}: {} [{}]",
                    report.path, loc.line, loc.column, diagnostic.message, diagnostic.code
                ))
            );
        }
    }
    out
}

/// Escapes a command's message.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(data("50% done\r\nok"), "50%25 done%0D%0Aok");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
