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

use self::Scalar as S;

/// A C scalar type named by a format unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    Char,
    UChar,
    Short,
    UShort,
    Int,
    UInt,
    Long,
    ULong,
    LongLong,
    ULongLong,
    SsizeT,
    Float,
    Double,
}

impl Scalar {
    /// The C spelling, for messages.
    pub fn c_name(self) -> &'static str {
        match self {
            Scalar::Char => "char",
            Scalar::UChar => "unsigned char",
            Scalar::Short => "short",
            Scalar::UShort => "unsigned short",
            Scalar::Int => "int",
            Scalar::UInt => "unsigned int",
            Scalar::Long => "long",
            Scalar::ULong => "unsigned long",
            Scalar::LongLong => "long long",
            Scalar::ULongLong => "unsigned long long",
            Scalar::SsizeT => "Py_ssize_t",
            Scalar::Float => "float",
            Scalar::Double => "double",
        }
    }
}

/// What one variadic argument of a format unit must be. For `PyArg_Parse*` the argument
/// is a pointer to the C type described; for `Py_BuildValue` it is the value itself (after
/// C's default promotions: `char`/`short` pass as `int`, `float` as `double`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    Scalar(Scalar),
    /// A Python object (`PyObject *`); `stolen` for `Py_BuildValue`'s `N`.
    Object {
        stolen: bool,
    },
    /// A C string (`const char *`).
    Chars,
    /// A `Py_buffer`.
    Buffer,
    /// The type of `O!` (`PyTypeObject *`).
    Type,
    /// The converter of `O&`, and the pointer passed to it.
    Converter,
    ConverterData,
    /// The length of a `#` unit (`Py_ssize_t`, or `int` without `PY_SSIZE_T_CLEAN` before 3.10).
    Length,
    /// The encoding and buffer of `es`/`et`.
    Encoding,
    EncodedBuffer,
    /// Units this reader does not type (`u`, `Z`, `D`, ...).
    Other,
}

/// One format unit (`O!`, `s#`, `i`) and the arguments it consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub text: String,
    pub args: Vec<FormatArg>,
}

/// Reads a `PyArg_ParseTuple`-family format up to `:` or `;`. `None` when the format is not
/// understood.
pub fn parse_units(format: &str) -> Option<Vec<Unit>> {
    use FormatArg::*;
    let b = format.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        i += 1;
        let next = b.get(i).copied();
        let args: Vec<FormatArg> = match c {
            b':' | b';' => break,
            b'|' | b'$' | b'(' | b')' | b' ' => continue,
            b'O' => match next {
                Some(b'!') => {
                    i += 1;
                    vec![Type, Object { stolen: false }]
                }
                Some(b'&') => {
                    i += 1;
                    vec![Converter, ConverterData]
                }
                _ => vec![Object { stolen: false }],
            },
            b'S' | b'U' | b'Y' => vec![Object { stolen: false }],
            b'e' => {
                // es, et, es#, et#: encoding, buffer[, length]
                if !matches!(next, Some(b's' | b't')) {
                    return None;
                }
                i += 1;
                let mut v = vec![Encoding, EncodedBuffer];
                if b.get(i) == Some(&b'#') {
                    i += 1;
                    v.push(Length);
                }
                v
            }
            b's' | b'z' | b'y' | b'u' | b'Z' | b'w' => {
                let typed = matches!(c, b's' | b'z' | b'y');
                match b.get(i) {
                    Some(b'#') => {
                        i += 1;
                        vec![if typed { Chars } else { Other }, Length]
                    }
                    Some(b'*') => {
                        i += 1;
                        vec![Buffer]
                    }
                    _ if c == b'w' => return None,
                    _ => vec![if typed { Chars } else { Other }],
                }
            }
            b'b' | b'B' => vec![FormatArg::Scalar(S::UChar)],
            b'h' => vec![FormatArg::Scalar(S::Short)],
            b'H' => vec![FormatArg::Scalar(S::UShort)],
            b'i' | b'C' | b'p' => vec![FormatArg::Scalar(S::Int)],
            b'I' => vec![FormatArg::Scalar(S::UInt)],
            b'l' => vec![FormatArg::Scalar(S::Long)],
            b'k' => vec![FormatArg::Scalar(S::ULong)],
            b'L' => vec![FormatArg::Scalar(S::LongLong)],
            b'K' => vec![FormatArg::Scalar(S::ULongLong)],
            b'n' => vec![FormatArg::Scalar(S::SsizeT)],
            b'c' => vec![FormatArg::Scalar(S::Char)],
            b'f' => vec![FormatArg::Scalar(S::Float)],
            b'd' => vec![FormatArg::Scalar(S::Double)],
            b'D' => vec![Other],
            _ => return None,
        };
        out.push(Unit {
            text: format[start..i].to_string(),
            args,
        });
    }
    Some(out)
}

