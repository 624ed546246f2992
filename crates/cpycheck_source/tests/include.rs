//! Source prep with the package's headers: an `#include` replays the header's directives.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use cpycheck_source::{
    Header, HeaderError, Includes, MAX_INCLUDE_DEPTH, PrepOptions, Prepared, include_name,
    prepare_with,
};

/// Headers in memory, by the name they are included as; each knows how it was asked for.
struct Memory {
    headers: HashMap<String, Arc<Header>>,
    angled_ok: bool,
}

impl Memory {
    fn new(files: &[(&str, &str)]) -> Memory {
        let headers = files
            .iter()
            .map(|(name, text)| {
                let path: Arc<Path> = Arc::from(Path::new(name));
                let header = Header::parse(path, text.as_bytes()).expect("text header");
                (name.to_string(), Arc::new(header))
            })
            .collect();
        Memory {
            headers,
            angled_ok: true,
        }
    }
}

impl Includes for Memory {
    fn resolve(&self, _from: Option<&Header>, name: &str, angled: bool) -> Option<Arc<Header>> {
        if angled && !self.angled_ok {
            return None;
        }
        self.headers.get(name).cloned()
    }
}

fn prep(text: &str, includes: &Memory) -> Prepared {
    let p = prepare_with(text.as_bytes(), &PrepOptions::default(), includes).expect("text");
    assert_eq!(p.text.len(), text.len(), "length changed");
    p
}

fn names(p: &Prepared) -> Vec<(&str, bool)> {
    p.defines
        .iter()
        .map(|d| (d.name.as_str(), d.header.is_some()))
        .collect()
}

#[test]
fn header_macros_join_the_file_at_the_include() {
    let headers = Memory::new(&[(
        "pkg.h",
        "#ifndef PKG_H\n#define PKG_H\n/* a comment */\n#define FAIL(m) \\\n  do { return NULL; } while (0)\nint helper(void);\n#endif\n",
    )]);
    let src = "#define FIRST 1\n#include \"pkg.h\"\n#define LAST 2\nint f(void) { return 0; }\n";
    let p = prep(src, &headers);
    assert_eq!(
        names(&p),
        [
            ("FIRST", false),
            ("PKG_H", true),
            ("FAIL", true),
            ("LAST", false)
        ]
    );
    let fail = &p.defines[2];
    assert_eq!(fail.params, Some(vec!["m".to_string()]));
    assert_eq!(fail.body, "do { return NULL; } while (0)");
    // A header's macro is placed at the `#include` that brought it.
    assert_eq!(&src[fail.span.range()], "#include \"pkg.h\"");
    assert_eq!(p.headers.len(), 1);
    // The header's code is not part of the file.
    assert!(!p.text.contains("helper"));
}

#[test]
fn header_conditionals_see_the_macros_defined_so_far() {
    let headers = Memory::new(&[(
        "cfg.h",
        "#ifdef USE_FAST\n#define SPEED 2\n#else\n#define SPEED 1\n#endif\n#if PY_VERSION_HEX >= 0x030C0000\n#define NEW_API 1\n#endif\n",
    )]);
    let p = prep("#define USE_FAST\n#include \"cfg.h\"\n", &headers);
    let speed: Vec<&str> = p
        .defines
        .iter()
        .filter(|d| d.name == "SPEED")
        .map(|d| d.body.as_str())
        .collect();
    assert_eq!(speed, ["2"]);
    assert!(p.defines.iter().any(|d| d.name == "NEW_API"));
    // And the file's conditionals see the header's macros.
    let src = "#include \"cfg.h\"\n#if SPEED == 1\nint slow;\n#else\nint fast;\n#endif\n";
    let p = prep(src, &headers);
    assert!(p.text.contains("int slow;"));
    assert!(!p.text.contains("int fast;"));
}

#[test]
fn undefs_are_kept_in_order() {
    let headers = Memory::new(&[("u.h", "#define A 1\n#undef A\n#define B 2\n")]);
    let p = prep("#include \"u.h\"\n#undef B\n", &headers);
    let undefs: Vec<(&str, usize)> = p
        .undefs
        .iter()
        .map(|u| (u.name.as_str(), u.after))
        .collect();
    // `A` is undefined after the first define, `B` after both.
    assert_eq!(undefs, [("A", 1), ("B", 2)]);
}

#[test]
fn nested_includes_and_cycles_are_read_once() {
    let headers = Memory::new(&[
        ("a.h", "#include \"b.h\"\n#define FROM_A 1\n"),
        ("b.h", "#include \"a.h\"\n#define FROM_B 1\n"),
    ]);
    let p = prep("#include \"a.h\"\n#include \"b.h\"\n", &headers);
    assert_eq!(names(&p), [("FROM_B", true), ("FROM_A", true)]);
    assert_eq!(p.headers.len(), 2);
}

#[test]
fn include_depth_is_bounded() {
    let files: Vec<(String, String)> = (0..MAX_INCLUDE_DEPTH + 5)
        .map(|i| {
            (
                format!("h{i}.h"),
                format!("#include \"h{}.h\"\n#define D{i} {i}\n", i + 1),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let p = prep("#include \"h0.h\"\n", &Memory::new(&refs));
    assert_eq!(p.headers.len(), MAX_INCLUDE_DEPTH);
}

#[test]
fn inactive_includes_and_unknown_headers_add_nothing() {
    let headers = Memory::new(&[("win.h", "#define WIN 1\n")]);
    let p = prep(
        "#ifdef _WIN32\n#include \"win.h\"\n#endif\n#include \"missing.h\"\n#include HEADER\n",
        &headers,
    );
    assert!(p.defines.is_empty());
    assert!(p.headers.is_empty());
}

#[test]
fn angled_includes_are_asked_for_as_such() {
    let mut headers = Memory::new(&[("numpy/npy.h", "#define NPY_X 1\n")]);
    assert_eq!(prep("#include <numpy/npy.h>\n", &headers).defines.len(), 1);
    headers.angled_ok = false;
    assert!(
        prep("#include <numpy/npy.h>\n", &headers)
            .defines
            .is_empty()
    );
    assert_eq!(include_name(" <a/b.h>"), Some(("a/b.h", true)));
    assert_eq!(include_name("\"c.h\" // note"), Some(("c.h", false)));
    assert_eq!(include_name("MACRO_H"), None);
    assert_eq!(include_name("\"\""), None);
}

#[test]
fn statement_macros_of_a_header_get_their_semicolon() {
    // `CHECK(x)` written without a `;`, as the package's own statement macros are.
    let headers = Memory::new(&[("m.h", "#define CHECK(x) { if (!(x)) return NULL; }\n")]);
    let src = "#include \"m.h\"\nPyObject *f(PyObject *o) {\n    CHECK(o)\n    return o;\n}\n";
    let p = prep(src, &headers);
    let after = &p.text[p.text.find("CHECK(o)").unwrap()..p.text.find("return o").unwrap()];
    assert!(after.contains(';'), "{}", p.text);
}

#[test]
fn bad_headers_are_refused() {
    let path: Arc<Path> = Arc::from(Path::new("bad.h"));
    assert_eq!(
        Header::parse(Arc::clone(&path), b"#define A 1\n\0").unwrap_err(),
        HeaderError::Binary
    );
    assert_eq!(
        Header::parse(path, b"#define A \xff\n").unwrap_err(),
        HeaderError::NotUtf8
    );
}
