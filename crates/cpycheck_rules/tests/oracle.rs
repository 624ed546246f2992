//! The runtime oracle, as a test: every fixture is compiled against the debug interpreter
//! and run — positives must leak or crash as their header promises, fixed twins must run
//! clean — and checked statically: the positives report their `// expect:` codes on their
//! lines, the twins nothing. A second test re-inserts the bugs named by the twins' `break:`
//! lines and requires the oracle to see each one.
//!
//! Needs gcc, python3.11-dbg and, for the `.pyx` fixtures, Cython (the pinned version,
//! installed by `.ci/run`); without them the tests fail (never skip) and say what to
//! install. `cargo xtask oracle` runs the same code from the command line.

mod common;

use std::io::Write as _;

use cpycheck_oracle::{MIN_PROVEN_SHARE, Options, Report};

/// Prints past the test harness's output capture, so the summary shows in every run.
fn show(lines: &[String]) {
    let mut err = std::io::stderr().lock();
    for line in lines {
        let _ = writeln!(err, "{line}");
    }
}

fn run(options: &Options<'_>) -> Report {
    cpycheck_oracle::run(&common::fixtures_root(), options).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn oracle_proves_every_fixture() {
    let report = run(&Options {
        runtime: true,
        static_check: Some(&common::static_check),
        ..Options::default()
    });
    show(&report.summary());
    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "the oracle failed for {} fixture half(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        report.proven_share() >= MIN_PROVEN_SHARE,
        "only {:.0}% of positive fixtures are proven at runtime (need {:.0}%)",
        report.proven_share() * 100.0,
        MIN_PROVEN_SHARE * 100.0
    );
}

#[test]
fn reinserted_bugs_fail_the_oracle() {
    let report = run(&Options {
        breaks: true,
        ..Options::default()
    });
    let summary = report.summary();
    show(&summary[summary.len() - 2..]);
    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "re-inserting a bug into a fixed twin went unnoticed:\n{}",
        failures.join("\n\n")
    );
    // Every rule's fixtures carry at least one re-insertable bug.
    for group in [
        "CPY101", "CPY102", "CPY103", "CPY104", "CPY105", "CPY106", "CPY107", "CPY108", "CPY201",
        "CPY202", "CPY203", "CPY301", "CPY302", "CPY303", "CPY304", "CPY305", "CPY306", "CPY307",
        "CPY308", "CPY401", "CPY402", "CPY403", "CPY501", "CPY502", "CPY503", "CPY504", "CPY505",
        "seeds",
    ] {
        let prefix = format!("{group}/");
        assert!(
            report
                .breaks
                .iter()
                .any(|b| b.rel_path.starts_with(&prefix)),
            "no fixed twin under {group}/ has a `break:` line"
        );
    }
}
