//! cpycheck's own typed model of a C file.
//!
//! Nothing outside this crate sees tree-sitter: everything downstream works on these types.
//! The model is deliberately small: it keeps what ownership analysis needs (functions,
//! statements, expressions, declarations with their types, the tables that register
//! functions with Python) and turns everything else into `Unknown` nodes that carry a span.

pub use cpycheck_source::Span;

/// Everything the later stages need from one file.
#[derive(Clone, Debug, Default)]
pub struct FileModel {
    pub functions: Vec<Function>,
    /// Functions handed to Python through method tables, type slots, getset tables or module
    /// init. They return new references and receive borrowed arguments.
    pub registrations: Vec<Registration>,
    /// Struct names and typedef names whose layout starts with `PyObject_HEAD`,
    /// `PyObject_VAR_HEAD` or an `ob_base` member: pointers to them are object pointers.
    pub object_types: Vec<String>,
    /// The struct definitions among `object_types`, with their members: instance structs.
    pub object_structs: Vec<ObjectStruct>,
    /// Extension types: static `PyTypeObject` initialisers and `PyType_Spec`s.
    pub type_objects: Vec<TypeObject>,
    /// Entries of `PyMemberDef` tables.
    pub member_defs: Vec<MemberDef>,
    /// Enum constants declared in the file whose value is known, in declaration order.
    pub enum_constants: Vec<(String, i64)>,
    /// Number of tree-sitter error or missing nodes left after source prep.
    pub error_regions: usize,
    /// Function definitions that could not be modelled at all (name if known, and why).
    pub skipped_functions: Vec<SkippedFunction>,
}

/// A struct whose layout starts with an object header (`PyObject_HEAD`, `PyObject_VAR_HEAD`,
/// `ob_base`, or an embedded object struct): the instance layout of a Python type.
#[derive(Clone, Debug)]
pub struct ObjectStruct {
    /// Tag and typedef names.
    pub names: Vec<String>,
    pub span: Span,
    /// The type of the embedded first member: `PyObject`, `PyVarObject` or a base object
    /// struct (whose own members the instance inherits).
    pub base: String,
    /// The members after the header, in declaration order.
    pub members: Vec<Member>,
}

#[derive(Clone, Debug)]
pub struct Member {
    pub name: String,
    pub ty: CType,
    pub span: Span,
}

/// One `PyMemberDef` entry: `{"name", T_OBJECT_EX, offsetof(Foo, attr), READONLY, doc}`.
#[derive(Clone, Debug)]
pub struct MemberDef {
    /// The attribute name, when a string literal.
    pub name: Option<String>,
    /// The type code as written (`T_OBJECT_EX`, `Py_T_INT`, ...).
    pub type_code: String,
    pub type_span: Span,
    /// `offsetof(Struct, member)`: the struct (without `struct `) and the member path as
    /// written (`member`, or `base.member`).
    pub offset_of: Option<(String, String)>,
    pub span: Span,
}

/// How an extension type is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeDefinition {
    /// A static `PyTypeObject` initialiser.
    Static,
    /// A `PyType_Spec` (and its `PyType_Slot` array): `PyType_FromSpec*` makes a heap type.
    Spec,
}

