//! Renderer tests on small hand-made reports, snapshotted with insta.

use cpycheck_diagnostics::{Diagnostic, FileReport, Label, Severity, Span, TraceStep};

use crate::*;

const SPAM_C: &str = r#"#include <Python.h>

static PyObject *
spam_squares(PyObject *module, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    for (long i = 0; i < n; i++) {
        PyObject *item = PyLong_FromLong(i * i);
        if (item == NULL)
            goto error;
        if (PyList_Append(list, item) < 0)
            goto error;
        Py_DECREF(item);
    }
    return list;
error:
    Py_DECREF(list);
    return NULL;
}
"#;

/// The span of the `nth` (0-based) occurrence of `needle` in `text`.
fn find(text: &str, needle: &str, nth: usize) -> Span {
    let start = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} #{nth} not in text"))
        .0;
    Span::new(start, start + needle.len())
}

fn leak() -> Diagnostic {
    Diagnostic {
        code: "CPY101",
        rule: "reference-leak",
        severity: Severity::Warning,
        message: "new reference `item` is leaked when `PyList_Append` fails".into(),
        span: find(SPAM_C, "return NULL;", 1),
        function: Some("spam_squares".into()),
        labels: vec![Label {
            span: find(SPAM_C, "PyList_Append(list, item) < 0", 0),
            message: "`PyList_Append` fails here".into(),
        }],
        help: Some("release `item` with `Py_DECREF` before `goto error`".into()),
        notes: vec![],
        trace: vec![
            TraceStep {
                span: find(SPAM_C, "PyLong_FromLong(i * i)", 0),
                message: "new reference from `PyLong_FromLong`".into(),
            },
            TraceStep {
                span: find(SPAM_C, "PyList_Append(list, item) < 0", 0),
                message: "taken when `PyList_Append` fails".into(),
            },
            TraceStep {
                span: find(SPAM_C, "goto error;", 1),
                message: "jumps to `error`".into(),
            },
            TraceStep {
                span: find(SPAM_C, "return NULL;", 1),
                message: "returns without releasing `item`".into(),
            },
        ],
    }
}

fn borrowed_release() -> Diagnostic {
    Diagnostic {
        code: "CPY103",
        rule: "release-of-borrowed",
        severity: Severity::Warning,
        message: "`arg` is released but this function does not own it".into(),
        span: find(SPAM_C, "PyLong_AsLong(arg)", 0),
        function: None,
        labels: vec![Label {
            span: find(SPAM_C, "PyObject *arg", 0),
            message: "borrowed from the caller".into(),
        }],
        help: None,
        notes: vec!["arguments of methods are borrowed references".into()],
        trace: vec![],
    }
}

fn spam_report() -> FileReport {
    FileReport {
        path: "src/spam.c".into(),
        source: SPAM_C.into(),
        // Out of order on purpose: renderers sort by position.
        diagnostics: vec![leak(), borrowed_release()],
        functions_analyzed: 1,
        ..FileReport::default()
    }
}

fn clean_report() -> FileReport {
    FileReport {
        path: "src/clean.c".into(),
        source: "int x;\n".into(),
        functions_analyzed: 2,
        functions_skipped: 1,
        parse_error_regions: 3,
        skip_reasons: [("parse error regions in the body".to_string(), 1)].into(),
        ..FileReport::default()
    }
}

fn error_report() -> FileReport {
    FileReport {
        path: "data.bin".into(),
        error: Some("binary file (contains NUL bytes); not analysed".into()),
        ..FileReport::default()
    }
}

fn all_reports() -> Vec<FileReport> {
    vec![spam_report(), error_report(), clean_report()]
}

#[test]
fn text() {
    let out = render_text(&all_reports(), &TextOptions { color: false });
    insta::assert_snapshot!(out);
}

#[test]
fn text_without_color_has_no_escapes() {
    let out = render_text(&all_reports(), &TextOptions { color: false });
    assert!(!out.contains('\x1b'));
    let colored = render_text(&all_reports(), &TextOptions { color: true });
    assert!(colored.contains('\x1b'));
}

#[test]
fn concise() {
    insta::assert_snapshot!(render_concise(&all_reports()), @r"
    src/spam.c:6:14: warning: `arg` is released but this function does not own it [CPY103]
    src/spam.c:21:5: warning: new reference `item` is leaked when `PyList_Append` fails [CPY101]
    ");
}

#[test]
fn json() {
    let reports = all_reports();
    insta::assert_snapshot!(render_json(&reports, &RunStats::from_reports(&reports)));
}

#[test]
fn json_is_valid_and_ends_in_newline() {
    let reports = all_reports();
    let out = render_json(&reports, &RunStats::from_reports(&reports));
    assert!(out.ends_with('\n'));
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["files_analyzed"], 2);
    assert_eq!(value["diagnostics"][0]["function"], serde_json::Value::Null);
    assert_eq!(value["diagnostics"][1]["function"], "spam_squares");
}

