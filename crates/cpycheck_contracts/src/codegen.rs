//! Generates `src/generated.rs` from `refcounts.dat` and `corrections.toml`.
//!
//! [`generate`] is a pure function (text in, text out); `cargo xtask codegen` does the IO.
//!
//! # From `refcounts.dat` to a contract
//!
//! Each function block of CPython's `Doc/data/refcounts.dat` gives a contract by these rules:
//!
//! - **Return value.** An object pointer (`PyObject*`, `PyTypeObject*`, `PyVarObject*`, any
//!   `Py...Object*`, the `TYPE*` of the allocation macros) marked `+1` is
//!   [`Returns::New`], `0` is [`Returns::Borrowed`], `null` is [`Returns::AlwaysNull`]; all
//!   nullable. A numeric result (`int`, `Py_ssize_t`, `long`, `double`, `Py_UCS4`, ...) is
//!   `Status(NegOne)`, except type checks (`*_Check`, `*_CheckExact`, ...) and upper-case
//!   accessor macros (`PyTuple_GET_SIZE`, `PyUnicode_READ_CHAR`), which cannot fail
//!   (`Status(Infallible)`), and the `PyRun_Simple*`-style entry points, whose `-1` comes
//!   with the exception already printed (`Plain`). Everything else (`void`, C pointers,
//!   structs) is [`Returns::Plain`].
//! - **Parameters.** An object pointer marked `-1` is [`ArgEffect::Steal`]; `+1` means the
//!   callee takes a reference of its own, which is [`ArgEffect::Store`] (for the caller's
//!   ownership a borrow: its reference is untouched, but the object may outlive its release);
//!   `0` is [`ArgEffect::Borrow`]. A `PyObject**` marked `+1` receives a new reference
//!   ([`ArgEffect::OutNew`]); any other `PyObject**` is a borrow until a correction says what
//!   it is. Non-object parameters are borrows. A trailing `...` is [`Varargs::Borrowed`].
//!   The file marks several real steals `0` or `+1` and several non-steals `-1`: the
//!   corrections fix those one by one.
//! - **`runs_python`** follows the family rules of [`RUNS_PYTHON_FAMILIES`] (longest prefix
//!   wins; type checks and upper-case accessor macros never run Python code).
//!
//! # Corrections
//!
//! `data/corrections.toml` has one table per function. Every table has a `reason` and a
//! `docs` link into the C-API documentation (for an API it does not describe, a link to the
//! CPython source file that defines it, at a release tag), and any of `returns`, `args`, `varargs`,
//! `runs_python`, `since`. A table for a function that `refcounts.dat` lacks adds it, and then
//! must give `returns` and `args`. `args` is either an array (the whole parameter list) or a
//! table from parameter names (as `refcounts.dat` spells them) to effects. Values:
//!
//! - `returns`: `"New"`, `"New(nonnull)"`, `"Borrowed"`, `"Borrowed(nonnull)"`,
//!   `"AlwaysNull"`, `"Status(NegOne)"`, `"Status(NegOneOrZero)"`, `"Status(NegOneZeroOrOne)"`,
//!   `"Status(Zero)"`, `"Status(Infallible)"`, `"Plain"` (`refcounts.dat` says only "int":
//!   the exact result sets of the 0/-1 and -1/0/1 APIs are corrections);
//! - an argument: `"Borrow"`, `"Steal"`, `"StealOnSuccess"`, `"StealOnFailure"`, `"Store"`, `"OutBorrowed"`,
//!   `"OutNew"`, `"Replace"`, `"Replace(nonnull)"`;
//! - `varargs`: `"None"`, `"Borrowed"`, `"OutBorrowed"`, `"ParseFormat(N)"`,
//!   `"BuildFormat(N)"` with `N` the index of the format argument;
//! - `since`: `"3.13"`.
//!
//! A name of the form `"->tp_free"` gives the contract of a call through a type slot
//! (`Py_TYPE(self)->tp_free(self)`); such tables are quoted keys and always add an entry.
//!
//! Unknown keys, unknown values, unknown parameter names and corrections that name a function
//! `refcounts.dat` has without changing anything it could are errors.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::{ArgEffect, ErrorConvention, Returns, Varargs};

