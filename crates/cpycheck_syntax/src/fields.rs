//! The C grammar's field ids, looked up once. `Node::child_by_field_name` looks its name
//! up among all the grammar's field names (string compares) at every call, and conversion
//! asks for fields at nearly every node.

use std::sync::LazyLock;

use tree_sitter::Node;

/// A field of the C grammar that conversion reads.
#[derive(Clone, Copy, Debug)]
pub(crate) enum F {
    Alternative,
    Argument,
    Arguments,
    Body,
    Condition,
    Consequence,
    Declarator,
    Designator,
    Field,
    Function,
    Index,
    Initializer,
    Label,
    Left,
    Name,
    Operator,
    Parameters,
    Right,
    Type,
    Update,
    Value,
}

const NAMES: [&str; 21] = [
    "alternative",
    "argument",
    "arguments",
    "body",
    "condition",
    "consequence",
    "declarator",
    "designator",
    "field",
    "function",
    "index",
    "initializer",
    "label",
    "left",
    "name",
    "operator",
    "parameters",
    "right",
    "type",
    "update",
    "value",
];

/// Each field's id, in the order of `F` (0: not in the grammar, which no field is).
static IDS: LazyLock<[u16; NAMES.len()]> = LazyLock::new(|| {
    let language: tree_sitter::Language = tree_sitter_c::LANGUAGE.into();
    NAMES.map(|name| language.field_id_for_name(name).map_or(0, |id| id.get()))
});

pub(crate) trait FieldExt<'t> {
    /// The child in field `f` (as `child_by_field_name`).
    fn child_field(&self, f: F) -> Option<Node<'t>>;
}

impl<'t> FieldExt<'t> for Node<'t> {
    fn child_field(&self, f: F) -> Option<Node<'t>> {
        match IDS[f as usize] {
            0 => None,
            id => self.child_by_field_id(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_in_the_grammar() {
        assert!(IDS.iter().all(|&id| id != 0));
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_c::LANGUAGE.into())
            .unwrap();
        let tree = parser.parse("int f(int a) { return a; }", None).unwrap();
        let f = tree.root_node().named_child(0).unwrap();
        assert_eq!(
            f.child_field(F::Declarator),
            f.child_by_field_name("declarator")
        );
        assert_eq!(f.child_field(F::Body), f.child_by_field_name("body"));
    }
}
