use std::collections::HashSet;

use crate::declare_rule;
use crate::registry::{Check, FileContext, FileFinding, Message};
use cpycheck_contracts::macros::{MacroKind, lookup_macro};
use cpycheck_contracts::{ArgEffect, Varargs};
use cpycheck_ir::is_object_type;
use cpycheck_syntax::{Expr, ExprKind, Function, Stmt, StmtKind, UnOp};

declare_rule! {
    /// ## What it does
    /// Finds a borrowed reference — an argument of a function Python calls, or an object
    /// `PyArg_ParseTuple` gave out — cast to `void *` and handed to a C function that may
    /// keep the pointer, when the function keeps no reference to the object. A function
    /// "may keep" the pointer when it is not part of the Python C API and the file does not
    /// define it (a C library call seen only through its header), or when the file defines
    /// it and its body stores that parameter.
    ///
    /// ## Why is this bad?
    /// A cast owns nothing. When the caller drops its reference the object is freed and
    /// its memory is reused for the next object of the same size; the C library still holds
    /// the old address and later hands back freed memory or a different object (the symptom
    /// appears far from the cause: an object "changes" its class, or a callback crashes).
    ///
    /// ## Example
    /// ```c
    /// static PyObject *
    /// set_callback(PyObject *module, PyObject *callback)
    /// {
    ///     lib_set_userdata(handle, (void *)callback);
    ///     Py_RETURN_NONE;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     Py_XSETREF(state->callback, Py_NewRef(callback));   /* kept while C holds it */
    ///     lib_set_userdata(handle, (void *)callback);
    /// ```
    ///
    /// ## Known limitations
    /// Only explicit casts to `void *` are followed. A reference counts as kept when the
    /// same function increfs the object (`Py_INCREF`, `Py_NewRef`), stores it in a member,
    /// a global or through a pointer, or hands it to an API that keeps a reference
    /// (`PyList_Append`); whether that reference lives as long as the C side is not
    /// checked. `self` is taken as kept alive (the usual pattern: the object owns the C
    /// handle that points back to it). C library functions known to use a pointer only
    /// during the call (`qsort`, `memcpy`, ...) are not reported.
    ///
    /// ## References
    /// - [Reference counts](https://docs.python.org/3/c-api/intro.html#reference-counts)
    /// - [Objects, types and reference counts](https://docs.python.org/3/c-api/intro.html#objects-types-and-reference-counts)
    pub PointerEscape, "CPY308", "pointer-escape", preview = true
}

impl PointerEscape {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let model = cx.model;
        let registered: HashSet<&str> = model
            .registrations
            .iter()
            .map(|r| r.function.as_str())
            .collect();
        let mut out = Vec::new();
        for f in &model.functions {
            if f.has_errors || !registered.contains(f.name.as_str()) {
                continue;
            }
            check_function(cx, f, &mut out);
        }
        out
    }
}

/// At most this many statements and expressions are looked at per function.
const MAX_NODES: usize = 200_000;

