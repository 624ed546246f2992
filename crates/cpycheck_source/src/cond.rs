//! Evaluation of `#if` / `#elif` expressions with C preprocessor semantics: unknown
//! identifiers are 0, `defined X` asks the environment, arithmetic is on 64-bit integers.

/// What the evaluator needs to know about macros.
pub(crate) trait Env {
    fn is_defined(&self, name: &str) -> bool;
    /// The body of an object-like macro defined by the file, or a built-in value.
    fn object_value(&self, name: &str) -> Option<MacroValue<'_>>;
    /// True for a function-like macro (its invocation cannot be evaluated here).
    fn is_function_like(&self, name: &str) -> bool;
}

pub(crate) enum MacroValue<'a> {
    Int(i64),
    Body(&'a str),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(i64),
    Ident(String),
    Punct(&'static str),
}

const PUNCTS: &[&str] = &[
    "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "!", "~", "-", "+", "*", "/", "%",
    "<", ">", "&", "^", "|", "?", ":", ",",
];

fn lex(text: &str) -> Option<Vec<Tok>> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(text[s..i].to_string()));
        } else if c.is_ascii_digit() {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'\'') {
                i += 1;
            }
            out.push(Tok::Num(parse_int(&text[s..i])?));
        } else if c == b'\'' {
            let s = i;
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Num(char_lit(text.get(s..i.min(b.len()))?)?));
        } else {
            let p = PUNCTS.iter().find(|p| text[i..].starts_with(**p))?;
            out.push(Tok::Punct(p));
            i += p.len();
        }
    }
    Some(out)
}

/// The value of a C integer literal (`0x1F`, `010`, `0b1`, `1'000`, suffixes ignored), as
/// cpp reads it: the bits of the unsigned value.
pub fn parse_int(t: &str) -> Option<i64> {
    let t = t.replace('\'', "");
    let t = t.trim_end_matches(['u', 'U', 'l', 'L']);
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (b, 2)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    u64::from_str_radix(digits, radix).ok().map(|v| v as i64)
}

fn char_lit(t: &str) -> Option<i64> {
    let inner = t.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut chars = inner.chars();
    match chars.next()? {
        '\\' => {
            let rest: String = chars.collect();
            Some(match rest.as_str() {
                "n" => 10,
                "t" => 9,
                "r" => 13,
                "\\" => 92,
                "'" => 39,
                r if r.starts_with('x') => i64::from_str_radix(&r[1..], 16).ok()?,
                r => i64::from_str_radix(r, 8).ok()?,
            })
        }
        c => Some(c as i64),
    }
}

/// Maximum macro expansion depth and expression nesting inside one `#if`.
const MAX_NEST: u32 = 64;

struct Parser<'e, E: Env> {
    toks: Vec<Tok>,
    pos: usize,
    env: &'e E,
    nest: u32,
}

/// Evaluates a `#if` expression. `None` when it is malformed or uses a function-like macro.
pub(crate) fn eval<E: Env>(expr: &str, env: &E) -> Option<bool> {
    let toks = expand(lex(expr)?, env, &mut Vec::new(), 0)?;
    let mut p = Parser {
        toks,
        pos: 0,
        env,
        nest: 0,
    };
    let v = p.ternary()?;
    if p.pos != p.toks.len() {
        return None;
    }
    Some(v != 0)
}

