//! One file per rule. Adding a rule: its file here, one line in `register_rules!` below, a
//! fixture folder `fixtures/CPYxxx/`.
//!
//! A rule declares `const CHECK: Check`: either `Check::Finding` (it turns ownership-engine
//! findings into messages), `Check::File` (it inspects the file's syntax model and lowered
//! functions itself) or `Check::Cython` (it inspects a `.pyx`/`.pxd` file's Cython model).

use crate::registry::{RuleEntry, RuleMeta};

mod borrowed_across_call;
mod borrowed_return;
mod borrowed_stored;
mod build_format;
mod clear_misuse;
mod cython_borrowed_as_owned;
mod cython_dealloc_uses_object;
mod cython_object_cast_leak;
mod cython_pointer_escape;
mod cython_steal_without_incref;
mod dealloc_missing_free;
mod dealloc_missing_release;
mod dealloc_uses_cleared;
mod error_without_exception;
mod gc_untrack_missing;
mod heap_type_dealloc;
mod ignored_error;
mod inconsistent_contract;
mod method_signature;
mod parse_format;
mod pointer_escape;
mod reference_leak;
mod release_of_borrowed;
mod traverse_incomplete;
mod unchecked_null;
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
    borrowed_across_call::BorrowedAcrossCall,
    borrowed_stored::BorrowedStored,
    inconsistent_contract::InconsistentContract,
    unchecked_null::UncheckedNull,
    error_without_exception::ErrorWithoutException,
    ignored_error::IgnoredError,
    dealloc_missing_release::DeallocMissingRelease,
    dealloc_missing_free::DeallocMissingFree,
    gc_untrack_missing::GcUntrackMissing,
    traverse_incomplete::TraverseIncomplete,
    clear_misuse::ClearMisuse,
    dealloc_uses_cleared::DeallocUsesCleared,
    heap_type_dealloc::HeapTypeDealloc,
    pointer_escape::PointerEscape,
    method_signature::MethodSignature,
    parse_format::ParseFormat,
    build_format::BuildFormat,
    cython_dealloc_uses_object::CythonDeallocUsesObject,
    cython_pointer_escape::CythonPointerEscape,
    cython_object_cast_leak::CythonObjectCastLeak,
    cython_steal_without_incref::CythonStealWithoutIncref,
    cython_borrowed_as_owned::CythonBorrowedAsOwned,
}
