//! The resolved settings: a configuration file's options merged with the command line's
//! overrides, validated, and compiled into what the run uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cpycheck_contracts::annotation::{Annotation, KNOWN_ANNOTATIONS, parse_annotations};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::discovery::{ConfigError, ConfigFile, absolute};
use crate::python_version::parse_python_version;
use crate::selection::{RuleFilter, normalise};
use crate::suppression::UNUSED_SUPPRESSION;

/// The default target Python version.
pub const DEFAULT_PYTHON_VERSION: (u8, u8) = (3, 13);

/// What the command line says. `None` (or `false`) leaves the configuration's value; a
/// value replaces it.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub select: Option<Vec<String>>,
    pub ignore: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    /// `--extend-select`, `--extend-ignore`, `--extend-exclude`: added to the lists.
    pub extend_select: Vec<String>,
    pub extend_ignore: Vec<String>,
    pub extend_exclude: Vec<String>,
    pub python_version: Option<(u8, u8)>,
    /// `--warn-unused-ignores`: turns the check on whatever the configuration says.
    pub warn_unused_ignores: bool,
    /// `--preview`: turns the preview rules on whatever the configuration says.
    pub preview: bool,
}

/// Everything a run needs to know, with the configuration's patterns compiled.
#[derive(Debug)]
pub struct Resolved {
    /// The configuration file used, if any.
    pub config_path: Option<PathBuf>,
    /// The analysis settings (Python version, user contracts).
    pub settings: cpycheck_rules::Settings,
    pub filter: RuleFilter,
    pub warn_unused_ignores: bool,
    /// Things the user should know that are not errors (a preview rule selected without
    /// preview), for the CLI to print as warnings.
    pub warnings: Vec<String>,
    /// Sources larger than this many bytes are not analysed (`max-file-size`).
    pub max_file_size: u64,
    /// The directory relative patterns are relative to: the configuration file's, or the
    /// current directory.
    root: PathBuf,
    exclude: PathMatcher,
    /// The `exclude` patterns in force, as written (for `--show-settings`).
    pub exclude_patterns: Vec<String>,
    per_file_ignores: Vec<(PathMatcher, Vec<String>)>,
}

