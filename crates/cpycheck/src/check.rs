//! `cpycheck check`: find the files, analyse them in parallel (each isolated), filter by
//! the rule selection, apply suppression comments.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cpycheck_config::{Resolved, suppression};
use cpycheck_diagnostics::{Diagnostic, FileReport};
use cpycheck_rules::{ExternalSummaries, FileExports, Settings};

use crate::headers::HeaderCache;
use crate::inputs::{self, Input};
use crate::isolation;
use crate::progress::Progress;
use crate::threads;

/// Testing hook, documented in CONTRIBUTING.md: when set, analysing any file whose path
/// contains this value panics inside the per-file wrapper, to prove per-file isolation.
pub const TEST_PANIC_ENV: &str = "CPYCHECK_TEST_PANIC_ON";

/// How the error of a file whose analysis panicked starts (the exit status tells it from
/// the errors of the input).
pub const INTERNAL_ERROR: &str = "internal error";

/// When set to `1`, each file's analysis time is measured and shown in the JSON statistics
/// (off by default: timings make the output differ from run to run).
pub const TIMINGS_ENV: &str = "CPYCHECK_TIMINGS";

/// Memory for the lowered functions the first pass keeps for the second (estimated by
/// [`FileExports::kept_bytes`]; the whole pinned corpus needs about 270 MiB); past it, the
/// second pass parses the file again, so memory stays bounded on larger runs.
const KEEP_FOR_SECOND_PASS: usize = 384 * 1024 * 1024;

/// What a run produced.
pub struct Outcome {
    /// One report per file (or unsearchable path), sorted by path, with the diagnostics
    /// the selection kept and no suppression covered (plus unused-suppression diagnostics
    /// when asked for), sorted by position.
    pub reports: Vec<FileReport>,
    /// Findings removed by suppression comments.
    pub suppressed: usize,
}

/// Analyses every file under `paths` that `resolved` does not exclude. With `headers`, the
/// macros of the package headers a file includes join the file's (see `headers.rs`).
pub fn check_paths(
    paths: &[PathBuf],
    resolved: &Arc<Resolved>,
    progress: &Progress,
    headers: bool,
) -> Outcome {
    let inputs = inputs::collect_inputs(paths, resolved);
    let limit = resolved.max_file_size;
    let cache = headers.then(HeaderCache::default);
    let cache = cache.as_ref();
    progress.start(inputs.len());
    let panic_on = std::env::var(TEST_PANIC_ENV).ok().filter(|s| !s.is_empty());
    let settings = &resolved.settings;
    let timings = std::env::var_os(TIMINGS_ENV).is_some_and(|v| v == "1");
    let order = largest_first_order(&inputs);
    let analyse_all = || {
        let none = ExternalSummaries::default();
        let kept = AtomicUsize::new(0);
        let first: Vec<(FileReport, FileExports)> = largest_first(&inputs, &order, |_, input| {
            let start = std::time::Instant::now();
            let (mut report, mut exports) =
                analyse(input, settings, limit, &none, cache, panic_on.as_deref());
            let size = exports.kept_bytes();
            if kept.fetch_add(size, Ordering::Relaxed) + size > KEEP_FOR_SECOND_PASS {
                kept.fetch_sub(size, Ordering::Relaxed);
                exports.forget_bodies();
            }
            if timings {
                report.elapsed = Some(start.elapsed());
            }
            progress.inc();
            (report, exports)
        });
        // The files that call functions defined in other files learn their contracts and
        // are analysed once more (one round: summaries do not chain across files), from
        // what the first analysis kept: only the functions those contracts can change.
        let external = ExternalSummaries::from_exports(first.iter().map(|(_, e)| e));
        let first: Vec<Mutex<Option<(FileReport, FileExports)>>> =
            first.into_iter().map(|r| Mutex::new(Some(r))).collect();
        largest_first(&inputs, &order, |i, input| {
            let (report, exports) = lock(&first[i]).take().expect("each file is taken once");
            let mut report =
                if report.error.is_none() && external.knows_any(&exports.unresolved_calls) {
                    let start = std::time::Instant::now();
                    let elapsed = report.elapsed;
                    let mut again = reanalyse(input, report, exports, settings, &external, cache);
                    again.elapsed = elapsed.map(|first| first + start.elapsed());
                    again
                } else {
                    report
                };
            let suppressed = filter_and_suppress(&mut report, resolved);
            (report, suppressed)
        })
    };
    let results = threads::run(analyse_all);
    progress.finish();
    let suppressed = results.iter().map(|(_, n)| n).sum();
    let mut reports: Vec<FileReport> = results.into_iter().map(|(r, _)| r).collect();
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    Outcome {
        reports,
        suppressed,
    }
}

