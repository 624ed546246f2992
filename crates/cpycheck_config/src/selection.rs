//! `select` / `ignore` (command line and configuration) and `per-file-ignores`: which
//! rules' diagnostics are reported.

use cpycheck_rules::RuleMeta;

/// Rule selection by code or code prefix. The most specific (longest) matching entry
/// decides; on a tie `--ignore` wins. Without `--select` every rule is selected. Preview
/// rules are reported only when preview is on (`--preview`, `preview = true`), as in ruff:
/// selecting one without it selects nothing (the CLI warns).
#[derive(Debug, Default)]
pub struct RuleFilter {
    select: Vec<String>,
    /// `extend-select`: added to `select`, or to the default selection.
    extend: Vec<String>,
    ignore: Vec<String>,
    preview: bool,
}

impl RuleFilter {
    /// Validates the entries: each must be a registered rule's code, a prefix of one
    /// (`CPY1`), or a rule's name (`reference-leak`). The error names the bad entry and
    /// where it came from (`--select`, `select in cpycheck.toml`, ...).
    pub fn new(
        (select, select_origin): (&[String], &str),
        (ignore, ignore_origin): (&[String], &str),
    ) -> Result<RuleFilter, String> {
        Ok(RuleFilter {
            select: normalise(select, select_origin)?,
            ignore: normalise(ignore, ignore_origin)?,
            extend: Vec::new(),
            preview: false,
        })
    }

    /// A filter from entries already checked by [`normalise`].
    pub fn from_normalised(select: Vec<String>, ignore: Vec<String>) -> RuleFilter {
        RuleFilter {
            select,
            extend: Vec::new(),
            ignore,
            preview: false,
        }
    }

    /// The same filter with `extend-select` entries (already normalised).
    pub fn with_extend(mut self, extend: Vec<String>) -> RuleFilter {
        self.extend = extend;
        self
    }

    /// Whether a select or extend-select entry names `code` (it or a prefix of it).
    pub fn names(&self, code: &str) -> bool {
        self.select
            .iter()
            .chain(&self.extend)
            .any(|e| code.starts_with(e.as_str()))
    }

    /// Whether an ignore entry names `code`.
    pub fn ignores(&self, code: &str) -> bool {
        self.ignore.iter().any(|e| code.starts_with(e.as_str()))
    }

    /// The extend-select entries.
    pub fn extended(&self) -> &[String] {
        &self.extend
    }

    /// The same filter with preview rules on (`true`) or off.
    pub fn with_preview(mut self, preview: bool) -> RuleFilter {
        self.preview = preview;
        self
    }

    /// Whether preview rules are reported.
    pub fn preview(&self) -> bool {
        self.preview
    }

    /// The select entries (upper-case codes or code prefixes); empty means every rule.
    pub fn selected(&self) -> &[String] {
        &self.select
    }

    /// The ignore entries (upper-case codes or code prefixes).
    pub fn ignored(&self) -> &[String] {
        &self.ignore
    }

    /// Whether diagnostics with rule `code` are reported: selected, not ignored, and not a
    /// preview rule unless preview is on.
    pub fn allows(&self, code: &str) -> bool {
        if !self.preview && is_preview(code) {
            return false;
        }
        self.selects(code)
    }

    /// The selection alone, preview aside.
    fn selects(&self, code: &str) -> bool {
        let longest = |entries: &[String]| {
            entries
                .iter()
                .filter(|e| code.starts_with(e.as_str()))
                .map(String::len)
                .max()
        };
        let selected = if self.select.is_empty() {
            Some(longest(&self.extend).unwrap_or(0))
        } else {
            longest(&self.select).max(longest(&self.extend))
        };
        match (selected, longest(&self.ignore)) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(s), Some(i)) => s > i,
        }
    }
}

/// Whether `code` is a preview rule.
pub fn is_preview(code: &str) -> bool {
    cpycheck_rules::rule(code).is_some_and(|r| r.preview)
}

/// The code of the rule that `entry` names: a full code (any case) or a rule name.
pub fn rule_code(entry: &str) -> Option<&'static str> {
    known_rules()
        .find(|r| r.code.eq_ignore_ascii_case(entry.trim()) || r.name == entry.trim())
        .map(|r| r.code)
}

