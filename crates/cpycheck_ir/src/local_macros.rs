//! The file's own macros, expanded where they are used.
//!
//! Extension code wraps ownership operations in macros of its own (`#define INITERR return
//! NULL`, `#define CLEANUP() do { Py_DECREF(a); Py_DECREF(b); } while (0)`, and all of
//! Cython's `__Pyx_DECREF`/`__Pyx_GOTREF` family). Source prep blanks `#define` lines, so the
//! analysis would otherwise see an unknown call. Here each macro body is parsed once (all
//! bodies of a file in one parse) and expanded at its uses by substituting the arguments;
//! every node of an expansion carries the span of the use, so findings point at the user's
//! text.
//!
//! The macros of the package headers the file includes are here too, placed at their
//! `#include`. A use sees the last definition before it, as in C: a file's own `#define`
//! after the `#include` wins over the header's, and an `#undef` ends a definition.

use cpycheck_syntax::{Expr, ExprKind, Function, Span, Stmt, StmtKind};
use std::collections::{HashMap, HashSet};

/// How deep macros are followed through the macros their bodies use.
const MAX_NESTING: usize = 16;

/// A file-level `#define` (or one of an included header), as source prep found it.
pub struct DefineText<'a> {
    pub name: &'a str,
    pub params: Option<&'a [String]>,
    pub body: &'a str,
    /// The offset from which it is defined: its directive, or the `#include` that brought it.
    pub at: usize,
}

/// An `#undef`, as source prep found it.
pub struct UndefText<'a> {
    pub name: &'a str,
    /// The offset from which the name is undefined.
    pub at: usize,
    /// How many of the defines given to [`LocalMacros::new`] precede it.
    pub after: usize,
}

/// A macro's parameters (`None`: object-like) and body, as text.
type MacroText = (Option<Vec<String>>, String);

/// A macro whose body parsed as statements.
#[derive(Clone, Debug)]
pub struct LocalMacro {
    pub params: Option<Vec<String>>,
    pub body: Vec<Stmt>,
}

/// The expandable macros of one file, by name.
#[derive(Clone, Debug, Default)]
pub struct LocalMacros {
    /// Each name's definitions in order, by the offset where each starts: `None` for an
    /// `#undef` or a definition that cannot be expanded.
    map: HashMap<String, Vec<(usize, Option<LocalMacro>)>>,
    /// The names every macro's body mentions (all macros, expandable or not), for opaque
    /// statements that use them.
    names: HashMap<String, Vec<String>>,
    /// Macros whose expansion holds control flow (`return`, `goto`, ...), directly or
    /// through the macros they use.
    control_flow: HashSet<String>,
    /// The parameters and bodies of macros with control flow as text, by the offset where
    /// each starts (`None`: undefined there), for statements that parse only once expanded.
    texts: HashMap<String, Vec<(usize, Option<MacroText>)>>,
}

