//! The fixture files: discovery, `// expect:` comments and the oracle header.
//!
//! Fixtures are C files (`*.c`) or Cython files (`*.pyx`, with `# expect:` comments and a
//! header of leading `# key: value` lines). The format is documented in `fixtures/README.md`.

use std::fmt;
use std::path::{Path, PathBuf};

/// One expected diagnostic: a `// expect: CODE` comment on a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expectation {
    pub line: usize,
    pub code: String,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.code)
    }
}

/// The language of a fixture, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    C,
    Cython,
}

impl Lang {
    pub fn of(path: &Path) -> Option<Lang> {
        match path.extension()?.to_str()? {
            "c" => Some(Lang::C),
            "pyx" => Some(Lang::Cython),
            _ => None,
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Lang::C => "c",
            Lang::Cython => "pyx",
        }
    }

    fn comment(self) -> &'static str {
        match self {
            Lang::C => "//",
            Lang::Cython => "#",
        }
    }
}

/// Parses the `// expect: CPY101, CPY102` comments of a C fixture. A code listed twice on a
/// line expects two diagnostics with that code there.
pub fn expectations(source: &str) -> Result<Vec<Expectation>, String> {
    expectations_in(source, Lang::C)
}

/// Parses the expectation comments of a fixture in `lang` (`# expect:` for Cython).
pub fn expectations_in(source: &str, lang: Lang) -> Result<Vec<Expectation>, String> {
    let marker = lang.comment();
    let mut out = Vec::new();
    for (index, text) in source.lines().enumerate() {
        let line = index + 1;
        let Some((_, comment)) = text.split_once(marker) else {
            continue;
        };
        let comment = comment.trim();
        let Some(codes) = comment.strip_prefix("expect:") else {
            if comment.starts_with("expect") {
                return Err(format!(
                    "line {line}: malformed expectation `{marker}{comment}`"
                ));
            }
            continue;
        };
        for code in codes.split(',') {
            let code = code.trim();
            if !is_code(code) {
                return Err(format!(
                    "line {line}: `{code}` is not a rule code (expected e.g. `CPY101`)"
                ));
            }
            out.push(Expectation {
                line,
                code: code.to_string(),
            });
        }
    }
    out.sort();
    Ok(out)
}

fn is_code(code: &str) -> bool {
    code.len() == 6 && code.starts_with("CPY") && code[3..].bytes().all(|b| b.is_ascii_digit())
}

/// Compares expected and actual `(line, code)` multisets. Returns the human-readable
/// mismatches: unexpected diagnostics first, then unmet expectations.
pub fn compare(expected: &[Expectation], actual: &[Expectation]) -> Vec<String> {
    let mut unmet: Vec<Expectation> = expected.to_vec();
    let mut unexpected = Vec::new();
    for diag in actual {
        if let Some(i) = unmet.iter().position(|e| e == diag) {
            unmet.swap_remove(i);
        } else {
            unexpected.push(diag.clone());
        }
    }
    unmet.sort();
    unexpected.sort();
    let mut problems: Vec<String> = unexpected
        .iter()
        .map(|d| format!("unexpected diagnostic {} on line {}", d.code, d.line))
        .collect();
    problems.extend(
        unmet
            .iter()
            .map(|e| format!("expected {} on line {}, not reported", e.code, e.line)),
    );
    problems
}

/// Every `*.c` and `*.pyx` file under `root`, recursively, sorted by path.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if Lang::of(&path).is_some() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// True for a fixed twin (`<case>.fixed.c`, `<case>.fixed.pyx`), which must stay silent.
pub fn is_fixed(path: &Path) -> bool {
    let ext = Lang::of(path).map_or("c", Lang::extension);
    path.to_string_lossy().ends_with(&format!(".fixed.{ext}"))
}

/// The fixed twin's path of a positive fixture.
pub fn twin_path(positive: &Path) -> PathBuf {
    let ext = Lang::of(positive).map_or("c", Lang::extension);
    positive.with_extension(format!("fixed.{ext}"))
}

