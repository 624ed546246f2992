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
mod fields;
mod heads;
pub mod model;
mod recover;
mod runtime_slots;
mod tables;

use std::collections::HashSet;
use std::sync::OnceLock;

use rayon::prelude::*;
use tree_sitter::{Node, Parser, Tree};

use fields::{F, FieldExt};

pub use convert::{MAX_DEPTH as MAX_NESTING_DEPTH, Mentions, char_value, mentions, parse_c_int};
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

/// Files at least this large are parsed in pieces, in parallel.
const PIECE_BYTES: usize = 1 << 20;

/// At most this many pieces.
const MAX_PIECES: usize = 16;

/// The text parsed as trees that together are the file's tree: their top-level items, in
/// order, are those of one parse of the whole text. A large file is cut, at lines holding
/// only the `}` that closes a function, into about `piece_bytes`-sized pieces parsed in
/// parallel, each tree covering its piece with file-absolute offsets. A cut is kept only
/// when the function before it and the item after it parsed without error in their
/// pieces, so no error recovery ran near it; otherwise the whole text is parsed at once.
/// The pieces depend on the text only, never on the number of threads.
#[cfg(test)]
pub(crate) fn parse_forest(text: &str, piece_bytes: usize) -> Option<Vec<Tree>> {
    let cuts = cut_points(text, piece_bytes);
    if cuts.is_empty() {
        return parse_tree(text).map(|t| vec![t]);
    }
    let trees: Vec<Option<Tree>> = piece_ranges(text, &cuts)
        .par_iter()
        .map(|range| parse_range(text, *range))
        .collect();
    let trees: Option<Vec<Tree>> = trees.into_iter().collect();
    match trees {
        Some(trees) if clean_cuts(text, &trees.iter().collect::<Vec<_>>(), &cuts) => Some(trees),
        _ => parse_tree(text).map(|t| vec![t]),
    }
}

/// The pieces `cuts` makes of `text`, as ranges with file-absolute positions.
fn piece_ranges(text: &str, cuts: &[usize]) -> Vec<tree_sitter::Range> {
    let mut bounds = Vec::with_capacity(cuts.len() + 2);
    bounds.push(0);
    bounds.extend(cuts);
    bounds.push(text.len());
    // Rows of the bounds (every bound but the last starts a line).
    let mut rows = Vec::with_capacity(bounds.len());
    let mut row = 0;
    let mut from = 0;
    for &b in &bounds {
        row += text.as_bytes()[from..b]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        rows.push(row);
        from = b;
    }
    let last_col = text.len() - text.rfind('\n').map_or(0, |i| i + 1);
    (0..bounds.len() - 1)
        .map(|i| tree_sitter::Range {
            start_byte: bounds[i],
            end_byte: bounds[i + 1],
            start_point: tree_sitter::Point::new(rows[i], 0),
            end_point: tree_sitter::Point::new(
                rows[i + 1],
                if i + 2 == bounds.len() { last_col } else { 0 },
            ),
        })
        .collect()
}

/// The tree of one piece of `text`.
fn parse_range(text: &str, range: tree_sitter::Range) -> Option<Tree> {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_c::LANGUAGE.into()).ok()?;
    parser.set_included_ranges(&[range]).ok()?;
    parser.parse(text, None)
}

/// Where a large text may be cut: just after a line that is only `}` (a function's end at
/// column 0), the first such line after each multiple of `piece_bytes`.
fn cut_points(text: &str, piece_bytes: usize) -> Vec<usize> {
    let b = text.as_bytes();
    if piece_bytes == 0 || b.len() < piece_bytes.saturating_mul(2) {
        return Vec::new();
    }
    let pieces = (b.len() / piece_bytes).min(MAX_PIECES);
    let step = b.len() / pieces;
    let mut cuts = Vec::new();
    let mut at = step;
    while at < b.len() && cuts.len() + 1 < pieces {
        // The next line start at or after `at`.
        let Some(nl) = b[at..].iter().position(|&c| c == b'\n') else {
            break;
        };
        let mut line = at + nl + 1;
        let mut found = None;
        while line < b.len() {
            let end = b[line..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |i| line + i);
            let l = &b[line..end];
            if l.first() == Some(&b'}') && l[1..].iter().all(|c| matches!(c, b' ' | b'\t' | b'\r'))
            {
                found = Some((end + 1).min(b.len()));
                break;
            }
            line = end + 1;
        }
        let Some(cut) = found else { break };
        if cut >= b.len() {
            break;
        }
        cuts.push(cut);
        at = cut.max(at + step);
    }
    cuts
}

