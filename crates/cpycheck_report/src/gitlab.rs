//! GitLab Code Quality: a JSON array of issues in the Code Climate subset GitLab reads
//! (<https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format>):
//! `description`, `check_name`, `fingerprint`, `severity`, and `location.path` with
//! `location.lines.begin`/`end` (1-based lines; GitLab shows lines, not columns).
//!
//! The fingerprint must be unique per issue and stable from run to run, so that GitLab can
//! tell new findings from old ones: it hashes the rule, the path and the message (not the
//! line, which moves with unrelated edits), plus a counter that tells identical findings in
//! one file apart. The hash is 64-bit FNV-1a, written here (ten lines) because std's
//! `DefaultHasher` may change between Rust releases.

use cpycheck_diagnostics::FileReport;
use cpycheck_source::LineIndex;
use serde_json::{Value, json};

use crate::{Location, sorted_diagnostics, sorted_reports};

/// Renders the Code Quality report. File-level errors are not issues of the code and are
/// left to stderr.
pub fn render_gitlab(reports: &[FileReport]) -> String {
    let mut issues: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashMap::<u64, u32>::new();
    for report in sorted_reports(reports) {
        let index = LineIndex::new(&report.source);
        for diagnostic in sorted_diagnostics(report) {
            let loc = Location::of(diagnostic.span, &report.source, &index);
            let base = fnv1a(&[
                diagnostic.code.as_bytes(),
                report.path.as_bytes(),
                diagnostic.message.as_bytes(),
            ]);
            let n = seen.entry(base).or_insert(0);
            let fingerprint = fnv1a(&[&base.to_le_bytes(), &n.to_le_bytes()]);
            *n += 1;
            issues.push(json!({
                "description": format!("{}: {}", diagnostic.code, diagnostic.message),
                "check_name": format!("cpycheck:{}", diagnostic.code),
                "fingerprint": format!("{fingerprint:016x}"),
                "severity": "major",
                "location": {
                    "path": report.path,
                    "lines": {"begin": loc.line, "end": loc.end_line.max(loc.line)},
                },
            }));
        }
    }
    let mut out = serde_json::to_string_pretty(&Value::Array(issues)).unwrap_or_default();
    out.push('\n');
    out
}

/// 64-bit FNV-1a of the parts, each followed by a 0xff separator (which UTF-8 text never
/// contains, so `("ab", "c")` and `("a", "bc")` differ).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_value() {
        // FNV-1a of the single byte 0xff (the empty part plus its separator).
        assert_eq!(
            fnv1a(&[b""]),
            (0xcbf2_9ce4_8422_2325u64 ^ 0xff).wrapping_mul(0x0100_0000_01b3)
        );
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
    }
}
