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
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
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
fn file_errors_exit_2_and_findings_are_still_reported() {
    let dir = TempDir::new("errors-and-findings");
    dir.write("leak.c", LEAK_C);
    dir.write("bin.c", b"\x7fELF\0\0\0binary");
    let run = run(dir.path(), &["check"]);
    assert_eq!(run.code, 2);
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
    assert_eq!(run.code, 2, "{}", run.stderr);
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
        // `elapsed_ms` only with CPYCHECK_TIMINGS=1: the default output is deterministic.
        assert_eq!(
            keys(f),
            set(&[
                "file",
                "lines",
                "functions_analyzed",
                "functions_skipped",
                "functions_incomplete",
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
    let (summary, findings) = lines.split_last().unwrap();
    assert!(summary.starts_with("Found "), "{summary}");
    assert!(!findings.is_empty());
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
    assert_eq!(json["files_analyzed"], 3);
    assert_eq!(
        diagnostic_files(&json),
        BTreeSet::from([
            "./ignored.c".into(),
            "ignored.c".into(),
            "module.inc".into()
        ])
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
    assert_eq!(run.code, 2);
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
    assert_eq!(run.code, 2);
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
    assert_eq!(lines.len(), rules.len());
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
