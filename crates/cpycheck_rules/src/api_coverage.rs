//! Which C-API-style names a file calls that cpycheck has no contract for (`cpycheck debug
//! unknown-apis`): the measure of how much of the API real extensions use the contracts
//! table covers. Each such call is an unknown function to the engine, which then gives up
//! on the ownership of every object passed to it.

use std::collections::{BTreeMap, HashSet};

use cpycheck_contracts::macros::lookup_macro;
use cpycheck_contracts::naming::is_api_style;
use cpycheck_ir::{Callee, LowerContext, Rvalue, StatementKind, lower_function};
use cpycheck_source::Includes;

use crate::check::{Settings, front_end, is_skipped, same_length_text};

/// The API-style calls of one file that no contract covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiCalls {
    /// Per callee name that reads like CPython's ([`is_api_style`]), has no contract and is
    /// not in the macro table: its number of call sites in the analysed functions.
    pub unknown: BTreeMap<String, usize>,
    /// The functions the file defines. A name that another file of the same run defines is
    /// that project's own function (its summary is used), not an unknown API.
    pub defined: Vec<String>,
}

/// The API-style calls of `bytes` that have no contract, as the engine would meet them:
/// after source prep (at `settings.python_version`), the file's macros and those of the
/// headers `includes` gives are expanded, in the functions that are not skipped. A name the
/// file defines itself is left out. The error is source prep's (a binary file).
pub fn unknown_api_calls(
    bytes: &[u8],
    settings: &Settings,
    includes: &dyn Includes,
) -> Result<ApiCalls, String> {
    let (model, macros) = front_end(bytes, settings, includes).map_err(|e| e.to_string())?;
    let source = same_length_text(bytes);
    let cx = LowerContext {
        source: &source,
        object_types: &model.object_types,
        macros: &macros,
    };
    let defined: HashSet<&str> = model.functions.iter().map(|f| f.name.as_str()).collect();
    let mut sites: HashSet<(&str, u32)> = HashSet::new();
    let mut out = ApiCalls::default();
    let bodies: Vec<_> = model
        .functions
        .iter()
        .filter(|f| !is_skipped(f, &macros, &source))
        .map(|f| lower_function(f, &cx))
        .collect();
    for stmt in bodies.iter().flat_map(|b| &b.blocks).flat_map(|b| &b.stmts) {
        let StatementKind::Assign {
            value: Rvalue::Call(call),
            ..
        } = &stmt.kind
        else {
            continue;
        };
        let Callee::Named(name) = &call.callee else {
            continue;
        };
        if !is_api_style(name)
            || defined.contains(name.as_str())
            || lookup_macro(name).is_some()
            || cpycheck_contracts::lookup(name).is_some()
        {
            continue;
        }
        // Lowering may emit one call twice (both arms of a condition): one site per span.
        if sites.insert((name.as_str(), stmt.span.start)) {
            *out.unknown.entry(name.clone()).or_default() += 1;
        }
    }
    let mut names: Vec<String> = defined.into_iter().map(str::to_string).collect();
    names.sort_unstable();
    out.defined = names;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpycheck_source::NoIncludes;

    fn unknown(src: &str) -> Vec<(String, usize)> {
        unknown_api_calls(src.as_bytes(), &Settings::default(), &NoIncludes)
            .unwrap()
            .unknown
            .into_iter()
            .collect()
    }

    #[test]
    fn counts_api_style_calls_without_a_contract() {
        let src = "#include <Python.h>\n\
                   static int helper(PyObject *o) { return 0; }\n\
                   static PyObject *f(PyObject *self, PyObject *o) {\n\
                       if (PyFoo_Frobnicate(o) < 0 || helper(o)) return NULL;\n\
                       PyFoo_Frobnicate(o);\n\
                       Py_INCREF(o);\n\
                       return PyTuple_Pack(1, o);\n\
                   }\n\
                   static PyObject *PyBar_Local(PyObject *o) { return PyFoo_Frobnicate(o); }\n";
        assert_eq!(unknown(src), vec![("PyFoo_Frobnicate".to_string(), 3)]);
    }

    #[test]
    fn lists_the_defined_functions() {
        let src = "static int a(void) { return 0; }\nint PyB_C(void) { return a(); }\n";
        let calls = unknown_api_calls(src.as_bytes(), &Settings::default(), &NoIncludes).unwrap();
        assert_eq!(calls.defined, vec!["PyB_C".to_string(), "a".to_string()]);
        assert!(calls.unknown.is_empty());
    }
}
