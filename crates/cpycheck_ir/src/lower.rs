//! Lowering from the syntax model to the IR.
//!
//! Macros from the contracts crate's macro table are expanded here (`Py_CLEAR` becomes a
//! NULL test, a release and a store; `Py_RETURN_NONE` a new reference to `Py_None` and a
//! return), so the engine only ever sees IR operations.

use crate::ir::*;
use crate::local_macros::LocalMacros;
use cpycheck_contracts::macros::{MacroKind, lookup_macro};
use cpycheck_syntax::{BinOp, CType, Decl, Expr, ExprKind, Function, Span, Stmt, StmtKind, UnOp};
use std::collections::HashMap;

/// What lowering needs to know about the file around the function.
pub struct LowerContext<'a> {
    /// The file's text (for string literals).
    pub source: &'a str,
    /// Struct and typedef names whose pointers are object pointers.
    pub object_types: &'a [String],
    /// The file's own macros, expanded at their uses.
    pub macros: &'a LocalMacros,
}

impl LowerContext<'_> {
    pub fn is_object_type(&self, ty: &CType) -> bool {
        is_object_type(ty, self.object_types)
    }
}

/// `PyObject *`, `PyTypeObject *`, or a pointer to a struct that starts with `PyObject_HEAD`.
pub fn is_object_type(ty: &CType, object_types: &[String]) -> bool {
    if ty.pointers != 1 || ty.array {
        return false;
    }
    let base = ty.base.trim_start_matches("struct ").trim();
    base == "PyObject"
        || (base.starts_with("Py") && base.ends_with("Object"))
        || object_types.iter().any(|t| t == base)
}

/// Lowers one function. Never fails: what cannot be represented becomes `Operand::Other`.
pub fn lower_function(func: &Function, cx: &LowerContext<'_>) -> Body {
    let mut l = Lowerer {
        cx,
        locals: Vec::new(),
        scopes: vec![HashMap::new()],
        blocks: Vec::new(),
        current: BlockId(0),
        labels: HashMap::new(),
        loops: Vec::new(),
        switches: Vec::new(),
        macro_value: None,
        expanding: Vec::new(),
    };
    let entry = l.new_block();
    l.current = entry;
    let mut params = Vec::new();
    for p in &func.params {
        let name = p
            .name
            .clone()
            .unwrap_or_else(|| format!("<arg{}>", params.len()));
        let id = l.declare(&name, p.ty.clone(), LocalKind::Param);
        params.push(id);
    }
    for s in &func.body {
        l.stmt(s);
    }
    // Falling off the end returns.
    let end = Span::new(
        func.span.end.saturating_sub(1) as usize,
        func.span.end as usize,
    );
    l.terminate(Terminator::Return(None), end);
    Body {
        name: func.name.clone(),
        span: func.span,
        name_span: func.name_span,
        locals: l.locals,
        params,
        blocks: l.blocks.into_iter().map(|b| b.finish()).collect(),
        entry,
        returns_object: cx.is_object_type(&func.return_type)
            || func.return_type.base == "PyMODINIT_FUNC",
    }
}

struct BlockBuilder {
    stmts: Vec<Statement>,
    term: Option<(Terminator, Span)>,
}

impl BlockBuilder {
    fn finish(self) -> BasicBlock {
        let (term, term_span) = self
            .term
            .unwrap_or((Terminator::Unreachable, Span::default()));
        BasicBlock {
            stmts: self.stmts,
            term,
            term_span,
        }
    }
}

struct SwitchFrame {
    targets: Vec<BlockId>,
    has_default: bool,
}

struct Lowerer<'a, 'b> {
    cx: &'a LowerContext<'b>,
    locals: Vec<Local>,
    scopes: Vec<HashMap<String, Place>>,
    blocks: Vec<BlockBuilder>,
    current: BlockId,
    labels: HashMap<String, BlockId>,
    /// (continue target, break target)
    loops: Vec<(Option<BlockId>, BlockId)>,
    switches: Vec<SwitchFrame>,
    /// The value of the last macro expanded in place (`Py_NewRef(x)` is `x`).
    macro_value: Option<Operand>,
    /// Local macros being expanded (a macro is not expanded inside itself, as in cpp).
    expanding: Vec<String>,
}

/// The callee of the call an opaque statement is lowered to (no function has this name).
pub const OPAQUE_CALLEE: &str = "<opaque>";

/// How many names an opaque statement may make unknown (with the macros it uses).
const MAX_OPAQUE_NAMES: usize = 256;

/// How deep local macro expansions may nest.
const MAX_EXPANSION_DEPTH: usize = 16;

impl Lowerer<'_, '_> {
    fn new_block(&mut self) -> BlockId {
        self.blocks.push(BlockBuilder {
            stmts: Vec::new(),
            term: None,
        });
        BlockId(self.blocks.len() as u32 - 1)
    }

    fn declare(&mut self, name: &str, ty: CType, kind: LocalKind) -> LocalId {
        let is_object = self.cx.is_object_type(&ty);
        self.locals.push(Local {
            name: name.to_string(),
            ty,
            kind,
            is_object,
        });
        let id = LocalId(self.locals.len() as u32 - 1);
        if kind != LocalKind::Temp {
            self.scopes
                .last_mut()
                .unwrap()
                .insert(name.to_string(), Place::Local(id));
        }
        id
    }

