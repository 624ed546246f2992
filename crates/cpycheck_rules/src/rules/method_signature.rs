use crate::declare_rule;
use crate::format_calls::scalar_info;
use crate::registry::{Check, FileContext, FileFinding, Message};
use cpycheck_syntax::{CType, Function, RegistrationKind};

declare_rule! {
    /// ## What it does
    /// Checks each `PyMethodDef` entry's flags (`METH_NOARGS`, `METH_O`, `METH_VARARGS`,
    /// `METH_KEYWORDS`, `METH_FASTCALL`, `METH_METHOD`) against the parameter list of the C
    /// function it names, each `PyGetSetDef` getter and setter against the signature Python
    /// calls it with, and each `PyMemberDef` type code (`T_OBJECT_EX`, `T_INT`, ...) against
    /// the C type of the member its `offsetof` names.
    ///
    /// ## Why is this bad?
    /// Python calls the function through a pointer of the type the flags promise. With
    /// fewer parameters than that, the function reads garbage; with more, or with an array
    /// where a tuple is expected, it crashes; on WebAssembly any mismatch traps.
    /// `METH_KEYWORDS` without `METH_VARARGS` or `METH_FASTCALL` is rejected at run time
    /// with `SystemError: bad call flags`. A `PyMemberDef` that reads an `int` member as
    /// `T_OBJECT_EX` hands Python an integer as an object pointer.
    ///
    /// ## Example
    /// ```c
    /// static PyObject *
    /// spam_count(PyObject *self, PyObject *args, PyObject *kwargs);
    ///
    /// static PyMethodDef methods[] = {
    ///     {"count", (PyCFunction)spam_count, METH_VARARGS, NULL},   /* kwargs is garbage */
    /// };
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     {"count", (PyCFunction)(void (*)(void))spam_count, METH_VARARGS | METH_KEYWORDS, NULL},
    /// ```
    ///
    /// ## Known limitations
    /// Only functions defined in the same file are checked, and only flags written with the
    /// `METH_*` names (a flags macro of the project's own is skipped). Parameter types are
    /// checked by pointer depth, not by name. A function declared with *fewer* parameters
    /// than its convention passes (`f(PyObject *self)` for `METH_NOARGS`, a getter without
    /// `closure`) is not reported: it is undefined behaviour that traps on WebAssembly, but
    /// native ABIs tolerate it and real code does it often.
    ///
    /// ## References
    /// - [`PyMethodDef`](https://docs.python.org/3/c-api/structures.html#c.PyMethodDef)
    /// - [`PyGetSetDef`](https://docs.python.org/3/c-api/structures.html#c.PyGetSetDef)
    pub MethodSignature, "CPY401", "method-signature", preview = true
}

/// What one parameter must look like.
#[derive(Clone, Copy)]
enum Expect {
    /// An object pointer (`PyObject *`, a struct pointer).
    Object,
    /// `PyObject *const *`.
    Array,
    /// `Py_ssize_t` (an integer, not a pointer).
    Count,
    /// Any pointer (`void *closure`, `PyTypeObject *defining_class`).
    Pointer,
}

impl Expect {
    fn accepts(self, ty: &CType) -> bool {
        match self {
            Expect::Object | Expect::Pointer => ty.pointers == 1 && !ty.array,
            Expect::Array => ty.pointers == 2 || (ty.pointers == 1 && ty.array),
            Expect::Count => ty.pointers == 0 && !ty.array,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Expect::Object => "PyObject *",
            Expect::Array => "PyObject *const *",
            Expect::Count => "Py_ssize_t",
            Expect::Pointer => "void *",
        }
    }
}