/// Family rules for `runs_python`: the longest matching name prefix decides; a name that
/// matches none does not run Python code. Type checks (`*_Check`, `*_CheckExact`, ...) and
/// upper-case accessor macros (`PyList_GET_ITEM`) never do. Exceptions to these rules are
/// corrections, each with its reason.
///
/// "Runs Python code" means the call may execute arbitrary user code: a call, a special method
/// (`__hash__`, `__eq__`, `__index__`, `__getattr__`, ...), an import, a codec or an audit or
/// warning hook, the release of a reference the caller does not control (which may run
/// `__del__`), or a release of the GIL (other threads run). The release of an exception that
/// the error indicator held (`PyErr_Restore`, `PyErr_Clear`, ...) is not counted: those calls
/// sit on error paths, and exception objects whose `__del__` mutates state are vanishingly
/// rare.
pub const RUNS_PYTHON_FAMILIES: &[(&str, bool)] = &[
    // The abstract object layer: every function may call special methods.
    ("PyObject_", true),
    ("PyNumber_", true),
    ("PySequence_", true),
    ("PyMapping_", true),
    ("PyIter_", true),
    // ... except object allocation and GC bookkeeping, and the fast-sequence accessors.
    ("PyObject_GC_", false),
    ("PyObject_Init", false),
    ("PyObject_New", false),
    ("PyObject_Malloc", false),
    ("PyObject_Calloc", false),
    ("PyObject_Realloc", false),
    ("PyObject_Free", false),
    ("PySequence_Fast_", false),
    // Dicts and sets hash and compare keys (`__hash__`, `__eq__`) and release replaced values.
    ("PyDict_", true),
    ("PySet_", true),
    // Integer conversions call `__index__` on non-int objects.
    ("PyLong_As", true),
    // Running code, importing, compiling-and-running, codec lookups, file objects.
    ("PyEval_", true),
    ("PyEval_Get", false),
    ("PyImport_", true),
    ("PyRun_", true),
    ("PyCodec_", true),
    ("PyFile_", true),
    // Setting an exception from a type instantiates it (a user class runs `__init__`);
    // warnings run filters and `showwarning`; printing runs `sys.excepthook`.
    ("PyErr_Set", true),
    ("PyErr_Format", true),
    ("PyErr_NormalizeException", true),
    ("PyErr_Warn", true),
    ("PyErr_ResourceWarning", true),
    ("PyErr_Print", true),
    ("PyErr_Display", true),
    ("PyErr_WriteUnraisable", true),
    ("PyErr_CheckSignals", true),
    ("PyErr_NewException", true),
    ("PyErr_SyntaxLocation", true),
    // `sys.stdout.write`, audit hooks.
    ("PySys_Write", true),
    ("PySys_Format", true),
    ("PySys_Audit", true),
    // fork hooks registered with `os.register_at_fork`.
    ("PyOS_AfterFork", true),
    ("PyOS_BeforeFork", true),
    // Interpreter life cycle: `site` import, `atexit` handlers, finalizers.
    ("Py_Initialize", true),
    ("Py_Finalize", true),
    ("Py_Exit", true),
    ("Py_NewInterpreter", true),
    ("Py_EndInterpreter", true),
    ("Py_Main", true),
    ("Py_BytesMain", true),
    ("Py_RunMain", true),
];

/// `int`-returning entry points whose `-1` comes with the exception already printed and
/// cleared: no error convention the engine can use.
const PLAIN_STATUS_FAMILIES: &[&str] = &[
    "PyRun_AnyFile",
    "PyRun_InteractiveLoop",
    "PyRun_InteractiveOne",
    "PyRun_SimpleFile",
    "PyRun_SimpleString",
];

/// C result types that are numbers (and so carry a `-1` error value by default).
const NUMERIC_TYPES: &[&str] = &[
    "int",
    "long",
    "unsignedlong",
    "longlong",
    "unsignedlonglong",
    "unsignedint",
    "Py_ssize_t",
    "size_t",
    "Py_hash_t",
    "int64_t",
    "double",
    "Py_UCS4",
];

