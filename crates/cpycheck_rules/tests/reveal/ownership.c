/* Engine-state tests: `cpycheck_reveal(x)` makes the engine report what it knows about `x`.
 * Each trailing "revealed" comment lists the states reachable at that line, "|" between paths. */
#include <Python.h>
#define cpycheck_reveal(x) ((void)(x))

static PyObject *
states(PyObject *module, PyObject *args)
{
    PyObject *arg, *list;
    if (!PyArg_ParseTuple(args, "OO", &arg, &list))
        return NULL;
    cpycheck_reveal(arg); // revealed: borrowed non-null

    PyObject *zero = PyLong_FromLong(0); /* a cached small int: cannot fail */
    cpycheck_reveal(zero); // revealed: owned(1) non-null
    Py_DECREF(zero);

    PyObject *n = PyLong_FromLong(100000);
    cpycheck_reveal(n); // revealed: owned(1) maybe-null
    if (n == NULL)
        return NULL;
    cpycheck_reveal(n); // revealed: owned(1) non-null

    Py_INCREF(n);
    cpycheck_reveal(n); // revealed: owned(2) non-null
    Py_DECREF(n);
    cpycheck_reveal(n); // revealed: owned(1) non-null

    PyObject *item = PyList_GetItem(list, 0);
    cpycheck_reveal(item); // revealed: borrowed maybe-null
    if (item == NULL) {
        Py_DECREF(n);
        return NULL;
    }

    PyObject *t = PyTuple_New(1);
    if (t == NULL) {
        Py_DECREF(n);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, n);
    cpycheck_reveal(n); // revealed: stolen non-null

    PyObject *r = Py_NewRef(item);
    cpycheck_reveal(r); // revealed: owned(1) non-null
    Py_DECREF(r);
    cpycheck_reveal(r); // revealed: borrowed non-null
    Py_DECREF(t);
    Py_RETURN_NONE;
}

static PyObject *
conditional_steal(PyObject *module, PyObject *target)
{
    PyObject *v = PyLong_FromLong(1);
    if (v == NULL)
        return NULL;
    if (PyModule_AddObject(target, "v", v) < 0) {
        cpycheck_reveal(v); // revealed: owned(1) non-null
        Py_DECREF(v);
        cpycheck_reveal(v); // revealed: released non-null
        return NULL;
    }
    cpycheck_reveal(v); // revealed: stolen non-null
    Py_RETURN_NONE;
}

static PyObject *
clear_and_loop(PyObject *module, PyObject *seq)
{
    PyObject *acc = PyList_New(0);
    if (acc == NULL)
        return NULL;
    for (int i = 0; i < 3; i++) {
        PyObject *x = PyLong_FromLong(i);
        if (x == NULL) {
            Py_DECREF(acc);
            return NULL;
        }
        int rc = PyList_Append(acc, x);
        Py_DECREF(x);
        if (rc < 0) {
            cpycheck_reveal(acc); // revealed: owned(1) non-null
            Py_CLEAR(acc);
            return NULL;
        }
    }
    cpycheck_reveal(acc); // revealed: owned(1) non-null
    return acc;
}

static PyMethodDef methods[] = {
    {"states", states, METH_VARARGS, NULL},
    {"conditional_steal", conditional_steal, METH_O, NULL},
    {"clear_and_loop", clear_and_loop, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};
