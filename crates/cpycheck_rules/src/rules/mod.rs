//! One file per rule. Adding a rule: its file here, one line in [`ALL`], a fixture folder.

use crate::registry::RuleMeta;

/// Every rule, in code order.
pub static ALL: &[RuleMeta] = &[];
