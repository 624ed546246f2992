//! What the CLI says about a run itself rather than about the code: why it found no file to
//! analyse, the settings in force (`--show-settings`), and the functions it did not
//! analyse (`--show-skipped`).

use std::fmt::Write as _;
use std::path::PathBuf;

use cpycheck_config::Resolved;
use cpycheck_diagnostics::FileReport;
use cpycheck_source::LineIndex;
use ignore::WalkBuilder;

/// Extensions of the files `check` analyses when it finds them under a directory.
const SOURCE_EXTENSIONS: &[&str] = &["c", "h", "pyx", "pxd"];
/// Extensions of C++ sources, which cpycheck does not analyse.
const CPP_EXTENSIONS: &[&str] = &["cpp", "cc", "cxx", "c++", "hpp", "hh", "hxx", "h++"];

/// Why a run found nothing to analyse under `paths`: a warning naming the reason. Called
/// only when no file was analysed and none failed, so the extra walks cost nothing on a
/// normal run.
pub fn no_files_reason(paths: &[PathBuf], resolved: &Resolved) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let shown = shown.join(", ");
    // Everything under the paths, without the configuration's exclude and without the
    // ignore files, split by what excluded it.
    let mut sources = 0;
    let mut excluded = 0;
    let mut ignored = 0;
    let mut cpp = 0;
    for root in paths {
        if root.is_file() {
            // A file named explicitly is analysed unless `exclude` matches it.
            if resolved.is_excluded(root) {
                excluded += 1;
            }
            continue;
        }
        let kept: std::collections::HashSet<PathBuf> = WalkBuilder::new(root)
            .require_git(false)
            .build()
            .flatten()
            .map(ignore::DirEntry::into_path)
            .collect();
        for entry in WalkBuilder::new(root)
            .standard_filters(false)
            .hidden(true)
            .build()
            .flatten()
        {
            let path = entry.path();
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if CPP_EXTENSIONS.contains(&ext.as_str()) {
                cpp += 1;
            }
            if !SOURCE_EXTENSIONS.contains(&ext.as_str()) {
                continue;
            }
            sources += 1;
            if !kept.contains(path) {
                ignored += 1;
            } else if path
                .ancestors()
                .take_while(|a| a.starts_with(root))
                .any(|a| resolved.is_excluded(a))
            {
                excluded += 1;
            }
        }
    }
    let config = resolved.config_path.as_deref().map_or_else(
        || "the command line's --exclude".to_string(),
        |p| format!("`exclude` in {}", crate::relative_display(p)),
    );
    if excluded > 0 && excluded + ignored >= sources {
        format!(
            "no files analysed: all {excluded} C and Cython file(s) under {shown} are excluded by {config}{}",
            if ignored > 0 {
                format!(" or ignored by .gitignore/.ignore files ({ignored})")
            } else {
                String::new()
            }
        )
    } else if ignored > 0 {
        format!(
            "no files analysed: all {ignored} C and Cython file(s) under {shown} are ignored by \
             .gitignore or .ignore files (in the folders searched or their parents) or are hidden"
        )
    } else if cpp > 0 {
        format!(
            "no files analysed: only C++ files were found under {shown} ({cpp}); cpycheck \
             analyses C (`.c`, `.h`) and Cython (`.pyx`, `.pxd`) sources"
        )
    } else {
        format!("no files analysed: no `.c`, `.h`, `.pyx` or `.pxd` files under {shown}")
    }
}

/// `--show-settings`: the configuration file, the rules that will be reported, and the
/// other settings in force.
pub fn settings(resolved: &Resolved, headers: bool) -> String {
    let mut out = String::new();
    let config = resolved.config_path.as_deref().map_or_else(
        || "none (defaults and the command line)".to_string(),
        crate::relative_display,
    );
    let _ = writeln!(out, "configuration file: {config}");
    let (major, minor) = resolved.settings.python_version;
    let _ = writeln!(out, "python-version: {major}.{minor}");
    let _ = writeln!(out, "preview: {}", resolved.filter.preview());
    let list = |items: &[String]| {
        if items.is_empty() {
            "[]".to_string()
        } else {
            format!("[{}]", items.join(", "))
        }
    };
    let _ = writeln!(out, "select: {}", list(resolved.filter.selected()));
    let _ = writeln!(out, "extend-select: {}", list(resolved.filter.extended()));
    let _ = writeln!(out, "ignore: {}", list(resolved.filter.ignored()));
    let _ = writeln!(out, "exclude: {}", list(&resolved.exclude_patterns));
    let _ = writeln!(out, "warn-unused-ignores: {}", resolved.warn_unused_ignores);
    let _ = writeln!(
        out,
        "package headers: {}",
        if headers { "read" } else { "not read" }
    );
    let contracts: Vec<String> = resolved.settings.contracts.keys().cloned().collect();
    let _ = writeln!(out, "contracts: {}", list(&contracts));
    let _ = writeln!(out, "rules reported:");
    for rule in crate::rule::all_rules() {
        let on = if rule.code == cpycheck_config::suppression::UNUSED_SUPPRESSION.code {
            resolved.warn_unused_ignores
        } else {
            resolved.filter.allows(rule.code)
        };
        if on {
            let preview = if rule.preview { " (preview)" } else { "" };
            let _ = writeln!(out, "  {}  {}{preview}", rule.code, rule.name);
        }
    }
    out
}

/// `--show-skipped`: every function that was not analysed, with the reason, and the
/// number of functions whose analysis ran out of budget, per file.
pub fn skipped(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let index = LineIndex::new(&report.source);
        for entry in &report.skipped {
            let (line, col) = index.line_col(entry.span.start.min(report.source.len() as u32));
            let name = entry.name.as_deref().unwrap_or("(unnamed function)");
            let _ = writeln!(
                out,
                "{}:{line}:{col}: skipped `{name}`: {}",
                report.path, entry.reason
            );
        }
        if report.functions_incomplete > 0 {
            let _ = writeln!(
                out,
                "{}: {} function(s) analysed incompletely: the analysis budget ran out; \
                 findings on the paths explored are kept",
                report.path, report.functions_incomplete
            );
        }
    }
    if out.is_empty() {
        out.push_str("No function was skipped or analysed incompletely.\n");
    }
    out
}
