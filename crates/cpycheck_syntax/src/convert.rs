//! Conversion of tree-sitter's concrete syntax tree into the typed model.
//!
//! Every recursive step goes through [`Converter::enter`], which caps the nesting depth:
//! deeper subtrees become `Unknown` nodes and mark the function as having errors, so a
//! pathological input cannot overflow a small thread stack.

use tree_sitter::Node;

use crate::fields::{F, FieldExt};

use crate::model::*;

/// Keywords that start a statement: never the name of a function.
const C_STATEMENT_KEYWORDS: &[&str] = &[
    "case", "default", "do", "else", "for", "goto", "if", "return", "sizeof", "switch", "while",
];

/// Maximum nesting of statements and expressions converted recursively. Real extension code
/// stays far below this; a 2 MiB worker stack comfortably holds this many frames.
pub const MAX_DEPTH: u32 = 256;

pub(crate) fn span_of(node: Node) -> Span {
    Span::new(node.start_byte(), node.end_byte())
}

pub(crate) fn text_of<'a>(node: Node, src: &'a str) -> &'a str {
    src.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

/// Named children of a node, skipping comments.
pub(crate) fn named_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|c| c.kind() != "comment")
        .collect()
}

pub(crate) struct Converter<'a> {
    pub(crate) src: &'a str,
    depth: u32,
    /// Set when a subtree was replaced by `Unknown` because of the depth cap.
    pub(crate) truncated: bool,
    /// Spans of the statements of the current function made opaque.
    opaque: Vec<Span>,
}

