//! The CPython macros cpycheck understands natively, as data.
//!
//! Lowering consults this table when it meets a call or identifier; the engine only sees the
//! resulting IR operations, never macro names.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroKind {
    /// `Py_INCREF(x)`; `nullable` for `Py_XINCREF`.
    IncRef { nullable: bool },
    /// `Py_DECREF(x)`; `nullable` for `Py_XDECREF`.
    DecRef { nullable: bool },
    /// `Py_CLEAR(x)`: release if non-NULL, then set to NULL.
    Clear,
    /// `Py_SETREF(dst, src)` / `Py_XSETREF`: release the old `dst`, then `dst = src`.
    SetRef { nullable: bool },
    /// `Py_NewRef(x)` / `Py_XNewRef(x)`: a new reference to `x`.
    NewRef { nullable: bool },
    /// `Py_RETURN_NONE` and friends: return a new reference to the named singleton.
    ReturnSingleton(&'static str),
    /// `Py_RETURN_RICHCOMPARE(...)`: returns a new reference.
    ReturnNew,
    /// `Py_None`, `Py_True`, ...: a borrowed reference to an immortal object.
    Singleton,
    /// `Py_TYPE(x)`: a borrowed reference to the type of `x`.
    TypeOf,
    /// Statement macros with no effect on ownership (`Py_BEGIN_ALLOW_THREADS`, ...).
    NoOp,
    /// `cpycheck_reveal(x)`: a no-op that makes the engine report what it knows about `x`.
    Reveal,
    /// A compiler builtin whose value is its first argument (`__builtin_expect(e, 1)`, what
    /// `likely(e)` expands to).
    Identity,
}

const MACROS: &[(&str, MacroKind)] = &[
    ("Py_BEGIN_ALLOW_THREADS", MacroKind::NoOp),
    ("Py_BLOCK_THREADS", MacroKind::NoOp),
    ("Py_CLEAR", MacroKind::Clear),
    ("Py_DECREF", MacroKind::DecRef { nullable: false }),
    // The function forms of `Py_XDECREF` / `Py_XINCREF` (for the stable ABI and FFI).
    ("Py_DecRef", MacroKind::DecRef { nullable: true }),
    ("Py_END_ALLOW_THREADS", MacroKind::NoOp),
    ("Py_Ellipsis", MacroKind::Singleton),
    ("Py_False", MacroKind::Singleton),
    ("Py_INCREF", MacroKind::IncRef { nullable: false }),
    ("Py_IncRef", MacroKind::IncRef { nullable: true }),
    ("Py_NewRef", MacroKind::NewRef { nullable: false }),
    ("Py_None", MacroKind::Singleton),
    ("Py_NotImplemented", MacroKind::Singleton),
    ("Py_RETURN_FALSE", MacroKind::ReturnSingleton("Py_False")),
    ("Py_RETURN_NONE", MacroKind::ReturnSingleton("Py_None")),
    (
        "Py_RETURN_NOTIMPLEMENTED",
        MacroKind::ReturnSingleton("Py_NotImplemented"),
    ),
    ("Py_RETURN_RICHCOMPARE", MacroKind::ReturnNew),
    ("Py_RETURN_TRUE", MacroKind::ReturnSingleton("Py_True")),
    ("Py_SETREF", MacroKind::SetRef { nullable: false }),
    ("Py_TYPE", MacroKind::TypeOf),
    ("Py_True", MacroKind::Singleton),
    ("Py_UNBLOCK_THREADS", MacroKind::NoOp),
    ("Py_XDECREF", MacroKind::DecRef { nullable: true }),
    ("Py_XINCREF", MacroKind::IncRef { nullable: true }),
    ("Py_XNewRef", MacroKind::NewRef { nullable: true }),
    ("Py_XSETREF", MacroKind::SetRef { nullable: true }),
    ("__builtin_expect", MacroKind::Identity),
    ("cpycheck_reveal", MacroKind::Reveal),
];

/// Looks up a macro by name.
pub fn lookup_macro(name: &str) -> Option<MacroKind> {
    MACROS
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| MACROS[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted() {
        assert!(super::MACROS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