/// Replaces object-like macros by their bodies (leaving `defined X` operands alone).
fn expand<E: Env>(
    toks: Vec<Tok>,
    env: &E,
    active: &mut Vec<String>,
    depth: u32,
) -> Option<Vec<Tok>> {
    if depth > MAX_NEST {
        return None;
    }
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if let Tok::Ident(name) = t {
            if name == "defined" {
                // Copy `defined X` / `defined ( X )` unexpanded.
                out.push(t.clone());
                i += 1;
                if toks.get(i) == Some(&Tok::Punct("(")) {
                    out.extend(toks.get(i..(i + 3).min(toks.len()))?.iter().cloned());
                    i += 3;
                } else if let Some(x) = toks.get(i) {
                    out.push(x.clone());
                    i += 1;
                }
                continue;
            }
            if !active.contains(name)
                && let Some(MacroValue::Body(body)) = env.object_value(name)
            {
                active.push(name.clone());
                let inner = expand(lex(body)?, env, active, depth + 1)?;
                active.pop();
                out.push(Tok::Punct("("));
                if inner.is_empty() {
                    out.push(Tok::Num(0));
                } else {
                    out.extend(inner);
                }
                out.push(Tok::Punct(")"));
                i += 1;
                continue;
            }
        }
        out.push(t.clone());
        i += 1;
    }
    Some(out)
}

impl<E: Env> Parser<'_, E> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ternary(&mut self) -> Option<i64> {
        self.nest += 1;
        if self.nest > MAX_NEST {
            return None;
        }
        let c = self.binary(0)?;
        let v = if self.eat("?") {
            let a = self.ternary()?;
            if !self.eat(":") {
                return None;
            }
            let b = self.ternary()?;
            if c != 0 { a } else { b }
        } else {
            c
        };
        self.nest -= 1;
        Some(v)
    }

    fn binary(&mut self, min_prec: u8) -> Option<i64> {
        let mut lhs = self.unary()?;
        while let Some(Tok::Punct(op)) = self.peek() {
            let op = *op;
            let Some(prec) = precedence(op) else { break };
            if prec < min_prec {
                break;
            }
            self.pos += 1;
            let rhs = self.binary(prec + 1)?;
            lhs = apply(op, lhs, rhs)?;
        }
        Some(lhs)
    }

    fn unary(&mut self) -> Option<i64> {
        self.nest += 1;
        if self.nest > MAX_NEST {
            return None;
        }
        let v = if self.eat("!") {
            (self.unary()? == 0) as i64
        } else if self.eat("-") {
            self.unary()?.wrapping_neg()
        } else if self.eat("+") {
            self.unary()?
        } else if self.eat("~") {
            !self.unary()?
        } else if self.eat("(") {
            let v = self.ternary()?;
            if !self.eat(")") {
                return None;
            }
            v
        } else {
            self.primary()?
        };
        self.nest -= 1;
        Some(v)
    }

    fn primary(&mut self) -> Option<i64> {
        let tok = self.peek()?.clone();
        self.pos += 1;
        match tok {
            Tok::Num(v) => Some(v),
            Tok::Ident(name) if name == "defined" => {
                let paren = self.eat("(");
                let Some(Tok::Ident(x)) = self.peek().cloned() else {
                    return None;
                };
                self.pos += 1;
                if paren && !self.eat(")") {
                    return None;
                }
                Some(self.env.is_defined(&x) as i64)
            }
            Tok::Ident(name) => {
                if matches!(self.peek(), Some(Tok::Punct("("))) {
                    if name.starts_with("__has_") {
                        self.skip_parens()?;
                        return Some(0);
                    }
                    // A function-like macro call: not evaluated here.
                    return None;
                }
                if self.env.is_function_like(&name) {
                    return None;
                }
                match self.env.object_value(&name) {
                    Some(MacroValue::Int(v)) => Some(v),
                    // Bodies were expanded before parsing; a body seen here is recursive.
                    Some(MacroValue::Body(_)) => Some(0),
                    None => Some(0),
                }
            }
            Tok::Punct(_) => None,
        }
    }

    fn skip_parens(&mut self) -> Option<()> {
        let mut depth = 0i32;
        loop {
            match self.peek()? {
                Tok::Punct("(") => depth += 1,
                Tok::Punct(")") => depth -= 1,
                _ => {}
            }
            self.pos += 1;
            if depth == 0 {
                return Some(());
            }
        }
    }
}

fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "|" => 3,
        "^" => 4,
        "&" => 5,
        "==" | "!=" => 6,
        "<" | ">" | "<=" | ">=" => 7,
        "<<" | ">>" => 8,
        "+" | "-" => 9,
        "*" | "/" | "%" => 10,
        _ => return None,
    })
}

