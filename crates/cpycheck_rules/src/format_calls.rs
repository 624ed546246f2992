//! Calls whose variadic arguments a format string describes (`PyArg_ParseTuple*`,
//! `PyArg_Parse`, `PyArg_UnpackTuple`, `Py_BuildValue`), found through the contracts table,
//! with what the rules CPY402/CPY403 need to check them: the format's units (read by
//! `cpycheck_engine::formats`, the one format reader) and the declared types of the
//! variables passed.

use std::collections::HashMap;

use cpycheck_contracts::Varargs;
use cpycheck_engine::formats::{FormatArg, Scalar};
use cpycheck_syntax::{CType, Decl, Expr, ExprKind, FileModel, Function, Stmt, StmtKind, UnOp};

/// How the variadic arguments are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// `PyArg_ParseTuple`-style: pointers the call writes through.
    Parse,
    /// `Py_BuildValue`-style: values.
    Build,
    /// `PyArg_UnpackTuple`: `PyObject **` out-parameters.
    Unpack,
}

pub(crate) struct FormatCall<'a> {
    pub function: &'a Function,
    pub callee: String,
    pub call: &'a Expr,
    pub args: &'a [Expr],
    pub family: Family,
    /// Index of the format argument (Parse/Build).
    pub format_index: usize,
    /// Index of the first variadic argument.
    pub varargs_start: usize,
}

/// Every format-driven call in the file's functions (functions with parse errors skipped).
/// A call whose text holds a preprocessor directive (`#if` arms choosing the format or the
/// arguments) is left out: only one configuration of it was parsed, and its arguments
/// cannot be matched against a format chosen in another arm.
pub(crate) fn format_calls<'a>(model: &'a FileModel, source: &str) -> Vec<FormatCall<'a>> {
    let mut out = Vec::new();
    for f in &model.functions {
        if f.has_errors {
            continue;
        }
        for_each_expr(&f.body, &mut |e| {
            let ExprKind::Call { callee, args } = &e.kind else {
                return;
            };
            let Some(name) = callee.as_ident() else {
                return;
            };
            let text = source
                .get(e.span.start as usize..e.span.end as usize)
                .unwrap_or("");
            if text.lines().any(|l| l.trim_start().starts_with('#')) {
                return;
            }
            let Some(contract) = cpycheck_contracts::lookup(name) else {
                return;
            };
            let (family, format_index) = match contract.varargs {
                Varargs::ParseFormat { format } => (Family::Parse, format),
                Varargs::BuildFormat { format } => (Family::Build, format),
                Varargs::OutBorrowed => (Family::Unpack, 0),
                _ => return,
            };
            out.push(FormatCall {
                function: f,
                callee: name.to_string(),
                call: e,
                args,
                family,
                format_index,
                varargs_start: contract.args.len(),
            });
        });
    }
    out
}

