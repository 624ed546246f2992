use crate::declare_rule;
use crate::registry::{Check, Message};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds calls to C-API functions whose failure loses data — they return `-1` (or `0`)
    /// with an exception set when an item is not added, an attribute not set, a type not
    /// readied or arguments not parsed (`PyList_Append`, `PyDict_SetItem`,
    /// `PyModule_AddIntConstant`, `PyType_Ready`, `PyArg_ParseTuple`, ...) — whose result
    /// is thrown away.
    ///
    /// ## Why is this bad?
    /// When the call fails, the function carries on as if it had worked, with an exception
    /// still set. The missing item or attribute goes unnoticed, and the pending exception
    /// surfaces later in unrelated code, or as `SystemError: ... returned a result with an
    /// exception set`.
    ///
    /// ## Example
    /// ```c
    /// PyList_Append(result, item);
    /// Py_DECREF(item);
    /// ```
    ///
    /// ## Use instead
    /// ```c
    /// if (PyList_Append(result, item) < 0) {
    ///     Py_DECREF(item);
    ///     goto error;
    /// }
    /// Py_DECREF(item);
    /// ```
    /// A result ignored on purpose is written `(void)f(...);` and is not reported.
    ///
    /// ## Known limitations
    /// Only the APIs in cpycheck's must-check list are reported, not every function with an
    /// error result: some results are ignored by design in careful code
    /// (`PyException_SetTraceback` while raising, best-effort `PyErr_WarnEx`). Results
    /// stored in a variable that is then never tested are not reported either. A failure
    /// handled another way is not reported: a `PyErr_Occurred()` test further on (on any
    /// path), a test of an output argument that starts out NULL and that a failed call
    /// leaves NULL (not for formats with optional units), and `PyBytes_AsStringAndSize`
    /// given a length pointer and an object known to be bytes (tested with
    /// `PyBytes_Check`, parsed with the `S` unit, or the result of an API that returns
    /// bytes).
    pub IgnoredError, "CPY203", "ignored-error"
}

impl IgnoredError {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::IgnoredError { callee } = &f.kind else {
            return None;
        };
        Some(
            Message::new(format!("the error result of `{callee}` is ignored"))
                .help("test the result and handle the failure, or write `(void)` before the call if ignoring it is deliberate"),
        )
    }
}
