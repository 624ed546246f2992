//! Function heads found by layout, without the parser: the cross-check that no function
//! definition of the file is silently absent from the model, and the places where error
//! recovery is cut so that a damaged function cannot swallow the ones after it.
//!
//! A head is a line that starts at column 0 with an identifier (not a statement keyword or
//! a label) and reads, skipping comments and literals, as declaration specifiers, a
//! declarator with a parameter list, and then a `{` (or, for an old-style K&R definition,
//! parameter declarations and then a `{`), without a `;`, `=`, `,` or `}` on the way. Brace
//! depth is not tracked, so an unbalanced brace earlier in the file (a macro that opens a
//! block, an `#if` arm) does not hide the heads after it; the price is that a column-0
//! macro call followed by a block inside a body also reads as a head, which only costs a
//! needless cut or a skipped entry, never a finding.

/// Keywords that start a statement or a declaration that is never a function definition.
const NOT_A_HEAD: &[&str] = &[
    "break", "case", "continue", "default", "do", "else", "for", "goto", "if", "return", "sizeof",
    "switch", "typedef", "while",
];

/// Words that take a parenthesised argument in a head without being its name.
const ATTRIBUTE_WORDS: &[&str] = &[
    "__attribute__",
    "__attribute",
    "__declspec",
    "_Alignas",
    "__asm__",
    "__asm",
    "asm",
];

/// How far past the head's first line its `{` may be.
const MAX_HEAD_BYTES: usize = 4096;

/// One function head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// The start of the head's first line.
    pub start: usize,
    /// The body's `{` (or the `<%` digraph).
    pub open: usize,
    /// The identifier before the parameter list, when there is one.
    pub name: Option<String>,
    /// An old-style definition: parameter names in the list, their declarations after it.
    pub k_and_r: bool,
    /// The body opens with the `<%` digraph.
    pub digraph: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok<'a> {
    Ident(&'a str),
    Punct(u8),
    /// `<%`
    OpenDigraph,
    /// A number, string or character literal.
    Literal,
}

/// A forward tokenizer over `src[at..]` that skips whitespace, comments and the contents
/// of literals.
struct Lexer<'a> {
    src: &'a [u8],
    at: usize,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Option<(usize, Tok<'a>)> {
        let b = self.src;
        loop {
            let c = *b.get(self.at)?;
            if c.is_ascii_whitespace() {
                self.at += 1;
            } else if b[self.at..].starts_with(b"/*") {
                self.at = find(b, self.at + 2, b"*/").map_or(b.len(), |i| i + 2);
            } else if b[self.at..].starts_with(b"//") {
                self.at = find(b, self.at, b"\n").unwrap_or(b.len());
            } else {
                break;
            }
        }
        let start = self.at;
        let c = b[start];
        if c.is_ascii_alphabetic() || c == b'_' {
            let end = b[start..]
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
                .map_or(b.len(), |i| start + i);
            self.at = end;
            // SAFETY of the slice: identifiers are ASCII, so these are char boundaries.
            let word = std::str::from_utf8(&b[start..end]).ok()?;
            return Some((start, Tok::Ident(word)));
        }
        if c.is_ascii_digit() {
            while self
                .src
                .get(self.at)
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_'))
            {
                self.at += 1;
            }
            return Some((start, Tok::Literal));
        }
        if c == b'"' || c == b'\'' {
            let mut i = start + 1;
            while i < b.len() && b[i] != c && b[i] != b'\n' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            self.at = (i + 1).min(b.len());
            return Some((start, Tok::Literal));
        }
        if b[start..].starts_with(b"<%") {
            self.at += 2;
            return Some((start, Tok::OpenDigraph));
        }
        self.at += 1;
        Some((start, Tok::Punct(c)))
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| from + i)
}

/// The function heads of a prepared text, in order, each body's `{` once. Only lines that
/// start outside comments and literals are looked at.
pub(crate) fn function_heads(text: &str) -> Vec<Head> {
    let b = text.as_bytes();
    let mut heads: Vec<Head> = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        let c = b[i];
        if line_start && (c.is_ascii_alphabetic() || c == b'_') {
            // A head on an earlier line that reaches past this one already covers it.
            let covered = heads.last().is_some_and(|h| h.open >= i);
            if !covered && let Some(mut head) = head_at(b, i) {
                head.start = specifiers_start(b, i);
                heads.push(head);
            }
        }
        line_start = false;
        match c {
            b'\n' => {
                line_start = true;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                // To the end of the line, continuation lines included.
                let mut j = i + 2;
                while j < b.len() && !(b[j] == b'\n' && b[j - 1] != b'\\') {
                    j += 1;
                }
                i = j;
            }
            b'"' | b'\'' => {
                // A literal ends at its quote or at a newline not escaped by a backslash.
                let mut j = i + 1;
                while j < b.len() && b[j] != c && b[j] != b'\n' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                i = (j + 1).min(b.len());
                line_start = j < b.len() && b[j] == b'\n';
            }
            _ => i += 1,
        }
    }
    heads
}