/// The last `_`-separated part of the names of type-check functions and macros.
const TYPE_CHECK_SUFFIXES: &[&str] = &[
    "Check",
    "CheckExact",
    "CheckProxy",
    "CheckRef",
    "CheckBuffer",
    "CheckReadBuffer",
];

/// Produces the Rust source of the contracts table.
pub fn generate(refcounts: &str, corrections: &str) -> Result<String, String> {
    let table = build(refcounts, corrections)?;
    Ok(render(&table))
}

/// The names of the functions `refcounts.dat` describes, in file order.
pub fn refcounts_functions(refcounts: &str) -> Result<Vec<String>, String> {
    Ok(parse_refcounts(refcounts)?
        .into_iter()
        .map(|f| f.name)
        .collect())
}

// ---------------------------------------------------------------------------------------------
// refcounts.dat

struct RawFunction {
    name: String,
    line: usize,
    ret_type: String,
    ret_refcount: String,
    params: Vec<RawParam>,
    varargs: bool,
}

struct RawParam {
    name: String,
    ty: String,
    refcount: String,
}

fn parse_refcounts(text: &str) -> Result<Vec<RawFunction>, String> {
    let mut functions: Vec<RawFunction> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let lineno = index + 1;
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // function ':' type ':' [param name] ':' [refcount effect] ':' [comment]; the comment
        // may itself contain ':'.
        let fields: Vec<&str> = line.splitn(5, ':').collect();
        if fields.len() < 4 {
            return Err(format!(
                "refcounts.dat:{lineno}: expected `function:type:param:refcount:comment`"
            ));
        }
        let (name, ty, param, refcount) = (
            fields[0].trim(),
            fields[1].trim(),
            fields[2].trim(),
            fields[3].trim(),
        );
        if !is_identifier(name) {
            return Err(format!(
                "refcounts.dat:{lineno}: `{name}` is not a function name"
            ));
        }
        let continues = functions.last().is_some_and(|f| f.name == name);
        if !continues {
            if let Some(first) = seen.insert(name.to_string(), lineno) {
                return Err(format!(
                    "refcounts.dat:{lineno}: second block for `{name}` (first at line {first})"
                ));
            }
            if !param.is_empty() {
                return Err(format!(
                    "refcounts.dat:{lineno}: the first line of `{name}` must describe its \
                     return value (empty parameter name)"
                ));
            }
            functions.push(RawFunction {
                name: name.to_string(),
                line: lineno,
                ret_type: ty.to_string(),
                ret_refcount: refcount.to_string(),
                params: Vec::new(),
                varargs: false,
            });
            continue;
        }
        let function = functions.last_mut().expect("a block is open");
        if function.varargs {
            return Err(format!(
                "refcounts.dat:{lineno}: parameter of `{name}` after `...`"
            ));
        }
        if param == "..." {
            function.varargs = true;
        } else if param.is_empty() {
            return Err(format!(
                "refcounts.dat:{lineno}: `{name}` has a parameter without a name"
            ));
        } else if ty.is_empty() && param == "void" {
            // `f(void)`: no parameters.
        } else if ty.is_empty() {
            // The type and the name share the name field: `double real`, `TYPE`,
            // `void (* destructor)(PyObject* )`.
            function.params.push(RawParam {
                name: declarator_name(param),
                ty: param.to_string(),
                refcount: refcount.to_string(),
            });
        } else {
            function.params.push(RawParam {
                name: param.to_string(),
                ty: ty.to_string(),
                refcount: refcount.to_string(),
            });
        }
    }
    Ok(functions)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The declared name in a C declarator such as `double real` or `void (* destructor)(...)`.
fn declarator_name(decl: &str) -> String {
    let decl = match decl.find("(*") {
        Some(i) => &decl[i + 2..],
        None => decl,
    };
    let words: Vec<&str> = decl
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let pick = if decl.contains(')') {
        words.first()
    } else {
        words.last()
    };
    pick.map_or_else(String::new, |w| (*w).to_string())
}

