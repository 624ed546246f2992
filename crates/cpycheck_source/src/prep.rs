//! `prepare`: bytes → text tree-sitter parses well, with every byte offset unchanged.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::Span;
use crate::cond::{self, Env, MacroValue};
use crate::include::{
    Header, Includes, MAX_HEADERS_PER_FILE, MAX_INCLUDE_DEPTH, NoIncludes, include_name,
};
use crate::lex::{Tok, TokKind, tokenize};
use crate::spelling;

#[derive(Clone, Debug)]
pub struct PrepOptions {
    /// Target Python version `(major, minor)`, for `PY_VERSION_HEX` and friends.
    pub python_version: (u8, u8),
}

impl Default for PrepOptions {
    fn default() -> Self {
        PrepOptions {
            python_version: (3, 13),
        }
    }
}

/// The prepared text and what source prep learned on the way.
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    /// Same length as the input; every `\n` at its original offset.
    pub text: String,
    /// `#define`s in active regions, in file order (including ones later `#undef`ed), with
    /// those of the package headers the file includes at the place of their `#include`.
    pub defines: Vec<Define>,
    /// `#undef`s in active regions (the file's and its headers'), in order.
    pub undefs: Vec<Undef>,
    /// The package headers whose macros were read, in the order they were first included.
    pub headers: Vec<Arc<Path>>,
    /// Bytes that were not valid UTF-8 (each became `?`).
    pub invalid_utf8_bytes: usize,
    /// Macro uses rewritten or blanked outside directives, in file order.
    pub rewrites: Vec<Rewrite>,
    /// Regions blanked because they are inactive `#if` arms.
    pub inactive: Vec<Span>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Define {
    pub name: String,
    /// `Some` for a function-like macro (`...` appears as a parameter named `...`).
    pub params: Option<Vec<String>>,
    /// The replacement text, comments removed, whitespace runs collapsed.
    pub body: String,
    /// The whole directive, continuation lines included; for a header's macro, the
    /// file's `#include` directive that brought it in.
    pub span: Span,
    /// The header that defines it, `None` for the file's own.
    pub header: Option<Arc<Path>>,
}

/// An `#undef`: from `span.start` on, `name` is no longer defined (until defined again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undef {
    pub name: String,
    /// The directive, or for a header's `#undef` the file's `#include` that brought it in.
    pub span: Span,
    /// How many entries of [`Prepared::defines`] precede it: orders it among the defines
    /// at the same offset.
    pub after: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    pub span: Span,
    pub kind: RewriteKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RewriteKind {
    /// A macro use blanked to spaces (its expansion does not matter to the analysis).
    Blanked { name: String },
    /// A wrapper macro whose argument stays visible: `Py_UNUSED(x)` → `x`.
    Unwrapped { name: String },
    /// An attribute-like macro replaced by the keywords it expands to (`static`).
    Replaced { name: String, with: String },
    /// `PyVarObject_HEAD_INIT(...)` → `{0}   ,`; `PyObject_HEAD_INIT(...)` → `{}   ,`
    /// (the empty list tells the syntax model that `ob_size` follows).
    HeadInit { name: String },
    /// `PyObject_HEAD` → `PyObject _ob;`, `PyObject_VAR_HEAD` → `PyVarObject _ob;`.
    ObjectHead { name: String },
    /// A `;` (or `,` in an initialiser list) written into whitespace after a statement-like
    /// macro call.
    Semicolon,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrepError {
    /// The input contains NUL bytes: not a text file.
    Binary { offset: usize },
    /// Offsets are 32-bit.
    TooLarge { len: usize },
}

impl fmt::Display for PrepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepError::Binary { offset } => {
                write!(f, "not a text file (NUL byte at offset {offset}), skipped")
            }
            PrepError::TooLarge { len } => {
                write!(
                    f,
                    "file too large ({len} bytes; the limit is 4 GiB), skipped"
                )
            }
        }
    }
}

impl std::error::Error for PrepError {}

/// Prepares a file's bytes for parsing, alone. See the crate docs for the invariant.
pub fn prepare(bytes: &[u8], opts: &PrepOptions) -> Result<Prepared, PrepError> {
    prepare_with(bytes, opts, &NoIncludes)
}

/// [`prepare`], with the macros of the headers `includes` resolves: each `#include` in an
/// active region replays the header's directives at that point (headers nest up to
/// [`MAX_INCLUDE_DEPTH`] deep; each header is read once per file, as if it had
/// `#pragma once`).
pub fn prepare_with(
    bytes: &[u8],
    opts: &PrepOptions,
    includes: &dyn Includes,
) -> Result<Prepared, PrepError> {
    if bytes.len() >= u32::MAX as usize {
        return Err(PrepError::TooLarge { len: bytes.len() });
    }
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(PrepError::Binary { offset });
    }
    let mut out = Prepared::default();
    let mut buf = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        buf.extend_from_slice(chunk.valid().as_bytes());
        let bad = chunk.invalid().len();
        out.invalid_utf8_bytes += bad;
        buf.extend(std::iter::repeat_n(b'?', bad));
    }
    let mut env = PrepEnv {
        version: opts.python_version,
        defines: Vec::new(),
        live: HashMap::new(),
        undefs: Vec::new(),
        includes,
        including: Vec::new(),
        headers: Vec::new(),
        seen: HashSet::new(),
        iso646: false,
    };
    out.inactive = directives(&mut buf, &mut env);
    spelling::respell(&mut buf);
    if env.iso646 {
        spelling::iso646_operators(&mut buf);
    }
    out.rewrites = rewrite_macros(&mut buf, &env);
    out.defines = env.defines;
    out.undefs = env.undefs;
    out.headers = env.headers;
    out.text = match String::from_utf8(buf) {
        Ok(s) => s,
        // Unreachable in practice (every edit is ASCII over whole characters); keep the
        // length invariant anyway.
        Err(e) => e
            .into_bytes()
            .into_iter()
            .map(|b| if b.is_ascii() { b as char } else { '?' })
            .collect(),
    };
    Ok(out)
}

