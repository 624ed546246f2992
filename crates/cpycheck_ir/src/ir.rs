//! The IR: a control-flow graph per function whose statements are the operations that
//! matter for ownership. Expressions are flattened into temporaries, so every call result —
//! including a new reference passed inline to another call — is a value of its own.

use cpycheck_syntax::{CType, Span};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalKind {
    Param,
    Var,
    /// A compiler temporary: dies at the end of the full expression that created it.
    Temp,
}

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub ty: CType,
    pub kind: LocalKind,
    /// The type is a pointer to a Python object (`PyObject *`, a `PyObject_HEAD` struct, ...).
    pub is_object: bool,
}

/// A memory location.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    Local(LocalId),
    /// A file-level or static variable, or a name the file does not declare.
    Global(String),
    /// `base->field` or `base.field`.
    Field(Box<Place>, String),
    /// `*base` or `base[i]` (the index is not tracked; `base[0]` too).
    Deref(Box<Place>),
    /// `base[k]` with a constant index `k` other than 0.
    Elem(Box<Place>, i64),
}

impl Place {
    pub fn as_local(&self) -> Option<LocalId> {
        match self {
            Place::Local(id) => Some(*id),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    Copy(Place),
    AddrOf(Place),
    Null,
    Int(i64),
    /// A string literal (its text, without quotes, escapes left as written).
    Str(String),
    /// Any other value (arithmetic, comparisons in value context, floats, ...).
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callee {
    /// A call of a named function or function-like macro.
    Named(String),
    /// A call through a function pointer; `field` is the member name when the pointer is
    /// read from a struct (`Py_TYPE(self)->tp_free(...)` has `field: Some("tp_free")`).
    Indirect { field: Option<String> },
}

#[derive(Clone, Debug)]
pub struct Call {
    pub callee: Callee,
    pub args: Vec<Operand>,
    pub arg_spans: Vec<Span>,
}

#[derive(Clone, Debug)]
pub enum Rvalue {
    Use(Operand),
    Call(Call),
}

#[derive(Clone, Debug)]
pub enum StatementKind {
    /// `dest = value`. Assigning to a local aliases; assigning to memory stores.
    Assign { dest: Place, value: Rvalue },
    /// `Py_INCREF` / `Py_XINCREF` (`nullable`).
    IncRef { arg: Operand, nullable: bool },
    /// `Py_DECREF` / `Py_XDECREF` (`nullable`).
    DecRef { arg: Operand, nullable: bool },
    /// The operand is dereferenced (`x->f`, `x[i]`, `*x`).
    Use { arg: Operand },
    /// `cpycheck_reveal(x)`.
    Reveal { arg: Operand },
    /// The value of a call made as a whole statement is thrown away (`PyList_Append(l, x);`).
    /// Not emitted for an explicit `(void)` cast.
    Discard { arg: Operand },
    /// The end of a full expression: temporaries die here.
    EndStatement,
}

#[derive(Clone, Debug)]
pub struct Statement {
    pub kind: StatementKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// `a op b` ⇔ `b op.swap() a`.
    pub fn swap(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    pub fn eval(self, a: i64, b: i64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Cond {
    /// True when the operand is non-zero / non-NULL.
    Truthy(Operand),
    Compare {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
}

#[derive(Clone, Debug)]
pub enum Terminator {
    Goto(BlockId),
    Branch {
        cond: Cond,
        then: BlockId,
        els: BlockId,
    },
    /// A `switch`: any of the targets may be taken.
    Switch {
        targets: Vec<BlockId>,
    },
    Return(Option<Operand>),
    /// Control never continues (the end of a block that was never terminated is a
    /// fall-off-the-end return and is lowered as `Return(None)`).
    Unreachable,
}

#[derive(Clone, Debug)]
pub struct BasicBlock {
    pub stmts: Vec<Statement>,
    pub term: Terminator,
    pub term_span: Span,
}

/// One function, lowered.
#[derive(Clone, Debug)]
pub struct Body {
    pub name: String,
    pub span: Span,
    pub name_span: Span,
    pub locals: Vec<Local>,
    pub params: Vec<LocalId>,
    pub blocks: Vec<BasicBlock>,
    pub entry: BlockId,
    /// The function returns a pointer to a Python object.
    pub returns_object: bool,
    /// A use of the file's own macros was not expanded: they nest deeper than
    /// [`crate::MAX_EXPANSION_DEPTH`] (counted in the statistics, never silent).
    pub macro_depth_exceeded: bool,
}

impl Body {
    pub fn local(&self, id: LocalId) -> &Local {
        &self.locals[id.0 as usize]
    }

    pub fn block(&self, id: BlockId) -> &BasicBlock {
        &self.blocks[id.0 as usize]
    }

    /// A short human-readable name of a place (`self->x`, `items[]`), for messages.
    pub fn place_name(&self, place: &Place) -> String {
        match place {
            Place::Local(id) => self.local(*id).name.clone(),
            Place::Global(name) => name.clone(),
            Place::Field(base, field) => format!("{}->{}", self.place_name(base), field),
            Place::Deref(base) => format!("{}[]", self.place_name(base)),
            Place::Elem(base, k) => format!("{}[{k}]", self.place_name(base)),
        }
    }
}

impl fmt::Display for Body {
    /// A text dump of the CFG (`cpycheck debug dump-cfg`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fn {} (returns object: {})",
            self.name, self.returns_object
        )?;
        for (i, l) in self.locals.iter().enumerate() {
            writeln!(
                f,
                "  _{i}: {} {:?}{}",
                l.name,
                l.kind,
                if l.is_object { " object" } else { "" }
            )?;
        }
        for (i, b) in self.blocks.iter().enumerate() {
            writeln!(f, "bb{i}:")?;
            for s in &b.stmts {
                writeln!(f, "    {}", DisplayStmt(self, &s.kind))?;
            }
            let t = match &b.term {
                Terminator::Goto(t) => format!("goto bb{}", t.0),
                Terminator::Branch { cond, then, els } => {
                    format!(
                        "if {} then bb{} else bb{}",
                        DisplayCond(self, cond),
                        then.0,
                        els.0
                    )
                }
                Terminator::Switch { targets } => format!(
                    "switch [{}]",
                    targets
                        .iter()
                        .map(|t| format!("bb{}", t.0))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Terminator::Return(Some(op)) => format!("return {}", DisplayOp(self, op)),
                Terminator::Return(None) => "return".to_string(),
                Terminator::Unreachable => "unreachable".to_string(),
            };
            writeln!(f, "    {t}")?;
        }
        Ok(())
    }
}

struct DisplayOp<'a>(&'a Body, &'a Operand);
impl fmt::Display for DisplayOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Operand::Copy(p) => write!(f, "{}", self.0.place_name(p)),
            Operand::AddrOf(p) => write!(f, "&{}", self.0.place_name(p)),
            Operand::Null => write!(f, "NULL"),
            Operand::Int(i) => write!(f, "{i}"),
            Operand::Str(s) => write!(f, "\"{s}\""),
            Operand::Other => write!(f, "?"),
        }
    }
}

struct DisplayCond<'a>(&'a Body, &'a Cond);
impl fmt::Display for DisplayCond<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Cond::Truthy(op) => write!(f, "{}", DisplayOp(self.0, op)),
            Cond::Compare { op, lhs, rhs } => {
                write!(
                    f,
                    "{} {:?} {}",
                    DisplayOp(self.0, lhs),
                    op,
                    DisplayOp(self.0, rhs)
                )
            }
        }
    }
}

