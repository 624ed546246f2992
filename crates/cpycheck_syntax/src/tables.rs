//! Registration tables (method tables, type slots, getset tables) and object struct
//! detection. The field orders are data: CPython's struct layouts.

use std::collections::HashSet;

use tree_sitter::Node;

use crate::fields::{F, FieldExt};

use crate::convert::{Converter, named_children, span_of, text_of};
use crate::model::*;

/// `PyTypeObject` fields in declaration order (CPython 3.8+). Element 0 is `ob_base`.
pub const TYPE_OBJECT_FIELDS: &[&str] = &[
    "ob_base",
    "tp_name",
    "tp_basicsize",
    "tp_itemsize",
    "tp_dealloc",
    "tp_vectorcall_offset",
    "tp_getattr",
    "tp_setattr",
    "tp_as_async",
    "tp_repr",
    "tp_as_number",
    "tp_as_sequence",
    "tp_as_mapping",
    "tp_hash",
    "tp_call",
    "tp_str",
    "tp_getattro",
    "tp_setattro",
    "tp_as_buffer",
    "tp_flags",
    "tp_doc",
    "tp_traverse",
    "tp_clear",
    "tp_richcompare",
    "tp_weaklistoffset",
    "tp_iter",
    "tp_iternext",
    "tp_methods",
    "tp_members",
    "tp_getset",
    "tp_base",
    "tp_dict",
    "tp_descr_get",
    "tp_descr_set",
    "tp_dictoffset",
    "tp_init",
    "tp_alloc",
    "tp_new",
    "tp_free",
    "tp_is_gc",
    "tp_bases",
    "tp_mro",
    "tp_cache",
    "tp_subclasses",
    "tp_weaklist",
    "tp_del",
    "tp_version_tag",
    "tp_finalize",
    "tp_vectorcall",
];

pub const NUMBER_METHODS_FIELDS: &[&str] = &[
    "nb_add",
    "nb_subtract",
    "nb_multiply",
    "nb_remainder",
    "nb_divmod",
    "nb_power",
    "nb_negative",
    "nb_positive",
    "nb_absolute",
    "nb_bool",
    "nb_invert",
    "nb_lshift",
    "nb_rshift",
    "nb_and",
    "nb_xor",
    "nb_or",
    "nb_int",
    "nb_reserved",
    "nb_float",
    "nb_inplace_add",
    "nb_inplace_subtract",
    "nb_inplace_multiply",
    "nb_inplace_remainder",
    "nb_inplace_power",
    "nb_inplace_lshift",
    "nb_inplace_rshift",
    "nb_inplace_and",
    "nb_inplace_xor",
    "nb_inplace_or",
    "nb_floor_divide",
    "nb_true_divide",
    "nb_inplace_floor_divide",
    "nb_inplace_true_divide",
    "nb_index",
    "nb_matrix_multiply",
    "nb_inplace_matrix_multiply",
];

pub const SEQUENCE_METHODS_FIELDS: &[&str] = &[
    "sq_length",
    "sq_concat",
    "sq_repeat",
    "sq_item",
    "was_sq_slice",
    "sq_ass_item",
    "was_sq_ass_slice",
    "sq_contains",
    "sq_inplace_concat",
    "sq_inplace_repeat",
];

pub const MAPPING_METHODS_FIELDS: &[&str] = &["mp_length", "mp_subscript", "mp_ass_subscript"];

pub const ASYNC_METHODS_FIELDS: &[&str] = &["am_await", "am_aiter", "am_anext", "am_send"];

pub const BUFFER_PROCS_FIELDS: &[&str] = &["bf_getbuffer", "bf_releasebuffer"];

pub const MODULE_DEF_FIELDS: &[&str] = &[
    "m_base",
    "m_name",
    "m_doc",
    "m_size",
    "m_methods",
    "m_slots",
    "m_traverse",
    "m_clear",
    "m_free",
];