fn check_function(cx: &FileContext<'_>, f: &Function, out: &mut Vec<FileFinding>) {
    let objects = &cx.model.object_types;
    // Object parameters, `self` (the first) excepted.
    let mut borrowed: Vec<&str> = f
        .params
        .iter()
        .skip(1)
        .filter(|p| is_object_type(&p.ty, objects))
        .filter_map(|p| p.name.as_deref())
        .collect();
    let exprs = expressions(&f.body);
    let mut object_locals: HashSet<&str> = HashSet::new();
    let mut locals: HashSet<&str> = f.params.iter().filter_map(|p| p.name.as_deref()).collect();
    for_each_stmt(&f.body, &mut |s| {
        if let StmtKind::Decl(decls) = &s.kind {
            for d in decls.iter().filter(|d| !d.is_static) {
                locals.insert(d.name.as_str());
                if is_object_type(&d.ty, objects) {
                    object_locals.insert(d.name.as_str());
                }
            }
        }
    });
    // Locals `PyArg_ParseTuple` (and the like) fill with borrowed references.
    for e in &exprs {
        if let ExprKind::Call { callee, args } = &e.kind
            && let Some(name) = callee.as_ident()
            && let Some(c) = cpycheck_contracts::lookup(name)
            && matches!(
                c.varargs,
                Varargs::ParseFormat { .. } | Varargs::OutBorrowed
            )
        {
            for a in args {
                if let ExprKind::Unary {
                    op: UnOp::AddrOf,
                    operand,
                } = &a.strip_casts().kind
                    && let Some(n) = operand.as_ident()
                    && object_locals.contains(n)
                {
                    borrowed.push(n);
                }
            }
        }
    }
    if borrowed.is_empty() {
        return;
    }
    // A name assigned anything else is not (only) a borrowed reference.
    borrowed.retain(|n| {
        !exprs
            .iter()
            .any(|e| matches!(&e.kind, ExprKind::Assign { lhs, .. } if lhs.as_ident() == Some(n)))
    });
    for e in &exprs {
        let ExprKind::Call { callee, args } = &e.kind else {
            continue;
        };
        let Some(callee) = callee.as_ident() else {
            continue;
        };
        for (i, a) in args.iter().enumerate() {
            let ExprKind::Cast { ty, expr } = &a.kind else {
                continue;
            };
            if ty.base != "void" || ty.pointers != 1 {
                continue;
            }
            let Some(name) = expr.as_ident() else {
                continue;
            };
            if !borrowed.contains(&name) || kept(&exprs, &locals, name) || !may_keep(cx, callee, i)
            {
                continue;
            }
            let message = Message::new(format!(
                "borrowed reference `{name}` is handed to `{callee}` as `void *` with no reference kept"
            ))
            .help(format!(
                "keep a reference for as long as C holds the pointer: store `Py_NewRef({name})` \
                 in a member or global, or `Py_INCREF` it and release it when C lets go"
            ));
            out.push(FileFinding::new(a.span, message).in_function(&f.name));
        }
    }
}

/// The function keeps a reference to `name`: increfs it (`Py_INCREF`, `Py_NewRef`), stores
/// it somewhere other than a local variable, or hands it to an API that keeps a reference.
fn kept(exprs: &[&Expr], locals: &HashSet<&str>, name: &str) -> bool {
    exprs.iter().any(|e| match &e.kind {
        ExprKind::Call { callee, args } => {
            let Some(callee) = callee.as_ident() else {
                return false;
            };
            let is_arg = |i: usize| args.get(i).and_then(|a| a.as_ident()) == Some(name);
            if let Some(m) = lookup_macro(callee) {
                return match m {
                    MacroKind::IncRef { .. } | MacroKind::NewRef { .. } => is_arg(0),
                    MacroKind::SetRef { .. } => is_arg(1),
                    _ => false,
                };
            }
            let Some(c) = cpycheck_contracts::lookup(callee) else {
                return false;
            };
            (0..args.len()).any(|i| {
                is_arg(i)
                    && matches!(
                        c.args.get(i),
                        Some(ArgEffect::Store | ArgEffect::Steal | ArgEffect::StealOnSuccess)
                    )
            })
        }
        ExprKind::Assign { lhs, rhs, .. } => {
            rhs.as_ident() == Some(name) && lhs.as_ident().is_none_or(|n| !locals.contains(n))
        }
        _ => false,
    })
}

/// A call of `callee` may keep the pointer passed as argument `arg` after it returns.
fn may_keep(cx: &FileContext<'_>, callee: &str, arg: usize) -> bool {
    if cpycheck_contracts::lookup(callee).is_some()
        || lookup_macro(callee).is_some()
        || cpycheck_contracts::lifecycle::uses_pointer_only_during_call(callee)
        || is_file_macro(cx.source, callee)
    {
        return false;
    }
    match cx.model.functions.iter().find(|f| f.name == callee) {
        // A C function seen only through its header.
        None => true,
        Some(f) => stores_param(f, arg),
    }
}