#[test]
fn summary() {
    let reports = all_reports();
    let stats = RunStats::from_reports(&reports);
    insta::assert_snapshot!(render_summary(&reports, &stats, &TextOptions::default()), @r"
    1  CPY101  reference-leak
    1  CPY103  release-of-borrowed
    Found 2 warnings in 1 file (2 files, 3 functions analysed, 1 skipped)
    1 file could not be analysed
    ");
    let clean = [clean_report()];
    let stats = RunStats {
        suppressed: 2,
        elapsed: Some(std::time::Duration::from_millis(1234)),
        ..RunStats::from_reports(&clean)
    };
    insta::assert_snapshot!(render_summary(&clean, &stats, &TextOptions::default()), @"No problems found in 1 file (2 functions analysed, 1 skipped, 2 suppressed, 1.23s)");
}

fn sarif_rules() -> Vec<SarifRule<'static>> {
    vec![
        SarifRule {
            code: "CPY101",
            name: "reference-leak",
            summary: "Finds new references that are never released",
            docs: "## What it does\nFinds new references that are never released.\n",
        },
        SarifRule {
            code: "CPY103",
            name: "release-of-borrowed",
            summary: "Finds releases of borrowed references",
            docs: "## What it does\nFinds releases of borrowed references.\n",
        },
    ]
}

fn sarif(reports: &[FileReport]) -> String {
    let rules = sarif_rules();
    let tool = SarifTool {
        name: "cpycheck",
        version: "0.1.0",
        rules: &rules,
    };
    render_sarif(reports, &RunStats::from_reports(reports), &tool)
}

#[test]
fn sarif_snapshot() {
    insta::assert_snapshot!(sarif(&all_reports()));
}

/// The official SARIF 2.1.0 schema (vendored under `tests/data`, see its README) accepts
/// the log, and rejects a log with a field it does not define, so the check is real.
#[test]
fn sarif_is_valid_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../tests/data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let mut clean = clean_report();
    clean.path = "/abs/dir with space/ok.c".into();
    for reports in [all_reports(), vec![clean], vec![]] {
        let log: serde_json::Value = serde_json::from_str(&sarif(&reports)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    let mut bad: serde_json::Value = serde_json::from_str(&sarif(&all_reports())).unwrap();
    bad["runs"][0]["results"][0]["region"] = serde_json::json!({});
    assert!(!validator.is_valid(&bad));
    let mut bad: serde_json::Value = serde_json::from_str(&sarif(&all_reports())).unwrap();
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        serde_json::json!(0);
    assert!(!validator.is_valid(&bad));
}

#[test]
fn sarif_carries_rules_trace_and_errors() {
    let log: serde_json::Value = serde_json::from_str(&sarif(&all_reports())).unwrap();
    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "CPY101");
    assert!(
        run["tool"]["driver"]["rules"][0]["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("## What it does")
    );
    let leak = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "CPY101")
        .unwrap();
    assert_eq!(leak["ruleIndex"], 0);
    let steps = leak["codeFlows"][0]["threadFlows"][0]["locations"]
        .as_array()
        .unwrap();
    assert_eq!(steps.len(), leak_trace_len());
    assert_eq!(
        steps[0]["location"]["message"]["text"],
        "new reference from `PyLong_FromLong`"
    );
    assert_eq!(
        leak["locations"][0]["logicalLocations"][0]["name"],
        "spam_squares"
    );
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
}

fn leak_trace_len() -> usize {
    leak().trace.len()
}

#[test]
fn errors() {
    insta::assert_snapshot!(render_errors(&all_reports(), &TextOptions::default()), @"error: data.bin: binary file (contains NUL bytes); not analysed");
}

#[test]
fn order_does_not_depend_on_input_order() {
    let mut reversed = all_reports();
    reversed.reverse();
    for report in &mut reversed {
        report.diagnostics.reverse();
    }
    let opts = TextOptions::default();
    let stats = RunStats::from_reports(&reversed);
    assert_eq!(
        render_text(&reversed, &opts),
        render_text(&all_reports(), &opts)
    );
    assert_eq!(render_concise(&reversed), render_concise(&all_reports()));
    assert_eq!(
        render_json(&reversed, &stats),
        render_json(&all_reports(), &stats)
    );
    assert_eq!(sarif(&reversed), sarif(&all_reports()));
}

#[test]
fn location_is_one_based_with_exclusive_end() {
    let text = "ab\ncdef\n";
    let index = cpycheck_source::LineIndex::new(text);
    let loc = Location::of(Span::new(4, 6), text, &index);
    assert_eq!(
        loc,
        Location {
            line: 2,
            column: 2,
            end_line: 2,
            end_column: 4
        }
    );
}

/// Spans past the end of the text, reversed spans, spans inside a multi-byte character and
/// empty sources must render, never panic.
#[test]
fn bad_spans_do_not_panic() {
    let source = "é = 1;\nx\n";
    let mut diagnostic = borrowed_release();
    diagnostic.labels.clear();
    let spans = [
        Span::new(1, 2),
        Span::new(5, 3),
        Span::new(100, 200),
        Span::new(0, 0),
        Span::new(source.len(), source.len()),
    ];
    for span in spans {
        for text in [source, ""] {
            diagnostic.span = span;
            diagnostic.trace = vec![TraceStep {
                span,
                message: "here".into(),
            }];
            let report = FileReport {
                path: "odd.c".into(),
                source: text.into(),
                diagnostics: vec![diagnostic.clone()],
                ..FileReport::default()
            };
            let reports = [report];
            let stats = RunStats::from_reports(&reports);
            assert!(!render_text(&reports, &TextOptions::default()).is_empty());
            assert!(!render_concise(&reports).is_empty());
            assert!(!render_json(&reports, &stats).is_empty());
            assert!(!sarif(&reports).is_empty());
        }
    }
}