/// Slots whose value is data, not a function Python calls.
pub(crate) const DATA_SLOTS: &[&str] = &[
    "ob_base",
    "tp_name",
    "tp_basicsize",
    "tp_itemsize",
    "tp_vectorcall_offset",
    "tp_as_async",
    "tp_as_number",
    "tp_as_sequence",
    "tp_as_mapping",
    "tp_as_buffer",
    "tp_flags",
    "tp_doc",
    "tp_weaklistoffset",
    "tp_methods",
    "tp_members",
    "tp_getset",
    "tp_base",
    "tp_dict",
    "tp_dictoffset",
    "tp_bases",
    "tp_mro",
    "tp_cache",
    "tp_subclasses",
    "tp_weaklist",
    "tp_version_tag",
    "tp_token",
    "nb_reserved",
    "was_sq_slice",
    "was_sq_ass_slice",
    "m_base",
    "m_name",
    "m_doc",
    "m_size",
    "m_methods",
    "m_slots",
];

/// The function a table entry names: an identifier after casts, `&` and
/// `_PyCFunction_CAST(...)`-style wrappers.
pub(crate) fn entry_function(expr: &Expr) -> Option<&str> {
    let mut e = expr.strip_casts();
    for _ in 0..8 {
        match &e.kind {
            ExprKind::Ident(name) => return Some(name),
            ExprKind::Unary {
                op: UnOp::AddrOf,
                operand,
            } => e = operand.strip_casts(),
            ExprKind::Call { callee, args }
                if args.len() == 1
                    && callee
                        .as_ident()
                        .is_some_and(|c| c.ends_with("_CAST") || c.ends_with("_Cast")) =>
            {
                e = args[0].strip_casts()
            }
            _ => return None,
        }
    }
    None
}

/// One element of an initialiser list: its designator (if any) and value node.
struct Elem<'a> {
    designator: Option<String>,
    value: Node<'a>,
}

fn elements<'a>(list: Node<'a>, src: &str) -> Vec<Elem<'a>> {
    named_children(list)
        .into_iter()
        .filter_map(|c| {
            if c.kind() == "initializer_pair" {
                let designator = c
                    .child_field(F::Designator)
                    .map(|d| text_of(d, src).trim_start_matches('.').trim().to_string());
                let value = c.child_field(F::Value)?;
                Some(Elem { designator, value })
            } else if c.is_error() {
                None
            } else {
                Some(Elem {
                    designator: None,
                    value: c,
                })
            }
        })
        .collect()
}

pub(crate) struct Tables<'a, 'c> {
    pub(crate) conv: &'c mut Converter<'a>,
    pub(crate) out: Vec<Registration>,
    /// Static `PyTypeObject`s and `PyType_Spec`s (spec slots still to be linked).
    pub(crate) types: Vec<TypeObject>,
    /// `PyType_Spec` variables and the `PyType_Slot` array each names.
    pub(crate) spec_slots: Vec<(String, String)>,
    /// `PyType_Slot` arrays by variable name.
    pub(crate) slot_arrays: Vec<(String, Vec<TypeSlot>)>,
    /// `PyMemberDef` entries.
    pub(crate) member_defs: Vec<MemberDef>,
}

/// `offsetof(Foo, m)` / `offsetof(struct Foo, base.m)` → (`Foo`, `base.m`).
fn offsetof(text: &str) -> Option<(String, String)> {
    let inner = text
        .trim()
        .strip_prefix("offsetof")?
        .trim()
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let (ty, member) = inner.split_once(',')?;
    let ty = ty.trim();
    let ty = ty.strip_prefix("struct ").unwrap_or(ty).trim();
    let member: String = member.split_whitespace().collect();
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (ident(ty) && member.split('.').all(ident)).then(|| (ty.to_string(), member))
}

/// The functions that create a heap type from a `PyType_Spec`, with the index of the spec
/// argument.
const FROM_SPEC: &[(&str, usize)] = &[
    ("PyType_FromSpec", 0),
    ("PyType_FromSpecWithBases", 0),
    ("PyType_FromModuleAndSpec", 1),
    ("PyType_FromMetaclass", 2),
];