/// The Python module name of a fixture, derived from its path relative to the fixtures
/// folder: `CPY101/goto_error.fixed.c` → `cpy101_goto_error_fixed`.
pub fn module_name(rel_path: &str) -> String {
    let stem = rel_path
        .strip_suffix(".c")
        .or_else(|| rel_path.strip_suffix(".pyx"))
        .unwrap_or(rel_path);
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The group a fixture is counted under: its top-level folder (`CPY101`, `seeds`).
pub fn group(rel_path: &str) -> &str {
    rel_path.split('/').next().unwrap_or(rel_path)
}

/// The runtime evidence a fixture promises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Total reference count (or allocated blocks) grows by about one or more per call.
    Leak,
    /// The process dies: a signal, a fatal error or a debug allocator report.
    UseAfterFree,
    /// Same evidence as [`Verdict::UseAfterFree`], for bugs that are not a freed access.
    Crash,
    /// A fatal "negative ref count" error (or `None`'s refcount reaching zero).
    RefcountUnderflow,
    /// No growth, clean exit.
    Clean,
    /// Not run: the bug cannot be triggered from Python. The reason is required.
    StaticOnly(String),
}

impl Verdict {
    pub fn parse(text: &str) -> Result<Verdict, String> {
        let text = text.trim();
        Ok(match text {
            "leak" => Verdict::Leak,
            "use-after-free" => Verdict::UseAfterFree,
            "crash" => Verdict::Crash,
            "refcount-underflow" => Verdict::RefcountUnderflow,
            "clean" => Verdict::Clean,
            _ => match text.strip_prefix("static-only:") {
                Some(reason) if !reason.trim().is_empty() => {
                    Verdict::StaticOnly(reason.trim().to_string())
                }
                Some(_) => return Err("`static-only:` needs a reason".to_string()),
                None => {
                    return Err(format!(
                        "unknown verdict `{text}` (leak, use-after-free, crash, \
                         refcount-underflow, clean, static-only: <reason>)"
                    ));
                }
            },
        })
    }

    /// True for the verdicts that the process must die for.
    pub fn is_abnormal_exit(&self) -> bool {
        matches!(
            self,
            Verdict::UseAfterFree | Verdict::Crash | Verdict::RefcountUnderflow
        )
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Leak => f.write_str("leak"),
            Verdict::UseAfterFree => f.write_str("use-after-free"),
            Verdict::Crash => f.write_str("crash"),
            Verdict::RefcountUnderflow => f.write_str("refcount-underflow"),
            Verdict::Clean => f.write_str("clean"),
            Verdict::StaticOnly(reason) => write!(f, "static-only: {reason}"),
        }
    }
}

/// A `break:` directive of a fixed twin: re-inserting the bug must make the oracle see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    pub find: String,
    pub replace: String,
    /// Replace every occurrence (`g` flag) instead of the first.
    pub global: bool,
    /// What the broken module must then show.
    pub expect: Verdict,
}

impl Break {
    /// Parses `s/OLD/NEW/[g] => VERDICT`; any character after `s` is the delimiter, and `\\n`
    /// in OLD or NEW stands for a line break (indentation included literally).
    pub fn parse(text: &str) -> Result<Break, String> {
        let bad = || format!("malformed break `{text}`: expected `s/OLD/NEW/[g] => VERDICT`");
        let (subst, verdict) = text.rsplit_once("=>").ok_or_else(bad)?;
        let subst = subst.trim().strip_prefix('s').ok_or_else(bad)?;
        let delim = subst.chars().next().ok_or_else(bad)?;
        let parts: Vec<&str> = subst[delim.len_utf8()..].split(delim).collect();
        let [find, replace, flags] = parts[..] else {
            return Err(bad());
        };
        if find.is_empty() || !(flags.is_empty() || flags == "g") {
            return Err(bad());
        }
        let expect = Verdict::parse(verdict)?;
        if matches!(expect, Verdict::Clean | Verdict::StaticOnly(_)) {
            return Err(format!("break `{text}` must expect a bug, not `{expect}`"));
        }
        Ok(Break {
            find: find.replace("\\n", "\n"),
            replace: replace.replace("\\n", "\n"),
            global: flags == "g",
            expect,
        })
    }

