//! rustc-style text: a header, the source snippet with the primary span marked and the path
//! steps numbered, `= help:`/`= note:` lines, and the path as a numbered list of steps with
//! their locations (steps may later be in other files, and long paths read better as a
//! list than as a tangle of labels).

use std::fmt::Write as _;

use annotate_snippets::renderer::{AnsiColor, Effects, Style};
use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use cpycheck_diagnostics::{Diagnostic, FileReport, Severity, Span};
use cpycheck_source::LineIndex;

use crate::location::clamp_to_chars;
use crate::{Location, RunStats, sorted_diagnostics, sorted_reports};

/// Options of the text renderers.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    /// Emit ANSI colours. The CLI sets this only when stdout is a terminal and `NO_COLOR`
    /// is unset.
    pub color: bool,
}

/// Renders every diagnostic as a rustc-style snippet, each followed by a blank line.
/// File-level errors are not included (see [`render_errors`]).
pub fn render_text(reports: &[FileReport], opts: &TextOptions) -> String {
    let renderer = if opts.color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for report in sorted_reports(reports) {
        if report.diagnostics.is_empty() {
            continue;
        }
        let index = LineIndex::new(&report.source);
        for diagnostic in sorted_diagnostics(report) {
            out.push_str(&render_one(&renderer, report, &index, diagnostic));
            out.push_str("\n\n");
        }
    }
    out
}

fn render_one(
    renderer: &Renderer,
    report: &FileReport,
    index: &LineIndex,
    diagnostic: &Diagnostic,
) -> String {
    let source = report.source.as_str();

    // Show only the lines from the first to the last annotated one (folded in between), so
    // the cost of a diagnostic does not grow with the size of the file.
    let spans = std::iter::once(diagnostic.span)
        .chain(diagnostic.labels.iter().map(|l| l.span))
        .chain(diagnostic.trace.iter().map(|s| s.span));
    let lo = spans
        .clone()
        .map(|s| clamp_to_chars(s, source).0)
        .min()
        .unwrap_or(0);
    let hi = spans
        .map(|s| clamp_to_chars(s, source).1)
        .max()
        .unwrap_or(0);
    let first_line = index.line_col(lo as u32).0;
    let window_start = index.line_start(first_line).map_or(0, |s| s as usize);
    let window_end = source[hi..].find('\n').map_or(source.len(), |i| hi + i);
    let window = &source[window_start..window_end];
    let local = |span: Span| {
        let (start, end) = clamp_to_chars(span, source);
        start - window_start..end - window_start
    };

    // One annotation per distinct span: the primary first, then labels, then trace steps.
    // A step on an already annotated span adds its number to that annotation's label.
    let mut annotations: Vec<(Span, Vec<String>, Option<&str>)> =
        vec![(diagnostic.span, vec![], None)];
    for label in &diagnostic.labels {
        match annotations
            .iter_mut()
            .find(|a| a.0 == label.span && a.2.is_none())
        {
            Some(existing) => existing.2 = Some(&label.message),
            None => annotations.push((label.span, vec![], Some(&label.message))),
        }
    }
    for (i, step) in diagnostic.trace.iter().enumerate() {
        let number = (i + 1).to_string();
        match annotations.iter_mut().find(|a| a.0 == step.span) {
            Some(existing) => existing.1.push(number),
            None => annotations.push((step.span, vec![number], None)),
        }
    }
    let mut snippet = Snippet::source(window)
        .line_start(first_line)
        .path(report.path.as_str())
        .fold(true);
    for (i, (span, numbers, message)) in annotations.into_iter().enumerate() {
        let label = match (numbers.is_empty(), message) {
            (true, None) => None,
            (true, Some(message)) => Some(message.to_string()),
            (false, None) => Some(numbers.join(", ")),
            (false, Some(message)) => Some(format!("{}: {message}", numbers.join(", "))),
        };
        let kind = if i == 0 {
            AnnotationKind::Primary
        } else {
            AnnotationKind::Context
        };
        snippet = snippet.annotation(kind.span(local(span)).label(label));
    }

    let level = match diagnostic.severity {
        Severity::Warning => Level::WARNING,
        Severity::Error => Level::ERROR,
    };
    let mut group = level
        .primary_title(diagnostic.message.as_str())
        .id(diagnostic.code)
        .element(snippet);
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    for note in &diagnostic.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    if !diagnostic.trace.is_empty() {
        let mut steps = String::from("path:");
        for (i, step) in diagnostic.trace.iter().enumerate() {
            let loc = Location::of(step.span, source, index);
            let _ = write!(
                steps,
                "\n{:>3}. {}:{}:{}: {}",
                i + 1,
                report.path,
                loc.line,
                loc.column,
                step.message
            );
        }
        group = group.element(Level::NOTE.no_name().message(steps));
    }
    renderer.render(&[group])
}

