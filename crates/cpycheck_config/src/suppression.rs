//! Suppression comments: `// cpycheck: ignore[CPY101]` or `/* cpycheck: ignore[CPY101] */`
//! in C, `# cpycheck: ignore[CPY501]` in Cython (`.pyx`, `.pxd`, `.pxi`).
//!
//! A suppression comment that shares its line with code applies to that line; a comment
//! alone on its line applies to its own line and to the next one. `ignore[CPY101,CPY105]`
//! lists several rules (by code or name), and a bare `ignore` suppresses every rule. Text
//! after the directive is free, for the reason: `// cpycheck: ignore[CPY101] owned by the
//! callback`.
//!
//! Suppressions are applied after analysis, to the diagnostics that the rule selection
//! kept; they match a diagnostic by the line its primary span starts on. This module only
//! reads the source text it is given: no IO.

use cpycheck_diagnostics::{Diagnostic, FileReport, Severity, Span};
use cpycheck_rules::RuleMeta;
use cpycheck_source::LineIndex;

/// The pseudo-rule under which `--warn-unused-ignores` reports suppressions that
/// suppressed nothing. It is not an analysis rule: it is reported only when asked for.
pub const UNUSED_SUPPRESSION: RuleMeta = RuleMeta {
    code: "CPY001",
    name: "unused-suppression",
    docs: "## What it does
Reports a `cpycheck: ignore` comment that suppressed nothing, and rule codes in such a
comment that cpycheck does not know. Only reported with `--warn-unused-ignores` (or
`warn-unused-ignores = true` in the configuration).

## Why is this bad?
A suppression outlives the finding it was written for: once the code is fixed, or the
finding moves to another line, the stale comment hides the next real bug on that line.

## Example
```c
Py_DECREF(result);  // cpycheck: ignore[CPY101]
```

## Use instead
Remove the comment, or correct the code it names:
```c
Py_DECREF(result);
```
",
    preview: false,
};

/// A `cpycheck:` comment that is not a directive cpycheck knows, so it would do nothing.
/// Reported by default.
pub const INVALID_DIRECTIVE: RuleMeta = RuleMeta {
    code: "CPY002",
    name: "invalid-directive",
    docs: "## What it does
Reports a comment that starts with `cpycheck:` but is not a directive cpycheck knows: a
misspelt `ignore` (`ignored`, `ignore_file`), an `ignore[` list without its `]`, or, in C,
a contract comment whose `cpycheck:` is not written in lower case (contract comments with
unknown words are reported as errors of the file).

## Why is this bad?
A directive that is not recognised does nothing, silently: the finding it was meant to
suppress is still reported, or the suppression the author thinks is in place is not.

## Example
```c
Py_DECREF(self);  // cpycheck: ignored[CPY103]
```

## Use instead
```c
Py_DECREF(self);  // cpycheck: ignore[CPY103]
```
",
    preview: false,
};

/// The checks of the comments themselves, reported like rules (and selectable by code).
pub static PSEUDO_RULES: &[RuleMeta] = &[UNUSED_SUPPRESSION, INVALID_DIRECTIVE];

/// Which rules a suppression names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuppressedRules {
    /// A bare `ignore`: every rule.
    All,
    /// `ignore[...]`: these entries, as written (trimmed).
    Codes(Vec<String>),
}

/// One `cpycheck: ignore` comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The comment's span in the file.
    pub span: Span,
    /// The 1-based line the comment starts on.
    pub line: usize,
    /// The 1-based line the comment ends on.
    pub end_line: usize,
    /// Whether the comment is alone on its line (only whitespace before it), so that it
    /// also applies to the next line.
    pub own_line: bool,
    /// `cpycheck: ignore-file`: applies to the whole file.
    pub file_level: bool,
    pub rules: SuppressedRules,
}

impl Suppression {
    /// Whether a diagnostic starting on `line` is covered by this comment's position.
    fn covers_line(&self, line: usize) -> bool {
        self.file_level
            || (self.line..=self.end_line).contains(&line)
            || (self.own_line && line == self.end_line + 1)
    }
}

/// What the body of a comment says.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Directive {
    /// Not a `cpycheck:` comment, or a contract comment (read by the rules crate).
    None,
    /// `ignore...` (`file_level` for `ignore-file...`).
    Ignore {
        rules: SuppressedRules,
        file_level: bool,
    },
    /// A `cpycheck:` comment that does nothing, and why.
    Invalid(String),
}

