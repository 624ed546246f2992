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
    Found 2 warnings in 1 file (2 files, 3 functions analysed, 1 skipped)
    1 file could not be analysed
    ");
    let clean = [clean_report()];
    let stats = RunStats::from_reports(&clean);
    insta::assert_snapshot!(render_summary(&clean, &stats, &TextOptions::default()), @"No problems found in 1 file (2 functions analysed, 1 skipped)");
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
        }
    }
}