    fn temp(&mut self, is_object: bool) -> Place {
        let n = self.locals.len();
        self.locals.push(Local {
            name: format!("<tmp{n}>"),
            ty: CType::default(),
            kind: LocalKind::Temp,
            is_object,
        });
        Place::Local(LocalId(n as u32))
    }

    /// A static local lives like a global: it is memory, not a variable.
    fn declare_static(&mut self, name: &str) {
        self.scopes
            .last_mut()
            .unwrap()
            .insert(name.to_string(), Place::Global(name.to_string()));
    }

    fn lookup(&self, name: &str) -> Place {
        for scope in self.scopes.iter().rev() {
            if let Some(p) = scope.get(name) {
                return p.clone();
            }
        }
        Place::Global(name.to_string())
    }

    fn emit(&mut self, kind: StatementKind, span: Span) {
        let b = &mut self.blocks[self.current.0 as usize];
        if b.term.is_none() {
            b.stmts.push(Statement { kind, span });
        }
    }

    fn terminate(&mut self, term: Terminator, span: Span) {
        let b = &mut self.blocks[self.current.0 as usize];
        if b.term.is_none() {
            b.term = Some((term, span));
        }
    }

    /// Ends the current block with a jump to `target` and continues in `target`.
    fn goto_and_switch(&mut self, target: BlockId, span: Span) {
        self.terminate(Terminator::Goto(target), span);
        self.current = target;
    }

    fn label_block(&mut self, label: &str) -> BlockId {
        if let Some(b) = self.labels.get(label) {
            return *b;
        }
        let b = self.new_block();
        self.labels.insert(label.to_string(), b);
        b
    }

    fn end_statement(&mut self, span: Span) {
        self.emit(StatementKind::EndStatement, span);
    }

    // ----- statements -----

