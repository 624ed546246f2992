use crate::declare_rule;
use crate::registry::{Check, Message, object_name};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds borrowed references — arguments, `self`, `Py_None`, items borrowed from a
    /// container — stored into a Python object's field or a static variable without a
    /// `Py_INCREF` for the stored copy.
    ///
    /// ## Why is this bad?
    /// The field outlives the borrow. When the caller drops its reference the object may be
    /// freed while the field still points at it; the next access reads freed memory, and the
    /// release in `tp_dealloc` or `tp_clear` takes a reference that was never given, freeing
    /// the object a second time.
    ///
    /// ## Example
    /// ```c
    /// static int
    /// Node_init(NodeObject *self, PyObject *args, PyObject *kwds)
    /// {
    ///     PyObject *value;
    ///     if (!PyArg_ParseTuple(args, "O", &value))
    ///         return -1;
    ///     self->value = value;          /* borrowed */
    ///     return 0;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     Py_XSETREF(self->value, Py_NewRef(value));
    /// ```
    ///
    /// ## Known limitations
    /// Stores into C structures that are not Python objects (iteration state, a C library's
    /// user data) are not checked: whether they outlive the borrow depends on the library.
    pub BorrowedStored, "CPY107", "borrowed-stored", preview = true
}

impl BorrowedStored {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::BorrowedStored { place } = &f.kind else {
            return None;
        };
        let name = object_name(&f.object);
        Some(
            Message::new(format!(
                "borrowed reference `{name}` is stored into `{place}` without a reference of its own"
            ))
            .help(format!("store a new reference: `Py_NewRef({name})`")),
        )
    }
}
