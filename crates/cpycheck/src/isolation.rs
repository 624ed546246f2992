//! Per-file isolation: a panic while analysing one file becomes an internal-error entry for
//! that file, and the run goes on.
//!
//! The panic hook installed here records the message of panics raised inside [`catch`]
//! instead of printing them, so a caught panic shows up once, as the file's error entry.
//! `CPYCHECK_BACKTRACE=1` prints them as well, with a backtrace. Panics anywhere else go to
//! the default hook as usual.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::panic::{self, AssertUnwindSafe};

/// Set to `1` to print caught panics, with a backtrace, on stderr.
pub const BACKTRACE_ENV: &str = "CPYCHECK_BACKTRACE";

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the recording panic hook. Call once, before analysing.
pub fn install_panic_hook() {
    let default_hook = panic::take_hook();
    let verbose = std::env::var_os(BACKTRACE_ENV).is_some_and(|v| !v.is_empty() && v != "0");
    panic::set_hook(Box::new(move |info| {
        if !CATCHING.with(Cell::get) {
            default_hook(info);
            return;
        }
        let location = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let message = format!("panicked{location}: {}", payload_message(info.payload()));
        if verbose {
            let backtrace = Backtrace::force_capture();
            let _ = writeln!(std::io::stderr().lock(), "{message}\n{backtrace}");
        }
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(message));
    }));
}

/// Runs `f`, turning a panic into `Err` with the panic's message and location.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    let was_catching = CATCHING.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was_catching));
    result.map_err(|payload| {
        LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| format!("panicked: {}", payload_message(&*payload)))
    })
}

fn payload_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}
