//! Syntax model: the only crate that knows tree-sitter.
//!
//! [`parse`] turns source-prepped C text into a [`FileModel`]. Parsing never fails: error
//! regions are counted, modelled as `Unknown` statements, and the functions containing them
//! are marked `has_errors`.
//!
//! Architecture invariant: nothing here recurses without a depth cap, so any input can be
//! converted on a small (2 MiB) thread stack.

mod convert;
mod dump;
pub mod model;
mod tables;

use std::collections::HashSet;

use tree_sitter::{Node, Parser, Tree};

pub use convert::{Mentions, char_value, mentions, parse_c_int};
pub use dump::{dump_model, dump_tree};
pub use model::*;
pub use tables::{
    ASYNC_METHODS_FIELDS, BUFFER_PROCS_FIELDS, MAPPING_METHODS_FIELDS, MODULE_DEF_FIELDS,
    NUMBER_METHODS_FIELDS, SEQUENCE_METHODS_FIELDS, TYPE_OBJECT_FIELDS,
};

use convert::Converter;
use tables::{StructInfo, Tables, struct_info};

pub(crate) fn parse_tree(text: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_c::LANGUAGE.into()).ok()?;
    parser.parse(text, None)
}

/// Parses source-prepped C text into the typed model.
pub fn parse(prepared_text: &str) -> FileModel {
    let mut model = FileModel::default();
    let Some(tree) = parse_tree(prepared_text) else {
        model.skipped_functions.push(SkippedFunction {
            name: None,
            span: Span::new(0, prepared_text.len()),
            reason: "the parser gave no tree".to_string(),
        });
        return model;
    };
    let mut conv = Converter::new(prepared_text);
    let mut registrations = Vec::new();
    let mut structs: Vec<StructInfo> = Vec::new();
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut typedef_structs: HashSet<usize> = HashSet::new();
    let mut types: Vec<TypeObject> = Vec::new();
    let mut spec_slots: Vec<(String, String)> = Vec::new();
    let mut slot_arrays: Vec<(String, Vec<TypeSlot>)> = Vec::new();
    // (spec variable, span of the creating call)
    let mut spec_calls: Vec<(String, Span)> = Vec::new();

    // Iterative depth-first walk in document order.
    let mut stack: Vec<Node> = vec![tree.root_node()];
    let mut cursor = tree.walk();
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            model.error_regions += 1;
        }
        match node.kind() {
            "function_definition" => match conv.function(node) {
                Ok(f) => {
                    if f.name.starts_with("PyInit_") {
                        registrations.push(Registration {
                            function: f.name.clone(),
                            kind: RegistrationKind::ModuleInit,
                            span: f.name_span,
                        });
                    }
                    model.functions.push(f);
                }
                Err(skipped) => model.skipped_functions.push(skipped),
            },
            "declaration" => {
                let mut tables = Tables {
                    conv: &mut conv,
                    out: Vec::new(),
                    types: Vec::new(),
                    spec_slots: Vec::new(),
                    slot_arrays: Vec::new(),
                    member_defs: Vec::new(),
                };
                tables.declaration(node);
                registrations.append(&mut tables.out);
                types.append(&mut tables.types);
                spec_slots.append(&mut tables.spec_slots);
                slot_arrays.append(&mut tables.slot_arrays);
                model.member_defs.append(&mut tables.member_defs);
            }
            "call_expression" => {
                if let Some(call) = tables::spec_call(&conv, node) {
                    spec_calls.push(call);
                }
            }
            "type_definition" => {
                let mut cursor = node.walk();
                let names: Vec<String> = node
                    .children_by_field_name("declarator", &mut cursor)
                    .filter_map(|d| {
                        let (name, _, pointers, _) = conv.declarator_info(d);
                        name.filter(|_| pointers == 0)
                    })
                    .collect();
                if let Some(ty) = node.child_by_field_name("type") {
                    if ty.kind() == "struct_specifier" && ty.child_by_field_name("body").is_some() {
                        if let Some(mut info) = struct_info(&conv, ty) {
                            info.names.extend(names);
                            structs.push(info);
                            typedef_structs.insert(ty.id());
                        }
                    } else {
                        let target = conv.type_base(ty);
                        aliases.extend(names.into_iter().map(|n| (n, target.clone())));
                    }
                }
            }
            "enumerator_list" => enum_constants(&mut conv, node, &mut model.enum_constants),
            "struct_specifier" if !typedef_structs.contains(&node.id()) => {
                if let Some(info) = struct_info(&conv, node) {
                    structs.push(info);
                }
            }
            _ => {}
        }
        let first = stack.len();
        stack.extend(node.children(&mut cursor));
        stack[first..].reverse();
    }
    model.registrations = registrations;
    model.object_types = tables::object_types(&structs, &aliases);
    // `typedef struct Foo FooObject;` names the struct `Foo` too.
    for (alias, target) in &aliases {
        if let Some(s) = structs.iter_mut().find(|s| s.names.contains(target))
            && !s.names.contains(alias)
        {
            s.names.push(alias.clone());
        }
    }
    model.object_structs = tables::object_structs(&structs, &model.object_types);
    for t in &mut types {
        if t.definition != TypeDefinition::Spec {
            continue;
        }
        if let Some((_, array)) = spec_slots.iter().find(|(spec, _)| *spec == t.variable)
            && let Some((_, slots)) = slot_arrays.iter().find(|(name, _)| name == array)
        {
            t.slots = slots
                .iter()
                .filter(|s| s.slot.starts_with("tp_"))
                .cloned()
                .collect();
        }
        t.created_at = spec_calls
            .iter()
            .filter(|(spec, _)| *spec == t.variable)
            .map(|(_, span)| *span)
            .collect();
    }
    model.type_objects = types;
    model
}

/// The values of an enum's constants, in order: a constant without a value is the previous
/// one plus one; one whose value is not an integer (or an earlier constant) is unknown, and
/// so are the implicit ones after it.
fn enum_constants(conv: &mut Converter, list: Node, out: &mut Vec<(String, i64)>) {
    let mut next: Option<i64> = Some(0);
    let mut cursor = list.walk();
    let items: Vec<Node> = list
        .named_children(&mut cursor)
        .filter(|n| n.kind() == "enumerator")
        .collect();
    for item in items {
        let Some(name) = item
            .child_by_field_name("name")
            .and_then(|n| n.utf8_text(conv.src.as_bytes()).ok())
        else {
            next = None;
            continue;
        };
        let value = match item.child_by_field_name("value") {
            None => next,
            Some(v) => const_value(&conv.expr(v), out, 0),
        };
        if let Some(v) = value {
            out.push((name.to_string(), v));
        }
        next = value.and_then(|v| v.checked_add(1));
    }
}

/// An integer constant expression made of literals and earlier enum constants (nested at
/// most 32 deep).
fn const_value(e: &Expr, known: &[(String, i64)], depth: u32) -> Option<i64> {
    if depth > 32 {
        return None;
    }
    let value = |e: &Expr| const_value(e, known, depth + 1);
    match &e.kind {
        ExprKind::Int(i) => Some(*i),
        ExprKind::Ident(n) => known.iter().rev().find(|(k, _)| k == n).map(|(_, v)| *v),
        ExprKind::Cast { expr, .. } => value(expr),
        ExprKind::Unary {
            op: UnOp::Neg,
            operand,
        } => value(operand)?.checked_neg(),
        ExprKind::Binary { op, lhs, rhs } => op.fold(value(lhs)?, value(rhs)?),
        _ => None,
    }
}
