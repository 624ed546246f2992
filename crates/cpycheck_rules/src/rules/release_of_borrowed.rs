use crate::declare_rule;
use crate::registry::{Check, Message, object_name};
use cpycheck_engine::{Finding, FindingKind, OriginKind};

declare_rule! {
    /// ## What it does
    /// Finds `Py_DECREF` (or a call that steals a reference) applied to a reference the function
    /// does not own: a borrowed result such as `PyList_GetItem`'s or `PyDict_GetItem`'s, an
    /// argument, `self`, or a singleton such as `Py_None`.
    ///
    /// ## Why is this bad?
    /// The caller (or the container) still counts on its reference. Releasing it drops the
    /// count one too low: the object is freed while still in use and the interpreter crashes
    /// later, in unrelated code.
    ///
    /// ## Example
    /// ```c
    /// static PyObject *
    /// consume(PyObject *self, PyObject *arg)
    /// {
    ///     /* ... use arg ... */
    ///     Py_DECREF(arg);        /* arg is borrowed from the caller */
    ///     Py_RETURN_NONE;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// Remove the `Py_DECREF`, or take a reference first with `Py_INCREF` when the function
    /// needs one of its own (to store it, or to hand it to a call that steals it).
    ///
    /// ## References
    /// - [Ownership rules](https://docs.python.org/3/extending/extending.html#ownership-rules)
    pub ReleaseOfBorrowed, "CPY103", "release-of-borrowed", preview = true
}

impl ReleaseOfBorrowed {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::ReleaseOfBorrowed { stolen_by } = &f.kind else {
            return None;
        };
        let name = object_name(&f.object);
        let whose = match f.object.origin {
            OriginKind::Param => format!("borrowed argument `{name}`"),
            OriginKind::Singleton => format!("borrowed reference to `{name}`"),
            _ => format!("borrowed reference `{name}` from `{}`", f.object.what),
        };
        let message = match stolen_by {
            Some(thief) => format!("{whose} is stolen by `{thief}` without a new reference"),
            None => format!("{whose} is released without being owned"),
        };
        let help = match stolen_by {
            Some(_) => "take a reference first: pass `Py_NewRef(...)`",
            None => "remove the release, or take a reference first with `Py_INCREF`",
        };
        Some(
            Message::new(message)
                .label(f.object.origin_span, "borrowed here")
                .help(help),
        )
    }
}
