//! The ownership engine.
