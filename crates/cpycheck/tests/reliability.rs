//! End-to-end tests of what the binary does with hostile input: it never aborts, never
//! hangs, never reads without bound and never drops a file silently.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_cpycheck");

mod common;
use common::TempDir;

/// Runs the binary in `dir`, failing if it has not finished after `limit` (it is then
/// killed).
fn run_within(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let id = child.id();
    let (send, receive) = std::sync::mpsc::channel();
    // The output is read while the child runs, so a large one cannot fill the pipe.
    std::thread::spawn(move || send.send(child.wait_with_output()));
    match receive.recv_timeout(limit) {
        Ok(output) => output.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!(
                "`cpycheck {}` did not finish within {limit:?}",
                args.join(" ")
            );
        }
    }
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

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(out), stderr(out)))
}

/// `(file, message)` of each error entry.
fn errors(json: &serde_json::Value) -> Vec<(String, String)> {
    json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

const CLEAN_C: &str = "static int counter = 0;\n";

/// A FIFO named on the command line, a `.c` symlink to a FIFO found by the walk, and a
/// symlink to `/dev/zero` each blocked forever or read without end; now each is a clear
/// per-file error, and the other files are analysed.
#[cfg(unix)]
#[test]
fn fifos_and_devices_are_errors_not_hangs() {
    let dir = TempDir::new("fifo");
    dir.write("src/ok.c", CLEAN_C);
    mkfifo(&dir.path().join("pipe.c"));
    mkfifo(&dir.path().join("elsewhere"));
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("src/link.c"))
        .unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("src/zero.c")).unwrap();
    let out = run_within(
        dir.path(),
        &["check", "--isolated", "--format", "json", "pipe.c", "src"],
        Duration::from_secs(60),
    );
    // Files that cannot be read while others are analysed: findings-level status (README).
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json = json(&out);
    assert_eq!(
        errors(&json),
        [
            (
                "pipe.c".into(),
                "not a regular file (a FIFO); not analysed".into()
            ),
            (
                "src/link.c".into(),
                "not a regular file (a FIFO); not analysed".into()
            ),
            (
                "src/zero.c".into(),
                "not a regular file (a character device); not analysed".into()
            ),
        ]
    );
    assert_eq!(json["files_analyzed"], 1);
}

/// A FIFO as a module's companion `.pxd` blocked the run; now the module is analysed on
/// its own, with an error entry that names the companion.
#[cfg(unix)]
#[test]
fn a_fifo_companion_pxd_is_an_error_not_a_hang() {
    let dir = TempDir::new("pxd");
    dir.write("mod.pyx", "cdef class C:\n    cdef object x\n");
    mkfifo(&dir.path().join("mod.pxd"));
    let out = run_within(
        dir.path(),
        &["check", "--isolated", "--format", "json", "mod.pyx"],
        Duration::from_secs(60),
    );
    // The module's own entry carries the error: the status of a run with file errors.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        errors(&json(&out)),
        [(
            "mod.pyx".into(),
            "companion mod.pxd not read: not a regular file (a FIFO); not analysed; the \
             module was analysed without it"
                .into()
        )]
    );
}

