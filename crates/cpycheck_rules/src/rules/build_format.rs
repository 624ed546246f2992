use crate::declare_rule;
use crate::format_calls::{
    Family, ctype, declarations, describe, fits, format_calls, string_literal, value_type,
};
use crate::registry::{Check, FileContext, FileFinding, Message};
use cpycheck_engine::formats::{FormatArg, build_units};

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
            let Some(fmt_expr) = c.args.get(c.format_index) else {
                continue;
            };
            let Some(format) = string_literal(cx.source, fmt_expr) else {
                continue;
            };
            let Some(units) = build_units(&format) else {
                continue;
            };
            let expected: Vec<(String, FormatArg)> = units
                .iter()
                .flat_map(|u| u.args.iter().map(|a| (u.text.clone(), *a)))
                .collect();
            let passed = c.args.get(c.varargs_start..).unwrap_or(&[]);
            let fname = &c.function.name;
            if passed.len() != expected.len() {
                let message = Message::new(format!(
                    "format `\"{format}\"` of `{}` needs {} argument{} but {} {} passed",
                    c.callee,
                    expected.len(),
                    if expected.len() == 1 { "" } else { "s" },
                    passed.len(),
                    if passed.len() == 1 { "is" } else { "are" }
                ))
                .label(fmt_expr.span, "format")
                .help("pass one value per format unit (two for `O&`, `s#`)");
                out.push(FileFinding::new(c.call.span, message).in_function(fname));
                continue;
            }
            let decls = declarations(c.function);
            for (arg, (unit, expect)) in passed.iter().zip(&expected) {
                let Some(t) = value_type(c.function, &decls, arg) else {
                    continue;
                };
                if fits(&t, *expect, cx.model) != Some(false) {
                    continue;
                }
                let Some(want) = describe(*expect) else {
                    continue;
                };
                let text = cx
                    .source
                    .get(arg.span.start as usize..arg.span.end as usize)
                    .unwrap_or("");
                let message = Message::new(format!(
                    "`{text}` is passed as `{}` but format unit `{unit}` of `{}` reads `{want}`",
                    ctype(&t),
                    c.callee
                ))
                .label(fmt_expr.span, "format")
                .help(format!(
                    "cast it to `{want}` or use the format unit for its type"
                ));
                out.push(FileFinding::new(arg.span, message).in_function(fname));
            }
        }
        out
    }
}
