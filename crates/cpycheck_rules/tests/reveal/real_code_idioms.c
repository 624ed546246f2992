/* Idioms from real extension code that once produced false positives. Each trailing
 * "revealed" comment lists the states reachable at that line, "|" between paths. */
#include <Python.h>
#define cpycheck_reveal(x) ((void)(x))
#define likely(x) __builtin_expect(!!(x), 1)
#define INITERR_CLEANUP(m) do { Py_DECREF(m); return NULL; } while (0)
#define APPEND_CHUNK \
    if (chunk != NULL) { \
        if (PyList_Append(chunks, chunk)) { Py_DECREF(chunk); return NULL; } \
        Py_CLEAR(chunk); \
    }

typedef struct {
    PyObject_HEAD
    PyObject *hook;
} Scanner;

/* The file's own macro releases on the error path. */
static PyObject *
local_macro(PyObject *module, PyObject *arg)
{
    PyObject *m = PyList_New(0);
    if (m == NULL)
        return NULL;
    if (PyList_Append(m, arg) < 0)
        INITERR_CLEANUP(m);
    cpycheck_reveal(m); // revealed: owned(1) non-null
    return m;
}

/* A test stored in an int, then the same test again: the paths stay correlated. */
static PyObject *
correlated(Scanner *s, PyObject *arg)
{
    PyObject *pairs = NULL, *dict = NULL;
    int has_hook = (s->hook != Py_None);
    if (has_hook) {
        pairs = PyList_New(0);
        if (pairs == NULL)
            return NULL;
    } else {
        dict = PyDict_New();
        if (dict == NULL)
            return NULL;
    }
    if (s->hook != Py_None) {
        cpycheck_reveal(pairs); // revealed: owned(1) non-null
        PyObject *r = PyObject_CallOneArg(s->hook, pairs);
        Py_DECREF(pairs);
        return r;
    }
    cpycheck_reveal(dict); // revealed: owned(1) non-null
    return dict;
}

/* `likely(x)` keeps what the test says about `x`. */
static PyObject *
expect(PyObject *module, PyObject *method)
{
    PyObject *self = PyMethod_GET_SELF(method);
    if (likely(self)) {
        Py_INCREF(self);
        cpycheck_reveal(self); // revealed: owned(1) non-null
    }
    Py_XDECREF(self);
    Py_RETURN_NONE;
}

/* A statement macro used without a semicolon before an assignment. */
static PyObject *
macro_without_semicolon(PyObject *module, PyObject *chunks)
{
    PyObject *chunk = PyUnicode_FromString("x");
    PyObject *rval = NULL;
    if (chunk == NULL)
        return NULL;
    APPEND_CHUNK
    rval = PyUnicode_Join(NULL, chunks);
    cpycheck_reveal(rval); // revealed: owned(1) maybe-null
    return rval;
}

/* Cached constructor results cannot fail: an enum constant's value (explicit, implicit,
 * folded) in the small-int range, the empty and one-character strings. Outside the cache
 * the result may be NULL; a constant of a header not read (`HEADER_FLAG`) may be small. */
enum { SMALL_KIND = 200, NEXT_KIND, BIG_KIND = NEXT_KIND * 2 };

static PyObject *
cached_results(PyObject *module, PyObject *unused)
{
    PyObject *a = PyLong_FromLong(NEXT_KIND);
    cpycheck_reveal(a); // revealed: owned(1) non-null
    PyObject *b = PyLong_FromLong(BIG_KIND);
    cpycheck_reveal(b); // revealed: owned(1) maybe-null
    PyObject *c = PyLong_FromLong(SMALL_KIND | 0x4);
    cpycheck_reveal(c); // revealed: owned(1) non-null
    PyObject *d = PyUnicode_FromString("");
    cpycheck_reveal(d); // revealed: owned(1) non-null
    PyObject *e = PyUnicode_FromString("ab");
    cpycheck_reveal(e); // revealed: owned(1) maybe-null
    PyObject *f = PyLong_FromLong(HEADER_FLAG);
    cpycheck_reveal(f); // revealed: owned(1) maybe-null
    Py_DECREF(a);
    Py_XDECREF(b);
    Py_DECREF(c);
    Py_DECREF(d);
    Py_XDECREF(e);
    Py_DECREF(f);
    Py_RETURN_NONE;
}

/* A result identical to a singleton is not NULL. */
static PyObject *
same_as_singleton(PyObject *module, PyObject *name)
{
    PyObject *match = PyObject_CallMethod(name, "startswith", "s", "_");
    cpycheck_reveal(match); // revealed: owned(1) maybe-null
    if (match == Py_True) {
        cpycheck_reveal(match); // revealed: owned(1) non-null
        Py_DECREF(match);
        Py_RETURN_TRUE;
    }
    if (match == NULL)
        return NULL;
    Py_DECREF(match);
    Py_RETURN_FALSE;
}