/// The file defines `name` as a macro: what it expands to is not known here.
fn is_file_macro(source: &str, name: &str) -> bool {
    source.match_indices(name).any(|(i, _)| {
        let before = source[..i].trim_end_matches([' ', '\t']);
        before.ends_with("define")
            && source[i + name.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == '(' || c == ' ' || c == '\t')
    })
}

/// The body of `f` stores its parameter `arg` somewhere other than a local variable
/// (`lib->userdata = data;`, `saved = data;` for a global).
fn stores_param(f: &Function, arg: usize) -> bool {
    let Some(param) = f.params.get(arg).and_then(|p| p.name.as_deref()) else {
        return false;
    };
    let mut locals: HashSet<&str> = f.params.iter().filter_map(|p| p.name.as_deref()).collect();
    for_each_stmt(&f.body, &mut |s| {
        if let StmtKind::Decl(decls) = &s.kind {
            locals.extend(
                decls
                    .iter()
                    .filter(|d| !d.is_static)
                    .map(|d| d.name.as_str()),
            );
        }
    });
    expressions(&f.body).iter().any(|e| {
        let ExprKind::Assign { lhs, rhs, .. } = &e.kind else {
            return false;
        };
        rhs.as_ident() == Some(param) && lhs.as_ident().is_none_or(|n| !locals.contains(n))
    })
}

/// Every expression of the body, nested ones included (bounded).
fn expressions(body: &[Stmt]) -> Vec<&Expr> {
    let mut roots: Vec<&Expr> = Vec::new();
    for_each_stmt(body, &mut |s| match &s.kind {
        StmtKind::Expr(e) | StmtKind::Return(Some(e)) => roots.push(e),
        StmtKind::Decl(decls) => roots.extend(decls.iter().filter_map(|d| d.init.as_ref())),
        StmtKind::If { cond, .. }
        | StmtKind::While { cond, .. }
        | StmtKind::DoWhile { cond, .. }
        | StmtKind::Switch { cond, .. } => roots.push(cond),
        StmtKind::For { cond, update, .. } => roots.extend(cond.iter().chain(update.iter())),
        _ => {}
    });
    let mut out = Vec::new();
    let mut stack: Vec<&Expr> = roots.into_iter().rev().collect();
    while let Some(e) = stack.pop() {
        if out.len() > MAX_NODES {
            break;
        }
        out.push(e);
        match &e.kind {
            ExprKind::Call { callee, args } => {
                stack.push(callee);
                stack.extend(args.iter());
            }
            ExprKind::Assign { lhs, rhs, .. } | ExprKind::Binary { lhs, rhs, .. } => {
                stack.push(lhs);
                stack.push(rhs);
            }
            ExprKind::Unary { operand: x, .. }
            | ExprKind::Member { base: x, .. }
            | ExprKind::Cast { expr: x, .. } => stack.push(x),
            ExprKind::Index { base, index } => {
                stack.push(base);
                stack.push(index);
            }
            ExprKind::Cond { cond, then, els } => {
                stack.push(cond);
                stack.push(then);
                stack.push(els);
            }
            ExprKind::Comma(v) | ExprKind::InitList(v) => stack.extend(v.iter()),
            _ => {}
        }
    }
    out
}

/// Calls `f` on every statement, nested ones included (iterative, bounded).
fn for_each_stmt<'s>(body: &'s [Stmt], f: &mut dyn FnMut(&'s Stmt)) {
    let mut stack: Vec<&'s Stmt> = body.iter().rev().collect();
    let mut seen = 0usize;
    while let Some(s) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return;
        }
        f(s);
        match &s.kind {
            StmtKind::If { then, els, .. } => {
                if let Some(e) = els {
                    stack.push(e);
                }
                stack.push(then);
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
            StmtKind::Case { body, .. } | StmtKind::Block(body) => stack.extend(body.iter().rev()),
            StmtKind::Labeled { stmt, .. } => stack.push(stmt),
            _ => {}
        }
    }
}
