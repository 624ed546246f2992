use crate::declare_rule;
use crate::registry::{Check, Message, object_name};
use cpycheck_engine::{Finding, FindingKind};

declare_rule! {
    /// ## What it does
    /// Finds results of C-API calls that return NULL when they fail (`PyTuple_New`,
    /// `PyObject_GetAttrString`, `PyList_GetItem`, ...) used before they are checked:
    /// dereferenced (`x->ob_type`, `Py_TYPE(x)`), passed to `Py_INCREF` / `Py_DECREF`, or
    /// passed to a macro that reads through its argument (`PyTuple_SET_ITEM`,
    /// `PyList_GET_SIZE`, `PyLong_Check`, ...). Also finds `Py_DECREF` of a variable the path
    /// tested and found NULL (`if (x == NULL) goto error;` with `error:` releasing `x`).
    ///
    /// ## Why is this bad?
    /// When the call fails — out of memory, a missing attribute, an index out of range — the
    /// function dereferences NULL and the interpreter crashes instead of raising the
    /// exception the failed call already set.
    ///
    /// ## Example
    /// ```c
    /// PyObject *pair = PyTuple_New(2);
    /// PyTuple_SET_ITEM(pair, 0, first);    /* crashes when PyTuple_New failed */
    /// ```
    ///
    /// ```c
    /// name = PyObject_Str(obj);
    /// if (name == NULL)
    ///     goto error;
    /// ...
    /// error:
    ///     Py_DECREF(name);                 /* name is NULL on this path: crashes */
    /// ```
    ///
    /// ## Use instead
    /// ```c
    /// PyObject *pair = PyTuple_New(2);
    /// if (pair == NULL)
    ///     return NULL;
    /// PyTuple_SET_ITEM(pair, 0, first);
    /// ```
    /// and `Py_XDECREF(name)` where `name` may still be NULL.
    ///
    /// ## Known limitations
    /// A `Py_DECREF` of a variable that still holds its initial `NULL` is not reported (the
    /// analysis does not know whether a loop ran, or which element `a[i]` is), nor one of an
    /// element or a member.
    /// Results passed to other functions are not reported: many C-API functions accept
    /// NULL for some arguments or give it a meaning. Results of your own functions are not
    /// tracked for NULL. Constructors that return a cached object cannot fail and are not
    /// reported: small ints (-5..256) whose value is a literal, a `#define` or an enum
    /// constant of the file, the empty and one-character strings. An integer built from a
    /// named constant the file does not define (an enum or macro of a header that is not
    /// read) is not reported either, since it may be such a small int; an unchecked
    /// `PyLong_FromLong(LARGE_FLAG)` from a header goes unnoticed. Indexed reads
    /// (`PyTuple_GetItem`, `PyList_GetItem`, `PyList_GetItemRef`) fail only for an index
    /// out of range; the analysis does not follow the size tests and loop bounds that rule
    /// that out, so their results are not reported, and a real out-of-range read is missed.
    pub UncheckedNull, "CPY201", "unchecked-null"
}

impl UncheckedNull {
    pub(crate) const CHECK: Check = Check::Finding(Self::check);

    fn check(f: &Finding) -> Option<Message> {
        let FindingKind::UncheckedNull { what, known_null } = &f.kind else {
            return None;
        };
        let name = object_name(&f.object);
        if *known_null {
            return Some(
                Message::new(format!("`{name}` is NULL on this path, and is {what}")).help(
                    format!("use `Py_XDECREF({name})`, or release `{name}` only where it was set"),
                ),
            );
        }
        let api = &f.object.what;
        Some(
            Message::new(format!(
                "`{name}` may be NULL when `{api}` fails, and is {what} without a check"
            ))
            .help(format!("test `{name}` for NULL and return the error first")),
        )
    }
}