impl Resolved {
    /// Merges `config` (if any) with `overrides`. Errors name the file and key, or the
    /// command-line option. `cwd` is the root for patterns when there is no file.
    pub fn new(
        config: Option<&ConfigFile>,
        overrides: &Overrides,
        cwd: &Path,
    ) -> Result<Resolved, ConfigError> {
        let options = config.map(|c| c.options.clone()).unwrap_or_default();
        let config_path = config.map(|c| c.path.clone());
        let in_file = |message: String| ConfigError {
            path: config_path.clone(),
            message,
        };
        let on_cli = |message: String| ConfigError {
            path: None,
            message,
        };

        // Each list is validated where it came from, so the error names the option or key.
        // A command-line list replaces the configuration's list and its `extend-` list;
        // the `--extend-` options add to whatever is left.
        let file_list = |list: &Option<Vec<String>>, key: &str| {
            normalise(list.as_deref().unwrap_or_default(), &format!("`{key}`")).map_err(in_file)
        };
        let cli_list = |list: &[String], flag: &str| normalise(list, flag).map_err(on_cli);
        let (select, mut extend_select) = match &overrides.select {
            Some(codes) => (cli_list(codes, "--select")?, Vec::new()),
            None => (
                file_list(&options.select, "select")?,
                file_list(&options.extend_select, "extend-select")?,
            ),
        };
        extend_select.extend(cli_list(&overrides.extend_select, "--extend-select")?);
        let mut ignore = match &overrides.ignore {
            Some(codes) => cli_list(codes, "--ignore")?,
            None => {
                let mut both = file_list(&options.ignore, "ignore")?;
                both.extend(file_list(&options.extend_ignore, "extend-ignore")?);
                both
            }
        };
        ignore.extend(cli_list(&overrides.extend_ignore, "--extend-ignore")?);

        let preview = overrides.preview || options.preview.unwrap_or(false);
        let mut warnings = Vec::new();
        if !preview {
            for code in select
                .iter()
                .chain(&extend_select)
                .filter(|c| crate::selection::is_preview(c))
            {
                warnings.push(format!(
                    "{code} is a preview rule: it is not reported without `--preview` \
                     (or `preview = true` in the configuration)"
                ));
            }
        }
        let filter = RuleFilter::from_normalised(select, ignore)
            .with_extend(extend_select)
            .with_preview(preview);

        // Exclude patterns, each list checked on its own so that the error names it.
        let mut exclude_patterns: Vec<String> = Vec::new();
        let file_patterns = |list: &Option<Vec<String>>, key: &str| {
            let list = list.clone().unwrap_or_default();
            PathMatcher::new(&list).map_err(|m| in_file(format!("`{key}`: {m}")))?;
            Ok::<_, ConfigError>(list)
        };
        let cli_patterns = |list: &[String], flag: &str| {
            PathMatcher::new(list).map_err(|m| on_cli(format!("{flag}: {m}")))?;
            Ok::<_, ConfigError>(list.to_vec())
        };
        match &overrides.exclude {
            Some(patterns) => exclude_patterns.extend(cli_patterns(patterns, "--exclude")?),
            None => {
                exclude_patterns.extend(file_patterns(&options.exclude, "exclude")?);
                exclude_patterns.extend(file_patterns(&options.extend_exclude, "extend-exclude")?);
            }
        }
        exclude_patterns.extend(cli_patterns(&overrides.extend_exclude, "--extend-exclude")?);
        let exclude = PathMatcher::new(&exclude_patterns).map_err(on_cli)?;

        let python_version = match (overrides.python_version, &options.python_version) {
            (Some(version), _) => version,
            (None, Some(text)) => parse_python_version(text)
                .map_err(|m| in_file(format!("`python-version = {text:?}`: {m}")))?,
            (None, None) => DEFAULT_PYTHON_VERSION,
        };

        let mut per_file_ignores = Vec::new();
        for (pattern, codes) in options.per_file_ignores.iter().flatten() {
            let origin = format!("`per-file-ignores` entry {pattern:?}");
            let matcher = PathMatcher::new(std::slice::from_ref(pattern))
                .map_err(|m| in_file(format!("{origin}: {m}")))?;
            let codes = normalise(codes, &origin).map_err(in_file)?;
            per_file_ignores.push((matcher, codes));
        }

        let mut contracts = BTreeMap::new();
        for (name, value) in options.contracts.iter().flatten() {
            let annotations =
                contract(name, value).map_err(|m| in_file(format!("`contracts.{name}`: {m}")))?;
            contracts.insert(name.clone(), annotations);
        }

        let max_file_size = match &options.max_file_size {
            Some(value) => {
                file_size(value).map_err(|m| in_file(format!("`max-file-size`: {m}")))?
            }
            None => crate::read::DEFAULT_MAX_FILE_SIZE,
        };

        Ok(Resolved {
            max_file_size,
            settings: cpycheck_rules::Settings {
                python_version,
                contracts,
            },
            // `CPY001` is reported when asked for by the option, or selected by its code
            // (`--extend-select CPY001`, as ruff's `RUF100`), and not ignored.
            warn_unused_ignores: (overrides.warn_unused_ignores
                || options.warn_unused_ignores.unwrap_or(false)
                || filter.names(UNUSED_SUPPRESSION.code))
                && !filter.ignores(UNUSED_SUPPRESSION.code),
            filter,
            exclude_patterns,
            warnings,
            root: config.map_or_else(|| absolute(cwd), |c| c.dir().to_path_buf()),
            config_path,
            exclude,
            per_file_ignores,
        })
    }

    /// Whether `path` (a file or directory, relative to the current directory or
    /// absolute) matches an `exclude` pattern.
    pub fn is_excluded(&self, path: &Path) -> bool {
        self.exclude.is_match(&self.relative(path))
    }

    /// Whether diagnostics of rule `code` in the file at `path` are reported: the rule
    /// selection, then `per-file-ignores`.
    pub fn allows(&self, path: &Path, code: &str) -> bool {
        if !self.filter.allows(code) {
            return false;
        }
        if self.per_file_ignores.is_empty() {
            return true;
        }
        let relative = self.relative(path);
        !self.per_file_ignores.iter().any(|(matcher, codes)| {
            codes.iter().any(|c| code.starts_with(c.as_str())) && matcher.is_match(&relative)
        })
    }

    /// `path` relative to the root, or absolute when it is outside it.
    fn relative(&self, path: &Path) -> PathBuf {
        let path = absolute(path);
        match path.strip_prefix(&self.root) {
            Ok(rel) => rel.to_path_buf(),
            Err(_) => path,
        }
    }
}

/// Parses one `[contracts]` entry: a C identifier naming a string of comma-separated words
/// or a list of words.
fn contract(name: &str, value: &toml::Value) -> Result<Vec<Annotation>, String> {
    let is_ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_ident {
        return Err("the key must be a C function name".into());
    }
    let words: Vec<&str> = match value {
        toml::Value::String(s) => vec![s.as_str()],
        toml::Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| format!("expected a string, found {}", item.type_str()))
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "expected a string or a list of strings, found {} (words: {})",
                other.type_str(),
                KNOWN_ANNOTATIONS.join(", ")
            ));
        }
    };
    let mut out = Vec::new();
    for word in words {
        out.extend(parse_annotations(word)?);
    }
    if out.is_empty() {
        return Err(format!(
            "no contract given (words: {})",
            KNOWN_ANNOTATIONS.join(", ")
        ));
    }
    Ok(out)
}

