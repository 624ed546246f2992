//! The format languages of `PyArg_ParseTuple` and `Py_BuildValue`, as far as ownership
//! cares: which variadic argument receives or passes an object, and how.

/// What one variadic argument of a `PyArg_Parse*` call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseArg {
    /// `O`, `S`, `U`, `Y`, the object of `O!`: receives a borrowed reference.
    BorrowedOut,
    /// The output of an `O&` converter: whatever the converter stores.
    ConverterOut,
    /// Any other argument (C values, the type of `O!`, the converter function, lengths).
    Other,
}

/// What one variadic argument of a `Py_BuildValue` call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildArg {
    /// `O`, `S`: the object is borrowed (the result holds a new reference of its own).
    Borrowed,
    /// `N`: the reference is stolen.
    Stolen,
    Other,
}

/// Parses a `PyArg_ParseTuple` format. `None` when the format is not understood.
pub fn parse_args_format(format: &str) -> Option<Vec<ParseArg>> {
    let b = format.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        let next = b.get(i).copied();
        match c {
            b':' | b';' => break,
            b'|' | b'$' | b'(' | b')' | b' ' => {}
            b'O' => match next {
                Some(b'!') => {
                    i += 1;
                    out.extend([ParseArg::Other, ParseArg::BorrowedOut]);
                }
                Some(b'&') => {
                    i += 1;
                    out.extend([ParseArg::Other, ParseArg::ConverterOut]);
                }
                _ => out.push(ParseArg::BorrowedOut),
            },
            b'S' | b'U' | b'Y' => out.push(ParseArg::BorrowedOut),
            b'e' => {
                // es, et, es#, et#: encoding, buffer[, length]
                if !matches!(next, Some(b's' | b't')) {
                    return None;
                }
                i += 1;
                out.extend([ParseArg::Other, ParseArg::Other]);
                if b.get(i) == Some(&b'#') {
                    i += 1;
                    out.push(ParseArg::Other);
                }
            }
            b's' | b'z' | b'y' | b'u' | b'Z' | b'w' => {
                out.push(ParseArg::Other);
                match b.get(i) {
                    Some(b'#') => {
                        i += 1;
                        out.push(ParseArg::Other);
                    }
                    Some(b'*') => i += 1,
                    _ => {}
                }
            }
            b'b' | b'B' | b'h' | b'H' | b'i' | b'I' | b'l' | b'k' | b'L' | b'K' | b'n' | b'c'
            | b'C' | b'f' | b'd' | b'D' | b'p' => out.push(ParseArg::Other),
            _ => return None,
        }
    }
    Some(out)
}

/// Parses a `Py_BuildValue` format. `None` when the format is not understood.
pub fn parse_build_format(format: &str) -> Option<Vec<BuildArg>> {
    let b = format.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'(' | b')' | b'[' | b']' | b'{' | b'}' | b',' | b':' | b' ' | b'\t' => {}
            b'O' | b'S' => {
                if b.get(i) == Some(&b'&') {
                    i += 1;
                    out.extend([BuildArg::Other, BuildArg::Other]);
                } else {
                    out.push(BuildArg::Borrowed);
                }
            }
            b'N' => out.push(BuildArg::Stolen),
            b's' | b'z' | b'u' | b'U' | b'y' => {
                out.push(BuildArg::Other);
                if b.get(i) == Some(&b'#') {
                    i += 1;
                    out.push(BuildArg::Other);
                }
            }
            b'i' | b'b' | b'h' | b'l' | b'B' | b'H' | b'I' | b'k' | b'L' | b'K' | b'n' | b'c'
            | b'C' | b'd' | b'f' | b'D' | b'p' => out.push(BuildArg::Other),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_formats() {
        use ParseArg::*;
        assert_eq!(parse_args_format("O|i:f"), Some(vec![BorrowedOut, Other]));
        assert_eq!(
            parse_args_format("O!O&s#"),
            Some(vec![Other, BorrowedOut, Other, ConverterOut, Other, Other])
        );
        assert_eq!(
            parse_args_format("es#(ii)"),
            Some(vec![Other, Other, Other, Other, Other])
        );
        assert_eq!(parse_args_format("s*y*"), Some(vec![Other, Other]));
        assert_eq!(parse_args_format("?"), None);
    }

    #[test]
    fn build_formats() {
        use BuildArg::*;
        assert_eq!(parse_build_format("(NO)"), Some(vec![Stolen, Borrowed]));
        assert_eq!(
            parse_build_format("{s:i,s:N}"),
            Some(vec![Other, Other, Other, Stolen])
        );
        assert_eq!(
            parse_build_format("O&s#"),
            Some(vec![Other, Other, Other, Other])
        );
    }
}
