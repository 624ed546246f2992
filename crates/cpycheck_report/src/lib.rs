//! Report renderers: the only place diagnostics are serialised.
