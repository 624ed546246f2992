//! Contracts the user writes down for functions whose behaviour cannot be inferred: their
//! own library's API seen only through a header, or a helper whose body is not analysed.
//!
//! The same words are used in a comment before the function (or its declaration),
//!
//! ```c
//! /* cpycheck: returns-borrowed */
//! static PyObject *lookup_cached(PyObject *key);
//!
//! /* cpycheck: steals(item), returns-status */
//! int stack_push(Stack *s, PyObject *item);
//! ```
//!
//! and in the configuration file:
//!
//! ```toml
//! [tool.cpycheck.contracts]
//! lookup_cached = "returns-borrowed"
//! stack_push = ["steals(item)", "returns-status"]
//! ```

use std::fmt;

/// One word of a user contract.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Annotation {
    /// `returns-new`: returns a new reference, or NULL with an exception set.
    ReturnsNew,
    /// `returns-borrowed`: returns a borrowed reference (or NULL).
    ReturnsBorrowed,
    /// `returns-status`: returns an `int` that is `-1` (with an exception set) on error.
    ReturnsStatus,
    /// `steals(p)`: takes over the caller's reference to parameter `p`, whatever happens.
    Steals(Param),
    /// `steals-on-success(p)`: takes over the reference only when the call succeeds.
    StealsOnSuccess(Param),
    /// `no-python`: never runs Python code (cannot free objects the caller borrows).
    NoPython,
}

/// A parameter, by name or by 1-based position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    Name(String),
    Position(usize),
}

impl Param {
    /// The 0-based index of this parameter in `params` (the function's parameter names).
    pub fn index(&self, params: &[&str]) -> Option<usize> {
        match self {
            Param::Name(n) => params.iter().position(|p| p == n),
            Param::Position(k) => (*k >= 1 && *k <= params.len()).then(|| k - 1),
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Name(n) => f.write_str(n),
            Param::Position(k) => write!(f, "{k}"),
        }
    }
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Annotation::ReturnsNew => f.write_str("returns-new"),
            Annotation::ReturnsBorrowed => f.write_str("returns-borrowed"),
            Annotation::ReturnsStatus => f.write_str("returns-status"),
            Annotation::Steals(p) => write!(f, "steals({p})"),
            Annotation::StealsOnSuccess(p) => write!(f, "steals-on-success({p})"),
            Annotation::NoPython => f.write_str("no-python"),
        }
    }
}

/// The words this module understands, for error messages and docs.
pub const KNOWN_ANNOTATIONS: &[&str] = &[
    "returns-new",
    "returns-borrowed",
    "returns-status",
    "steals(PARAM)",
    "steals-on-success(PARAM)",
    "no-python",
];

/// Parses one word: `returns-new`, `steals(item)`, `steals(2)`, ...
pub fn parse_annotation(word: &str) -> Result<Annotation, String> {
    let word = word.trim();
    let simple = match word {
        "returns-new" => Some(Annotation::ReturnsNew),
        "returns-borrowed" => Some(Annotation::ReturnsBorrowed),
        "returns-status" => Some(Annotation::ReturnsStatus),
        "no-python" => Some(Annotation::NoPython),
        _ => None,
    };
    if let Some(a) = simple {
        return Ok(a);
    }
    let with_param = |prefix: &str| -> Option<Result<Param, String>> {
        let inner = word
            .strip_prefix(prefix)?
            .strip_prefix('(')?
            .strip_suffix(')')?;
        let inner = inner.trim();
        Some(if let Ok(k) = inner.parse::<usize>() {
            if k == 0 {
                Err(format!("`{word}`: parameter positions start at 1"))
            } else {
                Ok(Param::Position(k))
            }
        } else if !inner.is_empty()
            && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !inner.starts_with(|c: char| c.is_ascii_digit())
        {
            Ok(Param::Name(inner.to_string()))
        } else {
            Err(format!(
                "`{word}`: expected a parameter name or a 1-based position"
            ))
        })
    };
    if let Some(p) = with_param("steals-on-success") {
        return p.map(Annotation::StealsOnSuccess);
    }
    if let Some(p) = with_param("steals") {
        return p.map(Annotation::Steals);
    }
    Err(format!(
        "unknown contract `{word}` (expected one of: {})",
        KNOWN_ANNOTATIONS.join(", ")
    ))
}

/// Parses a comma-separated list of words.
pub fn parse_annotations(text: &str) -> Result<Vec<Annotation>, String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(parse_annotation(&text[start..i])?);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !text[start..].trim().is_empty() || out.is_empty() {
        out.push(parse_annotation(&text[start..])?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            parse_annotations("returns-borrowed").unwrap(),
            [Annotation::ReturnsBorrowed]
        );
        assert_eq!(
            parse_annotations(" steals(item), returns-status ").unwrap(),
            [
                Annotation::Steals(Param::Name("item".into())),
                Annotation::ReturnsStatus
            ]
        );
        assert_eq!(
            parse_annotations("steals-on-success(2)").unwrap(),
            [Annotation::StealsOnSuccess(Param::Position(2))]
        );
        assert!(
            parse_annotations("returns-owned")
                .unwrap_err()
                .contains("unknown contract `returns-owned`")
        );
        assert!(parse_annotations("steals(0)").is_err());
        assert!(parse_annotations("steals()").is_err());
        assert!(parse_annotations("").is_err());
    }

    #[test]
    fn display_round_trips() {
        for w in [
            "returns-new",
            "steals(x)",
            "steals-on-success(3)",
            "no-python",
        ] {
            assert_eq!(parse_annotation(w).unwrap().to_string(), w);
        }
    }
}