/// Replaces every byte in `range` except newlines by a space.
pub(crate) fn blank(buf: &mut [u8], start: usize, end: usize) {
    let end = end.min(buf.len());
    for b in &mut buf[start..end] {
        if *b != b'\n' && *b != b'\r' {
            *b = b' ';
        }
    }
}

// ----- preprocessor environment -----

struct PrepEnv<'a> {
    version: (u8, u8),
    defines: Vec<Define>,
    /// Name → index into `defines` of the live definition.
    live: HashMap<String, usize>,
    undefs: Vec<Undef>,
    includes: &'a dyn Includes,
    /// The headers being replayed, outermost first.
    including: Vec<Arc<Header>>,
    /// Every header included so far, in order.
    headers: Vec<Arc<Path>>,
    seen: HashSet<Arc<Path>>,
    /// `<iso646.h>` was included: `and`, `or`, `not`, ... are operators.
    iso646: bool,
}

/// Always defined when compiling an extension on Linux with gcc.
const BUILTIN_DEFINED: &[&str] = &[
    "__GNUC__",
    "__GNUC_MINOR__",
    "__STDC__",
    "__STDC_VERSION__",
    "__linux__",
    "__linux",
    "__unix__",
    "__unix",
    "__x86_64__",
    "__x86_64",
    "__LP64__",
    "__ELF__",
    "__CHAR_BIT__",
    "__SIZEOF_POINTER__",
    "__SIZEOF_LONG__",
    "__SIZEOF_INT__",
    "__BYTE_ORDER__",
    "__ORDER_LITTLE_ENDIAN__",
    "__ORDER_BIG_ENDIAN__",
    "Py_PYTHON_H",
    "PY_VERSION_HEX",
    "PY_MAJOR_VERSION",
    "PY_MINOR_VERSION",
    "PY_MICRO_VERSION",
    "PY_RELEASE_LEVEL",
    "PY_RELEASE_SERIAL",
    "SIZEOF_VOID_P",
    "SIZEOF_SIZE_T",
    "SIZEOF_LONG",
    "SIZEOF_INT",
    "SIZEOF_LONG_LONG",
    "SIZEOF_WCHAR_T",
    "HAVE_LONG_LONG",
    // Python.h macros that compatibility shims test with `#ifndef`.
    "Py_RETURN_NONE",
    "Py_RETURN_TRUE",
    "Py_RETURN_FALSE",
    "Py_RETURN_NOTIMPLEMENTED",
    "Py_CLEAR",
    "Py_SETREF",
    "Py_XSETREF",
    "Py_TYPE",
    "Py_SIZE",
    "Py_REFCNT",
    "Py_INCREF",
    "Py_DECREF",
    "Py_XINCREF",
    "Py_XDECREF",
    "Py_UNUSED",
    "PyMODINIT_FUNC",
    "PyObject_HEAD",
    "PyObject_VAR_HEAD",
    "PyObject_HEAD_INIT",
    "PyVarObject_HEAD_INIT",
    "PyModuleDef_HEAD_INIT",
    "PY_SSIZE_T_MAX",
    "PY_SSIZE_T_MIN",
    "Py_ssize_t",
];

/// A macro `Python.h` defines from version `since` on, up to but excluding `until`.
struct PyMacro {
    name: &'static str,
    since: (u8, u8),
    until: Option<(u8, u8)>,
    /// What `#if` arithmetic reads (0 when `None`, as for a body that is not a number).
    value: Option<i64>,
}

const fn py(name: &'static str, since: (u8, u8)) -> PyMacro {
    PyMacro {
        name,
        since,
        until: None,
        value: None,
    }
}

/// In every version this table knows of (3.6 and later).
const ALWAYS: (u8, u8) = (3, 0);

