use crate::declare_rule;
use crate::lifecycle::{TypeInfo, facts, owned_members, slot_body, types, views_other_struct};
use crate::registry::{Check, FileContext, FileFinding, Message};
use cpycheck_contracts::lifecycle::is_builtin_type;
use cpycheck_syntax::{TypeDefinition, TypeObject};

declare_rule! {
    /// ## What it does
    /// Finds a type's `tp_dealloc` that does not release a member holding a Python object
    /// which the rest of the file treats as owned (stores a new reference in it, or releases
    /// it elsewhere, e.g. in `tp_clear` or a setter). A static type without a `tp_dealloc`
    /// of its own inherits one from its `tp_base` (or `object`'s, which frees the object and
    /// releases nothing): the inherited dealloc is checked against the type's members.
    ///
    /// ## Why is this bad?
    /// Each instance that dies keeps the member's object alive for ever: one leaked
    /// reference per instance.
    ///
    /// ## Example
    /// ```c
    /// typedef struct {
    ///     PyObject_HEAD
    ///     PyObject *hash_func;
    /// } HashTableObject;
    ///
    /// static void
    /// HashTable_dealloc(HashTableObject *self)
    /// {
    ///     Py_TYPE(self)->tp_free((PyObject *)self);   /* hash_func is never released */
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```c
    ///     Py_XDECREF(self->hash_func);
    ///     Py_TYPE(self)->tp_free((PyObject *)self);
    /// ```
    ///
    /// ## Known limitations
    /// The instance struct is found through `sizeof(...)` in `tp_basicsize` or the spec's
    /// `basicsize`. A dealloc that passes `self` to a function outside the file (a base
    /// type's dealloc through a pointer, a generated helper) is not checked. Members are
    /// considered owned only when the file itself shows it.
    ///
    /// ## References
    /// - [`tp_dealloc`](https://docs.python.org/3/c-api/typeobj.html#c.PyTypeObject.tp_dealloc)
    pub DeallocMissingRelease, "CPY301", "dealloc-missing-release", preview = true
}

impl DeallocMissingRelease {
    pub(crate) const CHECK: Check = Check::File(Self::check);

    fn check(cx: &FileContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for t in types(cx.model) {
            let Some(body) = slot_body(cx, t.ty, "tp_dealloc") else {
                if t.ty.slot("tp_dealloc").is_none() {
                    inherited(cx, &t, &mut out);
                }
                continue;
            };
            if views_other_struct(cx.model, &t, body) {
                continue;
            }
            let is_member = |n: &str| t.is_object_member(n);
            let f = facts(cx, body, 0, &is_member);
            if f.opaque {
                continue;
            }
            let owned = owned_members(cx, &t);
            // A base type's dealloc releases the members of the embedded base struct.
            let own: Vec<&str> = if f.base_dealloc {
                t.ty.instance
                    .as_deref()
                    .and_then(|i| cx.model.object_struct(i))
                    .map(|s| s.members.iter().map(|m| m.name.as_str()).collect())
                    .unwrap_or_default()
            } else {
                t.object_members.iter().map(|m| m.name.as_str()).collect()
            };
            for m in &t.object_members {
                if !owned.contains(&m.name)
                    || !own.contains(&m.name.as_str())
                    || f.released.contains_key(&m.name)
                    || f.passed.contains(&m.name)
                {
                    continue;
                }
                let message = Message::new(format!(
                    "`{}` does not release member `{}`",
                    body.name, m.name
                ))
                .label(m.span, "member declared here")
                .help(format!(
                    "release it in the dealloc with `Py_XDECREF(self->{})` or `Py_CLEAR(self->{})`",
                    m.name, m.name
                ));
                out.push(FileFinding::new(body.name_span, message).in_function(&body.name));
            }
        }
        dedup(out)
    }
}

/// The dealloc a static type without a `tp_dealloc` of its own gets from `PyType_Ready`.
enum Inherited<'a> {
    /// A base type's dealloc, defined in this file.
    Base(&'a cpycheck_ir::Body),
    /// The dealloc of `object` or of a builtin type (named): it releases none of the
    /// type's own members.
    Builtin(&'a str),
}

/// Follows `tp_base` from a static type with no `tp_dealloc` to the dealloc it inherits.
/// `None` when that cannot be known: a base defined in another file, a base whose dealloc
/// is not in this file, a type another file may still change (not `static`, no base).
fn inherited_dealloc<'a>(cx: &'a FileContext<'_>, ty: &'a TypeObject) -> Option<Inherited<'a>> {
    let mut cur = ty;
    for _ in 0..8 {
        if cur.definition != TypeDefinition::Static {
            return None;
        }
        let Some(base) = cur.base.as_deref() else {
            return cur.is_static.then_some(Inherited::Builtin("object"));
        };
        if is_builtin_type(base) {
            return Some(Inherited::Builtin(base));
        }
        let b = cx.model.type_objects.iter().find(|t| t.variable == base)?;
        if b.slot("tp_dealloc").is_some() {
            return slot_body(cx, b, "tp_dealloc").map(Inherited::Base);
        }
        cur = b;
    }
    None
}

/// A static type that adds owned members but inherits its dealloc: the members are never
/// released.
fn inherited(cx: &FileContext<'_>, t: &TypeInfo<'_>, out: &mut Vec<FileFinding>) {
    let Some(dealloc) = inherited_dealloc(cx, t.ty) else {
        return;
    };
    let is_member = |n: &str| t.is_object_member(n);
    let (released, passed, from) = match &dealloc {
        Inherited::Base(body) => {
            if views_other_struct(cx.model, t, body) {
                return;
            }
            let f = facts(cx, body, 0, &is_member);
            if f.opaque {
                return;
            }
            (f.released, f.passed, format!("`{}`", body.name))
        }
        Inherited::Builtin(name) => (
            Default::default(),
            Default::default(),
            format!("the dealloc of `{name}`"),
        ),
    };
    let owned = owned_members(cx, t);
    for m in &t.object_members {
        if !owned.contains(&m.name) || released.contains_key(&m.name) || passed.contains(&m.name) {
            continue;
        }
        let message = Message::new(format!(
            "`{}` has no `tp_dealloc` and inherits {from}, which does not release member `{}`",
            t.ty.variable, m.name
        ))
        .label(m.span, "member declared here")
        .help(format!(
            "give the type a `tp_dealloc` that releases `self->{}` and then frees the object",
            m.name
        ));
        out.push(FileFinding::new(t.ty.span, message));
    }
}

/// One finding per place and message (a dealloc shared by several types).
pub(crate) fn dedup(mut v: Vec<FileFinding>) -> Vec<FileFinding> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|f| seen.insert((f.span.start, f.message.message.clone())));
    v
}
