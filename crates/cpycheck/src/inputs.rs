//! The files of a run: the user's paths expanded into files (walked, excluded, deduplicated
//! by real path), their names escaped for display, and each file read once, safely.
//!
//! **Symbolic links.** A path named on the command line is followed wherever it leads. The
//! walk does not enter symlinked directories, and follows a symlinked file (also one that
//! leads outside the given roots) only to a regular file: [`read_source`] refuses FIFOs,
//! devices and sockets, so a link to `/dev/zero` or to a FIFO is a per-file error, never a
//! hang or an endless read. Two paths that lead to the same file are analysed once, under
//! the display name that sorts first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cpycheck_config::Resolved;
use cpycheck_config::read::{Binary, ReadError, read_file};
use ignore::WalkBuilder;

/// A file to analyse, or a path that could not be searched.
#[derive(Debug)]
pub enum Input {
    /// `base`: the command-line folder it was found under, or its own folder.
    File {
        display: String,
        path: PathBuf,
        base: PathBuf,
    },
    Error {
        display: String,
        message: String,
    },
}

impl Input {
    pub fn display(&self) -> &str {
        match self {
            Input::File { display, .. } | Input::Error { display, .. } => display,
        }
    }
}

/// Expands the user's paths into files: explicit files as given, directories walked for
/// `.c`/`.h` and Cython `.pyx`/`.pxd`/`.pxi` files honouring `.gitignore` (also outside git
/// repositories), `.ignore` and hidden-file rules. Paths matching `exclude` are left out,
/// also when named explicitly (so that a pre-commit hook, which names files, honours it).
/// A file reached by several paths is kept once, by its real (canonical) path.
pub fn collect_inputs(paths: &[PathBuf], resolved: &Arc<Resolved>) -> Vec<Input> {
    let mut inputs = Vec::new();
    for path in paths {
        let display = escape_path(path);
        if resolved.is_excluded(path) {
            continue;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, resolved, &mut inputs),
            Ok(_) => inputs.push(Input::File {
                display,
                path: path.clone(),
                base: path.parent().map_or_else(PathBuf::new, Path::to_path_buf),
            }),
            Err(err) => {
                let message = if path.symlink_metadata().is_ok() {
                    format!("broken symbolic link: {err}")
                } else {
                    format!("cannot open: {err}")
                };
                inputs.push(Input::Error { display, message });
            }
        }
    }
    dedup(inputs)
}

/// Sorted by display name; a file reached twice (the same real path) or an error shown
/// twice (the same display name) is kept once.
fn dedup(inputs: Vec<Input>) -> Vec<Input> {
    let mut keyed: Vec<(Input, Option<PathBuf>)> = inputs
        .into_iter()
        .map(|input| {
            let real = match &input {
                Input::File { path, .. } => std::fs::canonicalize(path).ok(),
                Input::Error { .. } => None,
            };
            (input, real)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.display().cmp(b.0.display()));
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Input> = Vec::with_capacity(keyed.len());
    for (input, real) in keyed {
        let first = match &real {
            Some(real) => seen.insert(real.clone()),
            None => out
                .last()
                .is_none_or(|last| last.display() != input.display()),
        };
        if first {
            out.push(input);
        }
    }
    out
}

fn walk(root: &Path, resolved: &Arc<Resolved>, inputs: &mut Vec<Input>) {
    let resolved = Arc::clone(resolved);
    let walker = WalkBuilder::new(root)
        .require_git(false)
        .filter_entry(move |entry| entry.depth() == 0 || !resolved.is_excluded(entry.path()))
        .build();
    for entry in walker {
        match entry {
            Ok(entry) => {
                let Some(file_type) = entry.file_type() else {
                    continue;
                };
                let is_source = entry
                    .path()
                    .extension()
                    .is_some_and(|ext| ["c", "h", "pyx", "pxd", "pxi"].iter().any(|e| ext == *e));
                if is_source && (file_type.is_file() || file_type.is_symlink()) {
                    inputs.push(Input::File {
                        display: display_path(entry.path()),
                        path: entry.into_path(),
                        base: root.to_path_buf(),
                    });
                }
            }
            Err(err) => inputs.push(Input::Error {
                display: error_path(&err).map_or_else(|| escape_path(root), display_path),
                message: format!("cannot search: {}", error_message(&err)),
            }),
        }
    }
}

/// Paths found under `.` are shown without the leading `./`.
fn display_path(path: &Path) -> String {
    let text = escape_path(path);
    match text.strip_prefix("./") {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => text,
    }
}

/// A path as shown in every output: control characters are escaped (`\x1b`, `\u{85}`), and
/// so are bytes that are not UTF-8 (`\xff`), so two names that differ only in such bytes
/// stay apart and nothing reaches the terminal raw.
pub fn escape_path(path: &Path) -> String {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    #[cfg(not(unix))]
    let lossy = path.to_string_lossy();
    #[cfg(not(unix))]
    let bytes = lossy.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                if (c as u32) < 0x80 {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                } else {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child),
        _ => None,
    }
}

fn error_message(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => error_message(err),
        _ => err.to_string(),
    }
}

/// A source file's bytes (see [`read_file`]), or the message of the file's error entry.
pub fn read_source(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    read_file(path, limit, Binary::Reject).map_err(|err| source_error(&err))
}

fn source_error(err: &ReadError) -> String {
    match err {
        ReadError::Io(_) => err.to_string(),
        ReadError::TooLarge { size, limit } => format!(
            "too large ({size} bytes; the limit is {limit} bytes, set by `max-file-size`); \
             not analysed"
        ),
        ReadError::NotRegular(_) | ReadError::Binary => format!("{err}; not analysed"),
    }
}

/// The `.pxd` of the same name next to a `.pyx`, which Cython reads with it: `Ok(None)`
/// when there is none, `Err` (the message of the module's error entry) when there is one
/// that cannot be used (not a regular file, too large, binary, unreadable); the module is
/// then analysed on its own.
pub fn companion_pxd(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, String> {
    if path.extension().is_none_or(|e| e != "pyx") {
        return Ok(None);
    }
    let pxd = path.with_extension("pxd");
    match read_file(&pxd, limit, Binary::Reject) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(format!(
            "companion {} not read: {}; the module was analysed without it",
            escape_path(pxd.file_name().map_or(pxd.as_ref(), Path::new)),
            source_error(&err)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape_path(Path::new("src/a b.c")), "src/a b.c");
        assert_eq!(escape_path(Path::new("a\x1b[31m.c")), "a\\x1b[31m.c");
        assert_eq!(escape_path(Path::new("a\u{85}é.c")), "a\\u{85}é.c");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let a = escape_path(Path::new(std::ffi::OsStr::from_bytes(b"x\xff.c")));
            let b = escape_path(Path::new(std::ffi::OsStr::from_bytes(b"x\xfe.c")));
            assert_eq!((a.as_str(), b.as_str()), ("x\\xff.c", "x\\xfe.c"));
        }
    }
}