/// Macros `Python.h` defines that extension code tests (`defined(PyUnicode_KIND)`,
/// `#ifndef Py_tss_NEEDS_INIT`, `#if Py_UNICODE_SIZE == 2`), beyond the ones every
/// version defines in `BUILTIN_DEFINED`. `Python.h` itself is never read, so without this
/// table those tests would take the arm meant for interpreters that lack the macro (for
/// Cython's `#if ... defined(PyUnicode_KIND)`: the pre-PEP 393 unicode code). Read from
/// the headers of CPython 3.6 to 3.13 (`gcc -dM -E` of `#include <Python.h>` on Linux
/// x86-64, without `Py_LIMITED_API`): `since` is the first of those versions that defines
/// the name (`ALWAYS` if 3.6 does), `until` the first that no longer does. Names that are
/// functions or enum constants in every version (`PyObject_Format`,
/// `PyUnicode_WCHAR_KIND`) are not macros, and `defined` is false for them, as for a
/// compiler.
const PYTHON_H_MACROS: &[PyMacro] = &[
    py("PY_LONG_LONG", ALWAYS),
    py("PY_VECTORCALL_ARGUMENTS_OFFSET", (3, 8)),
    py("PyByteArray_AS_STRING", ALWAYS),
    py("PyByteArray_Check", ALWAYS),
    py("PyByteArray_GET_SIZE", ALWAYS),
    py("PyCoro_CheckExact", ALWAYS),
    py("PyLong_FromPid", ALWAYS),
    py("PySet_CheckExact", (3, 10)),
    py("PyUnicode_GET_SIZE", ALWAYS).until((3, 12)),
    py("PyUnicode_AS_UNICODE", ALWAYS).until((3, 12)),
    py("PyUnicode_IS_READY", ALWAYS),
    py("PyUnicode_KIND", ALWAYS),
    py("PyUnicode_READY", ALWAYS),
    py("PyUnstable_Long_CompactValue", (3, 12)),
    py("PyUnstable_Long_IsCompact", (3, 12)),
    py("Py_ALWAYS_INLINE", (3, 11)),
    py("Py_CONSTANT_NONE", (3, 13)),
    py("Py_HUGE_VAL", ALWAYS),
    py("Py_IS_TYPE", (3, 9)),
    py("Py_Is", (3, 10)),
    py("Py_IsFalse", (3, 10)),
    py("Py_IsNone", (3, 10)),
    py("Py_IsTrue", (3, 10)),
    py("Py_MEMBER_SIZE", ALWAYS),
    py("Py_NAN", ALWAYS),
    py("Py_NewRef", (3, 10)),
    py("Py_READONLY", (3, 12)),
    py("Py_SET_REFCNT", (3, 9)),
    py("Py_SET_SIZE", (3, 9)),
    py("Py_SET_TYPE", (3, 9)),
    py("Py_T_OBJECT_EX", (3, 12)),
    py("Py_UNICODE_SIZE", ALWAYS).value(4),
    py("Py_UNICODE_WIDE", ALWAYS),
    py("Py_UNREACHABLE", (3, 7)),
    py("Py_USING_UNICODE", ALWAYS),
    py("Py_XNewRef", (3, 10)),
    py("Py_bf_getbuffer", (3, 9)),
    py("Py_bf_releasebuffer", (3, 9)),
    py("Py_tss_NEEDS_INIT", (3, 7)),
    py("PY_BIG_ENDIAN", ALWAYS).value(0),
    py("PY_LITTLE_ENDIAN", ALWAYS).value(1),
    py("PyHASH_BITS", (3, 13)).value(61),
    py("_PyArg_UnpackKeywords", (3, 8)).until((3, 13)),
    py("_PyLong_NON_SIZE_BITS", (3, 12)),
    py("_PyLong_SIGN_MASK", (3, 12)),
    py("_PyObject_CAST", (3, 8)),
    py("_PyObject_CAST_CONST", (3, 9)).until((3, 11)),
    py("_PyObject_GC_IS_TRACKED", ALWAYS).until((3, 9)),
    py("_Py_CAST", (3, 11)),
    py("_Py_NULL", (3, 11)),
    py("_Py_PARSE_PID", ALWAYS),
    py("_Py_TPFLAGS_HAVE_VECTORCALL", (3, 8)),
];

impl PyMacro {
    const fn until(self, until: (u8, u8)) -> PyMacro {
        PyMacro {
            until: Some(until),
            ..self
        }
    }

    const fn value(self, value: i64) -> PyMacro {
        PyMacro {
            value: Some(value),
            ..self
        }
    }

    fn defined_in(&self, version: (u8, u8)) -> bool {
        self.since <= version && self.until.is_none_or(|u| version < u)
    }
}

fn python_h_macro(name: &str) -> Option<&'static PyMacro> {
    PYTHON_H_MACROS.iter().find(|m| m.name == name)
}

impl PrepEnv<'_> {
    fn builtin_value(&self, name: &str) -> Option<i64> {
        let (major, minor) = (self.version.0 as i64, self.version.1 as i64);
        Some(match name {
            "PY_VERSION_HEX" => (major << 24) | (minor << 16) | (0xF << 4),
            "PY_MAJOR_VERSION" => major,
            "PY_MINOR_VERSION" => minor,
            "PY_MICRO_VERSION" | "PY_RELEASE_SERIAL" => 0,
            "PY_RELEASE_LEVEL" | "PY_RELEASE_LEVEL_FINAL" => 0xF,
            "PY_RELEASE_LEVEL_ALPHA" => 0xA,
            "PY_RELEASE_LEVEL_BETA" => 0xB,
            "PY_RELEASE_LEVEL_GAMMA" => 0xC,
            "__GNUC__" => 12,
            "__GNUC_MINOR__" => 2,
            "__STDC_VERSION__" => 201710,
            "__CHAR_BIT__" => 8,
            "__SIZEOF_INT__" | "SIZEOF_INT" | "SIZEOF_WCHAR_T" => 4,
            "__SIZEOF_POINTER__" | "__SIZEOF_LONG__" | "SIZEOF_VOID_P" | "SIZEOF_SIZE_T"
            | "SIZEOF_LONG" | "SIZEOF_LONG_LONG" => 8,
            "__BYTE_ORDER__" | "__ORDER_LITTLE_ENDIAN__" => 1234,
            "__ORDER_BIG_ENDIAN__" => 4321,
            _ if BUILTIN_DEFINED.contains(&name) => 1,
            _ => match python_h_macro(name) {
                Some(m) if m.defined_in(self.version) => m.value?,
                _ => return None,
            },
        })
    }
}

impl Env for PrepEnv<'_> {
    fn is_defined(&self, name: &str) -> bool {
        self.live.contains_key(name)
            || BUILTIN_DEFINED.contains(&name)
            || python_h_macro(name).is_some_and(|m| m.defined_in(self.version))
            || name.starts_with("Py_TPFLAGS_")
            || name.starts_with("METH_")
    }

    fn object_value(&self, name: &str) -> Option<MacroValue<'_>> {
        if let Some(&i) = self.live.get(name) {
            let d = &self.defines[i];
            if d.params.is_none() {
                return Some(MacroValue::Body(&d.body));
            }
            return None;
        }
        self.builtin_value(name).map(MacroValue::Int)
    }

    fn is_function_like(&self, name: &str) -> bool {
        self.live
            .get(name)
            .is_some_and(|&i| self.defines[i].params.is_some())
    }
}

// ----- directives and conditional arms -----

struct Frame {
    /// This arm is active (implies the enclosing arm is).
    active: bool,
    parent_active: bool,
    /// Some arm of this conditional has been taken.
    taken: bool,
}

