//! The Cython front end: reads `.pyx`/`.pxd` files into a small model — `cdef class`
//! declarations with their attributes and decorators, method and function bodies, `cdef
//! extern` prototypes — and answers the questions the Cython rules ask (casts to `void *`,
//! uses of `self.attr`).
//!
//! Hand-written and indentation-aware (see ARCHITECTURE.md for why). Does no IO, never
//! prints, never panics: constructs it does not understand are skipped and counted in
//! [`CythonFile::skipped`].

mod lex;
mod model;
mod parse;
pub mod query;

pub use lex::{TokKind, Token};
pub use model::*;
pub use parse::parse;

/// Whether a path is a Cython source (`.pyx`, `.pxd`, `.pxi`).
pub fn is_cython_path(path: &str) -> bool {
    [".pyx", ".pxd", ".pxi"]
        .iter()
        .any(|ext| path.ends_with(ext))
}
