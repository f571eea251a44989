//! Where a name lives under a folder of the cache: `dir/ab/abcdef….ext`, fanned out by the
//! first two characters so that no folder holds millions of files; and the files under a folder.

use std::fs;
use std::os::unix::fs::DirEntryExt;
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

/// Every file under `dir`, at any depth (none when it cannot be read).
pub(super) fn files_under(dir: &Path) -> Vec<PathBuf> {
    files_with_inodes(dir).into_iter().map(|(p, _)| p).collect()
}

/// Files under `dir` with their inode numbers (manifests of one batch share an inode).
pub(super) fn files_with_inodes(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_with_inodes(&p));
        } else {
            out.push((p, e.ino()));
        }
    }
    out
}