/// End of the directive starting at `start` (the `#`): the index of its terminating
/// newline (or the buffer end), following backslash continuations and block comments.
/// Also returns the logical text after `#`, comments removed, continuations joined.
pub(crate) fn directive_extent(buf: &[u8], start: usize) -> (usize, String) {
    let n = buf.len();
    let mut text = Vec::new();
    let mut i = start + 1;
    while i < n {
        let c = buf[i];
        match c {
            b'\n' => return (i, String::from_utf8_lossy(&text).into_owned()),
            b'\\' if buf.get(i + 1) == Some(&b'\n') => i += 2,
            b'\\' if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') => i += 3,
            b'/' if buf.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < n && !(buf[i] == b'*' && buf.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(n);
                text.push(b' ');
            }
            b'/' if buf.get(i + 1) == Some(&b'/') => {
                while i < n && buf[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' => {
                // A literal stays on its line; an apostrophe that does not close soon is
                // prose (`#error don't`).
                let q = c;
                let s = i;
                let mut k = i + 1;
                while k < n && buf[k] != q && buf[k] != b'\n' {
                    if buf[k] == b'\\' && buf.get(k + 1).is_some_and(|&b| b != b'\n' && b != b'\r')
                    {
                        k += 1;
                    }
                    k += 1;
                }
                let closed = k < n && buf[k] == q;
                if closed && (q == b'"' || k - s <= 7) {
                    i = k + 1;
                } else if q == b'"' {
                    i = k;
                    // Unterminated string: keep the text up to the line end (or the
                    // continuation backslash, handled by the outer loop).
                    if i > s + 1 && buf[i - 1] == b'\\' {
                        i -= 1;
                    }
                } else {
                    i = s + 1;
                }
                text.extend_from_slice(&buf[s..i]);
            }
            b'\r' => i += 1,
            _ => {
                text.push(c);
                i += 1;
            }
        }
    }
    (n, String::from_utf8_lossy(&text).into_owned())
}

/// End of an ordinary code line starting at `start` (index of its newline or the buffer
/// end), updating the block-comment state.
pub(crate) fn code_line_end(buf: &[u8], start: usize, in_comment: &mut bool) -> usize {
    let n = buf.len();
    let mut i = start;
    while i < n {
        let c = buf[i];
        if *in_comment {
            if c == b'*' && buf.get(i + 1) == Some(&b'/') {
                *in_comment = false;
                i += 2;
                continue;
            }
            if c == b'\n' {
                return i;
            }
            i += 1;
            continue;
        }
        match c {
            b'\n' => return i,
            b'/' if buf.get(i + 1) == Some(&b'*') => {
                *in_comment = true;
                i += 2;
            }
            b'/' if buf.get(i + 1) == Some(&b'/') => {
                while i < n && buf[i] != b'\n' {
                    i += 1;
                }
                return i;
            }
            b'"' | b'\'' => {
                let q = c;
                i += 1;
                while i < n && buf[i] != q && buf[i] != b'\n' {
                    if buf[i] == b'\\' && buf.get(i + 1).is_some_and(|&b| b != b'\n') {
                        i += 1;
                    }
                    i += 1;
                }
                if i < n && buf[i] == q {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    n
}

pub(crate) fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Blanks directives and inactive arms; records `#define`s. Returns the inactive regions.
fn directives(buf: &mut [u8], env: &mut PrepEnv) -> Vec<Span> {
    let n = buf.len();
    let mut stack: Vec<Frame> = Vec::new();
    let mut in_comment = false;
    let mut inactive = Vec::new();
    let mut inactive_since: Option<usize> = None;
    let mut pos = 0;
    while pos < n {
        let active = stack.last().is_none_or(|f| f.active);
        let mut j = pos;
        while j < n && matches!(buf[j], b' ' | b'\t' | b'\x0c' | b'\r') {
            j += 1;
        }
        if !in_comment && j < n && buf[j] == b'#' {
            let (end, text) = directive_extent(buf, j);
            directive(&text, Span::new(pos, end), &mut stack, env, active);
            blank(buf, pos, end);
            let now_active = stack.last().is_none_or(|f| f.active);
            if active && !now_active {
                inactive_since = Some(end);
            } else if !active
                && now_active
                && let Some(s) = inactive_since.take()
            {
                inactive.push(Span::new(s, pos));
            }
            pos = end + 1;
            continue;
        }
        let end = code_line_end(buf, pos, &mut in_comment);
        if !active {
            blank(buf, pos, end);
        }
        pos = end + 1;
    }
    if let Some(s) = inactive_since {
        inactive.push(Span::new(s, n));
    }
    inactive
}

fn directive(text: &str, span: Span, stack: &mut Vec<Frame>, env: &mut PrepEnv, active: bool) {
    let (word, rest) = split_word(text);
    match word {
        "if" | "ifdef" | "ifndef" => {
            let taken = active
                && match word {
                    "if" => cond::eval(rest, env).unwrap_or(true),
                    "ifdef" => env.is_defined(split_word(rest).0),
                    _ => !env.is_defined(split_word(rest).0),
                };
            stack.push(Frame {
                active: taken,
                parent_active: active,
                taken: taken || !active,
            });
        }
        "elif" | "elifdef" | "elifndef" => {
            if let Some(f) = stack.last_mut() {
                if f.taken || !f.parent_active {
                    f.active = false;
                } else {
                    let v = match word {
                        "elif" => cond::eval(rest, env).unwrap_or(true),
                        "elifdef" => env.is_defined(split_word(rest).0),
                        _ => !env.is_defined(split_word(rest).0),
                    };
                    f.active = v;
                    f.taken = v;
                }
            }
        }
        "else" => {
            if let Some(f) = stack.last_mut() {
                f.active = f.parent_active && !f.taken;
                f.taken = true;
            }
        }
        "endif" => {
            stack.pop();
        }
        "define" if active => {
            if let Some(mut d) = parse_define(rest, span) {
                d.header = env.including.last().map(|h| Arc::clone(&h.path));
                let i = env.defines.len();
                env.live.insert(d.name.clone(), i);
                env.defines.push(d);
            }
        }
        "undef" if active => {
            let name = split_word(rest).0;
            env.live.remove(name);
            env.undefs.push(Undef {
                name: name.to_string(),
                span,
                after: env.defines.len(),
            });
        }
        "include" if active => include(rest, span, env),
        _ => {}
    }
}

/// Replays the directives of the header an `#include` names, at `span` (the `#include` of
/// the file that leads to it).
fn include(rest: &str, span: Span, env: &mut PrepEnv) {
    let Some((name, angled)) = include_name(rest) else {
        return;
    };
    if name == "iso646.h" {
        env.iso646 = true;
    }
    if env.including.len() >= MAX_INCLUDE_DEPTH || env.seen.len() >= MAX_HEADERS_PER_FILE {
        return;
    }
    let from = env.including.last().cloned();
    let Some(header) = env.includes.resolve(from.as_deref(), name, angled) else {
        return;
    };
    if !env.seen.insert(Arc::clone(&header.path)) {
        return;
    }
    env.headers.push(Arc::clone(&header.path));
    env.including.push(Arc::clone(&header));
    // The header's conditionals are its own: an unbalanced one ends with it.
    let mut stack: Vec<Frame> = Vec::new();
    for text in &header.directives {
        let active = stack.last().is_none_or(|f| f.active);
        directive(text, span, &mut stack, env, active);
    }
    env.including.pop();
}

fn parse_define(rest: &str, span: Span) -> Option<Define> {
    let rest = rest.trim_start();
    let (name, after) = split_word(rest);
    if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let (params, body) = if let Some(p) = after.strip_prefix('(') {
        let close = p.find(')')?;
        let params = p[..close]
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        (Some(params), &p[close + 1..])
    } else {
        (None, after)
    };
    Some(Define {
        name: name.to_string(),
        params,
        body: body.split_whitespace().collect::<Vec<_>>().join(" "),
        span,
        header: None,
    })
}

// ----- macro rewrites outside directives -----

/// Blanked wherever they appear: thread-state macros open and close a block between them,
/// so both go together.
const BLANK_WORDS: &[&str] = &[
    "Py_BEGIN_ALLOW_THREADS",
    "Py_END_ALLOW_THREADS",
    "Py_BLOCK_THREADS",
    "Py_UNBLOCK_THREADS",
    "Py_ALWAYS_INLINE",
    "Py_NO_INLINE",
    "Py_EXPORTED_SYMBOL",
    "Py_IMPORTED_SYMBOL",
    "Py_LOCAL_SYMBOL",
    "_Py_NO_RETURN",
    "_Py_HOT_FUNCTION",
    "_Py_COMP_DIAG_PUSH",
    "_Py_COMP_DIAG_POP",
    "_Py_COMP_DIAG_IGNORE_DEPR_DECLS",
    "PyObject_HEAD_EXTRA",
    "_PyObject_HEAD_EXTRA",
];

/// Blanked with their argument list.
const BLANK_CALLS: &[&str] = &[
    // Empty in every supported Python; the second argument is a statement.
    "PyFPE_START_PROTECT",
    "PyFPE_END_PROTECT",
    "Py_GCC_ATTRIBUTE",
    "Py_DEPRECATED",
    "Py_ALIGNED",
    "_Py_NO_SANITIZE_ADDRESS",
];

/// The name and parentheses are blanked; the argument stays.
const UNWRAP_CALLS: &[&str] = &["Py_UNUSED", "PyAPI_FUNC", "PyAPI_DATA"];

/// Replaced by `static`, parentheses blanked, argument kept.
const STATIC_CALLS: &[&str] = &["Py_LOCAL", "Py_LOCAL_INLINE"];

const STORAGE_WORDS: &[&str] = &[
    "static",
    "inline",
    "__inline",
    "__inline__",
    "extern",
    "__forceinline",
    // Qualifiers: `#define CYTHON_RESTRICT __restrict__`.
    "const",
    "volatile",
    "restrict",
    "__restrict",
    "__restrict__",
];

/// How the file's own macros are treated.
enum MacroClass {
    /// Expands to nothing that matters: blank the use (with its arguments).
    Blank,
    /// Expands to storage keywords: write them (they fit in the name).
    Replace(String),
}

/// Classifies the file's live defines: empty macros and attribute-like macros.
fn classify<'e>(env: &'e PrepEnv<'_>) -> HashMap<&'e str, MacroClass> {
    let mut classes: HashMap<&str, MacroClass> = HashMap::new();
    let mut attribute_names: HashSet<&str> = BLANK_WORDS.iter().copied().collect();
    // Fixpoint: a macro whose body is made of attribute-like macros is attribute-like.
    for _ in 0..4 {
        for &i in env.live.values() {
            let d = &env.defines[i];
            if classes.contains_key(d.name.as_str()) || is_py_macro(&d.name) {
                continue;
            }
            let Some(words) = attribute_body(&d.body, &attribute_names, d.params.is_some()) else {
                continue;
            };
            let class = if d.params.is_some() || words.is_empty() {
                MacroClass::Blank
            } else {
                let with = words.join(" ");
                if with.len() <= d.name.len() {
                    MacroClass::Replace(with)
                } else if words.contains(&"static") && d.name.len() >= 6 {
                    MacroClass::Replace("static".to_string())
                } else {
                    MacroClass::Blank
                }
            };
            attribute_names.insert(&d.name);
            classes.insert(&d.name, class);
        }
    }
    classes
}

/// Names Python.h owns: the file's compatibility definitions must not change how they are
/// seen.
fn is_py_macro(name: &str) -> bool {
    BUILTIN_DEFINED.contains(&name)
        || python_h_macro(name).is_some()
        || STATIC_CALLS.contains(&name)
        || UNWRAP_CALLS.contains(&name)
}

/// If `body` is made only of storage keywords, `__attribute__((...))`, `__declspec(...)` and
/// attribute-like macro names, the storage keywords it contains.
fn attribute_body<'b>(
    body: &'b str,
    attrs: &HashSet<&str>,
    function_like: bool,
) -> Option<Vec<&'b str>> {
    let b = body.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if !(b[i].is_ascii_alphabetic() || b[i] == b'_') {
            return None;
        }
        let s = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let w = &body[s..i];
        if matches!(w, "__attribute__" | "__attribute" | "__declspec") {
            // Skip the balanced parenthesised argument.
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b.get(i) != Some(&b'(') {
                return None;
            }
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        } else if STORAGE_WORDS.contains(&w) {
            if function_like {
                return None;
            }
            words.push(w);
        } else if attrs.contains(w) {
            // Another attribute-like macro.
        } else {
            return None;
        }
    }
    Some(words)
}

fn matching_paren(toks: &[Tok], open: usize, buf: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if t.kind == TokKind::Punct {
            match buf[t.start as usize] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(k);
                    }
                }
                b'{' | b'}' | b';' => return None,
                _ => {}
            }
        }
    }
    None
}

