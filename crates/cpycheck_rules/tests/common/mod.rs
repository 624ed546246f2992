//! Shared by the fixture harness and the oracle test: where the fixtures are, and the
//! static checker as the oracle sees it.

use std::path::PathBuf;

use cpycheck_diagnostics::FileReport;
use cpycheck_oracle::fixture::Expectation;
use cpycheck_rules::{Settings, check_file};
use cpycheck_source::LineIndex;

/// The workspace's `fixtures/` folder.
pub fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Checks a fixture the way the CLI would, with the path relative to the workspace root.
pub fn check(path: &str, bytes: &[u8]) -> FileReport {
    let mut report = check_file(path, bytes, &Settings::default());
    report.sort();
    report
}

/// The `(line, code)` of each diagnostic, as `// expect:` comments write them.
pub fn line_codes(report: &FileReport) -> Vec<Expectation> {
    let index = LineIndex::new(&report.source);
    report
        .diagnostics
        .iter()
        .map(|d| Expectation {
            line: index.line_col(d.span.start).0,
            code: d.code.to_string(),
        })
        .collect()
}

/// The static checker in the shape the oracle takes.
#[allow(dead_code)] // used by the oracle test only
pub fn static_check(path: &str, bytes: &[u8]) -> Vec<Expectation> {
    line_codes(&check(path, bytes))
}
