//! One file per rule. Adding a rule: its file here, one line in `register_rules!` below, a
//! fixture folder `fixtures/CPYxxx/`.
//!
//! A rule declares `const CHECK: Check`: either `Check::Finding` (it turns ownership-engine
//! findings into messages) or `Check::File` (it inspects the file's syntax model and lowered
//! functions itself).

use crate::registry::{RuleEntry, RuleMeta};

mod borrowed_return;
mod build_format;
mod clear_misuse;
mod dealloc_missing_free;
mod dealloc_missing_release;
mod dealloc_uses_cleared;
mod gc_untrack_missing;
mod heap_type_dealloc;
mod method_signature;
mod parse_format;
mod reference_leak;
mod release_of_borrowed;
mod traverse_incomplete;
mod use_after_release;
mod use_after_steal;

macro_rules! register_rules {
    ($($rule:path),* $(,)?) => {
        /// Every rule, in code order.
        pub static ALL: &[RuleMeta] = &[$(<$rule>::META),*];
        /// Every rule with the function that turns engine findings into its diagnostics.
        pub(crate) static ENTRIES: &[RuleEntry] = &[$(RuleEntry { meta: <$rule>::META, check: <$rule>::CHECK }),*];
    };
}

register_rules! {
    reference_leak::ReferenceLeak,
    use_after_release::UseAfterRelease,
    release_of_borrowed::ReleaseOfBorrowed,
    borrowed_return::BorrowedReturn,
    use_after_steal::UseAfterSteal,
    dealloc_missing_release::DeallocMissingRelease,
    dealloc_missing_free::DeallocMissingFree,
    gc_untrack_missing::GcUntrackMissing,
    traverse_incomplete::TraverseIncomplete,
    clear_misuse::ClearMisuse,
    dealloc_uses_cleared::DeallocUsesCleared,
    heap_type_dealloc::HeapTypeDealloc,
    method_signature::MethodSignature,
    parse_format::ParseFormat,
    build_format::BuildFormat,
}