/// `--config` naming a FIFO or a device blocked or read without end.
#[cfg(unix)]
#[test]
fn a_config_file_that_is_not_a_regular_file_is_an_error() {
    let dir = TempDir::new("config-fifo");
    dir.write("ok.c", CLEAN_C);
    mkfifo(&dir.path().join("cpycheck.toml"));
    for config in ["cpycheck.toml", "/dev/zero"] {
        let out = run_within(
            dir.path(),
            &["check", "--config", config, "ok.c"],
            Duration::from_secs(60),
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
    }
}

/// A source past `max-file-size` is an error entry (not read); so is a configuration file
/// past its own limit.
#[test]
fn files_past_the_size_limit_are_errors() {
    let dir = TempDir::new("size");
    dir.write("cpycheck.toml", "max-file-size = \"1KiB\"\n");
    dir.write("small.c", CLEAN_C);
    dir.write("big.c", CLEAN_C.repeat(100));
    let out = run(dir.path(), &["check", "--format", "json"]);
    // `small.c` is analysed, so the oversized file makes the status 1, not 2 (README).
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json = json(&out);
    assert_eq!(
        errors(&json),
        [(
            "big.c".into(),
            "too large (2400 bytes; the limit is 1024 bytes, set by `max-file-size`); not \
             analysed"
                .into()
        )]
    );
    assert_eq!(json["files_analyzed"], 1);

    dir.write("cpycheck.toml", format!("# {}\n", "x".repeat(2 << 20)));
    let out = run(dir.path(), &["check", "small.c"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("too large"), "{}", stderr(&out));
}

/// A file of NUL bytes is refused from its first block.
#[test]
fn a_large_binary_file_is_refused() {
    let dir = TempDir::new("nul");
    dir.write("zeros.c", vec![0u8; 4 << 20]);
    let out = run(dir.path(), &["check", "--isolated", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        errors(&json(&out)),
        [(
            "zeros.c".into(),
            "binary file (contains NUL bytes); not analysed".into()
        )]
    );
}

/// The classic inline leak, one finding.
const LEAK_C: &str = "#include <Python.h>\nstatic PyObject *\nf(PyObject *self, PyObject *args)\n{\n    return PyNumber_Negative(PyLong_FromLong(1));\n}\nstatic PyMethodDef m[] = {{\"f\", f, METH_VARARGS, NULL}, {NULL}};\n";

/// Two names that differ only in bytes that are not UTF-8 had the same lossy display name,
/// and one of the files was never analysed.
#[cfg(target_os = "linux")]
#[test]
fn names_that_differ_only_in_non_utf8_bytes_are_both_analysed() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("non-utf8");
    for name in [&b"x\xff.c"[..], &b"x\xfe.c"[..]] {
        let path = dir.path().join(std::ffi::OsStr::from_bytes(name));
        std::fs::write(path, LEAK_C).unwrap();
    }
    let out = run(dir.path(), &["check", "--isolated", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json = json(&out);
    assert_eq!(json["files_analyzed"], 2);
    let files: Vec<&str> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["x\\xfe.c", "x\\xff.c"]);
}

/// A file reached through a symlink and by its own name is one file, analysed once.
#[cfg(unix)]
#[test]
fn a_file_reached_twice_is_analysed_once() {
    let dir = TempDir::new("twice");
    dir.write("src/a.c", LEAK_C);
    std::os::unix::fs::symlink("a.c", dir.path().join("src/b.c")).unwrap();
    let out = run(
        dir.path(),
        &["check", "--isolated", "--format", "json", "src", "src/a.c"],
    );
    let json = json(&out);
    assert_eq!(json["files_analyzed"], 1, "{json}");
    assert_eq!(json["diagnostics"].as_array().unwrap().len(), 1);
}

/// Control characters in a file name reached the terminal raw (an escape sequence in a
/// name could rewrite the screen); every format now shows them escaped.
#[cfg(unix)]
#[test]
fn control_characters_in_names_are_escaped_in_every_format() {
    let dir = TempDir::new("control");
    dir.write("a\x1b[2Jb.c", LEAK_C);
    dir.write("bad\x07.c", b"\0binary");
    for format in ["text", "concise", "json", "sarif"] {
        let out = run(dir.path(), &["check", "--isolated", "--format", format]);
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.iter().any(|&b| b == 0x1b || b == 0x07),
                "{format}: {}",
                String::from_utf8_lossy(stream)
            );
        }
        let all = stdout(&out) + &stderr(&out);
        let escaped = if format == "json" || format == "sarif" {
            ["a\\\\x1b[2Jb.c", "bad\\\\x07.c"]
        } else {
            ["a\\x1b[2Jb.c", "bad\\x07.c"]
        };
        if format == "sarif" {
            assert!(all.contains("\"a%1B%5B2Jb.c\""), "{all}");
        } else {
            for name in escaped {
                assert!(all.contains(name), "{format}: {name} not in {all}");
            }
        }
    }
}
