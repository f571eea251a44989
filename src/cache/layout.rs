//! Where a name lives under a folder of the cache: `dir/ab/abcdef….ext`, fanned out by the
//! first two characters so that no folder holds millions of files.

use std::path::{Path, PathBuf};

/// The file of object `hash` under `objects`.
pub(super) fn object_file(objects: &Path, hash: &str) -> PathBuf {
    fanout(objects, hash, "arrow")
}

/// `dir/ab/abcdef….ext`, built with one allocation (a no-op run builds tens of thousands).
pub(super) fn fanout(dir: &Path, name: &str, ext: &str) -> PathBuf {
    let prefix = name.get(..2).unwrap_or("xx");
    let dir = dir.as_os_str();
    let mut path = std::ffi::OsString::with_capacity(dir.len() + name.len() + ext.len() + 5);
    path.push(dir);
    path.push("/");
    path.push(prefix);
    path.push("/");
    path.push(name);
    path.push(".");
    path.push(ext);
    PathBuf::from(path)
}
