//! Finding and reading the configuration file. This module reads configuration files and
//! nothing else; the analysed sources are read by the CLI.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::options::{Options, PyProject};

/// The dedicated configuration file; it wins over `pyproject.toml` in the same directory.
pub const CPYCHECK_TOML: &str = "cpycheck.toml";
/// The Python project file, read only when it has a `[tool.cpycheck]` table.
pub const PYPROJECT_TOML: &str = "pyproject.toml";

/// A configuration file that was found and read.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// The file, absolute.
    pub path: PathBuf,
    pub options: Options,
}

impl ConfigFile {
    /// The directory that relative patterns in the file are relative to.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }
}

/// A configuration problem: a file that cannot be read or says something invalid, or a
/// bad command-line value (`path` is `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: Option<PathBuf>,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn in_file(path: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: Some(path.to_path_buf()),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}: {}", path.display(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Looks for the configuration of `start` (a file or directory): in its directory and
/// then in each parent, the first `cpycheck.toml`, or `pyproject.toml` with a
/// `[tool.cpycheck]` table. `Ok(None)` when there is none up to the root.
pub fn discover(start: &Path) -> Result<Option<ConfigFile>, ConfigError> {
    let start = absolute(start);
    let first = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    for dir in first.into_iter().flat_map(Path::ancestors) {
        let dedicated = dir.join(CPYCHECK_TOML);
        if dedicated.is_file() {
            return load(&dedicated).map(Some);
        }
        let pyproject = dir.join(PYPROJECT_TOML);
        if pyproject.is_file()
            && let Some(found) = read_pyproject(&pyproject)?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Reads a configuration file named explicitly (`--config`). A `pyproject.toml` without a
/// `[tool.cpycheck]` table is an error here.
pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    let path = absolute(path);
    if path.file_name().is_some_and(|n| n == PYPROJECT_TOML) {
        return read_pyproject(&path)?.ok_or_else(|| {
            ConfigError::in_file(&path, "no [tool.cpycheck] table in this pyproject.toml")
        });
    }
    let text = read(&path)?;
    let options = toml::from_str::<Options>(&text)
        .map_err(|e| ConfigError::in_file(&path, toml_error(&e)))?;
    Ok(ConfigFile { path, options })
}

fn read_pyproject(path: &Path) -> Result<Option<ConfigFile>, ConfigError> {
    let text = read(path)?;
    let project = toml::from_str::<PyProject>(&text)
        .map_err(|e| ConfigError::in_file(path, toml_error(&e)))?;
    Ok(project
        .tool
        .and_then(|t| t.cpycheck)
        .map(|options| ConfigFile {
            path: path.to_path_buf(),
            options,
        }))
}

fn read(path: &Path) -> Result<String, ConfigError> {
    crate::read::read_config_text(path).map_err(|message| ConfigError::in_file(path, message))
}

/// toml's message names the key and shows the line; keep it, without a trailing newline.
fn toml_error(err: &toml::de::Error) -> String {
    err.to_string().trim_end().to_string()
}

/// `path` made absolute against the current directory, with `.` and `..` resolved
/// lexically (so that a path relative to a symlinked directory keeps its meaning).
pub fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    normalise(&joined)
}

/// Removes `.` components and resolves `..` lexically.
pub fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