/// Reads a `Py_BuildValue` format. `None` when the format is not understood.
pub fn build_units(format: &str) -> Option<Vec<Unit>> {
    use FormatArg::*;
    let b = format.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        i += 1;
        let args: Vec<FormatArg> = match c {
            b'(' | b')' | b'[' | b']' | b'{' | b'}' | b',' | b':' | b' ' | b'\t' => continue,
            b'O' | b'S' => {
                if b.get(i) == Some(&b'&') {
                    i += 1;
                    vec![Converter, ConverterData]
                } else {
                    vec![Object { stolen: false }]
                }
            }
            b'N' => vec![Object { stolen: true }],
            b's' | b'z' | b'u' | b'U' | b'y' => {
                let first = if c == b'u' { Other } else { Chars };
                if b.get(i) == Some(&b'#') {
                    i += 1;
                    vec![first, Length]
                } else {
                    vec![first]
                }
            }
            // char and short are promoted to int through `...`, float to double.
            b'i' | b'b' | b'h' | b'B' | b'H' | b'c' | b'C' | b'p' => {
                vec![FormatArg::Scalar(S::Int)]
            }
            b'I' => vec![FormatArg::Scalar(S::UInt)],
            b'l' => vec![FormatArg::Scalar(S::Long)],
            b'k' => vec![FormatArg::Scalar(S::ULong)],
            b'L' => vec![FormatArg::Scalar(S::LongLong)],
            b'K' => vec![FormatArg::Scalar(S::ULongLong)],
            b'n' => vec![FormatArg::Scalar(S::SsizeT)],
            b'd' | b'f' => vec![FormatArg::Scalar(S::Double)],
            b'D' => vec![Other],
            _ => return None,
        };
        out.push(Unit {
            text: format[start..i].to_string(),
            args,
        });
    }
    Some(out)
}

/// Parses a `PyArg_ParseTuple` format into the ownership role of each argument. `None`
/// when the format is not understood.
pub fn parse_args_format(format: &str) -> Option<Vec<ParseArg>> {
    Some(
        parse_units(format)?
            .iter()
            .flat_map(|u| &u.args)
            .map(|a| match a {
                FormatArg::Object { .. } => ParseArg::BorrowedOut,
                FormatArg::ConverterData => ParseArg::ConverterOut,
                _ => ParseArg::Other,
            })
            .collect(),
    )
}

/// Parses a `Py_BuildValue` format into the ownership role of each argument. `None` when
/// the format is not understood.
pub fn parse_build_format(format: &str) -> Option<Vec<BuildArg>> {
    Some(
        build_units(format)?
            .iter()
            .flat_map(|u| &u.args)
            .map(|a| match a {
                FormatArg::Object { stolen: true } => BuildArg::Stolen,
                FormatArg::Object { stolen: false } => BuildArg::Borrowed,
                _ => BuildArg::Other,
            })
            .collect(),
    )
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
    fn units() {
        let u = parse_units("O!|s#$p:f").unwrap();
        let texts: Vec<&str> = u.iter().map(|u| u.text.as_str()).collect();
        assert_eq!(texts, ["O!", "s#", "p"]);
        assert_eq!(
            u[1].args,
            [FormatArg::Chars, FormatArg::Length],
            "s# is a string and its length"
        );
        assert_eq!(parse_units("w").map(|u| u.len()), None);
        let b = build_units("{s:N,s:f}").unwrap();
        assert_eq!(b.len(), 4);
        assert_eq!(b[1].args, [FormatArg::Object { stolen: true }]);
        assert_eq!(b[3].args, [FormatArg::Scalar(Scalar::Double)]);
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
