//! Fuzzing the front end and the whole per-file pipeline: mutated fixtures must never make
//! cpycheck panic, abort or run for more than ten seconds, and source prep must keep every
//! byte offset.
//!
//! `cargo test` runs a few hundred cases; a long run is documented in CONTRIBUTING.md
//! ("Fuzzing"). Each case runs in a child process (proptest's `fork`, implied by its
//! `timeout`), so an abort or a hang is caught, shrunk and saved under
//! `tests/fuzz.proptest-regressions`, replayed by every later run. Inputs that once failed
//! are also kept as files under `tests/fuzz-regressions/` and run by
//! [`past_failures_stay_fixed`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cpycheck_diagnostics::FileReport;
use cpycheck_report::{RunStats, SarifTool, TextOptions};
use cpycheck_rules::{ExternalSummaries, Settings};
use cpycheck_source::{NoIncludes, PrepOptions};
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// A seed: a fixture's name (its extension picks the pipeline) and its bytes.
type Seed = (String, Vec<u8>);

/// Every C and Cython fixture of the repository.
fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut files = Vec::new();
        collect(&root, &mut files);
        files.sort();
        files
            .into_iter()
            .filter_map(|path| {
                let bytes = std::fs::read(&path).ok()?;
                let name = path.file_name()?.to_string_lossy().into_owned();
                Some((name, bytes))
            })
            .collect()
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| ["c", "h", "pyx", "pxd", "pxi"].iter().any(|x| e == *x))
        {
            out.push(path);
        }
    }
}

/// Text that changes how C, the preprocessor or Cython read what follows.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    ",",
    "*",
    "&",
    "->",
    ".",
    "=",
    "==",
    "!",
    "?",
    ":",
    "\n",
    "\r",
    "\r\n",
    "\\\n",
    "\t",
    "    ",
    "\"",
    "'",
    "/*",
    "*/",
    "//",
    "\0",
    "\u{ff}",
    "\u{feff}",
    "\u{2028}",
    "#define X(a, b) Py_DECREF(a); return b\n",
    "#define Y X(x, NULL)\n",
    "#if 0\n",
    "#if PY_VERSION_HEX >= 0x030C0000\n",
    "#else\n",
    "#endif\n",
    "#undef X\n",
    "#include \"x.h\"\n",
    "Py_INCREF(",
    "Py_DECREF(",
    "Py_XDECREF(",
    "Py_CLEAR(",
    "Py_SETREF(",
    "return NULL;",
    "return -1;",
    "goto error;",
    "error:",
    "if (",
    "else ",
    "while (1) ",
    "for (;;) ",
    "do { ",
    "} while (0);",
    "switch (x) { case 1: ",
    "default:",
    "break;",
    "PyObject *",
    "PyObject **",
    "static ",
    "PyList_New(0)",
    "PyTuple_SetItem(t, 0, ",
    "PyArg_ParseTuple(args, \"O|i:f\", &a, &b)",
    "Py_BuildValue(\"(NO)\", ",
    "PyModule_AddObject(m, \"x\", ",
    "static PyTypeObject T = { PyVarObject_HEAD_INIT(NULL, 0) ",
    "static PyMethodDef M[] = {{\"f\", f, METH_VARARGS, NULL}, {NULL}};",
    ".tp_dealloc = ",
    "cdef class C:\n",
    "    cdef object x\n",
    "    def __dealloc__(self):\n",
    "<void*>",
    "<PyObject*>",
    "cdef extern from \"x.h\":\n",
    "ctypedef ",
    "IF X:\n",
    "@cython.no_gc_clear\n",
    "cpycheck: returns-borrowed",
    "cpycheck: ignore[CPY101]",
    "cpycheck_reveal(x);",
];