impl<'a> Converter<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Converter {
            src,
            depth: 0,
            truncated: false,
            opaque: Vec::new(),
        }
    }

    fn text(&self, node: Node) -> &'a str {
        text_of(node, self.src)
    }

    // ----- functions -----

    pub(crate) fn function(&mut self, node: Node) -> Result<Function, SkippedFunction> {
        let skip = |name: Option<String>, reason: &str| SkippedFunction {
            name,
            span: span_of(node),
            reason: reason.to_string(),
        };
        let Some(declarator) = node.child_field(F::Declarator) else {
            return Err(skip(None, "function definition without a declarator"));
        };
        let base = node
            .child_field(F::Type)
            .map(|t| self.type_base(t))
            .unwrap_or_default();

        // Walk the declarator chain down to the function declarator.
        let mut pointers = 0u8;
        let mut cur = declarator;
        let mut func_decl = None;
        for _ in 0..64 {
            match cur.kind() {
                "pointer_declarator" => {
                    pointers = pointers.saturating_add(1);
                }
                "function_declarator" => {
                    func_decl = Some(cur);
                    break;
                }
                "parenthesized_declarator" | "attributed_declarator" => {}
                _ => break,
            }
            match cur.child_field(F::Declarator).or_else(|| first_named(cur)) {
                Some(next) => cur = next,
                None => break,
            }
        }
        let Some(mut func_decl) = func_decl else {
            // `MACRO(name) { ... }`: a macro that expands to a whole function head
            // (`TEST_IMPL(name)`) reads as type `MACRO` and declarator `(name)`, which is
            // never a C function definition. The return type and parameters are the
            // macro's; the function is named after the argument.
            if let Some(name_node) = macro_head_name(node, declarator) {
                let name = self.text(name_node).to_string();
                let Some(body_node) = node.child_field(F::Body) else {
                    return Err(skip(Some(name), "function definition without a body"));
                };
                return Ok(self.finish_function(
                    node,
                    name,
                    name_node,
                    CType::default(),
                    Vec::new(),
                    false,
                    body_node,
                ));
            }
            return Err(skip(None, "no function declarator found"));
        };
        let mut returns_function_pointer = false;
        let mut name_node = None;
        for _ in 0..8 {
            let Some(d) = func_decl.child_field(F::Declarator) else {
                break;
            };
            match d.kind() {
                "identifier" => name_node = Some(d),
                // `TYPE MACRO(name)(params)`: a macro makes the function's name.
                "function_declarator" => name_node = macro_name_argument(d),
                // `void (*f(int a))(void)`: a function returning a function pointer; its
                // own declarator is the inner one.
                "parenthesized_declarator" => match inner_function_declarator(d) {
                    Some(Ok(inner)) => {
                        func_decl = inner;
                        returns_function_pointer = true;
                        continue;
                    }
                    Some(Err(ident)) => name_node = Some(ident),
                    None => {}
                },
                _ => {}
            }
            break;
        }
        let Some(name_node) = name_node else {
            return Err(skip(
                None,
                "function name is not a plain identifier (function returning a function pointer?)",
            ));
        };
        let name = self.text(name_node).to_string();
        if C_STATEMENT_KEYWORDS.contains(&name.as_str()) {
            // `MACRO switch (x) { ... }` inside a body (`CHAIN_EXC_BEGIN` opening a block with
            // no `;` after it) reads as a function `switch` of return type `MACRO`: a
            // statement, not a function.
            return Err(skip(
                Some(name),
                "a statement read as a function definition (a macro before it)",
            ));
        }
        let params = func_decl
            .child_field(F::Parameters)
            .map(|p| self.params(p))
            .unwrap_or_default();
        let variadic = func_decl.child_field(F::Parameters).is_some_and(|p| {
            let mut c = p.walk();
            p.children(&mut c)
                .any(|n| n.kind() == "variadic_parameter" || n.kind() == "...")
        });
        let Some(body_node) = node.child_field(F::Body) else {
            return Err(skip(Some(name), "function definition without a body"));
        };
        let return_type = if returns_function_pointer {
            CType {
                base: "(function)".to_string(),
                pointers: 1,
                array: false,
            }
        } else {
            CType {
                base,
                pointers,
                array: false,
            }
        };
        Ok(self.finish_function(
            node,
            name,
            name_node,
            return_type,
            params,
            variadic,
            body_node,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_function(
        &mut self,
        node: Node,
        name: String,
        name_node: Node,
        return_type: CType,
        params: Vec<Param>,
        variadic: bool,
        body_node: Node,
    ) -> Function {
        self.truncated = false;
        self.depth = 0;
        self.opaque.clear();
        let body = self.block_items(body_node);
        let has_errors = self.truncated || (node.has_error() && !errors_within(node, &self.opaque));
        Function {
            name,
            name_span: span_of(name_node),
            span: span_of(node),
            is_static: has_storage(node, "static", self.src),
            return_type,
            params,
            variadic,
            body,
            has_errors,
            too_deep: self.truncated,
            opaque_regions: self.opaque.len(),
        }
    }

    fn params(&mut self, list: Node) -> Vec<Param> {
        let mut out = Vec::new();
        for p in named_children(list) {
            if p.kind() != "parameter_declaration" {
                continue; // `...`, comments, error nodes
            }
            let base = p
                .child_field(F::Type)
                .map(|t| self.type_base(t))
                .unwrap_or_default();
            let declarator = p.child_field(F::Declarator);
            let (name, _, pointers, array) = match declarator {
                Some(d) => self.declarator_info(d),
                None => (None, None, 0, false),
            };
            out.push(Param {
                name,
                ty: CType {
                    base,
                    pointers,
                    array,
                },
                span: span_of(p),
            });
        }
        // `(void)` declares no parameters.
        if out.len() == 1 && out[0].name.is_none() && out[0].ty.base == "void" {
            let ty = &out[0].ty;
            if ty.pointers == 0 && !ty.array {
                out.clear();
            }
        }
        out
    }

    /// The base name of a type specifier node: `PyObject`, `int`, `unsigned long`, the tag
    /// of a `struct`/`union`/`enum`.
    pub(crate) fn type_base(&self, node: Node) -> String {
        match node.kind() {
            "struct_specifier" | "union_specifier" | "enum_specifier" => node
                .child_field(F::Name)
                .map(|n| self.text(n).to_string())
                .unwrap_or_else(|| node.kind().trim_end_matches("_specifier").to_string()),
            "macro_type_specifier" => node
                .child_field(F::Name)
                .map(|n| self.text(n).to_string())
                .unwrap_or_default(),
            _ => self
                .text(node)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// Name, name node, pointer depth and array-ness of a (possibly abstract) declarator.
    pub(crate) fn declarator_info(
        &self,
        node: Node<'a>,
    ) -> (Option<String>, Option<Node<'a>>, u8, bool) {
        let mut pointers = 0u8;
        let mut array = false;
        let mut cur = node;
        for _ in 0..64 {
            match cur.kind() {
                "identifier" | "field_identifier" | "type_identifier" => {
                    return (Some(self.text(cur).to_string()), Some(cur), pointers, array);
                }
                "pointer_declarator" | "abstract_pointer_declarator" => {
                    pointers = pointers.saturating_add(1)
                }
                "array_declarator" | "abstract_array_declarator" => array = true,
                "function_declarator" | "abstract_function_declarator" => {
                    // A function pointer `(*cb)(...)`: the pointer is counted inside.
                }
                "init_declarator"
                | "parenthesized_declarator"
                | "abstract_parenthesized_declarator"
                | "attributed_declarator" => {}
                _ => break,
            }
            match cur.child_field(F::Declarator).or_else(|| first_named(cur)) {
                Some(next) => cur = next,
                None => break,
            }
        }
        (None, None, pointers, array)
    }

    pub(crate) fn type_descriptor(&self, node: Node<'a>) -> CType {
        let base = node
            .child_field(F::Type)
            .map(|t| self.type_base(t))
            .unwrap_or_default();
        let (_, _, pointers, array) = match node.child_field(F::Declarator) {
            Some(d) => self.declarator_info(d),
            None => (None, None, 0, false),
        };
        CType {
            base,
            pointers,
            array,
        }
    }

    // ----- statements -----

    fn block_items(&mut self, node: Node) -> Vec<Stmt> {
        named_children(node)
            .into_iter()
            .map(|c| self.stmt(c))
            .collect()
    }

    fn boxed_stmt(&mut self, node: Option<Node>, parent: Node) -> Box<Stmt> {
        Box::new(match node {
            Some(n) => self.stmt(n),
            None => Stmt {
                kind: StmtKind::Unknown,
                span: span_of(parent),
            },
        })
    }

    fn opt_expr(&mut self, node: Option<Node>) -> Option<Expr> {
        node.map(|n| self.expr(n))
    }

    fn field_expr(&mut self, node: Node, field: F) -> Expr {
        match node.child_field(field) {
            Some(n) => self.expr(n),
            None => Expr {
                kind: ExprKind::Unknown,
                span: span_of(node),
            },
        }
    }

    pub(crate) fn stmt(&mut self, node: Node) -> Stmt {
        let span = span_of(node);
        if self.depth >= MAX_DEPTH {
            self.truncated = true;
            return Stmt {
                kind: StmtKind::Unknown,
                span,
            };
        }
        self.depth += 1;
        let kind = match self.opaque_stmt(node) {
            Some(kind) => {
                self.opaque.push(span);
                kind
            }
            None => self.stmt_kind(node),
        };
        self.depth -= 1;
        Stmt { kind, span }
    }

    /// A simple statement (expression, declaration, a bare error region) whose parse
    /// error is confined to it, as an opaque statement. `None` when the statement parsed,
    /// or when its text could hold control flow or braces (then the error is not confined
    /// and the function stays unanalysed).
    fn opaque_stmt(&mut self, node: Node) -> Option<StmtKind> {
        if !node.has_error() {
            return None;
        }
        // Statements with statements inside are converted, so the error is found in the
        // innermost statement; the rest (expressions, declarations, bare error regions, a
        // macro read as a type) is opaque as a whole.
        if matches!(
            node.kind(),
            "compound_statement"
                | "if_statement"
                | "while_statement"
                | "do_statement"
                | "for_statement"
                | "switch_statement"
                | "case_statement"
                | "labeled_statement"
                | "attributed_statement"
                | "return_statement"
                | "goto_statement"
                | "break_statement"
                | "continue_statement"
        ) {
            return None;
        }
        let names = opaque_names(self.text(node))?;
        let mut decls = Vec::new();
        if node.kind() == "declaration" {
            let base = node
                .child_field(F::Type)
                .filter(|t| !t.has_error())
                .map(|t| self.type_base(t))
                .unwrap_or_default();
            let mut cursor = node.walk();
            let declarators: Vec<Node> = node
                .children_by_field_name("declarator", &mut cursor)
                .collect();
            for d in declarators {
                let inner = if d.kind() == "init_declarator" {
                    d.child_field(F::Declarator)
                } else {
                    Some(d)
                };
                let Some(inner) = inner.filter(|i| !i.has_error()) else {
                    continue;
                };
                let (name, _, pointers, array) = self.declarator_info(inner);
                if let Some(name) = name {
                    decls.push(Decl {
                        name,
                        ty: CType {
                            base: base.clone(),
                            pointers,
                            array,
                        },
                        is_static: has_storage(node, "static", self.src),
                        init: None,
                        span: span_of(d),
                    });
                }
            }
        }
        Some(StmtKind::Opaque { names, decls })
    }

    fn stmt_kind(&mut self, node: Node) -> StmtKind {
        match node.kind() {
            "compound_statement" => StmtKind::Block(self.block_items(node)),
            "expression_statement" => match named_children(node).first() {
                Some(e) if e.is_error() => StmtKind::Unknown,
                Some(e) => StmtKind::Expr(self.expr(*e)),
                None => StmtKind::Empty,
            },
            "declaration" => StmtKind::Decl(self.declaration(node)),
            "if_statement" => {
                let cond = self.field_expr(node, F::Condition);
                let then = self.boxed_stmt(node.child_field(F::Consequence), node);
                let els = node.child_field(F::Alternative).map(|e| {
                    let inner = if e.kind() == "else_clause" {
                        first_named(e)
                    } else {
                        Some(e)
                    };
                    self.boxed_stmt(inner, e)
                });
                StmtKind::If { cond, then, els }
            }
            "while_statement" => StmtKind::While {
                cond: self.field_expr(node, F::Condition),
                body: self.boxed_stmt(node.child_field(F::Body), node),
            },
            "do_statement" => StmtKind::DoWhile {
                body: self.boxed_stmt(node.child_field(F::Body), node),
                cond: self.field_expr(node, F::Condition),
            },
            "for_statement" => {
                let init = node.child_field(F::Initializer).map(|i| {
                    Box::new(if i.kind() == "declaration" {
                        Stmt {
                            kind: StmtKind::Decl(self.declaration(i)),
                            span: span_of(i),
                        }
                    } else {
                        Stmt {
                            kind: StmtKind::Expr(self.expr(i)),
                            span: span_of(i),
                        }
                    })
                });
                let cond = self.opt_expr(node.child_field(F::Condition));
                let update = self.opt_expr(node.child_field(F::Update));
                let body = self.boxed_stmt(node.child_field(F::Body), node);
                StmtKind::For {
                    init,
                    cond,
                    update,
                    body,
                }
            }
            "switch_statement" => StmtKind::Switch {
                cond: self.field_expr(node, F::Condition),
                body: self.boxed_stmt(node.child_field(F::Body), node),
            },
            "case_statement" => {
                let value_node = node.child_field(F::Value);
                let value = self.opt_expr(value_node);
                let body = named_children(node)
                    .into_iter()
                    .filter(|c| Some(*c) != value_node)
                    .map(|c| self.stmt(c))
                    .collect();
                StmtKind::Case { value, body }
            }
            "break_statement" => StmtKind::Break,
            "continue_statement" => StmtKind::Continue,
            "return_statement" => {
                StmtKind::Return(named_children(node).first().map(|e| self.expr(*e)))
            }
            "goto_statement" => match node.child_field(F::Label) {
                Some(l) => StmtKind::Goto(self.text(l).to_string()),
                None => StmtKind::Unknown,
            },
            "labeled_statement" => {
                let label_node = node.child_field(F::Label);
                let label = label_node
                    .map(|l| self.text(l).to_string())
                    .unwrap_or_default();
                let inner = named_children(node)
                    .into_iter()
                    .find(|c| Some(*c) != label_node);
                StmtKind::Labeled {
                    label,
                    stmt: match inner {
                        Some(s) => Box::new(self.stmt(s)),
                        None => Box::new(Stmt {
                            kind: StmtKind::Empty,
                            span: Span::new(node.end_byte(), node.end_byte()),
                        }),
                    },
                }
            }
            "attributed_statement" => match named_children(node)
                .into_iter()
                .find(|c| c.kind() != "attribute_declaration")
            {
                Some(s) => self.stmt_kind(s),
                None => StmtKind::Empty,
            },
            "type_definition" | "struct_specifier" | "union_specifier" | "enum_specifier" => {
                StmtKind::Empty
            }
            ";" => StmtKind::Empty,
            _ => StmtKind::Unknown,
        }
    }

    /// `PyObject *a = NULL, *b;` → one `Decl` per declarator.
    pub(crate) fn declaration(&mut self, node: Node) -> Vec<Decl> {
        let base = node
            .child_field(F::Type)
            .map(|t| self.type_base(t))
            .unwrap_or_default();
        let is_static = has_storage(node, "static", self.src);
        let mut out = Vec::new();
        let mut cursor = node.walk();
        let declarators: Vec<Node> = node
            .children_by_field_name("declarator", &mut cursor)
            .collect();
        for d in declarators {
            let (name, _, pointers, array) = self.declarator_info(d);
            let Some(name) = name else { continue };
            let init = if d.kind() == "init_declarator" {
                d.child_field(F::Value).map(|v| self.expr(v))
            } else {
                None
            };
            out.push(Decl {
                name,
                ty: CType {
                    base: base.clone(),
                    pointers,
                    array,
                },
                is_static,
                init,
                span: span_of(d),
            });
        }
        out
    }

    // ----- expressions -----

    pub(crate) fn expr(&mut self, node: Node) -> Expr {
        // Parentheses are removed iteratively, so `((((x))))` costs no stack.
        let mut node = node;
        while node.kind() == "parenthesized_expression" {
            match named_children(node).as_slice() {
                [inner] => node = *inner,
                _ => break,
            }
        }
        let span = span_of(node);
        if self.depth >= MAX_DEPTH {
            self.truncated = true;
            return Expr {
                kind: ExprKind::Unknown,
                span,
            };
        }
        self.depth += 1;
        let kind = self.expr_kind(node);
        self.depth -= 1;
        Expr { kind, span }
    }

    fn boxed(&mut self, node: Node, field: F) -> Box<Expr> {
        Box::new(self.field_expr(node, field))
    }

    fn expr_kind(&mut self, node: Node) -> ExprKind {
        match node.kind() {
            "identifier" => match self.text(node) {
                "NULL" | "nullptr" | "_Py_NULL" => ExprKind::Null,
                name => ExprKind::Ident(name.to_string()),
            },
            "null" => ExprKind::Null,
            "true" => ExprKind::Int(1),
            "false" => ExprKind::Int(0),
            "number_literal" => match parse_c_int(self.text(node)) {
                Some(v) => ExprKind::Int(v),
                None => ExprKind::Float,
            },
            "char_literal" => ExprKind::Int(char_value(self.text(node)).unwrap_or(0)),
            "string_literal" | "concatenated_string" | "raw_string_literal" => ExprKind::Str,
            "call_expression" => {
                let callee = self.boxed(node, F::Function);
                let args = match node.child_field(F::Arguments) {
                    Some(a) => named_children(a)
                        .into_iter()
                        .map(|c| self.expr(c))
                        .collect(),
                    None => Vec::new(),
                };
                ExprKind::Call { callee, args }
            }
            "assignment_expression" => {
                let op = node
                    .child_field(F::Operator)
                    .map(|o| self.text(o))
                    .unwrap_or("=");
                let op = if op == "=" {
                    None
                } else {
                    binop(op.trim_end_matches('='))
                };
                ExprKind::Assign {
                    op,
                    lhs: self.boxed(node, F::Left),
                    rhs: self.boxed(node, F::Right),
                }
            }
            "binary_expression" => {
                let op = node
                    .child_field(F::Operator)
                    .and_then(|o| binop(self.text(o)));
                match op {
                    Some(op) => ExprKind::Binary {
                        op,
                        lhs: self.boxed(node, F::Left),
                        rhs: self.boxed(node, F::Right),
                    },
                    None => ExprKind::Unknown,
                }
            }
            "unary_expression" | "pointer_expression" => {
                let op = match node.child_field(F::Operator).map(|o| self.text(o)) {
                    Some("!") => UnOp::Not,
                    Some("-") => UnOp::Neg,
                    Some("+") => UnOp::Plus,
                    Some("~") => UnOp::BitNot,
                    Some("*") => UnOp::Deref,
                    Some("&") => UnOp::AddrOf,
                    _ => return ExprKind::Unknown,
                };
                ExprKind::Unary {
                    op,
                    operand: self.boxed(node, F::Argument),
                }
            }
            "update_expression" => {
                let op_node = node.child_field(F::Operator);
                let arg = node.child_field(F::Argument);
                let prefix = match (op_node, arg) {
                    (Some(o), Some(a)) => o.start_byte() < a.start_byte(),
                    _ => return ExprKind::Unknown,
                };
                let inc = op_node.map(|o| self.text(o)) == Some("++");
                let op = match (prefix, inc) {
                    (true, true) => UnOp::PreInc,
                    (true, false) => UnOp::PreDec,
                    (false, true) => UnOp::PostInc,
                    (false, false) => UnOp::PostDec,
                };
                ExprKind::Unary {
                    op,
                    operand: self.boxed(node, F::Argument),
                }
            }
            "field_expression" => {
                let arrow = node
                    .child_field(F::Operator)
                    .map(|o| self.text(o) == "->")
                    .unwrap_or(false);
                let field = node
                    .child_field(F::Field)
                    .map(|f| self.text(f).to_string())
                    .unwrap_or_default();
                ExprKind::Member {
                    base: self.boxed(node, F::Argument),
                    field,
                    arrow,
                }
            }
            "subscript_expression" => ExprKind::Index {
                base: self.boxed(node, F::Argument),
                index: self.boxed(node, F::Index),
            },
            "cast_expression" => {
                let ty = node
                    .child_field(F::Type)
                    .map(|t| self.type_descriptor(t))
                    .unwrap_or_default();
                let expr = self.boxed(node, F::Value);
                // `((void *)0)` is how NULL is spelled in some code.
                if ty.base == "void" && ty.pointers == 1 && matches!(expr.kind, ExprKind::Int(0)) {
                    return ExprKind::Null;
                }
                ExprKind::Cast { ty, expr }
            }
            "conditional_expression" => {
                let cond = self.boxed(node, F::Condition);
                let then = match node.child_field(F::Consequence) {
                    Some(c) => Box::new(self.expr(c)),
                    None => cond.clone(), // GNU `a ?: b`
                };
                ExprKind::Cond {
                    cond,
                    then,
                    els: self.boxed(node, F::Alternative),
                }
            }
            "comma_expression" => {
                // Right-nested: flatten iteratively.
                let mut items = Vec::new();
                let mut cur = node;
                loop {
                    if let Some(l) = cur.child_field(F::Left) {
                        items.push(self.expr(l));
                    }
                    match cur.child_field(F::Right) {
                        Some(r) if r.kind() == "comma_expression" => cur = r,
                        Some(r) => {
                            items.push(self.expr(r));
                            break;
                        }
                        None => break,
                    }
                }
                ExprKind::Comma(items)
            }
            "sizeof_expression" | "alignof_expression" | "offsetof_expression" => ExprKind::SizeOf,
            "initializer_list" => ExprKind::InitList(self.init_items(node)),
            "compound_literal_expression" => match node.child_field(F::Value) {
                Some(v) => ExprKind::InitList(self.init_items(v)),
                None => ExprKind::InitList(Vec::new()),
            },
            _ => ExprKind::Unknown,
        }
    }

    fn init_items(&mut self, list: Node) -> Vec<Expr> {
        named_children(list)
            .into_iter()
            .map(|c| {
                if c.kind() == "initializer_pair" {
                    self.field_expr(c, F::Value)
                } else {
                    self.expr(c)
                }
            })
            .collect()
    }
}

/// Words that change control flow or open scopes: a region holding one is not confined to
/// a statement.
const CONTROL_WORDS: &[&str] = &[
    "return", "goto", "break", "continue", "case", "default", "if", "else", "while", "for", "do",
    "switch",
];

/// The names an opaque region mentions, or `None` when the region holds braces or
/// control-flow words.
fn opaque_names(text: &str) -> Option<Vec<String>> {
    let m = mentions(text);
    (!m.braces && !m.control_flow).then_some(m.names)
}

/// What a piece of C text mentions, outside literals and comments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Identifiers, first occurrence order, C keywords left out.
    pub names: Vec<String>,
    /// A `{` or `}`.
    pub braces: bool,
    /// A word that changes control flow or opens a statement (`return`, `goto`, `if`, ...).
    pub control_flow: bool,
}

/// The names and control flow `text` mentions (an opaque statement, a macro body).
pub fn mentions(text: &str) -> Mentions {
    let b = text.as_bytes();
    let mut m = Mentions::default();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'{' | b'}' => {
                m.braces = true;
                i += 1;
            }
            b'"' | b'\'' => {
                i += 1;
                while i < b.len() && b[i] != c && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |k| i + 2 + k + 2);
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(b.len(), |k| i + k);
            }
            b'0'..=b'9' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let w = &text[s..i];
                if CONTROL_WORDS.contains(&w) {
                    m.control_flow = true;
                } else if !is_c_keyword(w) && !m.names.iter().any(|n| n == w) {
                    m.names.push(w.to_string());
                }
            }
            _ => i += 1,
        }
    }
    m
}

