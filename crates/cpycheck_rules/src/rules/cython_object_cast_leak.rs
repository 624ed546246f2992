use crate::declare_rule;
use crate::registry::{Check, CythonContext, FileFinding, Message};
use cpycheck_contracts::macros::{MacroKind, lookup_macro};
use cpycheck_contracts::{ArgEffect, Returns};
use cpycheck_cython::query::{Cast, assignment, enclosing_call, object_casts};
use cpycheck_cython::{CythonFile, ExternFunction, FunctionDef, Stmt, TokKind, Token};
use cpycheck_diagnostics::Span;

declare_rule! {
    /// ## What it does
    /// Finds `<object>p` casts in Cython code where `p` is a new reference returned by a C
    /// function declared in a `cdef extern` block to return `PyObject *` (a C-API function
    /// whose result is a new reference, such as `PyObject_Str` or `PyContext_CopyCurrent`),
    /// and the new reference is never released.
    ///
    /// ## Why is this bad?
    /// Declared as returning `PyObject *`, the function's result is a plain C pointer to
    /// Cython: it does no reference counting on it. The `<object>` cast then takes a
    /// reference of its own, which Cython releases when the variable goes away. The
    /// reference the C function returned is owned by nobody and is never released: every
    /// call leaks the object.
    ///
    /// ## Example
    /// ```cython
    /// cdef extern from "Python.h":
    ///     PyObject* PyObject_Str(object o)
    ///
    /// def text(o):
    ///     return <object>PyObject_Str(o)
    /// ```
    ///
    /// ## Use instead
    /// Declare the function as returning `object`, so Cython owns its result (and checks
    /// it for NULL):
    /// ```cython
    /// cdef extern from "Python.h":
    ///     object PyObject_Str(object o)
    ///
    /// def text(o):
    ///     return PyObject_Str(o)
    /// ```
    /// or release the pointer's reference once the cast has taken its own
    /// (`result = <object>p; Py_DECREF(result)`).
    ///
    /// ## Known limitations
    /// Only functions whose result the C-API contracts table knows to be a new reference
    /// are followed, and only the cast of the call itself or of a `PyObject *` variable
    /// assigned from it. A release anywhere in the function (of the pointer or of a
    /// variable that holds its cast) counts, whatever the path; a pointer handed to any
    /// other call may be taken over there and is not reported.
    ///
    /// ## References
    /// - [Cython: the `cpython` package and `PyObject *`](https://cython.readthedocs.io/en/latest/src/userguide/language_basics.html#types)
    /// - [Python C API: reference counts](https://docs.python.org/3/c-api/intro.html#reference-counts)
    pub CythonObjectCastLeak, "CPY503", "cython-object-cast-leak", preview = true
}

impl CythonObjectCastLeak {
    pub(crate) const CHECK: Check = Check::Cython(Self::check);

    fn check(cx: &CythonContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for f in cx.file.bodies() {
            check_function(cx.file, f, &mut out);
        }
        out
    }
}

/// The extern function of this file called as `tokens[at](...)` that returns a new
/// reference as a `PyObject *`.
fn new_reference_call<'f>(
    file: &'f CythonFile,
    tokens: &[Token],
    at: usize,
) -> Option<&'f ExternFunction> {
    let name = tokens.get(at).filter(|t| t.kind == TokKind::Ident)?;
    if !tokens.get(at + 1).is_some_and(|t| t.is("(")) {
        return None;
    }
    let ext = file.externs.iter().find(|e| name.is(&e.name))?;
    if !ext
        .returns
        .as_ref()
        .is_some_and(|r| r.is_pyobject_pointer())
    {
        return None;
    }
    let contract = cpycheck_contracts::lookup(&ext.name)?;
    matches!(contract.returns, Returns::New { .. }).then_some(ext)
}

/// A release from `cpython.ref` (`Py_DECREF`, `Py_XDECREF`, `Py_CLEAR`), or a call that
/// steals its `index`th argument (`PyTuple_SET_ITEM(t, i, <object>p)` hands the pointer's
/// reference over).
fn takes_over(callee: &str, index: usize) -> bool {
    if matches!(
        lookup_macro(callee),
        Some(MacroKind::DecRef { .. } | MacroKind::Clear)
    ) {
        return true;
    }
    cpycheck_contracts::lookup(callee).is_some_and(|c| {
        matches!(
            c.args.get(index),
            Some(ArgEffect::Steal | ArgEffect::StealOnSuccess)
        )
    })
}

