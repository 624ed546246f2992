/* Idioms of Cython-generated C (and of hand-written code that does the same) that once
 * produced false positives. Cython output manages references correctly by construction. */
#include <Python.h>
#define cpycheck_reveal(x) ((void)(x))

typedef struct {
    PyObject_HEAD
    PyObject *defaults;
} CyFunction;

/* An out-parameter filled with a borrowed reference, then increfed: the caller's
 * `*type` owns the new reference (Cython's __Pyx_ErrFetchInState). */
static void
fetch_type(PyObject *exc_value, PyObject **type)
{
    if (exc_value) {
        *type = exc_value;
        Py_INCREF(*type);
        cpycheck_reveal(*type); // revealed: owned(1) non-null
    }
}

/* A field filled with a borrowed reference, then increfed through the argument
 * (__Pyx_CyFunction_SetDefaultsTuple). */
static void
set_defaults(CyFunction *op, PyObject *tuple)
{
    op->defaults = tuple;
    Py_INCREF(tuple);
    /* The reference goes to `op->defaults`: none is left for the function to release. */
    cpycheck_reveal(tuple); // revealed: unknown non-null
}

static PyObject *make_point(PyObject *cls, PyObject *x);

/* A reference of unknown origin (the result of a function whose contract is unknown)
 * kept in a variable, increfed and stolen by the tuple, released when the variable is
 * overwritten on the next iteration (asyncpg's geometry decoders). */
static PyObject *
decode_points(PyObject *cls, Py_ssize_t n)
{
    PyObject *pts = PyTuple_New(n);
    PyObject *point = NULL;
    Py_ssize_t i;
    if (pts == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *p = make_point(cls, cls);
        if (p == NULL) {
            Py_XDECREF(point);
            Py_DECREF(pts);
            return NULL;
        }
        Py_XDECREF(point);
        point = p;
        Py_INCREF(point);
        PyTuple_SET_ITEM(pts, i, point);
    }
    Py_XDECREF(point);
    cpycheck_reveal(pts); // revealed: owned(1) non-null
    return pts;
}

/* Borrowed values from PyDict_Next, increfed and kept in a C array, released through the
 * array (Cython's __Pyx_PyVectorcall_FastCallDict_kw). */
static PyObject *
kw_values(PyObject *kw, PyObject **values, Py_ssize_t n)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *value;
    while (PyDict_Next(kw, &pos, &key, &value)) {
        Py_INCREF(value);
        values[i] = value;
        cpycheck_reveal(value); // revealed: borrowed non-null
        i++;
    }
    for (i = 0; i < n; i++)
        Py_DECREF(values[i]);
    Py_RETURN_NONE;
}

/* A new reference tested against a singleton, then released under the singleton's name
 * (numpy's `Py_DECREF(Py_NotImplemented)`, regex's `Py_DECREF(Py_False)`). */
static PyObject *
released_by_singleton_name(PyObject *a, PyObject *b)
{
    PyObject *r = PyNumber_Add(a, b);
    if (r == NULL)
        return NULL;
    if (r == Py_NotImplemented) {
        Py_DECREF(Py_NotImplemented);
        Py_RETURN_NONE;
    }
    cpycheck_reveal(r); // revealed: owned(1) non-null
    return r;
}

/* An accessor macro from a header is a call the analysis cannot see through: each use
 * reads the same object anew (numpy's `Py_INCREF(PyArray_DESCR(a)); return PyArray_DESCR(a);`). */
PyObject *get_descr(PyObject *a);

static PyObject *
descr_of(PyObject *self, PyObject *a)
{
    Py_INCREF(get_descr(a));
    cpycheck_reveal(a); // revealed: unknown maybe-null
    return get_descr(a);
}

/* Multi-phase initialization: PyInit returns the definition itself (apsw, Cython with
 * CYTHON_PEP489_MULTI_PHASE_INIT); it is not a borrowed return. */
static struct PyModuleDef idioms_def = {PyModuleDef_HEAD_INIT, "cython_idioms", NULL, 0, NULL};

PyMODINIT_FUNC
PyInit_cython_idioms(void)
{
    return PyModuleDef_Init(&idioms_def);
}

typedef struct {
    PyObject_HEAD
    PyObject *name;
} Scope;

/* A field overwritten in a loop, its old value released through a temporary (Cython's
 * __Pyx_XDECREF_SET on a generator's closure scope). */
static PyObject *
names(Scope *scope, PyObject *tuple, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);
        PyObject *tmp;
        Py_INCREF(item);
        tmp = scope->name;
        scope->name = item;
        Py_XDECREF(tmp);
    }
    cpycheck_reveal(scope->name); // revealed: borrowed non-null | unknown maybe-null
    Py_RETURN_NONE;
}

/* A field released, then overwritten (Cython's `__Pyx_DECREF(self->x); self->x = t;`),
 * twice in one function. */
