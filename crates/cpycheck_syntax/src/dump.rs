//! Debug dumps: the concrete syntax tree and the typed model, as deterministic text.

use std::fmt::Write;

use crate::model::*;

/// Indented concrete syntax tree: one named (or error/missing) node per line, with its
/// field name, kind, byte range and, for short leaves, its text.
pub fn dump_tree(prepared_text: &str) -> String {
    let mut out = String::new();
    let Some(tree) = crate::parse_tree(prepared_text) else {
        return "<no tree>\n".to_string();
    };
    let mut cursor = tree.walk();
    let mut depth = 0usize;
    loop {
        let node = cursor.node();
        if node.is_named() || node.is_missing() || node.is_error() {
            let _ = write!(out, "{:indent$}", "", indent = depth * 2);
            if let Some(field) = cursor.field_name() {
                let _ = write!(out, "{field}: ");
            }
            if node.is_missing() {
                out.push_str("MISSING ");
            }
            let _ = write!(
                out,
                "{} [{}..{}]",
                node.kind(),
                node.start_byte(),
                node.end_byte()
            );
            if node.child_count() == 0 {
                let text = prepared_text
                    .get(node.start_byte()..node.end_byte())
                    .unwrap_or("");
                if !text.is_empty() && text.len() <= 40 && !text.contains('\n') {
                    let _ = write!(out, " {text:?}");
                }
            }
            out.push('\n');
        }
        if cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return out;
            }
            depth -= 1;
        }
    }
}

/// Readable, deterministic text form of a model, for snapshots and debugging.
pub fn dump_model(model: &FileModel) -> String {
    let mut out = String::new();
    for f in &model.functions {
        function(&mut out, f);
    }
    for r in &model.registrations {
        let kind = match &r.kind {
            RegistrationKind::Method { flags } => format!("method flags={flags:?}"),
            RegistrationKind::Slot { slot } => format!("slot {slot}"),
            RegistrationKind::Getter => "getter".to_string(),
            RegistrationKind::Setter => "setter".to_string(),
            RegistrationKind::ModuleInit => "module-init".to_string(),
        };
        let _ = writeln!(out, "registration {} {kind} {}", r.function, span(r.span));
    }
    for t in &model.object_types {
        let _ = writeln!(out, "object-type {t}");
    }
    for s in &model.object_structs {
        let _ = writeln!(
            out,
            "object-struct {} base={} {}",
            s.names.join("/"),
            s.base,
            span(s.span)
        );
        for m in &s.members {
            let _ = writeln!(out, "  member {} {} {}", ctype(&m.ty), m.name, span(m.span));
        }
    }
    for t in &model.type_objects {
        let _ = writeln!(
            out,
            "type {} {} name={:?} instance={} flags={:?}{}{}{} {}",
            t.variable,
            match t.definition {
                TypeDefinition::Static => "static",
                TypeDefinition::Spec => "spec",
            },
            t.name.as_deref().unwrap_or(""),
            t.instance.as_deref().unwrap_or("?"),
            t.flags,
            if t.has_gc() { " gc" } else { "" },
            if t.is_heap() { " heap" } else { "" },
            t.base
                .as_ref()
                .map(|b| format!(" base={b}"))
                .unwrap_or_default(),
            span(t.span)
        );
        for sl in &t.slots {
            let _ = writeln!(out, "  slot {} {} {}", sl.slot, sl.function, span(sl.span));
        }
        for c in &t.created_at {
            let _ = writeln!(out, "  created-at {}", span(*c));
        }
    }
    for m in &model.member_defs {
        let (ty, member) = m
            .offset_of
            .as_ref()
            .map_or(("?", "?"), |(t, f)| (t.as_str(), f.as_str()));
        let _ = writeln!(
            out,
            "member-def {:?} {} offsetof({ty}, {member}) {}",
            m.name.as_deref().unwrap_or(""),
            m.type_code,
            span(m.span)
        );
    }
    for s in &model.skipped_functions {
        let _ = writeln!(
            out,
            "skipped {} {}: {}",
            s.name.as_deref().unwrap_or("<unnamed>"),
            span(s.span),
            s.reason
        );
    }
    let _ = writeln!(out, "error-regions {}", model.error_regions);
    out
}

fn span(s: Span) -> String {
    format!("@{}..{}", s.start, s.end)
}

pub(crate) fn ctype(t: &CType) -> String {
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

fn function(out: &mut String, f: &Function) {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| match &p.name {
            Some(n) => format!("{} {n}", ctype(&p.ty)),
            None => ctype(&p.ty),
        })
        .collect();
    let _ = writeln!(
        out,
        "fn {}{} {}({}) {}{}",
        if f.is_static { "static " } else { "" },
        ctype(&f.return_type),
        f.name,
        params.join(", "),
        span(f.span),
        if f.has_errors { " has-errors" } else { "" }
    );
    for s in &f.body {
        stmt(out, s, 1);
    }
}

fn line(out: &mut String, depth: usize, text: &str, s: Span) {
    let _ = writeln!(out, "{:indent$}{text} {}", "", span(s), indent = depth * 2);
}

