use crate::declare_rule;
use crate::registry::{Check, CythonContext, FileFinding, Message};
use cpycheck_contracts::ArgEffect;
use cpycheck_contracts::macros::{MacroKind, lookup_macro};
use cpycheck_cython::query::{assignment, calls, object_casts};
use cpycheck_cython::{ClassDef, CythonFile, FunctionDef, TokKind, Token, TypeKind};
use cpycheck_diagnostics::Span;

declare_rule! {
    /// ## What it does
    /// Finds calls from Cython code to C-API functions that steal a reference to an object
    /// argument (`PyTuple_SET_ITEM`, `PyList_SET_ITEM`, `PyTuple_SetItem`,
    /// `PyModule_AddObject`, ...) with a Python object that the function never `Py_INCREF`s.
    ///
    /// ## Why is this bad?
    /// Cython passes an `object` argument as a borrowed reference: it keeps its own and
    /// releases it when the variable goes away. The stealing function takes that same
    /// reference over, so two owners now release one reference: the object's count drops
    /// below the number of places that point at it, and it is freed while the container
    /// still holds it. The crash comes later, when the tuple or list is used or freed.
    ///
    /// ## Example
    /// ```cython
    /// from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
    ///
    /// def pack(x):
    ///     t = PyTuple_New(1)
    ///     PyTuple_SET_ITEM(t, 0, x)
    ///     return t
    /// ```
    ///
    /// ## Use instead
    /// ```cython
    /// from cpython.ref cimport Py_INCREF
    /// from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
    ///
    /// def pack(x):
    ///     t = PyTuple_New(1)
    ///     Py_INCREF(x)
    ///     PyTuple_SET_ITEM(t, 0, x)
    ///     return t
    /// ```
    ///
    /// ## Known limitations
    /// Only arguments written as a name, an attribute (`self.x`) or `None`/`True`/`False`
    /// are followed; an argument cast to `PyObject *` is the caller's own pointer and is not
    /// reported, nor is a variable assigned an `<object>` cast of a pointer (the pointer's
    /// own reference is what the call takes over). A `Py_INCREF` of the same expression anywhere in the function counts, on
    /// whatever path it is.
    ///
    /// ## References
    /// - [Cython: `cpython.tuple` (`PyTuple_SET_ITEM` steals a reference)](https://github.com/cython/cython/blob/master/Cython/Includes/cpython/tuple.pxd)
    /// - [Python C API: reference count details](https://docs.python.org/3/c-api/intro.html#reference-count-details)
    pub CythonStealWithoutIncref, "CPY504", "cython-steal-without-incref", preview = true
}

impl CythonStealWithoutIncref {
    pub(crate) const CHECK: Check = Check::Cython(Self::check);

    fn check(cx: &CythonContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for f in &cx.file.functions {
            check_function(cx.file, None, f, &mut out);
        }
        for class in &cx.file.classes {
            for m in &class.methods {
                check_function(cx.file, Some(class), m, &mut out);
            }
        }
        out
    }
}

fn is_incref(name: &str) -> bool {
    matches!(lookup_macro(name), Some(MacroKind::IncRef { .. }))
}

