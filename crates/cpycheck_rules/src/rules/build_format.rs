use crate::declare_rule;
use crate::format_calls::{ArgumentCheck, Family, check_arguments, format_calls, value_type};
use crate::registry::{Check, FileContext, FileFinding};
use cpycheck_engine::formats::build_units;

/// Values passed by value, read with `va_arg` as their unit says.
const ARGUMENTS: ArgumentCheck = ArgumentCheck {
    units: build_units,
    arg_type: value_type,
    count_help: "pass one value per format unit (two for `O&`, `s#`)",
    type_mismatch: |text, have, unit, callee, want| {
        (
            format!(
                "`{text}` is passed as `{have}` but format unit `{unit}` of `{callee}` reads `{want}`"
            ),
            format!("cast it to `{want}` or use the format unit for its type"),
        )
    },
};

declare_rule! {
    /// ## What it does
    /// Checks the format string of `Py_BuildValue` against the arguments passed: their
    /// number, and the type of each argument whose type is known (a variable declared in the
    /// function, a cast, a literal): `i` needs an `int`, `l` a `long`, `s` a `const char *`,
    /// `O`/`S`/`N` a `PyObject *`.
    ///
    /// ## Why is this bad?
    /// `Py_BuildValue` reads each argument with `va_arg` as the type its unit says. An `int`
    /// read as a `char *` or a `PyObject *` crashes; an `int` read as a `long` or
    /// `Py_ssize_t` gives garbage in the upper half; a missing argument reads whatever is in
    /// the next register.
    ///
    /// ## Example
    /// ```c
    /// int count;
    /// const char *name;
    /// return Py_BuildValue("si", count, name);
    /// ```
    ///
    /// ## Use instead
    /// ```c
    /// return Py_BuildValue("is", count, name);
    /// ```
    ///
    /// ## Known limitations
    /// Only string-literal formats without escapes are read. Arguments whose type is not
    /// known (struct members, calls of functions outside the file, project typedefs) are not
    /// checked. Signedness is not checked, only size and kind after C's default promotions.
    ///
    /// ## References
    /// - [`Py_BuildValue`](https://docs.python.org/3/c-api/arg.html#c.Py_BuildValue)
    pub BuildFormat, "CPY403", "build-format", preview = true
}

impl BuildFormat {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for c in format_calls(cx.model, cx.source) {
            if c.family != Family::Build {
                continue;
            }
            check_arguments(cx, &c, &ARGUMENTS, &mut out);
        }
        out
    }
}