fn stmt(out: &mut String, s: &Stmt, depth: usize) {
    match &s.kind {
        StmtKind::Expr(e) => line(out, depth, &format!("expr {}", expr(e)), s.span),
        StmtKind::Decl(decls) => {
            for d in decls {
                let init = d
                    .init
                    .as_ref()
                    .map(|e| format!(" = {}", expr(e)))
                    .unwrap_or_default();
                line(
                    out,
                    depth,
                    &format!(
                        "decl {}{} {}{init}",
                        if d.is_static { "static " } else { "" },
                        ctype(&d.ty),
                        d.name
                    ),
                    d.span,
                );
            }
            if decls.is_empty() {
                line(out, depth, "decl (none)", s.span);
            }
        }
        StmtKind::If { cond, then, els } => {
            line(out, depth, &format!("if {}", expr(cond)), s.span);
            stmt(out, then, depth + 1);
            if let Some(e) = els {
                line(out, depth, "else", e.span);
                stmt(out, e, depth + 1);
            }
        }
        StmtKind::While { cond, body } => {
            line(out, depth, &format!("while {}", expr(cond)), s.span);
            stmt(out, body, depth + 1);
        }
        StmtKind::DoWhile { body, cond } => {
            line(out, depth, &format!("do-while {}", expr(cond)), s.span);
            stmt(out, body, depth + 1);
        }
        StmtKind::For {
            init,
            cond,
            update,
            body,
        } => {
            let c = cond.as_ref().map(expr).unwrap_or_else(|| "_".into());
            let u = update.as_ref().map(expr).unwrap_or_else(|| "_".into());
            line(out, depth, &format!("for cond={c} update={u}"), s.span);
            if let Some(i) = init {
                stmt(out, i, depth + 2);
            }
            stmt(out, body, depth + 1);
        }
        StmtKind::Switch { cond, body } => {
            line(out, depth, &format!("switch {}", expr(cond)), s.span);
            stmt(out, body, depth + 1);
        }
        StmtKind::Case { value, body } => {
            let head = match value {
                Some(v) => format!("case {}", expr(v)),
                None => "default".to_string(),
            };
            line(out, depth, &head, s.span);
            for b in body {
                stmt(out, b, depth + 1);
            }
        }
        StmtKind::Break => line(out, depth, "break", s.span),
        StmtKind::Continue => line(out, depth, "continue", s.span),
        StmtKind::Return(v) => {
            let v = v
                .as_ref()
                .map(|e| format!(" {}", expr(e)))
                .unwrap_or_default();
            line(out, depth, &format!("return{v}"), s.span);
        }
        StmtKind::Goto(l) => line(out, depth, &format!("goto {l}"), s.span),
        StmtKind::Labeled { label, stmt: inner } => {
            line(out, depth, &format!("label {label}:"), s.span);
            stmt(out, inner, depth + 1);
        }
        StmtKind::Block(items) => {
            line(out, depth, "block", s.span);
            for b in items {
                stmt(out, b, depth + 1);
            }
        }
        StmtKind::Opaque { names, decls } => {
            let decls: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
            let text = if decls.is_empty() {
                format!("opaque [{}]", names.join(" "))
            } else {
                format!("opaque decl {} [{}]", decls.join(" "), names.join(" "))
            };
            line(out, depth, &text, s.span);
        }
        StmtKind::Empty => line(out, depth, "empty", s.span),
        StmtKind::Unknown => line(out, depth, "unknown", s.span),
    }
}

fn binop(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Rem => "%",
        BinOp::Shl => "<<",
        BinOp::Shr => ">>",
        BinOp::BitAnd => "&",
        BinOp::BitOr => "|",
        BinOp::BitXor => "^",
        BinOp::And => "&&",
        BinOp::Or => "||",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
    }
}

fn unop(op: UnOp) -> &'static str {
    match op {
        UnOp::Not => "!",
        UnOp::Neg => "neg",
        UnOp::Plus => "plus",
        UnOp::BitNot => "~",
        UnOp::Deref => "deref",
        UnOp::AddrOf => "addr-of",
        UnOp::PreInc => "pre++",
        UnOp::PreDec => "pre--",
        UnOp::PostInc => "post++",
        UnOp::PostDec => "post--",
    }
}

/// S-expression form of an expression.
pub(crate) fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Null => "NULL".to_string(),
        ExprKind::Str => "<str>".to_string(),
        ExprKind::Float => "<float>".to_string(),
        ExprKind::Call { callee, args } => {
            let mut s = format!("(call {}", expr(callee));
            for a in args {
                s.push(' ');
                s.push_str(&expr(a));
            }
            s.push(')');
            s
        }
        ExprKind::Assign { op, lhs, rhs } => {
            let op = op.map(|o| format!("{}=", binop(o))).unwrap_or("=".into());
            format!("({op} {} {})", expr(lhs), expr(rhs))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", binop(*op), expr(lhs), expr(rhs))
        }
        ExprKind::Unary { op, operand } => format!("({} {})", unop(*op), expr(operand)),
        ExprKind::Member { base, field, arrow } => {
            format!("{}{}{field}", expr(base), if *arrow { "->" } else { "." })
        }
        ExprKind::Index { base, index } => format!("{}[{}]", expr(base), expr(index)),
        ExprKind::Cast { ty, expr: inner } => format!("(cast {} {})", ctype(ty), expr(inner)),
        ExprKind::Cond { cond, then, els } => {
            format!("(? {} {} {})", expr(cond), expr(then), expr(els))
        }
        ExprKind::Comma(items) => {
            let items: Vec<String> = items.iter().map(expr).collect();
            format!("(, {})", items.join(" "))
        }
        ExprKind::SizeOf => "<sizeof>".to_string(),
        ExprKind::InitList(items) => {
            let items: Vec<String> = items.iter().map(expr).collect();
            format!("{{{}}}", items.join(", "))
        }
        ExprKind::Unknown => "<unknown>".to_string(),
    }
}
