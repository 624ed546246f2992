use crate::declare_rule;
use crate::registry::{Check, CythonContext, FileFinding, Message};
use cpycheck_cython::query::attribute_uses;
use cpycheck_cython::{ClassDef, CythonFile, FunctionDef, Stmt, Token, TypeKind};
use cpycheck_diagnostics::Span;
use std::collections::{BTreeMap, BTreeSet};

declare_rule! {
    /// ## What it does
    /// Finds a Cython `__dealloc__` that uses a Python-object attribute of its class (reads
    /// it, calls a method on it, passes it on) when the class takes part in garbage
    /// collection and is not decorated with `@cython.no_gc_clear`.
    ///
    /// ## Why is this bad?
    /// Cython generates a `tp_clear` for every class with object attributes. When an
    /// instance is part of a reference cycle, the garbage collector calls `tp_clear` first,
    /// which sets every object attribute to `None`, and only then `__dealloc__`. A
    /// `__dealloc__` that reaches through such an attribute then works on `None`: a typed
    /// attribute (`cdef Context context`) reads C fields that `None` does not have and the
    /// process crashes; an untyped one raises an exception that is ignored, and the C
    /// resource is never released. It happens only when a cycle was involved, so the crash
    /// looks random.
    ///
    /// ## Example
    /// ```cython
    /// cdef class Slots:
    ///     cdef Context context
    ///     cdef slot_t *slots
    ///
    ///     def __dealloc__(self):
    ///         release_all(self.context.imp, self.slots)
    /// ```
    ///
    /// ## Use instead
    /// ```cython
    /// @cython.no_gc_clear
    /// cdef class Slots:
    ///     ...
    /// ```
    /// or keep what `__dealloc__` needs in C attributes that `tp_clear` does not touch
    /// (holding the reference as a `PyObject *` you release yourself). Releasing an
    /// attribute (`self.context = None`) is fine.
    ///
    /// ## Known limitations
    /// Methods of the class that `__dealloc__` calls (`self.close()`) are followed one level
    /// deep; other functions it passes `self` to are not.
    /// Only classes, attributes and base classes declared in the same file or in its
    /// companion `.pxd` (`mod.pxd` next to `mod.pyx`) are understood; attributes declared in
    /// another cimported `.pxd` are unknown, and so are not reported. A use
    /// behind `if self.attr is not None:` (or after `if self.attr is None: return`) is
    /// taken as guarded.
    ///
    /// ## References
    /// - [Cython: finalization methods, `__dealloc__`](https://cython.readthedocs.io/en/latest/src/userguide/special_methods.html#finalization-methods-dealloc-and-del)
    /// - [Cython: disabling cycle breaking (`no_gc_clear`)](https://cython.readthedocs.io/en/latest/src/userguide/extension_types.html#disabling-cycle-breaking-tp-clear)
    pub CythonDeallocUsesObject, "CPY501", "cython-dealloc-uses-object", preview = true
}

impl CythonDeallocUsesObject {
    pub(crate) const CHECK: Check = Check::Cython(Self::check);

