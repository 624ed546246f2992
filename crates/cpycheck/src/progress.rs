//! The progress bar on stderr: only on a terminal, never with `--quiet`, and only for runs
//! that last: it appears once a run has taken more than [`SHOW_AFTER`].

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs shorter than this never show a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// Testing hook, documented in CONTRIBUTING.md: the delay before the bar appears, in
/// milliseconds, instead of [`SHOW_AFTER`].
pub const TEST_SHOW_AFTER_ENV: &str = "CPYCHECK_TEST_PROGRESS_AFTER_MS";

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    show_after: Duration,
    shown: OnceLock<()>,
}

impl Progress {
    /// A progress reporter; `enabled` is false when stderr is not a terminal or the user
    /// asked for quiet output, and then nothing is ever drawn.
    pub fn new(enabled: bool) -> Progress {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} analysing [{bar:30}] {pos}/{len} files ({elapsed})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let show_after = std::env::var(TEST_SHOW_AFTER_ENV)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(SHOW_AFTER, Duration::from_millis);
        Progress {
            bar,
            started: Instant::now(),
            show_after,
            shown: OnceLock::new(),
        }
    }

    /// Sets the number of files.
    pub fn start(&self, files: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(files as u64);
        }
    }

    /// One more file done.
    pub fn inc(&self) {
        let Some(bar) = &self.bar else { return };
        bar.inc(1);
        if self.started.elapsed() >= self.show_after {
            self.shown.get_or_init(|| {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            });
        }
    }

    /// Removes the bar before the report is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