/// The code or code prefix that `entry` names, normalised (upper case; a rule name becomes
/// its code), as `--select` accepts it: what a suppression comment's entry covers.
pub fn rule_prefix(entry: &str) -> Option<String> {
    normalise(&[entry.to_string()], "").ok()?.pop()
}

/// Every code the CLI reports: the analysis rules and the checks of the comments
/// themselves (`CPY001`, ...).
pub fn known_rules() -> impl Iterator<Item = &'static RuleMeta> {
    cpycheck_rules::all_rules()
        .iter()
        .chain(crate::suppression::PSEUDO_RULES.iter())
}

/// Normalises code prefixes and rule names to upper-case code prefixes, rejecting entries
/// that match no rule; `origin` says where they came from, for the error.
pub fn normalise(entries: &[String], origin: &str) -> Result<Vec<String>, String> {
    let rules: Vec<&RuleMeta> = known_rules().collect();
    entries
        .iter()
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            if let Some(rule) = rules.iter().find(|r| r.name == entry) {
                return Ok(rule.code.to_string());
            }
            let upper = entry.to_ascii_uppercase();
            if upper.len() >= 3 && rules.iter().any(|r| r.code.starts_with(&upper)) {
                Ok(upper)
            } else {
                Err(format!(
                    "unknown rule code or prefix `{entry}` in {origin} (`cpycheck rule --all` lists the rules)"
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(select: &[&str], ignore: &[&str]) -> RuleFilter {
        RuleFilter {
            select: select.iter().map(|s| s.to_string()).collect(),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            extend: Vec::new(),
            preview: true,
        }
    }

    #[test]
    fn preview_rules_need_preview() {
        let preview = cpycheck_rules::all_rules()
            .iter()
            .find(|r| r.preview)
            .expect("a preview rule");
        let stable = cpycheck_rules::all_rules()
            .iter()
            .find(|r| !r.preview)
            .expect("a stable rule");
        let off = RuleFilter::default();
        assert!(!off.allows(preview.code) && off.allows(stable.code));
        let exact = RuleFilter::from_normalised(vec![preview.code.into()], vec![]);
        assert!(!exact.allows(preview.code));
        assert!(exact.with_preview(true).allows(preview.code));
        assert!(RuleFilter::default().with_preview(true).allows(stable.code));
    }

    #[test]
    fn most_specific_entry_wins() {
        assert!(filter(&[], &[]).allows("CPY101"));
        assert!(filter(&["CPY1"], &[]).allows("CPY101"));
        assert!(!filter(&["CPY2"], &[]).allows("CPY101"));
        assert!(!filter(&[], &["CPY101"]).allows("CPY101"));
        assert!(filter(&[], &["CPY101"]).allows("CPY102"));
        assert!(filter(&["CPY101"], &["CPY1"]).allows("CPY101"));
        assert!(!filter(&["CPY101"], &["CPY1"]).allows("CPY102"));
        assert!(!filter(&["CPY1"], &["CPY101"]).allows("CPY101"));
        assert!(!filter(&["CPY1"], &["CPY1"]).allows("CPY101"));
    }

    #[test]
    fn unknown_entries_are_rejected() {
        let new = |select: &[String], ignore: &[String]| {
            RuleFilter::new((select, "--select"), (ignore, "--ignore"))
        };
        let err = new(&["CPY999".into()], &[]).unwrap_err();
        assert!(err.contains("`CPY999` in --select"), "{err}");
        assert!(new(&[], &["XYZ".into()]).is_err());
        assert!(new(&["C".into()], &[]).is_err());
    }

    #[test]
    fn registered_codes_prefixes_and_names_are_accepted() {
        for rule in cpycheck_rules::all_rules() {
            let lower = rule.code.to_ascii_lowercase();
            let select = [rule.code.into(), lower, rule.name.into()];
            let f = RuleFilter::new((&select, "--select"), (&[], "--ignore"))
                .unwrap()
                .with_preview(true);
            assert!(f.allows(rule.code));
            assert_eq!(rule_code(rule.name), Some(rule.code));
            assert_eq!(rule_code(&rule.code.to_ascii_lowercase()), Some(rule.code));
        }
    }
}
