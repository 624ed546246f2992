//! Source prep: the first stage of the pipeline.
//!
//! Takes the raw bytes of a file and produces text that tree-sitter can parse well, with
//! **every byte offset unchanged**: whatever is removed is blanked to the same number of
//! spaces (newlines are kept), so spans computed on the prepared text point at the user's
//! original text.

mod span;

pub use span::{LineIndex, Span};