    fn check(cx: &CythonContext<'_>) -> Vec<FileFinding> {
        let mut out = Vec::new();
        for class in cx.file.classes.iter().filter(|c| c.has_body) {
            if class.no_gc() || class.no_gc_clear() {
                continue;
            }
            let Some(dealloc) = class.method("__dealloc__") else {
                continue;
            };
            let Some(this) = dealloc.params.first() else {
                continue;
            };
            let cleared = cleared_attributes(cx.file, class);
            if cleared.is_empty() {
                continue;
            }
            let mut seen = BTreeSet::new();
            visit(
                &dealloc.body,
                &this.name,
                &cleared,
                &BTreeSet::new(),
                &mut |tokens, i, attr| {
                    let span = Span::new(
                        tokens[i].span.start as usize,
                        tokens[i + 2].span.end as usize,
                    );
                    if !seen.insert((span, attr.to_string())) {
                        return;
                    }
                    let declared_in = &cleared[attr];
                    let mut message = Message::new(format!(
                    "`__dealloc__` of `{}` uses object attribute `{}.{attr}`, which the generated `tp_clear` may already have set to `None`",
                    class.name, this.name
                ))
                .help(format!(
                    "decorate `{declared_in}` with `@cython.no_gc_clear`, or keep what `__dealloc__` needs in C attributes"
                ));
                    message = message.label(class.span, "class takes part in garbage collection");
                    out.push(
                    FileFinding::new(span, message)
                        .in_function(format!("{}.__dealloc__", class.name))
                        .note("when the object is part of a reference cycle, the garbage collector calls `tp_clear` before `__dealloc__`"),
                );
                },
            );
            // One level into the class's own methods that `__dealloc__` calls.
            let mut calls = Vec::new();
            dealloc.walk(|stmt, _| {
                let t = &stmt.tokens;
                for (i, name) in attribute_uses(t, &this.name) {
                    if t.get(i + 3).is_some_and(|x| x.is("("))
                        && name != "__dealloc__"
                        && let Some(m) = method_of(cx.file, class, name)
                    {
                        let span = Span::new(t[i].span.start as usize, t[i + 2].span.end as usize);
                        calls.push((span, m));
                    }
                }
            });
            for (call, m) in calls {
                let Some(m_this) = m.params.first() else {
                    continue;
                };
                let mut first_use: Option<(Span, String)> = None;
                visit(
                    &m.body,
                    &m_this.name,
                    &cleared,
                    &BTreeSet::new(),
                    &mut |tokens, i, attr| {
                        if first_use.is_none() {
                            let span = Span::new(
                                tokens[i].span.start as usize,
                                tokens[i + 2].span.end as usize,
                            );
                            first_use = Some((span, attr.to_string()));
                        }
                    },
                );
                let Some((use_span, attr)) = first_use else {
                    continue;
                };
                if !seen.insert((call, attr.clone())) {
                    continue;
                }
                let message = Message::new(format!(
                    "`__dealloc__` of `{}` calls `{}.{}()`, which uses object attribute `{}.{attr}` that the generated `tp_clear` may already have set to `None`",
                    class.name, this.name, m.name, m_this.name
                ))
                .help(format!(
                    "decorate `{}` with `@cython.no_gc_clear`, or keep what `{}` needs in C attributes",
                    cleared[&attr], m.name
                ))
                .label(use_span, format!("`{}.{attr}` used here", m_this.name));
                out.push(
                    FileFinding::new(call, message)
                        .in_function(format!("{}.__dealloc__", class.name))
                        .note("when the object is part of a reference cycle, the garbage collector calls `tp_clear` before `__dealloc__`"),
                );
            }
        }
        out
    }
}

/// The method `name` of `class` or of a base class declared in the same file.
fn method_of<'f>(file: &'f CythonFile, class: &'f ClassDef, name: &str) -> Option<&'f FunctionDef> {
    let mut current = Some(class);
    for _ in 0..32 {
        let c = current?;
        if let Some(m) = c.method(name) {
            return Some(m);
        }
        current = c.bases.first().and_then(|b| file.class(b));
    }
    None
}

/// Object attributes that the class's `tp_clear` (or a base's) sets to `None`, with the
/// class that declares each.
fn cleared_attributes(file: &CythonFile, class: &ClassDef) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current = Some(class);
    let mut hops = 0;
    while let Some(c) = current {
        if c.no_gc() || c.no_gc_clear() || hops > 32 {
            break;
        }
        for a in &c.attributes {
            if file.classify(&a.ty) == TypeKind::Object {
                out.entry(a.name.clone()).or_insert_with(|| c.name.clone());
            }
        }
        current = c.bases.first().and_then(|b| file.class(b));
        hops += 1;
    }
    out
}