fn is_c_keyword(w: &str) -> bool {
    matches!(
        w,
        "sizeof"
            | "static"
            | "const"
            | "volatile"
            | "extern"
            | "register"
            | "inline"
            | "struct"
            | "union"
            | "enum"
            | "unsigned"
            | "signed"
            | "int"
            | "char"
            | "short"
            | "long"
            | "float"
            | "double"
            | "void"
            | "NULL"
    )
}

/// Whether every error or missing node under `node` lies within one of `regions`.
fn errors_within(node: Node, regions: &[Span]) -> bool {
    let mut stack = vec![node];
    let mut cursor = node.walk();
    while let Some(n) = stack.pop() {
        if n.is_error() || n.is_missing() {
            let (s, e) = (n.start_byte() as u32, n.end_byte() as u32);
            if !regions.iter().any(|r| r.start <= s && e <= r.end) {
                return false;
            }
            continue;
        }
        stack.extend(n.children(&mut cursor).filter(|c| c.has_error()));
    }
    true
}

/// The argument of a function-defining macro used as a whole function head:
/// `MACRO(name) {` parses as type identifier `MACRO` with declarator `(name)`.
fn macro_head_name<'t>(function: Node<'t>, declarator: Node<'t>) -> Option<Node<'t>> {
    let ty = function.child_field(F::Type)?;
    if ty.kind() != "type_identifier" || declarator.kind() != "parenthesized_declarator" {
        return None;
    }
    match named_children(declarator).as_slice() {
        [inner] if inner.kind() == "identifier" => Some(*inner),
        _ => None,
    }
}