    /// Applies the substitution to the code after the oracle header; an error if it does
    /// not match there.
    pub fn apply(&self, source: &str) -> Result<String, String> {
        let (header, code) = source.split_at(header_end(source));
        if !code.contains(&self.find) {
            return Err(format!("break pattern `{}` does not occur", self.find));
        }
        let code = if self.global {
            code.replace(&self.find, &self.replace)
        } else {
            code.replacen(&self.find, &self.replace, 1)
        };
        Ok(format!("{header}{code}"))
    }
}

/// Byte offset just after the oracle header comment (0 without one).
pub fn header_end(source: &str) -> usize {
    if source.starts_with("# oracle:") {
        return pyx_header_lines(source).map_or(0, |(_, end)| end);
    }
    source
        .find("/* oracle:")
        .and_then(|start| source[start..].find("*/").map(|end| start + end + 2))
        .unwrap_or(0)
}

/// The oracle header: the first block comment, starting `/* oracle: ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub verdict: Verdict,
    /// A Python expression; `mod` is the imported module.
    pub call: Option<String>,
    /// How many times `call` is measured (after the warm-up).
    pub repeat: u32,
    /// How many unmeasured calls come first, to fill caches.
    pub warmup: u32,
    /// Python statements run once, before the warm-up.
    pub setup: Vec<String>,
    pub breaks: Vec<Break>,
}

/// Default number of measured calls.
pub const DEFAULT_REPEAT: u32 = 1000;
/// Default number of warm-up calls.
pub const DEFAULT_WARMUP: u32 = 100;

/// The leading `# key: value` lines of a Cython fixture (up to the first line that is not
/// a comment, or is an empty `#`): their text without the `#`, and the byte offset after them.
fn pyx_header_lines(source: &str) -> Option<(String, usize)> {
    if !source.starts_with("# oracle:") {
        return None;
    }
    let mut body = String::new();
    let mut end = 0;
    for line in source.split_inclusive('\n') {
        let text = line.trim_end();
        match text.strip_prefix('#') {
            Some(rest) if !rest.trim().is_empty() => {
                body.push_str(rest);
                body.push('\n');
                end += line.len();
            }
            _ => break,
        }
    }
    Some((body, end))
}

impl Header {
    /// Parses the header of a fixture's source: a `/* oracle: ... */` comment (C) or leading
    /// `# oracle: ...` lines (Cython).
    pub fn parse(source: &str) -> Result<Header, String> {
        if let Some((body, _)) = pyx_header_lines(source) {
            return Header::parse_body(&body);
        }
        let start = source.find("/* oracle:").ok_or(
            "no oracle header (a `/* oracle: ... */` comment at the top, or `# oracle: ...` lines in a .pyx)",
        )?;
        let end = source[start..]
            .find("*/")
            .ok_or("the oracle header comment is not closed")?;
        Header::parse_body(&source[start + 2..start + end])
    }

    fn parse_body(body: &str) -> Result<Header, String> {
        let mut verdict = None;
        let mut call = None;
        let mut repeat = DEFAULT_REPEAT;
        let mut warmup = DEFAULT_WARMUP;
        let mut setup = Vec::new();
        let mut breaks = Vec::new();
        for raw in body.lines() {
            let line = raw.trim_start();
            let line = line.strip_prefix('*').unwrap_or(line).trim();
            if line.is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| format!("header line `{line}` is not `key: value`"))?;
            let value = value.trim();
            match key.trim() {
                "oracle" => verdict = Some(Verdict::parse(value)?),
                "call" => call = Some(value.to_string()),
                "repeat" => repeat = parse_count(key, value)?,
                "warmup" => warmup = parse_count(key, value)?,
                "setup" => setup.push(value.to_string()),
                "break" => breaks.push(Break::parse(value)?),
                other => return Err(format!("unknown header key `{other}`")),
            }
        }
        let verdict = verdict.ok_or("the header has no `oracle:` line")?;
        match (&verdict, &call) {
            (Verdict::StaticOnly(_), _) => {}
            (_, None) => return Err(format!("`oracle: {verdict}` needs a `call:` line")),
            _ => {}
        }
        if !breaks.is_empty() && verdict != Verdict::Clean {
            return Err("`break:` belongs in fixed twins (`oracle: clean`)".to_string());
        }
        Ok(Header {
            verdict,
            call,
            repeat,
            warmup,
            setup,
            breaks,
        })
    }
}