/// Whether, at every cut, the piece before ends with a function definition without error
/// that ends on the cut line, and the piece after starts with an item without error.
fn clean_cuts(text: &str, trees: &[&Tree], cuts: &[usize]) -> bool {
    cuts.iter().enumerate().all(|(i, &cut)| {
        // The cut line's `}`.
        let brace = text[..cut - 1].rfind('\n').map_or(0, |i| i + 1);
        let before = trees[i].root_node();
        let after = trees[i + 1].root_node();
        let last = before.child(before.child_count().wrapping_sub(1));
        let first = after.child(0);
        let ok_last = last.is_some_and(|n| {
            n.kind() == "function_definition"
                && !n.has_error()
                && !n.is_missing()
                && n.end_byte() == brace + 1
        });
        let ok_first = first.is_some_and(|n| !n.is_error() && !n.has_error() && !n.is_missing());
        ok_last && ok_first
    })
}

/// Parses source-prepped C text into the typed model.
pub fn parse(prepared_text: &str) -> FileModel {
    parse_in_pieces(prepared_text, PIECE_BYTES)
}

fn parse_in_pieces(prepared_text: &str, piece_bytes: usize) -> FileModel {
    let mut model = FileModel::default();
    // Each piece is walked on its own, right after it is parsed, on the same thread; the
    // results are joined in order, so they are those of one walk over the whole tree (when
    // the cuts are not clean, the walks are dropped and the whole text is parsed and walked
    // at once). Enum constants may refer to earlier ones, so their lists are read
    // afterwards, in order.
    let heads = heads::function_heads(prepared_text);
    let bounds = recover::boundaries(prepared_text, &heads);
    let head_spans: Vec<(usize, usize)> = heads.iter().map(|h| (h.start, h.open)).collect();
    let cuts = cut_points(prepared_text, piece_bytes);
    let ranges = piece_ranges(prepared_text, &cuts);
    let trees: Vec<OnceLock<Tree>> = ranges.iter().map(|_| OnceLock::new()).collect();
    let repaired: Vec<OnceLock<Vec<Tree>>> = ranges.iter().map(|_| OnceLock::new()).collect();
    let whole: OnceLock<Tree> = OnceLock::new();
    let whole_repaired: OnceLock<Vec<Tree>> = OnceLock::new();
    let walked: Option<Vec<Piece>> = if cuts.is_empty() {
        None
    } else {
        ranges
            .par_iter()
            .zip(&trees)
            .zip(&repaired)
            .map(|((range, slot), sub)| {
                let tree = parse_range(prepared_text, *range)?;
                let tree = slot.get_or_init(|| tree);
                Some(walk_tree(
                    prepared_text,
                    tree,
                    (&head_spans, &bounds),
                    *range,
                    sub,
                ))
            })
            .collect()
    };
    let clean = walked.is_some() && {
        let trees: Vec<&Tree> = trees.iter().filter_map(OnceLock::get).collect();
        clean_cuts(prepared_text, &trees, &cuts)
    };
    let pieces = match walked {
        Some(pieces) if clean => pieces,
        _ => {
            let Some(tree) = parse_tree(prepared_text) else {
                model.skipped_functions.push(SkippedFunction {
                    name: None,
                    span: Span::new(0, prepared_text.len()),
                    reason: "the parser gave no tree".to_string(),
                });
                return model;
            };
            let tree = whole.get_or_init(|| tree);
            let range = tree_sitter::Range {
                end_byte: prepared_text.len(),
                ..recover::range_of_tree(tree)
            };
            vec![walk_tree(
                prepared_text,
                tree,
                (&head_spans, &bounds),
                range,
                &whole_repaired,
            )]
        }
    };
    let mut registrations = Vec::new();
    let mut structs: Vec<StructInfo> = Vec::new();
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut types: Vec<TypeObject> = Vec::new();
    let mut spec_slots: Vec<(String, String)> = Vec::new();
    let mut slot_arrays: Vec<(String, Vec<TypeSlot>)> = Vec::new();
    let mut spec_calls: Vec<(String, Span)> = Vec::new();
    let mut conv = Converter::new(prepared_text);
    let mut bodies: Vec<usize> = Vec::new();
    for mut piece in pieces {
        bodies.append(&mut piece.bodies);
        model.error_regions += piece.error_regions;
        model.functions.append(&mut piece.functions);
        model.skipped_functions.append(&mut piece.skipped_functions);
        model.member_defs.append(&mut piece.member_defs);
        registrations.append(&mut piece.registrations);
        structs.append(&mut piece.structs);
        aliases.append(&mut piece.aliases);
        types.append(&mut piece.types);
        spec_slots.append(&mut piece.spec_slots);
        slot_arrays.append(&mut piece.slot_arrays);
        spec_calls.append(&mut piece.spec_calls);
        for list in piece.enum_lists {
            enum_constants(&mut conv, list, &mut model.enum_constants);
        }
    }
    unread_heads(heads, &bodies, &mut model.skipped_functions);
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
    runtime_slots::add_runtime_slots(&mut model, prepared_text);
    model
}

