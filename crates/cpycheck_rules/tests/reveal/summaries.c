/* Engine-state tests for the contracts of the user's own functions: inferred from their
 * bodies, or declared in `cpycheck:` comments. */
#include <Python.h>
#define cpycheck_reveal(x) ((void)(x))

/* Inferred: returns a new reference. */
static PyObject *
make_counter(long start)
{
    return PyLong_FromLong(start);
}

/* Inferred: returns a borrowed reference. */
static PyObject *
first_item(PyObject *list)
{
    return PyList_GetItem(list, 0);
}

/* Inferred: hands `obj` back as its result or releases it (takes it over), returns new. */
static PyObject *
as_text(PyObject *obj)
{
    if (PyUnicode_Check(obj))
        return obj;
    PyObject *text = PyObject_Str(obj);
    Py_DECREF(obj);
    return text;
}

/* Declared, for a function defined elsewhere. */
/* cpycheck: returns-borrowed */
PyObject *registry_lookup(PyObject *key);

/* cpycheck: steals-on-success(item), returns-status */
int queue_push(PyObject *queue, PyObject *item);

/* Declared and defined: the body is checked against the declaration. */
/* cpycheck: steals(value) */
static int
store_value(PyObject *dict, PyObject *key, PyObject *value)
{
    cpycheck_reveal(value); // revealed: owned(1) maybe-null
    int r = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    return r;
}

static PyObject *
callers(PyObject *module, PyObject *args)
{
    PyObject *list, *key;
    if (!PyArg_ParseTuple(args, "OO", &list, &key))
        return NULL;
    PyObject *c = make_counter(1);
    cpycheck_reveal(c); // revealed: owned(1) maybe-null
    Py_XDECREF(c);
    PyObject *f = first_item(list);
    cpycheck_reveal(f); // revealed: borrowed maybe-null
    PyObject *r = registry_lookup(key);
    cpycheck_reveal(r); // revealed: borrowed maybe-null
    PyObject *n = PyLong_FromLong(3);
    if (n == NULL)
        return NULL;
    PyObject *t = as_text(n);
    cpycheck_reveal(n); // revealed: stolen non-null
    cpycheck_reveal(t); // revealed: owned(1) maybe-null
    if (t == NULL)
        return NULL;
    int status = queue_push(list, t);
    cpycheck_reveal(t); // revealed: owned(1) non-null
    if (status < 0) {
        cpycheck_reveal(t); // revealed: owned(1) non-null
        Py_DECREF(t);
        return NULL;
    }
    cpycheck_reveal(t); // revealed: stolen non-null
    Py_RETURN_NONE;
}

/* Inferred: returns its argument as it is (an alias), like `PyObject_Init`. */
static PyObject *
init_fields(PyObject *obj)
{
    if (obj == NULL)
        return NULL;
    return obj;
}

static PyObject *
aliases(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    PyObject *same = init_fields(list);
    cpycheck_reveal(same); // revealed: owned(1) non-null
    return same;
}

/* `PyDict_Next` writes its out-parameters only when it returns true. */
static PyObject *
after_iteration(PyObject *module, PyObject *dict)
{
    PyObject *key = NULL, *value = NULL;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        cpycheck_reveal(key); // revealed: borrowed non-null
    }
    cpycheck_reveal(key); // revealed: borrowed null
    Py_RETURN_NONE;
}