/// Visits every expression of a function body (iteratively; nesting is not bounded here
/// because the model is already depth-capped).
pub(crate) fn for_each_expr<'a>(body: &'a [Stmt], f: &mut dyn FnMut(&'a Expr)) {
    enum Item<'a> {
        S(&'a Stmt),
        E(&'a Expr),
    }
    let mut stack: Vec<Item<'a>> = body.iter().rev().map(Item::S).collect();
    while let Some(item) = stack.pop() {
        match item {
            Item::S(s) => match &s.kind {
                StmtKind::Expr(e) | StmtKind::Return(Some(e)) => stack.push(Item::E(e)),
                StmtKind::Decl(decls) => {
                    stack.extend(decls.iter().filter_map(|d| d.init.as_ref()).map(Item::E))
                }
                StmtKind::If { cond, then, els } => {
                    if let Some(e) = els {
                        stack.push(Item::S(e));
                    }
                    stack.push(Item::S(then));
                    stack.push(Item::E(cond));
                }
                StmtKind::While { cond, body } | StmtKind::DoWhile { body, cond } => {
                    stack.push(Item::S(body));
                    stack.push(Item::E(cond));
                }
                StmtKind::For {
                    init,
                    cond,
                    update,
                    body,
                } => {
                    stack.push(Item::S(body));
                    if let Some(u) = update {
                        stack.push(Item::E(u));
                    }
                    if let Some(c) = cond {
                        stack.push(Item::E(c));
                    }
                    if let Some(i) = init {
                        stack.push(Item::S(i));
                    }
                }
                StmtKind::Switch { cond, body } => {
                    stack.push(Item::S(body));
                    stack.push(Item::E(cond));
                }
                StmtKind::Case { body, .. } | StmtKind::Block(body) => {
                    stack.extend(body.iter().rev().map(Item::S))
                }
                StmtKind::Labeled { stmt, .. } => stack.push(Item::S(stmt)),
                _ => {}
            },
            Item::E(e) => {
                f(e);
                match &e.kind {
                    ExprKind::Call { callee, args } => {
                        stack.extend(args.iter().rev().map(Item::E));
                        stack.push(Item::E(callee));
                    }
                    ExprKind::Assign { lhs, rhs, .. } | ExprKind::Binary { lhs, rhs, .. } => {
                        stack.push(Item::E(rhs));
                        stack.push(Item::E(lhs));
                    }
                    ExprKind::Unary { operand: x, .. }
                    | ExprKind::Member { base: x, .. }
                    | ExprKind::Cast { expr: x, .. } => stack.push(Item::E(x)),
                    ExprKind::Index { base, index } => {
                        stack.push(Item::E(index));
                        stack.push(Item::E(base));
                    }
                    ExprKind::Cond { cond, then, els } => {
                        stack.push(Item::E(els));
                        stack.push(Item::E(then));
                        stack.push(Item::E(cond));
                    }
                    ExprKind::Comma(v) | ExprKind::InitList(v) => {
                        stack.extend(v.iter().rev().map(Item::E))
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The declarations of a function's parameters and locals by name; a name declared twice
/// with different types (in different scopes) maps to `None`.
pub(crate) fn declarations(f: &Function) -> HashMap<&str, Option<&Decl>> {
    let mut out: HashMap<&str, Option<&Decl>> = HashMap::new();
    let mut stack: Vec<&Stmt> = f.body.iter().collect();
    while let Some(s) = stack.pop() {
        match &s.kind {
            StmtKind::Decl(decls) => {
                for d in decls {
                    out.entry(d.name.as_str())
                        .and_modify(|prev| {
                            if prev.is_some_and(|p| p.ty != d.ty) {
                                *prev = None;
                            }
                        })
                        .or_insert(Some(d));
                }
            }
            StmtKind::If { then, els, .. } => {
                stack.push(then);
                if let Some(e) = els {
                    stack.push(e);
                }
            }
            StmtKind::While { body, .. }
            | StmtKind::DoWhile { body, .. }
            | StmtKind::Switch { body, .. } => stack.push(body),
            StmtKind::For { init, body, .. } => {
                stack.push(body);
                if let Some(i) = init {
                    stack.push(i);
                }
            }
            StmtKind::Case { body, .. } | StmtKind::Block(body) => stack.extend(body.iter()),
            StmtKind::Labeled { stmt, .. } => stack.push(stmt),
            _ => {}
        }
    }
    out
}

/// The declared type of a name: a parameter, or a local declared once.
pub(crate) fn type_of_name(
    f: &Function,
    decls: &HashMap<&str, Option<&Decl>>,
    name: &str,
) -> Option<CType> {
    let param = f
        .params
        .iter()
        .find(|p| p.name.as_deref() == Some(name))
        .map(|p| p.ty.clone());
    match (param, decls.get(name)) {
        (Some(t), None) => Some(t),
        (None, Some(Some(d))) => Some(d.ty.clone()),
        _ => None,
    }
}

/// The content of a string literal expression (adjacent literals concatenated). `None` for
/// anything else, and for literals with escapes or macros in between.
pub(crate) fn string_literal(source: &str, e: &Expr) -> Option<String> {
    if !matches!(e.kind, ExprKind::Str) {
        return None;
    }
    let text = source.get(e.span.start as usize..e.span.end as usize)?;
    let mut out = String::new();
    let mut inside = false;
    for c in text.chars() {
        match (inside, c) {
            (false, '"') => inside = true,
            (false, c) if c.is_whitespace() => {}
            (false, _) => return None,
            (true, '"') => inside = false,
            (true, '\\') => return None,
            (true, c) => out.push(c),
        }
    }
    (!inside).then_some(out)
}

/// Size in bytes on LP64 and LLP64, and whether it is a floating type, of a C scalar type
/// name; `None` for names this table does not know (typedefs of the project).
pub(crate) fn scalar_info(base: &str) -> Option<(u8, u8, bool)> {
    let base = base
        .trim_start_matches("const ")
        .trim_start_matches("volatile ")
        .trim();
    Some(match base {
        "char" | "signed char" | "unsigned char" | "_Bool" | "bool" | "int8_t" | "uint8_t" => {
            (1, 1, false)
        }
        "short" | "short int" | "unsigned short" | "unsigned short int" | "signed short"
        | "int16_t" | "uint16_t" => (2, 2, false),
        "int" | "signed" | "signed int" | "unsigned" | "unsigned int" | "int32_t" | "uint32_t"
        | "Py_UCS4" => (4, 4, false),
        "long" | "long int" | "signed long" | "unsigned long" | "unsigned long int" => {
            (8, 4, false)
        }
        "long long"
        | "long long int"
        | "unsigned long long"
        | "unsigned long long int"
        | "PY_LONG_LONG"
        | "unsigned PY_LONG_LONG"
        | "int64_t"
        | "uint64_t" => (8, 8, false),
        "Py_ssize_t" | "ssize_t" | "size_t" | "Py_hash_t" | "Py_uhash_t" | "intptr_t"
        | "uintptr_t" => (8, 8, false),
        "float" => (4, 4, true),
        "double" => (8, 8, true),
        _ => return None,
    })
}

pub(crate) fn scalar_of(s: Scalar) -> (u8, u8, bool) {
    match s {
        Scalar::Char | Scalar::UChar => (1, 1, false),
        Scalar::Short | Scalar::UShort => (2, 2, false),
        Scalar::Int | Scalar::UInt => (4, 4, false),
        Scalar::Long | Scalar::ULong => (8, 4, false),
        Scalar::LongLong | Scalar::ULongLong | Scalar::SsizeT => (8, 8, false),
        Scalar::Float => (4, 4, true),
        Scalar::Double => (8, 8, true),
    }
}

fn is_char(base: &str) -> bool {
    matches!(
        base.trim_start_matches("const ").trim(),
        "char" | "signed char" | "unsigned char"
    )
}

/// The C spelling of what a format argument must be (`int`, `PyObject *`), without the
/// extra pointer of `PyArg_Parse*`.
pub(crate) fn describe(a: FormatArg) -> Option<String> {
    Some(match a {
        FormatArg::Scalar(s) => s.c_name().to_string(),
        FormatArg::Object { .. } => "PyObject *".to_string(),
        FormatArg::Chars => "const char *".to_string(),
        FormatArg::Buffer => "Py_buffer".to_string(),
        FormatArg::Length => "Py_ssize_t".to_string(),
        _ => return None,
    })
}

/// Does a value of type `t` fit `expect`? `Some(false)` only for a definite mismatch;
/// `None` when the type is not known well enough to say.
pub(crate) fn fits(t: &CType, expect: FormatArg, model: &FileModel) -> Option<bool> {
    let object = cpycheck_ir::is_object_type(t, &model.object_types);
    let known_scalar = t.pointers == 0 && !t.array && scalar_info(&t.base).is_some();
    let pointer = t.pointers > 0 || t.array;
    match expect {
        FormatArg::Scalar(s) => {
            if pointer {
                return Some(false);
            }
            let got = scalar_info(&t.base)?;
            let want = scalar_of(s);
            Some(got == want)
        }
        FormatArg::Object { .. } => {
            if known_scalar || (t.pointers == 1 && is_char(&t.base)) || t.pointers > 1 {
                Some(false)
            } else if t.pointers == 1 {
                Some(true)
            } else {
                None
            }
        }
        FormatArg::Chars => {
            if known_scalar || object || t.pointers > 1 {
                Some(false)
            } else if t.pointers == 1 && is_char(&t.base) {
                Some(true)
            } else {
                None
            }
        }
        FormatArg::Buffer => {
            if pointer || known_scalar {
                Some(false)
            } else {
                None
            }
        }
        FormatArg::Length => {
            if pointer || scalar_info(&t.base).is_some_and(|(_, _, float)| float) {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The type a value passed by value has after C's default argument promotions, when the
/// expression's type is known: a declared name, a cast, a literal, `&name`.
pub(crate) fn value_type(
    f: &Function,
    decls: &HashMap<&str, Option<&Decl>>,
    e: &Expr,
) -> Option<CType> {
    let t = match &e.kind {
        ExprKind::Cast { ty, .. } => ty.clone(),
        ExprKind::Ident(n) => type_of_name(f, decls, n)?,
        ExprKind::Int(_) => CType {
            base: "int".into(),
            ..CType::default()
        },
        ExprKind::Float => CType {
            base: "double".into(),
            ..CType::default()
        },
        ExprKind::Str => CType {
            base: "char".into(),
            pointers: 1,
            array: false,
        },
        ExprKind::Unary {
            op: UnOp::AddrOf,
            operand,
        } => {
            let name = operand.as_ident()?;
            let mut t = type_of_name(f, decls, name)?;
            if t.array {
                return None;
            }
            t.pointers += 1;
            t
        }
        _ => return None,
    };
    // An array decays to a pointer.
    let mut t = t;
    if t.array {
        t.array = false;
        t.pointers += 1;
    }
    if t.pointers == 0
        && let Some((size, _, float)) = scalar_info(&t.base)
    {
        if float {
            t.base = "double".into();
        } else if size < 4 {
            t.base = "int".into();
        }
    }
    Some(t)
}

/// The type an out-pointer argument points to: `&name` gives the name's type, a pointer
/// variable gives its target.
pub(crate) fn pointee_type(
    f: &Function,
    decls: &HashMap<&str, Option<&Decl>>,
    e: &Expr,
) -> Option<CType> {
    match &e.kind {
        ExprKind::Unary {
            op: UnOp::AddrOf,
            operand,
        } => {
            let t = type_of_name(f, decls, operand.as_ident()?)?;
            (!t.array).then_some(t)
        }
        ExprKind::Ident(n) => {
            let mut t = type_of_name(f, decls, n)?;
            if t.array {
                t.array = false;
            } else if t.pointers > 0 {
                t.pointers -= 1;
            } else {
                return None;
            }
            Some(t)
        }
        _ => None,
    }
}

pub(crate) fn ctype(t: &CType) -> String {
    let mut s = t.base.clone();
    if t.pointers > 0 {
        s.push(' ');
        s.push_str(&"*".repeat(t.pointers as usize));
    }
    s
}

/// The declarations of a function's locals, by name (see [`declarations`]).
pub(crate) type Declarations<'a> = HashMap<&'a str, Option<&'a Decl>>;

/// How a format rule checks the arguments of one call against its format: the reader of the
/// format's units, the type of each argument, and the wording of its messages.
pub(crate) struct ArgumentCheck {
    pub units: fn(&str) -> Option<Vec<cpycheck_engine::formats::Unit>>,
    pub arg_type: fn(&Function, &Declarations<'_>, &Expr) -> Option<CType>,
    /// Help for a wrong number of arguments.
    pub count_help: &'static str,
    /// Message and help for an argument of the wrong type: `(text, its type, unit, callee,
    /// wanted type)`.
    pub type_mismatch: fn(&str, &str, &str, &str, &str) -> (String, String),
}

/// Checks the arguments of `c` against its format: their number, then the type of each one
/// whose type is known. Returns the format and its number of units when it could be read.
pub(crate) fn check_arguments(
    cx: &crate::registry::FileContext<'_>,
    c: &FormatCall<'_>,
    how: &ArgumentCheck,
    out: &mut Vec<crate::registry::FileFinding>,
) -> Option<(String, usize)> {
    use crate::registry::{FileFinding, Message};
    let fmt_expr = c.args.get(c.format_index)?;
    let format = string_literal(cx.source, fmt_expr)?;
    let units = (how.units)(&format)?;
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
        .help(how.count_help);
        out.push(FileFinding::new(c.call.span, message).in_function(fname));
        return None;
    }
    let decls = declarations(c.function);
    for (arg, (unit, expect)) in passed.iter().zip(&expected) {
        let Some(t) = (how.arg_type)(c.function, &decls, arg) else {
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
        let (message, help) = (how.type_mismatch)(text, &ctype(&t), unit, &c.callee, &want);
        let message = Message::new(message)
            .label(fmt_expr.span, "format")
            .help(help);
        out.push(FileFinding::new(arg.span, message).in_function(fname));
    }
    Some((format, units.len()))
}
