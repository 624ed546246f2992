use crate::declare_rule;
use crate::format_calls::{
    ArgumentCheck, Family, FormatCall, check_arguments, ctype, declarations, fits, format_calls,
    pointee_type,
};
use crate::registry::{Check, FileContext, FileFinding, Message};
use cpycheck_engine::formats::{FormatArg, parse_units};

/// Out-pointers, written through as their unit says.
const POINTERS: ArgumentCheck = ArgumentCheck {
    units: parse_units,
    arg_type: pointee_type,
    count_help: "pass one pointer per format unit (two for `O!`, `O&`, `s#`, `es`)",
    type_mismatch: |text, have, unit, callee, want| {
        (
            format!(
                "`{text}` points to `{have}` but format unit `{unit}` of `{callee}` stores `{want}`"
            ),
            format!("declare the variable as `{want}`, or use the format unit for its type"),
        )
    },
};
use cpycheck_syntax::ExprKind;

declare_rule! {
    /// ## What it does
    /// Checks the format string of `PyArg_ParseTuple`, `PyArg_ParseTupleAndKeywords`,
    /// `PyArg_Parse` and the count of `PyArg_UnpackTuple` against the arguments passed: their
    /// number, and the declared type of each variable whose address is passed (`i` needs an
    /// `int *`, `O` a `PyObject **`, `s` a `const char **`, ...). For
    /// `PyArg_ParseTupleAndKeywords`, the keyword list declared in the function must name as
    /// many parameters as the format has units.
    ///
    /// ## Why is this bad?
    /// The parser writes through each pointer the size its format unit says. A `long` written
    /// into an `int`, or a `char *` read back as a `PyObject *`, corrupts the stack or
    /// crashes; a missing argument makes it write through garbage. With a keyword list
    /// shorter than the format, the units past its end can never be given (the call raises
    /// `TypeError`, or `SystemError` when they are required); a longer one raises
    /// `SystemError` when the parser reaches the extra names.
    ///
    /// ## Example
    /// ```c
    /// PyObject *name;
    /// if (!PyArg_ParseTuple(args, "s", &name))   /* s stores a char *, not an object */
    ///     return NULL;
    /// ```
    ///
    /// ## Use instead
    /// ```c
    /// PyObject *name;
    /// if (!PyArg_ParseTuple(args, "O", &name))
    ///     return NULL;
    /// ```
    ///
    /// ## Known limitations
    /// Only string-literal formats without escapes are read. Types are checked for variables
    /// declared in the same function; typedefs the tool does not know and struct members are
    /// not checked. Signedness is not checked, only size and kind.
    ///
    /// ## References
    /// - [Parsing arguments](https://docs.python.org/3/c-api/arg.html)
    pub ParseFormat, "CPY402", "parse-format"
}

impl ParseFormat {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for c in format_calls(cx.model, cx.source) {
            match c.family {
                Family::Parse => check_parse(cx, &c, &mut out),
                Family::Unpack => check_unpack(cx, &c, &mut out),
                Family::Build => {}
            }
        }
        out
    }
}

fn check_parse(cx: &FileContext<'_>, c: &FormatCall<'_>, out: &mut Vec<FileFinding>) {
    let Some((format, units)) = check_arguments(cx, c, &POINTERS, out) else {
        return;
    };
    // The keyword list of PyArg_ParseTupleAndKeywords: the argument after the format.
    if c.format_index == 2 && c.varargs_start == 4 && !format.contains('(') {
        keywords_length(c, &format, units, out);
    }
}

/// `static char *kwlist[] = {"a", "b", NULL};` declared in the function must have one name
/// per format unit.
fn keywords_length(c: &FormatCall<'_>, format: &str, units: usize, out: &mut Vec<FileFinding>) {
    let Some(kw) = c.args.get(3) else { return };
    let Some(name) = kw.as_ident() else { return };
    let decls = declarations(c.function);
    let Some(Some(decl)) = decls.get(name) else {
        return;
    };
    let Some(init) = &decl.init else { return };
    let ExprKind::InitList(items) = &init.kind else {
        return;
    };
    let mut names = 0;
    for item in items {
        match item.strip_casts().kind {
            ExprKind::Str => names += 1,
            ExprKind::Null | ExprKind::Int(0) => break,
            _ => return,
        }
    }
    // Nothing more to say when the list is not terminated by NULL in the initialiser.
    if !items
        .iter()
        .any(|i| matches!(i.strip_casts().kind, ExprKind::Null | ExprKind::Int(0)))
    {
        return;
    }
    if names != units {
        let message = Message::new(format!(
            "keyword list `{name}` names {names} parameter{} but format `\"{format}\"` has {units} unit{}",
            if names == 1 { "" } else { "s" },
            if units == 1 { "" } else { "s" }
        ))
        .label(decl.span, "declared here")
        .help("give every format unit a keyword (an empty string for positional-only ones)");
        out.push(FileFinding::new(c.call.span, message).in_function(&c.function.name));
    }
}

fn check_unpack(cx: &FileContext<'_>, c: &FormatCall<'_>, out: &mut Vec<FileFinding>) {
    // PyArg_UnpackTuple(args, name, min, max, ...): `max` pointers are written.
    let Some(ExprKind::Int(max)) = c.args.get(3).map(|e| &e.strip_casts().kind) else {
        return;
    };
    let passed = c.args.get(c.varargs_start..).unwrap_or(&[]);
    if (passed.len() as i64) < *max {
        let message = Message::new(format!(
            "`{}` may store {max} objects but {} pointer{} passed",
            c.callee,
            passed.len(),
            if passed.len() == 1 { " is" } else { "s are" }
        ))
        .help("pass one `PyObject **` per possible argument");
        out.push(FileFinding::new(c.call.span, message).in_function(&c.function.name));
        return;
    }
    let decls = declarations(c.function);
    for arg in passed {
        let Some(t) = pointee_type(c.function, &decls, arg) else {
            continue;
        };
        if fits(&t, FormatArg::Object { stolen: false }, cx.model) == Some(false) {
            let text = cx
                .source
                .get(arg.span.start as usize..arg.span.end as usize)
                .unwrap_or("");
            let message = Message::new(format!(
                "`{text}` points to `{}` but `{}` stores `PyObject *`",
                ctype(&t),
                c.callee
            ))
            .help("pass the address of a `PyObject *` variable");
            out.push(FileFinding::new(arg.span, message).in_function(&c.function.name));
        }
    }
}