/// Glob patterns over paths relative to the root, gitignore-like: a pattern without `/`
/// matches a file or directory name anywhere (`build`, `*_gen.c`); a pattern with `/` is
/// anchored at the root (`src/vendor`, `src/**/*.h`). A pattern that matches a directory
/// also matches everything under it. `*` does not cross `/`; `**` does.
#[derive(Debug)]
struct PathMatcher {
    set: GlobSet,
}

impl PathMatcher {
    fn new(patterns: &[String]) -> Result<PathMatcher, String> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let trimmed = pattern.trim();
            let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
            let trimmed = trimmed.trim_end_matches('/');
            if trimmed.is_empty() {
                return Err(format!("empty pattern {pattern:?}"));
            }
            let anchored = trimmed.contains('/');
            let base = if anchored {
                trimmed.trim_start_matches('/').to_string()
            } else {
                format!("**/{trimmed}")
            };
            for glob in [base.clone(), format!("{base}/**")] {
                let compiled = GlobBuilder::new(&glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("bad glob pattern {pattern:?}: {}", e.kind()))?;
                builder.add(compiled);
            }
        }
        let set = builder.build().map_err(|e| e.to_string())?;
        Ok(PathMatcher { set })
    }

    fn is_match(&self, path: &Path) -> bool {
        !self.set.is_empty() && self.set.is_match(path)
    }
}