    fn stmt(&mut self, s: &Stmt) {
        // Code after a return/goto is unreachable unless a label makes it reachable: give it a
        // fresh block so it is still lowered (labels inside it stay reachable).
        if self.blocks[self.current.0 as usize].term.is_some() {
            self.current = self.new_block();
        }
        match &s.kind {
            StmtKind::Expr(e) => {
                self.expr_stmt(e);
                self.end_statement(s.span);
            }
            StmtKind::Decl(decls) if self.macro_misparsed_as_type(decls) => {
                // `STMT_MACRO x = f();` — a statement macro of the file used without a `;`
                // parses as a declaration whose type is the macro: expand the macro, then
                // the declarators are plain expressions on existing variables.
                let name = decls[0].ty.base.clone();
                let use_site = Expr {
                    kind: ExprKind::Ident(name),
                    span: s.span,
                };
                self.expr_stmt(&use_site);
                for d in decls {
                    if let Some(init) = &d.init {
                        let dest = self.lookup(&d.name);
                        self.assign_expr(dest, init, d.span);
                    }
                }
                self.end_statement(s.span);
            }
            StmtKind::Decl(decls) => {
                for d in decls {
                    if d.is_static {
                        self.declare_static(&d.name);
                        continue;
                    }
                    let id = self.declare(&d.name, d.ty.clone(), LocalKind::Var);
                    if let Some(init) = &d.init {
                        if d.ty.array {
                            self.array_init(id, init);
                        } else {
                            self.assign_expr(Place::Local(id), init, d.span);
                        }
                    }
                }
                self.end_statement(s.span);
            }
            StmtKind::If { cond, then, els } => {
                let t = self.new_block();
                let f = self.new_block();
                let join = self.new_block();
                self.cond_stmt(cond, t, f);
                self.current = t;
                self.stmt(then);
                self.goto_and_switch(join, s.span);
                self.current = f;
                if let Some(els) = els {
                    self.stmt(els);
                }
                self.goto_and_switch(join, s.span);
            }
            StmtKind::While { cond, body } => {
                let head = self.new_block();
                let body_b = self.new_block();
                let exit = self.new_block();
                self.goto_and_switch(head, s.span);
                self.cond_stmt(cond, body_b, exit);
                self.current = body_b;
                self.loops.push((Some(head), exit));
                self.stmt(body);
                self.loops.pop();
                self.terminate(Terminator::Goto(head), s.span);
                self.current = exit;
            }
            StmtKind::DoWhile { body, cond } => {
                let body_b = self.new_block();
                let test = self.new_block();
                let exit = self.new_block();
                self.goto_and_switch(body_b, s.span);
                self.loops.push((Some(test), exit));
                self.stmt(body);
                self.loops.pop();
                self.goto_and_switch(test, s.span);
                self.cond_stmt(cond, body_b, exit);
                self.current = exit;
            }
            StmtKind::For {
                init,
                cond,
                update,
                body,
            } => {
                self.scopes.push(HashMap::new());
                if let Some(init) = init {
                    self.stmt(init);
                }
                let head = self.new_block();
                let body_b = self.new_block();
                let step = self.new_block();
                let exit = self.new_block();
                self.goto_and_switch(head, s.span);
                match cond {
                    Some(c) => self.cond_stmt(c, body_b, exit),
                    None => self.terminate(Terminator::Goto(body_b), s.span),
                }
                self.current = body_b;
                self.loops.push((Some(step), exit));
                self.stmt(body);
                self.loops.pop();
                self.goto_and_switch(step, s.span);
                if let Some(u) = update {
                    self.expr_stmt(u);
                    self.end_statement(u.span);
                }
                self.terminate(Terminator::Goto(head), s.span);
                self.current = exit;
                self.scopes.pop();
            }
            StmtKind::Switch { cond, body } => {
                let _ = self.operand(cond);
                self.end_statement(cond.span);
                let dispatch = self.current;
                let exit = self.new_block();
                self.switches.push(SwitchFrame {
                    targets: Vec::new(),
                    has_default: false,
                });
                self.loops.push((self.loops.last().and_then(|l| l.0), exit));
                // The body's statements before the first label are unreachable.
                self.current = self.new_block();
                self.stmt(body);
                self.goto_and_switch(exit, s.span);
                self.loops.pop();
                let frame = self.switches.pop().unwrap();
                let mut targets = frame.targets;
                if !frame.has_default {
                    targets.push(exit);
                }
                self.current = dispatch;
                self.terminate(Terminator::Switch { targets }, s.span);
                self.current = exit;
            }
            StmtKind::Case { value, body } => {
                let b = self.new_block();
                self.goto_and_switch(b, s.span);
                if let Some(frame) = self.switches.last_mut() {
                    frame.targets.push(b);
                    if value.is_none() {
                        frame.has_default = true;
                    }
                }
                for st in body {
                    self.stmt(st);
                }
            }
            StmtKind::Break => {
                if let Some(&(_, brk)) = self.loops.last() {
                    self.terminate(Terminator::Goto(brk), s.span);
                }
            }
            StmtKind::Continue => {
                if let Some(cont) = self.loops.iter().rev().find_map(|l| l.0) {
                    self.terminate(Terminator::Goto(cont), s.span);
                }
            }
            StmtKind::Return(value) => {
                let op = value.as_ref().map(|e| self.operand(e));
                self.terminate(Terminator::Return(op), s.span);
            }
            StmtKind::Goto(label) => {
                let b = self.label_block(label);
                self.terminate(Terminator::Goto(b), s.span);
            }
            StmtKind::Labeled { label, stmt } => {
                let b = self.label_block(label);
                self.goto_and_switch(b, s.span);
                self.stmt(stmt);
            }
            StmtKind::Block(stmts) => {
                self.scopes.push(HashMap::new());
                for st in stmts {
                    self.stmt(st);
                }
                // The block's arrays die here: what their elements held is forgotten (and
                // an owned reference only they held is lost).
                let mut arrays: Vec<LocalId> = self
                    .scopes
                    .last()
                    .into_iter()
                    .flat_map(|scope| scope.values())
                    .filter_map(|p| p.as_local())
                    .filter(|l| self.locals[l.0 as usize].ty.array)
                    .collect();
                arrays.sort();
                if !arrays.is_empty() && self.blocks[self.current.0 as usize].term.is_none() {
                    // At the closing brace.
                    let end = Span::new(s.span.end.saturating_sub(1) as usize, s.span.end as usize);
                    for a in arrays {
                        self.emit(
                            StatementKind::Assign {
                                dest: Place::Local(a),
                                value: Rvalue::Use(Operand::Other),
                            },
                            end,
                        );
                    }
                    self.end_statement(end);
                }
                self.scopes.pop();
            }
            StmtKind::Opaque { names, decls } => {
                let expanded = names
                    .iter()
                    .any(|n| self.cx.macros.has_control_flow(n))
                    .then(|| {
                        let text = self
                            .cx
                            .source
                            .get(s.span.start as usize..s.span.end as usize)?;
                        self.cx.macros.expand_statement(text, s.span)
                    })
                    .flatten();
                match expanded {
                    Some(stmts) => {
                        for st in &stmts {
                            self.stmt(st);
                        }
                    }
                    None => self.opaque(names, decls, s.span),
                }
            }
            StmtKind::Empty | StmtKind::Unknown => {}
        }
    }

