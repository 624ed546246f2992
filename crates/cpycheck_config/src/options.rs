//! The options layer: what a configuration file says, as written. Unknown keys are errors.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `cpycheck.toml` file, or the `[tool.cpycheck]` table of `pyproject.toml`.
///
/// ```toml
/// select = ["CPY1"]
/// ignore = ["CPY104"]
/// exclude = ["build", "vendor/**/*.c"]
/// python-version = "3.9"
/// warn-unused-ignores = true
/// preview = true
/// max-file-size = "20MiB"
///
/// [per-file-ignores]
/// "src/generated/*.c" = ["CPY101"]
///
/// [contracts]
/// lookup_cached = "returns-borrowed"
/// stack_push = ["steals(item)", "returns-status"]
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// Report only these rules: codes, code prefixes or rule names.
    pub select: Option<Vec<String>>,
    /// Rules to report in addition to `select` (or to the default selection).
    pub extend_select: Option<Vec<String>>,
    /// Do not report these rules.
    pub ignore: Option<Vec<String>>,
    /// Rules not to report, in addition to `ignore`.
    pub extend_ignore: Option<Vec<String>>,
    /// Glob patterns of files and directories not to analyse, relative to the directory of
    /// the configuration file.
    pub exclude: Option<Vec<String>>,
    /// Patterns not to analyse, in addition to `exclude`.
    pub extend_exclude: Option<Vec<String>>,
    /// Target Python version, `"X.Y"`.
    #[serde(default, deserialize_with = "version_string")]
    pub python_version: Option<String>,
    /// Rules not to report in the files matching a glob pattern.
    pub per_file_ignores: Option<BTreeMap<String, Vec<String>>>,
    /// Report suppression comments that suppressed nothing.
    pub warn_unused_ignores: Option<bool>,
    /// Report the preview rules too (off by default).
    pub preview: Option<bool>,
    /// Sources larger than this are not analysed (a per-file error): a number of bytes, or
    /// a string with a unit, `"512KiB"`, `"20MiB"`, `"1GiB"`. Kept as a TOML value here so
    /// that a bad value is reported with its key.
    pub max_file_size: Option<toml::Value>,
    /// Ownership contracts of the project's own functions: a string of comma-separated
    /// words or a list of words (`returns-new`, `steals(item)`, ...). Kept as TOML values
    /// here so that a bad entry is reported with its key.
    pub contracts: Option<BTreeMap<String, toml::Value>>,
}

/// `python-version` must be a string: the TOML number `3.10` is the float 3.1.
fn version_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::String(s) => Ok(Some(s)),
        other => Err(serde::de::Error::custom(format!(
            "expected the version as a string, e.g. `python-version = \"3.10\"`, found {} `{other}`",
            other.type_str()
        ))),
    }
}

/// `pyproject.toml`: only `[tool.cpycheck]` is read; everything else is someone else's.
#[derive(Debug, Deserialize)]
pub(crate) struct PyProject {
    pub tool: Option<PyProjectTool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PyProjectTool {
    pub cpycheck: Option<Options>,
}