/// `MACRO(name)` read as a function declarator: the name, when the one "parameter" is a
/// bare identifier (tree-sitter reads it as a type name).
fn macro_name_argument(declarator: Node) -> Option<Node> {
    if declarator.child_field(F::Declarator)?.kind() != "identifier" {
        return None;
    }
    let params = declarator.child_field(F::Parameters)?;
    match named_children(params).as_slice() {
        [p] if p.kind() == "parameter_declaration" && p.child_field(F::Declarator).is_none() => {
            let ty = p.child_field(F::Type)?;
            (ty.kind() == "type_identifier" && named_children(*p).len() == 1).then_some(ty)
        }
        _ => None,
    }
}

/// Inside the parentheses of `(*f(params))`: the function declarator of a function that
/// returns a function pointer (`Ok`), or the identifier of a parenthesised name `(f)`
/// (`Err`).
fn inner_function_declarator(node: Node) -> Option<Result<Node, Node>> {
    let mut cur = first_named(node)?;
    for _ in 0..16 {
        match cur.kind() {
            "function_declarator" => return Some(Ok(cur)),
            "identifier" if cur.parent().is_some_and(|p| p.id() == node.id()) => {
                return Some(Err(cur));
            }
            "parenthesized_declarator" | "pointer_declarator" | "attributed_declarator" => {}
            _ => return None,
        }
        cur = cur
            .child_field(F::Declarator)
            .or_else(|| first_named(cur))?;
    }
    None
}

