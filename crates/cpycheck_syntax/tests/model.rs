//! Snapshots of `dump_model` after source prep, one small C file per concern.

use cpycheck_source::{PrepOptions, prepare};
use cpycheck_syntax::{FileModel, dump_model, parse};

fn model(src: &str) -> FileModel {
    let prepared = prepare(src.as_bytes(), &PrepOptions::default()).expect("text");
    parse(&prepared.text)
}

fn dump(src: &str) -> String {
    dump_model(&model(src))
}

#[test]
fn method_table() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
spam_system(PyObject *self, PyObject *args)
{
    const char *command;
    int sts;
    if (!PyArg_ParseTuple(args, "s", &command))
        return NULL;
    sts = system(command);
    return PyLong_FromLong(sts);
}

static PyObject *spam_kw(PyObject *self, PyObject *args, PyObject *kwds) { Py_RETURN_NONE; }
static PyObject *spam_fast(PyObject *self, PyObject *const *args, Py_ssize_t n) { Py_RETURN_NONE; }

static PyMethodDef SpamMethods[] = {
    {"system", spam_system, METH_VARARGS, "Execute a shell command."},
    {"kw", (PyCFunction)(void(*)(void))spam_kw, METH_VARARGS | METH_KEYWORDS, NULL},
    {.ml_name = "fast", .ml_meth = _PyCFunction_CAST(spam_fast), .ml_flags = METH_FASTCALL},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef spammodule = {
    PyModuleDef_HEAD_INIT, "spam", NULL, -1, SpamMethods
};

PyMODINIT_FUNC
PyInit_spam(void)
{
    return PyModule_Create(&spammodule);
}
"#
    ));
}

#[test]
fn static_type_object() {
    insta::assert_snapshot!(dump(
        r#"
typedef struct {
    PyObject_HEAD
    PyObject *first;
    int number;
} CustomObject;

typedef struct {
    CustomObject base;
    PyObject *extra;
} SubObject;

struct plain { int a; };

static void
Custom_dealloc(CustomObject *self)
{
    Py_XDECREF(self->first);
    Py_TYPE(self)->tp_free((PyObject *) self);
}

static PyNumberMethods Custom_as_number = {
    .nb_add = Custom_add,
    0,
    Custom_multiply,
};

static PyTypeObject CustomType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    "custom.Custom",             /* tp_name */
    sizeof(CustomObject),        /* tp_basicsize */
    0,                           /* tp_itemsize */
    (destructor)Custom_dealloc,  /* tp_dealloc */
    0,                           /* tp_vectorcall_offset */
    0,                           /* tp_getattr */
    0,                           /* tp_setattr */
    0,                           /* tp_as_async */
    (reprfunc)Custom_repr,       /* tp_repr */
    &Custom_as_number,           /* tp_as_number */
};

static PyTypeObject OldStyleType = {
    PyObject_HEAD_INIT(NULL)
    0,                           /* ob_size */
    "old.Old",                   /* tp_name */
    sizeof(CustomObject),        /* tp_basicsize */
    0,                           /* tp_itemsize */
    Old_dealloc,                 /* tp_dealloc */
};

static PyTypeObject DesignatedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "custom.D",
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc) D_traverse,
    .tp_clear = (inquiry) D_clear,
    .tp_new = PyType_GenericNew,
    .tp_getset = D_getsetters,
};

static PyGetSetDef D_getsetters[] = {
    {"first", (getter) D_getfirst, (setter) D_setfirst, "first name", NULL},
    {"last", (getter) D_getlast, NULL, "last name", NULL},
    {NULL}
};
"#
    ));
}

#[test]
fn type_spec_slots() {
    insta::assert_snapshot!(dump(
        r#"
static PyType_Slot Foo_slots[] = {
    {Py_tp_dealloc, Foo_dealloc},
    {Py_tp_repr, (reprfunc)Foo_repr},
    {Py_tp_methods, Foo_methods},
    {Py_tp_doc, (void *)"doc"},
    {Py_nb_add, Foo_add},
    {0, NULL},
};

static PyModuleDef_Slot mod_slots[] = {
    {Py_mod_exec, mod_exec},
    {0, NULL}
};
"#
    ));
}

#[test]
fn version_arms_that_each_open_a_brace() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
get_item(PyObject *self, PyObject *key)
{
    PyObject *value;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyDict_GetItemRef(self, key, &value) < 0) {
#else
    value = PyDict_GetItemWithError(self, key);
    Py_XINCREF(value);
    if (value == NULL && PyErr_Occurred()) {
#endif
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    do_work();
    Py_END_ALLOW_THREADS
    return value;
}
"#
    ));
}

#[test]
fn goto_labels_switch_and_expressions() {
    insta::assert_snapshot!(dump(
        r#"
static int
helper(PyObject *Py_UNUSED(module), PyObject *list, int kind)
{
    PyObject *item = NULL, **items, *tmp[4];
    static int calls = 0;
    Py_ssize_t i, n = PyList_GET_SIZE(list);

    switch (kind) {
    case 0:
    case 1:
        item = PyLong_FromLong(kind);
        break;
    default: {
        item = Py_NewRef(Py_None);
        break;
    }
    }
    if ((item = PyObject_Str(list)) == NULL)
        goto error;
    for (i = 0, n = 2; i < n && !PyErr_Occurred(); ++i) {
        if (PyList_Append(list, item) < 0) goto error;
        else continue;
    }
    while (n--) tmp[n] = ((void *)0);
    do { n += sizeof(PyObject); } while (0);
    items = &tmp[0];
    n = items[0]->ob_refcnt + (*items)->ob_refcnt - -1 % 2;
    n = kind ? 'a' : '\n';
    calls += 1;
    Py_DECREF(item);
    return 0;
error:
    Py_XDECREF(item);
    return -1;
}
"#
    ));
}