/// Writes `with` at `start`, padding the rest of `start..end` with blanks (newlines kept).
pub(crate) fn write_padded(buf: &mut [u8], start: usize, end: usize, with: &str) {
    blank(buf, start, end);
    buf[start..start + with.len()].copy_from_slice(with.as_bytes());
}

fn rewrite_macros(buf: &mut [u8], env: &PrepEnv) -> Vec<Rewrite> {
    let classes = classify(env);
    let toks = tokenize(buf);
    let mut rewrites = Vec::new();
    let punct = |t: &Tok, c: u8| t.kind == TokKind::Punct && buf[t.start as usize] == c;
    let mut edits: Vec<(usize, usize, String, RewriteKind)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        i += 1;
        if t.kind != TokKind::Ident {
            continue;
        }
        let (s, e) = (t.start as usize, t.end as usize);
        let name = std::str::from_utf8(&buf[s..e]).unwrap_or("");
        let next_is_paren = toks.get(i).is_some_and(|n| punct(n, b'('));
        let close = if next_is_paren {
            matching_paren(&toks, i, buf)
        } else {
            None
        };
        if BLANK_WORDS.contains(&name) {
            edits.push((
                s,
                e,
                String::new(),
                RewriteKind::Blanked {
                    name: name.to_string(),
                },
            ));
        } else if let (true, Some(k)) = (UNWRAP_CALLS.contains(&name), close) {
            let kind = RewriteKind::Unwrapped {
                name: name.to_string(),
            };
            edits.push((s, toks[i].end as usize, String::new(), kind.clone()));
            let c = toks[k];
            edits.push((c.start as usize, c.end as usize, String::new(), kind));
            i += 1;
        } else if let (true, Some(k)) = (STATIC_CALLS.contains(&name), close) {
            edits.push((
                s,
                toks[i].end as usize,
                "static".to_string(),
                RewriteKind::Replaced {
                    name: name.to_string(),
                    with: "static".to_string(),
                },
            ));
            let c = toks[k];
            edits.push((
                c.start as usize,
                c.end as usize,
                String::new(),
                RewriteKind::Unwrapped {
                    name: name.to_string(),
                },
            ));
            i += 1;
        } else if let (true, Some(k)) = (BLANK_CALLS.contains(&name), close) {
            edits.push((
                s,
                toks[k].end as usize,
                String::new(),
                RewriteKind::Blanked {
                    name: name.to_string(),
                },
            ));
            i = k + 1;
        } else if let Some(class) = classes.get(name) {
            let is_call = env
                .live
                .get(name)
                .is_some_and(|&d| env.defines[d].params.is_some());
            match (class, is_call, close) {
                (MacroClass::Blank, true, Some(k)) => {
                    edits.push((
                        s,
                        toks[k].end as usize,
                        String::new(),
                        RewriteKind::Blanked {
                            name: name.to_string(),
                        },
                    ));
                    i = k + 1;
                }
                (MacroClass::Blank, false, _) => {
                    edits.push((
                        s,
                        e,
                        String::new(),
                        RewriteKind::Blanked {
                            name: name.to_string(),
                        },
                    ));
                }
                (MacroClass::Replace(with), false, _) => {
                    edits.push((
                        s,
                        e,
                        with.clone(),
                        RewriteKind::Replaced {
                            name: name.to_string(),
                            with: with.clone(),
                        },
                    ));
                }
                _ => {}
            }
        } else if let (true, Some(k)) = (
            name == "PyVarObject_HEAD_INIT" || name == "PyObject_HEAD_INIT",
            close,
        ) {
            let end = toks[k].end as usize;
            let list = if name == "PyVarObject_HEAD_INIT" {
                "{0}"
            } else {
                "{}"
            };
            let with = format!("{list}{},", " ".repeat(end - s - list.len() - 1));
            edits.push((
                s,
                end,
                with,
                RewriteKind::HeadInit {
                    name: name.to_string(),
                },
            ));
            i = k + 1;
        } else if (name == "PyObject_HEAD" || name == "PyObject_VAR_HEAD") && !next_is_paren {
            let after_semicolon = toks.get(i).is_some_and(|n| punct(n, b';'));
            let prev_ok = i >= 2 && (punct(&toks[i - 2], b'{') || punct(&toks[i - 2], b';'));
            if prev_ok {
                let ty = if name == "PyObject_HEAD" {
                    "PyObject"
                } else {
                    "PyVarObject"
                };
                let with = if after_semicolon {
                    format!("{ty} _ob")
                } else {
                    format!("{ty} _ob;")
                };
                if with.len() <= e - s {
                    edits.push((
                        s,
                        e,
                        with,
                        RewriteKind::ObjectHead {
                            name: name.to_string(),
                        },
                    ));
                }
            }
        }
    }
    for (s, e, with, kind) in edits {
        // Multi-line invocations keep their newlines: write only where it fits on the line.
        let room = buf[s..e].iter().position(|&b| b == b'\n').unwrap_or(e - s);
        if with.len() > room && with.ends_with(',') && with.len() > 1 {
            // `{0}` on the first line, `,` on the last byte.
            let head = with.trim_end_matches([' ', ',']);
            if head.len() > room {
                continue;
            }
            blank(buf, s, e);
            buf[s..s + head.len()].copy_from_slice(head.as_bytes());
            buf[e - 1] = b',';
        } else if with.len() > room {
            continue;
        } else {
            write_padded(buf, s, e, &with);
        }
        rewrites.push(Rewrite {
            span: Span::new(s, e),
            kind,
        });
    }
    rewrites.extend(declaration_heads(buf));
    rewrites.extend(statement_macros(buf, env));
    rewrites.sort_by_key(|r| r.span);
    rewrites
}