/// The type with spaces and a leading `const` removed: `const char *` → `char*`.
fn normalize_type(ty: &str) -> String {
    let ty = ty.trim();
    let ty = ty.strip_prefix("const ").unwrap_or(ty);
    ty.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `PyObject*`, `PyTypeObject*`, `PyVarObject*`, `PyCodeObject*`, ..., `TYPE*`.
fn is_object_pointer(normalized: &str) -> bool {
    normalized == "TYPE*"
        || normalized
            .strip_suffix("Object*")
            .is_some_and(|stem| stem.starts_with("Py") && is_identifier(stem))
}

fn is_type_check(name: &str) -> bool {
    name.rsplit('_')
        .next()
        .is_some_and(|last| TYPE_CHECK_SUFFIXES.contains(&last))
}

/// `PyTuple_GET_SIZE`, `PyUnicode_READ_CHAR`, `Py_UNICODE_ISSPACE`: after the family prefix,
/// no lower-case letter.
fn is_accessor_macro(name: &str) -> bool {
    let rest = match name.strip_prefix("Py_") {
        Some(rest) => rest,
        None => match name.split_once('_') {
            Some((family, rest)) if !family.is_empty() => rest,
            _ => return false,
        },
    };
    rest.chars().any(|c| c.is_ascii_uppercase()) && !rest.chars().any(|c| c.is_ascii_lowercase())
}

fn derive_runs_python(name: &str) -> bool {
    if is_type_check(name) || is_accessor_macro(name) {
        return false;
    }
    RUNS_PYTHON_FAMILIES
        .iter()
        .filter(|(prefix, _)| name.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .is_some_and(|(_, runs)| *runs)
}

fn derive_returns(f: &RawFunction) -> Result<Returns, String> {
    let ty = normalize_type(&f.ret_type);
    let refcount = f.ret_refcount.as_str();
    if is_object_pointer(&ty) {
        return match refcount {
            "+1" => Ok(Returns::New { nullable: true }),
            "0" => Ok(Returns::Borrowed { nullable: true }),
            "null" => Ok(Returns::AlwaysNull),
            other => Err(format!(
                "refcounts.dat:{}: `{}` returns `{}` with refcount effect `{other}`; expected \
                 `+1`, `0` or `null` (add a correction)",
                f.line, f.name, f.ret_type
            )),
        };
    }
    // `0` on a C pointer (`PyModuleDef*`) is noise; anything else would be a mistake.
    if !refcount.is_empty() && refcount != "0" {
        return Err(format!(
            "refcounts.dat:{}: `{}` returns non-object `{}` with refcount effect `{refcount}`",
            f.line, f.name, f.ret_type
        ));
    }
    if !NUMERIC_TYPES.contains(&ty.as_str()) {
        return Ok(Returns::Plain);
    }
    if PLAIN_STATUS_FAMILIES.iter().any(|p| f.name.starts_with(p)) {
        return Ok(Returns::Plain);
    }
    if is_type_check(&f.name) || is_accessor_macro(&f.name) {
        return Ok(Returns::Status(ErrorConvention::Infallible));
    }
    Ok(Returns::Status(ErrorConvention::NegOne))
}

fn derive_arg(f: &RawFunction, p: &RawParam) -> Result<ArgEffect, String> {
    let ty = normalize_type(&p.ty);
    let refcount = p.refcount.as_str();
    let bad = || {
        Err(format!(
            "refcounts.dat: parameter `{}` of `{}` (`{}`) has refcount effect `{refcount}`",
            p.name, f.name, p.ty
        ))
    };
    if is_object_pointer(&ty) {
        return match refcount {
            "0" | "" => Ok(ArgEffect::Borrow),
            "+1" => Ok(ArgEffect::Store),
            "-1" => Ok(ArgEffect::Steal),
            _ => bad(),
        };
    }
    if ty == "PyObject**" {
        // `+1` here says the pointee receives a new reference (`PyWeakref_GetRef`). The
        // other out-parameters are corrections: `0` in this file covers borrowed
        // out-parameters, in/out parameters and plain arrays alike.
        return Ok(if refcount == "+1" {
            ArgEffect::OutNew
        } else {
            ArgEffect::Borrow
        });
    }
    Ok(ArgEffect::Borrow)
}

// ---------------------------------------------------------------------------------------------
// The table

struct Entry {
    params: Vec<String>,
    returns: Returns,
    args: Vec<ArgEffect>,
    varargs: Varargs,
    runs_python: bool,
    since: Option<(u8, u8)>,
}

fn build(refcounts: &str, corrections: &str) -> Result<BTreeMap<String, Entry>, String> {
    let mut table = BTreeMap::new();
    for f in parse_refcounts(refcounts)? {
        let args = f
            .params
            .iter()
            .map(|p| derive_arg(&f, p))
            .collect::<Result<Vec<_>, _>>()?;
        let entry = Entry {
            params: f.params.iter().map(|p| p.name.clone()).collect(),
            returns: derive_returns(&f)?,
            args,
            varargs: if f.varargs {
                Varargs::Borrowed
            } else {
                Varargs::None
            },
            runs_python: derive_runs_python(&f.name),
            since: None,
        };
        table.insert(f.name, entry);
    }
    let corrections: toml::Table = corrections
        .parse()
        .map_err(|e| format!("corrections.toml: {e}"))?;
    for (name, value) in &corrections {
        apply_correction(&mut table, name, value).map_err(|e| format!("corrections.toml: {e}"))?;
    }
    Ok(table)
}

const CORRECTION_KEYS: &[&str] = &[
    "reason",
    "docs",
    "returns",
    "args",
    "varargs",
    "runs_python",
    "since",
];

const DOCS_PREFIX: &str = "https://docs.python.org/3/c-api/";

/// Where an API the documentation does not describe (private `_Py*` functions, undocumented
/// macros) is defined: a file of CPython's sources at a tag.
const SOURCE_PREFIX: &str = "https://github.com/python/cpython/blob/v3.";

fn apply_correction(
    table: &mut BTreeMap<String, Entry>,
    name: &str,
    value: &toml::Value,
) -> Result<(), String> {
    // `->tp_free` names a call through a type slot: `Py_TYPE(self)->tp_free(self)`.
    if !is_identifier(name.strip_prefix("->").unwrap_or(name)) {
        return Err(format!("`{name}` is not a function or `->slot` name"));
    }
    let fields = value
        .as_table()
        .ok_or_else(|| format!("`{name}` must be a table"))?;
    if let Some(key) = fields
        .keys()
        .find(|k| !CORRECTION_KEYS.contains(&k.as_str()))
    {
        return Err(format!(
            "[{name}]: unknown key `{key}` (expected one of {})",
            CORRECTION_KEYS.join(", ")
        ));
    }
    let string = |key: &str| -> Result<Option<&str>, String> {
        match fields.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| format!("[{name}]: `{key}` must be a string")),
        }
    };
    match string("reason")? {
        Some(reason) if !reason.trim().is_empty() => {}
        _ => return Err(format!("[{name}]: every correction needs a `reason`")),
    }
    match string("docs")? {
        Some(docs)
            if [DOCS_PREFIX, SOURCE_PREFIX]
                .iter()
                .any(|p| docs.starts_with(p) && docs.len() > p.len()) => {}
        _ => {
            return Err(format!(
                "[{name}]: every correction needs a `docs` link starting with `{DOCS_PREFIX}` \
                 (or, for an undocumented API, `{SOURCE_PREFIX}`)"
            ));
        }
    }
    let returns = string("returns")?.map(parse_returns).transpose();
    let returns = returns.map_err(|e| format!("[{name}]: {e}"))?;
    let varargs = string("varargs")?.map(parse_varargs).transpose();
    let varargs = varargs.map_err(|e| format!("[{name}]: {e}"))?;
    let since = string("since")?.map(parse_since).transpose();
    let since = since.map_err(|e| format!("[{name}]: {e}"))?;
    let runs_python = match fields.get("runs_python") {
        None => None,
        Some(v) => Some(
            v.as_bool()
                .ok_or_else(|| format!("[{name}]: `runs_python` must be true or false"))?,
        ),
    };

    let is_new = !table.contains_key(name);
    if is_new && (returns.is_none() || !fields.get("args").is_some_and(|a| a.is_array())) {
        return Err(format!(
            "[{name}]: `{name}` is not in refcounts.dat, so its correction must give `returns` \
             and `args` (as an array)"
        ));
    }
    let entry = table.entry(name.to_string()).or_insert_with(|| Entry {
        params: Vec::new(),
        returns: Returns::Plain,
        args: Vec::new(),
        varargs: Varargs::None,
        runs_python: derive_runs_python(name),
        since: None,
    });
    let mut changed = false;
    if let Some(returns) = returns {
        changed |= entry.returns != returns;
        entry.returns = returns;
    }
    if let Some(varargs) = varargs {
        changed |= entry.varargs != varargs;
        entry.varargs = varargs;
    }
    if let Some(runs_python) = runs_python {
        changed |= entry.runs_python != runs_python;
        entry.runs_python = runs_python;
    }
    if let Some(since) = since {
        changed |= entry.since != Some(since);
        entry.since = Some(since);
    }
    match fields.get("args") {
        None => {}
        Some(toml::Value::Array(items)) => {
            let args = items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| "arguments must be strings".to_string())
                        .and_then(parse_arg)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("[{name}]: {e}"))?;
            changed |= entry.args != args;
            entry.args = args;
            entry.params.clear();
        }
        Some(toml::Value::Table(by_name)) => {
            for (param, effect) in by_name {
                let effect = effect
                    .as_str()
                    .ok_or_else(|| "arguments must be strings".to_string())
                    .and_then(parse_arg)
                    .map_err(|e| format!("[{name}]: `args.{param}`: {e}"))?;
                let mut positions = entry
                    .params
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| *p == param)
                    .map(|(i, _)| i);
                let (Some(i), None) = (positions.next(), positions.next()) else {
                    return Err(format!(
                        "[{name}]: `args.{param}` names no single parameter of `{name}` \
                         (parameters: {})",
                        entry.params.join(", ")
                    ));
                };
                changed |= entry.args[i] != effect;
                entry.args[i] = effect;
            }
        }
        Some(_) => {
            return Err(format!(
                "[{name}]: `args` must be an array or a table of parameter names"
            ));
        }
    }
    let format = match entry.varargs {
        Varargs::ParseFormat { format } | Varargs::BuildFormat { format } => Some(format),
        Varargs::None | Varargs::Borrowed | Varargs::OutBorrowed => None,
    };
    if format.is_some_and(|format| format >= entry.args.len()) {
        return Err(format!("[{name}]: the format argument is out of range"));
    }
    if !is_new && !changed {
        return Err(format!(
            "[{name}]: the correction changes nothing that refcounts.dat does not already say"
        ));
    }
    Ok(())
}

