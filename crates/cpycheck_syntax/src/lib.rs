//! Syntax model: the only crate that knows tree-sitter.

pub mod model;

pub use model::*;
