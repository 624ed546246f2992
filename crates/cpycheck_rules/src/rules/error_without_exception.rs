use crate::declare_rule;
use crate::registry::{Check, Message};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds functions that must set an exception when they fail — methods, type slots and
    /// getters registered with Python, and functions declaring a `returns-new` or
    /// `returns-status` contract — that return their error value (`NULL`, `-1`) on a path
    /// where no exception is set: after a call that fails without raising (`PyDict_GetItem`,
    /// `PyIter_Next` at the end, one of your own helpers that returns -1 quietly), after
    /// `PyErr_Clear()`, or with no failing call at all.
    ///
    /// ## Why is this bad?
    /// The interpreter expects an exception to explain the failure. Without one it raises
    /// `SystemError: error return without exception set` — the caller sees an internal
    /// error instead of the real problem — and debug builds abort.
    ///
    /// ## Example
    /// ```c
    /// PyObject *value = PyDict_GetItem(self->table, key);
    /// if (value == NULL)
    ///     return NULL;                /* no exception: PyDict_GetItem does not raise */
    /// ```
    ///
    /// ## Use instead
    /// ```c
    /// PyObject *value = PyDict_GetItemWithError(self->table, key);
    /// if (value == NULL) {
    ///     if (!PyErr_Occurred())
    ///         PyErr_SetObject(PyExc_KeyError, key);
    ///     return NULL;
    /// }
    /// ```
    ///
    /// ## Known limitations
    /// After a call to a function cpycheck knows nothing about, the exception state is
    /// unknown and nothing is reported until it is known again.
    pub ErrorWithoutException, "CPY202", "null-without-exception", preview = true
}

impl ErrorWithoutException {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::ErrorWithoutException { null } = &f.kind else {
            return None;
        };
        let function = &f.object.what;
        let value = if *null { "NULL" } else { "-1" };
        Some(
            Message::new(format!(
                "`{function}` returns {value} without an exception set"
            ))
            .help("set an exception (`PyErr_SetString`, `PyErr_NoMemory`, ...) before returning the error value"),
        )
    }
}