/// Analyses one file's source read from stdin, reported under `name` (`--stdin-filename`):
/// `name` picks the C or Cython reader and the folder the package headers are looked up
/// from, as if the file were there.
pub fn check_stdin(
    name: &Path,
    bytes: Vec<u8>,
    resolved: &Arc<Resolved>,
    headers: bool,
) -> Outcome {
    let display = name.to_string_lossy().into_owned();
    let settings = &resolved.settings;
    let mut report = if bytes.contains(&0) {
        error_report(
            &display,
            "binary input (contains NUL bytes); not analysed".into(),
        )
    } else {
        let base = name.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        let cache = headers.then(HeaderCache::default);
        isolation::catch(|| {
            let none = ExternalSummaries::default();
            let (report, _) = match &cache {
                Some(cache) => {
                    let includes = cache.for_file(name, &base);
                    cpycheck_rules::check_file_with(&display, &bytes, settings, &none, &includes)
                }
                None => cpycheck_rules::check_file_with(
                    &display,
                    &bytes,
                    settings,
                    &none,
                    &cpycheck_source::NoIncludes,
                ),
            };
            report
        })
        .unwrap_or_else(|panic| {
            error_report(
                &display,
                format!("{INTERNAL_ERROR}: {panic}; this is a bug in cpycheck, please report it"),
            )
        })
    };
    report.path.clone_from(&display);
    let suppressed = filter_and_suppress(&mut report, resolved);
    Outcome {
        reports: vec![report],
        suppressed,
    }
}

/// The files a run would analyse (`--show-files`), in output order.
pub fn files(paths: &[PathBuf], resolved: &Arc<Resolved>) -> Vec<String> {
    inputs::collect_inputs(paths, resolved)
        .into_iter()
        .filter_map(|input| match input {
            Input::File { display, .. } => Some(display),
            Input::Error { .. } => None,
        })
        .collect()
}

/// The indices of `inputs`, largest file first (ties and unreadable files in input order).
fn largest_first_order(inputs: &[Input]) -> Vec<usize> {
    let size = |input: &Input| match input {
        Input::File { path, .. } => std::fs::metadata(path).map_or(0, |m| m.len()),
        Input::Error { .. } => 0,
    };
    let sizes: Vec<u64> = inputs.iter().map(size).collect();
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    order
}

/// `f` of every item (with its index), in parallel, results in the order of `items`; the items are *started*
/// in `order` (largest files first), so that the run does not end on a large file while
/// the other threads have nothing left to do.
///
/// A file's own work is parallel too (parse pieces, lowering, the engine's functions), and
/// a thread waiting for that work takes any queued job, so items are not handed out as a
/// split range (whose last part one thread would run alone) but pulled one at a time from a
/// shared position by tasks that each start one item and then queue their successor: a few
/// more tasks than threads, so that a waiting thread can start the next file, but never a
/// chain of files inside one file's wait.
fn largest_first<T: Sync, R: Send>(
    items: &[T],
    order: &[usize],
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    struct Queue<'q, T, R, F> {
        items: &'q [T],
        order: &'q [usize],
        next: AtomicUsize,
        results: Vec<Mutex<Option<R>>>,
        f: F,
    }
    impl<'q, T: Sync, R: Send, F: Fn(usize, &T) -> R + Sync> Queue<'q, T, R, F> {
        fn task<'s>(&'s self, scope: &rayon::Scope<'s>) {
            let Some(&i) = self.order.get(self.next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            let result = (self.f)(i, &self.items[i]);
            *lock(&self.results[i]) = Some(result);
            scope.spawn(move |scope| self.task(scope));
        }
    }
    let queue = Queue {
        items,
        order,
        next: AtomicUsize::new(0),
        results: items.iter().map(|_| Mutex::new(None)).collect(),
        f,
    };
    let tasks = 2 * rayon::current_num_threads();
    rayon::scope(|scope| {
        for _ in 0..tasks {
            let queue = &queue;
            scope.spawn(move |scope| queue.task(scope));
        }
    });
    queue
        .results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .expect("every item is done")
        })
        .collect()
}