const C_KEYWORDS: &[&str] = &[
    "static",
    "extern",
    "inline",
    "__inline",
    "__inline__",
    "__forceinline",
    "const",
    "volatile",
    "restrict",
    "__restrict",
    "__restrict__",
    "register",
    "auto",
    "signed",
    "unsigned",
    "short",
    "long",
    "int",
    "char",
    "float",
    "double",
    "void",
    "_Bool",
    "bool",
    "struct",
    "union",
    "enum",
    "typedef",
    "_Noreturn",
    "noreturn",
    "__extension__",
    "thread_local",
    "_Thread_local",
    "__thread",
    "return",
    "if",
    "while",
    "for",
    "switch",
    "do",
    "else",
    "case",
    "goto",
    "sizeof",
];

const PRIMITIVE_TYPES: &[&str] = &[
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool",
    "bool",
];

/// Top-level function heads with macros the file does not define (they come from headers):
/// `VOID CALLBACK f(`, `NPY_NO_EXPORT PyObject *f(`, `static ATTR void f(`. A declaration
/// has at most one type name, so extra plain identifiers among the specifiers are macros:
/// with a keyword type all of them, otherwise all but the last; identifiers between `*`
/// and the name always.
fn declaration_heads(buf: &mut [u8]) -> Vec<Rewrite> {
    let toks = tokenize(buf);
    let text = |t: &Tok| std::str::from_utf8(&buf[t.start as usize..t.end as usize]).unwrap_or("");
    let is_punct = |t: &Tok, c: u8| t.kind == TokKind::Punct && buf[t.start as usize] == c;
    let mut blanks: Vec<(usize, usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut at_start = true;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        if t.kind == TokKind::Punct {
            match buf[t.start as usize] {
                b'{' => depth += 1,
                b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            at_start = depth == 0 && matches!(buf[t.start as usize], b';' | b'}');
            i += 1;
            continue;
        }
        if !(at_start && depth == 0 && t.kind == TokKind::Ident) {
            at_start = false;
            i += 1;
            continue;
        }
        at_start = false;
        let mut j = i;
        while j < toks.len() && (toks[j].kind == TokKind::Ident || is_punct(&toks[j], b'*')) {
            j += 1;
        }
        let head_ok = j < toks.len()
            && is_punct(&toks[j], b'(')
            && j >= i + 2
            && toks[j - 1].kind == TokKind::Ident
            && text(&toks[i]) != "typedef";
        if head_ok {
            let specs = &toks[i..j - 1];
            let has_primitive = specs.iter().any(|t| PRIMITIVE_TYPES.contains(&text(t)));
            let mut before_star = Vec::new();
            let mut after_star = Vec::new();
            let mut seen_star = false;
            let mut prev_tag = false;
            for t in specs {
                let w = text(t);
                if t.kind == TokKind::Punct {
                    seen_star = true;
                } else if !C_KEYWORDS.contains(&w) && !prev_tag {
                    if seen_star {
                        after_star.push(*t);
                    } else {
                        before_star.push(*t);
                    }
                }
                prev_tag = matches!(w, "struct" | "union" | "enum");
            }
            let keep_last = !has_primitive && !before_star.is_empty();
            if keep_last {
                before_star.pop();
            }
            for t in before_star.into_iter().chain(after_star) {
                blanks.push((t.start as usize, t.end as usize, text(&t).to_string()));
            }
        }
        i = j.max(i + 1);
    }
    blanks
        .into_iter()
        .map(|(s, e, name)| {
            blank(buf, s, e);
            Rewrite {
                span: Span::new(s, e),
                kind: RewriteKind::Blanked { name },
            }
        })
        .collect()
}

/// Whether token `i` starts the body of an `if`/`while`/`for` or follows `else`: the
/// `)` before it closes the condition of one of those keywords.
fn is_body_start(toks: &[Tok], i: usize, buf: &[u8]) -> bool {
    let word = |t: &Tok| &buf[t.start as usize..t.end as usize];
    let prev = toks[i - 1];
    if prev.kind == TokKind::Ident {
        return word(&prev) == b"else";
    }
    if prev.kind != TokKind::Punct || buf[prev.start as usize] != b')' {
        return false;
    }
    let mut depth = 0usize;
    for k in (0..i - 1).rev() {
        let t = toks[k];
        if t.kind != TokKind::Punct {
            continue;
        }
        match buf[t.start as usize] {
            b')' => depth += 1,
            b'(' if depth == 0 => {
                return k > 0
                    && toks[k - 1].kind == TokKind::Ident
                    && matches!(word(&toks[k - 1]), b"if" | b"while" | b"for");
            }
            b'(' => depth -= 1,
            b';' | b'{' | b'}' => return false,
            _ => {}
        }
    }
    false
}

/// Whether `name` is an object-like macro whose body is a statement or ends one: its body
/// ends with `;` or `}`, or with a thread-state macro (`Py_BEGIN_ALLOW_THREADS` opens a
/// block that a matching end macro closes), or with another such word (nested at most 8
/// deep).
fn statement_word(env: &PrepEnv, name: &str, depth: u32) -> bool {
    const THREAD_WORDS: &[&str] = &[
        "Py_BEGIN_ALLOW_THREADS",
        "Py_END_ALLOW_THREADS",
        "Py_BLOCK_THREADS",
        "Py_UNBLOCK_THREADS",
    ];
    if depth > 8 {
        return false;
    }
    let Some(&d) = env.live.get(name) else {
        return false;
    };
    let d = &env.defines[d];
    if d.params.is_some() {
        return false;
    }
    let body = d.body.trim_end();
    if body.ends_with(';') || body.ends_with('}') {
        return true;
    }
    let last = body
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    !last.is_empty()
        && last != name
        && (THREAD_WORDS.contains(&last) || statement_word(env, last, depth + 1))
}

/// Statement-like macro calls written without a `;` (`STATS(x)` then the next statement,
/// `LIST_FOREACH(...) {`), and top-level macros that define functions (`SLOT1(...)`), are
/// separated from what follows by a `;` written into the whitespace after them (`,` inside
/// an initialiser list). Offsets do not move; the text becomes parseable C.
fn statement_macros(buf: &mut [u8], env: &PrepEnv) -> Vec<Rewrite> {
    let toks = tokenize(buf);
    let text = |t: &Tok| std::str::from_utf8(&buf[t.start as usize..t.end as usize]).unwrap_or("");
    let is_punct = |t: &Tok, c: u8| t.kind == TokKind::Punct && buf[t.start as usize] == c;
    let defines_function = |name: &str| {
        env.live.get(name).is_some_and(|&d| {
            let d = &env.defines[d];
            d.params.is_some() && d.body.contains('{')
        })
    };
    let is_statement_macro = |name: &str| {
        env.live.get(name).is_some_and(|&d| {
            let d = &env.defines[d];
            let body = d.body.trim();
            d.params.is_some() && body.starts_with('{') && body.ends_with('}')
        })
    };
    let is_statement_word = |name: &str| statement_word(env, name, 0);
    // Brace stack: true for an initialiser list.
    let mut braces: Vec<bool> = Vec::new();
    let mut inserts: Vec<(usize, u8)> = Vec::new();
    // A `;` was just inserted after the previous token: this one starts a statement.
    let mut after_insert = false;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        if t.kind == TokKind::Punct {
            after_insert = false;
            match buf[t.start as usize] {
                b'{' => {
                    let init = i > 0
                        && (is_punct(&toks[i - 1], b'=')
                            || (braces.last() == Some(&true)
                                && (is_punct(&toks[i - 1], b',') || is_punct(&toks[i - 1], b'{'))));
                    braces.push(init);
                }
                b'}' => {
                    braces.pop();
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        let at_start = i == 0
            || std::mem::take(&mut after_insert)
            || is_punct(&toks[i - 1], b';')
            || is_punct(&toks[i - 1], b'{')
            || is_punct(&toks[i - 1], b'}')
            || (braces.last() == Some(&true) && is_punct(&toks[i - 1], b','))
            || (!braces.is_empty() && is_body_start(&toks, i, buf));
        // `__Pyx_PyThreadState_declare` alone on its line: an object-like macro of the
        // file whose body is a whole statement (`PyThreadState *__pyx_tstate;`).
        if t.kind == TokKind::Ident
            && at_start
            && !braces.is_empty()
            && braces.last() != Some(&true)
            && is_statement_word(text(&t))
            && let Some(next) = toks.get(i + 1)
            && !is_punct(next, b';')
        {
            let gap = t.end as usize..next.start as usize;
            if let Some(p) = gap
                .clone()
                .take_while(|&p| buf[p] != b'/')
                .find(|&p| buf[p] == b' ' || buf[p] == b'\t')
            {
                inserts.push((p, b';'));
                after_insert = true;
            }
            i += 1;
            continue;
        }
        if t.kind != TokKind::Ident
            || !at_start
            || C_KEYWORDS.contains(&text(&t))
            || !toks.get(i + 1).is_some_and(|n| is_punct(n, b'('))
        {
            i += 1;
            continue;
        }
        let Some(k) = matching_paren(&toks, i + 1, buf) else {
            i += 1;
            continue;
        };
        let Some(next) = toks.get(k + 1) else { break };
        let in_init = braces.last() == Some(&true);
        let top = braces.is_empty();
        let follows_statement = if in_init {
            is_punct(next, b'{') || next.kind == TokKind::Lit
        } else if top {
            defines_function(text(&t)) && (next.kind == TokKind::Ident)
        } else {
            let next_after = toks.get(k + 2);
            // A macro of this file whose body is a statement (`{ ...; goto L; }`) is one
            // whatever follows; any other call only when what follows cannot continue a
            // declaration (`TYPE(x) y = 0;`).
            is_punct(next, b'{')
                || is_punct(next, b'}')
                || (is_statement_macro(text(&t)) && !is_punct(next, b';'))
                || (next.kind == TokKind::Ident
                    && (is_statement_macro(text(&t))
                        || !next_after.is_some_and(|a| {
                            [b';', b'=', b',', b'['].iter().any(|&c| is_punct(a, c))
                        })))
        };
        if follows_statement {
            // Whitespace before any comment in the gap, never inside one.
            let gap = toks[k].end as usize..next.start as usize;
            if let Some(p) = gap
                .clone()
                .take_while(|&p| buf[p] != b'/')
                .find(|&p| buf[p] == b' ' || buf[p] == b'\t')
            {
                inserts.push((p, if in_init { b',' } else { b';' }));
            }
        }
        i = k + 1;
    }
    inserts
        .into_iter()
        .map(|(p, c)| {
            buf[p] = c;
            Rewrite {
                span: Span::new(p, p + 1),
                kind: RewriteKind::Semicolon,
            }
        })
        .collect()
}