/* A statement the parser cannot read (a type passed to a macro of a header): it is
 * opaque, and what it mentions is unknown afterwards, so no leak is reported for `obj`;
 * what it does not mention is still followed. */
static PyObject *
opaque_statement(PyObject *module, PyObject *arg)
{
    PyObject *obj = PyList_New(0);
    if (obj == NULL)
        return NULL;
    PyObject *other = PyList_New(0);
    if (other == NULL) {
        Py_DECREF(obj);
        return NULL;
    }
    HEADER_MACRO(PyObject *, obj);
    cpycheck_reveal(other); // revealed: owned(1) non-null
    Py_DECREF(other);
    return Py_NewRef(arg);
}

/* `assert(c)`: what follows is written for `c` true; the false edge ends the path. */
static PyObject *
asserted(PyObject *module, PyObject *d)
{
    PyObject *v = NULL;
    assert(PyDict_GetItemRef(d, module, &v) == -1);
    cpycheck_reveal(v); // revealed: owned(1) null
    PyObject *l = PyList_New(0);
    assert(l != NULL);
    cpycheck_reveal(l); // revealed: owned(1) non-null
    Py_DECREF(l);
    Py_RETURN_NONE;
}

/* A pointer of a type the file does not declare, compared with a singleton: an object,
 * so the singleton's release under the test releases it (numpy's `common_dtype`). */
static PyObject *
compared_with_singleton(PyObject *module, PyObject *arg)
{
    ForeignMeta *common = foreign_common(arg);
    if (common == (ForeignMeta *)Py_NotImplemented) {
        cpycheck_reveal(Py_NotImplemented); // revealed: borrowed non-null
        Py_DECREF(Py_NotImplemented);
        Py_RETURN_NONE;
    }
    return (PyObject *)common;
}

