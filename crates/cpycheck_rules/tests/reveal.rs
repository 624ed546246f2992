//! Engine-state tests: C files under `tests/reveal/` call `cpycheck_reveal(x)` and write the
//! expected states as `// revealed: STATE | STATE` comments on the same line.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn reveal_states_match() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reveal");
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "c") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let report =
            cpycheck_rules::check_file(&path.display().to_string(), &bytes, &Default::default());
        let index = cpycheck_source::LineIndex::new(&report.source);
        for (i, line) in report.source.lines().enumerate() {
            let got: BTreeSet<String> = report
                .diagnostics
                .iter()
                .filter(|d| d.code == "reveal" && index.line_col(d.span.start).0 == i + 1)
                .map(|d| d.message.trim_start_matches("revealed: ").to_string())
                .collect();
            let want: BTreeSet<String> = line
                .split_once("// revealed:")
                .map(|(_, s)| s.split('|').map(|x| x.trim().to_string()).collect())
                .unwrap_or_default();
            if !want.is_empty() {
                checked += 1;
            }
            if got != want {
                failures.push(format!(
                    "{}:{}: expected {want:?}, engine revealed {got:?}",
                    path.display(),
                    i + 1
                ));
            }
        }
        let other: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.code != "reveal")
            .collect();
        if !other.is_empty() {
            failures.push(format!(
                "{}: reveal files must be bug-free, got {other:?}",
                path.display()
            ));
        }
    }
    assert!(
        checked >= 10,
        "too few reveal expectations found ({checked})"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
