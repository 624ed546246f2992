//! The fixture harness: every `fixtures/**/*.c` and `fixtures/**/*.pyx` is checked and its
//! diagnostics compared with the `// expect: CODE` (`# expect: CODE`) comments on its lines;
//! fixed twins (`*.fixed.c`, `*.fixed.pyx`) must be silent.
//! The rendered output of each positive fixture is snapshotted. The fixture format is
//! described in `fixtures/README.md`; there is no list to maintain, new files are found by
//! walking the folder.

mod common;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use cpycheck_oracle::fixture::{self, Fixture};
use cpycheck_report::{TextOptions, render_errors, render_text};

fn fixtures() -> Vec<Fixture> {
    let root = common::fixtures_root();
    let all = fixture::load_all(&root)
        .unwrap_or_else(|e| panic!("cannot read fixtures under {}: {e}", root.display()));
    assert!(!all.is_empty(), "no fixtures under {}", root.display());
    all
}

fn path_of(f: &Fixture) -> String {
    format!("fixtures/{}", f.rel_path)
}

#[test]
fn fixtures_report_exactly_their_expectations() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in fixtures() {
        let expected = match &f.expectations {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{}: {e}", path_of(&f)));
                continue;
            }
        };
        let report = common::check(&path_of(&f), f.source.as_bytes());
        let mut problems = fixture::compare(expected, &common::line_codes(&report));
        if let Some(error) = &report.error {
            problems.push(format!("file error: {error}"));
        }
        if report.functions_skipped > 0 {
            problems.push(format!(
                "{} function(s) skipped; fixtures must be fully analysed",
                report.functions_skipped
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", path_of(&f), problems.join("\n    ")));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures do not match their expectations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The rendered text of each positive fixture. Fixed twins are asserted silent above, so
/// their (empty) output is not snapshotted.
#[test]
fn fixture_snapshots() {
    let mut failures = Vec::new();
    for f in fixtures().iter().filter(|f| !f.fixed) {
        let path = path_of(f);
        let report = common::check(&path, f.source.as_bytes());
        let reports = [report];
        let opts = TextOptions::default();
        let text = format!(
            "{}{}",
            render_text(&reports, &opts),
            render_errors(&reports, &opts)
        );
        let name = f
            .rel_path
            .trim_end_matches(".c")
            .trim_end_matches(".pyx")
            .replace('/', "__");
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            insta::with_settings!({
                snapshot_path => "snapshots/fixtures",
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => path.clone(),
            }, {
                insta::assert_snapshot!(name.clone(), text);
            });
        }));
        if outcome.is_err() {
            failures.push(path);
        }
    }
    assert!(
        failures.is_empty(),
        "snapshots changed (review with `cargo insta review`):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_positive_fixture_has_a_fixed_twin() {
    let root = common::fixtures_root();
    let missing: Vec<String> = fixtures()
        .iter()
        .filter(|f| !f.fixed && !fixture::twin_path(&f.path).exists())
        .map(|f| {
            format!(
                "{} has no fixed twin {}",
                path_of(f),
                fixture::twin_path(&f.path)
                    .strip_prefix(&root)
                    .unwrap_or(&f.path)
                    .display()
            )
        })
        .collect();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn fixtures_are_well_formed() {
    let all = fixtures();
    let mut problems: Vec<String> = all
        .iter()
        .flat_map(|f| {
            f.lint()
                .into_iter()
                .map(move |p| format!("{}: {p}", path_of(f)))
        })
        .collect();
    let mut modules: HashMap<&str, &str> = HashMap::new();
    for f in &all {
        if let Some(other) = modules.insert(&f.module, &f.rel_path) {
            problems.push(format!(
                "{} and {other} both define module `{}`",
                f.rel_path, f.module
            ));
        }
        let group = fixture::group(&f.rel_path);
        let known_group = group == "seeds" || cpycheck_rules::rule(group).is_some();
        if !known_group {
            problems.push(format!(
                "{}: folder `{group}` is neither a rule code nor `seeds`",
                path_of(f)
            ));
        }
        if let Ok(expectations) = &f.expectations {
            for e in expectations {
                if cpycheck_rules::rule(&e.code).is_none() {
                    problems.push(format!("{}: unknown rule code {}", path_of(f), e.code));
                }
                if group != "seeds" && e.code != group {
                    problems.push(format!(
                        "{}:{}: expects {} in the {group} folder (seeds/ may mix codes)",
                        path_of(f),
                        e.line,
                        e.code
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// STYLE.md: messages are one line, start lowercase, and have no trailing period; trace
/// steps and labels are one line without a trailing period.
#[test]
fn diagnostic_messages_follow_the_style() {
    let mut problems = Vec::new();
    for f in fixtures() {
        let report = common::check(&path_of(&f), f.source.as_bytes());
        for d in &report.diagnostics {
            let mut texts: Vec<(&str, &str)> = vec![("message", &d.message)];
            texts.extend(d.trace.iter().map(|s| ("trace step", s.message.as_str())));
            texts.extend(d.labels.iter().map(|l| ("label", l.message.as_str())));
            for (what, text) in texts {
                let mut bad = Vec::new();
                if text.trim().is_empty() {
                    bad.push("is empty");
                }
                if text.contains('\n') {
                    bad.push("spans several lines");
                }
                if text.ends_with('.') {
                    bad.push("ends with a period");
                }
                if what == "message" && text.starts_with(|c: char| c.is_uppercase()) {
                    bad.push("starts with an uppercase letter");
                }
                for b in bad {
                    problems.push(format!("{} [{}] {what} {b}: {text:?}", path_of(&f), d.code));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A bug re-inserted into a fixed twin by its `break:` line must also be found statically:
/// the broken twin reports at least one diagnostic of its folder's rule.
#[test]
fn reinserted_bugs_are_found_statically() {
    let mut problems = Vec::new();
    for f in fixtures().iter().filter(|f| f.fixed) {
        let Ok(header) = &f.header else { continue };
        let group = fixture::group(&f.rel_path);
        for b in &header.breaks {
            let broken = match b.apply(&f.source) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(format!("{}: {e}", path_of(f)));
                    continue;
                }
            };
            let report = common::check(&path_of(f), broken.as_bytes());
            let found = report
                .diagnostics
                .iter()
                .any(|d| group == "seeds" || d.code == group);
            if !found {
                problems.push(format!(
                    "{} broken by `s/{}/{}/`: no {group} diagnostic",
                    path_of(f),
                    b.find.replace('\n', "\\n"),
                    b.replace.replace('\n', "\\n")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Bad input never panics: the Cython pipeline (front end and rules) on every prefix of every
/// Cython fixture.
#[test]
fn cython_pipeline_survives_truncated_files() {
    for f in fixtures().iter().filter(|f| f.rel_path.ends_with(".pyx")) {
        let bytes = f.source.as_bytes();
        for end in (0..=bytes.len()).step_by(3) {
            let _ = common::check(&path_of(f), &bytes[..end]);
        }
    }
}
