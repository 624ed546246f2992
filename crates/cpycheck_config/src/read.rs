//! Reading the files a run is given, safely: sources, companion `.pxd` files, headers and
//! configuration files all come through [`read_file`].
//!
//! A path is followed through symbolic links and must lead to a regular file: a FIFO, a
//! device, a socket or a directory is an error, and is never opened for reading (it is
//! checked before opening, and the opened handle is checked again, opened non-blocking so
//! that a FIFO swapped in between cannot block). A file is read at most up to its limit,
//! and with [`Binary::Reject`] a NUL byte in its first block stops the read before the
//! rest is read.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

/// The default of the `max-file-size` option: larger sources are not analysed. The largest
/// file of the benchmark corpus (a Cython-generated C file) is 12 MB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Configuration files larger than this are errors.
pub const MAX_CONFIG_FILE_SIZE: u64 = 1024 * 1024;

/// The first block, checked for NUL bytes before the rest is read.
const FIRST_BLOCK: u64 = 8 * 1024;

/// Whether a NUL byte makes the file an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Reject,
    Accept,
}

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// The path leads to something other than a regular file (`"a FIFO"`, ...).
    NotRegular(&'static str),
    /// Larger than the limit (`size` may be a lower bound for a file that grew).
    TooLarge {
        size: u64,
        limit: u64,
    },
    /// A NUL byte.
    Binary,
    Io(std::io::Error),
}

impl ReadError {
    /// The path does not exist (or a link in it is broken).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotRegular(what) => write!(f, "not a regular file ({what})"),
            ReadError::TooLarge { size, limit } => {
                write!(f, "too large ({size} bytes; the limit is {limit} bytes)")
            }
            ReadError::Binary => write!(f, "binary file (contains NUL bytes)"),
            ReadError::Io(err) => write!(f, "cannot read: {err}"),
        }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(err: std::io::Error) -> Self {
        ReadError::Io(err)
    }
}

/// The contents of the regular file `path` leads to, at most `limit` bytes.
pub fn read_file(path: &Path, limit: u64, binary: Binary) -> Result<Vec<u8>, ReadError> {
    regular(&std::fs::metadata(path)?)?;
    let file = open(path)?;
    let meta = file.metadata()?;
    regular(&meta)?;
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    // The length is a hint: a file may grow while it is read (or be a `/proc` file that
    // says 0), so the read itself is bounded too.
    let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize + 1);
    let mut reader = (&file).take(limit.saturating_add(1));
    (&mut reader).take(FIRST_BLOCK).read_to_end(&mut bytes)?;
    if binary == Binary::Reject && bytes.contains(&0) {
        return Err(ReadError::Binary);
    }
    let checked = bytes.len();
    reader.read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    if binary == Binary::Reject && bytes[checked..].contains(&0) {
        return Err(ReadError::Binary);
    }
    Ok(bytes)
}

/// A configuration file's text: at most [`MAX_CONFIG_FILE_SIZE`] bytes of UTF-8.
pub fn read_config_text(path: &Path) -> Result<String, String> {
    let bytes = read_file(path, MAX_CONFIG_FILE_SIZE, Binary::Reject).map_err(|e| match e {
        ReadError::Io(err) => format!("cannot read: {err}"),
        other => other.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())
}

fn regular(meta: &Metadata) -> Result<(), ReadError> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    Err(ReadError::NotRegular(describe(&kind)))
}

#[cfg(unix)]
fn describe(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn describe(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Opens for reading without blocking: opening a FIFO waits for a writer otherwise.
#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cpycheck-read-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn devices_are_refused_without_reading() {
        let err = read_file(Path::new("/dev/zero"), 1 << 20, Binary::Accept).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a character device)");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = temp("fifo");
        let fifo = dir.join("x.c");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let err = read_file(&fifo, 1 << 20, Binary::Reject).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a FIFO)");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn limits_and_binary_files() {
        let dir = temp("limits");
        let path = dir.join("x.c");
        std::fs::write(&path, b"int x;\n").unwrap();
        assert_eq!(read_file(&path, 7, Binary::Reject).unwrap(), b"int x;\n");
        let err = read_file(&path, 6, Binary::Reject).unwrap_err();
        assert_eq!(err.to_string(), "too large (7 bytes; the limit is 6 bytes)");
        let mut late_nul = vec![b' '; 3 * FIRST_BLOCK as usize];
        late_nul.push(0);
        std::fs::write(&path, &late_nul).unwrap();
        assert!(matches!(
            read_file(&path, 1 << 20, Binary::Reject),
            Err(ReadError::Binary)
        ));
        assert!(read_file(&path, 1 << 20, Binary::Accept).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}
