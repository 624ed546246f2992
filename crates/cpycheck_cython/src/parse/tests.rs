use super::*;

const SRC: &str = r#"
cimport cython
from libc.stdlib cimport malloc, free

cdef extern from *:
    """
    static void *stored;
    """
    ctypedef struct ctx_t:
        int refs
    void store(void *data, const void *key)
    void *fetch()
    int count(PyObject *o) nogil
    object make "PY_MAKE" (object o)

ctypedef int (*callback_t)(void *)

cdef class Context:
    cdef ctx_t *imp

@cython.no_gc_clear
@cython.final
cdef class Slots(Base):
    """Docs."""
    cdef Context context
    cdef public object owner, peer
    cdef str label
    cdef unsigned int n
    cdef ctx_t *slots

    def __cinit__(self, Context context not None, n=3):
        self.context = context
        cdef int i = 0

    def __dealloc__(self):
        release(self.context.imp, self.slots)

def top(obj, int x, *args, **kw):
    store(<void*>obj, NULL)
"#;

#[test]
fn reads_classes_externs_and_functions() {
    let f = parse(SRC);
    assert!(f.skipped.is_empty(), "{:?}", f.skipped);
    let names: Vec<&str> = f.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Context", "Slots"]);
    let slots = &f.classes[1];
    assert!(slots.no_gc_clear() && !slots.no_gc());
    assert_eq!(slots.bases, ["Base"]);
    let attrs: Vec<(&str, &str, usize)> = slots
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.ty.base.as_str(), a.ty.pointers))
        .collect();
    assert_eq!(
        attrs,
        [
            ("context", "Context", 0),
            ("owner", "object", 0),
            ("peer", "object", 0),
            ("label", "str", 0),
            ("n", "unsigned int", 0),
            ("slots", "ctx_t", 1)
        ]
    );
    let kinds: Vec<TypeKind> = slots.attributes.iter().map(|a| f.classify(&a.ty)).collect();
    assert_eq!(
        kinds,
        [
            TypeKind::Object,
            TypeKind::Object,
            TypeKind::Object,
            TypeKind::SimpleObject,
            TypeKind::C,
            TypeKind::C
        ]
    );
    let cinit = slots.method("__cinit__").unwrap();
    assert_eq!(cinit.params.len(), 3);
    assert_eq!(cinit.params[1].ty.as_ref().unwrap().base, "Context");
    assert_eq!(cinit.locals[0].name, "i");
    let store = &f.externs[0];
    assert_eq!(store.name, "store");
    assert!(
        store.params[0]
            .ty
            .as_ref()
            .unwrap()
            .is_mutable_void_pointer()
    );
    assert!(
        !store.params[1]
            .ty
            .as_ref()
            .unwrap()
            .is_mutable_void_pointer()
    );
    assert!(
        f.externs[2].params[0]
            .ty
            .as_ref()
            .unwrap()
            .is_pyobject_pointer()
    );
    let returns: Vec<(&str, usize)> = f
        .externs
        .iter()
        .map(|e| {
            let r = e.returns.as_ref().unwrap();
            (r.base.as_str(), r.pointers)
        })
        .collect();
    assert_eq!(
        returns,
        [("void", 0), ("void", 1), ("int", 0), ("object", 0)]
    );
    assert!(f.c_types.contains("ctx_t") && f.c_types.contains("callback_t"));
    assert_eq!(f.functions[0].name, "top");
    assert_eq!(f.functions[0].params.len(), 4);
}

#[test]
fn reads_real_world_declaration_forms() {
    let src = r#"
cdef:
    struct FRBuffer:
        const char* buf
    inline ssize_t frb_len(FRBuffer *frb):
        return frb.len
    void* codec_map[(MAX + 1) * 2]
    std_UUID = uuid.UUID

cdef extern from "x.h":
    cdef object NEW_ELEMENT "PY_NEW" (object t)
    ctypedef int read_handler_t(void *data, unsigned char *buffer)
    ctypedef enum:
        A_CONSTANT
    cdef class lxml.etree._Element [ object LxmlElement ]:
        pass

cdef class Reader:
    cdef readonly buffer
    cdef public slow, fast
    cdef _element "c_element"
    cdef:
        readonly _traceback
        int count

    try:
        __slots__ = ()
    except NameError:
        pass

    def f(self):
        cdef:
            int32_t n = 0
            pts = make(n)
        cdef is_readable
"#;
    let f = parse(src);
    assert!(f.skipped.is_empty(), "{:?}", f.skipped);
    assert_eq!(f.functions[0].name, "frb_len");
    assert!(f.c_types.contains("FRBuffer") && f.c_types.contains("read_handler_t"));
    assert!(f.extension_types.contains("_Element"));
    assert_eq!(f.externs[0].name, "NEW_ELEMENT");
    let globals: Vec<&str> = f.globals.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(globals, ["codec_map", "std_UUID"]);
    let reader = f.class("Reader").unwrap();
    let attrs: Vec<(&str, TypeKind)> = reader
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), f.classify(&a.ty)))
        .collect();
    assert_eq!(
        attrs,
        [
            ("buffer", TypeKind::Object),
            ("slow", TypeKind::Object),
            ("fast", TypeKind::Object),
            ("_element", TypeKind::Object),
            ("_traceback", TypeKind::Object),
            ("count", TypeKind::C)
        ]
    );
    let locals: Vec<&str> = reader.methods[0]
        .locals
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(locals, ["n", "pts", "is_readable"]);
}

#[test]
fn odd_input_never_panics() {
    for src in [
        "",
        "cdef",
        "cdef class",
        "cdef class X(:\n  cdef",
        "def f(:\n",
        "\"\"\"",
        "'",
        "(((",
        "cdef extern from *:\n    void f(",
        "ctypedef",
        "@\n",
        "cdef class X:\n\tcdef int *",
        "def f(a, b=(1,\n",
        "\u{feff}cdef class é:\n    cdef object ü\n",
        "cdef public class",
        "ctypedef struct",
        "cdef (*x)(",
        "cdef int (*)(",
        "cdef extern void f(void *)",
    ] {
        let _ = parse(src);
    }
    // Every prefix of a realistic file: no slicing or indexing can go out of bounds.
    for end in (0..=SRC.len()).filter(|&i| SRC.is_char_boundary(i)) {
        let _ = parse(&SRC[..end]);
    }
    let deep = "if x:\n".to_string()
        + &(0..500)
            .map(|i| format!("{}if x:\n", " ".repeat(i + 1)))
            .collect::<String>();
    let _ = parse(&deep);
}
