//! Type slots assigned at run time: `FooType.tp_dealloc = foo_dealloc;`,
//! `FooType.tp_base = &BarType;`, `FooType.tp_basicsize = sizeof(Foo);` written in a
//! function of the file (module init, before `PyType_Ready`). The interpreter sees these
//! slots as if the initialiser had set them, so the type model does too.

use std::collections::HashSet;

use crate::model::*;
use crate::tables::{
    DATA_SLOTS, base_type, entry_function, normalise, sizeof_type, string_literal,
};

/// At most this many statements are looked at per function (nesting included).
const MAX_STATEMENTS: usize = 100_000;

/// Adds the slots the file's functions assign to its type objects, and the types that
/// only run-time assignments describe (`static PyTypeObject FooType;` filled in by the
/// module's init). `text` is the prepared text the model's spans index.
pub(crate) fn add_runtime_slots(model: &mut FileModel, text: &str) {
    for f in &model.functions {
        let locals = local_names(f);
        for (var, var_span, field, value, op) in assignments(&f.body) {
            if locals.contains(var) {
                continue;
            }
            let index = match model.type_objects.iter().position(|t| t.variable == var) {
                Some(i) => i,
                None => {
                    // Only a type whose instance size or dealloc is set here is worth a model.
                    if !matches!(field, "tp_basicsize" | "tp_dealloc" | "tp_name") {
                        continue;
                    }
                    model.type_objects.push(TypeObject {
                        variable: var.to_string(),
                        span: var_span,
                        definition: TypeDefinition::Static,
                        name: None,
                        instance: None,
                        flags: String::new(),
                        slots: Vec::new(),
                        created_at: Vec::new(),
                        base: None,
                        // Assigned here: whether other files can reach it is unknown.
                        is_static: false,
                    });
                    model.type_objects.len() - 1
                }
            };
            let value_text = text
                .get(value.span.start as usize..value.span.end as usize)
                .unwrap_or("");
            let t = &mut model.type_objects[index];
            match field {
                "tp_name" => t.name = string_literal(value_text).or(t.name.take()),
                "tp_basicsize" => t.instance = sizeof_type(value_text).or(t.instance.take()),
                "tp_flags" if op.is_none() => t.flags = normalise(value_text),
                "tp_flags" => {
                    let extra = normalise(value_text);
                    t.flags = if t.flags.is_empty() {
                        extra
                    } else {
                        format!("{} | {extra}", t.flags)
                    };
                }
                "tp_base" => t.base = base_type(value).or(t.base.take()),
                _ if field.starts_with("tp_") && !DATA_SLOTS.contains(&field) => {
                    let Some(function) = entry_function(value) else {
                        continue;
                    };
                    let slot = TypeSlot {
                        slot: field.to_string(),
                        function: function.to_string(),
                        span: value.span,
                    };
                    t.slots.retain(|s| s.slot != field);
                    t.slots.push(slot);
                    model.registrations.push(Registration {
                        function: function.to_string(),
                        kind: RegistrationKind::Slot {
                            slot: field.to_string(),
                        },
                        span: value.span,
                    });
                }
                _ => {}
            }
        }
    }
}

/// The parameters and local variables of a function.
fn local_names(f: &Function) -> HashSet<&str> {
    let mut out: HashSet<&str> = f.params.iter().filter_map(|p| p.name.as_deref()).collect();
    for_each_stmt(&f.body, |s| {
        if let StmtKind::Decl(decls) = &s.kind {
            out.extend(decls.iter().map(|d| d.name.as_str()));
        }
    });
    out
}

/// A run-time slot assignment: variable, its span, field, value, compound operator.
type SlotAssignment<'s> = (&'s str, Span, &'s str, &'s Expr, Option<BinOp>);

/// `Var.field = value` / `Var.field |= value` statements, in document order.
fn assignments(body: &[Stmt]) -> Vec<SlotAssignment<'_>> {
    let mut out = Vec::new();
    for_each_stmt(body, |s| {
        let StmtKind::Expr(e) = &s.kind else {
            return;
        };
        let ExprKind::Assign { op, lhs, rhs } = &e.kind else {
            return;
        };
        if let ExprKind::Member {
            base,
            field,
            arrow: false,
        } = &lhs.kind
            && let ExprKind::Ident(var) = &base.kind
            && field.starts_with("tp_")
        {
            out.push((var.as_str(), base.span, field.as_str(), &**rhs, *op));
        }
    });
    out
}

/// Calls `f` on every statement of `body`, nested ones included, in document order
/// (iterative, bounded).
fn for_each_stmt<'s>(body: &'s [Stmt], mut f: impl FnMut(&'s Stmt)) {
    let mut stack: Vec<&'s Stmt> = body.iter().rev().collect();
    let mut seen = 0usize;
    while let Some(s) = stack.pop() {
        seen += 1;
        if seen > MAX_STATEMENTS {
            return;
        }
        f(s);
        let mut push = |children: &mut dyn Iterator<Item = &'s Stmt>| {
            let v: Vec<&'s Stmt> = children.collect();
            stack.extend(v.into_iter().rev());
        };
        match &s.kind {
            StmtKind::If { then, els, .. } => {
                push(&mut std::iter::once(&**then).chain(els.as_deref()))
            }
            StmtKind::While { body, .. }
            | StmtKind::DoWhile { body, .. }
            | StmtKind::Switch { body, .. } => push(&mut std::iter::once(&**body)),
            StmtKind::For { init, body, .. } => {
                push(&mut init.as_deref().into_iter().chain(std::iter::once(&**body)))
            }
            StmtKind::Case { body, .. } | StmtKind::Block(body) => push(&mut body.iter()),
            StmtKind::Labeled { stmt, .. } => push(&mut std::iter::once(&**stmt)),
            _ => {}
        }
    }
}
