//! End-to-end tests of what the binary does with hostile input: it never aborts, never
//! hangs, never reads without bound and never drops a file silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cpycheck");

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "cpycheck-rel-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary in `dir`, killing it (and failing) after `limit`.
fn run_within(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`cpycheck {}` did not finish within {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    run_within(dir, args, Duration::from_secs(120))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A module whose function runs `Py_INCREF(x); Py_DECREF(x)` `fan^levels` times in one
/// basic block, through macros that use macros.
fn macro_storm(levels: usize, fan: usize) -> String {
    let mut src = String::from("#include <Python.h>\n#define A0(o) Py_INCREF(o); Py_DECREF(o)\n");
    for i in 1..=levels {
        let uses = vec![format!("A{}(o)", i - 1); fan].join("; ");
        src.push_str(&format!("#define A{i}(o) {uses}\n"));
    }
    src.push_str(&format!(
        "static PyObject *f(PyObject *self, PyObject *x) {{\n    A{levels}(x);\n    \
         Py_RETURN_NONE;\n}}\n"
    ));
    src
}

/// `debug dump-summaries` ran on the main thread's default stack, where freeing a history
/// of about 70,000 events aborted the process; it now runs on the analysis threads, and
/// histories are bounded.
#[test]
fn debug_dump_summaries_survives_a_huge_history() {
    let dir = TempDir::new("storm");
    dir.write("storm.c", macro_storm(4, 15)); // 101,250 events on `x`
    let out = run(dir.path(), &["debug", "dump-summaries", "storm.c"]);
    assert!(out.status.success(), "{:?}\n{}", out.status, stderr(&out));
    assert!(stdout(&out).contains("f: returns"), "{}", stdout(&out));
}
