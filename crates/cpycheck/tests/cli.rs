//! End-to-end tests of the `cpycheck` binary: exit codes, formats, file discovery, bad input
//! and per-file isolation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cpycheck");

/// A method with the classic inline leak: both `PyLong_FromLong` results are leaked.
const LEAK_C: &str = r#"#include <Python.h>

static PyObject *
mod_subtract(PyObject *module, PyObject *args)
{
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyNumber_Subtract(PyLong_FromLong(a), PyLong_FromLong(b));
}

static PyMethodDef mod_methods[] = {
    {"subtract", mod_subtract, METH_VARARGS, "a - b"},
    {NULL, NULL, 0, NULL}
};
"#;

/// No functions at all: no findings, whatever the rules do.
const CLEAN_C: &str = "static int counter = 0;\n";

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "cpycheck-cli-{name}-{}-{}",
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

    /// Writes `contents` to `rel`, creating parent directories.
    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Restore permissions a test may have removed, so the tree can be deleted.
        restore_permissions(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(unix)]
fn restore_permissions(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if let Ok(meta) = std::fs::symlink_metadata(&path) {
                if !meta.file_type().is_symlink() {
                    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
                }
                if meta.is_dir() {
                    restore_permissions(&path);
                }
            }
        }
    }
}

#[cfg(not(unix))]
fn restore_permissions(_dir: &Path) {}

