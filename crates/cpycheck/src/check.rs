//! `cpycheck check`: find the files, analyse them in parallel (each isolated), filter.

use std::path::{Path, PathBuf};

use cpycheck_diagnostics::FileReport;
use cpycheck_rules::Settings;
use ignore::WalkBuilder;
use rayon::prelude::*;

use crate::filter::RuleFilter;
use crate::isolation;

/// Testing hook, documented in CONTRIBUTING.md: when set, analysing any file whose path
/// contains this value panics inside the per-file wrapper, to prove per-file isolation.
pub const TEST_PANIC_ENV: &str = "CPYCHECK_TEST_PANIC_ON";

/// When set to `1`, each file's analysis time is measured and shown in the JSON statistics
/// (off by default: timings make the output differ from run to run).
pub const TIMINGS_ENV: &str = "CPYCHECK_TIMINGS";

/// Stack size of the analysis threads. Deeply nested input should be handled by bounded
/// recursion in the analysis crates; this is the safety margin behind that.
const STACK_SIZE: usize = 64 * 1024 * 1024;

/// A file to analyse, or a path that could not be searched.
#[derive(Debug)]
enum Input {
    File { display: String, path: PathBuf },
    Error { display: String, message: String },
}

impl Input {
    fn display(&self) -> &str {
        match self {
            Input::File { display, .. } | Input::Error { display, .. } => display,
        }
    }
}

/// Analyses every file under `paths`; returns one report per file (or unsearchable path),
/// sorted by path, with diagnostics filtered by `filter` and sorted by position.
pub fn check_paths(paths: &[PathBuf], settings: &Settings, filter: &RuleFilter) -> Vec<FileReport> {
    let inputs = collect_inputs(paths);
    let panic_on = std::env::var(TEST_PANIC_ENV).ok().filter(|s| !s.is_empty());
    let timings = std::env::var_os(TIMINGS_ENV).is_some_and(|v| v == "1");
    let analyse_all = || {
        inputs
            .par_iter()
            .map(|input| {
                let start = std::time::Instant::now();
                let mut report = analyse(input, settings, panic_on.as_deref());
                if timings {
                    report.elapsed = Some(start.elapsed());
                }
                report
            })
            .collect::<Vec<_>>()
    };
    let mut reports = match rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_SIZE)
        .thread_name(|i| format!("cpycheck-{i}"))
        .build()
    {
        Ok(pool) => pool.install(analyse_all),
        Err(_) => analyse_all(),
    };
    for report in &mut reports {
        report.diagnostics.retain(|d| filter.allows(d.code));
        report.sort();
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    reports
}

/// Expands the user's paths into files: explicit files as given, directories walked for
/// `.c`/`.h` files honouring `.gitignore` (also outside git repositories), `.ignore` and
/// hidden-file rules. Duplicates are dropped.
fn collect_inputs(paths: &[PathBuf]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for path in paths {
        let display = path.to_string_lossy().into_owned();
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut inputs),
            Ok(_) => inputs.push(Input::File {
                display,
                path: path.clone(),
            }),
            Err(err) => {
                let message = if path.symlink_metadata().is_ok() {
                    format!("broken symbolic link: {err}")
                } else {
                    format!("cannot open: {err}")
                };
                inputs.push(Input::Error { display, message });
            }
        }
    }
    inputs.sort_by(|a, b| a.display().cmp(b.display()));
    inputs.dedup_by(|a, b| a.display() == b.display());
    inputs
}

fn walk(root: &Path, inputs: &mut Vec<Input>) {
    let walker = WalkBuilder::new(root).require_git(false).build();
    for entry in walker {
        match entry {
            Ok(entry) => {
                let Some(file_type) = entry.file_type() else {
                    continue;
                };
                let is_c = entry
                    .path()
                    .extension()
                    .is_some_and(|ext| ext == "c" || ext == "h");
                if is_c && (file_type.is_file() || file_type.is_symlink()) {
                    inputs.push(Input::File {
                        display: display_path(entry.path()),
                        path: entry.into_path(),
                    });
                }
            }
            Err(err) => inputs.push(Input::Error {
                display: error_path(&err)
                    .map_or_else(|| root.to_string_lossy().into_owned(), display_path),
                message: format!("cannot search: {}", error_message(&err)),
            }),
        }
    }
}

/// Paths found under `.` are shown without the leading `./`.
fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    match text.strip_prefix("./") {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => text.into_owned(),
    }
}

fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child),
        _ => None,
    }
}

fn error_message(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => error_message(err),
        _ => err.to_string(),
    }
}

/// Reads and analyses one input. Never panics: read errors, binary files and panics inside
/// the analysis become the report's `error`.
fn analyse(input: &Input, settings: &Settings, panic_on: Option<&str>) -> FileReport {
    let (display, path) = match input {
        Input::File { display, path } => (display, path),
        Input::Error { display, message } => return error_report(display, message.clone()),
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => return error_report(display, format!("cannot read: {err}")),
    };
    if bytes.contains(&0) {
        return error_report(
            display,
            "binary file (contains NUL bytes); not analysed".into(),
        );
    }
    let result = isolation::catch(|| {
        if panic_on.is_some_and(|needle| display.contains(needle)) {
            panic!("{TEST_PANIC_ENV} matched this file");
        }
        cpycheck_rules::check_file(display, &bytes, settings)
    });
    match result {
        Ok(mut report) => {
            report.path.clone_from(display);
            report
        }
        Err(panic) => FileReport {
            path: display.clone(),
            source: String::from_utf8_lossy(&bytes).into_owned(),
            error: Some(format!(
                "internal error: {panic}; this is a bug in cpycheck, please report it \
                 (set {}=1 for a backtrace)",
                isolation::BACKTRACE_ENV
            )),
            ..FileReport::default()
        },
    }
}

fn error_report(display: &str, message: String) -> FileReport {
    FileReport {
        path: display.to_string(),
        error: Some(message),
        ..FileReport::default()
    }
}
