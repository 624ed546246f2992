//! Inputs that once aborted the process or were dropped silently: each must give a report.

use cpycheck_rules::{Settings, check_file};

/// A module whose function `f` runs `Py_INCREF(x); Py_DECREF(x)` `fan^levels` times in one
/// basic block, through macros that use macros.
fn macro_storm(levels: usize, fan: usize) -> String {
    let mut src = String::from("#include <Python.h>\n#define A0(o) Py_INCREF(o); Py_DECREF(o)\n");
    for i in 1..=levels {
        let uses = vec![format!("A{}(o)", i - 1); fan].join("; ");
        src.push_str(&format!("#define A{i}(o) {uses}\n"));
    }
    src.push_str(&format!(
        "static PyObject *f(PyObject *self, PyObject *x) {{\n    A{levels}(x);\n    \
         Py_RETURN_NONE;\n}}\n\
         static PyMethodDef methods[] = {{{{\"f\", f, METH_O, NULL}}, {{NULL}}}};\n"
    ));
    src
}

/// The history of `x` grows by one event per reference operation. It used to be freed by a
/// recursive `Drop`, one stack frame per event: 60,000 events overflowed a small stack (and
/// a few million the analysis threads' 64 MiB), aborting the whole run. On a 256 KiB stack,
/// the history must be bounded and freed without recursion.
#[test]
fn a_function_with_a_huge_history_does_not_overflow_the_stack() {
    let src = macro_storm(4, 15); // 50,625 expansions, 101,250 events on `x`
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .stack_size(256 * 1024)
        .build()
        .expect("a thread pool");
    let report = pool.install(|| check_file("storm.c", src.as_bytes(), &Settings::default()));
    assert_eq!(report.error, None);
    assert_eq!(report.functions_analyzed, 1);
}