static PyObject *
set_twice(Scope *self, long a, long b)
{
    PyObject *t = PyLong_FromLong(a);
    if (t == NULL)
        return NULL;
    Py_DECREF(self->name);
    self->name = t;
    t = PyLong_FromLong(b);
    if (t == NULL)
        return NULL;
    Py_DECREF(self->name);
    self->name = t;
    cpycheck_reveal(t); // revealed: unknown non-null
    Py_RETURN_NONE;
}

/* The same with a result of unknown origin (numpy's `PyArray_GetCastingImpl`, regex's
 * `next_split_part`): the release is the result's, not Py_None's. */
PyObject *casting_impl(PyObject *from);

static PyObject *
released_by_singleton_name_unknown(PyObject *self, PyObject *from)
{
    PyObject *meth = casting_impl(from);
    if (meth == NULL)
        return NULL;
    if (meth == Py_None) {
        Py_DECREF(Py_None);
        cpycheck_reveal(self); // revealed: unknown maybe-null
        return NULL;
    }
    return meth;
}

/* The reverse: a release of the unknown result, after a test that it is None, is not a
 * release of the reference to None the function took (Cython's `__Pyx_XDECREF_SET(k, t)`
 * after `t == Py_None` was tested). */
static PyObject *
unknown_released_after_none_test(PyObject *self, PyObject *from)
{
    PyObject *t = casting_impl(from);
    PyObject *v;
    if (t == NULL)
        return NULL;
    if (t != Py_None) {
        Py_DECREF(t);
        Py_RETURN_NONE;
    }
    Py_INCREF(Py_None);
    v = Py_None;
    Py_DECREF(t);
    cpycheck_reveal(v); // revealed: owned(1) non-null
    return v;
}

/* A borrowed item handed to a stealing macro, then increfed in the same straight-line code
 * (Cython's __Pyx_PEP560_update_bases, numpy's `PyTuple_SET_ITEM(state, 3, Py_None);
 * Py_INCREF(Py_None);`): the reference the steal needed. */
static PyObject *
copy_bases(PyObject *bases, Py_ssize_t n)
{
    PyObject *list = PyList_New(n);
    Py_ssize_t j;
    if (list == NULL)
        return NULL;
    for (j = 0; j < n; j++) {
        PyObject *base = PyTuple_GET_ITEM(bases, j);
        PyList_SET_ITEM(list, j, base);
        Py_INCREF(base);
        cpycheck_reveal(base); // revealed: borrowed non-null
    }
    return list;
}

/* An item replaced in place: the list's reference to the old item is now the function's
 * (Cython's __Pyx_SetItemInt_Fast). */
static int
set_item_fast(PyObject *list, Py_ssize_t i, PyObject *v)
{
    PyObject *old = PyList_GET_ITEM(list, i);
    Py_INCREF(v);
    PyList_SET_ITEM(list, i, v);
    cpycheck_reveal(old); // revealed: unknown non-null
    Py_DECREF(old);
    return 1;
}

/* A field set to the object it already holds, the old value released through a temporary
 * (Cython's `__Pyx_DECREF_SET(scope->x, Py_None)` when `scope->x` is already None). */
static PyObject *
reset_to_none(Scope *scope, int again)
{
    PyObject *tmp;
    Py_INCREF(Py_None);
    scope->name = Py_None;
    if (again) {
        Py_INCREF(Py_None);
        tmp = scope->name;
        scope->name = Py_None;
        Py_DECREF(tmp);
    }
    cpycheck_reveal(scope->name); // revealed: borrowed non-null
    Py_RETURN_NONE;
}

/* A singleton stored into a field, later put in a tuple with a reference of its own, then
 * the field released: the field's reference, not the one the tuple stole (aiohttp's
 * `self->_compressed = Py_True`). */
static PyObject *
flag_and_tuple(Scope *self)
{
    PyObject *t = PyTuple_New(1);
    if (t == NULL)
        return NULL;
    Py_INCREF(Py_True);
    self->name = Py_True;
    Py_INCREF(Py_True);
    PyTuple_SET_ITEM(t, 0, Py_True);
    Py_DECREF(self->name);
    self->name = t;
    cpycheck_reveal(t); // revealed: unknown non-null
    Py_RETURN_NONE;
}

/* Two steals of the same borrowed object, then both references taken (numpy's
 * arraydescr_reduce). */
static PyObject *
two_nones(void)
{
    PyObject *state = PyTuple_New(2);
    if (state == NULL)
        return NULL;
    PyTuple_SET_ITEM(state, 0, Py_None);
    PyTuple_SET_ITEM(state, 1, Py_None);
    Py_INCREF(Py_None);
    Py_INCREF(Py_None);
    cpycheck_reveal(Py_None); // revealed: borrowed non-null
    return state;
}

