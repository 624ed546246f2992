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