    /// A statement the parser could not read: it declares `decls`, and may read, change or
    /// take over whatever it mentions — directly or through the bodies of the file's macros
    /// it uses. Lowered as a call of an unknown function given the address of each of
    /// those places, which makes their values unknown.
    fn opaque(&mut self, names: &[String], decls: &[Decl], span: Span) {
        for d in decls {
            if d.is_static {
                self.declare_static(&d.name);
            } else {
                self.declare(&d.name, d.ty.clone(), LocalKind::Var);
            }
        }
        let mut all: Vec<&str> = Vec::new();
        let mut queue: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 0)).collect();
        while let Some((name, depth)) = queue.pop() {
            if all.contains(&name) || all.len() >= MAX_OPAQUE_NAMES {
                continue;
            }
            all.push(name);
            if depth < MAX_EXPANSION_DEPTH {
                queue.extend(
                    self.cx
                        .macros
                        .names_in(name)
                        .iter()
                        .map(|n| (n.as_str(), depth + 1)),
                );
            }
        }
        all.sort_unstable();
        let args: Vec<Operand> = all
            .iter()
            .map(|n| self.lookup(n))
            .filter(|p| match p {
                Place::Global(n) => {
                    lookup_macro(n).is_none() && cpycheck_contracts::lookup(n).is_none()
                }
                _ => true,
            })
            .map(Operand::AddrOf)
            .collect();
        let call = Call {
            callee: Callee::Named(OPAQUE_CALLEE.to_string()),
            arg_spans: vec![span; args.len()],
            args,
        };
        let dest = self.temp(false);
        self.emit(
            StatementKind::Assign {
                dest,
                value: Rvalue::Call(call),
            },
            span,
        );
        self.end_statement(span);
    }

    /// The statements of a local macro use (`NAME` or `NAME(args)`), if `e` is one.
    fn local_expansion(&self, e: &Expr) -> Option<(String, Vec<Stmt>)> {
        if self.expanding.len() >= MAX_EXPANSION_DEPTH {
            return None;
        }
        let (name, args): (&str, &[Expr]) = match &e.kind {
            ExprKind::Ident(name) => (name, &[]),
            ExprKind::Call { callee, args } => match &callee.kind {
                ExprKind::Ident(name) => (name, args),
                _ => return None,
            },
            _ => return None,
        };
        if self.expanding.iter().any(|m| m == name) {
            return None;
        }
        let m = self.cx.macros.get(name, e.span.start as usize)?;
        if m.params.is_some() != matches!(e.kind, ExprKind::Call { .. }) {
            return None;
        }
        Some((name.to_string(), m.expand(args, e.span)?))
    }

    fn macro_misparsed_as_type(&self, decls: &[cpycheck_syntax::Decl]) -> bool {
        let Some(first) = decls.first() else {
            return false;
        };
        first.ty.pointers == 0
            && !first.ty.array
            && self
                .cx
                .macros
                .get(&first.ty.base, first.span.start as usize)
                .is_some_and(|m| m.params.is_none() && m.as_expr().is_none())
    }

    /// An expression in statement position: statement macros are recognised here.
    fn expr_stmt(&mut self, e: &Expr) {
        if let Some((name, stmts)) = self.local_expansion(e) {
            self.expanding.push(name);
            for st in &stmts {
                self.stmt(st);
            }
            self.expanding.pop();
            return;
        }
        // `assert(c)`: the code after it is written for `c` true (with NDEBUG unset, the
        // process aborts otherwise), so the false edge ends the path.
        if let ExprKind::Call { callee, args } = &e.kind
            && matches!(&callee.kind, ExprKind::Ident(n) if n == "assert")
            && let [c] = args.as_slice()
        {
            let holds = self.new_block();
            let fails = self.new_block();
            self.cond_stmt(c, holds, fails);
            self.current = holds;
            return;
        }
        if let ExprKind::Ident(name) = &e.kind {
            match lookup_macro(name) {
                Some(MacroKind::ReturnSingleton(singleton)) => {
                    let op = Operand::Copy(Place::Global(singleton.to_string()));
                    self.emit(
                        StatementKind::IncRef {
                            arg: op.clone(),
                            nullable: false,
                        },
                        e.span,
                    );
                    self.terminate(Terminator::Return(Some(op)), e.span);
                    return;
                }
                Some(MacroKind::NoOp) => return,
                _ => {}
            }
        }
        if let ExprKind::Call { callee, .. } = &e.kind
            && let Some(name) = callee.as_ident()
            && lookup_macro(name) == Some(MacroKind::ReturnNew)
        {
            let _ = self.operand(e);
            self.terminate(Terminator::Return(Some(Operand::Other)), e.span);
            return;
        }
        let op = self.operand(e);
        if matches!(e.kind, ExprKind::Call { .. }) {
            self.emit(StatementKind::Discard { arg: op }, e.span);
        }
    }

    // ----- conditions -----

    /// The condition of an `if` or a loop: a full expression, so its temporaries die on
    /// both edges.
    fn cond_stmt(&mut self, e: &Expr, t: BlockId, f: BlockId) {
        self.cond(e, t, f);
        for b in [t, f] {
            let block = &mut self.blocks[b.0 as usize];
            if block.stmts.is_empty() && block.term.is_none() {
                block.stmts.push(Statement {
                    kind: StatementKind::EndStatement,
                    span: e.span,
                });
            }
        }
    }

    fn cond(&mut self, e: &Expr, t: BlockId, f: BlockId) {
        if let Some((name, stmts)) = self.local_expansion(e)
            && let [
                Stmt {
                    kind: StmtKind::Expr(inner),
                    ..
                },
            ] = stmts.as_slice()
        {
            self.expanding.push(name);
            self.cond(inner, t, f);
            self.expanding.pop();
            return;
        }
        match &e.kind {
            ExprKind::Unary {
                op: UnOp::Not,
                operand,
            } => self.cond(operand, f, t),
            ExprKind::Binary {
                op: BinOp::And,
                lhs,
                rhs,
            } => {
                let mid = self.new_block();
                self.cond(lhs, mid, f);
                self.current = mid;
                self.cond(rhs, t, f);
            }
            ExprKind::Binary {
                op: BinOp::Or,
                lhs,
                rhs,
            } => {
                let mid = self.new_block();
                self.cond(lhs, t, mid);
                self.current = mid;
                self.cond(rhs, t, f);
            }
            ExprKind::Binary { op, lhs, rhs } if cmp_op(*op).is_some() => {
                let l = self.operand(lhs);
                let r = self.operand(rhs);
                let op = cmp_op(*op).unwrap();
                self.branch(Cond::Compare { op, lhs: l, rhs: r }, t, f, e.span);
            }
            ExprKind::Comma(items) if !items.is_empty() => {
                for it in &items[..items.len() - 1] {
                    let _ = self.operand(it);
                }
                self.cond(items.last().unwrap(), t, f);
            }
            ExprKind::Cast { expr, .. } => self.cond(expr, t, f),
            ExprKind::Call { callee, args }
                if callee.as_ident().and_then(lookup_macro) == Some(MacroKind::Identity)
                    && !args.is_empty() =>
            {
                self.cond(&args[0], t, f)
            }
            _ => {
                let op = self.operand(e);
                self.branch(Cond::Truthy(op), t, f, e.span);
            }
        }
    }

    fn branch(&mut self, cond: Cond, t: BlockId, f: BlockId, span: Span) {
        // Constant conditions (`while (1)`, `do { } while (0)`) jump directly.
        let constant = match &cond {
            Cond::Truthy(Operand::Int(i)) => Some(*i != 0),
            Cond::Truthy(Operand::Null) => Some(false),
            Cond::Truthy(Operand::Str(_)) => Some(true),
            Cond::Compare {
                op,
                lhs: Operand::Int(a),
                rhs: Operand::Int(b),
            } => Some(op.eval(*a, *b)),
            _ => None,
        };
        match constant {
            Some(true) => self.terminate(Terminator::Goto(t), span),
            Some(false) => self.terminate(Terminator::Goto(f), span),
            None => self.terminate(
                Terminator::Branch {
                    cond,
                    then: t,
                    els: f,
                },
                span,
            ),
        }
    }

    // ----- expressions -----

    fn assign_expr(&mut self, dest: Place, rhs: &Expr, span: Span) {
        let rhs_s = rhs.strip_casts();
        if let Some((name, stmts)) = self.local_expansion(rhs_s)
            && let [
                Stmt {
                    kind: StmtKind::Expr(inner),
                    ..
                },
            ] = stmts.as_slice()
        {
            self.expanding.push(name);
            self.assign_expr(dest, inner, span);
            self.expanding.pop();
            return;
        }
        let op = if let ExprKind::Call { callee, args } = &rhs_s.kind {
            match self.call_rvalue(callee, args, rhs_s.span) {
                Some(call) => {
                    let value = Rvalue::Call(call);
                    self.emit(StatementKind::Assign { dest, value }, span);
                    return;
                }
                // A macro expanded in place (`x = Py_NewRef(y)`): its value.
                None => self.macro_value.take().unwrap_or(Operand::Other),
            }
        } else {
            self.operand(rhs)
        };
        self.emit(
            StatementKind::Assign {
                dest,
                value: Rvalue::Use(op),
            },
            span,
        );
    }

    /// `T a[] = {x, y, ...}`: each item is stored into its element (`PyObject *vargs[] =
    /// {NULL, PyLong_FromLong(n)}`, released later as `vargs[1]`). A list with designators
    /// (`[2] = x`) or nested lists, or without a call, is only evaluated.
    fn array_init(&mut self, array: LocalId, init: &Expr) {
        let ExprKind::InitList(items) = &init.kind else {
            let _ = self.operand(init);
            return;
        };
        let designated = items.iter().any(|it| {
            let before = self.cx.source.get(..it.span.start as usize).unwrap_or("");
            matches!(it.kind, ExprKind::InitList(_)) || before.trim_end().ends_with('=')
        });
        // A list that only copies values creates no reference: nothing to follow through
        // the elements (Cython's `PyObject *__pyx_callargs[3] = {t4, t3, s}`).
        let creates = items.iter().any(|it| match &it.strip_casts().kind {
            // `Py_TYPE(o)` and the other macros of the table read, they do not create.
            ExprKind::Call { callee, .. } => callee.as_ident().and_then(lookup_macro).is_none(),
            _ => false,
        });
        if designated || !creates {
            let _ = self.operand(init);
            return;
        }
        for (k, it) in items.iter().enumerate() {
            // `a[0]` is the place `*a`, as everywhere else.
            let base = Box::new(Place::Local(array));
            let dest = match k {
                0 => Place::Deref(base),
                k => Place::Elem(base, k as i64),
            };
            self.assign_expr(dest, it, it.span);
        }
    }

    fn place(&mut self, e: &Expr) -> Option<Place> {
        match &e.kind {
            ExprKind::Ident(name) => {
                let place = self.lookup(name);
                // An object-like macro of the file naming memory (`#define __pyx_d
                // __pyx_mstate_global->__pyx_d`) is that memory, written as read.
                if matches!(place, Place::Global(_))
                    && let Some((macro_name, body)) = self.local_expansion(e)
                    && let [
                        Stmt {
                            kind: StmtKind::Expr(inner),
                            ..
                        },
                    ] = body.as_slice()
                    && matches!(
                        inner.kind,
                        ExprKind::Ident(_) | ExprKind::Member { .. } | ExprKind::Index { .. }
                    )
                {
                    self.expanding.push(macro_name);
                    let expanded = self.place(inner);
                    self.expanding.pop();
                    return expanded;
                }
                Some(place)
            }
            ExprKind::Cast { expr, .. } => self.place(expr),
            ExprKind::Member { base, field, arrow } => {
                let base_place = self.place_or_temp(base);
                if *arrow {
                    self.emit(
                        StatementKind::Use {
                            arg: Operand::Copy(base_place.clone()),
                        },
                        e.span,
                    );
                }
                Some(Place::Field(Box::new(base_place), field.clone()))
            }
            ExprKind::Index { base, index } => {
                let k = match self.operand(index) {
                    Operand::Int(k) if k != 0 => Some(k),
                    _ => None,
                };
                let base_place = Box::new(self.place_or_temp(base));
                Some(match k {
                    Some(k) => Place::Elem(base_place, k),
                    None => Place::Deref(base_place),
                })
            }
            ExprKind::Unary {
                op: UnOp::Deref,
                operand,
            } => {
                let base_place = self.place_or_temp(operand);
                self.emit(
                    StatementKind::Use {
                        arg: Operand::Copy(base_place.clone()),
                    },
                    e.span,
                );
                Some(Place::Deref(Box::new(base_place)))
            }
            ExprKind::Call { callee, args } => {
                // `Py_TYPE(x)` is the place `x->ob_type`.
                if callee.as_ident().and_then(lookup_macro) == Some(MacroKind::TypeOf)
                    && let Some(arg) = args.first()
                {
                    let base = self.place_or_temp(arg);
                    return Some(Place::Field(Box::new(base), "ob_type".to_string()));
                }
                None
            }
            _ => None,
        }
    }

    fn place_or_temp(&mut self, e: &Expr) -> Place {
        if let Some(p) = self.place(e) {
            return p;
        }
        let op = self.operand(e);
        match op {
            Operand::Copy(p) => p,
            other => {
                let t = self.temp(false);
                self.emit(
                    StatementKind::Assign {
                        dest: t.clone(),
                        value: Rvalue::Use(other),
                    },
                    e.span,
                );
                t
            }
        }
    }

    fn operand(&mut self, e: &Expr) -> Operand {
        if let Some((name, stmts)) = self.local_expansion(e) {
            self.expanding.push(name);
            let value = match stmts.as_slice() {
                [
                    Stmt {
                        kind: StmtKind::Expr(inner),
                        ..
                    },
                ] => self.operand(inner),
                _ => {
                    for st in &stmts {
                        self.stmt(st);
                    }
                    Operand::Other
                }
            };
            self.expanding.pop();
            return value;
        }
        match &e.kind {
            ExprKind::Ident(name) => match lookup_macro(name) {
                Some(MacroKind::ReturnSingleton(_)) | Some(MacroKind::NoOp) => {
                    self.expr_stmt(e);
                    Operand::Other
                }
                _ => Operand::Copy(self.lookup(name)),
            },
            ExprKind::Int(i) => Operand::Int(*i),
            ExprKind::Null => Operand::Null,
            ExprKind::Str => {
                let text = self.cx.source.get(e.span.range()).unwrap_or("");
                // A literal concatenated with a macro (`_Py_PARSE_PID "OO"`) has unknown text.
                string_literal_text(text).map_or(Operand::Other, Operand::Str)
            }
            ExprKind::Float | ExprKind::SizeOf | ExprKind::Unknown => Operand::Other,
            ExprKind::Cast { expr, .. } => self.operand(expr),
            ExprKind::Call { callee, args } => self.call_operand(callee, args, e.span),
            ExprKind::Assign { op: None, lhs, rhs } => match self.place(lhs) {
                Some(p) => {
                    self.assign_expr(p.clone(), rhs, e.span);
                    Operand::Copy(p)
                }
                None => {
                    let _ = self.operand(rhs);
                    Operand::Other
                }
            },
            ExprKind::Assign {
                op: Some(_),
                lhs,
                rhs,
            } => {
                let _ = self.operand(rhs);
                if let Some(p) = self.place(lhs) {
                    self.emit(
                        StatementKind::Assign {
                            dest: p.clone(),
                            value: Rvalue::Use(Operand::Other),
                        },
                        e.span,
                    );
                    Operand::Copy(p)
                } else {
                    Operand::Other
                }
            }
            ExprKind::Binary { op, .. }
                if matches!(op, BinOp::And | BinOp::Or) || cmp_op(*op).is_some() =>
            {
                self.truth_value(e)
            }
            ExprKind::Unary { op: UnOp::Not, .. } => self.truth_value(e),
            ExprKind::Binary { op, lhs, rhs } => {
                // Integer constants fold (`FLAG_A | FLAG_B`); other arithmetic (pointer
                // arithmetic included) gives an unknown value.
                match (self.operand(lhs), self.operand(rhs)) {
                    (Operand::Int(a), Operand::Int(b)) => {
                        op.fold(a, b).map_or(Operand::Other, Operand::Int)
                    }
                    _ => Operand::Other,
                }
            }
            ExprKind::Unary { op, operand } => match op {
                UnOp::AddrOf => match self.place(operand) {
                    Some(p) => Operand::AddrOf(p),
                    None => {
                        let _ = self.operand(operand);
                        Operand::Other
                    }
                },
                UnOp::Deref => match self.place(e) {
                    Some(p) => Operand::Copy(p),
                    None => Operand::Other,
                },
                UnOp::Neg => match self.operand(operand) {
                    Operand::Int(i) => Operand::Int(i.wrapping_neg()),
                    _ => Operand::Other,
                },
                UnOp::PreInc | UnOp::PreDec | UnOp::PostInc | UnOp::PostDec => {
                    if let Some(p) = self.place(operand) {
                        self.emit(
                            StatementKind::Assign {
                                dest: p,
                                value: Rvalue::Use(Operand::Other),
                            },
                            e.span,
                        );
                    }
                    Operand::Other
                }
                UnOp::Not => unreachable!("lowered by truth_value"),
                UnOp::Plus | UnOp::BitNot => {
                    let _ = self.operand(operand);
                    Operand::Other
                }
            },
            ExprKind::Member { .. } | ExprKind::Index { .. } => match self.place(e) {
                Some(p) => Operand::Copy(p),
                None => Operand::Other,
            },
            ExprKind::Cond { cond, then, els } => {
                let t = self.new_block();
                let f = self.new_block();
                let join = self.new_block();
                let tmp = self.temp(true);
                self.cond(cond, t, f);
                self.current = t;
                self.assign_expr(tmp.clone(), then, then.span);
                self.goto_and_switch(join, e.span);
                self.current = f;
                self.assign_expr(tmp.clone(), els, els.span);
                self.goto_and_switch(join, e.span);
                Operand::Copy(tmp)
            }
            ExprKind::Comma(items) => {
                let mut last = Operand::Other;
                for it in items {
                    last = self.operand(it);
                }
                last
            }
            ExprKind::InitList(items) => {
                for it in items {
                    let _ = self.operand(it);
                }
                Operand::Other
            }
        }
    }

    /// A condition in value context (`ok = (x != NULL)`), lowered as a compiler does: a
    /// branch that stores 1 or 0, so the path remembers what was tested.
    fn truth_value(&mut self, e: &Expr) -> Operand {
        let t = self.new_block();
        let f = self.new_block();
        let join = self.new_block();
        let tmp = self.temp(false);
        self.cond(e, t, f);
        for (b, v) in [(t, 1), (f, 0)] {
            self.current = b;
            let value = Rvalue::Use(Operand::Int(v));
            self.emit(
                StatementKind::Assign {
                    dest: tmp.clone(),
                    value,
                },
                e.span,
            );
            self.goto_and_switch(join, e.span);
        }
        self.current = join;
        Operand::Copy(tmp)
    }

    fn call_operand(&mut self, callee: &Expr, args: &[Expr], span: Span) -> Operand {
        if let Some(call) = self.call_rvalue(callee, args, span) {
            let t = self.temp(true);
            self.emit(
                StatementKind::Assign {
                    dest: t.clone(),
                    value: Rvalue::Call(call),
                },
                span,
            );
            return Operand::Copy(t);
        }
        // A macro that was expanded in place: its value, if any, was left in `macro_value`.
        self.macro_value.take().unwrap_or(Operand::Other)
    }

    /// The function a called name stands for: an object-like macro of the file or its
    /// headers whose body is one name (`#define PyInt_FromLong PyLong_FromLong`, the
    /// aliases of compatibility headers) is followed, at most 8 times.
    fn alias_target(&self, name: &str, at: usize) -> String {
        let mut name = name.to_string();
        for _ in 0..8 {
            let Some(m) = self.cx.macros.get(&name, at) else {
                break;
            };
            let Some(target) = m
                .params
                .is_none()
                .then(|| m.as_expr().and_then(Expr::as_ident))
                .flatten()
            else {
                break;
            };
            if target == name {
                break;
            }
            name = target.to_string();
        }
        name
    }

    /// Lowers a call. Returns `None` when the call was a known macro that lowering expanded
    /// (its value is then in `self.macro_value`).
    fn call_rvalue(&mut self, callee: &Expr, args: &[Expr], span: Span) -> Option<Call> {
        if let Some(name) = callee.as_ident() {
            let name = self.alias_target(name, span.start as usize);
            let name = name.as_str();
            if let Some(kind) = lookup_macro(name)
                && self.expand_macro(kind, args, span)
            {
                return None;
            }
            let (ops, spans) = self.args(args);
            return Some(Call {
                callee: Callee::Named(name.to_string()),
                args: ops,
                arg_spans: spans,
            });
        }
        let field = match &callee.strip_casts().kind {
            ExprKind::Member { field, .. } => Some(field.clone()),
            _ => None,
        };
        let _ = self.operand(callee);
        let (ops, spans) = self.args(args);
        Some(Call {
            callee: Callee::Indirect { field },
            args: ops,
            arg_spans: spans,
        })
    }

    fn args(&mut self, args: &[Expr]) -> (Vec<Operand>, Vec<Span>) {
        let mut ops = Vec::with_capacity(args.len());
        let mut spans = Vec::with_capacity(args.len());
        for a in args {
            ops.push(self.operand(a));
            spans.push(a.span);
        }
        (ops, spans)
    }

    /// Expands a known macro call in place. Returns false when the macro is not a call-like
    /// one (it is then lowered as an ordinary call).
    fn expand_macro(&mut self, kind: MacroKind, args: &[Expr], span: Span) -> bool {
        let arg = |i: usize| args.get(i);
        match kind {
            MacroKind::IncRef { nullable } | MacroKind::DecRef { nullable } => {
                let Some(a) = arg(0) else { return false };
                let op = self.operand(a);
                let stmt = if matches!(kind, MacroKind::IncRef { .. }) {
                    StatementKind::IncRef { arg: op, nullable }
                } else {
                    StatementKind::DecRef { arg: op, nullable }
                };
                self.emit(stmt, span);
                self.macro_value = Some(Operand::Other);
                true
            }
            MacroKind::Clear => {
                let Some(a) = arg(0) else { return false };
                let Some(place) = self.place(a) else {
                    return false;
                };
                let t = self.new_block();
                let join = self.new_block();
                self.terminate(
                    Terminator::Branch {
                        cond: Cond::Truthy(Operand::Copy(place.clone())),
                        then: t,
                        els: join,
                    },
                    span,
                );
                self.current = t;
                let tmp = self.temp(true);
                self.emit(
                    StatementKind::Assign {
                        dest: tmp.clone(),
                        value: Rvalue::Use(Operand::Copy(place.clone())),
                    },
                    span,
                );
                self.emit(
                    StatementKind::Assign {
                        dest: place,
                        value: Rvalue::Use(Operand::Null),
                    },
                    span,
                );
                self.emit(
                    StatementKind::DecRef {
                        arg: Operand::Copy(tmp),
                        nullable: false,
                    },
                    span,
                );
                self.goto_and_switch(join, span);
                self.macro_value = Some(Operand::Other);
                true
            }
            MacroKind::SetRef { nullable } => {
                let (Some(dst), Some(src)) = (arg(0), arg(1)) else {
                    return false;
                };
                let Some(place) = self.place(dst) else {
                    return false;
                };
                let old = self.temp(true);
                self.emit(
                    StatementKind::Assign {
                        dest: old.clone(),
                        value: Rvalue::Use(Operand::Copy(place.clone())),
                    },
                    span,
                );
                self.assign_expr(place, src, span);
                self.emit(
                    StatementKind::DecRef {
                        arg: Operand::Copy(old),
                        nullable,
                    },
                    span,
                );
                self.macro_value = Some(Operand::Other);
                true
            }
            MacroKind::NewRef { nullable } => {
                let Some(a) = arg(0) else { return false };
                let op = self.operand(a);
                self.emit(
                    StatementKind::IncRef {
                        arg: op.clone(),
                        nullable,
                    },
                    span,
                );
                self.macro_value = Some(op);
                true
            }
            MacroKind::TypeOf => {
                let Some(a) = arg(0) else { return false };
                let base = self.place_or_temp(a);
                self.macro_value = Some(Operand::Copy(Place::Field(
                    Box::new(base),
                    "ob_type".to_string(),
                )));
                true
            }
            MacroKind::Reveal => {
                let Some(a) = arg(0) else { return false };
                let op = self.operand(a);
                self.emit(StatementKind::Reveal { arg: op }, span);
                self.macro_value = Some(Operand::Other);
                true
            }
            MacroKind::NoOp => {
                self.macro_value = Some(Operand::Other);
                true
            }
            MacroKind::Identity => {
                let Some(a) = arg(0) else { return false };
                for extra in &args[1..] {
                    let _ = self.operand(extra);
                }
                self.macro_value = Some(self.operand(a));
                true
            }
            MacroKind::ReturnSingleton(_) | MacroKind::ReturnNew | MacroKind::Singleton => false,
        }
    }
}

fn cmp_op(op: BinOp) -> Option<CmpOp> {
    Some(match op {
        BinOp::Eq => CmpOp::Eq,
        BinOp::Ne => CmpOp::Ne,
        BinOp::Lt => CmpOp::Lt,
        BinOp::Le => CmpOp::Le,
        BinOp::Gt => CmpOp::Gt,
        BinOp::Ge => CmpOp::Ge,
        _ => return None,
    })
}

/// The contents of a (possibly concatenated) C string literal, escapes left as written;
/// `None` when something other than literals is concatenated (a macro).
fn string_literal_text(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut in_str = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_str {
            if escaped {
                out.push(c);
                escaped = false;
            } else if c == '\\' {
                out.push(c);
                escaped = true;
            } else if c == '"' {
                in_str = false;
            } else {
                out.push(c);
            }
        } else if c == '"' {
            in_str = true;
        } else if !c.is_whitespace() && c != 'L' && c != 'u' && c != 'U' && c != '8' {
            return None;
        }
    }
    Some(out)
}