pub(crate) fn first_named(node: Node) -> Option<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .find(|c| c.kind() != "comment")
}

pub(crate) fn has_storage(node: Node, word: &str, src: &str) -> bool {
    let mut cursor = node.walk();
    node.children(&mut cursor)
        .any(|c| c.kind() == "storage_class_specifier" && text_of(c, src) == word)
}

fn binop(op: &str) -> Option<BinOp> {
    Some(match op {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Rem,
        "<<" => BinOp::Shl,
        ">>" => BinOp::Shr,
        "&" => BinOp::BitAnd,
        "|" => BinOp::BitOr,
        "^" => BinOp::BitXor,
        "&&" => BinOp::And,
        "||" => BinOp::Or,
        "==" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        _ => return None,
    })
}

/// Value of a C integer literal (decimal, hex, octal, binary, with `u`/`l` suffixes).
pub fn parse_c_int(text: &str) -> Option<i64> {
    // tree-sitter-c includes a leading sign in the literal (`-1`).
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text.strip_prefix('+').unwrap_or(text).trim_start()),
    };
    if text.starts_with(['-', '+']) {
        return None;
    }
    let value = parse_unsigned(text)?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn parse_unsigned(text: &str) -> Option<i64> {
    cpycheck_source::parse_c_int_literal(text)
}

