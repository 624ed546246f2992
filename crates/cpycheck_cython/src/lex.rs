//! Masking, logical lines and tokens.
//!
//! The masked text has the length of the file: string contents, comments and non-ASCII bytes
//! become spaces (the quotes stay, so a string is still a token), and newlines inside strings
//! become spaces too. It is pure ASCII, so every slice of it is valid.

use cpycheck_source::Span;

/// Masks `text` (see the module docs).
pub(crate) fn mask(text: &str) -> Vec<u8> {
    let src = text.as_bytes();
    let mut out: Vec<u8> = src
        .iter()
        .map(|&b| if b.is_ascii() { b } else { b' ' })
        .collect();
    let n = src.len();
    let mut i = 0;
    while i < n {
        match src[i] {
            b'#' => {
                while i < n && src[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                let triple = i + 2 < n && src[i + 1] == q && src[i + 2] == q;
                let open = if triple { 3 } else { 1 };
                i += open;
                loop {
                    if i >= n {
                        break;
                    }
                    let b = src[i];
                    if b == b'\\' {
                        out[i] = b' ';
                        if i + 1 < n {
                            out[i + 1] = b' ';
                        }
                        i += 2;
                        continue;
                    }
                    if b == q && (!triple || (i + 2 < n && src[i + 1] == q && src[i + 2] == q)) {
                        i += open;
                        break;
                    }
                    if b == b'\n' && !triple {
                        // Unterminated single-quoted string: stop at the line end.
                        break;
                    }
                    out[i] = b' ';
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// One logical line: physical lines joined by open brackets or a trailing backslash.
#[derive(Clone, Debug)]
pub struct Line {
    pub span: Span,
    /// Indentation of the first physical line, in columns (a tab advances to the next
    /// multiple of 8).
    pub indent: usize,
    pub tokens: Vec<Token>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokKind {
    Ident,
    Number,
    Str,
    Punct,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub kind: TokKind,
    pub span: Span,
    pub text: String,
}

impl Token {
    pub fn is(&self, s: &str) -> bool {
        self.text == s
    }
}

const KEYWORD_STARTS: &[&[u8]] = &[
    b"def ",
    b"cdef ",
    b"cpdef ",
    b"class ",
    b"@",
    b"ctypedef ",
    b"from ",
    b"import ",
];

/// Splits the masked text into logical lines; blank lines are dropped.
pub(crate) fn logical_lines(masked: &[u8]) -> Vec<Line> {
    let n = masked.len();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut depth: usize = 0;
    let mut i = 0;
    while i <= n {
        let at_end = i == n;
        let b = if at_end { b'\n' } else { masked[i] };
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => {
                let continued = i > 0 && masked[i - 1] == b'\\';
                // Unbalanced brackets must not swallow the rest of the file: a definition at
                // column 0 starts a new line whatever the depth.
                let next = &masked[(i + 1).min(n)..];
                if depth > 0 && KEYWORD_STARTS.iter().any(|k| next.starts_with(k)) {
                    depth = 0;
                }
                if at_end || (depth == 0 && !continued) {
                    push_line(masked, start, i, &mut lines);
                    start = i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    lines
}

fn push_line(masked: &[u8], start: usize, end: usize, lines: &mut Vec<Line>) {
    let text = &masked[start..end];
    let mut indent = 0;
    let mut first = None;
    for (k, &b) in text.iter().enumerate() {
        match b {
            b' ' => indent += 1,
            b'\t' => indent = (indent / 8 + 1) * 8,
            b'\x0c' | b'\r' => {}
            _ => {
                first = Some(k);
                break;
            }
        }
    }
    let Some(first) = first else { return };
    let tokens = tokenize(masked, start + first, end);
    if tokens.is_empty() {
        return;
    }
    let last = tokens.last().map_or(start, |t| t.span.end as usize);
    lines.push(Line {
        span: Span::new(start + first, last),
        indent,
        tokens,
    });
}

const TWO_CHAR: &[&[u8; 2]] = &[
    b"==", b"!=", b"<=", b">=", b"->", b"**", b"//", b"+=", b"-=", b"*=", b"/=", b"|=", b"&=",
    b"<<", b">>", b":=",
];

/// Tokens of `masked[start..end]`.
pub(crate) fn tokenize(masked: &[u8], start: usize, end: usize) -> Vec<Token> {
    let end = end.min(masked.len());
    let mut out: Vec<Token> = Vec::new();
    let mut i = start;
    let text = |a: usize, b: usize| String::from_utf8_lossy(&masked[a..b]).into_owned();
    while i < end {
        let b = masked[i];
        if b.is_ascii_whitespace() || b == b'\\' {
            i += 1;
            continue;
        }
        if b.is_ascii_alphabetic() || b == b'_' {
            let s = i;
            while i < end && (masked[i].is_ascii_alphanumeric() || masked[i] == b'_') {
                i += 1;
            }
            let word = &masked[s..i];
            let is_prefix = word.len() <= 3
                && word.iter().all(|c| b"rbufcRBUFC".contains(c))
                && i < end
                && (masked[i] == b'"' || masked[i] == b'\'');
            if is_prefix {
                let e = string_end(masked, i, end);
                out.push(Token {
                    kind: TokKind::Str,
                    span: Span::new(s, e),
                    text: "\"\"".to_string(),
                });
                i = e;
            } else {
                out.push(Token {
                    kind: TokKind::Ident,
                    span: Span::new(s, i),
                    text: text(s, i),
                });
            }
            continue;
        }
        if b.is_ascii_digit() {
            let s = i;
            while i < end
                && (masked[i].is_ascii_alphanumeric() || masked[i] == b'.' || masked[i] == b'_')
            {
                i += 1;
            }
            out.push(Token {
                kind: TokKind::Number,
                span: Span::new(s, i),
                text: text(s, i),
            });
            continue;
        }
        if b == b'"' || b == b'\'' {
            let e = string_end(masked, i, end);
            out.push(Token {
                kind: TokKind::Str,
                span: Span::new(i, e),
                text: "\"\"".to_string(),
            });
            i = e;
            continue;
        }
        let len = if i + 1 < end && TWO_CHAR.iter().any(|t| t[0] == b && t[1] == masked[i + 1]) {
            2
        } else {
            1
        };
        out.push(Token {
            kind: TokKind::Punct,
            span: Span::new(i, i + len),
            text: text(i, i + len),
        });
        i += len;
    }
    out
}

/// End of the (masked) string starting at the quote `start`.
fn string_end(masked: &[u8], start: usize, end: usize) -> usize {
    let q = masked[start];
    let triple = start + 2 < end && masked[start + 1] == q && masked[start + 2] == q;
    let open = if triple { 3 } else { 1 };
    let mut i = start + open;
    while i < end {
        if masked[i] == q && (!triple || (i + 2 < end && masked[i + 1] == q && masked[i + 2] == q))
        {
            return (i + open).min(end);
        }
        i += 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_strings_and_comments_keeping_length() {
        let src = "x = 'a#b' # c\ny = \"\"\"doc\n<void*>z\"\"\"\n";
        let m = mask(src);
        assert_eq!(m.len(), src.len());
        let s = String::from_utf8(m).unwrap();
        assert!(!s.contains("void"));
        assert!(!s.contains('#'));
        assert!(s.starts_with("x = '   '"));
    }

    #[test]
    fn joins_bracketed_lines() {
        let src = "def f(a,\n      b):\n    return <void*>a\n";
        let lines = logical_lines(&mask(src));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].indent, 4);
        let texts: Vec<&str> = lines[1].tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["return", "<", "void", "*", ">", "a"]);
    }

    #[test]
    fn unbalanced_brackets_do_not_swallow_the_file() {
        let src = "x = f(\ndef g():\n    pass\n";
        let lines = logical_lines(&mask(src));
        assert_eq!(lines.len(), 3);
    }
}