#[test]
fn functions_with_errors_are_marked() {
    let m =
        model("int f(void)\n{\n    if (x) { int x = ; return x;\n}\nint g(void) { return 1; }\n");
    assert!(m.functions[0].has_errors);
    assert!(!m.functions[1].has_errors);
    assert!(m.error_regions > 0);
    // An error confined to one statement is not: that statement is opaque.
    let m = model("int f(void)\n{\n    int x = ;\n    return x;\n}\n");
    assert!(!m.functions[0].has_errors);
    assert_eq!(m.functions[0].opaque_regions, 1);
}

#[test]
fn type_model_from_spec() {
    insta::assert_snapshot!(dump(
        r#"
typedef struct NodeObject NodeObject;
struct NodeObject {
    PyObject_HEAD
    PyObject *dict, *weakrefs;
    struct NodeObject *parent;
    char *buf;
    int (*callback)(void *);
};

static void Node_dealloc(NodeObject *self) { }
static int Node_traverse(NodeObject *self, visitproc visit, void *arg) { return 0; }
static int Node_clear(NodeObject *self) { return 0; }

static PyMemberDef Node_members[] = {
    {"dict", T_OBJECT_EX, offsetof(NodeObject, dict), READONLY, NULL},
    {"buf", Py_T_STRING, offsetof(struct NodeObject, buf), 0, "bytes"},
    {NULL},
};

static PyType_Slot Node_slots[] = {
    {Py_tp_dealloc, Node_dealloc},
    {Py_tp_traverse, (traverseproc)Node_traverse},
    {Py_tp_clear, Node_clear},
    {Py_nb_bool, Node_bool},
    {0, NULL},
};

static PyType_Spec Node_spec = {
    .name = "mod.Node",
    .basicsize = sizeof(struct NodeObject),
    .flags = Py_TPFLAGS_DEFAULT |
             Py_TPFLAGS_HAVE_GC,
    .slots = Node_slots,
};

static int
mod_exec(PyObject *m)
{
    PyObject *t = PyType_FromModuleAndSpec(m, &Node_spec, NULL);
    return t == NULL ? -1 : PyModule_AddType(m, (PyTypeObject *)t);
}
"#
    ));
}

/// A macro that opens a block with no `;` after it, before a `switch` (apsw's
/// `CHAIN_EXC_BEGIN`), makes the statement read as a function `switch`: it is no function.
#[test]
fn a_statement_after_a_block_macro_is_not_a_function() {
    let m = model(
        "static int cb(int code, PyObject *a)\n{\n  PyObject *p = NULL;\n  CHAIN_EXC_BEGIN\n  \
         switch (code)\n  {\n  case 1:\n    p = PyLong_FromLong(1);\n    break;\n  \
         case 2:\n    p = PyLong_FromLong(2);\n    break;\n  }\n  CHAIN_EXC_END;\n  \
         Py_XDECREF(p);\n  return 0;\n}\n",
    );
    let names: Vec<&str> = m.functions.iter().map(|f| f.name.as_str()).collect();
    assert!(!names.contains(&"switch"), "{names:?}");
}

#[test]
fn function_defining_macros_and_function_pointer_returns() {
    let m = model(
        "TEST_IMPL(fs_open) {\n  int r = 0;\n  return r;\n}\n\
         static PyObject *DISPATCH(add)(PyObject *self, PyObject *a) {\n  return NULL;\n}\n\
         static void (*lookup(void *h, const char *name))(void) {\n  return 0;\n}\n",
    );
    assert!(m.skipped_functions.is_empty(), "{:?}", m.skipped_functions);
    let names: Vec<&str> = m.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["fs_open", "add", "lookup"]);
    assert!(m.functions[0].params.is_empty());
    assert_eq!(m.functions[1].params.len(), 2);
    assert_eq!(m.functions[1].return_type.base, "PyObject");
    assert_eq!(m.functions[1].return_type.pointers, 1);
    assert_eq!(m.functions[2].params.len(), 2);
    assert_eq!(m.functions[2].return_type.base, "(function)");
}

#[test]
fn errors_confined_to_a_statement_become_opaque() {
    // A type passed to a macro and a declaration initialised by one: each error stays in
    // its statement; the declared name survives.
    let m = model(
        "int f(PyObject *m, PyObject *t) {\n  PyObject **d = DEFAULTS(PyObject *, m);\n  a = GET(t, tp_base, PyTypeObject*);\n  return 0;\n}\n",
    );
    let f = &m.functions[0];
    assert!(!f.has_errors);
    assert_eq!(f.opaque_regions, 2);
    let dumped = dump_model(&m);
    assert!(
        dumped.contains("opaque decl d [PyObject d DEFAULTS m]"),
        "{dumped}"
    );
    assert!(
        dumped.contains("opaque [a GET t tp_base PyTypeObject]"),
        "{dumped}"
    );
    // An error region that could hide control flow or a brace is not confined.
    let m = model("int g(int c) {\n  MAC(int, return 1)\n  return 0;\n}\n");
    assert!(m.functions[0].has_errors);
}
