/*
 * spam: a small extension module with some classic reference-counting bugs.
 *
 * Each function marked BUG has one; the others are correct and must stay silent.
 * `cpycheck check examples/` reports the bugs (and exits with status 1).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    PyObject *items; /* a list */
} CounterObject;

/* ---- Counter type ------------------------------------------------------- */

static void
Counter_dealloc(CounterObject *self)
{
    Py_XDECREF(self->items);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Counter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    CounterObject *self = (CounterObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->items = PyList_New(0);
    if (self->items == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* BUG: returns `self` for chaining but never takes a new reference to it. */
static PyObject *
Counter_add(CounterObject *self, PyObject *item)
{
    if (PyList_Append(self->items, item) < 0)
        return NULL;
    return (PyObject *)self;
}

/* Correct: the same method with the Py_INCREF. */
static PyObject *
Counter_extend(CounterObject *self, PyObject *item)
{
    if (PyList_Append(self->items, item) < 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *
Counter_size(CounterObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(PyList_GET_SIZE(self->items));
}

static PyMethodDef Counter_methods[] = {
    {"add", (PyCFunction)Counter_add, METH_O, "Add an item; returns the counter."},
    {"extend", (PyCFunction)Counter_extend, METH_O, "Add an item; returns the counter."},
    {"size", (PyCFunction)Counter_size, METH_NOARGS, "Number of items."},
    {NULL, NULL, 0, NULL}
};

static PyTypeObject CounterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "spam.Counter",
    .tp_basicsize = sizeof(CounterObject),
    .tp_itemsize = 0,
    .tp_dealloc = (destructor)Counter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Collects items.",
    .tp_methods = Counter_methods,
    .tp_new = Counter_new,
};

/* ---- module functions --------------------------------------------------- */

/* BUG: the early error return leaks the reference taken by Py_INCREF. */
static PyObject *
spam_remember(PyObject *module, PyObject *arg)
{
    static PyObject *remembered = NULL;

    Py_INCREF(arg);
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "expected a str");
        return NULL;
    }
    Py_XSETREF(remembered, arg);
    Py_RETURN_NONE;
}

/* BUG: both integers passed inline to PyNumber_Subtract are leaked. */
static PyObject *
spam_subtract(PyObject *module, PyObject *args)
{
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyNumber_Subtract(PyLong_FromLong(a), PyLong_FromLong(b));
}

/* Correct: the same subtraction, each operand released. */
static PyObject *
spam_subtract_ok(PyObject *module, PyObject *args)
{
    long a, b;
    PyObject *pa, *pb, *result;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    pa = PyLong_FromLong(a);
    if (pa == NULL)
        return NULL;
    pb = PyLong_FromLong(b);
    if (pb == NULL) {
        Py_DECREF(pa);
        return NULL;
    }
    result = PyNumber_Subtract(pa, pb);
    Py_DECREF(pa);
    Py_DECREF(pb);
    return result;
}

/* BUG: PyTuple_SetItem stole `value`; the Py_DECREF releases the tuple's reference. */
static PyObject *
spam_pair(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    PyObject *pair = PyTuple_New(2);
    if (pair == NULL)
        return NULL;
    PyObject *value = PyLong_FromLong(1);
    if (value == NULL) {
        Py_DECREF(pair);
        return NULL;
    }
    PyTuple_SetItem(pair, 0, value);
    Py_DECREF(value);
    PyTuple_SetItem(pair, 1, PyUnicode_FromString("one"));
    return pair;
}

/* BUG: `obj` is borrowed from the caller; releasing it may free the caller's object. */
static PyObject *
spam_describe(PyObject *module, PyObject *obj)
{
    PyObject *text = PyObject_Repr(obj);
    if (text == NULL)
        return NULL;
    Py_DECREF(obj);
    return text;
}

/* Correct: builds a list of squares, releasing each item on every path. */
static PyObject *
spam_squares(PyObject *module, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    for (long i = 0; i < n; i++) {
        PyObject *item = PyLong_FromLong(i * i);
        if (item == NULL)
            goto error;
        if (PyList_Append(list, item) < 0) {
            Py_DECREF(item);
            goto error;
        }
        Py_DECREF(item);
    }
    return list;
error:
    Py_DECREF(list);
    return NULL;
}

static PyMethodDef spam_methods[] = {
    {"remember", spam_remember, METH_O, "Remember a string."},
    {"subtract", spam_subtract, METH_VARARGS, "a - b"},
    {"subtract_ok", spam_subtract_ok, METH_VARARGS, "a - b"},
    {"pair", spam_pair, METH_NOARGS, "The tuple (1, 'one')."},
    {"describe", spam_describe, METH_O, "repr(obj)"},
    {"squares", spam_squares, METH_O, "[i * i for i in range(n)]"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef spam_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "spam",
    .m_doc = "Examples for cpycheck.",
    .m_size = -1,
    .m_methods = spam_methods,
};

PyMODINIT_FUNC
PyInit_spam(void)
{
    if (PyType_Ready(&CounterType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&spam_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&CounterType);
    if (PyModule_AddObject(module, "Counter", (PyObject *)&CounterType) < 0) {
        Py_DECREF(&CounterType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