/// A `PyType_FromSpec*(..., &spec, ...)` call: the spec variable and the call's span.
pub(crate) fn spec_call(conv: &Converter, node: Node) -> Option<(String, Span)> {
    let callee = text_of(node.child_field(F::Function)?, conv.src).trim();
    let index = FROM_SPEC.iter().find(|(n, _)| *n == callee)?.1;
    let args = named_children(node.child_field(F::Arguments)?);
    let arg = text_of(*args.get(index)?, conv.src).trim();
    let spec = arg.strip_prefix('&').unwrap_or(arg).trim();
    (!spec.is_empty() && spec.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| (spec.to_string(), span_of(node)))
}

/// The declared types whose initialisers [`Tables::declaration`] reads.
const TABLE_TYPES: &[&str] = &[
    "PyTypeObject",
    "PyType_Spec",
    "PyType_Slot",
    "PyMethodDef",
    "PyGetSetDef",
    "PyMemberDef",
    "PyModuleDef",
    "PyModuleDef_Slot",
];

/// The variable a `tp_base` value names: `&BarType` (casts removed) → `BarType`.
pub(crate) fn base_type(expr: &Expr) -> Option<String> {
    match &expr.strip_casts().kind {
        ExprKind::Unary {
            op: UnOp::AddrOf,
            operand,
        } => operand.as_ident().map(str::to_string),
        _ => None,
    }
}

/// `sizeof(Foo)`, `sizeof(struct Foo)`, `sizeof (Foo)` → `Foo`.
pub(crate) fn sizeof_type(text: &str) -> Option<String> {
    let rest = text.trim().strip_prefix("sizeof")?.trim();
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?.trim();
    let inner = inner.strip_prefix("struct ").unwrap_or(inner).trim();
    (!inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| inner.to_string())
}

pub(crate) fn string_literal(text: &str) -> Option<String> {
    let t = text.trim();
    (t.len() >= 2 && t.starts_with('"') && t.ends_with('"')).then(|| t[1..t.len() - 1].to_string())
}

