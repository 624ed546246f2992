use crate::declare_rule;
use crate::registry::{Check, CythonContext, FileFinding, Message};
use cpycheck_cython::query::{CastTarget, assignment, casts, enclosing_call, mentions};
use cpycheck_cython::{ClassDef, CythonFile, FunctionDef, FunctionKind, Stmt, TokKind, TypeKind};

declare_rule! {
    /// ## What it does
    /// Finds a Python object cast to `void *` (or `PyObject *`) and handed to C — passed to a
    /// function declared in a `cdef extern` block as its `void *` parameter, or stored in a
    /// C field of `self` or a module-level C variable — when nothing keeps a reference to the
    /// object for as long as the C side holds the pointer.
    ///
    /// ## Why is this bad?
    /// A cast does not own anything. When the last Python reference goes away, the object
    /// is freed and its memory is reused for the next object of the same size; the C
    /// library still holds the old address and hands back a different object, or freed
    /// memory. The symptom appears far from the cause: an object "changes" its class, or the
    /// process crashes in a callback.
    ///
    /// ## Example
    /// ```cython
    /// def register(callback):
    ///     lib_set_userdata(<void*>callback)
    /// ```
    ///
    /// ## Use instead
    /// ```cython
    /// cdef class Registry:
    ///     cdef object callback            # keeps it alive as long as the C side uses it
    ///
    ///     def register(self, callback):
    ///         self.callback = callback
    ///         lib_set_userdata(<void*>callback)
    /// ```
    /// or `Py_INCREF` the object and `Py_DECREF` it when the C side lets go.
    ///
    /// ## Known limitations
    /// A reference counts as kept when the same function (or, for a parameter, any method of
    /// the class) stores the object in an attribute, a container or a `global`, or increfs
    /// it; whether
    /// that reference really lives as long as the C side is not checked. `self` and its
    /// attributes are taken as kept alive (the usual pattern: the object owns the C handle).
    /// Objects whose type neither this file nor its companion `.pxd` (`mod.pxd` next to
    /// `mod.pyx`) declares, and C functions declared elsewhere (another cimported `.pxd`),
    /// are not reported. Neither are parameters of `cdef` helpers (their
    /// callers decide how long the object lives) nor stores into a struct reached through a
    /// parameter or a local: only C fields of `self` and module-level C variables count.
    ///
    /// ## References
    /// - [Cython: casting, `<void*>`](https://cython.readthedocs.io/en/latest/src/userguide/language_basics.html#type-casting)
    /// - [Cython: using callbacks from C](https://cython.readthedocs.io/en/latest/src/tutorial/clibraries.html)
    pub CythonPointerEscape, "CPY502", "cython-pointer-escape", preview = true
}

impl CythonPointerEscape {
    pub(crate) const CHECK: Check = Check::Cython(Self::check);

    fn check(cx: &CythonContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for f in &cx.file.functions {
            check_function(cx.file, None, f, &mut out);
        }
        for class in cx.file.classes.iter().filter(|c| c.has_body) {
            for m in &class.methods {
                check_function(cx.file, Some(class), m, &mut out);
            }
        }
        out
    }
}

/// How a cast pointer reaches C.
enum Escape {
    Call(String),
    Store(String),
}

fn check_function(
    file: &CythonFile,
    class: Option<&ClassDef>,
    f: &FunctionDef,
    out: &mut Vec<FileFinding>,
) {
    let this = class
        .and_then(|_| f.params.first())
        .map(|p| p.name.as_str());
    f.walk(|s, _| {
        for cast in casts(&s.tokens) {
            let Some(path) = &cast.path else { continue };
            let root = path[0].as_str();
            if Some(root) == this {
                continue; // `self` or one of its attributes: lives as long as the object
            }
            if path.len() > 1 || !is_object(file, f, root) {
                continue;
            }
            // A C-level helper's parameter: its callers decide how long the object lives.
            let is_param = f.params.iter().any(|p| p.name == root);
            if is_param && f.kind != FunctionKind::Def {
                continue;
            }
            let Some(escape) = escape(file, f, this, s, &cast) else {
                continue;
            };
            if kept(f, class, root) {
                continue;
            }
            let (how, label) = match &escape {
                Escape::Call(callee) => (
                    format!("handed to `{callee}`"),
                    format!("`{callee}` keeps a pointer it does not own"),
                ),
                Escape::Store(target) => (
                    format!("stored in `{target}`"),
                    format!("`{target}` outlives this call"),
                ),
            };
            let message = Message::new(format!(
                "`{root}` is cast to `{}` and {how} with no reference kept for as long as C holds it",
                cast.target.as_str()
            ))
            .help(format!(
                "keep a reference: store `{root}` in an object attribute that lives as long as the C side, or `Py_INCREF` it and `Py_DECREF` it when C lets go"
            ))
            .label(s.span, label);
            out.push(
                FileFinding::new(cast.span, message)
                    .in_function(f.name.clone())
                    .note("when the last Python reference goes, the object is freed and its memory reused"),
            );
        }
    });
}

