//! Content hashes of input files, remembered by (path, size, mtime, inode) so that a plan does
//! not re-read a multi-gigabyte h5ad that has not changed.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cache::{Cache, hash_file};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    hash: String,
}

/// Hashes files by content, with a memo kept in the cache directory.
#[derive(Debug)]
pub struct FileHasher {
    memo_path: PathBuf,
    memo: Mutex<(BTreeMap<String, Stamp>, bool)>,
}

impl FileHasher {
    /// Loads the memo of `cache`.
    pub fn new(cache: &Cache) -> Self {
        let memo_path = cache.root().join("files.json");
        let memo = std::fs::read(&memo_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        FileHasher { memo_path, memo: Mutex::new((memo, false)) }
    }

    /// blake3 of the file's bytes.
    pub fn hash(&self, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let canonical = std::fs::canonicalize(path)?.to_string_lossy().to_string();
        let stamp = |hash: String| Stamp {
            size: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            inode: meta.ino(),
            hash,
        };
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = memo.0.get(&canonical)
            && *s == stamp(s.hash.clone())
        {
            return Ok(s.hash.clone());
        }
        let hash = hash_file(path)?;
        memo.0.insert(canonical, stamp(hash.clone()));
        memo.1 = true;
        Ok(hash)
    }

    /// Writes the memo back if it changed.
    pub fn save(&self, cache: &Cache) {
        let memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if memo.1
            && let Ok(bytes) = serde_json::to_vec(&memo.0)
        {
            let _ = cache.write_atomic(&self.memo_path, &bytes);
        }
    }
}
