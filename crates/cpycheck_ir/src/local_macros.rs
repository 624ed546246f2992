//! The file's own macros, expanded where they are used.
//!
//! Extension code wraps ownership operations in macros of its own (`#define INITERR return
//! NULL`, `#define CLEANUP() do { Py_DECREF(a); Py_DECREF(b); } while (0)`, and all of
//! Cython's `__Pyx_DECREF`/`__Pyx_GOTREF` family). Source prep blanks `#define` lines, so the
//! analysis would otherwise see an unknown call. Here each macro body is parsed once (all
//! bodies of a file in one parse) and expanded at its uses by substituting the arguments;
//! every node of an expansion carries the span of the use, so findings point at the user's
//! text.

use cpycheck_syntax::{Expr, ExprKind, Function, Span, Stmt, StmtKind};
use std::collections::{HashMap, HashSet};

/// How deep macros are followed through the macros their bodies use.
const MAX_NESTING: usize = 16;

/// A file-level `#define`, as source prep found it.
pub struct DefineText<'a> {
    pub name: &'a str,
    pub params: Option<&'a [String]>,
    pub body: &'a str,
}

/// A macro whose body parsed as statements.
#[derive(Clone, Debug)]
pub struct LocalMacro {
    pub params: Option<Vec<String>>,
    pub body: Vec<Stmt>,
}

/// The expandable macros of one file, by name.
#[derive(Clone, Debug, Default)]
pub struct LocalMacros {
    map: HashMap<String, LocalMacro>,
    /// The names every macro's body mentions (all macros, expandable or not), for opaque
    /// statements that use them.
    names: HashMap<String, Vec<String>>,
    /// Macros whose expansion holds control flow (`return`, `goto`, ...), directly or
    /// through the macros they use.
    control_flow: HashSet<String>,
}