/* Cython 3's error exit: a statement macro used inside another one without a `;`. */
#define __PYX_MARK_ERR_POS(f_index, lineno) \
    { __pyx_lineno = lineno; (void)__pyx_lineno; }
#define __PYX_ERR(f_index, lineno, Ln_error) \
    { __PYX_MARK_ERR_POS(f_index, lineno) goto Ln_error; }

static PyObject *
cy3_error_exit(PyObject *o)
{
    int __pyx_lineno = 0;
    PyObject *t = PyObject_Str(o); if (!t) __PYX_ERR(0, 1, __pyx_L1_error)
    cpycheck_reveal(t); // revealed: owned(1) non-null
    return t;
__pyx_L1_error:
    return NULL;
}

typedef struct {
    PyObject_HEAD
    PyObject *bytes;
} Reader;

/* A new reference stored into a field, read back through a temporary that is increfed and
 * released, then the field overwritten (lxml's `_FileReaderContext.copyToBuffer`, which
 * does this across loop iterations): the field's reference keeps the object alive, so the
 * temporary's release frees nothing and the field's release is the last one. */
static int
refill(Reader *self, PyObject *src)
{
    PyObject *t5, *t7;
    Py_ssize_t n;
    t5 = PyObject_CallNoArgs(src);
    if (!t5)
        return -1;
    Py_DECREF(self->bytes);
    self->bytes = t5;
    t7 = self->bytes;
    Py_INCREF(t7);
    n = PyBytes_GET_SIZE(t7);
    Py_DECREF(t7);
    cpycheck_reveal(t7); // revealed: unknown non-null
    t5 = PyObject_CallNoArgs(src);
    if (!t5)
        return -1;
    Py_DECREF(self->bytes);
    self->bytes = t5;
    return (int)n;
}

/* A call made for the exception it raises, right before an error return, with no exception
 * set before it (Cython's `__Pyx_PyUnicode_AsStringAndSize`: encoding a string known not to
 * be ASCII as ASCII). The return is correct only if the call failed: nothing leaks. */
static const char *
as_ascii(PyObject *o, Py_ssize_t *length)
{
    if (PyUnicode_IS_ASCII(o)) {
        *length = PyUnicode_GET_LENGTH(o);
        cpycheck_reveal(o); // revealed: unknown maybe-null
        return PyUnicode_AsUTF8(o);
    } else {
        PyUnicode_AsASCIIString(o);
        return NULL;
    }
}

/* Lists kept in the function's own array and in a variable, each list put into the one
 * before it (asyncpg's `_textarray_decode`): a list stored into the array, then increfed
 * and released again, is not freed by that release. */
static PyObject *
nest_lists(Py_ssize_t levels)
{
    void *strides[4];
    PyObject *new_stride = NULL, *result = NULL, *t;
    Py_ssize_t level;
    for (level = 1; level <= levels && level <= 4; level++) {
        t = PyList_New(1);
        if (!t)
            goto error;
        Py_XDECREF(new_stride);
        new_stride = t;
        strides[level - 1] = (void *)new_stride;
        if (level > 1) {
            Py_INCREF(new_stride);
            PyList_SET_ITEM((PyObject *)strides[level - 2], 0, new_stride);
        } else {
            Py_INCREF(new_stride);
            Py_XDECREF(result);
            result = new_stride;
        }
    }
    Py_XDECREF(new_stride);
    cpycheck_reveal(result); // revealed: unknown non-null
    return result;
error:
    Py_XDECREF(new_stride);
    Py_XDECREF(result);
    return NULL;
}

/* Cython's Python 2 names are object-like macros for the Python 3 functions: the call
 * follows the alias to its contract. */
#define PyInt_FromLong PyLong_FromLong
static PyObject *
aliased_constructor(void)
{
    PyObject *v = PyInt_FromLong(1000000);
    cpycheck_reveal(v); // revealed: owned(1) maybe-null
    return v;
}

/* Object-header macros only look at the object: it stays owned. */
static PyObject *
sized(PyObject *seq)
{
    PyObject *t = PySequence_Tuple(seq);
    if (t == NULL)
        return NULL;
    if (Py_SIZE(t) != 2 || !Py_IS_TYPE(t, &PyTuple_Type)) {
        cpycheck_reveal(t); // revealed: owned(1) non-null
        Py_DECREF(t);
        return NULL;
    }
    return t;
}

/* Cython's `list.pop`: the list shrinks past the item it lent, whose reference passes to
 * the caller (__Pyx__PyList_PopIndex). */
static PyObject *
pop_last(PyObject *L)
{
    Py_ssize_t size = PyList_GET_SIZE(L);
    PyObject *v;
    if (size == 0)
        return NULL;
    v = PyList_GET_ITEM(L, size - 1);
    Py_SET_SIZE(L, size - 1);
    cpycheck_reveal(v); // revealed: unknown non-null
    return v;
}