/// Adds a skipped entry for each function head found by layout whose body no function
/// definition of the tree opens: no function leaves the model without being counted.
fn unread_heads(heads: Vec<heads::Head>, bodies: &[usize], skipped: &mut Vec<SkippedFunction>) {
    if heads.is_empty() {
        return;
    }
    let mut bodies = bodies.to_vec();
    bodies.sort_unstable();
    let mut added = false;
    for h in heads {
        if bodies.binary_search(&h.open).is_ok() {
            continue;
        }
        let reason = if h.digraph {
            "written with digraphs (`<%`), not read as a function definition"
        } else if h.k_and_r {
            "an old-style (K&R) definition, not read as a function definition"
        } else {
            "not read as a function definition (a parse error before or in it)"
        };
        skipped.push(SkippedFunction {
            name: h.name,
            span: Span::new(h.start, h.open + 1),
            reason: reason.to_string(),
        });
        added = true;
    }
    if added {
        skipped.sort_by_key(|s| s.span.start);
    }
}

/// What the walk of one piece's tree finds, in document order.
#[derive(Default)]
struct Piece<'t> {
    error_regions: usize,
    functions: Vec<Function>,
    skipped_functions: Vec<SkippedFunction>,
    /// Where the body of each function definition node opens (read or skipped).
    bodies: Vec<usize>,
    member_defs: Vec<MemberDef>,
    registrations: Vec<Registration>,
    structs: Vec<StructInfo>,
    aliases: Vec<(String, String)>,
    types: Vec<TypeObject>,
    spec_slots: Vec<(String, String)>,
    slot_arrays: Vec<(String, Vec<TypeSlot>)>,
    /// (spec variable, span of the creating call)
    spec_calls: Vec<(String, Span)>,
    enum_lists: Vec<Node<'t>>,
}

