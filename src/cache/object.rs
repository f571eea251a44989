//! Objects written a piece at a time: bytes go to an unnamed file in `objects/` (a temp file
//! in `tmp/` where the file system has no `O_TMPFILE`) while blake3 hashes them, and
//! [`ObjectWriter::finish`] links the file under its hash. A big table never exists in memory
//! as bytes; an interrupted write leaves no name behind.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::atomic::{link_unnamed, open_unnamed, rename_into};
use super::error::{CacheError, io};
use super::layout::object_file;

/// Objects of at least [`Written::MIN`] bytes that this handle wrote, hashing what it wrote:
/// reading them back in the same process needs no second hashing pass.
#[derive(Debug, Clone, Default)]
pub(super) struct Written(Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl Written {
    /// Smaller objects are hashed again when read: checking is cheaper than remembering them.
    pub(super) const MIN: u64 = 1 << 20;

    pub(super) fn add(&self, hash: &str, len: u64) {
        if len >= Self::MIN {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(hash.to_string());
        }
    }

    pub(super) fn contains(&self, hash: &str) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(hash)
    }
}

/// Writes one object; see the module docs.
pub struct ObjectWriter {
    file: BufWriter<File>,
    hasher: blake3::Hasher,
    /// `None`: an unnamed file; else the temp file's path.
    tmp: Option<PathBuf>,
    objects: PathBuf,
    written: u64,
    record: Written,
}

impl ObjectWriter {
    /// A writer of an object into `objects/`, through `tmp` when unnamed files are not available.
    pub(super) fn new(objects: &Path, tmp: PathBuf, record: Written) -> Result<Self, CacheError> {
        let (file, tmp) = match open_unnamed(objects)? {
            Some(file) => (file, None),
            None => (File::create(&tmp).map_err(io(&tmp))?, Some(tmp)),
        };
        Ok(ObjectWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            hasher: blake3::Hasher::new(),
            tmp,
            objects: objects.to_path_buf(),
            written: 0,
            record,
        })
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Names the object by the hash of what was written and returns the hash. An object of that
    /// hash already present is kept, and this one dropped.
    pub fn finish(self) -> Result<String, CacheError> {
        let ObjectWriter { file, hasher, tmp, objects, written, record } = self;
        let hash = hasher.finalize().to_hex().to_string();
        let dest = object_file(&objects, &hash);
        let file = file.into_inner().map_err(|e| io(&dest)(e.into_error()))?;
        // Only a file placed here is known to hold its hash's bytes; one found in place is
        // checked when read, like any other.
        let placed = match tmp {
            Some(tmp) if dest.exists() => {
                fs::remove_file(&tmp).map_err(io(&tmp))?;
                false
            }
            Some(tmp) => {
                rename_into(&tmp, &dest)?;
                true
            }
            None => !dest.exists() && link_unnamed(&file, &dest)?,
        };
        if placed {
            record.add(&hash, written);
        }
        Ok(hash)
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > 1 << 20 {
            // A big buffer is hashed on a second thread while this one copies it into the page
            // cache: one blake3 thread keeps up with the copy, and neither needs the other. (Not
            // on rayon: a task's writes then stay out of the pool that `-j` sizes.)
            let (file, hasher) = (&mut self.file, &mut self.hasher);
            std::thread::scope(|scope| {
                scope.spawn(|| hasher.update(buf));
                file.write_all(buf)
            })?;
        } else {
            self.file.write_all(buf)?;
            self.hasher.update(buf);
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;

    #[test]
    fn an_object_written_in_pieces_is_named_by_the_hash_of_all_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let big = vec![7u8; 3 << 20];
        let mut w = cache.object_writer().unwrap();
        w.write_all(b"head ").unwrap();
        w.write_all(&big).unwrap();
        assert_eq!(w.len(), 5 + big.len() as u64);
        let hash = w.finish().unwrap();
        let whole = [b"head ".as_slice(), &big].concat();
        assert_eq!(hash, blake3::hash(&whole).to_hex().to_string());
        assert_eq!(cache.get_object(&hash).unwrap(), whole);
        let mut again = cache.object_writer().unwrap();
        again.write_all(&whole).unwrap();
        assert_eq!(again.finish().unwrap(), hash, "the same bytes again keep the object");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "nothing left behind");
    }

    #[test]
    fn a_writer_dropped_before_finish_leaves_no_object() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let mut w = cache.object_writer().unwrap();
        w.write_all(b"half an object").unwrap();
        drop(w);
        let objects: Vec<_> = walk(&dir.path().join("objects"));
        assert!(objects.is_empty(), "{objects:?}");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] })
            .collect()
    }
}
