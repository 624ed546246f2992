//! The committed contracts table: up to date, complete, sorted, and right about the APIs
//! that matter most.

use cpycheck_contracts::{
    ArgEffect, Contract, ErrorConvention, Returns, Varargs, all, codegen, lookup,
};

const REFCOUNTS: &str = include_str!("../data/refcounts.dat");
const CORRECTIONS: &str = include_str!("../data/corrections.toml");
const GENERATED: &str = include_str!("../src/generated.rs");

fn contract(name: &str) -> &'static Contract {
    lookup(name).unwrap_or_else(|| panic!("`{name}` is not in the contracts table"))
}

#[test]
fn generated_table_is_up_to_date() {
    let fresh = codegen::generate(REFCOUNTS, CORRECTIONS).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        fresh == GENERATED,
        "src/generated.rs is out of date with data/refcounts.dat and data/corrections.toml: \
         run `cargo xtask codegen`"
    );
}

#[test]
fn every_refcounts_function_is_in_the_table() {
    let names = codegen::refcounts_functions(REFCOUNTS).unwrap();
    assert!(names.len() > 700, "only {} functions parsed", names.len());
    let missing: Vec<_> = names.iter().filter(|n| lookup(n).is_none()).collect();
    assert!(missing.is_empty(), "missing from the table: {missing:?}");
}

#[test]
fn table_is_sorted_and_unique() {
    let table = all();
    for pair in table.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "`{}` before `{}`",
            pair[0].name,
            pair[1].name
        );
    }
}

#[test]
fn format_indices_point_at_arguments() {
    for c in all() {
        if let Varargs::ParseFormat { format } | Varargs::BuildFormat { format } = c.varargs {
            assert!(format < c.args.len(), "{}", c.name);
        }
    }
}

#[test]
fn steals() {
    let steals = [
        ("PyTuple_SetItem", 2),
        ("PyTuple_SET_ITEM", 2),
        ("PyList_SetItem", 2),
        ("PyList_SET_ITEM", 2),
        ("PyStructSequence_SetItem", 2),
        ("PyStructSequence_SET_ITEM", 2),
        ("PyModule_Add", 2),
        ("PyException_SetCause", 1),
        ("PyException_SetContext", 1),
        ("PyErr_Restore", 0),
        ("PyErr_Restore", 1),
        ("PyErr_Restore", 2),
        ("PyErr_SetRaisedException", 0),
        ("PyErr_SetExcInfo", 0),
        ("PyErr_SetExcInfo", 2),
        ("PyBytes_ConcatAndDel", 1),
        ("PyUnicode_AppendAndDel", 1),
        ("PyCell_SET", 1),
    ];
    for (name, index) in steals {
        assert_eq!(
            contract(name).args[index],
            ArgEffect::Steal,
            "{name} arg {index}"
        );
    }
    assert_eq!(
        contract("PyModule_AddObject").args[2],
        ArgEffect::StealOnSuccess
    );
    for (name, index) in [
        ("PyDict_SetItem", 2),
        ("PyException_SetTraceback", 1),
        ("PySet_Discard", 1),
        ("PyContext_Exit", 0),
        ("PyErr_SetHandledException", 0),
    ] {
        let effect = contract(name).args[index];
        assert!(
            matches!(effect, ArgEffect::Borrow | ArgEffect::Store),
            "{name} arg {index}: {effect:?}"
        );
    }
}