/// Converts the items of one piece's tree (covering `range`). Damage that crosses a
/// boundary is parsed again in chunks (see [`recover`]), kept in `repaired`, and those
/// chunks' items replace the damaged ones.
fn walk_tree<'t>(
    src: &str,
    tree: &'t Tree,
    (heads, bounds): (&[(usize, usize)], &[usize]),
    range: tree_sitter::Range,
    repaired: &'t OnceLock<Vec<Tree>>,
) -> Piece<'t> {
    let root = tree.root_node();
    let regions = recover::damaged_regions(root, heads, bounds, range.start_byte, range.end_byte);
    if regions.is_empty() {
        return walk_piece(src, vec![root]);
    }
    let chunks = recover::chunk_ranges(src, &regions);
    let subtrees = repaired.get_or_init(|| {
        chunks
            .iter()
            .flatten()
            .filter_map(|r| parse_range(src, *r))
            .collect()
    });
    // A region's chunks replace its items only when they read more functions cleanly
    // (a chunk can fare worse: an unknown macro before a head that the damaged item had
    // absorbed now starts the chunk).
    let mut cursor = root.walk();
    let children: Vec<Node<'t>> = root.children(&mut cursor).collect();
    let overlaps = |n: &Node, (a, b): (usize, usize)| n.start_byte() < b && n.end_byte() > a;
    let mut replaced: Vec<(usize, usize)> = Vec::new();
    let mut roots: Vec<Node<'t>> = Vec::new();
    for r in &regions {
        let span = (r[0], r[r.len() - 1]);
        let chunk_roots: Vec<Node<'t>> = subtrees
            .iter()
            .map(Tree::root_node)
            .filter(|n| n.start_byte() >= span.0 && n.end_byte() <= span.1)
            .collect();
        let before: usize = children
            .iter()
            .filter(|c| overlaps(c, span))
            .map(|c| recover::clean_functions(*c, heads))
            .sum();
        let after: usize = chunk_roots
            .iter()
            .map(|n| recover::clean_functions(*n, heads))
            .sum();
        if after > before {
            replaced.push(span);
            roots.extend(chunk_roots);
        }
    }
    roots.extend(
        children
            .into_iter()
            .filter(|c| !replaced.iter().any(|&span| overlaps(c, span))),
    );
    roots.sort_by_key(Node::start_byte);
    walk_piece(src, roots)
}