fn parse_count(key: &str, value: &str) -> Result<u32, String> {
    value
        .parse()
        .map_err(|_| format!("`{key}: {value}` is not a number"))
}

/// A fixture read from disk.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Path relative to the fixtures folder, with `/` separators: `CPY101/goto_error.c`.
    pub rel_path: String,
    pub path: PathBuf,
    pub source: String,
    pub fixed: bool,
    pub module: String,
    pub header: Result<Header, String>,
    pub expectations: Result<Vec<Expectation>, String>,
    pub lang: Lang,
}

impl Fixture {
    pub fn load(root: &Path, path: &Path) -> std::io::Result<Fixture> {
        let source = std::fs::read_to_string(path)?;
        let lang = Lang::of(path).unwrap_or(Lang::C);
        let rel_path = path
            .strip_prefix(root)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let module = module_name(&rel_path);
        Ok(Fixture {
            fixed: is_fixed(path),
            header: Header::parse(&source),
            expectations: expectations_in(&source, lang),
            lang,
            module,
            rel_path,
            path: path.to_path_buf(),
            source,
        })
    }

    /// Structural problems: header, expectations, module name and twin conventions.
    pub fn lint(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = &self.header {
            problems.push(e.clone());
        }
        match &self.expectations {
            Err(e) => problems.push(e.clone()),
            Ok(exp) if self.fixed && !exp.is_empty() => {
                problems.push("a fixed twin must have no `// expect:` comments".to_string())
            }
            Ok(exp) if !self.fixed && exp.is_empty() => {
                problems.push("a positive fixture needs at least one `// expect:`".to_string())
            }
            Ok(_) => {}
        }
        if let Ok(header) = &self.header {
            if self.fixed && header.verdict != Verdict::Clean {
                problems.push(format!(
                    "a fixed twin must be `oracle: clean`, not `{}`",
                    header.verdict
                ));
            }
            if !self.fixed && header.verdict == Verdict::Clean {
                problems.push("a positive fixture cannot be `oracle: clean`".to_string());
            }
        }
        if self.lang == Lang::Cython {
            // Cython names the module after the file and writes its init function.
            return problems;
        }
        let init = format!("PyInit_{}(void)", self.module);
        if !self.source.contains(&init) {
            problems.push(format!("module init must be `PyMODINIT_FUNC {init}`"));
        }
        let modname = format!("\"{}\"", self.module);
        if !self.source.contains(&modname) {
            problems.push(format!("the PyModuleDef must name the module {modname}"));
        }
        if !self.source.contains("#define PY_SSIZE_T_CLEAN") {
            problems.push("missing `#define PY_SSIZE_T_CLEAN`".to_string());
        }
        problems
    }
}