#[test]
fn returns() {
    let cases = [
        ("PyList_GetItem", Returns::Borrowed { nullable: true }),
        ("PyDict_GetItem", Returns::Borrowed { nullable: true }),
        ("PyTuple_GET_ITEM", Returns::Borrowed { nullable: false }),
        ("PyList_GET_ITEM", Returns::Borrowed { nullable: false }),
        ("Py_TYPE", Returns::Borrowed { nullable: false }),
        ("PyLong_FromLong", Returns::New { nullable: true }),
        ("PyList_GetItemRef", Returns::New { nullable: true }),
        ("PyImport_AddModuleRef", Returns::New { nullable: true }),
        ("Py_NewRef", Returns::New { nullable: false }),
        ("Py_XNewRef", Returns::New { nullable: true }),
        ("PyBool_FromLong", Returns::New { nullable: false }),
        ("PyErr_SetString", Returns::Plain),
        ("PyErr_Format", Returns::AlwaysNull),
        ("PyErr_NoMemory", Returns::AlwaysNull),
        (
            "PyList_Append",
            Returns::Status(ErrorConvention::NegOneOrZero),
        ),
        (
            "PyObject_IsTrue",
            Returns::Status(ErrorConvention::NegOneZeroOrOne),
        ),
        (
            "PyTuple_Check",
            Returns::Status(ErrorConvention::Infallible),
        ),
        (
            "PyTuple_GET_SIZE",
            Returns::Status(ErrorConvention::Infallible),
        ),
        (
            "PyObject_HasAttr",
            Returns::Status(ErrorConvention::Infallible),
        ),
        (
            "PyCallable_Check",
            Returns::Status(ErrorConvention::Infallible),
        ),
        (
            "PyErr_ExceptionMatches",
            Returns::Status(ErrorConvention::Infallible),
        ),
        ("PyArg_ParseTuple", Returns::Status(ErrorConvention::Zero)),
        ("PyArg_UnpackTuple", Returns::Status(ErrorConvention::Zero)),
        ("PyUnicode_AsUTF8", Returns::Plain),
        ("PyModule_GetState", Returns::Plain),
    ];
    for (name, expected) in cases {
        assert_eq!(contract(name).returns, expected, "{name}");
    }
}

#[test]
fn argument_parsing_and_building() {
    let parse = contract("PyArg_ParseTuple");
    assert_eq!(parse.varargs, Varargs::ParseFormat { format: 1 });
    assert_eq!(
        contract("PyArg_ParseTupleAndKeywords").varargs,
        Varargs::ParseFormat { format: 2 }
    );
    assert_eq!(contract("PyArg_UnpackTuple").varargs, Varargs::OutBorrowed);
    assert_eq!(
        contract("Py_BuildValue").varargs,
        Varargs::BuildFormat { format: 0 }
    );
    assert_eq!(
        contract("PyObject_CallFunction").varargs,
        Varargs::BuildFormat { format: 1 }
    );
    assert_eq!(
        contract("PyObject_CallMethod").varargs,
        Varargs::BuildFormat { format: 2 }
    );
    for name in [
        "PyObject_CallFunctionObjArgs",
        "PyObject_CallMethodObjArgs",
        "PyTuple_Pack",
    ] {
        assert_eq!(contract(name).varargs, Varargs::Borrowed, "{name}");
    }
}

#[test]
fn out_parameters() {
    let next = contract("PyDict_Next");
    assert_eq!(
        next.args[2..],
        [ArgEffect::OutBorrowed, ArgEffect::OutBorrowed]
    );
    assert_eq!(next.returns, Returns::Status(ErrorConvention::Zero));
    assert_eq!(contract("PyErr_Fetch").args, [ArgEffect::OutNew; 3]);

    let get = contract("PyDict_GetItemRef");
    assert_eq!(get.args[2], ArgEffect::OutNew);
    assert_eq!(
        get.returns,
        Returns::Status(ErrorConvention::NegOneZeroOrOne)
    );
    assert_eq!(get.since, Some((3, 13)));
    for name in [
        "PyDict_GetItemStringRef",
        "PyObject_GetOptionalAttr",
        "PyObject_GetOptionalAttrString",
        "PyMapping_GetOptionalItem",
        "PyMapping_GetOptionalItemString",
    ] {
        let c = contract(name);
        assert_eq!(c.args.last(), Some(&ArgEffect::OutNew), "{name}");
        assert_eq!(c.since, Some((3, 13)), "{name}");
    }
    assert_eq!(contract("PyWeakref_GetRef").args[1], ArgEffect::OutNew);
    assert_eq!(contract("PyIter_Send").args[2], ArgEffect::OutNew);
    assert_eq!(
        contract("PyUnicode_Append").args,
        [ArgEffect::Replace { nullable: true }, ArgEffect::Borrow]
    );
    assert_eq!(
        contract("PyUnicode_InternInPlace").args,
        [ArgEffect::Replace { nullable: false }]
    );
}

