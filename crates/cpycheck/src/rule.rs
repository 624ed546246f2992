//! `cpycheck rule CODE` and `cpycheck rule --all`.

use std::fmt::Write as _;

use cpycheck_rules::RuleMeta;

/// Every rule the CLI can report: the analysis rules, then the checks of the comments.
pub fn all_rules() -> Vec<&'static RuleMeta> {
    cpycheck_config::known_rules().collect()
}

/// A rule by code (any case) or name.
pub fn find_rule(code_or_name: &str) -> Option<&'static RuleMeta> {
    all_rules()
        .into_iter()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}

/// The docs of one rule, with a heading naming it.
pub fn render_rule(rule: &RuleMeta) -> String {
    let mut out = format!("# {}: {}\n\n", rule.code, rule.name);
    if rule.preview {
        out.push_str(
            "This rule is in preview: it is reported only with `--preview` (or \
             `preview = true` in the configuration).\n\n",
        );
    }
    out.push_str(&docs_markdown(rule));
    out
}

/// A rule's doc comment as Markdown: the space that doc comments keep after `///` is
/// dropped. The one source of `cpycheck rule CODE` and SARIF's help text.
pub fn docs_markdown(rule: &RuleMeta) -> String {
    let mut out = String::new();
    for line in rule.docs.trim_end().lines() {
        out.push_str(line.strip_prefix(' ').unwrap_or(line));
        out.push('\n');
    }
    out
}

/// One line per rule: code, name, summary (its whitespace collapsed to single spaces).
pub fn render_all(rules: &[&RuleMeta]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule the CLI reports, the unused-suppression check included, documents itself
    /// in the house form; `cpycheck rule` and SARIF's help both print these docs.
    #[test]
    fn every_rule_has_the_doc_sections() {
        for rule in all_rules() {
            let docs = docs_markdown(rule);
            let mut at = 0;
            for heading in [
                "## What it does\n",
                "## Why is this bad?\n",
                "## Example\n",
                "## Use instead\n",
            ] {
                let found = docs[at..]
                    .find(heading)
                    .unwrap_or_else(|| panic!("{}: no {heading:?} after byte {at}", rule.code));
                at += found + heading.len();
            }
            assert!(!rule.summary().is_empty(), "{}", rule.code);
            assert_complete_sentence(rule.code, rule.summary());
            assert!(render_rule(rule).ends_with(&docs), "{}", rule.code);
            assert_eq!(find_rule(rule.code).map(|r| r.code), Some(rule.code));
            assert_eq!(find_rule(rule.name).map(|r| r.code), Some(rule.code));
        }
    }

    /// A summary is shown alone (`rule --all`, SARIF's `shortDescription`, GitHub's alert
    /// title): it must not stop mid-sentence.
    fn assert_complete_sentence(code: &str, summary: &str) {
        let trimmed = summary.trim_end();
        for bad_end in [
            ",", ":", ";", "(", "e.g", "i.e", "..", " and", " or", " the", " a",
        ] {
            assert!(
                !trimmed.ends_with(bad_end),
                "{code}: summary ends with {bad_end:?}: {summary}"
            );
        }
        assert_eq!(
            trimmed.matches('`').count() % 2,
            0,
            "{code}: unbalanced `: {summary}"
        );
        assert_eq!(
            trimmed.matches('(').count(),
            trimmed.matches(')').count(),
            "{code}: unbalanced (): {summary}"
        );
        assert!(
            trimmed.starts_with(|c: char| c.is_ascii_uppercase()),
            "{code}: {summary}"
        );
    }

    #[test]
    fn summaries_of_the_rules_that_were_cut_are_whole() {
        let summary = |code| find_rule(code).unwrap().summary();
        assert!(
            summary("CPY301").ends_with("or a setter)"),
            "{}",
            summary("CPY301")
        );
        assert!(
            summary("CPY105").ends_with("the other stealing calls)"),
            "{}",
            summary("CPY105")
        );
    }
}