/// Where the declaration whose declarator line starts at `line` begins: up to three
/// lines before it that end with a word or `*` belong to it (`PyObject *` above the name,
/// or a type after a macro source prep blanked).
fn specifiers_start(b: &[u8], line: usize) -> usize {
    let mut start = line;
    for _ in 0..3 {
        if start == 0 {
            break;
        }
        let prev = b[..start - 1]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        let text = b[prev..start - 1].trim_ascii();
        let joins = text
            .last()
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'*');
        if !joins || text.starts_with(b"//") || text.ends_with(b"*/") {
            break;
        }
        start = prev;
    }
    start
}

/// The head that starts at `start` (a line start), if the text there reads as one.
fn head_at(b: &[u8], start: usize) -> Option<Head> {
    let mut lx = Lexer { src: b, at: start };
    let limit = start + MAX_HEAD_BYTES;
    let (_, first) = lx.next()?;
    let Tok::Ident(word) = first else {
        return None;
    };
    if NOT_A_HEAD.contains(&word) {
        return None;
    }
    let mut prev = first;
    let mut depth = 0u32;
    let mut name: Option<String> = None;
    // The identifiers in the first parameter list, and whether it held anything else.
    let mut groups = 0u32;
    let mut only_names = true;
    let mut list: Vec<&str> = Vec::new();
    let mut after_list: Option<Tok> = None;
    let mut k_and_r = false;
    let mut tok_count = 1usize;
    let mut prev2: Option<Tok> = None;
    loop {
        let before = lx.at;
        let (at, tok) = lx.next()?;
        if at > limit {
            return None;
        }
        // A blank line between two tokens outside parentheses ends the candidate: the
        // lines before it were something else (a macro use without `;`).
        if depth == 0 && blank_line_between(b, before, at) {
            return None;
        }
        if groups > 0
            && depth == 0
            && matches!(tok, Tok::Ident("static" | "extern" | "typedef" | "inline"))
        {
            return None;
        }
        tok_count += 1;
        if tok_count == 2 && tok == Tok::Punct(b':') {
            // `label:`
            return None;
        }
        if depth == 0 && groups > 0 && after_list.is_none() {
            after_list = Some(tok);
        }
        match tok {
            Tok::Punct(b'(') => {
                // `MAKE(a)` then `MAKE(b)`: two macro uses, not one head.
                if depth == 0
                    && groups > 0
                    && prev2 == Some(Tok::Punct(b')'))
                    && matches!(prev, Tok::Ident(w) if !ATTRIBUTE_WORDS.contains(&w))
                {
                    return None;
                }
                if depth == 0 {
                    if let Tok::Ident(w) = prev
                        && name.is_none()
                        && !ATTRIBUTE_WORDS.contains(&w)
                    {
                        name = Some(w.to_string());
                    }
                    if name.is_some() {
                        groups += 1;
                    }
                }
                depth += 1;
            }
            Tok::Punct(b')') => {
                depth = depth.checked_sub(1)?;
            }
            Tok::Punct(b'{') | Tok::OpenDigraph if depth == 0 => {
                if groups == 0 {
                    return None;
                }
                let closes_head = prev == Tok::Punct(b')') || (k_and_r && prev == Tok::Punct(b';'));
                // `) {`, or `int a; {` (K&R); not `MACRO(x) enum {`.
                if !closes_head {
                    return None;
                }
                return Some(Head {
                    start,
                    open: at,
                    name,
                    k_and_r,
                    digraph: tok == Tok::OpenDigraph,
                });
            }
            Tok::Punct(b';') if depth == 0 => {
                // An old-style definition: `f(a, b) int a; char *b; {`.
                // Each declaration declares a name of the list (`int a, *b;`).
                let old_style = groups == 1
                    && only_names
                    && matches!(after_list, Some(Tok::Ident(_)))
                    && matches!(prev, Tok::Ident(w) if list.contains(&w));
                if !old_style {
                    return None;
                }
                k_and_r = true;
            }
            Tok::Punct(b'=' | b',' | b'}') if depth == 0 => return None,
            Tok::Punct(b'{' | b'}' | b';') => return None,
            Tok::Ident(w) if depth == 1 && groups == 1 => list.push(w),
            Tok::Punct(b',') if depth == 1 && groups == 1 => {}
            _ if depth >= 1 && groups == 1 => only_names = false,
            _ => {}
        }
        prev2 = Some(prev);
        prev = tok;
    }
}

