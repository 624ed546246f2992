//! The model of a Cython file: what the Cython rules need, nothing more.

use crate::lex::Token;
use cpycheck_source::Span;
use std::collections::BTreeSet;

/// One `.pyx`/`.pxd` file as far as it was understood.
#[derive(Clone, Debug, Default)]
pub struct CythonFile {
    /// `cdef class` declarations (also `ctypedef class` inside `cdef extern` blocks, which have
    /// no body here but name extension types).
    pub classes: Vec<ClassDef>,
    /// Functions with bodies outside classes (`def`, `cdef`, `cpdef`; methods of plain Python
    /// classes are listed here too).
    pub functions: Vec<FunctionDef>,
    /// C functions declared in `cdef extern` blocks.
    pub externs: Vec<ExternFunction>,
    /// Names this file declares as C types: `ctypedef`, `struct`/`union`/`enum`, fused types,
    /// and types declared inside `cdef extern` blocks.
    pub c_types: BTreeSet<String>,
    /// Names of extension types declared without a body (`ctypedef class` in extern blocks).
    pub extension_types: BTreeSet<String>,
    /// Module-level names: `cdef` variables (with their types) and Python assignments.
    pub globals: Vec<Param>,
    /// Constructs the reader did not understand and skipped.
    pub skipped: Vec<Skipped>,
    /// Logical lines read.
    pub lines: usize,
}

/// A construct that was not understood: it is skipped, never guessed into a finding.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub span: Span,
    pub what: String,
}

#[derive(Clone, Debug)]
pub struct ClassDef {
    pub name: String,
    pub span: Span,
    /// Decorator expressions without the `@`, e.g. `cython.no_gc_clear`.
    pub decorators: Vec<String>,
    pub bases: Vec<String>,
    pub attributes: Vec<Attribute>,
    pub methods: Vec<FunctionDef>,
    /// False for `ctypedef class` declarations of external types.
    pub has_body: bool,
}

impl ClassDef {
    fn has_decorator(&self, name: &str) -> bool {
        self.decorators.iter().any(|d| {
            let d = d.split('(').next().unwrap_or("").trim();
            d == name || d.rsplit('.').next() == Some(name)
        })
    }
    /// `@cython.no_gc_clear`: the class gets no generated `tp_clear`.
    pub fn no_gc_clear(&self) -> bool {
        self.has_decorator("no_gc_clear")
    }
    /// `@cython.no_gc`: the class does not take part in garbage collection at all.
    pub fn no_gc(&self) -> bool {
        self.has_decorator("no_gc")
    }
    pub fn method(&self, name: &str) -> Option<&FunctionDef> {
        self.methods.iter().find(|m| m.name == name)
    }
}

/// An attribute declaration `cdef [public|readonly] TYPE name`.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub span: Span,
    pub ty: TypeRef,
}

/// A declared type as written: the base name and the pointer/array declarators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeRef {
    /// The type words without declarators, e.g. `object`, `unsigned int`, `const void`,
    /// `Context`, `mod.Type`.
    pub base: String,
    /// Number of `*` (arrays and memoryviews count as one).
    pub pointers: usize,
}

impl TypeRef {
    /// `void *` (not `const void *`, not `void **`).
    pub fn is_mutable_void_pointer(&self) -> bool {
        self.pointers == 1 && self.base == "void"
    }
    /// `PyObject *`.
    pub fn is_pyobject_pointer(&self) -> bool {
        self.pointers == 1 && matches!(self.base.as_str(), "PyObject" | "cpython.PyObject")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    Def,
    Cdef,
    Cpdef,
}

#[derive(Clone, Debug)]
pub struct FunctionDef {
    pub name: String,
    pub span: Span,
    pub kind: FunctionKind,
    pub params: Vec<Param>,
    /// The body's statements, nested by indentation.
    pub body: Vec<Stmt>,
    /// `cdef` declarations found anywhere in the body.
    pub locals: Vec<Param>,
}

impl FunctionDef {
    /// Every statement of the body, depth first.
    pub fn statements(&self) -> Vec<&Stmt> {
        fn go<'a>(stmts: &'a [Stmt], out: &mut Vec<&'a Stmt>) {
            for s in stmts {
                out.push(s);
                go(&s.children, out);
            }
        }
        let mut out = Vec::new();
        go(&self.body, &mut out);
        out
    }

    /// Every statement of the body, depth first, with its enclosing statements.
    pub fn walk(&self, mut visit: impl FnMut(&Stmt, &[&Stmt])) {
        fn go<'a>(
            stmts: &'a [Stmt],
            parents: &mut Vec<&'a Stmt>,
            visit: &mut dyn FnMut(&Stmt, &[&Stmt]),
        ) {
            for s in stmts {
                visit(s, parents);
                parents.push(s);
                go(&s.children, parents, visit);
                parents.pop();
            }
        }
        go(&self.body, &mut Vec::new(), &mut visit);
    }
}

/// A parameter, a local `cdef` declaration or a module-level name. `ty` is `None` for an
/// untyped name (a Python object in Cython).
#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub span: Span,
    pub ty: Option<TypeRef>,
}

/// One logical line of a body and the block it opens.
#[derive(Clone, Debug)]
pub struct Stmt {
    pub span: Span,
    pub tokens: Vec<Token>,
    pub children: Vec<Stmt>,
}

impl Stmt {
    pub fn first_is(&self, word: &str) -> bool {
        self.tokens.first().is_some_and(|t| t.is(word))
    }
}