/// Value of a simple C character literal (`'a'`, `'\n'`, `'\x41'`, `'\0'`).
pub fn char_value(text: &str) -> Option<i64> {
    let inner = text
        .trim_start_matches(['L', 'u', 'U', '8'])
        .strip_prefix('\'')?
        .strip_suffix('\'')?;
    let mut chars = inner.chars();
    let c = chars.next()?;
    if c != '\\' {
        return if chars.next().is_none() {
            Some(c as i64)
        } else {
            None
        };
    }
    let rest: String = chars.collect();
    Some(match rest.as_str() {
        "n" => 10,
        "t" => 9,
        "r" => 13,
        "0" => 0,
        "\\" => 92,
        "'" => 39,
        "\"" => 34,
        "a" => 7,
        "b" => 8,
        "f" => 12,
        "v" => 11,
        "?" => 63,
        r if r.starts_with('x') => i64::from_str_radix(&r[1..], 16).ok()?,
        r if r.chars().all(|c| c.is_digit(8)) => i64::from_str_radix(r, 8).ok()?,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_literals() {
        assert_eq!(parse_c_int("0"), Some(0));
        assert_eq!(parse_c_int("-1"), Some(-1));
        assert_eq!(parse_c_int("0x1F"), Some(31));
        assert_eq!(parse_c_int("010"), Some(8));
        assert_eq!(parse_c_int("0b101"), Some(5));
        assert_eq!(parse_c_int("42UL"), Some(42));
        assert_eq!(parse_c_int("1.5"), None);
        assert_eq!(parse_c_int("1e5"), None);
        assert_eq!(parse_c_int("--1"), None);
    }

    #[test]
    fn char_literals() {
        assert_eq!(char_value("'a'"), Some(97));
        assert_eq!(char_value("'\\n'"), Some(10));
        assert_eq!(char_value("'\\x41'"), Some(65));
        assert_eq!(char_value("'\\0'"), Some(0));
        assert_eq!(char_value("L'a'"), Some(97));
    }
}
