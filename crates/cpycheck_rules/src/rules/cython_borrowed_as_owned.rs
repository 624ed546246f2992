use crate::declare_rule;
use crate::registry::{Check, CythonContext, FileFinding, Message};
use cpycheck_contracts::Returns;
use cpycheck_contracts::macros::{MacroKind, lookup_macro};
use cpycheck_cython::query::{assignment, call_end, calls};
use cpycheck_cython::{CythonFile, FunctionDef, FunctionKind, TokKind, Token, TypeKind};
use cpycheck_diagnostics::Span;

declare_rule! {
    /// ## What it does
    /// Finds calls from Cython code to C-API functions that return a *borrowed* reference
    /// (`PyList_GET_ITEM`, `PyTuple_GET_ITEM`, `PyDict_GetItem`, ...) declared to return
    /// `object`, whose result the function keeps or returns without a `Py_INCREF`.
    ///
    /// ## Why is this bad?
    /// Declared as returning `object`, the function's result is taken by Cython as a new
    /// reference that it owns: it releases it when the variable goes away, or hands it to
    /// the caller as a new reference. But the function only lent it: every call releases a
    /// reference that belongs to the list, tuple or dict, until the item is freed while the
    /// container still points at it. The crash comes later, often only on large inputs.
    ///
    /// ## Example
    /// ```cython
    /// cdef extern from "Python.h":
    ///     object PyList_GET_ITEM(object l, Py_ssize_t i)
    ///
    /// def first(list l):
    ///     return PyList_GET_ITEM(l, 0)
    /// ```
    ///
    /// ## Use instead
    /// Declare it as returning `PyObject *` and cast, which takes a reference of its own
    /// (this is how Cython's `cpython.list` declares it):
    /// ```cython
    /// from cpython.ref cimport PyObject
    /// cdef extern from "Python.h":
    ///     PyObject* PyList_GET_ITEM(object l, Py_ssize_t i)
    ///
    /// def first(list l):
    ///     return <object>PyList_GET_ITEM(l, 0)
    /// ```
    /// or `Py_INCREF` the result before Cython releases it.
    ///
    /// ## Known limitations
    /// When the declaration is not in the file or its companion `.pxd` (a function
    /// cimported from another `.pxd`), only a result that a `def` function returns, directly
    /// or through a variable, is reported: declared as `PyObject *`, neither would compile. A `Py_INCREF` of the
    /// variable anywhere in the function counts.
    ///
    /// ## References
    /// - [Cython: `cpython.list` declares `PyList_GET_ITEM` as returning `PyObject *`](https://github.com/cython/cython/blob/master/Cython/Includes/cpython/list.pxd)
    /// - [Python C API: borrowed references](https://docs.python.org/3/glossary.html#term-borrowed-reference)
    pub CythonBorrowedAsOwned, "CPY505", "cython-borrowed-as-owned", preview = true
}

impl CythonBorrowedAsOwned {
    pub(crate) const CHECK: Check = Check::Cython(Self::check);

    fn check(cx: &CythonContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for f in cx.file.bodies() {
            check_function(cx.file, f, &mut out);
        }
        out
    }
}

/// How the file declares a borrowed-returning C-API function.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Declared {
    /// As returning `object`: Cython owns whatever it returns.
    Object,
    /// Not in this file (cimported from a `.pxd` it does not read).
    Unseen,
}

/// The borrowed-returning C-API function called at `tokens[at]`, and how it is declared.
fn borrowed_call(file: &CythonFile, tokens: &[Token], at: usize) -> Option<Declared> {
    let name = tokens.get(at).filter(|t| t.kind == TokKind::Ident)?;
    if !tokens.get(at + 1).is_some_and(|t| t.is("(")) {
        return None;
    }
    let contract = cpycheck_contracts::lookup(&name.text)?;
    if !matches!(contract.returns, Returns::Borrowed { .. }) {
        return None;
    }
    let qualified = at > 0 && tokens[at - 1].is(".");
    match file.externs.iter().find(|e| name.is(&e.name)) {
        Some(e) if !qualified => {
            let r = e.returns.as_ref()?;
            (r.pointers == 0 && r.base == "object").then_some(Declared::Object)
        }
        _ => Some(Declared::Unseen),
    }
}

