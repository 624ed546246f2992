use crate::declare_rule;
use crate::registry::{Check, Message, object_name};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds references that are used, released again, or returned after a `Py_DECREF` that may
    /// have freed the object. Reading the object's type (`Py_TYPE(x)`) is a use; so is any
    /// use of a helper's parameter after the helper released it (it took over its caller's
    /// reference, which may have been the last), except `self` giving back a reference it
    /// kept to itself.
    ///
    /// ## Why is this bad?
    /// When the released reference was the last one, the object is deallocated by the
    /// `Py_DECREF` and its memory is reused. Using it afterwards reads freed memory; a second
    /// release corrupts the allocator. The crash comes later, far from the bug, and only with
    /// some data (small integers and interned strings are immortal and hide it).
    ///
    /// ## Example
    /// ```c
    /// PyObject *s = PyBytes_FromString("hello");
    /// if (s == NULL) return NULL;
    /// Py_DECREF(s);
    /// PyObject_Print(s, stdout, 0);   /* s may be freed */
    /// ```
    ///
    /// ## Use instead
    /// ```c
    /// PyObject_Print(s, stdout, 0);
    /// Py_DECREF(s);
    /// ```
    ///
    /// ## Known limitations
    /// A use after the release is not reported when the object was stored somewhere (a
    /// container, a struct field) that may keep it alive.
    ///
    /// ## References
    /// - [`Py_DECREF`](https://docs.python.org/3/c-api/refcounting.html#c.Py_DECREF)
    pub UseAfterRelease, "CPY102", "use-after-release"
}

impl UseAfterRelease {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::UseAfterRelease {
            released_at,
            release,
            returned,
        } = &f.kind
        else {
            return None;
        };
        let name = object_name(&f.object);
        let message = if *release {
            format!("`{name}` is released again after `Py_DECREF` may have freed it")
        } else if *returned {
            format!("`{name}` is returned after `Py_DECREF` may have freed it")
        } else {
            format!("`{name}` is used after `Py_DECREF` may have freed it")
        };
        Some(
            Message::new(message)
                .label(*released_at, "released here")
                .help(
                    "move the `Py_DECREF` after the last use, or hold a reference with `Py_INCREF`",
                ),
        )
    }
}
