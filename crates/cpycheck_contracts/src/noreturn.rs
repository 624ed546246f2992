//! Functions that never return to their caller: the process ends (`abort`, `exit`,
//! `Py_FatalError`) or control goes elsewhere. A path that calls one ends there, for every
//! rule: nothing after it happens, and nothing it still owns is leaked.
//!
//! The user's own functions that never return are found from their bodies (their summary
//! says so); this list holds the C library's and CPython's.

/// Sorted.
const NORETURN: &[&str] = &[
    "Py_Exit",
    "Py_FatalError",
    "Py_UNREACHABLE",
    "_Exit",
    "_Py_FatalErrorFormat",
    "_Py_FatalErrorFunc",
    "__assert_fail",
    "__builtin_trap",
    "__builtin_unreachable",
    "_exit",
    "abort",
    "exit",
    "longjmp",
    "quick_exit",
    "siglongjmp",
];

/// Whether a call of `name` never returns.
pub fn is_noreturn(name: &str) -> bool {
    NORETURN.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted() {
        assert!(NORETURN.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn lookup() {
        assert!(is_noreturn("abort"));
        assert!(is_noreturn("Py_FatalError"));
        assert!(!is_noreturn("PyErr_SetString"));
    }
}