fn check_function(
    file: &CythonFile,
    class: Option<&ClassDef>,
    f: &FunctionDef,
    out: &mut Vec<FileFinding>,
) {
    let stmts = f.statements();
    // Every expression the function `Py_INCREF`s, as token texts.
    let mut increfed: Vec<Vec<&str>> = Vec::new();
    for s in &stmts {
        for (open, args) in calls(&s.tokens) {
            if is_incref(&s.tokens[open - 1].text)
                && let [arg] = args.as_slice()
            {
                increfed.push(texts(&s.tokens[arg.clone()]));
            }
        }
    }
    // Variables assigned an `<object>p` cast: the reference `p` owned is handed on through
    // them (`val = <object>new_ref; PyTuple_SET_ITEM(t, i, val)`).
    let mut cast_targets: Vec<Vec<&str>> = Vec::new();
    for s in &stmts {
        let t = &s.tokens;
        if let Some(eq) = assignment(t)
            && object_casts(t).iter().any(|c| c.start == eq + 1)
        {
            cast_targets.push(texts(&t[..eq]));
        }
    }
    for s in &stmts {
        let t = &s.tokens;
        if t.first()
            .is_some_and(|x| x.is("def") || x.is("cdef") || x.is("cpdef"))
        {
            continue; // a declaration, not a call
        }
        for (open, args) in calls(t) {
            let callee = &t[open - 1];
            if lookup_macro(&callee.text).is_some() {
                continue; // `Py_DECREF(x)`: a release written on purpose
            }
            let Some(contract) = cpycheck_contracts::lookup(&callee.text) else {
                continue;
            };
            for (index, effect) in contract.args.iter().enumerate() {
                if !matches!(effect, ArgEffect::Steal | ArgEffect::StealOnSuccess) {
                    continue;
                }
                let Some(range) = args.get(index) else {
                    continue;
                };
                let arg = &t[range.clone()];
                if !is_object_path(arg)
                    || increfed.contains(&texts(arg))
                    || cast_targets.contains(&texts(arg))
                    || is_c_value(file, class, f, arg)
                {
                    continue;
                }
                let text = texts(arg).concat();
                let span = Span::new(
                    arg[0].span.start as usize,
                    arg[arg.len() - 1].span.end as usize,
                );
                let when = if *effect == ArgEffect::StealOnSuccess {
                    " when it succeeds"
                } else {
                    ""
                };
                let message = Message::new(format!(
                    "`{}` steals a reference to `{text}`{when}, but Cython only lends it one",
                    callee.text
                ))
                .help(format!(
                    "`Py_INCREF({text})` before the call, so that the reference it takes over is one of its own"
                ))
                .label(
                    Span::new(callee.span.start as usize, callee.span.end as usize),
                    "takes over the reference",
                );
                out.push(
                    FileFinding::new(span, message)
                        .in_function(f.name.clone())
                        .note(format!(
                            "Cython releases its own reference to `{text}` too: the object is released once more than it was referenced"
                        )),
                );
            }
        }
    }
}

fn texts(tokens: &[Token]) -> Vec<&str> {
    tokens.iter().map(|t| t.text.as_str()).collect()
}

/// A name, a dotted attribute path, or one of the singletons.
fn is_object_path(arg: &[Token]) -> bool {
    !arg.is_empty()
        && arg.iter().enumerate().all(|(i, t)| {
            if i % 2 == 0 {
                t.kind == TokKind::Ident
            } else {
                t.is(".")
            }
        })
        && arg.len() % 2 == 1
        && !(arg.len() == 1 && (arg[0].is("NULL")))
}

/// Whether the path names a C value (a `PyObject *` variable or attribute the caller owns a
/// reference through), from the declarations of the function and its class.
fn is_c_value(file: &CythonFile, class: Option<&ClassDef>, f: &FunctionDef, arg: &[Token]) -> bool {
    let is_c = |ty: &Option<cpycheck_cython::TypeRef>| {
        ty.as_ref()
            .is_some_and(|ty| file.classify(ty) == TypeKind::C)
    };
    let root = &arg[0];
    if arg.len() == 1 {
        return f
            .params
            .iter()
            .chain(&f.locals)
            .chain(&file.globals)
            .any(|p| root.is(&p.name) && is_c(&p.ty));
    }
    let this = class.and_then(|_| f.params.first());
    match (class, this) {
        (Some(class), Some(this)) if arg.len() == 3 && root.is(&this.name) => class
            .attributes
            .iter()
            .any(|a| arg[2].is(&a.name) && file.classify(&a.ty) == TypeKind::C),
        _ => false,
    }
}
