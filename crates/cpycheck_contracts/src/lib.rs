//! API contracts: what each CPython C-API function does to reference counts.
//!
//! The table in [`generated`] is produced from CPython's `Doc/data/refcounts.dat` plus the
//! hand-maintained `data/corrections.toml` by [`codegen::generate`] (`cargo xtask codegen`).
//! The engine never matches on API names: everything it knows about an API is here.

pub mod annotation;
pub mod codegen;
pub mod containers;
pub mod derefs;
pub mod exceptions;
mod generated;
pub mod lifecycle;
pub mod macros;
pub mod must_check;
pub mod naming;
pub mod noreturn;

/// What a function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Returns {
    /// A new (owned) reference. `nullable`: may return NULL with an exception set.
    New { nullable: bool },
    /// A borrowed reference. `nullable`: may return NULL (with or without an exception).
    Borrowed { nullable: bool },
    /// Always returns NULL (the `PyErr_Set*` family).
    AlwaysNull,
    /// A C status/int value with an error convention.
    Status(ErrorConvention),
    /// Returns no object and has no error convention we track (void, counts, C pointers).
    Plain,
}

/// How a non-object result reports failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorConvention {
    /// `-1` on error (exception set), `>= 0` on success.
    NegOne,
    /// `-1` on error (exception set), `0` on success and nothing else (`PyList_Append`,
    /// `PyDict_SetItem`): a non-zero result is the failure.
    NegOneOrZero,
    /// `-1` on error (exception set), otherwise exactly `0` or `1` (`PyObject_IsTrue`,
    /// `PyDict_GetItemRef`): a result other than `1` is `0` or the failure.
    NegOneZeroOrOne,
    /// `0` on failure (exception set), non-zero on success (`PyArg_ParseTuple`).
    Zero,
    /// No error value (e.g. `PyObject_IsTrue` style results are modelled as `NegOne`; this is
    /// for results that cannot fail).
    Infallible,
}

/// What a call does with one of its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgEffect {
    /// Not an object, or an object the function only looks at.
    Borrow,
    /// Steals the reference whatever happens.
    Steal,
    /// Steals the reference only when the call succeeds (`PyModule_AddObject`).
    StealOnSuccess,
    /// Steals the reference only when the call fails (a helper that cleans up its caller's
    /// reference on its error path).
    StealOnFailure,
    /// Borrows, but may keep a new reference of its own to the object (stores it in a
    /// container or attribute): the object may outlive our release of it.
    Store,
    /// An out-parameter (`PyObject **`) that receives a borrowed reference on success.
    OutBorrowed,
    /// An out-parameter that receives a new reference on success.
    OutNew,
    /// An in/out parameter (`PyObject **`) that holds an owned reference on entry: the call
    /// consumes that reference and stores a new one in its place (`PyUnicode_Append`,
    /// `PyUnicode_InternInPlace`, `_PyTuple_Resize`). `nullable`: on failure the call stores
    /// NULL (with an exception set); the old reference is consumed either way.
    Replace { nullable: bool },
}

/// Variadic arguments whose meaning a format string gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Varargs {
    None,
    /// `PyArg_ParseTuple`-style: the trailing arguments are out-pointers; "O"-style units give
    /// borrowed references. `format` is the index of the format-string argument.
    ParseFormat {
        format: usize,
    },
    /// `Py_BuildValue`-style: objects passed for "O" are borrowed, for "N" stolen.
    BuildFormat {
        format: usize,
    },
    /// Other varargs (`PyObject_CallFunctionObjArgs`): objects are borrowed.
    Borrowed,
    /// Every trailing argument is a `PyObject **` out-parameter that receives a borrowed
    /// reference on success (`PyArg_UnpackTuple`).
    OutBorrowed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contract {
    pub name: &'static str,
    pub returns: Returns,
    /// One entry per declared parameter, in order.
    pub args: &'static [ArgEffect],
    pub varargs: Varargs,
    /// The call may run arbitrary Python code (object protocol, calls, comparisons,
    /// `__del__` via a release). Borrowed references may be invalidated by such a call.
    pub runs_python: bool,
    /// First Python version that has the function, when it is newer than 3.0 (for the
    /// strong-reference APIs of 3.10+).
    pub since: Option<(u8, u8)>,
}

/// Looks up the contract of a C-API function or function-like macro by name. Calls through a
/// type slot are looked up as `"->tp_free"`, `"->tp_alloc"`, ...
pub fn lookup(name: &str) -> Option<&'static Contract> {
    BY_NAME.get(name).copied()
}

/// The table by name (the analysis looks a name up at every call it meets).
static BY_NAME: std::sync::LazyLock<
    std::collections::HashMap<&'static str, &'static Contract, NameHash>,
> = std::sync::LazyLock::new(|| generated::CONTRACTS.iter().map(|c| (c.name, c)).collect());

/// FNV-1a: C identifiers are short, and the table is fixed (no untrusted keys).
type NameHash = std::hash::BuildHasherDefault<Fnv>;

#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// All known contracts, sorted by name.
pub fn all() -> &'static [Contract] {
    generated::CONTRACTS
}
