//! Errors of the content-addressed store.

use std::path::PathBuf;

use thiserror::Error;

/// The cache could not be read or written.
#[derive(Debug, Error)]
pub enum CacheError {
    /// A file or directory of the cache could not be accessed.
    #[error("cache {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A manifest or run record is not valid JSON of the expected shape.
    #[error("cache {path}: unreadable record ({message}); `gcrl cache verify` removes it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        message: String,
    },
    /// An object's bytes do not hash to its name.
    #[error("cache object {hash} is corrupt (its bytes hash to {actual}); it has been removed and will be recomputed")]
    BadObject {
        /// The name (expected hash).
        hash: String,
        /// The hash of the bytes found.
        actual: String,
    },
    /// An object is referenced but absent.
    #[error("cache object {0} is missing; it will be recomputed")]
    MissingObject(String),
    /// The cache path names something that is not a directory.
    #[error("cache {0} is a file, not a directory; give a directory with --cache (or GCRL_CACHE)")]
    NotADirectory(PathBuf),
    /// The cache can be read but not written.
    #[error(
        "cache {path} is read-only ({source}); `gcrl run` stores its results there: give a writable --cache \
         (plan, show, export and report only read it)"
    )]
    ReadOnly {
        /// The file that could not be opened for writing.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Wraps an I/O error with its path.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.into();
    move |source| CacheError::Io { path, source }
}