/// Whether `b[from..to]` (whitespace and comments) holds an empty line: nothing (or only
/// a CR) between two line ends. A line of spaces is not one: source prep leaves a
/// directive (`#endif` between an attribute and its function) as a line of spaces.
fn blank_line_between(b: &[u8], from: usize, to: usize) -> bool {
    let gap = &b[from..to];
    gap.windows(2).any(|w| w == b"\n\n") || gap.windows(3).any(|w| w == b"\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        function_heads(text)
            .into_iter()
            .map(|h| h.name.unwrap_or_default())
            .collect()
    }

    #[test]
    fn heads_of_the_common_layouts() {
        let text = "\
static PyObject *
f(PyObject *self, PyObject *args)
{
    return NULL;
}
static int g(void) {
    return 0;
}
PyMODINIT_FUNC PyInit_m(void) { return NULL; }
static PyObject *MOD_INIT(name)(void)
{
}
__attribute__((unused)) static int h(int (*cb)(void)) /* c { */ {
}
";
        assert_eq!(names(text), ["f", "g", "PyInit_m", "MOD_INIT", "h"]);
    }

    #[test]
    fn a_head_starts_with_its_specifiers() {
        let text = "/* c */\n        void\nf(int x)\n{\n}\n";
        assert_eq!(function_heads(text)[0].start, 8);
    }

    #[test]
    fn macro_uses_before_a_head_are_not_part_of_it() {
        let text = "MAKE(SAFE)\nMAKE(SAME_KIND)\n\n\nstatic int\ng(void)\n{\n}\nDL_EXPORT(int)\nh(void)\n{\n}\n";
        assert_eq!(names(text), ["g", "h"]);
        // A directive blanked by source prep is a line of spaces, not an empty line.
        let text = "__attribute__((destructor))\n      \nvoid shutdown(void) {\n}\n";
        assert_eq!(function_heads(text)[0].start, 0);
    }

    #[test]
    fn not_heads() {
        let text = "\
static PyMethodDef methods[] = {
    {\"f\", f, METH_NOARGS, NULL},
};
struct foo {
    int x;
};
typedef struct { int y; } Bar;
int proto(void);
int a, b(void);
extern \"C\" {
error:
if (x) {
}
static PyObject *fp = (PyObject *)(0);
";
        assert_eq!(names(text), Vec::<String>::new());
    }

    #[test]
    fn heads_in_comments_and_strings_are_not_heads() {
        let text = "\
/*
static int commented(void) {
}
*/
// int line_comment(void) { \\
int continued(void) {
PyDoc_STRVAR(doc, \"a\\n\\
b(x) { y\");
int real(void) {
}
";
        assert_eq!(names(text), ["real"]);
    }

    #[test]
    fn k_and_r_and_digraphs() {
        let text = "\
int
old(a, b)
    int a;
    char *b;
{
    return a;
}
int di(void) <%
    return 0;
%>
";
        let heads = function_heads(text);
        assert_eq!(heads.len(), 2);
        assert!(heads[0].k_and_r && heads[0].name.as_deref() == Some("old"));
        assert!(heads[1].digraph && heads[1].name.as_deref() == Some("di"));
    }

    #[test]
    fn a_prototype_with_old_style_look_is_not_a_head() {
        // `f(a) int b;`: no `{` follows before the next declaration's `=`.
        assert!(function_heads("f(a)\nint b = 1;\n").is_empty());
        // A macro-made declaration is not an old-style head either.
        assert!(function_heads("DL_EXPORT(PyTypeObject) T;\nint x[] = {1};\n").is_empty());
        // Nor a statement macro without `;` before a declaration.
        assert!(function_heads("G_DEFINE_TYPE (A, a, B)\nenum {\n X,\n};\n").is_empty());
    }
}
