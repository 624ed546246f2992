//! Questions the rules ask about statements: casts of objects to C pointers, calls around
//! them, assignments, and `self.attr` occurrences.

use crate::lex::{TokKind, Token};
use crate::model::Stmt;
use crate::parse::{matching, split_commas};
use cpycheck_source::Span;

/// What an object is cast to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastTarget {
    /// `<void*>`
    VoidPointer,
    /// `<PyObject*>`
    PyObjectPointer,
    /// `<object>`: from a C pointer to a Python object, taking a new reference of its own.
    Object,
}

impl CastTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            CastTarget::VoidPointer => "void *",
            CastTarget::PyObjectPointer => "PyObject *",
            CastTarget::Object => "object",
        }
    }
}

/// A cast `<void*>operand` in a statement.
#[derive(Clone, Debug)]
pub struct Cast {
    pub target: CastTarget,
    /// Index of the `<` token.
    pub start: usize,
    /// Index one past the operand's last token.
    pub end: usize,
    /// The operand as a dotted path (`obj`, `self.cb`), `None` when it is anything else (a
    /// call, a subscript, an expression).
    pub path: Option<Vec<String>>,
    /// From the `<` to the end of the operand.
    pub span: Span,
}

/// Every `<void*>x` / `<PyObject*>x` cast in `tokens`.
pub fn casts(tokens: &[Token]) -> Vec<Cast> {
    casts_to(tokens, |t| t != CastTarget::Object)
}

/// Every `<object>x` cast in `tokens` (also the checked form `<object?>x`).
pub fn object_casts(tokens: &[Token]) -> Vec<Cast> {
    casts_to(tokens, |t| t == CastTarget::Object)
}

fn casts_to(tokens: &[Token], wanted: impl Fn(CastTarget) -> bool) -> Vec<Cast> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        if !tokens[i].is("<") {
            continue;
        }
        let Some(close) = tokens[i + 1..].iter().take(6).position(|t| t.is(">")) else {
            continue;
        };
        let close = i + 1 + close;
        let ty: Vec<&str> = tokens[i + 1..close]
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        let target = match ty.as_slice() {
            ["void", "*"] => CastTarget::VoidPointer,
            ["PyObject", "*"] | ["cpython", ".", "PyObject", "*"] => CastTarget::PyObjectPointer,
            ["object"] | ["object", "?"] => CastTarget::Object,
            _ => continue,
        };
        if !wanted(target) {
            continue;
        }
        let (end, path) = operand(tokens, close + 1);
        if end <= close + 1 {
            continue;
        }
        out.push(Cast {
            target,
            start: i,
            end,
            path,
            span: Span::new(
                tokens[i].span.start as usize,
                tokens[end - 1].span.end as usize,
            ),
        });
    }
    out
}

/// The operand starting at `at`: its end and, when it is a plain dotted name, the path.
fn operand(tokens: &[Token], at: usize) -> (usize, Option<Vec<String>>) {
    let Some(first) = tokens.get(at) else {
        return (at, None);
    };
    if first.is("(") {
        let Some(close) = matching(tokens, at) else {
            return (at, None);
        };
        let (inner_end, path) = operand(tokens, at + 1);
        let path = if inner_end == close { path } else { None };
        return (close + 1, path);
    }
    if first.kind != TokKind::Ident {
        return (at, None);
    }
    let mut path = vec![first.text.clone()];
    let mut k = at + 1;
    let mut plain = true;
    loop {
        match tokens.get(k) {
            Some(t) if t.is(".") => match tokens.get(k + 1) {
                Some(n) if n.kind == TokKind::Ident => {
                    path.push(n.text.clone());
                    k += 2;
                }
                _ => break,
            },
            Some(t) if t.is("(") || t.is("[") => {
                plain = false;
                k = matching(tokens, k).map_or(tokens.len(), |e| e + 1);
            }
            _ => break,
        }
    }
    (k, plain.then_some(path))
}

