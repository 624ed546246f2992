//! `/* cpycheck: returns-borrowed */` comments: contracts written in the source, before a
//! function's definition or declaration.

use cpycheck_contracts::annotation::{Annotation, parse_annotations};
use cpycheck_source::Span;

/// A contract comment and the function it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceContract {
    pub function: String,
    /// The parameter names of the declaration that follows the comment, in order.
    pub params: Vec<String>,
    pub annotations: Vec<Annotation>,
    /// The comment.
    pub span: Span,
}

/// A contract comment that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractError {
    pub span: Span,
    pub message: String,
}

/// Finds every `cpycheck:` contract comment in `text` (suppressions, `cpycheck: ignore...`,
/// are not contracts and are skipped).
pub fn source_contracts(text: &str) -> (Vec<SourceContract>, Vec<ContractError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let (body_start, body_end, end) = match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => match text[i + 2..].find("*/") {
                Some(k) => (i + 2, i + 2 + k, i + 2 + k + 2),
                None => break,
            },
            (b'/', b'/') => {
                let e = text[i..].find('\n').map_or(text.len(), |k| i + k);
                (i + 2, e, e)
            }
            (b'"', _) | (b'\'', _) => {
                i = skip_literal(bytes, i);
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let body = text[body_start..body_end].trim();
        if let Some(words) = body.strip_prefix("cpycheck:") {
            let words = words.trim();
            // Suppressions (`ignore`, `ignore[...]`, `ignore-file`, in any case) are read
            // by the configuration crate, which also reports malformed ones.
            if !words
                .get(..6)
                .is_some_and(|w| w.eq_ignore_ascii_case("ignore"))
            {
                let span = Span::new(i, end);
                match (parse_annotations(words), next_declarator(text, end)) {
                    (Ok(annotations), Some((function, params))) => out.push(SourceContract {
                        function,
                        params,
                        annotations,
                        span,
                    }),
                    (Err(message), _) => errors.push(ContractError { span, message }),
                    (Ok(_), None) => errors.push(ContractError {
                        span,
                        message: "no function declaration follows this contract".to_string(),
                    }),
                }
            }
        }
        i = end.max(i + 1);
    }
    (out, errors)
}

fn skip_literal(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
        if bytes[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The first `name(params)` after `from`, before any `;`, `{` or `}` that ends a
/// declaration: the function a contract comment is about.
fn next_declarator(text: &str, from: usize) -> Option<(String, Vec<String>)> {
    let rest = &text[from..];
    let stop = rest.find([';', '{', '}']).unwrap_or(rest.len());
    let head = &rest[..stop];
    let open = head.find('(')?;
    let name: String = head[..open]
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let close = head[open..].rfind(')')? + open;
    let params = head[open + 1..close]
        .split(',')
        .filter_map(|p| {
            let p = p.trim();
            if p == "void" || p == "..." || p.is_empty() {
                return None;
            }
            // The last identifier of the parameter is its name (`PyObject *item`,
            // `const char *name[]`).
            let p = p.trim_end_matches(|c: char| c == ']' || c == '[' || c.is_whitespace());
            let n: String = p
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Some(n)
        })
        .collect();
    Some((name, params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpycheck_contracts::annotation::Param;

    #[test]
    fn finds_contracts_before_definitions_and_declarations() {
        let text = r#"
/* cpycheck: returns-borrowed */
static PyObject *
lookup(PyObject *cache, PyObject *key)
{
    return NULL;
}

// cpycheck: steals(item), returns-status
int stack_push(Stack *s, PyObject *item);

/* cpycheck: ignore[CPY101] */
static const char *s = "/* cpycheck: returns-new */";
"#;
        let (found, errors) = source_contracts(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].function, "lookup");
        assert_eq!(found[0].params, ["cache", "key"]);
        assert_eq!(found[0].annotations, [Annotation::ReturnsBorrowed]);
        assert_eq!(found[1].function, "stack_push");
        assert_eq!(found[1].params, ["s", "item"]);
        assert_eq!(
            found[1].annotations,
            [
                Annotation::Steals(Param::Name("item".into())),
                Annotation::ReturnsStatus
            ]
        );
    }

    #[test]
    fn bad_contracts_are_errors() {
        let (found, errors) = source_contracts("/* cpycheck: returns-owned */\nint f(void);");
        assert!(found.is_empty());
        assert!(errors[0].message.contains("unknown contract"), "{errors:?}");
        let (_, errors) = source_contracts("/* cpycheck: returns-new */\nint x;");
        assert!(errors[0].message.contains("no function declaration"));
    }
}
