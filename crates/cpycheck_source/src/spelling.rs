//! Spellings of C that the parser does not read, rewritten in place to ones it reads, each
//! the same length as what it replaces (source prep's invariant).

use crate::lex::{TokKind, tokenize};
use crate::prep::write_padded;

/// Spellings the C parser does not know, rewritten to ones it knows, same length: a line
/// continuation written with a CRLF line end (`\\` CR LF) becomes space, `\\`, LF (in a
/// string literal the string gains a space); the digraphs `<%` `%>` `<:` `:>` become
/// `{` `}` `[` `]` and a space (not `<::`, which C++ reads as `<` `::`).
pub(crate) fn respell(buf: &mut [u8]) {
    let mut i = 0;
    while let Some(at) = buf[i..]
        .windows(3)
        .position(|w| w == b"\\\r\n")
        .map(|p| i + p)
    {
        buf[at] = b' ';
        buf[at + 1] = b'\\';
        i = at + 3;
    }
    if !buf
        .windows(2)
        .any(|w| matches!(w, b"<%" | b"%>" | b"<:" | b":>"))
    {
        return;
    }
    let toks = tokenize(buf);
    for pair in toks.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.kind != TokKind::Punct || b.kind != TokKind::Punct || a.end != b.start {
            continue;
        }
        let (s, e) = (a.start as usize, b.start as usize);
        let with = match (buf[s], buf[e]) {
            (b'<', b'%') => b'{',
            (b'%', b'>') => b'}',
            (b'<', b':') if buf.get(e + 1) != Some(&b':') => b'[',
            (b':', b'>') => b']',
            _ => continue,
        };
        buf[s] = with;
        buf[e] = b' ';
    }
}

/// The operator names of `<iso646.h>`, written as the operators they stand for (padded
/// with spaces: every name is at least as long as its operator).
pub(crate) fn iso646_operators(buf: &mut [u8]) {
    const NAMES: &[(&str, &str)] = &[
        ("and", "&&"),
        ("and_eq", "&="),
        ("bitand", "&"),
        ("bitor", "|"),
        ("compl", "~"),
        ("not", "!"),
        ("not_eq", "!="),
        ("or", "||"),
        ("or_eq", "|="),
        ("xor", "^"),
        ("xor_eq", "^="),
    ];
    for t in tokenize(buf) {
        if t.kind != TokKind::Ident {
            continue;
        }
        let (s, e) = (t.start as usize, t.end as usize);
        if let Some((_, op)) = NAMES.iter().find(|(n, _)| n.as_bytes() == &buf[s..e]) {
            write_padded(buf, s, e, op);
        }
    }
}
