//! Timing probe: `cargo run --release -p cpycheck_syntax --example bench` generates a
//! 100,000-line C file and times source prep and the syntax model on it.
#![allow(clippy::print_stdout)]

fn main() {
    let src = cpycheck_syntax_bench_input(100_000);
    let start = std::time::Instant::now();
    let prepared =
        cpycheck_source::prepare(src.as_bytes(), &cpycheck_source::PrepOptions::default())
            .expect("text");
    let prep_time = start.elapsed();
    let model = cpycheck_syntax::parse(&prepared.text);
    let total = start.elapsed();
    println!(
        "lines {} bytes {} functions {} error-regions {} prep {:?} total {:?}",
        src.lines().count(),
        src.len(),
        model.functions.len(),
        model.error_regions,
        prep_time,
        total
    );
}

fn cpycheck_syntax_bench_input(lines: usize) -> String {
    let mut out = String::from("#include <Python.h>\n");
    let mut i = 0;
    while out.lines().count() < lines {
        out.push_str(&format!(
            "static PyObject *\nf{i}(PyObject *self, PyObject *args)\n{{\n    PyObject *x = NULL, *y;\n#if PY_VERSION_HEX >= 0x030D0000\n    x = PyLong_FromLong({i});\n#else\n    x = PyInt_FromLong({i});\n#endif\n    if (x == NULL)\n        goto error;\n    y = PyNumber_Add(x, args);\n    Py_DECREF(x);\n    return y;\nerror:\n    return NULL;\n}}\n\n"
        ));
        i += 1;
    }
    out
}
