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
    /// Number of tree-sitter error or missing nodes left after source prep.
    pub error_regions: usize,
    /// Function definitions that could not be modelled at all (name if known, and why).
    pub skipped_functions: Vec<SkippedFunction>,
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
    pub body: Vec<Stmt>,
    /// The body contained parse error regions (they appear as `Unknown` statements).
    pub has_errors: bool,
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