/// One line per file-level error: `error: bad.c: binary file (contains NUL bytes)`.
pub fn render_errors(reports: &[FileReport], opts: &TextOptions) -> String {
    let error = paint(
        opts,
        AnsiColor::BrightRed.on_default().effects(Effects::BOLD),
    );
    let mut out = String::new();
    for report in sorted_reports(reports) {
        if let Some(message) = &report.error {
            let _ = writeln!(out, "{}: {}: {message}", error("error"), report.path);
        }
    }
    out
}

/// The closing summary: one line per rule with findings (count, code, name), then
/// `Found 3 warnings in 2 files (5 files, 41 functions analysed, 0 skipped, 0.12s)`, or
/// `No problems found in 5 files (...)`, plus a line for files that could not be analysed.
/// Ends in a newline.
pub fn render_summary(reports: &[FileReport], stats: &RunStats, opts: &TextOptions) -> String {
    let bold = paint(opts, Style::new().effects(Effects::BOLD));
    let warnings = count(reports, Severity::Warning);
    let errors = count(reports, Severity::Error);
    let files_with_findings = reports.iter().filter(|r| !r.diagnostics.is_empty()).count();
    let mut counts = format!(
        "{} analysed, {} skipped",
        plural(stats.functions_analyzed, "function"),
        stats.functions_skipped
    );
    if stats.functions_incomplete > 0 {
        let _ = write!(counts, ", {} incomplete", stats.functions_incomplete);
    }
    if stats.suppressed > 0 {
        let _ = write!(counts, ", {} suppressed", stats.suppressed);
    }
    if let Some(elapsed) = stats.elapsed {
        let _ = write!(counts, ", {:.2}s", elapsed.as_secs_f64());
    }
    let mut out = render_rule_counts(reports);
    if warnings + errors == 0 {
        let _ = writeln!(
            out,
            "{} in {} ({counts})",
            bold("No problems found"),
            plural(stats.files_analyzed, "file")
        );
    } else {
        let found = match (errors, warnings) {
            (0, w) => plural(w, "warning"),
            (e, 0) => plural(e, "error"),
            (e, w) => format!("{} and {}", plural(e, "error"), plural(w, "warning")),
        };
        let _ = writeln!(
            out,
            "{} in {} ({}, {counts})",
            bold(&format!("Found {found}")),
            plural(files_with_findings, "file"),
            plural(stats.files_analyzed, "file"),
        );
    }
    if stats.files_with_errors > 0 {
        let _ = writeln!(
            out,
            "{} could not be analysed",
            plural(stats.files_with_errors, "file")
        );
    }
    out.push_str(&render_limits(reports));
    out
}

/// The analysis limits reached (see `FileReport::limits`), one line each; nothing when
/// none was.
fn render_limits(reports: &[FileReport]) -> String {
    let mut limits: std::collections::BTreeMap<&str, usize> = Default::default();
    for (limit, count) in reports.iter().flat_map(|r| &r.limits) {
        *limits.entry(limit).or_default() += count;
    }
    let mut out = String::new();
    for (limit, count) in limits {
        let _ = writeln!(
            out,
            "limit reached in {}: {limit}",
            plural(count, "function")
        );
    }
    out
}

/// Findings per rule, most frequent first (then by code): `    2  CPY101  reference-leak`.
fn render_rule_counts(reports: &[FileReport]) -> String {
    let mut counts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for diagnostic in reports.iter().flat_map(|r| &r.diagnostics) {
        *counts
            .entry((diagnostic.code, diagnostic.rule))
            .or_default() += 1;
    }
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let width = rows
        .iter()
        .map(|(_, n)| n.to_string().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for ((code, rule), n) in rows {
        let _ = writeln!(out, "{n:>width$}  {code}  {rule}");
    }
    out
}

fn count(reports: &[FileReport], severity: Severity) -> usize {
    reports
        .iter()
        .flat_map(|r| &r.diagnostics)
        .filter(|d| d.severity == severity)
        .count()
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A function that wraps text in `style` when colour is on.
fn paint(opts: &TextOptions, style: Style) -> impl Fn(&str) -> String {
    let color = opts.color;
    move |text| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}
