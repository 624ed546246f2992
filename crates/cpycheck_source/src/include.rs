//! The package's own headers: what an `#include` brings into the file's macro table.
//!
//! Source prep never reads a file itself. The caller hands it an [`Includes`] resolver that
//! turns an `#include` into a [`Header`] (read once per run and shared); prep then replays
//! the header's preprocessor directives at the point of the `#include`, so the header's
//! `#define`s, `#undef`s and nested `#include`s take effect in order, under the header's own
//! `#if`s evaluated against the macros defined so far. The header's code (declarations,
//! inline functions) is not read: only its macros reach the file.

use std::path::Path;
use std::sync::Arc;

use crate::prep::{code_line_end, directive_extent, split_word};

/// How deep `#include`s are followed from the file (the file's own includes are depth 1).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// How many distinct headers one file may bring in.
pub const MAX_HEADERS_PER_FILE: usize = 512;

/// The preprocessor directives of one header, ready to be replayed.
#[derive(Debug)]
pub struct Header {
    /// Where the header was found; nested quoted includes are resolved from its folder.
    pub path: Arc<Path>,
    /// The text after `#` of each conditional, `#define`, `#undef` and `#include`
    /// directive, comments removed and continuation lines joined, in order.
    pub(crate) directives: Vec<String>,
}

/// Why a header's bytes were not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// A NUL byte: not a text file.
    Binary,
    /// Not valid UTF-8.
    NotUtf8,
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Binary => write!(f, "not a text file (NUL byte)"),
            HeaderError::NotUtf8 => write!(f, "not valid UTF-8"),
        }
    }
}

impl Header {
    /// Reads the directives out of a header's bytes. Binary and non-UTF-8 headers are
    /// refused: their macros are not worth a guess.
    pub fn parse(path: Arc<Path>, bytes: &[u8]) -> Result<Header, HeaderError> {
        if bytes.contains(&0) {
            return Err(HeaderError::Binary);
        }
        if std::str::from_utf8(bytes).is_err() {
            return Err(HeaderError::NotUtf8);
        }
        let n = bytes.len();
        let mut directives = Vec::new();
        let mut in_comment = false;
        let mut pos = 0;
        while pos < n {
            let mut j = pos;
            while j < n && matches!(bytes[j], b' ' | b'\t' | b'\x0c' | b'\r') {
                j += 1;
            }
            if !in_comment && j < n && bytes[j] == b'#' {
                let (end, text) = directive_extent(bytes, j);
                if is_replayed(&text) {
                    directives.push(text);
                }
                pos = end + 1;
                continue;
            }
            pos = code_line_end(bytes, pos, &mut in_comment) + 1;
        }
        Ok(Header { path, directives })
    }

    /// The number of directives kept (for tests and debug output).
    pub fn directive_count(&self) -> usize {
        self.directives.len()
    }
}

fn is_replayed(text: &str) -> bool {
    matches!(
        split_word(text).0,
        "if" | "ifdef"
            | "ifndef"
            | "elif"
            | "elifdef"
            | "elifndef"
            | "else"
            | "endif"
            | "define"
            | "undef"
            | "include"
    )
}

/// What an `#include` directive names: `"x.h"` (quoted) or `<x.h>` (angled). A computed
/// include (`#include HEADER`) names nothing.
pub fn include_name(rest: &str) -> Option<(&str, bool)> {
    let rest = rest.trim();
    let (close, angled) = match rest.as_bytes().first()? {
        b'"' => ('"', false),
        b'<' => ('>', true),
        _ => return None,
    };
    let inner = &rest[1..];
    let end = inner.find(close)?;
    let name = inner[..end].trim();
    (!name.is_empty()).then_some((name, angled))
}

/// Finds the headers that `#include`s name. Implemented by the caller that may read files
/// (the CLI); analysis crates only ask.
pub trait Includes {
    /// The header that `#include "name"` (or `<name>` when `angled`) refers to, written in
    /// the header `from` (`None`: in the file being prepared). `None` when it is not one of
    /// the package's headers or cannot be used.
    fn resolve(&self, from: Option<&Header>, name: &str, angled: bool) -> Option<Arc<Header>>;
}

/// No headers: each file is read alone.
pub struct NoIncludes;

impl Includes for NoIncludes {
    fn resolve(&self, _: Option<&Header>, _: &str, _: bool) -> Option<Arc<Header>> {
        None
    }
}
