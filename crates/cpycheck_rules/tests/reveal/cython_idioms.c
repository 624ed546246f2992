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
        *type = (PyObject *)Py_TYPE(exc_value);
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
    cpycheck_reveal(tuple); // revealed: owned(1) non-null
}