fn parse_returns(s: &str) -> Result<Returns, String> {
    Ok(match s {
        "New" => Returns::New { nullable: true },
        "New(nonnull)" => Returns::New { nullable: false },
        "Borrowed" => Returns::Borrowed { nullable: true },
        "Borrowed(nonnull)" => Returns::Borrowed { nullable: false },
        "AlwaysNull" => Returns::AlwaysNull,
        "Status(NegOne)" => Returns::Status(ErrorConvention::NegOne),
        "Status(NegOneOrZero)" => Returns::Status(ErrorConvention::NegOneOrZero),
        "Status(NegOneZeroOrOne)" => Returns::Status(ErrorConvention::NegOneZeroOrOne),
        "Status(Zero)" => Returns::Status(ErrorConvention::Zero),
        "Status(Infallible)" => Returns::Status(ErrorConvention::Infallible),
        "Plain" => Returns::Plain,
        other => return Err(format!("unknown `returns` value `{other}`")),
    })
}

fn parse_arg(s: &str) -> Result<ArgEffect, String> {
    Ok(match s {
        "Borrow" => ArgEffect::Borrow,
        "Steal" => ArgEffect::Steal,
        "StealOnSuccess" => ArgEffect::StealOnSuccess,
        "StealOnFailure" => ArgEffect::StealOnFailure,
        "Store" => ArgEffect::Store,
        "OutBorrowed" => ArgEffect::OutBorrowed,
        "OutNew" => ArgEffect::OutNew,
        "Replace" => ArgEffect::Replace { nullable: true },
        "Replace(nonnull)" => ArgEffect::Replace { nullable: false },
        other => return Err(format!("unknown argument effect `{other}`")),
    })
}