/// The call whose argument list directly contains the token range `start..end` as one whole
/// argument: the callee's last name and the argument's index.
pub fn enclosing_call(tokens: &[Token], start: usize, end: usize) -> Option<(String, usize)> {
    // The nearest unmatched `(` to the left.
    let mut depth = 0usize;
    let mut open = None;
    for k in (0..start).rev() {
        match tokens[k].text.as_str() {
            ")" | "]" | "}" => depth += 1,
            "(" | "[" | "{" => {
                if depth == 0 {
                    open = Some(k);
                    break;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    let open = open?;
    if !tokens[open].is("(") || open == 0 || tokens[open - 1].kind != TokKind::Ident {
        return None;
    }
    let close = matching(tokens, open)?;
    let mut at = open + 1;
    for (index, arg) in split_commas(&tokens[open + 1..close])
        .into_iter()
        .enumerate()
    {
        if at == start && at + arg.len() == end {
            return Some((tokens[open - 1].text.clone(), index));
        }
        at += arg.len() + 1;
    }
    None
}

/// The index of the `)` that closes the call whose `(` is at `open`.
pub fn call_end(tokens: &[Token], open: usize) -> Option<usize> {
    if !tokens.get(open)?.is("(") {
        return None;
    }
    matching(tokens, open)
}

/// The calls in `tokens`: the callee's last name (`f` of `cpython.f(...)`), the index of its
/// `(`, and each argument as a token range.
pub fn calls(tokens: &[Token]) -> Vec<(usize, Vec<std::ops::Range<usize>>)> {
    let mut out = Vec::new();
    for open in 1..tokens.len() {
        if !tokens[open].is("(") || tokens[open - 1].kind != TokKind::Ident {
            continue;
        }
        let Some(close) = matching(tokens, open) else {
            continue;
        };
        let mut at = open + 1;
        let mut args = Vec::new();
        for arg in split_commas(&tokens[open + 1..close]) {
            args.push(at..at + arg.len());
            at += arg.len() + 1;
        }
        out.push((open, args));
    }
    out
}

/// `TARGET = VALUE` at the top level of a statement: the index of the `=`.
pub fn assignment(tokens: &[Token]) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            "=" if depth == 0 && t.kind == TokKind::Punct => return Some(i),
            _ => {}
        }
    }
    None
}

/// Occurrences of `base.NAME` in `tokens`: (index of `base`, NAME).
pub fn attribute_uses<'t>(tokens: &'t [Token], base: &str) -> Vec<(usize, &'t str)> {
    let mut out = Vec::new();
    for i in 0..tokens.len().saturating_sub(2) {
        let preceded_by_dot = i > 0 && tokens[i - 1].is(".");
        if tokens[i].is(base)
            && !preceded_by_dot
            && tokens[i + 1].is(".")
            && tokens[i + 2].kind == TokKind::Ident
        {
            out.push((i, tokens[i + 2].text.as_str()));
        }
    }
    out
}

/// True when `stmt` mentions the name `name` (not as an attribute of something else).
pub fn mentions(stmt: &Stmt, name: &str) -> bool {
    stmt.tokens
        .iter()
        .enumerate()
        .any(|(i, t)| t.is(name) && !(i > 0 && stmt.tokens[i - 1].is(".")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::{mask, tokenize};

    fn toks(s: &str) -> Vec<Token> {
        let m = mask(s);
        tokenize(&m, 0, m.len())
    }

    #[test]
    fn finds_casts_and_their_calls() {
        let t = toks("lib_store(h, <void*>obj, n)");
        let c = casts(&t);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path.as_deref(), Some(&["obj".to_string()][..]));
        assert_eq!(
            enclosing_call(&t, c[0].start, c[0].end),
            Some(("lib_store".into(), 1))
        );
        let t = toks("x = <PyObject*>(self.cb)");
        let c = casts(&t);
        assert_eq!(c[0].target, CastTarget::PyObjectPointer);
        assert_eq!(c[0].path.as_ref().unwrap().join("."), "self.cb");
        assert_eq!(assignment(&t), Some(1));
        let t = toks("f(<void*>g(x) + 1)");
        let c = casts(&t);
        assert!(c[0].path.is_none());
        assert_eq!(enclosing_call(&t, c[0].start, c[0].end), None);
        assert!(casts(&toks("if a < b > c: pass")).is_empty());
        assert!(casts(&toks("x = <char*>s")).is_empty());
        let t = toks("r = <object>PyObject_Str(o)");
        assert!(casts(&t).is_empty());
        let c = object_casts(&t);
        assert_eq!(c[0].target, CastTarget::Object);
        assert_eq!((c[0].start, c[0].end), (2, t.len()));
        assert!(c[0].path.is_none());
        assert_eq!(
            object_casts(&toks("r = <object?>p"))[0]
                .path
                .as_ref()
                .unwrap()[0],
            "p"
        );
    }

    #[test]
    fn finds_calls_and_arguments() {
        let t = toks("cpython.PyTuple_SET_ITEM(t, i + 1, f(x))");
        let c = calls(&t);
        assert_eq!(c.len(), 2);
        let (open, args) = &c[0];
        assert!(t[*open - 1].is("PyTuple_SET_ITEM"));
        assert_eq!(args.len(), 3);
        assert!(t[args[2].start].is("f") && t[args[2].end - 1].is(")"));
        assert!(t[c[1].0 - 1].is("f"));
    }

    #[test]
    fn finds_attribute_uses() {
        let t = toks("release(self.ctx.imp, other.self.x)");
        assert_eq!(attribute_uses(&t, "self"), [(2, "ctx")]);
    }
}