/// One extension type.
#[derive(Clone, Debug)]
pub struct TypeObject {
    /// The C variable: the `PyTypeObject` or the `PyType_Spec`.
    pub variable: String,
    /// Where the variable is declared.
    pub span: Span,
    pub definition: TypeDefinition,
    /// `tp_name` / the spec's `name`, without quotes, when a string literal.
    pub name: Option<String>,
    /// The instance struct named by `sizeof(...)` in `tp_basicsize` / `basicsize`, with any
    /// `struct ` keyword removed.
    pub instance: Option<String>,
    /// The flags expression as written, whitespace normalised (empty when not given).
    pub flags: String,
    /// The function slots (`tp_dealloc`, `tp_traverse`, ...) with the functions they name.
    pub slots: Vec<TypeSlot>,
    /// `PyType_FromSpec*` / `PyType_FromModuleAndSpec` / `PyType_FromMetaclass` calls that
    /// create the type from this spec.
    pub created_at: Vec<Span>,
    /// The base type's variable, when `tp_base` (or a `Py_tp_base` slot) is `&Var`, in the
    /// initialiser or assigned at run time (`FooType.tp_base = &BarType;`).
    pub base: Option<String>,
    /// Declared `static`: no other file can set its slots.
    pub is_static: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeSlot {
    /// `tp_dealloc` (the `Py_` prefix of `PyType_Slot` ids is removed).
    pub slot: String,
    pub function: String,
    pub span: Span,
}

impl TypeObject {
    /// The function in a slot, if the type sets it.
    pub fn slot(&self, slot: &str) -> Option<&TypeSlot> {
        self.slots.iter().find(|s| s.slot == slot)
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.flags
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w == flag)
    }

    /// `Py_TPFLAGS_HAVE_GC` is among the flags.
    pub fn has_gc(&self) -> bool {
        self.has_flag("Py_TPFLAGS_HAVE_GC")
    }

    /// A heap type: made from a spec, or flagged `Py_TPFLAGS_HEAPTYPE`.
    pub fn is_heap(&self) -> bool {
        self.definition == TypeDefinition::Spec || self.has_flag("Py_TPFLAGS_HEAPTYPE")
    }
}

impl FileModel {
    /// The object struct with this tag or typedef name.
    pub fn object_struct(&self, name: &str) -> Option<&ObjectStruct> {
        self.object_structs
            .iter()
            .find(|s| s.names.iter().any(|n| n == name))
    }

    /// The members of an instance struct, including those of embedded base structs (bases
    /// first).
    pub fn instance_members(&self, name: &str) -> Vec<&Member> {
        let mut chain = Vec::new();
        let mut cur = self.object_struct(name);
        // Bounded: struct embedding cannot be cyclic in valid C, but input may be junk.
        for _ in 0..16 {
            let Some(s) = cur else { break };
            chain.push(s);
            cur = self.object_struct(&s.base);
        }
        chain.iter().rev().flat_map(|s| s.members.iter()).collect()
    }
}

#[derive(Clone, Debug)]
pub struct SkippedFunction {
    pub name: Option<String>,
    pub span: Span,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The C function's name as written in the table (casts removed).
    pub function: String,
    pub kind: RegistrationKind,
    /// Where the registration is written.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrationKind {
    /// An entry of a `PyMethodDef` array; `flags` is the flags expression as written
    /// (`METH_VARARGS | METH_KEYWORDS`).
    Method {
        flags: String,
    },
    /// A type slot: `tp_repr`, `nb_add`, ... in a static `PyTypeObject` (positional or
    /// designated initialiser), or `Py_tp_repr` ... in a `PyType_Slot` array (the `Py_`
    /// prefix is removed, so both spell `tp_repr`).
    Slot {
        slot: String,
    },
    /// A `PyGetSetDef` getter or setter.
    Getter,
    Setter,
    /// `PyInit_<name>`.
    ModuleInit,
}

/// A C type as far as the analysis cares: the base name and the pointer depth.
/// `PyObject *` is `{ base: "PyObject", pointers: 1 }`; `const char *` is `{ base: "char", .. }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CType {
    pub base: String,
    pub pointers: u8,
    /// Declared as an array (`PyObject *items[4]`).
    pub array: bool,
}

