//! End-to-end tests of the switches a ruff user expects: preview rules, rule selection,
//! the messages of runs that analyse nothing, the extra output formats and the output
//! switches. (`cli.rs` has the core behaviour: exit codes, formats, discovery, bad input.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cpycheck");

/// `Py_DECREF` of a borrowed argument (CPY103, a preview rule) and an inline leak (CPY101).
const BORROWED_C: &str = r#"#include <Python.h>

static PyObject *
mod_describe(PyObject *module, PyObject *obj)
{
    PyObject *text = PyObject_Repr(obj);
    if (text == NULL)
        return NULL;
    Py_DECREF(obj);
    return text;
}

static PyObject *
mod_add(PyObject *module, PyObject *x)
{
    return PyNumber_Add(PyLong_FromLong(1), x);
}

static PyMethodDef mod_methods[] = {
    {"describe", mod_describe, METH_O, "repr"},
    {"add", mod_add, METH_O, "1 + x"},
    {NULL, NULL, 0, NULL}
};
"#;

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "cpycheck-switches-{name}-{}-{}",
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

    /// The codes of the JSON report's diagnostics, in order.
    fn codes(&self) -> Vec<String> {
        self.json()["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Runs cpycheck in `dir`, with `stdin` as its standard input.
fn run_stdin(dir: &Path, args: &[&str], stdin: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CPYCHECK_TEST_PANIC_ON")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cpycheck runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn run(dir: &Path, args: &[&str]) -> Run {
    run_stdin(dir, args, "")
}

// ---- preview ----------------------------------------------------------------------------

#[test]
fn preview_rules_are_opt_in() {
    let dir = TempDir::new("preview");
    dir.write("mod.c", BORROWED_C);
    let json = ["check", "--format", "json"];
    let default = run(dir.path(), &json);
    assert_eq!(default.codes(), ["CPY101"], "{}", default.stdout);
    assert_eq!(default.code, 1);

    let preview = run(dir.path(), &[&json[..], &["--preview"]].concat());
    assert_eq!(preview.codes(), ["CPY103", "CPY101"], "{}", preview.stdout);

    // The configuration key does the same.
    dir.write("cpycheck.toml", "preview = true\n");
    let configured = run(dir.path(), &json);
    assert_eq!(configured.codes(), ["CPY103", "CPY101"]);
    std::fs::remove_file(dir.path().join("cpycheck.toml")).unwrap();

    // Selecting a preview rule without preview selects nothing, and says so.
    let selected = run(dir.path(), &["check", "-q", "--select", "CPY103"]);
    assert_eq!(selected.code, 0, "{}", selected.stdout);
    assert!(
        selected
            .stderr
            .contains("warning: CPY103 is a preview rule: it is not reported without `--preview`"),
        "{}",
        selected.stderr
    );
    let selected = run(
        dir.path(),
        &["check", "-q", "--select", "CPY103", "--preview"],
    );
    assert_eq!(selected.code, 1);
    assert_eq!(selected.stderr, "");
}

#[test]
fn rule_docs_and_listing_say_which_rules_are_preview() {
    let dir = TempDir::new("preview-docs");
    let all = run(dir.path(), &["rule", "--all"]);
    for rule in cpycheck_rules::all_rules() {
        let line = all
            .stdout
            .lines()
            .find(|l| l.starts_with(rule.code))
            .unwrap_or_else(|| panic!("{} not listed", rule.code));
        assert_eq!(line.ends_with("(preview)"), rule.preview, "{line}");
        let docs = run(dir.path(), &["rule", rule.code]).stdout;
        assert_eq!(
            docs.contains("This rule is in preview: it is reported only with `--preview`"),
            rule.preview,
            "{}",
            rule.code
        );
    }
    assert!(cpycheck_rules::rule("CPY103").unwrap().preview);
    assert!(!cpycheck_rules::rule("CPY201").unwrap().preview);
}