#[test]
fn stores() {
    let stores = [
        ("PyList_Append", 1),
        ("PyList_Insert", 2),
        ("PyList_SetSlice", 3),
        ("PyDict_SetItem", 1),
        ("PyDict_SetItem", 2),
        ("PyDict_SetItemString", 2),
        ("PyDict_SetDefault", 2),
        ("PyObject_SetAttr", 2),
        ("PyObject_SetAttrString", 2),
        ("PyObject_GenericSetAttr", 2),
        ("PyObject_SetItem", 2),
        ("PySequence_SetItem", 2),
        ("PySet_Add", 1),
        ("PyModule_AddObjectRef", 2),
        ("PyMapping_SetItemString", 2),
    ];
    for (name, index) in stores {
        assert_eq!(
            contract(name).args[index],
            ArgEffect::Store,
            "{name} arg {index}"
        );
    }
    let append = contract("PyList_Append");
    assert_eq!(
        append.returns,
        Returns::Status(ErrorConvention::NegOneOrZero)
    );
    assert!(!append.runs_python);
    assert_eq!(contract("PyModule_AddObjectRef").since, Some((3, 10)));
}

#[test]
fn runs_python() {
    for name in [
        "PyObject_Call",
        "PyObject_GetAttr",
        "PyObject_RichCompare",
        "PyObject_IsTrue",
        "PyNumber_Add",
        "PyDict_SetItem",
        "PyDict_GetItem",
        "PyList_SetItem",
        "PyList_SetSlice",
        "PySequence_DelItem",
        "PyErr_Print",
        "PyImport_ImportModule",
        "PyEval_EvalCode",
        "PyArg_ParseTuple",
        "Py_DECREF",
    ] {
        assert!(contract(name).runs_python, "{name} runs Python code");
    }
    for name in [
        "PyLong_FromLong",
        "PyTuple_Check",
        "PyTuple_Size",
        "PyTuple_GET_ITEM",
        "PyList_Append",
        "PyList_GetItem",
        "PyDict_Next",
        "PyDict_Size",
        "PyObject_GC_Track",
        "PyErr_Occurred",
        "PyErr_Restore",
        "Py_INCREF",
        "PySequence_Fast_GET_ITEM",
    ] {
        assert!(!contract(name).runs_python, "{name} runs no Python code");
    }
}

#[test]
fn type_slots() {
    let alloc = contract("->tp_alloc");
    assert_eq!(alloc.returns, Returns::New { nullable: true });
    assert_eq!(contract("->tp_free").args, [ArgEffect::Steal]);
}

#[test]
fn strong_reference_apis_are_versioned() {
    let versions = [
        ("Py_NewRef", (3, 10)),
        ("Py_XNewRef", (3, 10)),
        ("PyModule_AddObjectRef", (3, 10)),
        ("PyErr_GetRaisedException", (3, 12)),
        ("PyModule_Add", (3, 13)),
        ("PyList_GetItemRef", (3, 13)),
        ("PyWeakref_GetRef", (3, 13)),
        ("PyImport_AddModuleRef", (3, 13)),
        ("PyDict_GetItemStringRef", (3, 13)),
    ];
    for (name, since) in versions {
        assert_eq!(contract(name).since, Some(since), "{name}");
    }
    assert_eq!(contract("PyList_GetItem").since, None);
}

/// Every correction is well formed: `generate` rejects unknown keys and values, corrections
/// without a reason or a docs link, parameter names that do not exist and no-op corrections.
/// Here: every table in the file names a function that ends up in the table.
#[test]
fn every_correction_names_a_contract() {
    let corrections: toml::Table = CORRECTIONS.parse().unwrap();
    assert!(corrections.len() > 100);
    for (name, fields) in &corrections {
        assert!(lookup(name).is_some(), "{name}");
        let fields = fields.as_table().unwrap();
        let docs = fields["docs"].as_str().unwrap();
        let anchor = match name.strip_prefix("->") {
            Some(slot) => format!("#c.PyTypeObject.{slot}"),
            None => format!("#c.{name}"),
        };
        // An API the documentation does not describe links to the CPython source instead.
        let source = docs.starts_with("https://github.com/python/cpython/blob/v3.");
        assert!(
            source || docs.ends_with(&anchor),
            "[{name}]: docs should point at the function's own entry, not {docs}"
        );
    }
}