struct DisplayStmt<'a>(&'a Body, &'a StatementKind);
impl fmt::Display for DisplayStmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        match self.1 {
            StatementKind::Assign {
                dest,
                value: Rvalue::Use(op),
            } => {
                write!(f, "{} = {}", b.place_name(dest), DisplayOp(b, op))
            }
            StatementKind::Assign {
                dest,
                value: Rvalue::Call(call),
            } => {
                let callee = match &call.callee {
                    Callee::Named(n) => n.clone(),
                    Callee::Indirect { field: Some(n) } => format!("(*{n})"),
                    Callee::Indirect { field: None } => "(*?)".to_string(),
                };
                let args: Vec<String> = call
                    .args
                    .iter()
                    .map(|a| DisplayOp(b, a).to_string())
                    .collect();
                write!(
                    f,
                    "{} = {}({})",
                    b.place_name(dest),
                    callee,
                    args.join(", ")
                )
            }
            StatementKind::IncRef { arg, nullable } => {
                write!(
                    f,
                    "incref{} {}",
                    if *nullable { "?" } else { "" },
                    DisplayOp(b, arg)
                )
            }
            StatementKind::DecRef { arg, nullable } => {
                write!(
                    f,
                    "decref{} {}",
                    if *nullable { "?" } else { "" },
                    DisplayOp(b, arg)
                )
            }
            StatementKind::Use { arg } => write!(f, "use {}", DisplayOp(b, arg)),
            StatementKind::Reveal { arg } => write!(f, "reveal {}", DisplayOp(b, arg)),
            StatementKind::Discard { arg } => write!(f, "discard {}", DisplayOp(b, arg)),
            StatementKind::EndStatement => write!(f, "end"),
        }
    }
}
