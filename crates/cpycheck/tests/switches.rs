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

// ---- selection --------------------------------------------------------------------------

/// `mod.c` (CPY103, CPY101) and the same leak in `gen/leak.c` and `build/leak.c`.
fn selection_project(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    dir.write("mod.c", BORROWED_C);
    dir.write("gen/leak.c", BORROWED_C);
    dir.write("build/leak.c", BORROWED_C);
    dir
}

/// `file code` of each diagnostic of a JSON run.
fn located(run: &Run) -> Vec<String> {
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
fn extend_select_ignore_and_exclude() {
    let dir = selection_project("extend");
    dir.write(
        "cpycheck.toml",
        "select = [\"CPY105\"]\nextend-select = [\"CPY101\"]\nexclude = [\"build\"]\n",
    );
    let json = |extra: &[&str]| {
        run(
            dir.path(),
            &[&["check", "--format", "json"][..], extra].concat(),
        )
    };
    // The configuration's extend-select adds to its select; `build` is excluded.
    assert_eq!(located(&json(&[])), ["gen/leak.c CPY101", "mod.c CPY101"]);
    // --extend-exclude adds to the configuration's exclude; --exclude replaces it.
    assert_eq!(
        located(&json(&["--extend-exclude", "gen"])),
        ["mod.c CPY101"]
    );
    assert_eq!(
        located(&json(&["--exclude", "gen"])),
        ["build/leak.c CPY101", "mod.c CPY101"]
    );
    // --extend-ignore adds to the ignore list; --extend-select to --select.
    let none = json(&["--extend-ignore", "reference-leak"]);
    assert_eq!((none.code, located(&none)), (0, vec![]));
    assert_eq!(
        located(&json(&[
            "--select",
            "CPY105",
            "--extend-select",
            "CPY10",
            "--preview",
            "--extend-exclude",
            "gen"
        ])),
        ["mod.c CPY103", "mod.c CPY101"]
    );
    // --select replaces the configuration's select and extend-select.
    let replaced = json(&["--select", "CPY105"]);
    assert_eq!((replaced.code, located(&replaced)), (0, vec![]));
    // Unknown entries are errors naming the option or the key.
    let bad = run(dir.path(), &["check", "--extend-select", "CPY999"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("`CPY999` in --extend-select"),
        "{}",
        bad.stderr
    );
    dir.write("cpycheck.toml", "extend-ignore = [\"nope\"]\n");
    let bad = run(dir.path(), &["check"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("`nope` in `extend-ignore`"),
        "{}",
        bad.stderr
    );
    dir.write("cpycheck.toml", "extend-exclude = [\"a[\"]\n");
    let bad = run(dir.path(), &["check"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("`extend-exclude`: bad glob"),
        "{}",
        bad.stderr
    );
}

#[test]
fn every_documented_code_is_selectable_and_comments_take_prefixes() {
    let dir = TempDir::new("select-cpy001");
    let source = BORROWED_C.replace(
        "return PyNumber_Add(PyLong_FromLong(1), x);",
        "return PyNumber_Add(PyLong_FromLong(1), x); // cpycheck: ignore[CPY1] legacy",
    );
    dir.write("mod.c", &source);
    let json = |extra: &[&str]| {
        run(
            dir.path(),
            &[&["check", "--format", "json"][..], extra].concat(),
        )
    };
    // The prefix suppresses the leak and is not reported as unknown or unused.
    let quiet = json(&["--warn-unused-ignores"]);
    assert_eq!((quiet.code, quiet.codes()), (0, vec![]), "{}", quiet.stdout);
    // CPY001 is selectable like any rule: selecting it turns the check on, ignoring it off.
    let other = source.replace("ignore[CPY1] legacy", "ignore[CPY105]");
    dir.write("mod.c", &other);
    assert_eq!(
        json(&["--extend-select", "CPY001"]).codes(),
        ["CPY101", "CPY001"]
    );
    assert_eq!(json(&["--select", "CPY001"]).codes(), ["CPY001"]);
    assert_eq!(
        json(&["--select", "unused-suppression"]).codes(),
        ["CPY001"]
    );
    assert_eq!(
        json(&["--warn-unused-ignores", "--ignore", "CPY001"]).codes(),
        ["CPY101"]
    );
    assert_eq!(json(&[]).codes(), ["CPY101"]);
}

#[test]
fn debug_commands_honour_the_configuration() {
    let dir = TempDir::new("debug-config");
    dir.write(
        "mod.c",
        "#if PY_VERSION_HEX >= 0x030A0000\nint new_api(void) { return 1; }\n#else\nint old_api(void) { return 0; }\n#endif\n",
    );
    dir.write("cpycheck.toml", "python-version = \"3.9\"\n");
    let configured = run(dir.path(), &["debug", "dump-model", "mod.c"]);
    assert_eq!(configured.code, 0, "{}", configured.stderr);
    assert!(
        configured.stdout.contains("old_api"),
        "{}",
        configured.stdout
    );
    assert!(
        !configured.stdout.contains("new_api"),
        "{}",
        configured.stdout
    );
    let isolated = run(dir.path(), &["debug", "dump-model", "--isolated", "mod.c"]);
    assert!(isolated.stdout.contains("new_api"), "{}", isolated.stdout);
    let flag = run(
        dir.path(),
        &["debug", "dump-cfg", "--python-version", "3.12", "mod.c"],
    );
    assert!(flag.stdout.contains("new_api"), "{}", flag.stdout);
    dir.write("cpycheck.toml", "python-version = 3.9\n");
    let bad = run(dir.path(), &["debug", "dump-tree", "mod.c"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("invalid configuration in") && bad.stderr.contains("cpycheck.toml"),
        "{}",
        bad.stderr
    );
}

// ---- runs that analyse nothing, and what was left out -----------------------------------

#[test]
fn zero_files_is_a_warning_naming_the_reason() {
    let reason = |dir: &TempDir, args: &[&str]| {
        let r = run(dir.path(), &[&["check", "-q"][..], args].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stderr
    };
    let empty = TempDir::new("zero-empty");
    empty.write("notes.txt", "hello");
    assert!(
        reason(&empty, &[])
            .contains("warning: no files analysed: no `.c`, `.h`, `.pyx` or `.pxd` files under ."),
        "{}",
        reason(&empty, &[])
    );
    let cpp = TempDir::new("zero-cpp");
    cpp.write("src/ext.cpp", "int x;\n");
    cpp.write("src/ext.hpp", "int y;\n");
    assert!(
        reason(&cpp, &[]).contains("only C++ files were found under . (2)"),
        "{}",
        reason(&cpp, &[])
    );
    let excluded = TempDir::new("zero-excluded");
    excluded.write("proj/cpycheck.toml", "exclude = [\"src\"]\n");
    excluded.write("proj/src/a.c", BORROWED_C);
    let stderr = reason(&excluded, &["proj"]);
    assert!(
        stderr.contains(
            "all 1 C and Cython file(s) under proj are excluded by `exclude` in proj/cpycheck.toml"
        ),
        "{stderr}"
    );
    let ignored = TempDir::new("zero-gitignore");
    ignored.write(".gitignore", "*.c\n");
    ignored.write("src/a.c", BORROWED_C);
    let stderr = reason(&ignored, &["src"]);
    assert!(
        stderr.contains("are ignored by .gitignore or .ignore files"),
        "{stderr}"
    );
    // A run that analysed something says nothing of the kind.
    let r = run(excluded.path(), &["check", "-q", "--isolated", "proj"]);
    assert!(!r.stderr.contains("no files analysed"), "{}", r.stderr);
}

#[test]
fn show_files_and_show_settings() {
    let dir = selection_project("show");
    dir.write(
        "cpycheck.toml",
        "exclude = [\"build\"]\nextend-select = [\"CPY001\"]\npython-version = \"3.10\"\n",
    );
    let files = run(dir.path(), &["check", "--show-files"]);
    assert_eq!(
        (files.code, files.stdout.as_str()),
        (0, "gen/leak.c\nmod.c\n")
    );
    let files = run(
        dir.path(),
        &["check", "--show-files", "--extend-exclude", "gen"],
    );
    assert_eq!(files.stdout, "mod.c\n");

    let settings = run(dir.path(), &["check", "--show-settings", "--preview"]);
    assert_eq!(settings.code, 0);
    for line in [
        "configuration file: cpycheck.toml\n",
        "python-version: 3.10\n",
        "preview: true\n",
        "extend-select: [CPY001]\n",
        "exclude: [build]\n",
        "warn-unused-ignores: true\n",
        "  CPY103  release-of-borrowed (preview)\n",
        "  CPY001  unused-suppression\n",
    ] {
        assert!(
            settings.stdout.contains(line),
            "{line:?} in\n{}",
            settings.stdout
        );
    }
    let isolated = run(
        dir.path(),
        &["check", "--show-settings", "--isolated", "--ignore", "CPY1"],
    );
    assert!(
        isolated.stdout.contains("configuration file: none"),
        "{}",
        isolated.stdout
    );
    assert!(!isolated.stdout.contains("CPY101"), "{}", isolated.stdout);
    assert!(
        isolated.stdout.contains("  CPY201  unchecked-null\n"),
        "{}",
        isolated.stdout
    );
    assert!(!isolated.stdout.contains("CPY103"), "{}", isolated.stdout);
}

#[test]
fn show_skipped_lists_the_functions_not_analysed() {
    let dir = TempDir::new("show-skipped");
    dir.write(
        "mod.c",
        "#include <Python.h>\n\nstatic PyObject *\nbroken(PyObject *self)\n{\n    if (x {\n        return NULL;\n    }\n}\n\nstatic PyObject *\nfine(PyObject *self)\n{\n    Py_RETURN_NONE;\n}\n",
    );
    let r = run(dir.path(), &["check", "--show-skipped", "-q"]);
    assert!(
        r.stdout.contains("mod.c:4:1: skipped `broken`: ")
            || r.stdout.contains("mod.c:3:1: skipped `broken`: "),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("`fine`"), "{}", r.stdout);
    let clean = TempDir::new("show-skipped-clean");
    clean.write("mod.c", "static int counter = 0;\n");
    let r = run(clean.path(), &["check", "--show-skipped", "-q"]);
    assert_eq!(
        r.stdout,
        "No function was skipped or analysed incompletely.\n"
    );
}

#[test]
fn directives_ignore_file_and_invalid_ones() {
    let dir = TempDir::new("directives");
    dir.write(
        "mod.c",
        format!("/* cpycheck: ignore-file[CPY101] generated */\n{BORROWED_C}"),
    );
    let r = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!((r.code, r.codes()), (0, vec![]), "{}", r.stdout);
    dir.write("mod.c", format!("// CPYCHECK: IGNORE-FILE\n{BORROWED_C}"));
    assert_eq!(run(dir.path(), &["check", "-q"]).code, 0);
    dir.write(
        "mod.c",
        format!("// cpycheck: ignored[CPY101]\n{BORROWED_C}"),
    );
    let r = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(r.codes(), ["CPY002", "CPY101"], "{}", r.stdout);
    assert!(
        r.json()["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown directive `cpycheck: ignored`"),
        "{}",
        r.stdout
    );
    // CPY002 is a rule like the others: it can be ignored.
    let r = run(
        dir.path(),
        &["check", "--format", "json", "--ignore", "CPY002"],
    );
    assert_eq!(r.codes(), ["CPY101"]);
    let rule = run(dir.path(), &["rule", "invalid-directive"]);
    assert!(
        rule.stdout.starts_with("# CPY002: invalid-directive"),
        "{}",
        rule.stdout
    );
}