/// Whether `name` is a Python object in `f`: an untyped or object-typed parameter, or a
/// local assigned without a C declaration.
fn is_object(file: &CythonFile, f: &FunctionDef, name: &str) -> bool {
    let declared = f
        .params
        .iter()
        .chain(f.locals.iter())
        .find(|p| p.name == name);
    match declared {
        Some(p) => match &p.ty {
            None => true,
            Some(ty) => matches!(file.classify(ty), TypeKind::Object | TypeKind::SimpleObject),
        },
        None => {
            // An undeclared local: Cython infers its type from what is assigned to it. It is a
            // Python object only when no assignment could give it a C type (a cast, a C
            // function's result, a C variable, an address, a loop over `range`).
            let c_valued = |t: &cpycheck_cython::Token| {
                t.is("<")
                    || t.is("&")
                    || file.externs.iter().any(|e| t.is(&e.name))
                    || f.params.iter().chain(&f.locals).any(|p| {
                        t.is(&p.name)
                            && p.ty
                                .as_ref()
                                .is_some_and(|ty| file.classify(ty) == TypeKind::C)
                    })
            };
            let mut assigned = false;
            let mut maybe_c = false;
            f.walk(|s, _| {
                if let Some(eq) = assignment(&s.tokens)
                    && eq == 1
                    && s.tokens[0].is(name)
                {
                    assigned = true;
                    maybe_c |= s.tokens.get(2).is_none_or(c_valued);
                }
                if s.first_is("for") && s.tokens.get(1).is_some_and(|t| t.is(name)) {
                    maybe_c = true;
                }
            });
            assigned && !maybe_c && !file.globals.iter().any(|g| g.name == name)
        }
    }
}

/// Where the cast pointer goes: a `void *` (or `PyObject *`) parameter of a C function
/// declared in this file, or a store into a C field or variable.
fn escape(
    file: &CythonFile,
    f: &FunctionDef,
    this: Option<&str>,
    s: &Stmt,
    cast: &cpycheck_cython::query::Cast,
) -> Option<Escape> {
    let t = &s.tokens;
    if let Some((callee, index)) = enclosing_call(t, cast.start, cast.end) {
        let ext = file.externs.iter().find(|e| e.name == callee)?;
        let ty = ext.params.get(index)?.ty.as_ref()?;
        let holds = match cast.target {
            CastTarget::VoidPointer => ty.is_mutable_void_pointer(),
            // The C API borrows its arguments; other C code may keep them.
            CastTarget::PyObjectPointer => {
                ty.is_pyobject_pointer() && !callee.starts_with("Py") && !callee.starts_with("_Py")
            }
            // `casts` never returns `<object>` casts.
            CastTarget::Object => false,
        };
        return holds.then_some(Escape::Call(callee));
    }
    let eq = assignment(t)?;
    if cast.start != eq + 1 || cast.end != t.len() {
        return None;
    }
    let target = &t[..eq];
    let text: String = target.iter().map(|x| x.text.as_str()).collect();
    let is_global = |name: &str| {
        file.globals.iter().any(|g| g.name == name)
            && !f.locals.iter().chain(&f.params).any(|l| l.name == name)
    };
    match target {
        // `self.handle.data = <void*>obj`, `g_table[i] = ...`: a C field of the object or of
        // a module-level variable. Through a parameter or a local, the struct belongs to
        // someone this function cannot see.
        [first, ..] if target.len() >= 3 => {
            let field = target.iter().any(|x| x.is(".") || x.is("["));
            let owned_here = Some(first.text.as_str()) == this || is_global(&first.text);
            (field && owned_here).then_some(Escape::Store(text))
        }
        // A module-level C variable.
        [name]
            if file.globals.iter().any(|g| {
                g.name == name.text && g.ty.as_ref().is_some_and(|ty| ty.pointers > 0)
            }) && !f.locals.iter().any(|l| l.name == name.text) =>
        {
            Some(Escape::Store(text))
        }
        _ => None,
    }
}

/// Whether `f` (or, for a parameter of a method, its class) keeps a reference to `name`:
/// an incref, or a store into an attribute, a subscript or a container.
fn kept(f: &FunctionDef, class: Option<&ClassDef>, name: &str) -> bool {
    let keeps = |s: &Stmt| {
        let t = &s.tokens;
        if !mentions(s, name) {
            return false;
        }
        let incref = t.iter().enumerate().any(|(i, x)| {
            matches!(
                x.text.as_str(),
                "Py_INCREF" | "Py_XINCREF" | "Py_NewRef" | "Py_XNewRef"
            ) && t.get(i + 1).is_some_and(|p| p.is("("))
        });
        let container = t.windows(3).any(|w| {
            w[0].is(".")
                && matches!(
                    w[1].text.as_str(),
                    "append" | "add" | "insert" | "setdefault" | "appendleft" | "extend"
                )
                && w[2].is("(")
        });
        let stored = assignment(t).is_some_and(|eq| {
            let target = &t[..eq];
            let value = &t[eq + 1..];
            target.iter().any(|x| x.is(".") || x.is("[")) && value.len() == 1 && value[0].is(name)
        });
        incref || container || stored
    };
    // `global NAME` and `NAME = obj`: a module global keeps it.
    let mut globals = Vec::new();
    f.walk(|s, _| {
        if s.first_is("global") {
            globals.extend(
                s.tokens[1..]
                    .iter()
                    .filter(|t| t.kind == TokKind::Ident)
                    .map(|t| t.text.clone()),
            );
        }
    });
    let kept_in_global = |s: &Stmt| {
        let t = &s.tokens;
        t.len() == 3 && t[1].is("=") && t[2].is(name) && globals.iter().any(|g| t[0].is(g))
    };
    let mut found = false;
    f.walk(|s, _| found |= keeps(s) || kept_in_global(s));
    if found {
        return true;
    }
    let is_param = f.params.iter().any(|p| p.name == name);
    if let (Some(class), true) = (class, is_param) {
        for m in &class.methods {
            m.walk(|s, _| found |= keeps(s));
        }
    }
    found
}
