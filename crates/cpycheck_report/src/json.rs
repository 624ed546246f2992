//! The JSON document. Other tools read it, so its shape only changes with [`JSON_VERSION`]:
//!
//! ```json
//! {"version": 1, "files_analyzed": 3, "functions_analyzed": 41, "functions_skipped": 0,
//!  "diagnostics": [{"code": "CPY101", "rule": "reference-leak", "severity": "warning",
//!     "message": "...", "file": "src/mod.c", "line": 12, "column": 5, "end_line": 12,
//!     "end_column": 30, "function": "mod_frobnicate",
//!     "trace": [{"file": "src/mod.c", "line": 8, "column": 9, "message": "..."}]}],
//!  "errors": [{"file": "bad.c", "message": "..."}],
//!  "statistics": {"files_with_errors": 1, "functions_incomplete": 2,
//!     "functions_opaque": 1, "parse_error_regions": 0,
//!     "skip_reasons": {"parse error regions in the body": 0},
//!     "files": [{"file": "src/mod.c", "lines": 120, "functions_analyzed": 41,
//!         "functions_skipped": 0, "functions_incomplete": 2, "functions_opaque": 1,
//!         "parse_error_regions": 0, "findings": 1, "elapsed_ms": 3.1,
//!         "skipped": [{"line": 80, "function": "mod_odd", "reason": "..."}]}]}}
//! ```
//!
//! `statistics` was added later without a version change (fields are only ever added);
//! a file's `elapsed_ms` is present only when the run measured it, its `skipped` list only
//! when it has skipped functions; `limits` (overall and per file, present only when
//! reached) counts the analysis limits reached without skipping a function, e.g.
//! `{"macros nested more than 16 deep, not expanded": 1}` (functions).
//! `functions_opaque` counts analysed functions in which
//! statements with a confined parse error were read as opaque (see the syntax model).

use cpycheck_diagnostics::FileReport;
use cpycheck_source::LineIndex;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::{Location, RunStats, sorted_diagnostics, sorted_reports};

/// The version of the JSON document's shape.
pub const JSON_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonDocument<'a> {
    version: u32,
    files_analyzed: usize,
    functions_analyzed: usize,
    functions_skipped: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
    errors: Vec<JsonError<'a>>,
    statistics: JsonStatistics<'a>,
}

#[derive(Serialize)]
struct JsonStatistics<'a> {
    files_with_errors: usize,
    functions_incomplete: usize,
    functions_opaque: usize,
    parse_error_regions: usize,
    skip_reasons: BTreeMap<&'a str, usize>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    limits: BTreeMap<&'a str, usize>,
    files: Vec<JsonFileStatistics<'a>>,
}

#[derive(Serialize)]
struct JsonFileStatistics<'a> {
    file: &'a str,
    lines: usize,
    functions_analyzed: usize,
    functions_skipped: usize,
    functions_incomplete: usize,
    functions_opaque: usize,
    parse_error_regions: usize,
    findings: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed_ms: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<JsonSkipped<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    limits: BTreeMap<&'a str, usize>,
}

#[derive(Serialize)]
struct JsonSkipped<'a> {
    line: usize,
    function: Option<&'a str>,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    rule: &'a str,
    severity: &'a str,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    function: Option<&'a str>,
    trace: Vec<JsonTraceStep<'a>>,
}

#[derive(Serialize)]
struct JsonTraceStep<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonError<'a> {
    file: &'a str,
    message: &'a str,
}

/// The skipped functions of one file, with the line where each starts.
fn skipped_functions(report: &FileReport) -> Vec<JsonSkipped<'_>> {
    if report.skipped.is_empty() {
        return Vec::new();
    }
    let index = LineIndex::new(&report.source);
    report
        .skipped
        .iter()
        .map(|s| JsonSkipped {
            line: Location::of(s.span, &report.source, &index).line,
            function: s.name.as_deref(),
            reason: &s.reason,
        })
        .collect()
}

/// Renders the JSON document (pretty-printed, ending in a newline). The counts come from
/// `stats`; diagnostics and errors from `reports`, files sorted by path.
pub fn render_json(reports: &[FileReport], stats: &RunStats) -> String {
    let mut diagnostics = Vec::new();
    let mut errors = Vec::new();
    let mut statistics = JsonStatistics {
        files_with_errors: stats.files_with_errors,
        functions_incomplete: stats.functions_incomplete,
        functions_opaque: 0,
        parse_error_regions: 0,
        skip_reasons: BTreeMap::new(),
        limits: BTreeMap::new(),
        files: Vec::new(),
    };
    for report in sorted_reports(reports) {
        statistics.parse_error_regions += report.parse_error_regions;
        statistics.functions_opaque += report.functions_opaque;
        for (reason, count) in &report.skip_reasons {
            *statistics.skip_reasons.entry(reason).or_default() += count;
        }
        for (limit, count) in &report.limits {
            *statistics.limits.entry(limit).or_default() += count;
        }
        statistics.files.push(JsonFileStatistics {
            file: &report.path,
            lines: report.source.lines().count(),
            functions_analyzed: report.functions_analyzed,
            functions_skipped: report.functions_skipped,
            functions_incomplete: report.functions_incomplete,
            functions_opaque: report.functions_opaque,
            parse_error_regions: report.parse_error_regions,
            findings: report.diagnostics.len(),
            elapsed_ms: report.elapsed.map(|d| d.as_secs_f64() * 1000.0),
            skipped: skipped_functions(report),
            limits: report
                .limits
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect(),
        });
        if let Some(message) = &report.error {
            errors.push(JsonError {
                file: &report.path,
                message,
            });
        }
        if report.diagnostics.is_empty() {
            continue;
        }
        let index = LineIndex::new(&report.source);
        for diagnostic in sorted_diagnostics(report) {
            let loc = Location::of(diagnostic.span, &report.source, &index);
            let trace = diagnostic
                .trace
                .iter()
                .map(|step| {
                    let step_loc = Location::of(step.span, &report.source, &index);
                    JsonTraceStep {
                        file: &report.path,
                        line: step_loc.line,
                        column: step_loc.column,
                        message: &step.message,
                    }
                })
                .collect();
            diagnostics.push(JsonDiagnostic {
                code: diagnostic.code,
                rule: diagnostic.rule,
                severity: diagnostic.severity.as_str(),
                message: &diagnostic.message,
                file: &report.path,
                line: loc.line,
                column: loc.column,
                end_line: loc.end_line,
                end_column: loc.end_column,
                function: diagnostic.function.as_deref(),
                trace,
            });
        }
    }
    let document = JsonDocument {
        version: JSON_VERSION,
        files_analyzed: stats.files_analyzed,
        functions_analyzed: stats.functions_analyzed,
        functions_skipped: stats.functions_skipped,
        diagnostics,
        errors,
        statistics,
    };
    let mut out = serde_json::to_string_pretty(&document)
        .expect("the JSON document has only string keys and plain values");
    out.push('\n');
    out
}