/// `self.NAME is [not] None`, `self.NAME == None`, or `if [not] self.NAME:` alone.
fn none_test(tokens: &[Token], i: usize) -> bool {
    let after: Vec<&str> = tokens[i + 3..]
        .iter()
        .take(3)
        .map(|t| t.text.as_str())
        .collect();
    let before = i.checked_sub(1).map(|k| tokens[k].text.as_str());
    matches!(
        after.as_slice(),
        ["is", "None", ..] | ["is", "not", "None", ..] | ["==" | "!=", "None", ..]
    ) || (matches!(before, Some("if" | "elif" | "not" | "and" | "or" | "while"))
        && matches!(after.first(), Some(&(":" | "and" | "or")) | None))
}

/// `self.NAME is not None` / `self.NAME != None` at `i`.
fn positive_test(tokens: &[Token], i: usize) -> bool {
    let after: Vec<&str> = tokens[i + 3..]
        .iter()
        .take(3)
        .map(|t| t.text.as_str())
        .collect();
    matches!(
        after.as_slice(),
        ["is", "not", "None", ..] | ["!=", "None", ..]
    )
}

/// Which attributes a block header guards: `if self.x is not None:` / `if self.x:`.
fn guards(stmt: &Stmt, this: &str, negated: bool) -> Vec<String> {
    let t = &stmt.tokens;
    if !(stmt.first_is("if") || stmt.first_is("elif")) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, attr) in attribute_uses(t, this) {
        let after: Vec<&str> = t[i + 3..].iter().take(3).map(|x| x.text.as_str()).collect();
        let before = t[i - 1].text.as_str();
        let positive = matches!(
            after.as_slice(),
            ["is", "not", "None", ..] | ["!=", "None", ..]
        ) || (before != "not" && matches!(after.first(), Some(&(":" | "and"))));
        let negative = matches!(after.as_slice(), ["is", "None", ..] | ["==", "None", ..])
            || (before == "not" && matches!(after.first(), Some(&(":" | "or"))));
        if (!negated && positive) || (negated && negative) {
            out.push(attr.to_string());
        }
    }
    out
}

fn exits(stmts: &[Stmt]) -> bool {
    stmts
        .last()
        .is_some_and(|s| s.first_is("return") || s.first_is("raise"))
}

/// Visits every use of `this.ATTR` for a cleared ATTR that is not a release, a `None` test or
/// guarded by one.
fn visit(
    stmts: &[Stmt],
    this: &str,
    cleared: &BTreeMap<String, String>,
    guarded: &BTreeSet<String>,
    report: &mut dyn FnMut(&[Token], usize, &str),
) {
    let mut guarded = guarded.clone();
    let mut else_guards: Vec<String> = Vec::new();
    for s in stmts {
        let t = &s.tokens;
        // A store or a deletion releases the attribute: not a use.
        let releases = |i: usize| {
            (i == 0 && t.get(3).is_some_and(|x| x.is("="))) || (i == 1 && s.first_is("del"))
        };
        let header_end = if s.children.is_empty() {
            t.len()
        } else {
            t.iter().rposition(|x| x.is(":")).unwrap_or(t.len())
        };
        let uses = attribute_uses(&t[..header_end], this);
        for &(i, attr) in &uses {
            if !cleared.contains_key(attr) || guarded.contains(attr) {
                continue;
            }
            if releases(i) || none_test(t, i) {
                continue;
            }
            // `self.x is not None and self.x.y`: guarded by the test before it.
            let tested_before = uses.iter().any(|&(j, other)| {
                j < i
                    && other == attr
                    && positive_test(t, j)
                    && t[j..i].iter().any(|x| x.is("and"))
                    && !t[j..i].iter().any(|x| x.is("or"))
            });
            if tested_before {
                continue;
            }
            report(t, i, attr);
        }
        let mut inner = guarded.clone();
        if s.first_is("else") {
            inner.extend(else_guards.iter().cloned());
        }
        inner.extend(guards(s, this, false));
        visit(&s.children, this, cleared, &inner, report);
        let negative = guards(s, this, true);
        if s.first_is("if") {
            else_guards = negative.clone();
            if exits(&s.children) {
                guarded.extend(negative);
            }
        } else if !s.first_is("elif") {
            else_guards.clear();
        }
    }
}
