//! End-to-end tests of the switches a ruff user expects: preview rules, rule selection,
//! the messages of runs that analyse nothing, the extra output formats and the output
//! switches. (`cli.rs` has the core behaviour: exit codes, formats, discovery, bad input.)

use std::path::Path;
use std::process::{Command, Stdio};

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

mod common;
use common::TempDir;

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

// ---- formats and output switches --------------------------------------------------------

/// Decodes a GitHub workflow command's escaped property or message.
fn github_unescape(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

#[test]
fn github_format_is_workflow_commands() {
    let dir = TempDir::new("github");
    // A path with the characters GitHub's syntax escapes, and a non-ASCII comment before
    // the finding on its line: columns count characters.
    let source = BORROWED_C.replace(
        "    return PyNumber_Add(PyLong_FromLong(1), x);",
        "/*é*/return PyNumber_Add(PyLong_FromLong(1), x);",
    );
    dir.write("a,b:c%.c", &source);
    dir.write("bin.c", b"\0");
    let r = run(dir.path(), &["check", "--output-format", "github"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    // https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
    // `::{command} {key}={value},{key}={value}::{message}`: no unescaped `,` or `:` in
    // a value, no newline anywhere.
    let warning = lines
        .iter()
        .find(|l| l.starts_with("::warning "))
        .expect("a warning");
    let (props, message) = warning["::warning ".len()..].split_once("::").unwrap();
    let props: Vec<(&str, &str)> = props
        .split(',')
        .map(|p| p.split_once('=').expect("key=value"))
        .collect();
    let keys: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        ["file", "line", "col", "endLine", "endColumn", "title"]
    );
    let value = |k: &str| github_unescape(props.iter().find(|(key, _)| *key == k).unwrap().1);
    assert_eq!(value("file"), "a,b:c%.c");
    assert_eq!(value("line"), "16");
    // `/*é*/` is 6 bytes, 5 characters: the statement starts at character column 6 (byte
    // column 7).
    assert_eq!(value("col"), "6");
    assert_eq!(value("title"), "CPY101 (reference-leak)");
    assert!(
        github_unescape(message).ends_with("is leaked [CPY101]"),
        "{message}"
    );
    let error = lines
        .iter()
        .find(|l| l.starts_with("::error "))
        .expect("an error");
    assert!(
        error.starts_with("::error file=bin.c,title=cpycheck::bin.c%3A ")
            || error.starts_with("::error file=bin.c,title=cpycheck::bin.c: "),
        "{error}"
    );
}

#[test]
fn gitlab_format_is_code_quality_json() {
    let dir = TempDir::new("gitlab");
    dir.write("mod.c", BORROWED_C);
    // The same leak twice on one line: two issues, two fingerprints.
    dir.write(
        "twice.c",
        "#include <Python.h>\nstatic PyObject *\nf(PyObject *m, PyObject *a)\n{\n    return PyNumber_Subtract(PyLong_FromLong(1), PyLong_FromLong(2));\n}\nstatic PyMethodDef methods[] = {{\"f\", f, METH_O, \"\"}, {NULL, NULL, 0, NULL}};\n",
    );
    let r = run(dir.path(), &["check", "--format", "gitlab"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let issues = r.json();
    let issues = issues.as_array().expect("a JSON array");
    assert_eq!(issues.len(), 3, "{}", r.stdout);
    // https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format
    let mut fingerprints = std::collections::BTreeSet::new();
    for issue in issues {
        assert!(issue["description"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            issue["check_name"]
                .as_str()
                .unwrap()
                .starts_with("cpycheck:CPY")
        );
        let fp = issue["fingerprint"].as_str().unwrap();
        assert_eq!(fp.len(), 16);
        assert!(
            fingerprints.insert(fp.to_string()),
            "duplicate fingerprint {fp}"
        );
        assert!(
            ["info", "minor", "major", "critical", "blocker"]
                .contains(&issue["severity"].as_str().unwrap())
        );
        let path = issue["location"]["path"].as_str().unwrap();
        assert!(!path.starts_with('/') && std::path::Path::new(path).is_relative());
        let begin = issue["location"]["lines"]["begin"].as_u64().unwrap();
        assert!(begin >= 1);
        assert!(issue["location"]["lines"]["end"].as_u64().unwrap() >= begin);
    }
    // Stable from run to run.
    assert_eq!(
        run(dir.path(), &["check", "--format", "gitlab"]).stdout,
        r.stdout
    );
}

#[test]
fn exit_zero_and_output_file() {
    let dir = TempDir::new("exit-zero");
    dir.write("mod.c", BORROWED_C);
    let r = run(dir.path(), &["check", "-q", "--exit-zero"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("warning[CPY101]"), "{}", r.stdout);
    // A usage error is still 2.
    assert_eq!(
        run(dir.path(), &["check", "--exit-zero", "--select", "CPY999"]).code,
        2
    );

    let r = run(
        dir.path(),
        &["check", "--format", "json", "--output-file", "report.json"],
    );
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(written["diagnostics"][0]["code"], "CPY101");
    let r = run(
        dir.path(),
        &["check", "--output-file", "no/such/dir/out.txt"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("error: cannot write no/such/dir/out.txt"),
        "{}",
        r.stderr
    );
}

#[test]
fn stdin_filename_reads_one_file_from_stdin() {
    let dir = TempDir::new("stdin");
    dir.write("pkg/cpycheck.toml", "ignore = [\"CPY105\"]\n");
    let r = run_stdin(
        dir.path(),
        &["check", "--format", "json", "--stdin-filename", "pkg/mod.c"],
        BORROWED_C,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json()["diagnostics"][0]["file"], "pkg/mod.c");
    assert_eq!(r.codes(), ["CPY101"]);
    // The name's configuration applies.
    dir.write("pkg/cpycheck.toml", "ignore = [\"CPY101\"]\n");
    let r = run_stdin(
        dir.path(),
        &["check", "-q", "--stdin-filename", "pkg/mod.c"],
        BORROWED_C,
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    // The name picks the Cython reader.
    let pyx =
        "cdef extern from *:\n    void keep(void *data)\n\ndef f(obj):\n    keep(<void*>obj)\n";
    let r = run_stdin(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "--preview",
            "--stdin-filename",
            "escape.pyx",
        ],
        pyx,
    );
    assert_eq!(r.codes(), ["CPY502"], "{}", r.stdout);
}

#[test]
fn one_unanalysable_file_among_others_exits_1_and_is_named() {
    let dir = TempDir::new("odd-file");
    dir.write("clean.c", "static int counter = 0;\n");
    dir.write("blob.c", b"int x;\0");
    let r = run(dir.path(), &["check", "-q"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error: blob.c: "), "{}", r.stderr);
    assert_eq!(run(dir.path(), &["check", "-q", "--exit-zero"]).code, 0);
    // Nothing analysable at all is an error.
    let r = run(dir.path(), &["check", "-q", "blob.c"]);
    assert_eq!(r.code, 2);
}

// ---- the README's example output --------------------------------------------------------

/// Where the README's example starts: the line before its fenced block.
const README_EXAMPLE: &str = "An excerpt of `cpycheck check examples/`:\n\n```\n";

/// The README's excerpt of `cpycheck check examples/`: the first finding of each rule, then
/// the summary. Set `CPYCHECK_UPDATE_README=1` to rewrite the README from the output
/// instead of comparing.
#[test]
fn readme_example_output_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let r = run(&root, &["check", "examples/"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Findings are blocks that start with `warning[`; the summary follows the last one.
    let mut excerpt = String::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut keep = false;
    let mut summary = String::new();
    for line in r.stdout.lines() {
        if let Some(rest) = line.strip_prefix("warning[") {
            keep = seen.insert(rest.split(']').next().unwrap().to_string());
        } else if line.starts_with("Found ")
            || line
                .split_once("  CPY")
                .is_some_and(|(n, _)| n.parse::<usize>().is_ok())
        {
            keep = false;
            summary.push_str(line);
            summary.push('\n');
            continue;
        }
        if keep {
            excerpt.push_str(line);
            excerpt.push('\n');
        }
    }
    excerpt.push_str(&summary);
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let start = readme.find(README_EXAMPLE).expect("the example's heading") + README_EXAMPLE.len();
    let end = start
        + readme[start..]
            .find("```\n")
            .expect("the end of the example");
    if std::env::var_os("CPYCHECK_UPDATE_README").is_some() {
        let updated = format!("{}{excerpt}{}", &readme[..start], &readme[end..]);
        std::fs::write(&readme_path, updated).unwrap();
        return;
    }
    // The run time differs from run to run.
    let strip_time = |text: &str| -> String {
        text.lines()
            .map(|l| match l.rfind(", ") {
                Some(i) if l.starts_with("Found ") && l.ends_with("s)") => {
                    format!("{})\n", &l[..i])
                }
                _ => format!("{l}\n"),
            })
            .collect()
    };
    assert_eq!(
        strip_time(&readme[start..end]),
        strip_time(&excerpt),
        "the README's example is stale: run this test with CPYCHECK_UPDATE_README=1"
    );
}