pub(crate) fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl<'a> Tables<'a, '_> {
    /// Looks at one declaration with an initialiser and records its registrations.
    pub(crate) fn declaration(&mut self, decl: Node<'a>) {
        let Some(ty) = decl.child_field(F::Type) else {
            return;
        };
        let mut ty = self.conv.type_base(ty);
        // `NPY_NO_EXPORT PyTypeObject Foo = {...}`: a storage macro the parser read as the
        // type leaves the real type name in an error node before the declarator.
        if let Some(real) = named_children(decl).into_iter().find_map(|c| {
            let t = text_of(c, self.conv.src).trim();
            (c.is_error() && TABLE_TYPES.contains(&t)).then_some(t)
        }) {
            ty = real.to_string();
        }
        let is_static = named_children(decl).iter().any(|c| {
            c.kind() == "storage_class_specifier" && text_of(*c, self.conv.src).trim() == "static"
        });
        let mut cursor = decl.walk();
        let inits: Vec<(Option<String>, Span, Node)> = decl
            .children_by_field_name("declarator", &mut cursor)
            .filter(|d| d.kind() == "init_declarator")
            .filter_map(|d| {
                let value = d.child_field(F::Value)?;
                let (name, name_node, _, _) = self.conv.declarator_info(d);
                let span = name_node.map_or_else(|| span_of(d), span_of);
                Some((name, span, value))
            })
            .filter(|(_, _, v)| v.kind() == "initializer_list")
            .collect();
        for (var, var_span, list) in inits {
            match ty.as_str() {
                "PyMethodDef" => self.array(list, |t, e| t.method_entry(e)),
                "PyGetSetDef" => self.array(list, |t, e| t.getset_entry(e)),
                "PyMemberDef" => self.array(list, |t, e| t.member_entry(e)),
                "PyType_Slot" => {
                    let first = self.out.len();
                    self.array(list, |t, e| t.slot_entry(e));
                    if let Some(var) = var {
                        let slots = self.out[first..]
                            .iter()
                            .filter_map(|r| match &r.kind {
                                RegistrationKind::Slot { slot } => Some(TypeSlot {
                                    slot: slot.clone(),
                                    function: r.function.clone(),
                                    span: r.span,
                                }),
                                _ => None,
                            })
                            .collect();
                        self.slot_arrays.push((var, slots));
                    }
                }
                "PyModuleDef_Slot" => self.array(list, |t, e| t.slot_entry(e)),
                "PyType_Spec" => {
                    if let Some(var) = var {
                        self.type_spec(var, var_span, list, is_static);
                    }
                }
                "PyTypeObject" => {
                    let first = self.out.len();
                    self.struct_slots(list, TYPE_OBJECT_FIELDS);
                    if let Some(var) = var {
                        self.static_type(var, var_span, list, first, is_static);
                    }
                }
                "PyNumberMethods" => self.struct_slots(list, NUMBER_METHODS_FIELDS),
                "PySequenceMethods" => self.struct_slots(list, SEQUENCE_METHODS_FIELDS),
                "PyMappingMethods" => self.struct_slots(list, MAPPING_METHODS_FIELDS),
                "PyAsyncMethods" => self.struct_slots(list, ASYNC_METHODS_FIELDS),
                "PyBufferProcs" => self.struct_slots(list, BUFFER_PROCS_FIELDS),
                "PyModuleDef" => self.struct_slots(list, MODULE_DEF_FIELDS),
                _ => {}
            }
        }
    }

    fn array(&mut self, list: Node<'a>, mut entry: impl FnMut(&mut Self, Node<'a>)) {
        for elem in elements(list, self.conv.src) {
            if elem.value.kind() == "initializer_list" {
                entry(self, elem.value);
            }
        }
    }

    fn value(&mut self, node: Node<'a>) -> Expr {
        self.conv.expr(node)
    }

    fn push(&mut self, expr: &Expr, kind: RegistrationKind) {
        if let Some(f) = entry_function(expr) {
            self.out.push(Registration {
                function: f.to_string(),
                kind,
                span: expr.span,
            });
        }
    }

    /// Named fields of a struct-like entry: designated or positional by `order`.
    fn fields(&self, list: Node<'a>, order: &[&str]) -> Vec<(String, Node<'a>)> {
        let mut out = Vec::new();
        let mut index = 0usize;
        let mut pending_ob_size = false;
        for elem in elements(list, self.conv.src) {
            let name = match &elem.designator {
                Some(d) => {
                    if let Some(i) = order.iter().position(|f| f == d) {
                        index = i;
                    }
                    d.clone()
                }
                None if pending_ob_size => {
                    pending_ob_size = false;
                    continue;
                }
                None => match order.get(index) {
                    Some(n) => n.to_string(),
                    None => break,
                },
            };
            // `PyObject_HEAD_INIT(type)` (source prep writes it as `{}`) does not
            // initialise `ob_size`: the next positional element does.
            pending_ob_size = name == "ob_base"
                && elem.value.kind() == "initializer_list"
                && named_children(elem.value).is_empty();
            out.push((name, elem.value));
            index += 1;
        }
        out
    }

    fn struct_slots(&mut self, list: Node<'a>, order: &[&str]) {
        for (name, value) in self.fields(list, order) {
            if DATA_SLOTS.contains(&name.as_str()) {
                continue;
            }
            let expr = self.value(value);
            self.push(&expr, RegistrationKind::Slot { slot: name });
        }
    }

    /// Records a static `PyTypeObject`; its function slots are the registrations pushed
    /// since `first`.
    fn static_type(
        &mut self,
        variable: String,
        span: Span,
        list: Node<'a>,
        first: usize,
        is_static: bool,
    ) {
        let mut t = TypeObject {
            variable,
            span,
            definition: TypeDefinition::Static,
            name: None,
            instance: None,
            flags: String::new(),
            slots: Vec::new(),
            created_at: Vec::new(),
            base: None,
            is_static,
        };
        for (field, value) in self.fields(list, TYPE_OBJECT_FIELDS) {
            let text = text_of(value, self.conv.src);
            match field.as_str() {
                "tp_name" => t.name = string_literal(text),
                "tp_basicsize" => t.instance = sizeof_type(text),
                "tp_flags" => t.flags = normalise(text),
                "tp_base" => t.base = base_type(&self.value(value)),
                _ => {}
            }
        }
        t.slots = self.out[first..]
            .iter()
            .filter_map(|r| match &r.kind {
                RegistrationKind::Slot { slot } if slot.starts_with("tp_") => Some(TypeSlot {
                    slot: slot.clone(),
                    function: r.function.clone(),
                    span: r.span,
                }),
                _ => None,
            })
            .collect();
        self.types.push(t);
    }

    fn type_spec(&mut self, variable: String, span: Span, list: Node<'a>, is_static: bool) {
        let mut t = TypeObject {
            variable: variable.clone(),
            span,
            definition: TypeDefinition::Spec,
            name: None,
            instance: None,
            flags: String::new(),
            slots: Vec::new(),
            created_at: Vec::new(),
            base: None,
            is_static,
        };
        let order = ["name", "basicsize", "itemsize", "flags", "slots"];
        for (field, value) in self.fields(list, &order) {
            let text = text_of(value, self.conv.src);
            match field.as_str() {
                "name" => t.name = string_literal(text),
                "basicsize" => t.instance = sizeof_type(text),
                "flags" => t.flags = normalise(text),
                "slots" => {
                    let e = self.value(value);
                    if let Some(array) = entry_function(&e) {
                        self.spec_slots.push((variable.clone(), array.to_string()));
                    }
                }
                _ => {}
            }
        }
        self.types.push(t);
    }

    fn method_entry(&mut self, entry: Node<'a>) {
        let fields = self.fields(entry, &["ml_name", "ml_meth", "ml_flags", "ml_doc"]);
        let mut meth = None;
        let mut flags = String::new();
        for (name, value) in fields {
            match name.as_str() {
                "ml_meth" => meth = Some(self.value(value)),
                "ml_flags" => {
                    flags = text_of(value, self.conv.src)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                _ => {}
            }
        }
        if let Some(meth) = meth {
            self.push(&meth, RegistrationKind::Method { flags });
        }
    }

    fn member_entry(&mut self, entry: Node<'a>) {
        let mut def = MemberDef {
            name: None,
            type_code: String::new(),
            type_span: span_of(entry),
            offset_of: None,
            span: span_of(entry),
        };
        for (name, value) in self.fields(entry, &["name", "type", "offset", "flags", "doc"]) {
            let text = text_of(value, self.conv.src);
            match name.as_str() {
                "name" => def.name = string_literal(text),
                "type" => {
                    def.type_code = text.trim().to_string();
                    def.type_span = span_of(value);
                }
                "offset" => def.offset_of = offsetof(text),
                _ => {}
            }
        }
        if def.name.is_some() && !def.type_code.is_empty() {
            self.member_defs.push(def);
        }
    }

    fn getset_entry(&mut self, entry: Node<'a>) {
        for (name, value) in self.fields(entry, &["name", "get", "set", "doc", "closure"]) {
            let kind = match name.as_str() {
                "get" => RegistrationKind::Getter,
                "set" => RegistrationKind::Setter,
                _ => continue,
            };
            let expr = self.value(value);
            self.push(&expr, kind);
        }
    }

    fn slot_entry(&mut self, entry: Node<'a>) {
        let fields = self.fields(entry, &["slot", "pfunc"]);
        let mut slot = None;
        let mut func = None;
        for (name, value) in fields {
            match name.as_str() {
                "slot" => slot = Some(text_of(value, self.conv.src).trim().to_string()),
                "pfunc" | "value" => func = Some(self.value(value)),
                _ => {}
            }
        }
        let (Some(slot), Some(func)) = (slot, func) else {
            return;
        };
        let Some(slot) = slot.strip_prefix("Py_") else {
            return;
        };
        if DATA_SLOTS.contains(&slot) {
            return;
        }
        self.push(
            &func,
            RegistrationKind::Slot {
                slot: slot.to_string(),
            },
        );
    }
}