/// Converts the items under `roots`, in order.
fn walk_piece<'t>(src: &str, roots: Vec<Node<'t>>) -> Piece<'t> {
    let mut conv = Converter::new(src);
    let mut p = Piece::default();
    let mut typedef_structs: HashSet<usize> = HashSet::new();
    // Iterative depth-first walk in document order, piece after piece.
    let Some(first) = roots.first() else {
        return p;
    };
    let mut cursor = first.walk();
    let mut stack: Vec<Node> = roots;
    stack.reverse();
    {
        while let Some(node) = stack.pop() {
            if node.is_error() || node.is_missing() {
                p.error_regions += 1;
            }
            match node.kind() {
                "function_definition" => {
                    if let Some(body) = node.child_field(F::Body) {
                        p.bodies.push(body.start_byte());
                    }
                    match conv.function(node) {
                        Ok(f) => {
                            if f.name.starts_with("PyInit_") {
                                p.registrations.push(Registration {
                                    function: f.name.clone(),
                                    kind: RegistrationKind::ModuleInit,
                                    span: f.name_span,
                                });
                            }
                            p.functions.push(f);
                        }
                        Err(skipped) => p.skipped_functions.push(skipped),
                    }
                }
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
                    p.registrations.append(&mut tables.out);
                    p.types.append(&mut tables.types);
                    p.spec_slots.append(&mut tables.spec_slots);
                    p.slot_arrays.append(&mut tables.slot_arrays);
                    p.member_defs.append(&mut tables.member_defs);
                }
                "call_expression" => {
                    if let Some(call) = tables::spec_call(&conv, node) {
                        p.spec_calls.push(call);
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
                    if let Some(ty) = node.child_field(F::Type) {
                        if ty.kind() == "struct_specifier" && ty.child_field(F::Body).is_some() {
                            if let Some(mut info) = struct_info(&conv, ty) {
                                info.names.extend(names);
                                p.structs.push(info);
                                typedef_structs.insert(ty.id());
                            }
                        } else {
                            let target = conv.type_base(ty);
                            p.aliases
                                .extend(names.into_iter().map(|n| (n, target.clone())));
                        }
                    }
                }
                "enumerator_list" => p.enum_lists.push(node),
                "struct_specifier" if !typedef_structs.contains(&node.id()) => {
                    if let Some(info) = struct_info(&conv, node) {
                        p.structs.push(info);
                    }
                }
                _ => {}
            }
            let first = stack.len();
            stack.extend(node.children(&mut cursor));
            stack[first..].reverse();
        }
    }
    p
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
            .child_field(F::Name)
            .and_then(|n| n.utf8_text(conv.src.as_bytes()).ok())
        else {
            next = None;
            continue;
        };
        let value = match item.child_field(F::Value) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of many small items: functions (one with an error), an enum whose constants
    /// use those of an earlier enum, a typedef'd object struct and a type object.
    fn sample() -> String {
        let mut text = String::from(
            "#include <Python.h>\nenum { A = 3, B };\ntypedef struct { PyObject_HEAD int x; } Obj;\n",
        );
        for i in 0..60 {
            text.push_str(&format!(
                "static PyObject *\nf{i}(PyObject *self, PyObject *args)\n{{\n    PyObject *r = PyLong_FromLong({i});\n    if (r == NULL)\n        return NULL;\n    return r;\n}}\n\n"
            ));
            if i == 20 {
                text.push_str("enum { C = B + 1, D };\n");
            }
            if i == 40 {
                text.push_str("static int broken(void)\n{\n    return (;\n}\n\n");
            }
        }
        text.push_str(
            "static PyTypeObject ObjType = { PyVarObject_HEAD_INIT(NULL, 0) \"m.Obj\", sizeof(Obj) };\n",
        );
        text
    }

    #[test]
    fn pieces_give_the_model_of_one_parse() {
        let text = sample();
        let whole = format!("{:?}", parse_in_pieces(&text, usize::MAX));
        for piece_bytes in [64, 300, 1000, 2500] {
            assert!(!cut_points(&text, piece_bytes).is_empty());
            assert_eq!(
                format!("{:?}", parse_in_pieces(&text, piece_bytes)),
                whole,
                "pieces of {piece_bytes} bytes"
            );
        }
    }

    fn names_of(text: &str) -> (Vec<String>, Vec<String>) {
        let m = parse(text);
        (
            m.functions.iter().map(|f| f.name.clone()).collect(),
            m.skipped_functions
                .iter()
                .map(|s| format!("{}: {}", s.name.clone().unwrap_or_default(), s.reason))
                .collect(),
        )
    }

    #[test]
    fn macro_lines_without_semicolons_do_not_swallow_the_next_function() {
        // Two top-level macro uses that define functions, written without `;`: one parse
        // reads them as the head of a function named `SAME_KIND` with `g`'s body.
        let text = "MAKE(SAFE)\nMAKE(SAME_KIND)\n\n\nstatic int\ng(void)\n{\n    return 1;\n}\n\nstatic int\nh(void)\n{\n    return 2;\n}\n";
        let (functions, _) = names_of(text);
        assert_eq!(functions, ["g", "h"]);
    }

    #[test]
    fn a_repair_that_reads_fewer_functions_is_not_kept() {
        // Parsed again alone, the chunk of the first function starts with the unknown
        // `NPY_NO_EXPORT` and reads worse than the first parse: the first parse stays.
        let text = "ASCII_FORMAT(float, f, float)\nASCII_FORMAT(long double, l, long double)\n\n/*\n * doc\n */\nNPY_NO_EXPORT int\nNumPyOS_ascii_isspace(int c)\n{\n    return c == 1;\n}\n";
        let m = parse(text);
        assert_eq!(m.functions.len(), 1);
        assert!(!m.functions[0].has_errors);
    }

    #[test]
    fn a_cut_next_to_an_error_falls_back_to_one_parse() {
        // The only `}` lines close functions whose neighbours hold an error.
        let text =
            "int f(void)\n{\n    return (;\n}\nint g(void)\n{\n    return 1 +;\n}\n".repeat(3);
        let cuts = cut_points(&text, 20);
        assert!(!cuts.is_empty());
        assert_eq!(parse_forest(&text, 20).map(|t| t.len()), Some(1));
        assert_eq!(
            format!("{:?}", parse_in_pieces(&text, 20)),
            format!("{:?}", parse_in_pieces(&text, usize::MAX))
        );
    }
}