impl LocalMacros {
    /// Parses the bodies of `defines`. Macros that cpycheck understands natively (the macro
    /// table, the contracts table) are left alone, and so are bodies that do not parse as
    /// statements or use `#`/`##`.
    pub fn new<'a>(
        defines: impl IntoIterator<Item = DefineText<'a>>,
        undefs: impl IntoIterator<Item = UndefText<'a>>,
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
        let mut mentioned: HashMap<String, Vec<String>> = HashMap::new();
        let mut control_flow = HashSet::new();
        // (offset, order, name, index into `names` of an expandable body)
        let mut events: Vec<(usize, usize, String, Option<usize>)> = Vec::new();
        let mut text_events: Vec<(usize, usize, String, Option<MacroText>)> = Vec::new();
        let mut count = 0;
        for d in defines {
            count += 1;
            let order = 2 * count;
            let m = cpycheck_syntax::mentions(d.body);
            if m.control_flow {
                control_flow.insert(d.name.to_string());
            }
            if !m.names.is_empty() {
                mentioned
                    .entry(d.name.to_string())
                    .or_default()
                    .extend(m.names);
            }
            if skip(d.name) {
                continue;
            }
            text_events.push((
                d.at,
                order,
                d.name.to_string(),
                Some((d.params.map(<[String]>::to_vec), d.body.to_string())),
            ));
            if d.body.trim().is_empty()
                || d.body.contains('#')
                || d.params.is_some_and(|p| p.iter().any(|p| p == "..."))
            {
                events.push((d.at, order, d.name.to_string(), None));
                continue;
            }
            events.push((d.at, order, d.name.to_string(), Some(names.len())));
            // Each body becomes the body of a synthetic function; one parse for the file.
            src.push_str(&format!(
                "void __cpycheck_macro_{}(void) {{\n{}\n;}}\n",
                names.len(),
                separate_statement_macros(d.body, &statement_macros)
            ));
            names.push((d.name.to_string(), d.params.map(<[String]>::to_vec)));
        }
        for u in undefs {
            // After the `after`-th define, before the next one.
            events.push((u.at, 2 * u.after + 1, u.name.to_string(), None));
            text_events.push((u.at, 2 * u.after + 1, u.name.to_string(), None));
        }
        events.sort_by_key(|e| (e.0, e.1));
        text_events.sort_by_key(|e| (e.0, e.1));
        let mut map: HashMap<String, Vec<(usize, Option<LocalMacro>)>> = HashMap::new();
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
        let mut texts: HashMap<String, Vec<(usize, Option<MacroText>)>> = HashMap::new();
        for (at, _, name, text) in text_events {
            // Only macros with control flow: the others never make a function skipped.
            if control_flow.contains(&name) || texts.contains_key(&name) {
                texts.entry(name).or_default().push((at, text));
            }
        }
        let mut parsed: Vec<Option<LocalMacro>> = vec![None; names.len()];
        let model = if names.is_empty() {
            cpycheck_syntax::FileModel::default()
        } else {
            cpycheck_syntax::parse(&src)
        };
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
            let params = names[i].1.clone();
            let mut body = f.body;
            // Drop the `;` we appended.
            while matches!(body.last().map(|s| &s.kind), Some(StmtKind::Empty)) {
                body.pop();
            }
            if body.is_empty() {
                continue;
            }
            parsed[i] = Some(LocalMacro { params, body });
        }
        for (at, _, name, index) in events {
            let m = index.and_then(|i| parsed[i].take());
            let timeline = map.entry(name).or_default();
            // Only an expandable definition is worth a lookup.
            if m.is_some() || !timeline.is_empty() {
                timeline.push((at, m));
            }
        }
        map.retain(|_, timeline| timeline.iter().any(|(_, m)| m.is_some()));
        LocalMacros {
            map,
            names: mentioned,
            control_flow,
            texts,
        }
    }

    /// The statement `text` (at `at`) with the macros that hold control flow replaced by
    /// their bodies, when that makes it parse: `ARG_OPTIONAL ARG_bool(x);` with `#define
    /// ARG_OPTIONAL if (...) goto done; else`, or `EPILOG(NULL, usage, );` with an empty
    /// argument. Every node carries the span `at`.
    pub fn expand_statement(&self, text: &str, at: Span) -> Option<Vec<Stmt>> {
        let mut text = text.to_string();
        let mut changed = false;
        for _ in 0..4 {
            let (out, replaced) = self.expand_once(&text, at.start as usize)?;
            text = out;
            changed |= replaced;
            if !replaced {
                break;
            }
        }
        if !changed || has_hash(&text) {
            return None;
        }
        let model =
            cpycheck_syntax::parse(&format!("void __cpycheck_stmt(void) {{\n{text}\n;}}\n"));
        let [f] = model.functions.as_slice() else {
            return None;
        };
        if f.has_errors || f.opaque_regions > 0 {
            return None;
        }
        let s = Subst {
            map: HashMap::new(),
            at,
        };
        Some(f.body.iter().map(|st| s.stmt(st)).collect())
    }

    /// One round of [`Self::expand_statement`]: the text and whether anything was replaced.
    /// `None` when a use cannot be expanded (its arguments do not match).
    fn expand_once(&self, text: &str, at: usize) -> Option<(String, bool)> {
        let b = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut replaced = false;
        let mut i = 0;
        while i < b.len() {
            let (end, is_word) = piece_end(b, i);
            let piece = &text[i..end];
            i = end;
            if !is_word {
                out.push_str(piece);
                continue;
            }
            match self.text_at(piece, at) {
                Some((None, body)) => {
                    out.push(' ');
                    out.push_str(body);
                    out.push(' ');
                    replaced = true;
                }
                Some((Some(params), body)) => {
                    let (args, end) = call_args(text, i)?;
                    let args = if params.is_empty() && args.len() == 1 && args[0].is_empty() {
                        Vec::new()
                    } else {
                        args
                    };
                    if args.len() != params.len() || params.iter().any(|p| p == "...") {
                        return None;
                    }
                    out.push(' ');
                    out.push_str(&substitute(body, params, &args));
                    out.push(' ');
                    i = end;
                    replaced = true;
                }
                None => out.push_str(piece),
            }
        }
        Some((out, replaced))
    }

    fn text_at(&self, name: &str, at: usize) -> Option<&MacroText> {
        let timeline = self.texts.get(name)?;
        let i = timeline.partition_point(|(start, _)| *start <= at);
        timeline[..i].last()?.1.as_ref()
    }

    /// Whether an opaque statement of `f` uses a macro whose expansion holds control flow
    /// (and does not parse once its object-like macros are expanded): then its parse error
    /// is not confined to the statement, and `f` is not analysed. `source` is the file's
    /// text.
    pub fn opaque_hides_control_flow(&self, f: &Function, source: &str) -> bool {
        if f.opaque_regions == 0 {
            return false;
        }
        let mut stack: Vec<&Stmt> = f.body.iter().collect();
        while let Some(s) = stack.pop() {
            match &s.kind {
                StmtKind::Opaque { names, .. }
                    if names.iter().any(|n| self.has_control_flow(n))
                        && source
                            .get(s.span.start as usize..s.span.end as usize)
                            .is_none_or(|text| self.expand_statement(text, s.span).is_none()) =>
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

    /// The definition of `name` in force at offset `at`: the last one before it.
    pub fn get(&self, name: &str, at: usize) -> Option<&LocalMacro> {
        let timeline = self.map.get(name)?;
        let i = timeline.partition_point(|(start, _)| *start <= at);
        timeline[..i].last()?.1.as_ref()
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

/// The end of the string or character literal starting at `i`.
fn skip_literal(b: &[u8], mut i: usize) -> usize {
    let q = b[i];
    i += 1;
    while i < b.len() && b[i] != q && b[i] != b'\n' {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(b.len())
}

/// The arguments of a macro call whose name ends at `i` (trimmed), and the offset after its
/// `)`. `None` without a balanced argument list.
fn call_args(text: &str, mut i: usize) -> Option<(Vec<String>, usize)> {
    let b = text.as_bytes();
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if b.get(i) != Some(&b'(') {
        return None;
    }
    i += 1;
    let mut depth = 0usize;
    let mut args = Vec::new();
    let mut start = i;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                i = skip_literal(b, i);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' if depth == 0 => {
                args.push(text[start..i].trim().to_string());
                return Some((args, i + 1));
            }
            b')' | b']' | b'}' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => {
                args.push(text[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `body` with each parameter word replaced by its argument.
fn substitute(body: &str, params: &[String], args: &[String]) -> String {
    let b = body.as_bytes();
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < b.len() {
        let (end, is_word) = piece_end(b, i);
        let piece = &body[i..end];
        match params.iter().position(|p| is_word && p == piece) {
            Some(k) => out.push_str(&args[k]),
            None => out.push_str(piece),
        }
        i = end;
    }
    out
}

/// The end of the piece of text that starts at `i`, and whether it is a word: an
/// identifier, a string or character literal, or a run of other bytes.
fn piece_end(b: &[u8], i: usize) -> (usize, bool) {
    let c = b[i];
    if c.is_ascii_alphabetic() || c == b'_' {
        let mut j = i + 1;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        (j, true)
    } else if c == b'"' || c == b'\'' {
        (skip_literal(b, i), false)
    } else {
        (plain_run(b, i), false)
    }
}

/// The end of the run of bytes from `i` that starts no word and no literal (always past
/// `i`; every stop is an ASCII byte, so slices stay on character boundaries).
fn plain_run(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() && !(b[i].is_ascii_alphabetic() || matches!(b[i], b'_' | b'"' | b'\'')) {
        i += 1;
    }
    i
}

/// Whether `text` uses `#` or `##` outside string and character literals.
fn has_hash(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => i = skip_literal(b, i),
            b'#' => return true,
            _ => i += 1,
        }
    }
    false
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