/// One struct definition seen in the file, for object-type detection.
pub(crate) struct StructInfo {
    /// Tag and typedef names.
    pub(crate) names: Vec<String>,
    /// Type of the first member, when it is not a pointer.
    pub(crate) first_member: Option<String>,
    /// The members after the first one.
    pub(crate) members: Vec<Member>,
    pub(crate) span: Span,
}

/// Reads a `struct_specifier` with a body.
pub(crate) fn struct_info(conv: &Converter, node: Node) -> Option<StructInfo> {
    let body = node.child_field(F::Body)?;
    let mut names = Vec::new();
    if let Some(n) = node.child_field(F::Name) {
        names.push(text_of(n, conv.src).to_string());
    }
    let fields: Vec<Node> = named_children(body)
        .into_iter()
        .filter(|c| c.kind() == "field_declaration")
        .collect();
    let first_member = fields.first().and_then(|f| {
        let ty = conv.type_base(f.child_field(F::Type)?);
        let (_, _, pointers, _) = conv.declarator_info(f.child_field(F::Declarator)?);
        (pointers == 0).then_some(ty)
    });
    let mut members = Vec::new();
    for f in fields.iter().skip(1) {
        let Some(ty) = f.child_field(F::Type) else {
            continue;
        };
        let base = conv.type_base(ty);
        let mut cursor = f.walk();
        for d in f.children_by_field_name("declarator", &mut cursor) {
            let (name, name_node, pointers, array) = conv.declarator_info(d);
            // Function pointer members are not data the type owns.
            if d.kind() == "function_declarator" || has_function_declarator(d) {
                continue;
            }
            if let (Some(name), Some(node)) = (name, name_node) {
                members.push(Member {
                    name,
                    ty: CType {
                        base: base.clone(),
                        pointers,
                        array,
                    },
                    span: span_of(node),
                });
            }
        }
    }
    Some(StructInfo {
        names,
        first_member,
        members,
        span: span_of(node),
    })
}

