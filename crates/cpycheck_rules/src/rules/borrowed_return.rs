use crate::declare_rule;
use crate::registry::{Check, Message, object_name};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds functions that must return a new reference (methods, type slots, getters, module
    /// init) but return a borrowed one: `return self;`, `return Py_None;`,
    /// `return PyTuple_GET_ITEM(t, 0);`, or a reference that a call already stole.
    ///
    /// ## Why is this bad?
    /// The interpreter releases the returned reference when it is done with the result. If the
    /// function did not add one, the object loses a reference it never had: it is freed while
    /// its owner still uses it, and the interpreter crashes a few calls later.
    ///
    /// ## Example
    /// ```c
    /// static PyObject *
    /// Table_set(TableObject *self, PyObject *args)
    /// {
    ///     /* ... */
    ///     return (PyObject *)self;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     return Py_NewRef(self);        /* or Py_INCREF(self); return self; */
    /// ```
    /// and `Py_RETURN_NONE;` instead of `return Py_None;`.
    ///
    /// ## References
    /// - [`Py_NewRef`](https://docs.python.org/3/c-api/refcounting.html#c.Py_NewRef)
    pub BorrowedReturn, "CPY104", "borrowed-return", preview = true
}

impl BorrowedReturn {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::BorrowedReturn { stolen_by } = &f.kind else {
            return None;
        };
        let name = object_name(&f.object);
        let message = match stolen_by {
            Some(thief) => {
                format!("reference `{name}` stolen by `{thief}` is returned as a new reference")
            }
            None => format!("borrowed reference `{name}` is returned as a new reference"),
        };
        let help = if name.starts_with("Py_") {
            "use `Py_RETURN_NONE` / `Py_RETURN_TRUE` / ... or `return Py_NewRef(...)`".to_string()
        } else {
            format!("return `Py_NewRef({name})`")
        };
        Some(Message::new(message).help(help))
    }
}
