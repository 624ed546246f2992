//! SARIF 2.1.0, the format GitHub code scanning (and other CI dashboards) read.
//!
//! One run; `tool.driver.rules` lists every rule with its documentation as `help` (the
//! same text as `cpycheck rule CODE`); each diagnostic is a `result` whose path steps are a
//! `codeFlow` and whose labels are `relatedLocations`. Files that could not be analysed
//! are `toolExecutionNotifications` of the invocation. Paths relative to the current
//! directory are relative URIs against `%SRCROOT%`; absolute paths are `file://` URIs.
//! Columns count Unicode code points (`columnKind`), so they match editors on non-ASCII
//! lines.

use cpycheck_diagnostics::{FileReport, Severity, Span};
use cpycheck_source::LineIndex;
use serde_json::{Value, json};

use crate::location::clamp;
use crate::{RunStats, sorted_diagnostics, sorted_reports};

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";
const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// A rule as SARIF describes it.
#[derive(Clone, Copy, Debug)]
pub struct SarifRule<'a> {
    pub code: &'a str,
    pub name: &'a str,
    /// One sentence, for `shortDescription`.
    pub summary: &'a str,
    /// The rule's documentation in Markdown, for `help`.
    pub docs: &'a str,
}

/// The tool, as SARIF names it.
#[derive(Clone, Copy, Debug)]
pub struct SarifTool<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// Every rule the tool can report, in code order.
    pub rules: &'a [SarifRule<'a>],
}

/// Renders the SARIF log (pretty-printed, ending in a newline).
pub fn render_sarif(reports: &[FileReport], stats: &RunStats, tool: &SarifTool<'_>) -> String {
    let rules: Vec<Value> = tool
        .rules
        .iter()
        .map(|rule| {
            json!({
                "id": rule.code,
                "name": rule.name,
                "shortDescription": { "text": rule.summary },
                "fullDescription": { "text": rule.summary },
                "help": { "text": rule.docs, "markdown": rule.docs },
                "defaultConfiguration": { "level": "warning" },
                "properties": { "tags": ["correctness", "reference-counting"] },
            })
        })
        .collect();

    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for report in sorted_reports(reports) {
        let uri = artifact_location(&report.path);
        if let Some(message) = &report.error {
            notifications.push(json!({
                "level": "error",
                "message": { "text": message },
                "locations": [{ "physicalLocation": { "artifactLocation": uri } }],
            }));
        }
        if report.diagnostics.is_empty() {
            continue;
        }
        let index = LineIndex::new(&report.source);
        let physical = |span: Span| {
            json!({
                "artifactLocation": uri,
                "region": region(span, &report.source, &index),
            })
        };
        for diagnostic in sorted_diagnostics(report) {
            let mut text = diagnostic.message.clone();
            if let Some(help) = &diagnostic.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            for note in &diagnostic.notes {
                text.push_str("\nnote: ");
                text.push_str(note);
            }
            let mut location = json!({ "physicalLocation": physical(diagnostic.span) });
            if let Some(function) = &diagnostic.function {
                location["logicalLocations"] = json!([{ "name": function, "kind": "function" }]);
            }
            let mut result = json!({
                "ruleId": diagnostic.code,
                "level": match diagnostic.severity {
                    Severity::Warning => "warning",
                    Severity::Error => "error",
                },
                "message": { "text": text },
                "locations": [location],
            });
            if let Some(i) = tool.rules.iter().position(|r| r.code == diagnostic.code) {
                result["ruleIndex"] = json!(i);
            }
            if !diagnostic.labels.is_empty() {
                let related: Vec<Value> = diagnostic
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(i, label)| {
                        json!({
                            "id": i + 1,
                            "physicalLocation": physical(label.span),
                            "message": { "text": label.message },
                        })
                    })
                    .collect();
                result["relatedLocations"] = Value::Array(related);
            }
            if !diagnostic.trace.is_empty() {
                let steps: Vec<Value> = diagnostic
                    .trace
                    .iter()
                    .enumerate()
                    .map(|(i, step)| {
                        json!({
                            "location": {
                                "physicalLocation": physical(step.span),
                                "message": { "text": step.message },
                            },
                            "executionOrder": i + 1,
                        })
                    })
                    .collect();
                result["codeFlows"] = json!([{ "threadFlows": [{ "locations": steps }] }]);
            }
            results.push(result);
        }
    }

    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {
                "driver": {
                    "name": tool.name,
                    "version": tool.version,
                    "semanticVersion": tool.version,
                    "rules": rules,
                }
            },
            "invocations": [{
                "executionSuccessful": stats.files_with_errors == 0,
                "toolExecutionNotifications": notifications,
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).expect("a JSON value always serialises");
    out.push('\n');
    out
}

