//! A small C tokenizer over prepared bytes: identifiers and punctuation with their offsets;
//! comments and whitespace skipped, literals kept as single tokens.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokKind {
    Ident,
    /// One punctuation byte.
    Punct,
    /// A number, string or character literal.
    Lit,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Tok {
    pub start: u32,
    pub end: u32,
    pub kind: TokKind,
}

pub(crate) fn tokenize(buf: &[u8]) -> Vec<Tok> {
    let n = buf.len();
    let mut out = Vec::with_capacity(n / 4);
    let mut i = 0;
    while i < n {
        let c = buf[i];
        let s = i;
        let kind = if c.is_ascii_whitespace() || !c.is_ascii() {
            i += 1;
            continue;
        } else if c == b'/' && buf.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < n && !(buf[i] == b'*' && buf.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(n);
            continue;
        } else if c == b'/' && buf.get(i + 1) == Some(&b'/') {
            while i < n && buf[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < n && (buf[i].is_ascii_alphanumeric() || buf[i] == b'_') {
                i += 1;
            }
            // `L"..."`, `u8'x'` prefixes are part of the literal.
            if i < n
                && (buf[i] == b'"' || buf[i] == b'\'')
                && matches!(&buf[s..i], b"L" | b"u" | b"U" | b"u8")
            {
                i = skip_quoted(buf, i);
                TokKind::Lit
            } else {
                TokKind::Ident
            }
        } else if c.is_ascii_digit()
            || (c == b'.' && buf.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            while i < n
                && (buf[i].is_ascii_alphanumeric()
                    || buf[i] == b'.'
                    || buf[i] == b'\''
                    || buf[i] == b'_')
            {
                i += 1;
            }
            TokKind::Lit
        } else if c == b'"' || c == b'\'' {
            i = skip_quoted(buf, i);
            TokKind::Lit
        } else {
            i += 1;
            TokKind::Punct
        };
        out.push(Tok {
            start: s as u32,
            end: i as u32,
            kind,
        });
    }
    out
}

/// End of the string or character literal starting at `i` (stops at an unescaped newline).
fn skip_quoted(buf: &[u8], mut i: usize) -> usize {
    let q = buf[i];
    i += 1;
    while i < buf.len() && buf[i] != q {
        if buf[i] == b'\n' {
            return i;
        }
        if buf[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(buf.len())
}
