//! Finding and reading the package's own headers, once per run.
//!
//! An `#include` in an analysed file (or in a header it includes) gives its macros to the
//! file when it names a header of the file's *project*. The project root is the nearest
//! folder, from the file upwards, that holds `pyproject.toml`, `setup.py` or `setup.cfg`;
//! without one, the folder named on the command line that the file was found under (the
//! file's own folder for a file named explicitly). A name is looked up, first hit wins:
//!
//! 1. for `#include "x.h"` only: the folder of the file or header that includes it;
//! 2. each folder from there up to the project root, nearest first, and its `include/`
//!    subfolder;
//! 3. the other headers under the project root (searched once, honouring `.gitignore`,
//!    bounded): the one whose path ends with the name, if only one does, else the one
//!    sharing the longest folder prefix with the includer, if only one does.
//!
//! A header outside the project root, larger than [`MAX_HEADER_BYTES`], unreadable, binary
//! or not UTF-8 contributes nothing (and never stops the file's analysis). Headers are read
//! at most once per run, whichever thread asks first, and shared; so is where a name is
//! found from a folder.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cpycheck_source::{Header, Includes};

/// Headers larger than this are not read.
pub const MAX_HEADER_BYTES: u64 = 2 * 1024 * 1024;

/// Files that mark a project root.
const PROJECT_MARKERS: &[&str] = &["pyproject.toml", "setup.py", "setup.cfg"];

/// Bounds of the search for headers under a project root.
const MAX_INDEX_ENTRIES: usize = 50_000;
const MAX_INDEX_DEPTH: usize = 12;

/// Extensions of the files indexed for step 3.
const HEADER_EXTENSIONS: &[&str] = &["h", "hh", "hpp", "inc"];

type Shared<T> = Arc<OnceLock<T>>;

/// The run's cache of headers and project roots, shared by every analysis thread.
#[derive(Default)]
pub struct HeaderCache {
    /// Absolute path → the header, or `None` when it could not be used.
    headers: Mutex<HashMap<PathBuf, Shared<Option<Arc<Header>>>>>,
    /// Folder → the project root above it, if a marker says so.
    roots: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
    /// Project root → its headers, by file name.
    indexes: Mutex<HashMap<PathBuf, Shared<Index>>>,
    /// Headers that could not be used, with the reason (for debug output).
    notes: Mutex<Vec<String>>,
    /// Where a name is found: (project root, includer's folder, name, angled) → path.
    /// Every file of a package asks the same questions; the answer is the same each time.
    located: Mutex<HashMap<LocateKey, Option<PathBuf>>>,
}

type LocateKey = (PathBuf, PathBuf, String, bool);

/// The headers under a project root, by file name.
#[derive(Default)]
struct Index {
    by_name: HashMap<OsString, Vec<PathBuf>>,
}

impl HeaderCache {
    /// The resolver for one analysed file. `base` is the command-line folder it was found
    /// under (or its own folder), the project root when no marker is found.
    pub fn for_file(&self, file: &Path, base: &Path) -> FileIncludes<'_> {
        let file = absolute(file);
        let dir = file.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        let root = self.marked_root(&dir).unwrap_or_else(|| absolute(base));
        // A base that does not hold the file (a file named explicitly) is no root.
        let root = if dir.starts_with(&root) {
            root
        } else {
            dir.clone()
        };
        FileIncludes {
            cache: self,
            dir,
            root,
        }
    }

    /// Why the headers that could not be used were refused, in the order met.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    fn marked_root(&self, dir: &Path) -> Option<PathBuf> {
        if let Some(found) = self.roots.lock().ok()?.get(dir) {
            return found.clone();
        }
        let found = dir
            .ancestors()
            .find(|d| PROJECT_MARKERS.iter().any(|m| d.join(m).is_file()))
            .map(Path::to_path_buf);
        if let Ok(mut roots) = self.roots.lock() {
            roots.insert(dir.to_path_buf(), found.clone());
        }
        found
    }

    fn header(&self, path: &Path) -> Option<Arc<Header>> {
        let slot = {
            let mut headers = self.headers.lock().ok()?;
            Arc::clone(headers.entry(path.to_path_buf()).or_default())
        };
        slot.get_or_init(|| match read_header(path) {
            Ok(h) => Some(Arc::new(h)),
            Err(why) => {
                if let Ok(mut notes) = self.notes.lock() {
                    notes.push(format!("{}: {why}", path.display()));
                }
                None
            }
        })
        .clone()
    }

    fn index(&self, root: &Path) -> Option<Shared<Index>> {
        let slot = {
            let mut indexes = self.indexes.lock().ok()?;
            Arc::clone(indexes.entry(root.to_path_buf()).or_default())
        };
        slot.get_or_init(|| index_headers(root));
        Some(slot)
    }
}