impl LocalMacros {
    /// Parses the bodies of `defines`. Macros that cpycheck understands natively (the macro
    /// table, the contracts table) are left alone, and so are bodies that do not parse as
    /// statements or use `#`/`##`.
    pub fn new<'a>(
        defines: impl IntoIterator<Item = DefineText<'a>>,
        skip: impl Fn(&str) -> bool,
    ) -> LocalMacros {
        let defines: Vec<DefineText<'a>> = defines.into_iter().collect();
        // Macros whose body is a block: statements, used without a `;` inside other bodies
        // (Cython 3's `{ __PYX_MARK_ERR_POS(f, l) goto L; }`).
        let statement_macros: std::collections::HashSet<&str> = defines
            .iter()
            .filter(|d| {
                let body = d.body.trim();
                d.params.is_some() && body.starts_with('{') && body.ends_with('}')
            })
            .map(|d| d.name)
            .collect();
        let mut src = String::new();
        let mut names: Vec<(String, Option<Vec<String>>)> = Vec::new();
        let mut mentioned = HashMap::new();
        let mut control_flow = HashSet::new();
        for d in defines {
            let m = cpycheck_syntax::mentions(d.body);
            if m.control_flow {
                control_flow.insert(d.name.to_string());
            }
            if !m.names.is_empty() {
                mentioned.insert(d.name.to_string(), m.names);
            }
            if d.body.trim().is_empty() || d.body.contains('#') || skip(d.name) {
                continue;
            }
            if d.params.is_some_and(|p| p.iter().any(|p| p == "...")) {
                continue;
            }
            // Each body becomes the body of a synthetic function; one parse for the file.
            src.push_str(&format!(
                "void __cpycheck_macro_{}(void) {{\n{}\n;}}\n",
                names.len(),
                separate_statement_macros(d.body, &statement_macros)
            ));
            names.push((d.name.to_string(), d.params.map(<[String]>::to_vec)));
        }
        let mut map = HashMap::new();
        // Control flow through the macros a body uses (bounded: it only grows).
        for _ in 0..MAX_NESTING {
            let more: Vec<String> = mentioned
                .iter()
                .filter(|(name, used)| {
                    !control_flow.contains(*name) && used.iter().any(|u| control_flow.contains(u))
                })
                .map(|(name, _)| name.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            control_flow.extend(more);
        }
        if names.is_empty() {
            return LocalMacros {
                map,
                names: mentioned,
                control_flow,
            };
        }
        let model = cpycheck_syntax::parse(&src);
        for f in model.functions {
            let Some(i) = f
                .name
                .strip_prefix("__cpycheck_macro_")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if f.has_errors || f.opaque_regions > 0 || i >= names.len() {
                continue;
            }
            let (name, params) = names[i].clone();
            let mut body = f.body;
            // Drop the `;` we appended.
            while matches!(body.last().map(|s| &s.kind), Some(StmtKind::Empty)) {
                body.pop();
            }
            if body.is_empty() {
                continue;
            }
            map.insert(name, LocalMacro { params, body });
        }
        LocalMacros {
            map,
            names: mentioned,
            control_flow,
        }
    }

    /// Whether an opaque statement of `f` uses a macro whose expansion holds control flow:
    /// then its parse error is not confined to the statement, and `f` is not analysed.
    pub fn opaque_hides_control_flow(&self, f: &Function) -> bool {
        if f.opaque_regions == 0 {
            return false;
        }
        let mut stack: Vec<&Stmt> = f.body.iter().collect();
        while let Some(s) = stack.pop() {
            match &s.kind {
                StmtKind::Opaque { names, .. }
                    if names.iter().any(|n| self.has_control_flow(n)) =>
                {
                    return true;
                }
                StmtKind::If { then, els, .. } => {
                    stack.push(then);
                    stack.extend(els.as_deref());
                }
                StmtKind::While { body, .. }
                | StmtKind::DoWhile { body, .. }
                | StmtKind::Switch { body, .. } => stack.push(body),
                StmtKind::For { init, body, .. } => {
                    stack.extend(init.as_deref());
                    stack.push(body);
                }
                StmtKind::Case { body, .. } | StmtKind::Block(body) => stack.extend(body),
                StmtKind::Labeled { stmt, .. } => stack.push(stmt),
                _ => {}
            }
        }
        false
    }

    /// Whether the expansion of macro `name` may hold control flow.
    pub fn has_control_flow(&self, name: &str) -> bool {
        self.control_flow.contains(name)
    }

    /// The names the body of macro `name` mentions.
    pub fn names_in(&self, name: &str) -> &[String] {
        self.names.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn get(&self, name: &str) -> Option<&LocalMacro> {
        self.map.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// `STMT(a, b) goto L;` becomes `STMT(a, b); goto L;` when `STMT` is a statement macro:
/// a use without a `;` followed by another statement, which C parsers reject.
fn separate_statement_macros(
    body: &str,
    statement_macros: &std::collections::HashSet<&str>,
) -> String {
    let b = body.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = String::with_capacity(body.len() + 4);
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' || b[i] == b'\'' {
            // Skip a literal.
            let q = b[i];
            i += 1;
            while i < b.len() && b[i] != q {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if !is_ident(b[i]) || (i > 0 && is_ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        if !statement_macros.contains(&body[start..i]) {
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= b.len() || b[j] != b'(' {
            continue;
        }
        let mut depth = 0usize;
        while j < b.len() {
            match b[j] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        if j >= b.len() {
            break;
        }
        let close = j + 1;
        let mut k = close;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if k < b.len() && (is_ident(b[k]) || b[k] == b'{') {
            out.push_str(&body[last..close]);
            out.push(';');
            last = close;
        }
        i = close;
    }
    out.push_str(&body[last..]);
    out
}

impl LocalMacro {
    /// The body with parameters replaced by `args` and every span set to `at`. `None` when
    /// the argument count does not match.
    pub fn expand(&self, args: &[Expr], at: Span) -> Option<Vec<Stmt>> {
        let subst: HashMap<&str, &Expr> = match &self.params {
            Some(params) => {
                let n = if params.is_empty() && args.is_empty() {
                    0
                } else {
                    params.len()
                };
                if n != args.len() {
                    return None;
                }
                params.iter().map(String::as_str).zip(args.iter()).collect()
            }
            None => HashMap::new(),
        };
        let s = Subst { map: subst, at };
        Some(self.body.iter().map(|st| s.stmt(st)).collect())
    }

    /// The body as a single expression, when it is one (`#define NEW(x) PyLong_FromLong(x)`).
    pub fn as_expr(&self) -> Option<&Expr> {
        match self.body.as_slice() {
            [
                Stmt {
                    kind: StmtKind::Expr(e),
                    ..
                },
            ] => Some(e),
            _ => None,
        }
    }
}

struct Subst<'a> {
    map: HashMap<&'a str, &'a Expr>,
    at: Span,
}

impl Subst<'_> {
    fn stmt(&self, s: &Stmt) -> Stmt {
        let b = |s: &Stmt| Box::new(self.stmt(s));
        let kind = match &s.kind {
            StmtKind::Expr(e) => StmtKind::Expr(self.expr(e)),
            StmtKind::Decl(ds) => StmtKind::Decl(
                ds.iter()
                    .map(|d| {
                        let mut d = d.clone();
                        d.init = d.init.as_ref().map(|e| self.expr(e));
                        d.span = self.at;
                        d
                    })
                    .collect(),
            ),
            StmtKind::If { cond, then, els } => StmtKind::If {
                cond: self.expr(cond),
                then: b(then),
                els: els.as_ref().map(|e| b(e)),
            },
            StmtKind::While { cond, body } => StmtKind::While {
                cond: self.expr(cond),
                body: b(body),
            },
            StmtKind::DoWhile { body, cond } => StmtKind::DoWhile {
                body: b(body),
                cond: self.expr(cond),
            },
            StmtKind::For {
                init,
                cond,
                update,
                body,
            } => StmtKind::For {
                init: init.as_ref().map(|s| b(s)),
                cond: cond.as_ref().map(|e| self.expr(e)),
                update: update.as_ref().map(|e| self.expr(e)),
                body: b(body),
            },
            StmtKind::Switch { cond, body } => StmtKind::Switch {
                cond: self.expr(cond),
                body: b(body),
            },
            StmtKind::Case { value, body } => StmtKind::Case {
                value: value.as_ref().map(|e| self.expr(e)),
                body: body.iter().map(|s| self.stmt(s)).collect(),
            },
            StmtKind::Labeled { label, stmt } => StmtKind::Labeled {
                label: label.clone(),
                stmt: b(stmt),
            },
            StmtKind::Block(items) => StmtKind::Block(items.iter().map(|s| self.stmt(s)).collect()),
            StmtKind::Return(e) => StmtKind::Return(e.as_ref().map(|e| self.expr(e))),
            other => other.clone(),
        };
        Stmt {
            kind,
            span: self.at,
        }
    }

    fn expr(&self, e: &Expr) -> Expr {
        let b = |e: &Expr| Box::new(self.expr(e));
        let kind = match &e.kind {
            ExprKind::Ident(name) => {
                if let Some(arg) = self.map.get(name.as_str()) {
                    return (*arg).clone();
                }
                ExprKind::Ident(name.clone())
            }
            ExprKind::Call { callee, args } => ExprKind::Call {
                callee: b(callee),
                args: args.iter().map(|a| self.expr(a)).collect(),
            },
            ExprKind::Assign { op, lhs, rhs } => ExprKind::Assign {
                op: *op,
                lhs: b(lhs),
                rhs: b(rhs),
            },
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: b(lhs),
                rhs: b(rhs),
            },
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: b(operand),
            },
            ExprKind::Member { base, field, arrow } => ExprKind::Member {
                base: b(base),
                // `s.member` with `member` a parameter names the field the argument names
                // (numpy's `INTERN_STRING(array, "__array__")`).
                field: match self.map.get(field.as_str()).map(|a| &a.kind) {
                    Some(ExprKind::Ident(name)) => name.clone(),
                    _ => field.clone(),
                },
                arrow: *arrow,
            },
            ExprKind::Index { base, index } => ExprKind::Index {
                base: b(base),
                index: b(index),
            },
            ExprKind::Cast { ty, expr } => ExprKind::Cast {
                ty: ty.clone(),
                expr: b(expr),
            },
            ExprKind::Cond { cond, then, els } => ExprKind::Cond {
                cond: b(cond),
                then: b(then),
                els: b(els),
            },
            ExprKind::Comma(items) => ExprKind::Comma(items.iter().map(|x| self.expr(x)).collect()),
            ExprKind::InitList(items) => {
                ExprKind::InitList(items.iter().map(|x| self.expr(x)).collect())
            }
            // A string literal's text is read from the source by its span: an expansion has no
            // source text of its own, so the literal becomes unknown.
            ExprKind::Str => ExprKind::Unknown,
            other => other.clone(),
        };
        Expr {
            kind,
            span: self.at,
        }
    }
}
