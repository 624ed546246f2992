//! Source prep: the first stage of the pipeline.
//!
//! Takes the raw bytes of a file and produces text that tree-sitter can parse well, with
//! **every byte offset unchanged**: whatever is removed is blanked to the same number of
//! spaces (newlines are kept), so spans computed on the prepared text point at the user's
//! original text.
//!
//! What [`prepare`] does, in order:
//! 1. Invalid UTF-8 bytes become `?`, one byte each; NUL bytes reject the file as binary.
//! 2. Every preprocessor directive (with its continuation lines) is blanked; `#define`s are
//!    recorded. `#if`/`#ifdef`/`#elif`/`#else` are evaluated with C preprocessor semantics
//!    against the target Python version, and inactive arms are blanked, so arms that each
//!    open a brace leave one brace.
//!    An `#include` of one of the package's headers (found by the caller's [`Includes`])
//!    replays that header's directives in place, so its macros join the file's.
//! 3. CPython and file-local macros that break a C parser are rewritten in place:
//!    thread-state macros and attribute-like macros are blanked, `Py_UNUSED(x)` becomes `x`,
//!    `PyVarObject_HEAD_INIT(...)` becomes one initialiser element followed by its comma,
//!    `PyObject_HEAD` becomes a `PyObject` member declaration.

mod cond;
mod include;
mod lex;
mod prep;
mod span;
mod spelling;

pub use cond::parse_int as parse_c_int_literal;
pub use include::{
    Header, HeaderError, Includes, MAX_HEADERS_PER_FILE, MAX_INCLUDE_DEPTH, NoIncludes,
    include_name,
};
pub use prep::{
    Define, PrepError, PrepOptions, Prepared, Rewrite, RewriteKind, Undef, prepare, prepare_with,
};
pub use span::{LineIndex, Span};

/// The file's bytes with every carriage return that is not followed by a line feed (the
/// line end of classic Mac OS files, and of some generators) replaced by a line feed, one
/// byte for one: every offset is unchanged, and every later stage (the preprocessor's
/// directives, the parser, line and column numbers) sees the lines the file has. Borrowed
/// when there is nothing to replace.
pub fn lone_cr_as_lf(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let lone = |i: usize| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n');
    if !(0..bytes.len()).any(lone) {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = bytes.to_vec();
    for (i, b) in out.iter_mut().enumerate() {
        if lone(i) {
            *b = b'\n';
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod line_end_tests {
    use super::lone_cr_as_lf;

    #[test]
    fn lone_carriage_returns_become_line_feeds() {
        assert_eq!(&*lone_cr_as_lf(b"a\rb\r\nc\n\r"), b"a\nb\r\nc\n\n");
        assert!(matches!(
            lone_cr_as_lf(b"a\r\nb\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