fn apply(op: &str, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        "||" => (a != 0 || b != 0) as i64,
        "&&" => (a != 0 && b != 0) as i64,
        "|" => a | b,
        "^" => a ^ b,
        "&" => a & b,
        "==" => (a == b) as i64,
        "!=" => (a != b) as i64,
        "<" => (a < b) as i64,
        ">" => (a > b) as i64,
        "<=" => (a <= b) as i64,
        ">=" => (a >= b) as i64,
        "<<" => a.wrapping_shl(b as u32),
        ">>" => a.wrapping_shr(b as u32),
        "+" => a.wrapping_add(b),
        "-" => a.wrapping_sub(b),
        "*" => a.wrapping_mul(b),
        "/" => a.checked_div(b)?,
        "%" => a.checked_rem(b)?,
        _ => return None,
    })
}

/// A simple environment for tests: a map of names to bodies.
#[cfg(test)]
pub(crate) struct MapEnv(pub std::collections::HashMap<String, String>);

#[cfg(test)]
impl Env for MapEnv {
    fn is_defined(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
    fn object_value(&self, name: &str) -> Option<MacroValue<'_>> {
        self.0.get(name).map(|b| MacroValue::Body(b))
    }
    fn is_function_like(&self, _: &str) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(expr: &str, defs: &[(&str, &str)]) -> Option<bool> {
        let env = MapEnv(
            defs.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        );
        eval(expr, &env)
    }

    #[test]
    fn arithmetic_and_logic() {
        assert_eq!(ev("1 + 2 * 3 == 7", &[]), Some(true));
        assert_eq!(ev("(1 + 2) * 3 == 7", &[]), Some(false));
        assert_eq!(ev("!0 && (3 > 2 || 0)", &[]), Some(true));
        assert_eq!(ev("0x030D00F0 >= 0x030C0000", &[]), Some(true));
        assert_eq!(ev("10UL / 3 == 3 && 10 % 3 == 1", &[]), Some(true));
        assert_eq!(
            ev("1 << 4 == 16 && (0xff & 0x0f) == 15 && (1 ^ 3) == 2", &[]),
            Some(true)
        );
        assert_eq!(ev("-1 < 0 && ~0 == -1", &[]), Some(true));
        assert_eq!(ev("'a' == 97 && '\\n' == 10", &[]), Some(true));
        assert_eq!(ev("1 ? 2 : 0", &[]), Some(true));
        assert_eq!(ev("0 ? 1 : 0", &[]), Some(false));
        assert_eq!(ev("010 == 8", &[]), Some(true));
    }

    #[test]
    fn defined_and_unknown_identifiers() {
        assert_eq!(ev("defined(FOO)", &[("FOO", "")]), Some(true));
        assert_eq!(
            ev("defined FOO && !defined(BAR)", &[("FOO", "")]),
            Some(true)
        );
        assert_eq!(ev("UNKNOWN", &[]), Some(false));
        assert_eq!(ev("UNKNOWN == 0", &[]), Some(true));
        assert_eq!(ev("V >= 3", &[("V", "(1 + 2)")]), Some(true));
        assert_eq!(ev("EMPTY + 1", &[("EMPTY", "")]), Some(true));
        assert_eq!(ev("__has_attribute(unused) || 0", &[]), Some(false));
    }

    #[test]
    fn malformed_is_none() {
        assert_eq!(ev("1 +", &[]), None);
        assert_eq!(ev("(1", &[]), None);
        assert_eq!(ev("", &[]), None);
        assert_eq!(ev("1 / 0", &[]), None);
        assert_eq!(ev("FOO(1)", &[]), None);
        assert_eq!(ev("@", &[]), None);
        assert_eq!(ev(&"(".repeat(10_000), &[]), None);
        assert_eq!(ev(&"!".repeat(10_000), &[]), None);
        assert_eq!(ev("A", &[("A", "B"), ("B", "A")]), Some(false));
    }
}