/// What extensions call beyond `refcounts.dat` (counted over the bench corpus with
/// `bench/unknown-apis`): object-header macros, accessors added since 3.9, private APIs.
#[test]
fn accessors_macros_and_private_apis() {
    type Case = (
        &'static str,
        Returns,
        &'static [ArgEffect],
        Option<(u8, u8)>,
    );
    let cases: &[Case] = &[
        (
            "Py_SIZE",
            Returns::Status(ErrorConvention::Infallible),
            &[ArgEffect::Borrow],
            None,
        ),
        (
            "Py_SET_SIZE",
            Returns::Plain,
            &[ArgEffect::Borrow, ArgEffect::Borrow],
            Some((3, 9)),
        ),
        (
            "Py_IS_TYPE",
            Returns::Status(ErrorConvention::Infallible),
            &[ArgEffect::Borrow, ArgEffect::Borrow],
            Some((3, 9)),
        ),
        (
            "Py_SET_TYPE",
            Returns::Plain,
            &[ArgEffect::Borrow, ArgEffect::Borrow],
            Some((3, 9)),
        ),
        (
            "PyTuple_GET_SIZE",
            Returns::Status(ErrorConvention::Infallible),
            &[ArgEffect::Borrow],
            None,
        ),
        (
            "Py_TRASHCAN_BEGIN",
            Returns::Plain,
            &[ArgEffect::Borrow, ArgEffect::Borrow],
            None,
        ),
        ("Py_VISIT", Returns::Plain, &[ArgEffect::Borrow], None),
        (
            "PyFrame_GetBack",
            Returns::New { nullable: true },
            &[ArgEffect::Borrow],
            Some((3, 9)),
        ),
        (
            "PyFrame_GetCode",
            Returns::New { nullable: false },
            &[ArgEffect::Borrow],
            Some((3, 9)),
        ),
        (
            "PyThreadState_GetFrame",
            Returns::New { nullable: true },
            &[ArgEffect::Borrow],
            Some((3, 9)),
        ),
        (
            "_PyType_Lookup",
            Returns::Borrowed { nullable: true },
            &[ArgEffect::Borrow, ArgEffect::Borrow],
            None,
        ),
        (
            "_PyObject_LookupAttr",
            Returns::Status(ErrorConvention::NegOneZeroOrOne),
            &[ArgEffect::Borrow, ArgEffect::Borrow, ArgEffect::OutNew],
            None,
        ),
        (
            "_PyObject_GetAttrId",
            Returns::New { nullable: true },
            &[ArgEffect::Borrow, ArgEffect::Borrow],
            None,
        ),
        (
            "PyDateTime_DATE_GET_TZINFO",
            Returns::Borrowed { nullable: false },
            &[ArgEffect::Borrow],
            Some((3, 10)),
        ),
        ("PyMem_Malloc", Returns::Plain, &[ArgEffect::Borrow], None),
    ];
    for &(name, returns, args, since) in cases {
        let c = contract(name);
        assert_eq!(c.returns, returns, "{name} returns");
        assert_eq!(c.args, args, "{name} args");
        assert_eq!(c.since, since, "{name} since");
    }
    // Freeing an object's memory is not an ownership effect the table can say.
    for name in [
        "PyObject_Del",
        "PyObject_Free",
        "PyMem_Free",
        "Py_SET_REFCNT",
    ] {
        assert!(lookup(name).is_none(), "{name}");
    }
    // Finalizers run Python code; the finalizer's -1 (resurrected) is no exception.
    let fin = contract("PyObject_CallFinalizerFromDealloc");
    assert!(fin.runs_python);
    assert_eq!(fin.returns, Returns::Plain);
}