/// The convention the flags select, with its parameters; `Err` for an invalid combination.
fn convention(flags: &str) -> Option<Result<(&'static str, Vec<Expect>), String>> {
    use Expect::*;
    let mut words = Vec::new();
    for w in flags.split('|').map(str::trim) {
        if !w.starts_with("METH_") {
            return None;
        }
        match w {
            "METH_CLASS" | "METH_STATIC" | "METH_COEXIST" => {}
            _ => words.push(w),
        }
    }
    words.sort_unstable();
    let v = match words.as_slice() {
        ["METH_NOARGS"] => ("METH_NOARGS", vec![Object, Object]),
        ["METH_O"] => ("METH_O", vec![Object, Object]),
        ["METH_VARARGS"] => ("METH_VARARGS", vec![Object, Object]),
        ["METH_KEYWORDS", "METH_VARARGS"] => {
            ("METH_VARARGS | METH_KEYWORDS", vec![Object, Object, Object])
        }
        ["METH_FASTCALL"] => ("METH_FASTCALL", vec![Object, Array, Count]),
        ["METH_FASTCALL", "METH_KEYWORDS"] => (
            "METH_FASTCALL | METH_KEYWORDS",
            vec![Object, Array, Count, Object],
        ),
        ["METH_FASTCALL", "METH_KEYWORDS", "METH_METHOD"] => (
            "METH_METHOD | METH_FASTCALL | METH_KEYWORDS",
            vec![Object, Pointer, Array, Count, Object],
        ),
        [] => return None,
        other => {
            if other.iter().all(|w| {
                matches!(
                    *w,
                    "METH_NOARGS"
                        | "METH_O"
                        | "METH_VARARGS"
                        | "METH_KEYWORDS"
                        | "METH_FASTCALL"
                        | "METH_METHOD"
                )
            }) {
                return Some(Err(other.join(" | ")));
            }
            return None;
        }
    };
    Some(Ok(v))
}

impl MethodSignature {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for r in &cx.model.registrations {
            let (what, expects) = match &r.kind {
                RegistrationKind::Method { flags } => match convention(flags) {
                    Some(Ok(c)) => c,
                    Some(Err(bad)) => {
                        let message = Message::new(format!(
                            "method flags `{bad}` are not a valid calling convention"
                        ))
                        .help("use one of `METH_NOARGS`, `METH_O`, `METH_VARARGS`, `METH_VARARGS | METH_KEYWORDS`, `METH_FASTCALL`, `METH_FASTCALL | METH_KEYWORDS`");
                        out.push(FileFinding::new(r.span, message).in_function(&r.function));
                        continue;
                    }
                    None => continue,
                },
                RegistrationKind::Getter => ("a getter", vec![Expect::Object, Expect::Pointer]),
                RegistrationKind::Setter => (
                    "a setter",
                    vec![Expect::Object, Expect::Object, Expect::Pointer],
                ),
                _ => continue,
            };
            // Only a function defined once in the file: several definitions are `#if` arms
            // we cannot tell apart, and a declaration alone has no body to trust.
            let defs: Vec<&Function> = cx
                .model
                .functions
                .iter()
                .filter(|f| f.name == r.function)
                .collect();
            let [f] = defs.as_slice() else {
                continue;
            };
            if f.variadic {
                continue;
            }
            let called_as = if what.starts_with("a ") {
                format!("Python calls {what}")
            } else {
                format!("`{what}` calls it")
            };
            // Fewer parameters than passed (`f(PyObject *self)` for `METH_NOARGS`) is
            // undefined behaviour that native ABIs tolerate: not reported (see the docs).
            let message = if f.params.len() > expects.len() {
                Some(format!(
                    "`{}` takes {} parameter{} but {called_as} with {}",
                    f.name,
                    f.params.len(),
                    if f.params.len() == 1 { "" } else { "s" },
                    expects.len()
                ))
            } else {
                // The parameters the function has must match those passed in their place.
                f.params
                    .iter()
                    .zip(&expects)
                    .enumerate()
                    .find(|(_, (p, e))| !e.accepts(&p.ty))
                    .map(|(i, (p, e))| {
                        format!(
                            "parameter {} of `{}` is `{}` but {called_as} with `{}`",
                            i + 1,
                            f.name,
                            ctype(&p.ty),
                            e.describe()
                        )
                    })
            };
            if let Some(message) = message {
                let signature: Vec<&str> = expects.iter().map(|e| e.describe()).collect();
                let message = Message::new(message)
                    .label(f.name_span, "defined here")
                    .help(format!(
                        "declare it as `PyObject *{}({})`, or change the flags",
                        f.name,
                        signature.join(", ")
                    ));
                out.push(FileFinding::new(r.span, message).in_function(&f.name));
            }
        }
        member_defs(cx, &mut out);
        out
    }
}