/// A C function declared in a `cdef extern` block.
#[derive(Clone, Debug)]
pub struct ExternFunction {
    pub name: String,
    pub span: Span,
    pub params: Vec<Param>,
    /// The declared return type (`PyObject *`, `object`, `int`), `None` when it could not be
    /// read.
    pub returns: Option<TypeRef>,
}

/// What a declared type is, as far as this file can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeKind {
    /// A Python object that can take part in reference cycles (`object`, `list`, an extension
    /// type, ...): Cython's generated `tp_clear` clears such attributes.
    Object,
    /// A Python object of a builtin type that cannot create reference cycles (`str`,
    /// `bytes`, ...): Cython does not traverse or clear it.
    SimpleObject,
    /// A C value (numbers, pointers, structs, `PyObject *`).
    C,
    /// A name this file does not declare (a type from a `.pxd` it cimports).
    Unknown,
}

const C_WORDS: &[&str] = &[
    "void",
    "char",
    "short",
    "int",
    "long",
    "float",
    "double",
    "bint",
    "size_t",
    "ssize_t",
    "Py_ssize_t",
    "Py_hash_t",
    "Py_UCS4",
    "Py_UNICODE",
    "unsigned",
    "signed",
    "const",
    "volatile",
    "complex",
    "bool",
    "int8_t",
    "int16_t",
    "int32_t",
    "int64_t",
    "uint8_t",
    "uint16_t",
    "uint32_t",
    "uint64_t",
    "intptr_t",
    "uintptr_t",
    "Py_intptr_t",
    "Py_uintptr_t",
    "off_t",
    "time_t",
    "ptrdiff_t",
    "PyObject",
    "Py_buffer",
    "FILE",
];
const OBJECT_TYPES: &[&str] = &[
    "object",
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "type",
    "slice",
];
const SIMPLE_OBJECT_TYPES: &[&str] = &["str", "bytes", "unicode", "bytearray", "basestring"];

impl CythonFile {
    /// Every function body of the file: module-level functions, then the methods of each
    /// class.
    pub fn bodies(&self) -> impl Iterator<Item = &FunctionDef> {
        self.functions
            .iter()
            .chain(self.classes.iter().flat_map(|c| c.methods.iter()))
    }

    pub fn class(&self, name: &str) -> Option<&ClassDef> {
        self.classes.iter().find(|c| c.name == name)
    }

    /// What `ty` is, from this file's declarations.
    pub fn classify(&self, ty: &TypeRef) -> TypeKind {
        if ty.pointers > 0 {
            return TypeKind::C;
        }
        let words: Vec<&str> = ty.base.split_whitespace().collect();
        if words.is_empty() {
            return TypeKind::Unknown;
        }
        if words.len() == 1 {
            let w = words[0];
            if OBJECT_TYPES.contains(&w) {
                return TypeKind::Object;
            }
            if SIMPLE_OBJECT_TYPES.contains(&w) {
                return TypeKind::SimpleObject;
            }
            if self.class(w).is_some() || self.extension_types.contains(w) {
                return TypeKind::Object;
            }
            if self.c_types.contains(w) {
                return TypeKind::C;
            }
        }
        if words.iter().all(|w| C_WORDS.contains(w)) {
            return TypeKind::C;
        }
        TypeKind::Unknown
    }

    /// Adds the declarations of the module's companion `.pxd` (`mod.pxd` next to
    /// `mod.pyx`, which Cython reads with it): attributes, base classes and decorators of
    /// the classes it declares, its classes, C types, extension types and extern functions.
    /// Functions and method bodies of the `.pxd` are not taken, and every span taken from it
    /// is replaced by an empty span at the start of this file, or by the span of the class it
    /// is merged into, so that spans always point into this file.
    pub fn add_companion(&mut self, pxd: &CythonFile) {
        let nowhere = Span::new(0, 0);
        for declared in &pxd.classes {
            match self.classes.iter_mut().find(|c| c.name == declared.name) {
                Some(class) => {
                    let here = class.span;
                    for a in &declared.attributes {
                        if class.attributes.iter().all(|b| b.name != a.name) {
                            class.attributes.push(Attribute {
                                span: here,
                                ..a.clone()
                            });
                        }
                    }
                    if class.bases.is_empty() {
                        class.bases.clone_from(&declared.bases);
                    }
                    for d in &declared.decorators {
                        if !class.decorators.contains(d) {
                            class.decorators.push(d.clone());
                        }
                    }
                }
                None => self.classes.push(ClassDef {
                    name: declared.name.clone(),
                    span: nowhere,
                    decorators: declared.decorators.clone(),
                    bases: declared.bases.clone(),
                    attributes: declared
                        .attributes
                        .iter()
                        .map(|a| Attribute {
                            span: nowhere,
                            ..a.clone()
                        })
                        .collect(),
                    methods: Vec::new(),
                    has_body: false,
                }),
            }
        }
        self.c_types.extend(pxd.c_types.iter().cloned());
        self.extension_types
            .extend(pxd.extension_types.iter().cloned());
        for e in &pxd.externs {
            if self.externs.iter().all(|f| f.name != e.name) {
                self.externs.push(ExternFunction {
                    name: e.name.clone(),
                    span: nowhere,
                    returns: e.returns.clone(),
                    params: e
                        .params
                        .iter()
                        .map(|p| Param {
                            span: nowhere,
                            ..p.clone()
                        })
                        .collect(),
                });
            }
        }
    }

    /// Whether the files' constructs were all understood.
    pub fn fully_understood(&self) -> bool {
        self.skipped.is_empty()
    }
}
