//! The type model as the interpreter sees it: slots assigned at run time, `tp_base`, and
//! type objects declared behind a storage macro.

use cpycheck_source::{PrepOptions, prepare};
use cpycheck_syntax::{FileModel, TypeDefinition, parse};

fn model(src: &str) -> FileModel {
    let prepared = prepare(src.as_bytes(), &PrepOptions::default()).expect("text");
    parse(&prepared.text)
}

#[test]
fn slots_assigned_before_type_ready_join_the_type() {
    let m = model(
        r#"
typedef struct { PyObject_HEAD PyObject *a; } Foo;
static PyTypeObject BaseType = { PyVarObject_HEAD_INIT(NULL, 0) "m.Base" };
static PyTypeObject FooType = { PyVarObject_HEAD_INIT(NULL, 0) "m.Foo" };
static void foo_dealloc(Foo *self) { Py_TYPE(self)->tp_free((PyObject *)self); }
PyMODINIT_FUNC PyInit_m(void) {
    FooType.tp_basicsize = sizeof(Foo);
    FooType.tp_dealloc = (destructor)foo_dealloc;
    FooType.tp_flags = Py_TPFLAGS_DEFAULT;
    FooType.tp_flags |= Py_TPFLAGS_HAVE_GC;
    FooType.tp_base = &BaseType;
    if (PyType_Ready(&FooType) < 0) return NULL;
    return NULL;
}
"#,
    );
    let foo = m
        .type_objects
        .iter()
        .find(|t| t.variable == "FooType")
        .unwrap();
    assert_eq!(foo.instance.as_deref(), Some("Foo"));
    assert_eq!(foo.slot("tp_dealloc").unwrap().function, "foo_dealloc");
    assert!(foo.has_gc(), "flags: {}", foo.flags);
    assert_eq!(foo.base.as_deref(), Some("BaseType"));
    assert!(foo.is_static);
    // The run-time slot is a registration like one in an initialiser.
    assert!(m.registrations.iter().any(|r| r.function == "foo_dealloc"));
}

#[test]
fn a_type_only_filled_in_at_run_time_is_modelled() {
    let m = model(
        r#"
static PyTypeObject BarType;
static void bar_dealloc(PyObject *self) { PyObject_Del(self); }
void init_bar(void) {
    BarType.tp_name = "m.Bar";
    BarType.tp_dealloc = bar_dealloc;
}
"#,
    );
    let bar = m
        .type_objects
        .iter()
        .find(|t| t.variable == "BarType")
        .unwrap();
    assert_eq!(bar.definition, TypeDefinition::Static);
    assert_eq!(bar.name.as_deref(), Some("m.Bar"));
    assert_eq!(bar.slot("tp_dealloc").unwrap().function, "bar_dealloc");
    // Another file may still set its other slots.
    assert!(!bar.is_static);
}

#[test]
fn a_local_struct_with_tp_fields_is_not_a_type() {
    let m = model(
        r#"
void f(void) {
    PyTypeObject local;
    local.tp_name = "x";
    local.tp_dealloc = g;
}
"#,
    );
    assert!(m.type_objects.is_empty());
}

#[test]
fn tp_base_in_the_initialiser() {
    let m = model(
        r#"
static PyTypeObject SubType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "m.Sub",
    .tp_base = (PyTypeObject *)&PyList_Type,
};
"#,
    );
    assert_eq!(m.type_objects[0].base.as_deref(), Some("PyList_Type"));
}

#[test]
fn a_storage_macro_before_the_type_name() {
    // The parser reads the unknown macro as the type and `PyTypeObject` as an error.
    let m = model(
        r#"
NPY_NO_EXPORT PyTypeObject PyArrayFlags_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "numpy.flagsobj",
    .tp_basicsize = sizeof(PyArrayFlagsObject),
    .tp_dealloc = (destructor)arrayflags_dealloc,
};
"#,
    );
    let t = &m.type_objects[0];
    assert_eq!(t.variable, "PyArrayFlags_Type");
    assert_eq!(t.slot("tp_dealloc").unwrap().function, "arrayflags_dealloc");
    assert!(!t.is_static);
}