/// A 1-based region with code-point columns; `endColumn` is exclusive.
fn region(span: Span, text: &str, index: &LineIndex) -> Value {
    let (start, end) = clamp(span, text);
    let (start_line, start_column) = char_position(start, text, index);
    let (end_line, end_column) = char_position(end, text, index);
    json!({
        "startLine": start_line,
        "startColumn": start_column,
        "endLine": end_line,
        "endColumn": end_column,
    })
}

/// The 1-based line and code-point column of byte `offset`.
fn char_position(offset: usize, text: &str, index: &LineIndex) -> (usize, usize) {
    let (line, _) = index.line_col(offset as u32);
    let line_start = index.line_start(line).map_or(0, |s| s as usize).min(offset);
    // Offsets inside a multi-byte character count as that character.
    let prefix = text.get(line_start..offset).map_or_else(
        || {
            String::from_utf8_lossy(&text.as_bytes()[line_start..offset])
                .chars()
                .count()
        },
        |s| s.chars().count(),
    );
    (line, prefix + 1)
}

/// The artifact location of a path as shown to the user.
fn artifact_location(path: &str) -> Value {
    let path = unescape(path);
    if path.starts_with(b"/") {
        json!({ "uri": format!("file://{}", percent_encode(&path)) })
    } else {
        let relative = path.strip_prefix(b"./").unwrap_or(&path);
        json!({ "uri": percent_encode(relative), "uriBaseId": "%SRCROOT%" })
    }
}

/// The bytes of a path as shown to the user: the CLI escapes control characters and bytes
/// that are not UTF-8 as `\xNN` and `\u{N}`, which become those bytes again (and are then
/// percent-encoded); any other `\` is a Windows separator.
fn unescape(path: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some(at) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        let after = &rest[at + 1..];
        let hex = after
            .strip_prefix('x')
            .and_then(|h| h.get(..2))
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        let unicode = after.strip_prefix("u{").and_then(|u| {
            let end = u.find('}')?;
            let c = char::from_u32(u32::from_str_radix(&u[..end], 16).ok()?)?;
            Some((c, end + 3))
        });
        if let Some(byte) = hex {
            out.push(byte);
            rest = &after[3..];
        } else if let Some((c, len)) = unicode {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            rest = &after[len..];
        } else {
            out.push(b'/');
            rest = after;
        }
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// Percent-encodes everything but unreserved characters and `/`.
fn percent_encode(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &byte in path {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            artifact_location("src/a b/mod.c"),
            json!({ "uri": "src/a%20b/mod.c", "uriBaseId": "%SRCROOT%" })
        );
        assert_eq!(
            artifact_location("./x.c"),
            json!({ "uri": "x.c", "uriBaseId": "%SRCROOT%" })
        );
        assert_eq!(
            artifact_location("/tmp/é.c"),
            json!({ "uri": "file:///tmp/%C3%A9.c" })
        );
        assert_eq!(
            artifact_location("src\\a\\x1b[2J\\xff\\u{85}.c"),
            json!({ "uri": "src/a%1B%5B2J%FF%C2%85.c", "uriBaseId": "%SRCROOT%" })
        );
    }

    #[test]
    fn columns_count_code_points() {
        let text = "é = f(x);\n";
        let index = LineIndex::new(text);
        let start = text.find('f').unwrap();
        let region = region(Span::new(start, start + 4), text, &index);
        assert_eq!(region["startColumn"], 5);
        assert_eq!(region["endColumn"], 9);
    }
}