/// One change to a seed; positions are fractions of its length, so they always fit.
#[derive(Clone, Debug)]
enum Mutation {
    Insert(Index, &'static str),
    Delete(Index, usize),
    Duplicate(Index, usize, usize),
    SetByte(Index, u8),
    Splice(Index, Index, Index, usize),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), select(TOKENS)).prop_map(|(at, t)| Mutation::Insert(at, t)),
        2 => (any::<Index>(), 1..200usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        2 => (any::<Index>(), 1..400usize, 1..8usize)
            .prop_map(|(at, n, times)| Mutation::Duplicate(at, n, times)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::SetByte(at, b)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>(), 1..2000usize)
            .prop_map(|(seed, from, at, n)| Mutation::Splice(seed, from, at, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: &Index, len: usize| i.index(len + 1);
    match m {
        Mutation::Insert(i, text) => {
            let p = at(i, bytes.len());
            bytes.splice(p..p, text.bytes());
        }
        Mutation::Delete(i, n) => {
            let p = at(i, bytes.len());
            let end = (p + n).min(bytes.len());
            bytes.drain(p..end);
        }
        Mutation::Duplicate(i, n, times) => {
            let p = at(i, bytes.len());
            let end = (p + n).min(bytes.len());
            let piece = bytes[p..end].repeat(*times);
            bytes.splice(end..end, piece);
        }
        Mutation::SetByte(i, b) => {
            if !bytes.is_empty() {
                let p = i.index(bytes.len());
                bytes[p] = *b;
            }
        }
        Mutation::Splice(seed, from, i, n) => {
            let other = &seeds()[seed.index(seeds().len())].1;
            let start = at(from, other.len());
            let end = (start + n).min(other.len());
            let p = at(i, bytes.len());
            bytes.splice(p..p, other[start..end].iter().copied());
        }
        Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len())),
    }
}

/// A fixture and the changes made to it.
fn input() -> impl Strategy<Value = (String, Vec<u8>)> {
    (0..seeds().len(), prop::collection::vec(mutation(), 0..12)).prop_map(|(i, mutations)| {
        let (name, mut bytes) = seeds()[i].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        (name, bytes)
    })
}

/// The front end on its own, then the whole per-file pipeline with every output format.
fn run_pipeline(name: &str, bytes: &[u8]) {
    if let Ok(prepared) = cpycheck_source::prepare(bytes, &PrepOptions::default()) {
        assert_eq!(
            prepared.text.len(),
            bytes.len(),
            "source prep moved offsets"
        );
        let _ = cpycheck_syntax::parse(&prepared.text);
    }
    let _ = cpycheck_cython::parse(&String::from_utf8_lossy(bytes));
    let report = if cpycheck_cython::is_cython_path(name) {
        cpycheck_rules::check_cython_module(name, bytes, None)
    } else {
        cpycheck_rules::check_file_with(
            name,
            bytes,
            &Settings::default(),
            &ExternalSummaries::default(),
            &NoIncludes,
        )
        .0
    };
    render(&report);
}

fn render(report: &FileReport) {
    let reports = std::slice::from_ref(report);
    let stats = RunStats::from_reports(reports);
    let _ = cpycheck_report::render_text(reports, &TextOptions { color: true });
    let _ = cpycheck_report::render_concise(reports);
    let _ = cpycheck_report::render_json(reports, &stats);
    let tool = SarifTool {
        name: "cpycheck",
        version: "0",
        rules: &[],
    };
    let _ = cpycheck_report::render_sarif(reports, &stats, &tool);
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Implies `fork`: each case runs in a child process that is killed past it.
        timeout: 10_000,
        .. ProptestConfig::default()
    })]

    #[test]
    fn pipeline_never_panics_or_hangs((name, bytes) in input()) {
        run_pipeline(&name, &bytes);
    }
}

/// The seeds themselves, and every input that once failed.
#[test]
fn past_failures_stay_fixed() {
    for (name, bytes) in seeds() {
        run_pipeline(name, bytes);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_none_or(|e| e != "md")),
        );
    }
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).expect("a regression input");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        run_pipeline(&name, &bytes);
    }
}
