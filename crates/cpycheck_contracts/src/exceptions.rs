//! What C-API calls do to the thread's exception state, beyond the convention that a failed
//! call (NULL, or its error value) has set an exception. The data behind CPY202.

/// An API's effect on the exception state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcEffect {
    /// Always sets an exception (`PyErr_SetString`, ...). APIs that always return NULL
    /// (`PyErr_Format`, `PyErr_NoMemory`) are known to from their contract.
    Raises,
    /// Clears the exception (`PyErr_Clear`, `PyErr_Fetch`, `PyErr_Print`).
    Clears,
    /// Its result is non-NULL exactly when an exception is set (`PyErr_Occurred`).
    Tests,
    /// Sets whatever it is given, maybe nothing (`PyErr_Restore`).
    Restores,
    /// May fail without an exception: NULL can mean "no more" or "not found" (`PyIter_Next`,
    /// `PyImport_GetModule`).
    FailsQuietly,
    /// Returns NULL without ever setting an exception (`PyDict_GetItem` swallows errors).
    NeverRaises,
    /// Its error value is also a valid result (`PyLong_AsLong` returns -1 for -1): the
    /// exception must be tested with `PyErr_Occurred`.
    ValueOrError,
}

/// Sorted.
const EFFECTS: &[(&str, ExcEffect)] = &[
    ("PyComplex_ImagAsDouble", ExcEffect::ValueOrError),
    ("PyComplex_RealAsDouble", ExcEffect::ValueOrError),
    ("PyDict_GetItem", ExcEffect::NeverRaises),
    ("PyDict_GetItemString", ExcEffect::NeverRaises),
    ("PyDict_GetItemWithError", ExcEffect::FailsQuietly),
    ("PyDict_Next", ExcEffect::NeverRaises),
    ("PyErr_BadArgument", ExcEffect::Raises),
    ("PyErr_BadInternalCall", ExcEffect::Raises),
    ("PyErr_Clear", ExcEffect::Clears),
    ("PyErr_Fetch", ExcEffect::Clears),
    ("PyErr_GetRaisedException", ExcEffect::Clears),
    ("PyErr_Occurred", ExcEffect::Tests),
    ("PyErr_Print", ExcEffect::Clears),
    ("PyErr_PrintEx", ExcEffect::Clears),
    ("PyErr_Restore", ExcEffect::Restores),
    ("PyErr_SetNone", ExcEffect::Raises),
    ("PyErr_SetObject", ExcEffect::Raises),
    ("PyErr_SetRaisedException", ExcEffect::Raises),
    ("PyErr_SetString", ExcEffect::Raises),
    ("PyErr_WriteUnraisable", ExcEffect::Clears),
    ("PyFloat_AsDouble", ExcEffect::ValueOrError),
    ("PyImport_GetModule", ExcEffect::FailsQuietly),
    ("PyIter_Next", ExcEffect::FailsQuietly),
    ("PyLong_AsDouble", ExcEffect::ValueOrError),
    ("PyLong_AsInt", ExcEffect::ValueOrError),
    ("PyLong_AsLong", ExcEffect::ValueOrError),
    ("PyLong_AsLongAndOverflow", ExcEffect::ValueOrError),
    ("PyLong_AsLongLong", ExcEffect::ValueOrError),
    ("PyLong_AsLongLongAndOverflow", ExcEffect::ValueOrError),
    ("PyLong_AsSize_t", ExcEffect::ValueOrError),
    ("PyLong_AsSsize_t", ExcEffect::ValueOrError),
    ("PyLong_AsUnsignedLong", ExcEffect::ValueOrError),
    ("PyLong_AsUnsignedLongLong", ExcEffect::ValueOrError),
    ("PyLong_AsUnsignedLongLongMask", ExcEffect::ValueOrError),
    ("PyLong_AsUnsignedLongMask", ExcEffect::ValueOrError),
    ("PyNumber_AsSsize_t", ExcEffect::ValueOrError),
];

/// The API's effect on the exception state, where it is not the plain convention.
pub fn exc_effect(api: &str) -> Option<ExcEffect> {
    EFFECTS
        .binary_search_by(|(n, _)| n.cmp(&api))
        .ok()
        .map(|i| EFFECTS[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted() {
        assert!(super::EFFECTS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
