use crate::declare_rule;
use crate::registry::{Check, Message};
use cpycheck_engine::{Finding, FindingKind, Inconsistency};

declare_rule! {
    /// ## What it does
    /// Finds helper functions whose paths disagree about their contract: a function that
    /// returns a new reference on some paths and a borrowed one on others, or that takes over
    /// (releases, stores or hands to a stealing call) the caller's reference to an argument
    /// on some paths but not on others, other than exactly the successful ones.
    ///
    /// ## Why is this bad?
    /// Callers can only follow one contract. Whichever they follow, the other paths leak a
    /// reference or release one too many; the bug shows up far from the helper, and only on
    /// the data that takes the odd path. cpycheck infers each helper's contract from its body
    /// and checks callers against it; where the paths disagree, the disagreement is the bug.
    ///
    /// ## Example
    /// ```c
    /// static PyObject *
    /// get_name(PyObject *obj)
    /// {
    ///     if (obj == Py_None)
    ///         return Py_None;                              /* borrowed */
    ///     return PyObject_GetAttrString(obj, "name");     /* new */
    /// }
    ///
    /// static int
    /// append_owned(PyObject *list, PyObject *item)
    /// {
    ///     if (PyList_Append(list, item) < 0)
    ///         return -1;                                   /* caller still owns `item` */
    ///     Py_DECREF(item);                                 /* ... but not here */
    ///     return 0;
    /// }
    /// ```
    /// The second helper is fine if its callers release `item` only when it fails: a
    /// reference taken over exactly on success is a contract cpycheck understands (like
    /// `PyModule_AddObject`). Releasing it on failure instead, or on some successful paths
    /// only, is not.
    ///
    /// ## Use instead
    /// ```c
    ///     if (obj == Py_None)
    ///         Py_RETURN_NONE;                              /* new, like the other path */
    /// ```
    /// and take over an argument's reference on every path, or on none.
    ///
    /// ## Known limitations
    /// Contracts are inferred within one file. A helper whose contract is deliberate but
    /// unusual can declare it with a `/* cpycheck: ... */` comment (see the README), and its
    /// body is then checked against the declaration instead.
    pub InconsistentContract, "CPY108", "inconsistent-contract", preview = true
}

impl InconsistentContract {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::InconsistentContract { detail } = &f.kind else {
            return None;
        };
        let function = &f.object.what;
        Some(match detail {
            Inconsistency::Returns { .. } => Message::new(format!(
                "`{function}` returns a borrowed reference here but a new reference on other paths"
            ))
            .help("return a new reference on every path (`Py_NewRef`, `Py_RETURN_NONE`)"),
            Inconsistency::Steals { param, .. } => Message::new(format!(
                "`{function}` keeps the caller's reference to `{param}` on this path but takes it over on others"
            ))
            .help(format!(
                "release or hand on `{param}` on every path, or on none (or exactly when `{function}` succeeds)"
            )),
        })
    }
}