/// Loads every fixture under `root`.
pub fn load_all(root: &Path) -> std::io::Result<Vec<Fixture>> {
    discover(root)?
        .iter()
        .map(|p| Fixture::load(root, p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_expectations() {
        let src = "a;\nreturn NULL; // expect: CPY101\nx = f(g(), h()); // expect: CPY101, CPY101\n// plain comment\n";
        let exp = expectations(src).unwrap();
        assert_eq!(
            exp.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["2: CPY101", "3: CPY101", "3: CPY101"]
        );
        assert!(expectations("x; // expect: leak\n").is_err());
        assert!(expectations("x; // expected: CPY101\n").is_err());
    }

    #[test]
    fn reads_cython_headers_and_expectations() {
        let src = "# oracle: clean\n# call: mod.f()\n# break: s/a\\nb/b/ => crash\n#\n# prose: not a key\n#include <x>\nf()  # expect: CPY501\n";
        let h = Header::parse(src).unwrap();
        assert_eq!(h.verdict, Verdict::Clean);
        assert_eq!(h.breaks[0].find, "a\nb");
        assert!(src[header_end(src)..].starts_with("#\n# prose"));
        let e = expectations_in(src, Lang::Cython).unwrap();
        assert_eq!(
            e.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["7: CPY501"]
        );
        assert!(expectations_in("x  # expect CPY501\n", Lang::Cython).is_err());
    }

    #[test]
    fn compares_multisets() {
        let e = |line, code: &str| Expectation {
            line,
            code: code.to_string(),
        };
        let expected = [e(3, "CPY101"), e(3, "CPY101"), e(5, "CPY102")];
        assert!(compare(&expected, &[e(5, "CPY102"), e(3, "CPY101"), e(3, "CPY101")]).is_empty());
        assert_eq!(
            compare(&expected, &[e(3, "CPY101"), e(4, "CPY103")]),
            [
                "unexpected diagnostic CPY103 on line 4",
                "expected CPY101 on line 3, not reported",
                "expected CPY102 on line 5, not reported"
            ]
        );
    }

    #[test]
    fn parses_header() {
        let src = "/* oracle: leak\n * call: mod.f(x)\n * repeat: 500\n * setup: x = [1]\n * setup: y = 2\n */\n#include <Python.h>\n";
        let h = Header::parse(src).unwrap();
        assert_eq!(h.verdict, Verdict::Leak);
        assert_eq!(h.call.as_deref(), Some("mod.f(x)"));
        assert_eq!(h.repeat, 500);
        assert_eq!(h.setup, ["x = [1]", "y = 2"]);
        let s = Header::parse("/* oracle: static-only: needs malloc failure\n */").unwrap();
        assert_eq!(
            s.verdict,
            Verdict::StaticOnly("needs malloc failure".into())
        );
        assert!(Header::parse("/* oracle: leak\n */").is_err());
        assert!(Header::parse("/* oracle: clean\n * call: f()\n * colour: red\n */").is_err());
    }

    #[test]
    fn parses_and_applies_breaks() {
        let b = Break::parse("s/Py_DECREF(item);/;/ => leak").unwrap();
        assert_eq!(b.expect, Verdict::Leak);
        assert_eq!(
            b.apply("Py_DECREF(item); Py_DECREF(item);").unwrap(),
            "; Py_DECREF(item);"
        );
        let multi = Break::parse(r"s/a;\n  b;/b;\n  a;/ => use-after-free").unwrap();
        assert_eq!(multi.apply("a;\n  b;").unwrap(), "b;\n  a;");
        let g = Break::parse("s|a/b|c|g => crash").unwrap();
        assert_eq!(g.apply("a/b a/b").unwrap(), "c c");
        assert!(b.apply("nothing").is_err());
        let with_header = "/* oracle: clean\n * break: s/f();/;/ => leak\n */\nf();\n";
        let broken = Break::parse("s/f();/;/ => leak")
            .unwrap()
            .apply(with_header)
            .unwrap();
        assert!(broken.ends_with("*/\n;\n"), "{broken}");
        assert!(Break::parse("s/x/y/ => clean").is_err());
        assert!(Break::parse("x/y => leak").is_err());
    }

    #[test]
    fn module_names_follow_paths() {
        assert_eq!(module_name("CPY101/goto_error.c"), "cpy101_goto_error");
        assert_eq!(
            module_name("CPY101/goto_error.fixed.c"),
            "cpy101_goto_error_fixed"
        );
        assert_eq!(
            module_name("seeds/003_make_tuple.c"),
            "seeds_003_make_tuple"
        );
        assert_eq!(group("seeds/003_make_tuple.c"), "seeds");
        assert_eq!(module_name("CPY501/cycle.fixed.pyx"), "cpy501_cycle_fixed");
        let pyx = Path::new("CPY501/cycle.pyx");
        assert!(!is_fixed(pyx));
        assert_eq!(twin_path(pyx), Path::new("CPY501/cycle.fixed.pyx"));
        assert!(is_fixed(&twin_path(pyx)));
    }
}