/// The value behind `m` (a panic while it was held is already a file's error).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps the diagnostics the rule selection and `per-file-ignores` allow, then applies the
/// file's suppression comments to them. Returns the number of suppressed findings.
fn filter_and_suppress(report: &mut FileReport, resolved: &Resolved) -> usize {
    let path = PathBuf::from(&report.path);
    let path = path.as_path();
    let (kept, dropped): (Vec<Diagnostic>, Vec<Diagnostic>) =
        std::mem::take(&mut report.diagnostics)
            .into_iter()
            .partition(|d| resolved.allows(path, d.code));
    report.diagnostics = kept;
    let applied = suppression::apply(
        report,
        &dropped,
        &cpycheck_config::rule_prefix,
        resolved.warn_unused_ignores,
    );
    report.diagnostics.extend(applied.unused);
    report.diagnostics.extend(
        applied
            .invalid
            .into_iter()
            .filter(|d| resolved.allows(path, d.code)),
    );
    report.sort();
    applied.suppressed
}

/// Reads and analyses one input. Never panics: read errors, binary files and panics inside
/// the analysis become the report's `error`.
fn analyse(
    input: &Input,
    settings: &Settings,
    limit: u64,
    external: &ExternalSummaries,
    headers: Option<&HeaderCache>,
    panic_on: Option<&str>,
) -> (FileReport, FileExports) {
    let (display, path, base) = match input {
        Input::File {
            display,
            path,
            base,
        } => (display, path, base),
        Input::Error { display, message } => {
            return (
                error_report(display, message.clone()),
                FileExports::default(),
            );
        }
    };
    let bytes = match inputs::read_source(path, limit) {
        Ok(bytes) => bytes,
        Err(message) => return (error_report(display, message), FileExports::default()),
    };
    let companion = inputs::companion_pxd(path, limit);
    let result = isolation::catch(|| {
        if panic_on.is_some_and(|needle| display.contains(needle)) {
            panic!("{TEST_PANIC_ENV} matched this file");
        }
        match &companion {
            Ok(Some(pxd)) => {
                return (
                    cpycheck_rules::check_cython_module(display, &bytes, Some(pxd)),
                    FileExports::default(),
                );
            }
            Err(message) => {
                let mut report = cpycheck_rules::check_cython_module(display, &bytes, None);
                report.error = Some(message.clone());
                return (report, FileExports::default());
            }
            Ok(None) => {}
        }
        match headers {
            Some(cache) => {
                let includes = cache.for_file(path, base);
                cpycheck_rules::check_file_with(display, &bytes, settings, external, &includes)
            }
            None => cpycheck_rules::check_file_with(
                display,
                &bytes,
                settings,
                external,
                &cpycheck_source::NoIncludes,
            ),
        }
    });
    match result {
        Ok((mut report, exports)) => {
            report.path.clone_from(display);
            (report, exports)
        }
        Err(panic) => {
            let report = FileReport {
                path: display.clone(),
                source: String::from_utf8_lossy(&bytes).into_owned(),
                error: Some(format!(
                    "{INTERNAL_ERROR}: {panic}; this is a bug in cpycheck, please report it \
                     (set {}=1 for a backtrace)",
                    isolation::BACKTRACE_ENV
                )),
                ..FileReport::default()
            };
            (report, FileExports::default())
        }
    }
}

/// The second analysis of a file (see [`cpycheck_rules::recheck_file`]); a panic becomes the
/// report's `error`, as in [`analyse`].
fn reanalyse(
    input: &Input,
    first: FileReport,
    exports: FileExports,
    settings: &Settings,
    external: &ExternalSummaries,
    headers: Option<&HeaderCache>,
) -> FileReport {
    // The file is not read again: its text as analysed (invalid UTF-8 already replaced
    // byte for byte, as source prep would) is in the first report.
    let source = first.source.clone();
    let (bytes, includes) = match input {
        Input::File { path, base, .. } if exports.recheck_needs_bytes() => (
            Some(source.clone().into_bytes()),
            headers.map(|cache| cache.for_file(path, base)),
        ),
        _ => (None, None),
    };
    isolation::catch(|| {
        let includes: &dyn cpycheck_source::Includes = match &includes {
            Some(includes) => includes,
            None => &cpycheck_source::NoIncludes,
        };
        cpycheck_rules::recheck_file(
            first,
            exports,
            bytes.as_deref(),
            settings,
            external,
            includes,
        )
    })
    .unwrap_or_else(|panic| FileReport {
        path: input.display().to_string(),
        source,
        error: Some(format!(
            "{INTERNAL_ERROR}: {panic}; this is a bug in cpycheck, please report it \
                 (set {}=1 for a backtrace)",
            isolation::BACKTRACE_ENV
        )),
        ..FileReport::default()
    })
}

fn error_report(display: &str, message: String) -> FileReport {
    FileReport {
        path: display.to_string(),
        error: Some(message),
        ..FileReport::default()
    }
}