#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    pub name_span: Span,
    /// The whole definition, from its first specifier to the closing brace.
    pub span: Span,
    pub is_static: bool,
    pub return_type: CType,
    pub params: Vec<Param>,
    /// The parameter list ends with `...`.
    pub variadic: bool,
    pub body: Vec<Stmt>,
    /// The body contains parse error regions that are not confined to single statements
    /// (or a subtree was cut by the depth cap): the function is not analysed.
    pub has_errors: bool,
    /// A statement or expression nested deeper than [`crate::MAX_NESTING_DEPTH`] was cut
    /// (`has_errors` is set too): the function is skipped for that reason.
    pub too_deep: bool,
    /// Statements whose parse error is confined to them, modelled as
    /// [`StmtKind::Opaque`]. The function is analysed; these statements make what they
    /// mention unknown.
    pub opaque_regions: usize,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Option<String>,
    pub ty: CType,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Decl {
    pub name: String,
    pub ty: CType,
    pub is_static: bool,
    pub init: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    Expr(Expr),
    Decl(Vec<Decl>),
    If {
        cond: Expr,
        then: Box<Stmt>,
        els: Option<Box<Stmt>>,
    },
    While {
        cond: Expr,
        body: Box<Stmt>,
    },
    DoWhile {
        body: Box<Stmt>,
        cond: Expr,
    },
    For {
        init: Option<Box<Stmt>>,
        cond: Option<Expr>,
        update: Option<Expr>,
        body: Box<Stmt>,
    },
    Switch {
        cond: Expr,
        body: Box<Stmt>,
    },
    /// `case V:` (value `Some`) or `default:` (`None`), with the statements that follow it
    /// up to the next label of the same switch.
    Case {
        value: Option<Expr>,
        body: Vec<Stmt>,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    Goto(String),
    Labeled {
        label: String,
        stmt: Box<Stmt>,
    },
    Block(Vec<Stmt>),
    /// A statement with a parse error confined to it (a macro tree-sitter cannot read, a
    /// type passed as an argument). Control flow goes straight through; every name it
    /// mentions may be read, changed or taken over. `decls` are the variables it declares,
    /// when the declarators themselves parsed.
    Opaque {
        names: Vec<String>,
        decls: Vec<Decl>,
    },
    Empty,
    /// Something the model does not represent (an error region, inline assembly, ...).
    Unknown,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    /// `a op b` for integer constants, when it is defined and fits in an `i64` (the
    /// arithmetic and bitwise operators; `None` for the others).
    pub fn fold(self, a: i64, b: i64) -> Option<i64> {
        match self {
            BinOp::Add => a.checked_add(b),
            BinOp::Sub => a.checked_sub(b),
            BinOp::Mul => a.checked_mul(b),
            BinOp::BitOr => Some(a | b),
            BinOp::BitAnd => Some(a & b),
            BinOp::BitXor => Some(a ^ b),
            BinOp::Shl => u32::try_from(b).ok().and_then(|b| a.checked_shl(b)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
    Plus,
    BitNot,
    Deref,
    AddrOf,
    PreInc,
    PreDec,
    PostInc,
    PostDec,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Ident(String),
    /// An integer literal (also character literals, as their value when known).
    Int(i64),
    /// `NULL` (also `nullptr`).
    Null,
    Str,
    Float,
    Call {
        callee: Box<Expr>,
        args: Vec<Expr>,
    },
    /// `lhs = rhs` (`op == None`) or `lhs op= rhs`.
    Assign {
        op: Option<BinOp>,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    Member {
        base: Box<Expr>,
        field: String,
        arrow: bool,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    Cast {
        ty: CType,
        expr: Box<Expr>,
    },
    Cond {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
    Comma(Vec<Expr>),
    SizeOf,
    /// A brace initialiser list `{a, b}` or compound literal.
    InitList(Vec<Expr>),
    /// Anything else, or an expression nested deeper than the model's depth limit.
    Unknown,
}

impl Expr {
    /// Strips casts and parentheses (parentheses are already gone in the model).
    pub fn strip_casts(&self) -> &Expr {
        let mut e = self;
        while let ExprKind::Cast { expr, .. } = &e.kind {
            e = expr;
        }
        e
    }

    /// The identifier this expression names, if it is a plain identifier (after casts).
    pub fn as_ident(&self) -> Option<&str> {
        match &self.strip_casts().kind {
            ExprKind::Ident(name) => Some(name),
            _ => None,
        }
    }
}