/// The comment syntax of a file, chosen by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentSyntax {
    /// `//` and `/* */` comments.
    C,
    /// `#` comments (Cython sources).
    Python,
}

impl CommentSyntax {
    /// `Python` for Cython sources (`.pyx`, `.pxd`, `.pxi`), `C` otherwise.
    pub fn for_path(path: &str) -> CommentSyntax {
        let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
        if ["pyx", "pxd", "pxi"].contains(&ext) {
            CommentSyntax::Python
        } else {
            CommentSyntax::C
        }
    }
}

/// Finds every suppression comment in C source text. Comments inside string and character
/// literals are not comments; a directive must start the comment (after whitespace).
pub fn parse_suppressions(source: &str) -> Vec<Suppression> {
    parse_suppressions_in(source, CommentSyntax::C)
}

/// Finds every suppression comment in source text of the given comment syntax.
pub fn parse_suppressions_in(source: &str, syntax: CommentSyntax) -> Vec<Suppression> {
    let index = LineIndex::new(source);
    let found = match syntax {
        CommentSyntax::C => comments(source),
        CommentSyntax::Python => python_comments(source),
    };
    found
        .into_iter()
        .filter_map(|(start, end, body)| {
            let Directive::Ignore { rules, file_level } = parse_directive(body, syntax) else {
                return None;
            };
            let (line, _) = index.line_col(start as u32);
            let (end_line, _) = index.line_col(end.saturating_sub(1).max(start) as u32);
            let line_start = index.line_start(line).map_or(0, |s| s as usize);
            let own_line = source[line_start..start].trim().is_empty();
            Some(Suppression {
                span: Span::new(start, end),
                line,
                end_line,
                own_line,
                file_level,
                rules,
            })
        })
        .collect()
}

/// The `cpycheck:` comments of a file that are not directives cpycheck knows: their spans
/// and what is wrong.
pub fn invalid_directives(source: &str, syntax: CommentSyntax) -> Vec<(Span, String)> {
    let found = match syntax {
        CommentSyntax::C => comments(source),
        CommentSyntax::Python => python_comments(source),
    };
    found
        .into_iter()
        .filter_map(|(start, end, body)| match parse_directive(body, syntax) {
            Directive::Invalid(why) => Some((Span::new(start, end), why)),
            _ => None,
        })
        .collect()
}

/// Parses the body of a comment: `cpycheck: ignore`, `cpycheck: ignore[CPY101, CPY105]`,
/// `cpycheck: ignore-file`, `cpycheck: ignore-file[CPY101]`, each optionally followed by
/// free text. `cpycheck:`, `ignore` and `ignore-file` are read in any case.
fn parse_directive(body: &str, syntax: CommentSyntax) -> Directive {
    const MARKER: &str = "cpycheck:";
    let body = body.trim_start();
    let Some(marker) = body.get(..MARKER.len()) else {
        return Directive::None;
    };
    if !marker.eq_ignore_ascii_case(MARKER) {
        return Directive::None;
    }
    let rest = body[MARKER.len()..].trim_start();
    let word_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    let word = rest[..word_end].to_ascii_lowercase();
    let after = &rest[word_end..];
    let file_level = match word.as_str() {
        "ignore" => false,
        "ignore-file" => true,
        _ if word.starts_with("ignore") => {
            let shown = rest[..word_end].to_string();
            return Directive::Invalid(format!(
                "unknown directive `cpycheck: {shown}` (did you mean `cpycheck: ignore` or \
                 `cpycheck: ignore-file`?)"
            ));
        }
        // A contract comment: C only, read (and its words checked) by the rules crate,
        // which needs `cpycheck:` in lower case.
        _ if syntax == CommentSyntax::C => {
            if marker == MARKER {
                return Directive::None;
            }
            return Directive::Invalid(format!(
                "`{marker}` must be written `cpycheck:` (in lower case) for a contract comment"
            ));
        }
        _ => {
            let shown = rest.split_whitespace().next().unwrap_or("");
            return Directive::Invalid(format!(
                "unknown directive `cpycheck: {shown}` (Cython sources take `cpycheck: ignore` \
                 and `cpycheck: ignore-file`)"
            ));
        }
    };
    if let Some(list) = after.strip_prefix('[') {
        let Some(close) = list.find(']') else {
            return Directive::Invalid(format!(
                "`{}[` has no closing `]`: it suppresses nothing",
                &rest[..word_end]
            ));
        };
        let codes = list[..close]
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        return Directive::Ignore {
            rules: SuppressedRules::Codes(codes),
            file_level,
        };
    }
    match after.chars().next() {
        None => {}
        Some(c) if c.is_whitespace() => {}
        Some(_) => {
            return Directive::Invalid(format!(
                "malformed directive `cpycheck: {}`",
                rest.split_whitespace().next().unwrap_or("")
            ));
        }
    }
    Directive::Ignore {
        rules: SuppressedRules::All,
        file_level,
    }
}