fn read_header(path: &Path) -> Result<Header, String> {
    use cpycheck_config::read::{Binary, ReadError, read_file};
    // Through the run's one reader: a header that is a FIFO or a device is never read.
    let bytes = read_file(path, MAX_HEADER_BYTES, Binary::Accept).map_err(|e| match e {
        ReadError::TooLarge { size, .. } => {
            format!("too large ({size} bytes; the limit is {MAX_HEADER_BYTES}), macros not read")
        }
        other => format!("{other}, macros not read"),
    })?;
    Header::parse(Arc::from(path), &bytes).map_err(|e| format!("{e}, macros not read"))
}

fn index_headers(root: &Path) -> Index {
    let mut index = Index::default();
    let walker = ignore::WalkBuilder::new(root)
        .require_git(false)
        .max_depth(Some(MAX_INDEX_DEPTH))
        .build();
    for entry in walker.take(MAX_INDEX_ENTRIES).flatten() {
        let path = entry.path();
        let is_header = path
            .extension()
            .is_some_and(|ext| HEADER_EXTENSIONS.iter().any(|e| ext == *e));
        if is_header
            && entry.file_type().is_some_and(|t| t.is_file())
            && let Some(name) = path.file_name()
        {
            index
                .by_name
                .entry(name.to_os_string())
                .or_default()
                .push(path.to_path_buf());
        }
    }
    for paths in index.by_name.values_mut() {
        paths.sort();
    }
    index
}

/// The headers one analysed file may include.
pub struct FileIncludes<'a> {
    cache: &'a HeaderCache,
    /// The analysed file's folder (absolute).
    dir: PathBuf,
    /// Its project root (absolute); no header outside it is read.
    root: PathBuf,
}

impl FileIncludes<'_> {
    /// Where `name` is found from folder `from_dir`, by the rule in the module docs.
    fn locate(&self, from_dir: &Path, name: &str, angled: bool) -> Option<PathBuf> {
        let rel = Path::new(name);
        if rel.is_absolute() || name.is_empty() {
            return None;
        }
        let inside = |p: PathBuf| {
            let p = normalize(&p)?;
            (p.starts_with(&self.root) && p.is_file()).then_some(p)
        };
        if !angled && let Some(p) = inside(from_dir.join(rel)) {
            return Some(p);
        }
        for d in from_dir.ancestors() {
            if !d.starts_with(&self.root) {
                break;
            }
            if (angled || d != from_dir)
                && let Some(p) = inside(d.join(rel))
            {
                return Some(p);
            }
            if let Some(p) = inside(d.join("include").join(rel)) {
                return Some(p);
            }
        }
        self.search_index(from_dir, rel)
    }

    fn search_index(&self, from_dir: &Path, rel: &Path) -> Option<PathBuf> {
        // Only plain relative names: `..` means the includer's folder, handled above.
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return None;
        }
        let index = self.cache.index(&self.root)?;
        let index = index.get()?;
        let candidates: Vec<&PathBuf> = index
            .by_name
            .get(rel.file_name()?)?
            .iter()
            .filter(|p| p.ends_with(rel))
            .collect();
        match candidates.as_slice() {
            [] => None,
            [only] => Some((*only).clone()),
            _ => {
                let shared = |p: &Path| {
                    p.components()
                        .zip(from_dir.components())
                        .take_while(|(a, b)| a == b)
                        .count()
                };
                let best = candidates.iter().map(|p| shared(p)).max()?;
                let mut nearest = candidates.iter().filter(|p| shared(p) == best);
                match (nearest.next(), nearest.next()) {
                    (Some(p), None) => Some((*p).clone()),
                    _ => None,
                }
            }
        }
    }
}

impl Includes for FileIncludes<'_> {
    fn resolve(&self, from: Option<&Header>, name: &str, angled: bool) -> Option<Arc<Header>> {
        let from_dir = match from {
            Some(h) => h.path.parent()?,
            None => &self.dir,
        };
        let key = (
            self.root.clone(),
            from_dir.to_path_buf(),
            name.to_string(),
            angled,
        );
        let known = self.cache.located.lock().ok()?.get(&key).cloned();
        let path = match known {
            Some(path) => path,
            None => {
                let path = self.locate(from_dir, name, angled);
                if let Ok(mut located) = self.cache.located.lock() {
                    located.insert(key, path.clone());
                }
                path
            }
        }?;
        self.cache.header(&path)
    }
}

/// `path` made absolute against the current folder, without touching symbolic links.
fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    normalize(&joined).unwrap_or(joined)
}

/// `.` and `..` removed lexically; `None` when `..` climbs above the start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/./../c/d.h")),
            Some(PathBuf::from("/a/c/d.h"))
        );
        assert_eq!(normalize(Path::new("a/../../b")), None);
    }
}