struct Run {
    code: i32,
    /// Standard output with the run time in the summary line removed, so outputs compare.
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs cpycheck in `dir` with `args`, a clean environment for the variables it reads, and
/// a time limit: bad input must never hang.
fn run_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("CPYCHECK_TEST_PANIC_ON")
        .env_remove("CPYCHECK_BACKTRACE")
        .env_remove("NO_COLOR")
        .env_remove("RAYON_NUM_THREADS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let child = cmd.spawn().expect("cpycheck runs");
    let output = wait_with_timeout(child, Duration::from_secs(300));
    Run {
        code: output
            .status
            .code()
            .unwrap_or_else(|| panic!("cpycheck killed by a signal: {:?}", output.status)),
        stdout: strip_time(&String::from_utf8(output.stdout).expect("stdout is UTF-8")),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Removes the run time (`, 0.12s`) from the summary line: the one part of the output that
/// changes from run to run.
fn strip_time(stdout: &str) -> String {
    stdout
        .lines()
        .map(|line| {
            let is_summary = line.starts_with("Found ") || line.starts_with("No problems found");
            match line.rfind(", ") {
                Some(i) if is_summary && line.ends_with("s)") => {
                    let time = &line[i + 2..line.len() - 2];
                    if time.parse::<f64>().is_ok() {
                        return format!("{})", &line[..i]);
                    }
                    line.to_string()
                }
                _ => line.to_string(),
            }
        })
        .map(|line| line + "\n")
        .collect()
}

fn run(dir: &Path, args: &[&str]) -> Run {
    run_with_env(dir, args, &[])
}

fn wait_with_timeout(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    // Drain the pipes on threads so a large output cannot block the child.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).unwrap();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).unwrap();
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("cpycheck did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn error_files(json: &Value) -> Vec<String> {
    json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_string())
        .collect()
}

fn diagnostic_files(json: &Value) -> BTreeSet<String> {
    json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap().to_string())
        .collect()
}

// ---- exit codes -------------------------------------------------------------------------

#[test]
fn clean_run_exits_0() {
    let dir = TempDir::new("clean");
    dir.write("clean.c", CLEAN_C);
    let run = run(dir.path(), &["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        "No problems found in 1 file (0 functions analysed, 0 skipped)\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn findings_exit_1_with_snippet_and_path() {
    let dir = TempDir::new("findings");
    dir.write("leak.c", LEAK_C);
    let run = run(dir.path(), &["check"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("warning[CPY101]: "), "{}", run.stdout);
    assert!(run.stdout.contains(" --> leak.c:9:"), "{}", run.stdout);
    assert!(run.stdout.contains("= path:"), "{}", run.stdout);
    assert!(run.stdout.contains("1. leak.c:9:"), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("in 1 file (1 file, 1 function analysed, 0 skipped)\n"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn quiet_omits_the_summary() {
    let dir = TempDir::new("quiet");
    dir.write("clean.c", CLEAN_C);
    let run = run(dir.path(), &["check", "--quiet"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
    dir.write("leak.c", LEAK_C);
    let run = run_with_env(dir.path(), &["check", "-q", "--format", "concise"], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.lines().all(|l| l.ends_with("[CPY101]")),
        "{}",
        run.stdout
    );
}

#[test]
fn file_errors_exit_1_and_findings_are_still_reported() {
    let dir = TempDir::new("errors-and-findings");
    dir.write("leak.c", LEAK_C);
    dir.write("bin.c", b"\x7fELF\0\0\0binary");
    let run = run(dir.path(), &["check"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("warning[CPY101]"), "{}", run.stdout);
    assert!(
        run.stdout.contains("1 file could not be analysed"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.starts_with("error: bin.c: "), "{}", run.stderr);
}

#[test]
fn missing_path_exits_2() {
    let dir = TempDir::new("missing");
    let run = run(dir.path(), &["check", "--format", "json", "no-such-file.c"]);
    assert_eq!(run.code, 2);
    let json = run.json();
    assert_eq!(error_files(&json), ["no-such-file.c"]);
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot open: ")
    );
}

// ---- formats ----------------------------------------------------------------------------

/// Every key and type of the JSON document (version 1), and nothing more.
#[test]
fn json_schema() {
    let dir = TempDir::new("json");
    dir.write("src/leak.c", LEAK_C);
    dir.write("src/clean.c", CLEAN_C);
    dir.write("bad.c", b"\0\0\0");
    let run = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr, "",
        "JSON output reports errors in the document only"
    );
    let json = run.json();

    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let set =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|s| s.to_string()).collect() };

    assert_eq!(
        keys(&json),
        set(&[
            "version",
            "files_analyzed",
            "functions_analyzed",
            "functions_skipped",
            "diagnostics",
            "errors",
            "statistics"
        ])
    );
    assert_eq!(json["version"], 1);
    assert_eq!(json["files_analyzed"], 2);
    assert_eq!(json["functions_analyzed"], 1);
    assert!(json["functions_skipped"].is_u64());

    let diagnostics = json["diagnostics"].as_array().unwrap();
    assert!(!diagnostics.is_empty());
    for d in diagnostics {
        assert_eq!(
            keys(d),
            set(&[
                "code",
                "rule",
                "severity",
                "message",
                "file",
                "line",
                "column",
                "end_line",
                "end_column",
                "function",
                "trace"
            ])
        );
        let code = d["code"].as_str().unwrap();
        assert!(code.starts_with("CPY") && code.len() == 6, "{code}");
        let rule = cpycheck_rules::rule(code).expect("code is registered");
        assert_eq!(d["rule"], rule.name);
        assert!(["warning", "error"].contains(&d["severity"].as_str().unwrap()));
        assert!(!d["message"].as_str().unwrap().is_empty());
        assert_eq!(d["file"], "src/leak.c");
        let n = |key: &str| {
            d[key]
                .as_u64()
                .unwrap_or_else(|| panic!("{key} is a number"))
        };
        assert!(n("line") >= 1 && n("column") >= 1);
        assert!((n("end_line"), n("end_column")) >= (n("line"), n("column")));
        assert!(d["function"].is_string() || d["function"].is_null());
        assert_eq!(d["function"], "mod_subtract");
        for step in d["trace"].as_array().unwrap() {
            assert_eq!(keys(step), set(&["file", "line", "column", "message"]));
            assert!(step["file"].is_string() && step["message"].is_string());
            assert!(step["line"].as_u64().unwrap() >= 1);
            assert!(step["column"].as_u64().unwrap() >= 1);
        }
    }

    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(keys(&errors[0]), set(&["file", "message"]));
    assert_eq!(errors[0]["file"], "bad.c");
    assert!(errors[0]["message"].is_string());

    let statistics = &json["statistics"];
    assert_eq!(
        keys(statistics),
        set(&[
            "files_with_errors",
            "functions_incomplete",
            "functions_opaque",
            "parse_error_regions",
            "skip_reasons",
            "files"
        ])
    );
    assert_eq!(statistics["files_with_errors"], 1);
    assert!(statistics["skip_reasons"].is_object());
    let files = statistics["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    for f in files {
        // `elapsed_ms` only with CPYCHECK_TIMINGS=1: the default output is deterministic;
        // `skipped` only when the file has skipped functions.
        assert_eq!(
            keys(f),
            set(&[
                "file",
                "lines",
                "functions_analyzed",
                "functions_skipped",
                "functions_incomplete",
                "functions_opaque",
                "parse_error_regions",
                "findings"
            ])
        );
    }
}

#[test]
fn concise_format_is_one_line_per_finding() {
    let dir = TempDir::new("concise");
    dir.write("leak.c", LEAK_C);
    let run = run(dir.path(), &["check", "--format", "concise", "leak.c"]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let (summary, rest) = lines.split_last().unwrap();
    let (per_rule, findings) = rest.split_last().unwrap();
    assert_eq!(
        *summary,
        "Found 2 warnings in 1 file (1 file, 1 function analysed, 0 skipped)"
    );
    assert_eq!(*per_rule, "2  CPY101  reference-leak");
    assert_eq!(findings.len(), 2);
    for line in findings {
        let mut parts = line.splitn(4, ':');
        assert_eq!(parts.next(), Some("leak.c"));
        assert!(parts.next().unwrap().parse::<u32>().is_ok(), "{line}");
        assert!(parts.next().unwrap().parse::<u32>().is_ok(), "{line}");
        let rest = parts.next().unwrap();
        assert!(rest.starts_with(" warning: "), "{line}");
        assert!(rest.ends_with("[CPY101]"), "{line}");
    }
}

/// The bundled examples, in the form editors read. Refresh deliberately when the rules
/// change (`cargo insta review`).
#[test]
fn examples_concise_snapshot() {
    let run = run(
        &workspace_root(),
        &["check", "--format", "concise", "examples/"],
    );
    assert_eq!(run.code, 1, "the examples contain bugs");
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn output_order_does_not_depend_on_thread_count() {
    let dir = TempDir::new("order");
    for i in 0..24 {
        dir.write(&format!("d{}/m{i:02}.c", i % 3), LEAK_C);
    }
    dir.write("d1/broken.c", b"\0");
    let one = run_with_env(
        dir.path(),
        &["check", "--format", "json"],
        &[("RAYON_NUM_THREADS", "1")],
    );
    let many = run_with_env(
        dir.path(),
        &["check", "--format", "json"],
        &[("RAYON_NUM_THREADS", "8")],
    );
    assert_eq!(one.stdout, many.stdout);
    let files: Vec<String> = one.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
    assert_eq!(diagnostic_files(&one.json()).len(), 24);
    let text_one = run_with_env(dir.path(), &["check"], &[("RAYON_NUM_THREADS", "1")]);
    let text_many = run_with_env(dir.path(), &["check"], &[("RAYON_NUM_THREADS", "8")]);
    assert_eq!(text_one.stdout, text_many.stdout);
    assert_eq!(text_one.stderr, text_many.stderr);
}

// ---- file discovery ---------------------------------------------------------------------

#[test]
fn directories_are_walked_for_c_and_h_files_honouring_gitignore() {
    let dir = TempDir::new("walk");
    // Not a git repository: .gitignore is honoured anyway.
    dir.write(".gitignore", "build/\nskipped.c\n");
    dir.write("src/a.c", CLEAN_C);
    dir.write("src/a.h", CLEAN_C);
    dir.write("src/deep/b.c", LEAK_C);
    // Each of these would be an error entry if it were analysed.
    dir.write("build/generated.c", b"\0");
    dir.write("src/skipped.c", b"\0");
    dir.write("notes.txt", b"\0");
    dir.write("src/module.cpp", b"\0");
    dir.write(".hidden/x.c", b"\0");
    let run = run(dir.path(), &["check", "--format", "json"]);
    let json = run.json();
    assert_eq!(error_files(&json), Vec::<String>::new());
    assert_eq!(json["files_analyzed"], 3);
    assert_eq!(
        diagnostic_files(&json),
        BTreeSet::from(["src/deep/b.c".to_string()])
    );
    assert_eq!(run.code, 1);

    // The same tree named by its path: paths are shown under it.
    let parent = dir.path().parent().unwrap();
    let name = dir.path().file_name().unwrap().to_str().unwrap();
    let run = run_with_env(parent, &["check", "--format", "json", name], &[]);
    assert_eq!(
        diagnostic_files(&run.json()),
        BTreeSet::from([format!("{name}/src/deep/b.c")])
    );
}

#[test]
fn directories_are_walked_for_cython_files() {
    let dir = TempDir::new("walk-cython");
    dir.write(
        "pkg/escape.pyx",
        b"cdef extern from *:\n    void keep(void *data)\n\ndef f(obj):\n    keep(<void*>obj)\n",
    );
    dir.write(
        "pkg/escape.pxd",
        b"cdef class Holder:\n    cdef object value\n",
    );
    dir.write("pkg/notes.pyi", b"\0");
    let run = run(dir.path(), &["check", "--preview", "--format", "json"]);
    let json = run.json();
    assert_eq!(error_files(&json), Vec::<String>::new());
    assert_eq!(json["files_analyzed"], 2);
    assert_eq!(
        diagnostic_files(&json),
        BTreeSet::from(["pkg/escape.pyx".to_string()])
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_cython_module_is_read_with_its_companion_pxd() {
    let dir = TempDir::new("cython-pxd");
    let pyx = "cdef class Slots:\n    def __dealloc__(self):\n        release(self.context.imp)\n";
    dir.write("pkg/slots.pyx", pyx);
    // Alone, `context` is not known to be an object attribute: nothing is reported.
    let alone = run(dir.path(), &["check", "--preview", "--format", "json"]);
    assert_eq!(codes(&alone), Vec::<String>::new(), "{}", alone.stdout);
    dir.write(
        "pkg/slots.pxd",
        "cdef class Context:\n    cdef void *imp\n\ncdef class Slots:\n    cdef Context context\n",
    );
    let both = run(dir.path(), &["check", "--preview", "--format", "json"]);
    assert_eq!(
        codes(&both),
        vec!["pkg/slots.pyx CPY501"],
        "{}",
        both.stdout
    );
    // The finding points into the `.pyx`; `no_gc_clear` on the declaration counts too.
    assert_eq!(both.json()["diagnostics"][0]["line"], 3);
    dir.write(
        "pkg/slots.pxd",
        "cdef class Context:\n    cdef void *imp\n\n@cython.no_gc_clear\ncdef class Slots:\n    cdef Context context\n",
    );
    let fixed = run(dir.path(), &["check", "--preview", "--format", "json"]);
    assert_eq!(codes(&fixed), Vec::<String>::new(), "{}", fixed.stdout);
}

#[test]
fn files_named_explicitly_are_always_analysed() {
    let dir = TempDir::new("explicit");
    dir.write(".gitignore", "ignored.c\n");
    dir.write("ignored.c", LEAK_C);
    dir.write("module.inc", LEAK_C);
    let run = run(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "ignored.c",
            "module.inc",
            "./ignored.c",
        ],
    );
    let json = run.json();
    assert_eq!(run.code, 1);
    // `ignored.c` and `./ignored.c` are one file, analysed once.
    assert_eq!(json["files_analyzed"], 2);
    assert_eq!(
        diagnostic_files(&json),
        BTreeSet::from(["./ignored.c".into(), "module.inc".into()])
    );
}

#[test]
fn a_directory_named_like_a_c_file_is_searched_not_read() {
    let dir = TempDir::new("dir-named-c");
    dir.write("pkg.c/inner.c", CLEAN_C);
    let run = run(dir.path(), &["check", "--format", "json", "pkg.c"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["files_analyzed"], 1);
    let run = run_with_env(dir.path(), &["check", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["files_analyzed"], 1);
}

// ---- bad input --------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn unreadable_files_become_errors_and_the_run_continues() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("unreadable");
    dir.write("ok.c", LEAK_C);
    std::os::unix::fs::symlink("does-not-exist.c", dir.path().join("dangling.c")).unwrap();
    let locked = dir.write("locked.c", CLEAN_C);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let locked_dir = dir.path().join("locked-dir");
    std::fs::create_dir(&locked_dir).unwrap();
    std::fs::write(locked_dir.join("inner.c"), CLEAN_C).unwrap();
    std::fs::set_permissions(&locked_dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Under root, permissions do not stop reading: then those two are analysed normally.
    let permissions_apply = std::fs::read(&locked).is_err();

    let run = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(run.code, 1);
    let json = run.json();
    let mut expected_errors = vec!["dangling.c".to_string()];
    if permissions_apply {
        expected_errors.extend(["locked-dir".to_string(), "locked.c".to_string()]);
    }
    assert_eq!(error_files(&json), expected_errors);
    assert_eq!(
        diagnostic_files(&json),
        BTreeSet::from(["ok.c".to_string()])
    );
    for error in json["errors"].as_array().unwrap() {
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with("cannot "), "{message}");
    }

    // Named explicitly, the dangling link is reported as such.
    let run = run_with_env(
        dir.path(),
        &["check", "--format", "json", "dangling.c"],
        &[],
    );
    assert_eq!(run.code, 2);
    let message = run.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.starts_with("broken symbolic link: "), "{message}");
}

#[test]
fn non_utf8_text_is_analysed() {
    let dir = TempDir::new("latin1");
    let mut bytes = b"/* caf\xe9 \xff\xfe */\n".to_vec();
    bytes.extend_from_slice(LEAK_C.as_bytes());
    bytes.extend_from_slice(b"static const char *name = \"na\xefve\";\n");
    dir.write("latin1.c", &bytes);
    let run = run(dir.path(), &["check", "--format", "json"]);
    let json = run.json();
    assert_eq!(error_files(&json), Vec::<String>::new());
    assert_eq!(json["files_analyzed"], 1);
    assert_eq!(run.code, 1);
    assert_eq!(
        json["diagnostics"][0]["line"], 10,
        "lines count the user's bytes"
    );
    let text = run_with_env(dir.path(), &["check"], &[]);
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("warning[CPY101]"), "{}", text.stdout);
}

#[test]
fn binary_files_are_errors() {
    let dir = TempDir::new("binary");
    dir.write("blob.c", b"int x;\0\x01\x02\xff");
    dir.write("fine.c", CLEAN_C);
    let run = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(run.code, 1);
    let json = run.json();
    assert_eq!(error_files(&json), ["blob.c"]);
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("NUL")
    );
    assert_eq!(json["files_analyzed"], 1);
}

#[test]
fn non_c_files_named_explicitly_do_not_panic() {
    let dir = TempDir::new("non-c");
    dir.write(
        "setup.py",
        "from setuptools import setup\n\nsetup(name='spam', version='1.0')\n",
    );
    dir.write(
        "README.md",
        "# spam\n\n```c\nint main(void) { return 0; }\n```\n",
    );
    dir.write("empty.c", "");
    dir.write(
        "junk.c",
        "}}}{{{ ((( ;;; #if\n#endif #else\n\"unterminated\n/* open comment\n",
    );
    let run = run(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "setup.py",
            "README.md",
            "empty.c",
            "junk.c",
        ],
    );
    let json = run.json();
    let analysed = json["files_analyzed"].as_u64().unwrap() as usize;
    let errors = error_files(&json);
    assert_eq!(analysed + errors.len(), 4, "{}", run.stdout);
    for error in json["errors"].as_array().unwrap() {
        let message = error["message"].as_str().unwrap();
        assert!(!message.contains("internal error"), "{message}");
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!([0, 2].contains(&run.code), "{}", run.code);
}

#[test]
fn a_large_generated_file_is_analysed_in_bounded_time() {
    let dir = TempDir::new("large");
    let mut text = String::from("#include <Python.h>\n");
    let mut i = 0;
    while text.lines().count() < 100_000 {
        text.push_str(&format!(
            "\nstatic PyObject *\nf{i}(PyObject *self, PyObject *arg)\n{{\n    PyObject *r = PyLong_FromLong({i});\n    if (r == NULL)\n        return NULL;\n    if (PyObject_SetAttrString(self, \"x\", r) < 0) {{\n        Py_DECREF(r);\n        return NULL;\n    }}\n    return r;\n}}\n"
        ));
        i += 1;
    }
    dir.write("generated.c", &text);
    // `run` fails the test if cpycheck takes longer than its time limit.
    let run = run(dir.path(), &["check", "--format", "json"]);
    let json = run.json();
    assert_eq!(error_files(&json), Vec::<String>::new());
    assert_eq!(json["files_analyzed"], 1);
    let functions =
        json["functions_analyzed"].as_u64().unwrap() + json["functions_skipped"].as_u64().unwrap();
    assert_eq!(functions, i as u64);
}

#[test]
fn a_deeply_nested_expression_does_not_crash() {
    let dir = TempDir::new("deep");
    let depth = 10_000;
    let parens = format!(
        "static long f(void)\n{{\n    return {}1{};\n}}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let calls = format!(
        "static PyObject *g(PyObject *x)\n{{\n    return {}x{};\n}}\n",
        "PyNumber_Negative(".repeat(depth),
        ")".repeat(depth)
    );
    let unary = format!(
        "static int h(int x)\n{{\n    return {}x;\n}}\n",
        "-!~".repeat(depth / 3)
    );
    dir.write("parens.c", parens);
    dir.write("calls.c", calls);
    dir.write("unary.c", unary);
    let run = run(dir.path(), &["check", "--format", "json"]);
    let json = run.json();
    for error in json["errors"].as_array().unwrap() {
        let message = error["message"].as_str().unwrap();
        assert!(!message.contains("internal error"), "{message}");
    }
    assert!([0, 1, 2].contains(&run.code));
    assert_eq!(
        json["files_analyzed"].as_u64().unwrap() as usize + error_files(&json).len(),
        3
    );
}

// ---- per-file isolation -----------------------------------------------------------------

/// `CPYCHECK_TEST_PANIC_ON=<substring>` makes the per-file wrapper panic on matching files:
/// the panic becomes that file's internal-error entry and the other files are analysed.
#[test]
fn a_panic_in_one_file_is_isolated() {
    let dir = TempDir::new("panic");
    dir.write("a_leak.c", LEAK_C);
    dir.write("b_boom.c", LEAK_C);
    dir.write("c_clean.c", CLEAN_C);
    let env = [("CPYCHECK_TEST_PANIC_ON", "boom")];

    let run = run_with_env(dir.path(), &["check", "--format", "json"], &env);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr, "", "caught panics are not printed");
    let json = run.json();
    assert_eq!(json["files_analyzed"], 2);
    assert_eq!(
        diagnostic_files(&json),
        BTreeSet::from(["a_leak.c".to_string()])
    );
    assert_eq!(error_files(&json), ["b_boom.c"]);
    let message = json["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("internal error: panicked at "),
        "{message}"
    );
    assert!(
        message.contains("CPYCHECK_TEST_PANIC_ON matched this file"),
        "{message}"
    );

    let text = run_with_env(dir.path(), &["check"], &env);
    assert_eq!(text.code, 2);
    assert!(text.stdout.contains("warning[CPY101]"), "{}", text.stdout);
    assert!(
        text.stderr.starts_with("error: b_boom.c: internal error: "),
        "{}",
        text.stderr
    );
    assert_eq!(text.stderr.lines().count(), 1, "{}", text.stderr);

    let verbose = run_with_env(
        dir.path(),
        &["check", "--format", "json"],
        &[
            ("CPYCHECK_TEST_PANIC_ON", "boom"),
            ("CPYCHECK_BACKTRACE", "1"),
        ],
    );
    assert!(
        verbose
            .stderr
            .contains("CPYCHECK_TEST_PANIC_ON matched this file")
    );
    assert_eq!(verbose.json(), json);
}

// ---- options ----------------------------------------------------------------------------

#[test]
fn python_version_is_validated() {
    let dir = TempDir::new("pyversion");
    dir.write("clean.c", CLEAN_C);
    for good in ["3.8", "3.10", "3.13"] {
        let run = run(dir.path(), &["check", "--python-version", good]);
        assert_eq!(run.code, 0, "{good}: {}", run.stderr);
    }
    for bad in [
        "", "3", "3.13.1", "2.7", "4.0", "three", "3.x", "-1.2", "3.500",
    ] {
        let flag = format!("--python-version={bad}");
        let run = run(dir.path(), &["check", &flag]);
        assert_eq!(run.code, 2, "{bad:?} accepted");
        assert!(run.stderr.contains("--python-version"), "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn select_and_ignore_filter_findings() {
    let dir = TempDir::new("select");
    dir.write("leak.c", LEAK_C);
    let code = |args: &[&str]| {
        let mut all = vec!["check", "-q"];
        all.extend_from_slice(args);
        run(dir.path(), &all).code
    };
    assert_eq!(code(&[]), 1);
    assert_eq!(code(&["--select", "CPY101"]), 1);
    assert_eq!(code(&["--select", "cpy1"]), 1);
    assert_eq!(code(&["--select", "CPY103,CPY104"]), 0);
    assert_eq!(code(&["--ignore", "CPY101"]), 0);
    assert_eq!(code(&["--ignore", "reference-leak"]), 0);
    assert_eq!(code(&["--select", "CPY101", "--ignore", "CPY1"]), 1);
    assert_eq!(code(&["--select", "CPY1", "--ignore", "CPY101"]), 0);

    for bad in [
        &["--select", "CPY999"][..],
        &["--ignore", "E501"],
        &["--select", "CPY101,XYZ"],
    ] {
        let mut all = vec!["check"];
        all.extend_from_slice(bad);
        let run = run(dir.path(), &all);
        assert_eq!(run.code, 2, "{bad:?}");
        assert!(
            run.stderr.contains("unknown rule code or prefix"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn unknown_subcommands_and_flags_exit_2() {
    let dir = TempDir::new("usage");
    for args in [
        &["frobnicate"][..],
        &["check", "--no-such-flag"],
        &["check", "--format", "xml"],
        &[],
    ] {
        let run = run(dir.path(), args);
        assert_eq!(run.code, 2, "{args:?}");
    }
}

#[test]
fn check_help_snapshot() {
    let run = run(Path::new("."), &["check", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.stdout);
}

// ---- cpycheck rule ----------------------------------------------------------------------

#[test]
fn rule_prints_docs() {
    let dir = TempDir::new("rule");
    for rule in cpycheck_rules::all_rules() {
        for key in [rule.code, rule.name, &rule.code.to_ascii_lowercase()] {
            let run = run(dir.path(), &["rule", key]);
            assert_eq!(run.code, 0);
            assert!(
                run.stdout
                    .starts_with(&format!("# {}: {}\n\n", rule.code, rule.name)),
                "{}",
                run.stdout
            );
            assert!(run.stdout.contains("## What it does\n"), "{}", run.stdout);
        }
    }
    let run = run(dir.path(), &["rule", "CPY999"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown rule `CPY999`"),
        "{}",
        run.stderr
    );
    let run = run_with_env(dir.path(), &["rule"], &[]);
    assert_eq!(run.code, 2);
}

#[test]
fn rule_all_lists_every_rule() {
    let run = run(Path::new("."), &["rule", "--all"]);
    assert_eq!(run.code, 0);
    let rules = cpycheck_rules::all_rules();
    let lines: Vec<&str> = run.stdout.lines().collect();
    // The analysis rules, then the checks of the comments.
    assert_eq!(lines.len(), rules.len() + 2);
    assert!(
        lines[rules.len()].starts_with("CPY001  unused-suppression"),
        "{}",
        run.stdout
    );
    assert!(
        lines[rules.len() + 1].starts_with("CPY002  invalid-directive"),
        "{}",
        run.stdout
    );
    for (line, rule) in lines.iter().zip(rules) {
        assert!(
            line.starts_with(&format!("{}  {}", rule.code, rule.name)),
            "{line}"
        );
        let summary: Vec<&str> = rule.summary().split_whitespace().collect();
        assert!(line.contains(&summary.join(" ")), "{line}");
    }
    for code in ["CPY101", "CPY102", "CPY103", "CPY104", "CPY105"] {
        assert!(run.stdout.contains(code), "{code} missing:\n{}", run.stdout);
    }
}

// ---- cpycheck debug ---------------------------------------------------------------------

#[test]
fn debug_dumps() {
    let dir = TempDir::new("debug");
    dir.write("leak.c", LEAK_C);
    let tree = run(dir.path(), &["debug", "dump-tree", "leak.c"]);
    assert_eq!(tree.code, 0, "{}", tree.stderr);
    assert!(
        tree.stdout.starts_with("translation_unit ["),
        "{}",
        tree.stdout
    );
    assert!(
        tree.stdout.contains("function_definition ["),
        "{}",
        tree.stdout
    );
    let model = run(
        dir.path(),
        &["debug", "dump-model", "--python-version", "3.11", "leak.c"],
    );
    assert_eq!(model.code, 0, "{}", model.stderr);
    assert!(model.stdout.contains("mod_subtract("), "{}", model.stdout);
    let cfg = run(dir.path(), &["debug", "dump-cfg", "leak.c"]);
    assert_eq!(cfg.code, 0, "{}", cfg.stderr);
    assert!(
        cfg.stdout
            .contains("fn mod_subtract (returns object: true)"),
        "{}",
        cfg.stdout
    );
    assert!(cfg.stdout.contains("PyLong_FromLong("), "{}", cfg.stdout);

    let missing = run(dir.path(), &["debug", "dump-model", "missing.c"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.starts_with("error: cannot read missing.c: "),
        "{}",
        missing.stderr
    );
    dir.write("bin.c", b"\0");
    let binary = run(dir.path(), &["debug", "dump-tree", "bin.c"]);
    assert_eq!(binary.code, 2);
    assert!(
        binary.stderr.starts_with("error: bin.c: "),
        "{}",
        binary.stderr
    );
}

// ---- output formats ---------------------------------------------------------------------

fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!(
        "../../cpycheck_report/tests/data/sarif-schema-2.1.0.json"
    ))
    .unwrap();
    jsonschema::validator_for(&schema).expect("the SARIF schema compiles")
}

/// `--format sarif` on the examples: valid against the official schema, every rule with
/// its docs, the same findings as JSON, each with its path as a code flow.
#[test]
fn sarif_format_is_valid_and_matches_json() {
    let root = workspace_root();
    let sarif = run(&root, &["check", "--format", "sarif", "examples/"]);
    assert_eq!(sarif.code, 1, "{}", sarif.stderr);
    let log = sarif.json();
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let driver = &log["runs"][0]["tool"]["driver"];
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), cpycheck_rules::all_rules().len() + 2);
    for (rule, meta) in rules.iter().zip(cpycheck_rules::all_rules()) {
        assert_eq!(rule["id"], meta.code);
        let help = rule["help"]["markdown"].as_str().unwrap();
        assert!(help.starts_with("## What it does"), "{help}");
        let printed = run(&root, &["rule", meta.code]).stdout;
        assert!(
            printed.ends_with(help),
            "SARIF help and `cpycheck rule` differ"
        );
    }
    let json = run(&root, &["check", "--format", "json", "examples/"]).json();
    let results = log["runs"][0]["results"].as_array().unwrap();
    let diagnostics = json["diagnostics"].as_array().unwrap();
    assert_eq!(results.len(), diagnostics.len());
    for (result, diagnostic) in results.iter().zip(diagnostics) {
        assert_eq!(result["ruleId"], diagnostic["code"]);
        let loc = &result["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], diagnostic["file"]);
        assert_eq!(loc["region"]["startLine"], diagnostic["line"]);
        let steps = diagnostic["trace"].as_array().unwrap();
        if !steps.is_empty() {
            let flow = &result["codeFlows"][0]["threadFlows"][0]["locations"];
            assert_eq!(flow.as_array().unwrap().len(), steps.len());
        }
    }
}

#[test]
fn sarif_reports_unanalysable_files_as_notifications() {
    let dir = TempDir::new("sarif-errors");
    dir.write("leak.c", LEAK_C);
    dir.write("bin.c", b"\x7fELF\0");
    let run = run(dir.path(), &["check", "--format", "sarif"]);
    assert_eq!(run.code, 1);
    let log = run.json();
    assert!(sarif_validator().is_valid(&log));
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "bin.c"
    );
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 2);
}

#[test]
fn summary_has_findings_per_rule_and_time() {
    let dir = TempDir::new("summary");
    dir.write("leak.c", LEAK_C);
    let raw = Command::new(BIN)
        .args(["check", "--format", "concise"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(raw.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    let time = last
        .strip_prefix("Found 2 warnings in 1 file (1 file, 1 function analysed, 0 skipped, ")
        .and_then(|rest| rest.strip_suffix("s)"))
        .unwrap_or_else(|| panic!("{last}"));
    assert!(time.parse::<f64>().is_ok(), "{last}");
}

#[test]
fn statistics_prints_counts_not_findings() {
    let dir = TempDir::new("statistics");
    dir.write("a.c", LEAK_C);
    dir.write("b.c", LEAK_C);
    let run = run(dir.path(), &["check", "--statistics"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!(run.stdout, @r"
    4  CPY101  reference-leak
    Found 4 warnings in 2 files (2 files, 2 functions analysed, 0 skipped)
    ");
}

/// On a terminal (here a pseudo-terminal made by `script`), a run that lasts shows the
/// progress bar on stderr; `--quiet` never does. The delay is shortened by a testing hook.
#[cfg(target_os = "linux")]
#[test]
fn progress_bar_on_a_terminal() {
    let dir = TempDir::new("progress-tty");
    for i in 0..40 {
        dir.write(&format!("m{i}.c"), LEAK_C);
    }
    let transcript = |extra: &str| {
        let output = Command::new("script")
            .args([
                "-qec",
                &format!("{BIN} check --format concise {extra}"),
                "/dev/null",
            ])
            .current_dir(dir.path())
            .env("CPYCHECK_TEST_PROGRESS_AFTER_MS", "0")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .output()
            .expect("`script` (util-linux) runs");
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let shown = transcript("");
    assert!(shown.contains("analysing ["), "{shown}");
    assert!(shown.contains("/40 files"), "{shown}");
    let quiet = transcript("--quiet");
    assert!(!quiet.contains("analysing ["), "{quiet}");
}

/// Without a terminal there is never a progress bar, whatever the run's length.
#[test]
fn no_progress_bar_without_a_terminal() {
    let dir = TempDir::new("progress");
    for i in 0..40 {
        dir.write(&format!("m{i}.c"), LEAK_C);
    }
    let run = run_with_env(
        dir.path(),
        &["check", "--format", "concise"],
        &[("CPYCHECK_TEST_PROGRESS_AFTER_MS", "0")],
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "");
}

// ---- configuration ----------------------------------------------------------------------

/// Two files, one finding each of a different kind: `leak.c` (CPY101) and `steal.c`
/// (CPY105), in `proj/src`.
fn project(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    dir.write("proj/src/leak.c", LEAK_C);
    dir.write("proj/src/steal.c", STEAL_C);
    dir
}

/// A reference used after `PyTuple_SetItem` stole it.
const STEAL_C: &str = r#"#include <Python.h>

static PyObject *
mod_pair(PyObject *module, PyObject *unused)
{
    PyObject *pair = PyTuple_New(1);
    if (pair == NULL)
        return NULL;
    PyObject *value = PyLong_FromLong(1);
    if (value == NULL) {
        Py_DECREF(pair);
        return NULL;
    }
    PyTuple_SetItem(pair, 0, value);
    Py_DECREF(value);
    return pair;
}

static PyMethodDef mod_methods[] = {
    {"pair", mod_pair, METH_NOARGS, "a pair"},
    {NULL, NULL, 0, NULL}
};
"#;

fn codes(run: &Run) -> Vec<String> {
    run.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["file"].as_str().unwrap(),
                d["code"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn configuration_is_found_upwards_from_the_analysed_path() {
    let dir = project("config-discovery");
    let all = run(dir.path(), &["check", "--format", "json", "proj"]);
    assert_eq!(
        codes(&all),
        [
            "proj/src/leak.c CPY101",
            "proj/src/leak.c CPY101",
            "proj/src/steal.c CPY105"
        ]
    );
    // [tool.cpycheck] in pyproject.toml at the project root, found from a path below it.
    dir.write(
        "proj/pyproject.toml",
        "[project]\nname = \"spam\"\n\n[tool.cpycheck]\nselect = [\"CPY105\"]\n",
    );
    let selected = run(dir.path(), &["check", "--format", "json", "proj/src"]);
    assert_eq!(codes(&selected), ["proj/src/steal.c CPY105"]);
    // Also when the path is a file, and from inside the project.
    let file = run(
        dir.path(),
        &["check", "--format", "json", "proj/src/leak.c"],
    );
    assert_eq!(codes(&file), Vec::<String>::new());
    let inside = run(&dir.path().join("proj/src"), &["check", "--format", "json"]);
    assert_eq!(codes(&inside), ["steal.c CPY105"]);
    // cpycheck.toml wins over pyproject.toml in the same directory.
    dir.write("proj/cpycheck.toml", "ignore = [\"CPY105\"]\n");
    let dedicated = run(dir.path(), &["check", "--format", "json", "proj"]);
    assert_eq!(
        codes(&dedicated),
        ["proj/src/leak.c CPY101", "proj/src/leak.c CPY101"]
    );
    // A nearer pyproject.toml without [tool.cpycheck] is not a configuration.
    dir.write(
        "proj/src/pyproject.toml",
        "[tool.black]\nline-length = 99\n",
    );
    let skipped = run(dir.path(), &["check", "--format", "json", "proj/src"]);
    assert_eq!(
        codes(&skipped),
        codes(&dedicated)
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
    );
    // --isolated ignores every configuration file.
    let isolated = run(
        dir.path(),
        &["check", "--format", "json", "--isolated", "proj"],
    );
    assert_eq!(codes(&isolated), codes(&all));
}

#[test]
fn command_line_overrides_configuration() {
    let dir = project("config-precedence");
    dir.write(
        "proj/cpycheck.toml",
        "select = [\"CPY105\"]\npython-version = \"3.7\"\n",
    );
    let config = run(dir.path(), &["check", "--format", "json", "proj"]);
    assert_eq!(codes(&config), ["proj/src/steal.c CPY105"]);
    let cli = run(
        dir.path(),
        &["check", "--format", "json", "--select", "CPY101", "proj"],
    );
    assert_eq!(
        codes(&cli),
        ["proj/src/leak.c CPY101", "proj/src/leak.c CPY101"]
    );
    let ignore_all = run(
        dir.path(),
        &["check", "--format", "json", "--ignore", "CPY105", "proj"],
    );
    assert_eq!(codes(&ignore_all), Vec::<String>::new());
    // The most specific entry wins: the configuration's `select = ["CPY105"]` is more
    // specific than `--ignore CPY1`.
    let prefix = run(
        dir.path(),
        &["check", "--format", "json", "--ignore", "CPY1", "proj"],
    );
    assert_eq!(codes(&prefix), ["proj/src/steal.c CPY105"]);
    // --config names the file explicitly.
    dir.write("other.toml", "ignore = [\"CPY105\"]\n");
    let explicit = run(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "--config",
            "other.toml",
            "proj",
        ],
    );
    assert_eq!(
        codes(&explicit),
        ["proj/src/leak.c CPY101", "proj/src/leak.c CPY101"]
    );
}

/// `python-version` from the configuration decides `#if PY_VERSION_HEX` arms; the command
/// line's `--python-version` wins.
#[test]
fn python_version_from_configuration() {
    let dir = TempDir::new("config-version");
    let versioned = format!("#if PY_VERSION_HEX >= 0x030A0000\n{LEAK_C}\n#endif\n");
    dir.write("v.c", versioned);
    let default = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(codes(&default).len(), 2);
    dir.write("cpycheck.toml", "python-version = \"3.9\"\n");
    let old = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(codes(&old).len(), 0);
    let cli = run(
        dir.path(),
        &["check", "--format", "json", "--python-version", "3.12"],
    );
    assert_eq!(codes(&cli).len(), 2);
}

#[test]
fn exclude_and_per_file_ignores() {
    let dir = project("config-exclude");
    dir.write("proj/build/gen.c", LEAK_C);
    dir.write(
        "proj/cpycheck.toml",
        "exclude = [\"build\"]\n\n[per-file-ignores]\n\"src/steal.c\" = [\"use-after-steal\"]\n",
    );
    let r = run(dir.path(), &["check", "--format", "json", "proj"]);
    assert_eq!(
        codes(&r),
        ["proj/src/leak.c CPY101", "proj/src/leak.c CPY101"]
    );
    assert_eq!(r.json()["files_analyzed"], 2);
    // Excluded also when named explicitly (as a pre-commit hook does).
    let explicit = run(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "proj/build/gen.c",
            "proj/src/steal.c",
        ],
    );
    assert_eq!(codes(&explicit), Vec::<String>::new());
    assert_eq!(explicit.json()["files_analyzed"], 1);
    // --exclude replaces the configuration's patterns.
    let cli = run(
        dir.path(),
        &["check", "--format", "json", "--exclude", "src", "proj"],
    );
    assert_eq!(
        codes(&cli),
        ["proj/build/gen.c CPY101", "proj/build/gen.c CPY101"]
    );
}

#[test]
fn contracts_in_configuration_are_accepted() {
    let dir = TempDir::new("config-contracts");
    dir.write("leak.c", LEAK_C);
    dir.write(
        "pyproject.toml",
        "[tool.cpycheck.contracts]\nlookup_cached = \"returns-borrowed\"\nstack_push = [\"steals(item)\", \"returns-status\"]\n",
    );
    let r = run(dir.path(), &["check", "-q", "--format", "concise"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr, "");
}

/// Bad configuration: exit 2, nothing analysed, a message naming the file and the key.
#[test]
fn bad_configuration_is_an_error_naming_file_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("unknown-key", "cpycheck.toml", "selekt = [\"CPY1\"]\n"),
        (
            "unknown-key-pyproject",
            "pyproject.toml",
            "[tool.cpycheck]\npython_version = \"3.9\"\n",
        ),
        ("bad-code", "cpycheck.toml", "ignore = [\"CPY999\"]\n"),
        ("bad-version", "cpycheck.toml", "python-version = 3.10\n"),
        (
            "bad-contract",
            "cpycheck.toml",
            "[contracts]\nstack_push = [\"steals(item)\", \"borrows(item)\"]\n",
        ),
        ("bad-glob", "cpycheck.toml", "exclude = [\"src/[\"]\n"),
        ("not-toml", "cpycheck.toml", "select = [\"CPY1\"\n"),
    ];
    for (name, file, text) in cases {
        let dir = TempDir::new(name);
        dir.write("leak.c", LEAK_C);
        dir.write(file, text);
        let r = run(dir.path(), &["check"]);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{name}");
        insta::assert_snapshot!(format!("bad_config_{name}"), r.stderr);
    }
}

#[test]
fn paths_with_different_configurations_are_an_error() {
    let dir = TempDir::new("config-two");
    dir.write("a/leak.c", LEAK_C);
    dir.write("a/cpycheck.toml", "");
    dir.write("b/leak.c", LEAK_C);
    dir.write("b/cpycheck.toml", "");
    let r = run(dir.path(), &["check", "a", "b"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("different configuration files (a/cpycheck.toml and b/cpycheck.toml)"),
        "{}",
        r.stderr
    );
    let one = run(
        dir.path(),
        &["check", "--config", "a/cpycheck.toml", "a", "b"],
    );
    assert_eq!(one.code, 1, "{}", one.stderr);
}

// ---- suppressions -----------------------------------------------------------------------

#[test]
fn suppression_comments_remove_findings_from_every_format() {
    let dir = TempDir::new("suppress");
    let suppressed = LEAK_C.replace(
        "    return PyNumber_Subtract(",
        "    // cpycheck: ignore[CPY101] the callers never fail here\n    return PyNumber_Subtract(",
    );
    dir.write("leak.c", &suppressed);
    let text = run(dir.path(), &["check"]);
    assert_eq!(text.code, 0, "{}", text.stdout);
    assert_eq!(
        text.stdout,
        "No problems found in 1 file (1 function analysed, 0 skipped, 2 suppressed)\n"
    );
    let json = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!((json.code, codes(&json).len()), (0, 0));
    let sarif = run(dir.path(), &["check", "--format", "sarif"]);
    assert_eq!(sarif.code, 0);
    assert_eq!(sarif.json()["runs"][0]["results"], serde_json::json!([]));
    // Another rule's code does not suppress it; a bare `ignore` on the line does.
    dir.write(
        "leak.c",
        LEAK_C.replace(
            "PyLong_FromLong(b));",
            "PyLong_FromLong(b)); /* cpycheck: ignore[CPY105] */",
        ),
    );
    assert_eq!(run(dir.path(), &["check", "-q"]).code, 1);
    dir.write(
        "leak.c",
        LEAK_C.replace(
            "PyLong_FromLong(b));",
            "PyLong_FromLong(b)); /* cpycheck: ignore */",
        ),
    );
    assert_eq!(run(dir.path(), &["check", "-q"]).code, 0);
}

#[test]
fn cython_sources_take_hash_suppression_comments() {
    let dir = TempDir::new("suppress-cython");
    let source =
        "cdef extern from *:\n    void keep(void *data)\n\ndef f(obj):\n    keep(<void*>obj)\n";
    dir.write("escape.pyx", source);
    let before = run(dir.path(), &["check", "--preview", "--format", "json"]);
    assert_eq!(codes(&before), vec!["escape.pyx CPY502"]);
    // On the line itself, or alone on the line before; a `//` comment is not one in Cython.
    for (from, to) in [
        (
            "keep(<void*>obj)\n",
            "keep(<void*>obj)  # cpycheck: ignore[CPY502]\n",
        ),
        (
            "    keep(<void*>obj)",
            "    # cpycheck: ignore[CPY502] kept alive by the caller\n    keep(<void*>obj)",
        ),
    ] {
        dir.write("escape.pyx", source.replace(from, to));
        let r = run(
            dir.path(),
            &[
                "check",
                "--preview",
                "--format",
                "json",
                "--warn-unused-ignores",
            ],
        );
        assert_eq!(
            (r.code, codes(&r)),
            (0, Vec::<String>::new()),
            "{}",
            r.stdout
        );
    }
    dir.write(
        "escape.pyx",
        source.replace(
            "keep(<void*>obj)\n",
            "keep(<void*>obj)  // cpycheck: ignore\n",
        ),
    );
    assert_eq!(run(dir.path(), &["check", "--preview", "-q"]).code, 1);
}

#[test]
fn unused_suppressions_are_reported_when_asked() {
    let dir = TempDir::new("suppress-unused");
    let source = LEAK_C
        .replace(
            "PyLong_FromLong(b));",
            "PyLong_FromLong(b)); // cpycheck: ignore[CPY101, CPY105, CPY999]",
        )
        .replace("    long a, b;", "    long a, b;  /* cpycheck: ignore */");
    dir.write("leak.c", &source);
    let quiet = run(dir.path(), &["check", "--format", "concise"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    let warn = run(
        dir.path(),
        &["check", "--format", "concise", "--warn-unused-ignores"],
    );
    assert_eq!(warn.code, 1);
    insta::assert_snapshot!(warn.stdout);
    // The same from the configuration file.
    dir.write("cpycheck.toml", "warn-unused-ignores = true\n");
    let config = run(dir.path(), &["check", "--format", "concise"]);
    assert_eq!(config.stdout, warn.stdout);
    let rule = run(dir.path(), &["rule", "CPY001"]);
    assert_eq!(rule.code, 0);
    assert!(
        rule.stdout.starts_with("# CPY001: unused-suppression"),
        "{}",
        rule.stdout
    );
}

// ---- the package's own headers ----------------------------------------------------------

/// An error macro of the package: it raises and returns, so the path ends there.
const ERRORS_H: &str = "#ifndef ERRORS_H\n#define ERRORS_H\n#include \"limits_.h\"\n#define RAISE_MSG(msg) do { \\\n    PyErr_SetString(PyExc_RuntimeError, (msg)); \\\n    return NULL; \\\n} while (0)\n#endif\n";

/// Used from a nested include: `FAIL_IF_NULL` returns.
const LIMITS_H: &str = "#define FAIL_IF_NULL(x) if ((x) == NULL) return NULL\n";

/// `RAISE_MSG` is a false positive (CPY102) unless it is known to return; `FAIL_IF_NULL`
/// hides a leak unless it is known to return.
const USES_HEADERS_C: &str = r#"#include <Python.h>
#include "errors.h"
#include <pkg/api.h>
#include "common.h"

static PyObject *
pair(PyObject *module, PyObject *args)
{
    PyObject *a = PyList_New(0);
    if (a == NULL)
        return NULL;
    PyObject *b = PyList_New(0);
    if (b == NULL) {
        Py_DECREF(a);
        RAISE_MSG("no list");
    }
    PyObject *r = PyTuple_Pack(2, a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return r;
}

static PyObject *
make(PyObject *module, PyObject *arg)
{
    PyObject *list = PyList_New(0);
    FAIL_IF_NULL(list);
    PyObject *item = PyObject_Str(arg);
    FAIL_IF_NULL(item);
    if (PyList_Append(list, item) < 0) {
        Py_DECREF(item);
        Py_DECREF(list);
        return NULL;
    }
    Py_DECREF(item);
    API_RETURN(list);
}
"#;

/// A project: `setup.py` at the root, the module in `src/`, headers beside it, in the
/// root's `include/` (angled include) and in a sibling folder (found by its unique name).
fn header_project() -> TempDir {
    let dir = TempDir::new("headers");
    dir.write("setup.py", "");
    dir.write("src/mod.c", USES_HEADERS_C);
    dir.write("src/errors.h", ERRORS_H);
    dir.write("src/limits_.h", LIMITS_H);
    dir.write("include/pkg/api.h", "#define API_RETURN(x) return (x)\n");
    dir.write("src/common/common.h", "#define COMMON 1\n");
    dir
}

fn concise_lines(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter(|l| l.contains(": warning: "))
        .map(|l| {
            l.split(": warning: ").next().unwrap().to_string() + " " + &l[l.rfind('[').unwrap()..]
        })
        .collect()
}

#[test]
fn macros_of_the_package_headers_are_read() {
    let dir = header_project();
    let with = run(dir.path(), &["check", "--format", "concise", "src/mod.c"]);
    assert_eq!(
        concise_lines(&with),
        ["src/mod.c:29:5 [CPY101]"],
        "{}",
        with.stdout
    );
    // Each file alone: the leak is hidden and `RAISE_MSG` looks like it lets `a` be used
    // after its release.
    let alone = run(
        dir.path(),
        &["check", "--no-headers", "--format", "concise", "src/mod.c"],
    );
    let lines = concise_lines(&alone);
    assert!(
        lines.iter().any(|l| l.ends_with("[CPY102]")),
        "{}",
        alone.stdout
    );
    assert!(
        !lines.iter().any(|l| l.ends_with("[CPY101]")),
        "{}",
        alone.stdout
    );
    // The same when the folder is analysed (the headers are analysed too, and nothing
    // else changes).
    let walked = run(dir.path(), &["check", "--format", "concise", "."]);
    assert_eq!(
        concise_lines(&walked),
        ["src/mod.c:29:5 [CPY101]"],
        "{}",
        walked.stdout
    );

    let headers = run(dir.path(), &["debug", "dump-headers", "src/mod.c"]);
    assert_eq!(headers.code, 0, "{}", headers.stderr);
    let read: Vec<&str> = headers
        .stdout
        .lines()
        .map(|l| l.split(" (").next().unwrap())
        .collect();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let expected: Vec<String> = [
        "src/errors.h",
        "src/limits_.h",
        "include/pkg/api.h",
        "src/common/common.h",
    ]
    .iter()
    .map(|p| root.join(p).display().to_string())
    .collect();
    assert_eq!(read, expected, "{}", headers.stdout);
}

#[test]
fn headers_outside_the_project_or_unusable_are_not_read() {
    let dir = header_project();
    // Outside the project root (the folder with `setup.py`): not read.
    dir.write("../outside-headers-test.h", "#define OUTSIDE 1\n");
    dir.write(
        "src/more.c",
        "#include \"../../outside-headers-test.h\"\n#include \"binary.h\"\n#include \"latin1.h\"\n#include \"errors.h\"\nint f(void) { return 0; }\n",
    );
    dir.write("src/binary.h", b"#define BIN 1\n\0");
    dir.write("src/latin1.h", b"#define LATIN \"\xe9\"\n");
    let headers = run(dir.path(), &["debug", "dump-headers", "src/more.c"]);
    let _ = std::fs::remove_file(dir.path().join("../outside-headers-test.h"));
    assert_eq!(headers.code, 0, "{}", headers.stderr);
    let out = &headers.stdout;
    assert!(!out.contains("outside-headers-test.h"), "{out}");
    assert!(out.contains("errors.h (2 macros)"), "{out}");
    assert!(
        out.contains("not read: ") && out.contains("binary.h: not a text file"),
        "{out}"
    );
    assert!(out.contains("latin1.h: not valid UTF-8"), "{out}");
    // The file is analysed all the same.
    let check = run(dir.path(), &["check", "--format", "json", "src/more.c"]);
    let json = check.json();
    assert_eq!(
        json["statistics"]["files"][0]["functions_analyzed"], 1,
        "{}",
        check.stdout
    );
}
