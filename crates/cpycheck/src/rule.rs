//! `cpycheck rule CODE` and `cpycheck rule --all`.

use std::fmt::Write as _;

use cpycheck_rules::RuleMeta;

/// The docs of one rule, with a heading naming it.
pub fn render_rule(rule: &RuleMeta) -> String {
    let mut out = format!("# {}: {}\n\n", rule.code, rule.name);
    if rule.preview {
        out.push_str("This rule is in preview.\n\n");
    }
    // Doc comments keep the space after `///`: drop it.
    for line in rule.docs.trim_end().lines() {
        out.push_str(line.strip_prefix(' ').unwrap_or(line));
        out.push('\n');
    }
    out
}

/// One line per rule: code, name, summary (its whitespace collapsed to single spaces).
pub fn render_all(rules: &[RuleMeta]) -> String {
    let width = rules.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for rule in rules {
        let summary = rule
            .summary()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let preview = if rule.preview { " (preview)" } else { "" };
        let _ = writeln!(
            out,
            "{}  {:width$}  {summary}{preview}",
            rule.code, rule.name,
        );
    }
    out
}