fn check_function(file: &CythonFile, f: &FunctionDef, out: &mut Vec<FileFinding>) {
    let stmts = f.statements();

    // `p = f(...)` (or `cdef PyObject *p = f(...)`) with `f` returning a new reference.
    let mut pointers: Vec<(String, &ExternFunction, Span)> = Vec::new();
    for s in &stmts {
        let t = &s.tokens;
        let Some(eq) = assignment(t) else { continue };
        if eq == 0 || !t[eq - 1].kind.eq(&TokKind::Ident) {
            continue;
        }
        let Some(ext) = new_reference_call(file, t, eq + 1) else {
            continue;
        };
        let close = cpycheck_cython::query::call_end(t, eq + 2);
        if close != Some(t.len() - 1) {
            continue; // the call is part of a larger expression
        }
        pointers.push((t[eq - 1].text.clone(), ext, s.span));
    }

    for s in &stmts {
        let t = &s.tokens;
        for cast in object_casts(t) {
            if released_inline(t, &cast) {
                continue;
            }
            let operand = cast_operand(t, &cast);
            if let Some(ext) = new_reference_call(file, t, operand)
                && cpycheck_cython::query::call_end(t, operand + 1) == Some(cast.end - 1)
            {
                out.push(finding(f, &cast, &ext.name, None));
                continue;
            }
            let Some(path) = &cast.path else { continue };
            let [name] = path.as_slice() else { continue };
            let Some((_, ext, at)) = pointers.iter().find(|(p, ..)| p == name) else {
                continue;
            };
            if released_or_handed_over(&stmts, name) {
                continue;
            }
            out.push(finding(f, &cast, &ext.name, Some((name, *at))));
        }
    }
}

/// Index of the cast's operand (after the `>`, through parentheses).
fn cast_operand(t: &[Token], cast: &Cast) -> usize {
    let mut at = t[cast.start..]
        .iter()
        .position(|x| x.is(">"))
        .map_or(cast.end, |k| cast.start + k + 1);
    while t.get(at).is_some_and(|x| x.is("(")) && at + 1 < cast.end {
        at += 1;
    }
    at
}

/// `Py_DECREF(<object>p)`: the cast's reference and the pointer's are one release apart.
fn released_inline(t: &[Token], cast: &Cast) -> bool {
    enclosing_call(t, cast.start, cast.end)
        .is_some_and(|(callee, index)| takes_over(&callee, index))
}

/// Whether the reference held by the pointer `name` is released somewhere in the function,
/// directly or through a variable that holds its `<object>` cast, or handed to a call that
/// may take it over.
fn released_or_handed_over(stmts: &[&Stmt], name: &str) -> bool {
    // Names that hold the same object: `r = <object>p`.
    let mut aliases = vec![name.to_string()];
    for s in stmts {
        let t = &s.tokens;
        if let Some(eq) = assignment(t)
            && eq == 1
            && t[0].kind == TokKind::Ident
            && object_casts(t).iter().any(|c| {
                c.start == eq + 1 && c.end == t.len() && c.path.as_deref() == Some(&[name.into()])
            })
        {
            aliases.push(t[0].text.clone());
        }
    }
    stmts.iter().any(|s| {
        let t = &s.tokens;
        (0..t.len()).any(|i| {
            if !aliases.iter().any(|a| t[i].is(a)) || (i > 0 && t[i - 1].is(".")) {
                return false;
            }
            match enclosing_argument_call(t, i) {
                // Released, or passed as a `PyObject *` to a call that may steal it.
                Some((callee, index)) => {
                    takes_over(callee, index) || (t[i].is(name) && !is_cast_operand(t, i))
                }
                None => false,
            }
        })
    })
}

/// The name of the call whose parentheses directly enclose `tokens[i]`, and the index of
/// the argument `tokens[i]` is in.
fn enclosing_argument_call(tokens: &[Token], i: usize) -> Option<(&str, usize)> {
    let mut depth = 0usize;
    let mut index = 0;
    for k in (0..i).rev() {
        match tokens[k].text.as_str() {
            ")" | "]" => depth += 1,
            "[" if depth == 0 => return None,
            "," if depth == 0 => index += 1,
            "(" | "[" => {
                if depth == 0 {
                    let callee = k.checked_sub(1).map(|c| &tokens[c])?;
                    return (callee.kind == TokKind::Ident)
                        .then_some((callee.text.as_str(), index));
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    None
}

/// `<object>p`: the `>` right before `p`.
fn is_cast_operand(tokens: &[Token], i: usize) -> bool {
    i >= 2 && tokens[i - 1].is(">") && (tokens[i - 2].is("object") || tokens[i - 2].is("?"))
}

fn finding(
    f: &FunctionDef,
    cast: &Cast,
    callee: &str,
    pointer: Option<(&str, Span)>,
) -> FileFinding {
    let mut message = match pointer {
        None => Message::new(format!(
            "`<object>` takes a reference of its own: the new reference returned by `{callee}` is leaked"
        )),
        Some((name, _)) => Message::new(format!(
            "`<object>{name}` takes a reference of its own: the new reference `{name}` got from `{callee}` is never released"
        )),
    }
    .help(format!(
        "declare `{callee}` as returning `object` so that Cython owns its result, or `Py_DECREF` the pointer's reference after the cast"
    ));
    if let Some((name, at)) = pointer {
        message = message.label(at, format!("`{name}` owns a new reference from `{callee}`"));
    }
    FileFinding::new(cast.span, message)
        .in_function(f.name.clone())
        .note(format!(
            "`{callee}` is declared to return `PyObject *`, on which Cython counts no references"
        ))
}