fn parse_varargs(s: &str) -> Result<Varargs, String> {
    let index = |inner: &str| {
        inner
            .strip_suffix(')')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| format!("bad format index in `varargs = \"{s}\"`"))
    };
    Ok(match s {
        "None" => Varargs::None,
        "Borrowed" => Varargs::Borrowed,
        "OutBorrowed" => Varargs::OutBorrowed,
        _ => {
            if let Some(inner) = s.strip_prefix("ParseFormat(") {
                Varargs::ParseFormat {
                    format: index(inner)?,
                }
            } else if let Some(inner) = s.strip_prefix("BuildFormat(") {
                Varargs::BuildFormat {
                    format: index(inner)?,
                }
            } else {
                return Err(format!("unknown `varargs` value `{s}`"));
            }
        }
    })
}

fn parse_since(s: &str) -> Result<(u8, u8), String> {
    s.split_once('.')
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
        .filter(|&(major, _): &(u8, u8)| major == 3)
        .ok_or_else(|| format!("`since` must look like \"3.13\", not `{s}`"))
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn render(table: &BTreeMap<String, Entry>) -> String {
    let mut out = String::new();
    out.push_str(
        "// @generated by `cargo xtask codegen` from `data/refcounts.dat` and \
         `data/corrections.toml`.\n\
         // Do not edit: change the data files (or `src/codegen.rs`) and regenerate.\n\
         use crate::{ArgEffect as A, Contract, ErrorConvention as E, Returns as R, Varargs as V};\n\
         \n\
         #[rustfmt::skip]\n\
         pub(crate) static CONTRACTS: &[Contract] = &[\n",
    );
    for (name, e) in table {
        let args: Vec<String> = e.args.iter().map(|a| render_arg(*a)).collect();
        let since = match e.since {
            Some((major, minor)) => format!("Some(({major}, {minor}))"),
            None => "None".to_string(),
        };
        let _ = writeln!(
            out,
            "    Contract {{ name: \"{name}\", returns: {}, args: &[{}], varargs: {}, \
             runs_python: {}, since: {since} }},",
            render_returns(e.returns),
            args.join(", "),
            render_varargs(e.varargs),
            e.runs_python,
        );
    }
    out.push_str("];\n");
    out
}

fn render_returns(r: Returns) -> String {
    match r {
        Returns::New { nullable } => format!("R::New {{ nullable: {nullable} }}"),
        Returns::Borrowed { nullable } => format!("R::Borrowed {{ nullable: {nullable} }}"),
        Returns::AlwaysNull => "R::AlwaysNull".to_string(),
        Returns::Status(convention) => format!(
            "R::Status(E::{})",
            match convention {
                ErrorConvention::NegOne => "NegOne",
                ErrorConvention::NegOneOrZero => "NegOneOrZero",
                ErrorConvention::NegOneZeroOrOne => "NegOneZeroOrOne",
                ErrorConvention::Zero => "Zero",
                ErrorConvention::Infallible => "Infallible",
            }
        ),
        Returns::Plain => "R::Plain".to_string(),
    }
}

fn render_arg(a: ArgEffect) -> String {
    match a {
        ArgEffect::Borrow => "A::Borrow".to_string(),
        ArgEffect::Steal => "A::Steal".to_string(),
        ArgEffect::StealOnSuccess => "A::StealOnSuccess".to_string(),
        ArgEffect::StealOnFailure => "A::StealOnFailure".to_string(),
        ArgEffect::Store => "A::Store".to_string(),
        ArgEffect::OutBorrowed => "A::OutBorrowed".to_string(),
        ArgEffect::OutNew => "A::OutNew".to_string(),
        ArgEffect::Replace { nullable } => format!("A::Replace {{ nullable: {nullable} }}"),
    }
}

fn render_varargs(v: Varargs) -> String {
    match v {
        Varargs::None => "V::None".to_string(),
        Varargs::Borrowed => "V::Borrowed".to_string(),
        Varargs::OutBorrowed => "V::OutBorrowed".to_string(),
        Varargs::ParseFormat { format } => format!("V::ParseFormat {{ format: {format} }}"),
        Varargs::BuildFormat { format } => format!("V::BuildFormat {{ format: {format} }}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarator_names() {
        assert_eq!(declarator_name("double real"), "real");
        assert_eq!(declarator_name("TYPE"), "TYPE");
        assert_eq!(
            declarator_name("void (* destructor)(PyObject* )"),
            "destructor"
        );
    }

    #[test]
    fn object_pointers() {
        for ty in [
            "PyObject*",
            "PyTypeObject *",
            "PyVarObject*",
            "TYPE*",
            "PyCodeObject*",
        ] {
            assert!(is_object_pointer(&normalize_type(ty)), "{ty}");
        }
        for ty in [
            "PyObject**",
            "PyObject*const*",
            "char*",
            "Py_buffer*",
            "void",
        ] {
            assert!(!is_object_pointer(&normalize_type(ty)), "{ty}");
        }
    }

    #[test]
    fn name_rules() {
        assert!(is_type_check("PyTuple_CheckExact"));
        assert!(is_type_check("PyWeakref_CheckProxy"));
        assert!(!is_type_check("PyErr_CheckSignals"));
        assert!(is_accessor_macro("PyTuple_GET_SIZE"));
        assert!(is_accessor_macro("Py_UNICODE_ISSPACE"));
        assert!(is_accessor_macro("PyUnicode_1BYTE_DATA"));
        assert!(!is_accessor_macro("PySequence_Fast_GET_SIZE"));
        assert!(!is_accessor_macro("PyTuple_Size"));
        assert!(derive_runs_python("PyObject_GetAttr"));
        assert!(!derive_runs_python("PyObject_GC_Track"));
        assert!(!derive_runs_python("PyList_GET_ITEM"));
        assert!(!derive_runs_python("PyLong_FromLong"));
        assert!(derive_runs_python("PyLong_AsLong"));
    }

    const DAT: &str = "\
PyFoo_Get:PyObject*::0:
PyFoo_Get:PyObject*:o:0:
PyFoo_Get:Py_ssize_t:i::

PyFoo_Set:int:::
PyFoo_Set:PyObject*:o:0:
PyFoo_Set:PyObject*:v:+1:
";

    fn correction(body: &str) -> Result<String, String> {
        generate(DAT, body)
    }

    #[test]
    fn corrections_are_checked() {
        let ok = "[PyFoo_Set]\nargs = { v = \"Steal\" }\nreason = \"r\"\n\
                  docs = \"https://docs.python.org/3/c-api/foo.html#c.PyFoo_Set\"\n";
        assert!(correction(ok).unwrap().contains("A::Steal"));
        let cases = [
            ("unknown key `retruns`", ok.replace("args =", "retruns =")),
            ("needs a `reason`", ok.replace("reason = \"r\"\n", "")),
            (
                "needs a `docs` link",
                ok.replace("https://docs.python.org/3/c-api/", "x"),
            ),
            ("names no single parameter", ok.replace("v =", "w =")),
            (
                "unknown argument effect",
                ok.replace("\"Steal\"", "\"Stolen\""),
            ),
            ("changes nothing", ok.replace("\"Steal\"", "\"Store\"")),
            ("must give `returns`", ok.replace("PyFoo_Set", "PyFoo_New")),
        ];
        for (expected, text) in cases {
            let err = correction(&text).unwrap_err();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn bad_refcounts_are_errors() {
        assert!(generate("PyFoo_Get:PyObject*::2:\n", "").is_err());
        assert!(generate("PyFoo_Get:int:x::\n", "").is_err());
        assert!(generate("PyA:int:::\n\nPyB:int:::\n\nPyA:int:::\n", "").is_err());
    }
}