/// The comments of a C file: `(start, end, body)` with byte offsets of the whole comment
/// and the text between the delimiters. String and character literals are skipped.
fn comments(source: &str) -> Vec<(usize, usize, &str)> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
                out.push((i, end, &source[i + 2..end]));
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let (end, body_end) = match source[i + 2..].find("*/") {
                    Some(n) => (i + 2 + n + 2, i + 2 + n),
                    None => (bytes.len(), bytes.len()),
                };
                out.push((i, end, &source[i + 2..body_end]));
                i = end;
            }
            quote @ (b'"' | b'\'') => i = skip_quoted(bytes, i, quote),
            _ => i += 1,
        }
    }
    out
}

/// The end of the one-line string or character literal that opens at `i` with `quote`
/// (backslash escapes skipped; an unterminated literal ends at the end of its line).
fn skip_quoted(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    i += 1;
    while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// The `#` comments of Python or Cython source: `(start, end, body)` as in [`comments`].
/// String literals are skipped: quotes with any prefix (`r`, `b`, `f`, ...), single or
/// tripled; a `#` inside one is not a comment.
fn python_comments(source: &str) -> Vec<(usize, usize, &str)> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                let end = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
                out.push((i, end, &source[i + 1..end]));
                i = end;
            }
            quote @ (b'"' | b'\'') => {
                let triple = bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote);
                if triple {
                    i += 3;
                    while i < bytes.len()
                        && !(bytes[i] == quote
                            && bytes.get(i + 1) == Some(&quote)
                            && bytes.get(i + 2) == Some(&quote))
                    {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 3;
                } else {
                    i = skip_quoted(bytes, i, quote);
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// What applying the suppressions to one file did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Diagnostics removed by a suppression.
    pub suppressed: usize,
    /// One [`INVALID_DIRECTIVE`] diagnostic per `cpycheck:` comment that is not a directive
    /// cpycheck knows (always made; the caller applies the rule selection).
    pub invalid: Vec<Diagnostic>,
    /// One [`UNUSED_SUPPRESSION`] diagnostic per comment (or part of a comment) that
    /// suppressed nothing, when asked for.
    pub unused: Vec<Diagnostic>,
}

/// Removes the diagnostics of `report` that a suppression comment covers.
///
/// `dropped` are the diagnostics the rule selection removed before: a suppression that
/// matches one of them is not unused (the finding is still there), but they are not
/// counted as suppressed. `is_rule(entry)` returns the code or code prefix (`CPY1`) that a
/// code, prefix or name written in a comment stands for. With `warn_unused`, comments that matched nothing, and
/// entries naming no rule, are reported.
pub fn apply(
    report: &mut FileReport,
    dropped: &[Diagnostic],
    is_rule: &dyn Fn(&str) -> Option<String>,
    warn_unused: bool,
) -> Applied {
    let syntax = CommentSyntax::for_path(&report.path);
    let invalid: Vec<Diagnostic> = invalid_directives(&report.source, syntax)
        .into_iter()
        .map(|(span, message)| Diagnostic {
            code: INVALID_DIRECTIVE.code,
            rule: INVALID_DIRECTIVE.name,
            severity: Severity::Warning,
            message,
            span,
            function: None,
            labels: Vec::new(),
            help: Some(
                "write `cpycheck: ignore[CODES]` for a line, `cpycheck: ignore-file` for the file"
                    .to_string(),
            ),
            notes: Vec::new(),
            trace: Vec::new(),
        })
        .collect();
    let suppressions = parse_suppressions_in(&report.source, syntax);
    if suppressions.is_empty() {
        return Applied {
            invalid,
            ..Applied::default()
        };
    }
    let index = LineIndex::new(&report.source);
    let line_of = |d: &Diagnostic| {
        index
            .line_col(d.span.start.min(report.source.len() as u32))
            .0
    };

    // For each suppression and each of its entries (or the whole comment for a bare
    // `ignore`): whether it matched something.
    let resolved: Vec<Vec<(String, Option<String>)>> = suppressions
        .iter()
        .map(|s| match &s.rules {
            SuppressedRules::All => vec![],
            SuppressedRules::Codes(codes) => {
                codes.iter().map(|c| (c.clone(), is_rule(c))).collect()
            }
        })
        .collect();
    let mut used: Vec<Vec<bool>> = suppressions
        .iter()
        .zip(&resolved)
        .map(|(s, entries)| match s.rules {
            SuppressedRules::All => vec![false],
            SuppressedRules::Codes(_) => vec![false; entries.len()],
        })
        .collect();
    let matches = |d: &Diagnostic, used: &mut Vec<Vec<bool>>| -> bool {
        let line = line_of(d);
        let mut hit = false;
        for (k, s) in suppressions.iter().enumerate() {
            if !s.covers_line(line) {
                continue;
            }
            match s.rules {
                SuppressedRules::All => {
                    used[k][0] = true;
                    hit = true;
                }
                SuppressedRules::Codes(_) => {
                    for (j, (_, code)) in resolved[k].iter().enumerate() {
                        if code.as_deref().is_some_and(|p| d.code.starts_with(p)) {
                            used[k][j] = true;
                            hit = true;
                        }
                    }
                }
            }
        }
        hit
    };

    for d in dropped {
        matches(d, &mut used);
    }
    let before = report.diagnostics.len();
    let mut kept = Vec::with_capacity(before);
    for d in std::mem::take(&mut report.diagnostics) {
        if !matches(&d, &mut used) {
            kept.push(d);
        }
    }
    report.diagnostics = kept;
    let mut applied = Applied {
        suppressed: before - report.diagnostics.len(),
        invalid,
        unused: Vec::new(),
    };
    if !warn_unused {
        return applied;
    }
    for (k, s) in suppressions.iter().enumerate() {
        let message = match &s.rules {
            SuppressedRules::All if !used[k][0] => {
                "suppression `cpycheck: ignore` suppressed nothing".to_string()
            }
            SuppressedRules::All => continue,
            SuppressedRules::Codes(codes) if codes.is_empty() => {
                "suppression `cpycheck: ignore[]` names no rule".to_string()
            }
            SuppressedRules::Codes(_) => {
                let unknown: Vec<String> = resolved[k]
                    .iter()
                    .filter(|(_, code)| code.is_none())
                    .map(|(entry, _)| format!("`{entry}`"))
                    .collect();
                let unused: Vec<String> = resolved[k]
                    .iter()
                    .zip(&used[k])
                    .filter(|((_, code), used)| code.is_some() && !**used)
                    .map(|((entry, _), _)| format!("`{entry}`"))
                    .collect();
                match (unknown.is_empty(), unused.is_empty()) {
                    (true, true) => continue,
                    (false, true) => format!("unknown rule in suppression: {}", unknown.join(", ")),
                    (true, false) => format!("unused suppression of {}", unused.join(", ")),
                    (false, false) => format!(
                        "unused suppression of {}; unknown rule: {}",
                        unused.join(", "),
                        unknown.join(", ")
                    ),
                }
            }
        };
        applied.unused.push(Diagnostic {
            code: UNUSED_SUPPRESSION.code,
            rule: UNUSED_SUPPRESSION.name,
            severity: Severity::Warning,
            message,
            span: s.span,
            function: None,
            labels: Vec::new(),
            help: Some("remove the comment, or the codes it no longer needs".to_string()),
            notes: Vec::new(),
            trace: Vec::new(),
        });
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(source: &str) -> Vec<(usize, bool, SuppressedRules)> {
        parse_suppressions(source)
            .into_iter()
            .map(|s| (s.line, s.own_line, s.rules))
            .collect()
    }

    fn codes(list: &[&str]) -> SuppressedRules {
        SuppressedRules::Codes(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn cython_comments_and_strings() {
        let src = "x = 1  # cpycheck: ignore[CPY501]\n\
                   s = '# cpycheck: ignore'\n\
                   t = \"\"\"\n# cpycheck: ignore[CPY502]\n\"\"\"\n\
                   # cpycheck: ignore[CPY502] freed by the library\n\
                   u = 'it\\'s'  # cpycheck: ignore\n";
        let found: Vec<_> = parse_suppressions_in(src, CommentSyntax::Python)
            .into_iter()
            .map(|s| (s.line, s.own_line, s.rules))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, false, codes(&["CPY501"])),
                (6, true, codes(&["CPY502"])),
                (7, false, SuppressedRules::All),
            ]
        );
        // `//` is not a comment in Cython, and `#` is not one in C.
        assert!(parse_suppressions_in("a // cpycheck: ignore\n", CommentSyntax::Python).is_empty());
        assert!(parse_suppressions("#define X 1 # cpycheck: ignore\n").is_empty());
        assert_eq!(
            CommentSyntax::for_path("pkg/mod.pyx"),
            CommentSyntax::Python
        );
        assert_eq!(
            CommentSyntax::for_path("pkg/mod.pxd"),
            CommentSyntax::Python
        );
        assert_eq!(CommentSyntax::for_path("pkg/mod.c"), CommentSyntax::C);
    }

    #[test]
    fn directive_forms() {
        let src = "x(); // cpycheck: ignore[CPY101]\n\
                   /* cpycheck: ignore[CPY101, CPY105] */\n\
                   y(); /*cpycheck:ignore*/\n\
                   // cpycheck: ignore because the callback owns it\n\
                   // cpycheck: ignored\n\
                   // cpycheck: returns-borrowed\n\
                   // see cpycheck: ignore[CPY101]\n\
                   s = \"// cpycheck: ignore\"; c = '\"'; // cpycheck: ignore[reference-leak]\n";
        assert_eq!(
            rules(src),
            vec![
                (1, false, codes(&["CPY101"])),
                (2, true, codes(&["CPY101", "CPY105"])),
                (3, false, SuppressedRules::All),
                (4, true, SuppressedRules::All),
                (8, false, codes(&["reference-leak"])),
            ]
        );
    }

    #[test]
    fn unterminated_comments_and_literals_do_not_panic() {
        for src in [
            "/* cpycheck: ignore[CPY1",
            "\"abc",
            "'",
            "/",
            "x /* // */ y",
            "é// cpycheck: ignore",
        ] {
            let _ = parse_suppressions(src);
        }
        // An unterminated list suppresses nothing, and is reported.
        assert_eq!(rules("/* cpycheck: ignore[CPY101").len(), 0);
        assert_eq!(
            invalid_directives("/* cpycheck: ignore[CPY101", CommentSyntax::C).len(),
            1
        );
    }

    #[test]
    fn ignore_file_upper_case_and_invalid_directives() {
        let src = "// CPYCHECK: IGNORE-FILE[CPY101]\n\
                   a(); /* Cpycheck: Ignore */\n\
                   b(); // cpycheck: ignored[CPY101]\n\
                   c(); // cpycheck: ignore_file\n\
                   d(); // cpycheck: ignore:CPY101\n\
                   /* CPYCHECK: returns-new */\n\
                   /* cpycheck: returns-new */\n\
                   // cpycheck is great\n";
        let found: Vec<_> = parse_suppressions(src)
            .into_iter()
            .map(|s| (s.line, s.file_level, s.rules))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, true, codes(&["CPY101"])),
                (2, false, SuppressedRules::All),
            ]
        );
        let invalid: Vec<_> = invalid_directives(src, CommentSyntax::C)
            .into_iter()
            .map(|(span, why)| (LineIndex::new(src).line_col(span.start).0, why))
            .collect();
        let lines: Vec<usize> = invalid.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![3, 4, 5, 6], "{invalid:?}");
        assert!(invalid[0].1.contains("`cpycheck: ignored`"), "{invalid:?}");
        assert!(invalid[3].1.contains("lower case"), "{invalid:?}");
        // In Cython, only the ignore forms are directives.
        let pyx = "x = 1  # cpycheck: returns-new\n# cpycheck: ignore-file\n";
        assert_eq!(invalid_directives(pyx, CommentSyntax::Python).len(), 1);
        assert!(parse_suppressions_in(pyx, CommentSyntax::Python)[0].file_level);
    }

    #[test]
    fn ignore_file_covers_every_line() {
        let src = "a();\nb(); // cpycheck: ignore-file[CPY101] generated code\nc();\n";
        let mut report = FileReport {
            source: src.into(),
            diagnostics: vec![
                diagnostic("CPY101", src, 1),
                diagnostic("CPY105", src, 1),
                diagnostic("CPY101", src, 3),
            ],
            ..FileReport::default()
        };
        let applied = apply(&mut report, &[], &known, true);
        assert_eq!(applied.suppressed, 2);
        let left: Vec<_> = report.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(left, vec!["CPY105"]);
    }

    fn diagnostic(code: &'static str, source: &str, line: usize) -> Diagnostic {
        let index = LineIndex::new(source);
        let start = index.line_start(line).unwrap() as usize;
        Diagnostic {
            code,
            rule: "r",
            severity: Severity::Warning,
            message: "m".into(),
            span: Span::new(start, start + 1),
            function: None,
            labels: vec![],
            help: None,
            notes: vec![],
            trace: vec![],
        }
    }

    fn known(entry: &str) -> Option<String> {
        match entry.to_ascii_uppercase().as_str() {
            "CPY101" | "REFERENCE-LEAK" => Some("CPY101".into()),
            "CPY105" => Some("CPY105".into()),
            "CPY1" => Some("CPY1".into()),
            _ => None,
        }
    }

    #[test]
    fn a_code_prefix_suppresses_the_rules_it_starts() {
        let src = "a(); // cpycheck: ignore[CPY1]\nb();\n";
        let mut report = FileReport {
            source: src.into(),
            diagnostics: vec![
                diagnostic("CPY101", src, 1),
                diagnostic("CPY105", src, 1),
                diagnostic("CPY201", src, 1),
                diagnostic("CPY101", src, 2),
            ],
            ..FileReport::default()
        };
        let applied = apply(&mut report, &[], &known, true);
        assert_eq!(applied.suppressed, 2);
        let left: Vec<_> = report.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(left, vec!["CPY201", "CPY101"]);
        assert!(applied.unused.is_empty());
    }

    #[test]
    fn same_line_and_line_above() {
        let src = "a(); // cpycheck: ignore[CPY101]\n\
                   // cpycheck: ignore[CPY105]\n\
                   b();\n\
                   c(); // cpycheck: ignore\n\
                   d();\n";
        let mut report = FileReport {
            source: src.into(),
            diagnostics: vec![
                diagnostic("CPY101", src, 1),
                diagnostic("CPY105", src, 1),
                diagnostic("CPY105", src, 3),
                diagnostic("CPY101", src, 4),
                diagnostic("CPY105", src, 4),
                diagnostic("CPY101", src, 5),
            ],
            ..FileReport::default()
        };
        let applied = apply(&mut report, &[], &known, true);
        assert_eq!(applied.suppressed, 4);
        let left: Vec<_> = report.diagnostics.iter().map(|d| d.code).collect();
        // line 1's CPY105 is not named; line 5 is below a trailing comment, not covered.
        assert_eq!(left, vec!["CPY105", "CPY101"]);
        assert!(applied.unused.is_empty(), "{:?}", applied.unused);
    }

    #[test]
    fn unused_and_unknown_entries_are_reported_when_asked() {
        let src = "a(); // cpycheck: ignore[CPY101, CPY105, CPY999]\n\
                   b(); // cpycheck: ignore\n\
                   c(); // cpycheck: ignore[reference-leak]\n";
        let make = || FileReport {
            source: src.into(),
            diagnostics: vec![diagnostic("CPY101", src, 1)],
            ..FileReport::default()
        };
        let mut report = make();
        let dropped = [diagnostic("CPY101", src, 3)];
        let applied = apply(&mut report, &dropped, &known, true);
        assert_eq!(applied.suppressed, 1);
        let messages: Vec<_> = applied.unused.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "unused suppression of `CPY105`; unknown rule: `CPY999`",
                "suppression `cpycheck: ignore` suppressed nothing",
            ]
        );
        assert!(applied.unused.iter().all(|d| d.code == "CPY001"));
        let mut report = make();
        assert!(
            apply(&mut report, &dropped, &known, false)
                .unused
                .is_empty()
        );
    }
}