static PyMethodDef methods[] = {
    {"local_macro", local_macro, METH_O, NULL},
    {"correlated", (PyCFunction)correlated, METH_O, NULL},
    {"expect", expect, METH_O, NULL},
    {"macro_without_semicolon", macro_without_semicolon, METH_O, NULL},
    {"cached_results", cached_results, METH_NOARGS, NULL},
    {"same_as_singleton", same_as_singleton, METH_O, NULL},
    {"opaque_statement", opaque_statement, METH_O, NULL},
    {"asserted", asserted, METH_O, NULL},
    {"compared_with_singleton", compared_with_singleton, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

/* A macro parameter used as a field name: each use stores into the field its argument
 * names (numpy's `INTERN_STRING(array, "__array__")`). */
static struct {
    PyObject *first;
    PyObject *second;
} interned;

#define INTERN(member, text)                                 \
    interned.member = PyUnicode_InternFromString(text);     \
    if (interned.member == NULL) {                           \
        return -1;                                           \
    }

static int
intern_two(void)
{
    INTERN(first, "first");
    INTERN(second, "second");
    cpycheck_reveal(interned.first); // revealed: unknown non-null
    return 0;
}

/* New references created in an array initialiser and released through the elements
 * (apsw's `PyObject *vargs[] = {NULL, self, PyUnicode_FromString(name)}`). */
static PyObject *
call_with_name(PyObject *self, PyObject *meth, const char *name, long flag)
{
    PyObject *res = NULL;
    PyObject *vargs[] = {NULL, self, PyUnicode_FromString(name), PyBool_FromLong(flag)};
    cpycheck_reveal(vargs[2]); // revealed: owned(1) maybe-null
    if (vargs[2] && vargs[3])
        res = PyObject_VectorcallMethod(meth, vargs + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_XDECREF(vargs[2]);
    Py_XDECREF(vargs[3]);
    return res;
}

/* A field of an array element written in a loop: each iteration writes another element,
 * so the previous value is not taken back (apsw's `exc_descriptors[i].cls = obj`). */
static struct {
    const char *name;
    PyObject *cls;
} descs[] = {{"A", NULL}, {"B", NULL}, {NULL, NULL}};

static int
make_classes(PyObject *m)
{
    int i;
    for (i = 0; descs[i].name; i++) {
        PyObject *obj = PyErr_NewException("mod.E", NULL, NULL);
        if (!obj)
            return -1;
        descs[i].cls = obj;
        cpycheck_reveal(obj); // revealed: unknown non-null
    }
    return 0;
}

/* `PySet_Add` returns only 0 or -1: a non-zero result is the failure, so the exception is set
 * on every path that jumps to the label with `tmp` still held. */
static PyObject *
zero_or_minus_one(PyObject *module, PyObject *set)
{
    PyObject *tmp = PyLong_FromLong(1);
    if (!tmp)
        return NULL;
    if (0 != PySet_Add(set, tmp)) {
        cpycheck_reveal(PyErr_Occurred()); // revealed: borrowed non-null
        goto finally;
    }
    Py_CLEAR(tmp);
finally:
    if (PyErr_Occurred())
        Py_CLEAR(tmp);
    Py_RETURN_NONE;
}

/* `PyDict_GetItemStringRef` returns -1, 0 or 1: a result other than 1 leaves no reference. */
static PyObject *
minus_one_zero_or_one(PyObject *module, PyObject *dict)
{
    PyObject *v = NULL;
    int r = PyDict_GetItemStringRef(dict, "shape", &v);
    if (r < 0)
        return NULL;
    if (r == 1)
        return v;
    cpycheck_reveal(v); // revealed: owned(1) null
    Py_RETURN_NONE;
}

/* `PyContextVar_Get` returns 0 or -1 and fills its out-parameter only when it returns 0. */
static PyObject *
context_var_get(PyObject *module, PyObject *var)
{
    PyObject *v;
    if (PyContextVar_Get(var, NULL, &v)) {
        cpycheck_reveal(v); // revealed: owned(1) null
        return NULL;
    }
    if (v == NULL)
        Py_RETURN_NONE;
    cpycheck_reveal(v); // revealed: owned(1) non-null
    return v;
}

typedef struct {
    PyObject_HEAD
    PyObject **buffers;
} Collection;

/* A store into any memory followed by `Py_INCREF`: the incref pays for the store. */
static int
store_then_incref(Collection *self, PyObject *args)
{
    Py_ssize_t i, size = PyTuple_GET_SIZE(args);
    for (i = 0; i < size; i++) {
        PyObject *item = PyTuple_GET_ITEM(args, i);
        self->buffers[i] = item;
        Py_INCREF(item);
        cpycheck_reveal(item); // revealed: borrowed non-null
    }
    for (i = 0; i < size; i++) {
        self->buffers[i] = PyTuple_GET_ITEM(args, i);
        Py_INCREF(self->buffers[i]);
    }
    return 0;
}

typedef struct {
    PyObject *callable;
} FuncData;

/* ... but not a `Py_INCREF` statements later, which is for something else. */
static PyObject *
store_then_later_incref(PyObject *module, PyObject *args)
{
    FuncData *fdata = PyMem_Malloc(sizeof(FuncData));
    if (fdata == NULL)
        return PyErr_NoMemory();
    PyObject *function = PyTuple_GET_ITEM(args, 0);
    fdata->callable = function;
    PyMem_Free(fdata);
    Py_INCREF(function);
    cpycheck_reveal(function); // revealed: owned(1) non-null
    return function;
}

typedef struct {
    PyObject_HEAD
    void *ctx;
    PyObject *dict;
} Decompressor;

typedef struct {
    void *ctx;
    PyObject *dict;
} DecompressorState;

/* The memory holds the reference the `Py_INCREF` right after its store took: clearing the
 * field on the error path releases it (an object's field, and a C structure's). */
static int
store_incref_then_clear(Decompressor *self, PyObject *args)
{
    PyObject *dict = NULL;
    self->dict = NULL;
    if (!PyArg_ParseTuple(args, "|O", &dict))
        return -1;
    if (dict) {
        self->dict = dict;
        Py_INCREF(dict);
    }
    if (self->ctx == NULL)
        goto except;
    return 0;
except:
    cpycheck_reveal(self->dict); // revealed: borrowed non-null
    Py_CLEAR(self->dict);
    return -1;
}

static int
store_incref_then_clear_c(DecompressorState *self, PyObject *args)
{
    PyObject *dict = NULL;
    self->dict = NULL;
    if (!PyArg_ParseTuple(args, "|O", &dict))
        return -1;
    if (dict) {
        self->dict = dict;
        Py_INCREF(dict);
    }
    if (self->ctx == NULL)
        goto except;
    return 0;
except:
    cpycheck_reveal(self->dict); // revealed: borrowed non-null
    Py_CLEAR(self->dict);
    return -1;
}

/* `_PyBytes_Resize` replaces `*bytes` with NULL when it fails: nothing is left to release. */
static PyObject *
resize_fails(PyObject *module, PyObject *arg)
{
    PyObject *buf = PyBytes_FromStringAndSize(NULL, 100);
    if (buf == NULL)
        return NULL;
    if (_PyBytes_Resize(&buf, 10) < 0) {
        cpycheck_reveal(buf); // revealed: owned(1) null
        return NULL;
    }
    cpycheck_reveal(buf); // revealed: owned(1) non-null
    return buf;
}

/* An unknown name in one of CPython's families that reads like an accessor borrows its
 * argument; another library's look-alike (or a name that may change what it is given)
 * keeps the conservative default: the object may have been stolen. */
static PyObject *
accessor_defaults(PyObject *seq)
{
    PyObject *t = PySequence_Tuple(seq);
    if (t == NULL)
        return NULL;
    if (PyTuple_GET_FROZEN_FLAG(t)) {
        cpycheck_reveal(t); // revealed: owned(1) non-null
    }
    if (PyArray_NDIM(t)) {
        cpycheck_reveal(t); // revealed: unknown non-null
        return NULL;
    }
    return t;
}