fn has_function_declarator(node: Node) -> bool {
    let mut cur = Some(node);
    for _ in 0..64 {
        let Some(n) = cur else { return false };
        if n.kind() == "function_declarator" {
            return true;
        }
        cur = n.child_field(F::Declarator);
    }
    false
}

/// The object structs among `structs`, given the object type names.
pub(crate) fn object_structs(structs: &[StructInfo], object_types: &[String]) -> Vec<ObjectStruct> {
    structs
        .iter()
        .filter(|s| s.names.iter().any(|n| object_types.contains(n)))
        .filter_map(|s| {
            Some(ObjectStruct {
                names: s.names.clone(),
                span: s.span,
                base: s.first_member.clone()?,
                members: s.members.clone(),
            })
        })
        .collect()
}

/// Struct tags and typedef names whose layout starts with an object header, in the order
/// they are first seen.
pub(crate) fn object_types(structs: &[StructInfo], aliases: &[(String, String)]) -> Vec<String> {
    let mut known: HashSet<String> = ["PyObject", "PyVarObject"]
        .into_iter()
        .map(String::from)
        .collect();
    let mut order = Vec::new();
    loop {
        let mut changed = false;
        for s in structs {
            if s.first_member.as_ref().is_some_and(|m| known.contains(m)) {
                for n in &s.names {
                    if known.insert(n.clone()) {
                        order.push(n.clone());
                        changed = true;
                    }
                }
            }
        }
        for (alias, target) in aliases {
            if known.contains(target) && known.insert(alias.clone()) {
                order.push(alias.clone());
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    order
}
