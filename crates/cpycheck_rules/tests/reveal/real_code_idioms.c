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

static PyMethodDef methods[] = {
    {"local_macro", local_macro, METH_O, NULL},
    {"correlated", (PyCFunction)correlated, METH_O, NULL},
    {"expect", expect, METH_O, NULL},
    {"macro_without_semicolon", macro_without_semicolon, METH_O, NULL},
    {"opaque_statement", opaque_statement, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};
