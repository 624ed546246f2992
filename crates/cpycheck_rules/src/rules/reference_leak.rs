use crate::declare_rule;
use crate::registry::{Check, Message, object_name};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds owned references that are neither released, returned, stolen nor stored on some
    /// path through a function: typically an early error return, a variable overwritten while it
    /// holds the only reference, or a new reference passed inline to a function that does not
    /// steal it.
    ///
    /// ## Why is this bad?
    /// Each leaked reference keeps its object alive for ever. A leak on a path that runs per
    /// call grows memory without bound, and objects holding files, sockets or locks are never
    /// finalised.
    ///
    /// ## Example
    /// ```c
    /// static PyObject *
    /// subtract(PyObject *self, PyObject *args)
    /// {
    ///     long a, b;
    ///     if (!PyArg_ParseTuple(args, "ll", &a, &b))
    ///         return NULL;
    ///     /* both PyLong objects are leaked: PyNumber_Subtract does not steal */
    ///     return PyNumber_Subtract(PyLong_FromLong(a), PyLong_FromLong(b));
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     PyObject *pa = PyLong_FromLong(a), *pb = NULL, *r = NULL;
    ///     if (pa == NULL) return NULL;
    ///     if ((pb = PyLong_FromLong(b)) != NULL)
    ///         r = PyNumber_Subtract(pa, pb);
    ///     Py_DECREF(pa);
    ///     Py_XDECREF(pb);
    ///     return r;
    /// ```
    ///
    /// ## Known limitations
    /// References passed to functions whose contract is unknown (not in the C-API table and not
    /// defined in the analysed files) are assumed to be taken over, so leaks through them are
    /// not reported. A `Py_INCREF(self)` that a method keeps past its end is taken as the
    /// object keeping itself alive until a callback releases it (`self` is the first
    /// parameter's name, `__pyx_v_self` in Cython's output), not as a leak.
    ///
    /// ## References
    /// - [Reference counts](https://docs.python.org/3/extending/extending.html#reference-counts)
    pub ReferenceLeak, "CPY101", "reference-leak"
}

impl ReferenceLeak {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::Leak { when_fails } = &f.kind else {
            return None;
        };
        let what = if f.object.origin.is_new() {
            match &f.object.name {
                Some(n) => format!("new reference `{n}` from `{}`", f.object.what),
                None => format!("new reference from `{}`", f.object.what),
            }
        } else {
            format!(
                "reference to `{}` taken with `Py_INCREF`",
                object_name(&f.object)
            )
        };
        let message = match when_fails {
            Some(thief) => format!("{what} is leaked when `{thief}` fails"),
            None => format!("{what} is leaked"),
        };
        let help = if f.object.name.is_none() && f.object.origin.is_new() {
            "keep the new reference in a variable and `Py_DECREF` it once the call is done"
        } else if when_fails.is_some() {
            "on failure the reference is not stolen: `Py_DECREF` it on the error path"
        } else {
            "release it with `Py_DECREF` (or hand it over) on every path"
        };
        Some(Message::new(message).help(help))
    }
}