fn check_function(file: &CythonFile, f: &FunctionDef, out: &mut Vec<FileFinding>) {
    let stmts = f.statements();
    let increfed = |name: &str| {
        stmts.iter().any(|s| {
            calls(&s.tokens).iter().any(|(open, args)| {
                matches!(
                    lookup_macro(&s.tokens[open - 1].text),
                    Some(MacroKind::IncRef { .. })
                ) && args.len() == 1
                    && s.tokens[args[0].clone()].len() == 1
                    && s.tokens[args[0].start].is(name)
            })
        })
    };
    let returned = |name: &str| {
        stmts
            .iter()
            .any(|s| s.tokens.len() == 2 && s.first_is("return") && s.tokens[1].is(name))
    };
    for s in &stmts {
        let t = &s.tokens;
        // `return F(...)`
        if s.first_is("return")
            && let Some(at) = callee_at(t, 1)
            && let Some(declared) = borrowed_call(file, t, at)
            && call_end(t, at + 1) == Some(t.len() - 1)
            && (declared == Declared::Object || f.kind == FunctionKind::Def)
        {
            out.push(finding(f, t, at, None));
            continue;
        }
        // `x = F(...)`
        let Some(eq) = assignment(t) else { continue };
        if eq != 1 || t[0].kind != TokKind::Ident {
            continue;
        }
        let Some(at) = callee_at(t, eq + 1) else {
            continue;
        };
        let Some(declared) = borrowed_call(file, t, at) else {
            continue;
        };
        if call_end(t, at + 1) != Some(t.len() - 1) {
            continue;
        }
        let var = t[0].text.as_str();
        if is_c_variable(file, f, var) || increfed(var) {
            continue;
        }
        if declared == Declared::Unseen && (f.kind != FunctionKind::Def || !returned(var)) {
            continue; // maybe declared `PyObject *` elsewhere: `var` may be a C pointer
        }
        out.push(finding(f, t, at, Some(var)));
    }
}

/// The callee of a call starting at `at`: `F(` or `module.F(`.
fn callee_at(t: &[Token], at: usize) -> Option<usize> {
    t.get(at).filter(|x| x.kind == TokKind::Ident)?;
    if t.get(at + 1).is_some_and(|x| x.is("(")) {
        return Some(at);
    }
    if t.get(at + 1).is_some_and(|x| x.is("."))
        && t.get(at + 2).is_some_and(|x| x.kind == TokKind::Ident)
        && t.get(at + 3).is_some_and(|x| x.is("("))
    {
        return Some(at + 2);
    }
    None
}

fn is_c_variable(file: &CythonFile, f: &FunctionDef, name: &str) -> bool {
    f.params.iter().chain(&f.locals).any(|p| {
        p.name == name
            && p.ty
                .as_ref()
                .is_some_and(|ty| file.classify(ty) == TypeKind::C)
    })
}

fn finding(f: &FunctionDef, t: &[Token], at: usize, var: Option<&str>) -> FileFinding {
    let callee = &t[at].text;
    let end = call_end(t, at + 1).unwrap_or(at);
    let span = Span::new(t[at].span.start as usize, t[end].span.end as usize);
    let message = match var {
        None => Message::new(format!(
            "`{callee}` returns a borrowed reference, which is returned as a new one: the caller will release a reference it was never given"
        )),
        Some(var) => Message::new(format!(
            "`{callee}` returns a borrowed reference, but Cython owns `{var}` and releases it"
        )),
    }
    .help(format!(
        "declare `{callee}` as returning `PyObject *` and cast its result with `<object>` (which takes a reference), or `Py_INCREF` the result"
    ));
    FileFinding::new(span, message)
        .in_function(f.name.clone())
        .note(format!(
            "`{callee}` only lends the reference: the container keeps owning it"
        ))
}