/// `max-file-size`: a positive number of bytes, or a string of a number and an optional unit
/// (`KiB`, `MiB`, `GiB`).
fn file_size(value: &toml::Value) -> Result<u64, String> {
    let size = match value {
        toml::Value::Integer(n) => u64::try_from(*n).unwrap_or(0),
        toml::Value::String(text) => {
            let trimmed = text.trim();
            let digits = trimmed
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(trimmed.len());
            let (number, unit) = trimmed.split_at(digits);
            let scale: u64 = match unit.trim() {
                "" => 1,
                "KiB" => 1 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                _ => 0,
            };
            match number.parse::<u64>() {
                Ok(n) if scale > 0 => n.saturating_mul(scale),
                _ => {
                    return Err(format!(
                        "`{text}` is not a size: write a number of bytes, or a number and \
                         `KiB`, `MiB` or `GiB` (\"20MiB\")"
                    ));
                }
            }
        }
        other => {
            return Err(format!(
                "expected a number of bytes or a string such as \"20MiB\", found {} `{other}`",
                other.type_str()
            ));
        }
    };
    if size == 0 {
        return Err("must be at least 1 byte".to_string());
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;

    fn resolved(toml_text: &str, overrides: &Overrides) -> Result<Resolved, ConfigError> {
        let options: Options = toml::from_str(toml_text).map_err(|e| ConfigError {
            path: None,
            message: e.to_string(),
        })?;
        let config = ConfigFile {
            path: PathBuf::from("/project/cpycheck.toml"),
            options,
        };
        Resolved::new(Some(&config), overrides, Path::new("/elsewhere"))
    }

    #[test]
    fn exclude_patterns() {
        let r = resolved(
            r#"exclude = ["build", "*_gen.c", "src/vendor/", "./third/**/*.h"]"#,
            &Overrides::default(),
        )
        .unwrap();
        for excluded in [
            "/project/build",
            "/project/build/x.c",
            "/project/src/build/y.c",
            "/project/src/a_gen.c",
            "/project/src/vendor/z.c",
            "/project/third/a/b/c.h",
            "/project/third/c.h",
        ] {
            assert!(r.is_excluded(Path::new(excluded)), "{excluded}");
        }
        for kept in [
            "/project/src/main.c",
            "/project/src/gen.c",
            "/project/lib/src/vendor/z.c",
            "/project/third/c.c",
            "/project/buildx/a.c",
        ] {
            assert!(!r.is_excluded(Path::new(kept)), "{kept}");
        }
    }

    #[test]
    fn command_line_replaces_configuration() {
        let text = r#"select = ["CPY101"]
ignore = ["CPY105"]
python-version = "3.9"
exclude = ["build"]
"#;
        let r = resolved(text, &Overrides::default()).unwrap();
        assert_eq!(r.settings.python_version, (3, 9));
        assert!(r.filter.allows("CPY101") && !r.filter.allows("CPY105"));
        assert!(r.is_excluded(Path::new("/project/build/a.c")));
        let overrides = Overrides {
            select: Some(vec!["CPY105".into()]),
            ignore: Some(vec![]),
            exclude: Some(vec![]),
            python_version: Some((3, 12)),
            warn_unused_ignores: true,
            preview: true,
            ..Overrides::default()
        };
        let r = resolved(text, &overrides).unwrap();
        assert_eq!(r.settings.python_version, (3, 12));
        assert!(!r.filter.allows("CPY101") && r.filter.allows("CPY105"));
        assert!(!r.is_excluded(Path::new("/project/build/a.c")));
        assert!(r.warn_unused_ignores);
    }

    #[test]
    fn per_file_ignores() {
        let text = r#"[per-file-ignores]
"gen/*.c" = ["CPY1"]
"legacy.c" = ["use-after-steal"]
"#;
        let r = resolved(text, &Overrides::default()).unwrap();
        assert!(!r.allows(Path::new("/project/gen/a.c"), "CPY101"));
        assert!(r.allows(Path::new("/project/gen/sub/a.c"), "CPY101"));
        assert!(!r.allows(Path::new("/project/x/legacy.c"), "CPY105"));
        assert!(r.allows(Path::new("/project/x/legacy.c"), "CPY101"));
        assert!(r.allows(Path::new("/project/main.c"), "CPY101"));
    }

    #[test]
    fn contracts_are_parsed() {
        let text = r#"[contracts]
lookup_cached = "returns-borrowed"
stack_push = ["steals(item)", "returns-status"]
both = "no-python, returns-new"
"#;
        let r = resolved(text, &Overrides::default()).unwrap();
        let c = &r.settings.contracts;
        assert_eq!(c["lookup_cached"], vec![Annotation::ReturnsBorrowed]);
        assert_eq!(c["stack_push"].len(), 2);
        assert_eq!(
            c["both"],
            vec![Annotation::NoPython, Annotation::ReturnsNew]
        );
    }

    #[test]
    fn max_file_size_takes_bytes_or_units() {
        let size = |text: &str| resolved(text, &Overrides::default()).unwrap().max_file_size;
        assert_eq!(size(""), crate::read::DEFAULT_MAX_FILE_SIZE);
        assert_eq!(size("max-file-size = 1000"), 1000);
        assert_eq!(size("max-file-size = \"512KiB\""), 512 * 1024);
        assert_eq!(size("max-file-size = \"20 MiB\""), 20 * 1024 * 1024);
        assert_eq!(size("max-file-size = \"1GiB\""), 1 << 30);
        assert_eq!(size("max-file-size = \"77\""), 77);
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            (
                "max-file-size = 0",
                "`max-file-size`: must be at least 1 byte",
            ),
            (
                "max-file-size = -3",
                "`max-file-size`: must be at least 1 byte",
            ),
            ("max-file-size = \"20MB\"", "`max-file-size`: `20MB`"),
            ("max-file-size = 2.5", "`max-file-size`: expected"),
            ("select = [\"CPY999\"]", "`CPY999` in `select`"),
            ("ignore = [\"nope\"]", "`nope` in `ignore`"),
            ("python-version = \"2.7\"", "`python-version = \"2.7\"`"),
            ("exclude = [\"a[\"]", "`exclude`: bad glob pattern"),
            (
                "[per-file-ignores]\n\"a.c\" = [\"CPY9\"]",
                "`per-file-ignores` entry \"a.c\"",
            ),
            (
                "[contracts]\nf = \"returns-newish\"",
                "`contracts.f`: unknown contract `returns-newish`",
            ),
            (
                "[contracts]\nf = 3",
                "`contracts.f`: expected a string or a list",
            ),
            (
                "[contracts]\nf = [\"steals(0)\"]",
                "`contracts.f`: `steals(0)`",
            ),
            (
                "[contracts]\n\"not a name\" = \"returns-new\"",
                "C function name",
            ),
            ("[contracts]\nf = []", "no contract given"),
        ];
        for (text, expected) in cases {
            let err = resolved(text, &Overrides::default()).unwrap_err();
            assert_eq!(
                err.path.as_deref(),
                Some(Path::new("/project/cpycheck.toml")),
                "{text}"
            );
            assert!(err.message.contains(expected), "{text}: {}", err.message);
        }
        let overrides = Overrides {
            select: Some(vec!["CPY999".into()]),
            ..Overrides::default()
        };
        let err = resolved("", &overrides).unwrap_err();
        assert_eq!(err.path, None);
        assert!(err.message.contains("in --select"), "{}", err.message);
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let err = toml::from_str::<Options>("selekt = [\"CPY1\"]\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `selekt`"), "{err}");
        let err = toml::from_str::<crate::options::PyProject>(
            "[tool.black]\nline-length = 3\n[tool.cpycheck]\npython_version = \"3.9\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `python_version`"),
            "{err}"
        );
    }
}