/// What a `PyMemberDef` type code needs the member to be.
enum MemberKind {
    Object,
    /// Size on LP64 and LLP64, floating.
    Scalar(u8, u8, bool),
    CString,
}

fn member_kind(code: &str) -> Option<MemberKind> {
    use MemberKind::*;
    let code = code.strip_prefix("Py_").unwrap_or(code);
    let code = code.strip_prefix("_Py_").unwrap_or(code);
    Some(match code {
        "T_OBJECT" | "T_OBJECT_EX" => Object,
        "T_CHAR" | "T_BYTE" | "T_UBYTE" | "T_BOOL" => Scalar(1, 1, false),
        "T_SHORT" | "T_USHORT" => Scalar(2, 2, false),
        "T_INT" | "T_UINT" => Scalar(4, 4, false),
        "T_LONG" | "T_ULONG" => Scalar(8, 4, false),
        "T_LONGLONG" | "T_ULONGLONG" | "T_PYSSIZET" => Scalar(8, 8, false),
        "T_FLOAT" => Scalar(4, 4, true),
        "T_DOUBLE" => Scalar(8, 8, true),
        "T_STRING" => CString,
        _ => return None,
    })
}

/// `PyMemberDef` entries whose type code does not fit the member `offsetof` names.
fn member_defs(cx: &FileContext<'_>, out: &mut Vec<FileFinding>) {
    let model = cx.model;
    for def in &model.member_defs {
        let Some((strukt, member)) = &def.offset_of else {
            continue;
        };
        let Some(kind) = member_kind(&def.type_code) else {
            continue;
        };
        if model.object_struct(strukt).is_none() {
            continue;
        }
        let members = model.instance_members(strukt);
        let Some(m) = members.iter().find(|m| &m.name == member) else {
            continue;
        };
        let t = &m.ty;
        let pointer = t.pointers > 0 || t.array;
        let scalar = if pointer { None } else { scalar_info(&t.base) };
        let is_char = t.base.trim_start_matches("const ").trim() == "char";
        let object = cpycheck_ir::is_object_type(t, &model.object_types);
        let fits = match kind {
            MemberKind::Object => {
                if scalar.is_some() || (t.pointers == 1 && is_char) || t.pointers > 1 {
                    Some(false)
                } else {
                    None
                }
            }
            MemberKind::Scalar(a, b, f) => {
                if pointer {
                    Some(false)
                } else {
                    scalar.map(|got| got == (a, b, f))
                }
            }
            MemberKind::CString => {
                if scalar.is_some() || object {
                    Some(false)
                } else {
                    None
                }
            }
        };
        if fits != Some(false) {
            continue;
        }
        let message = Message::new(format!(
            "`PyMemberDef` entry `{}` reads member `{member}` as `{}` but it is `{}`",
            def.name.as_deref().unwrap_or(""),
            def.type_code,
            ctype(t)
        ))
        .label(m.span, "member declared here")
        .help("use the type code of the member's C type (`T_OBJECT_EX` for `PyObject *`, `T_INT` for `int`, ...)");
        out.push(FileFinding::new(def.type_span, message));
    }
}

fn ctype(t: &CType) -> String {
    let mut s = t.base.clone();
    if t.pointers > 0 {
        s.push(' ');
        s.push_str(&"*".repeat(t.pointers as usize));
    }
    if t.array {
        s.push_str("[]");
    }
    s
}
