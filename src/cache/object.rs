//! Objects written a piece at a time: bytes go to an unnamed file in `objects/` (a temp file
//! in `tmp/` where the file system has no `O_TMPFILE`) while blake3 hashes them, and
//! [`ObjectWriter::finish`] links the file under its hash. A big table never exists in memory
//! as bytes; an interrupted write leaves no name behind.

use std::fs::{self, File};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::error::{CacheError, io};
use super::store::{object_file, rename_into};

/// Writes one object; see the module docs.
pub struct ObjectWriter {
    file: BufWriter<File>,
    hasher: blake3::Hasher,
    /// `None`: an unnamed file; else the temp file's path.
    tmp: Option<PathBuf>,
    objects: PathBuf,
    written: u64,
}

impl ObjectWriter {
    /// A writer of an object into `objects/`, through `tmp` when unnamed files are not available.
    pub(super) fn new(objects: &Path, tmp: PathBuf) -> Result<Self, CacheError> {
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
        let ObjectWriter { file, hasher, tmp, objects, .. } = self;
        let hash = hasher.finalize().to_hex().to_string();
        let dest = object_file(&objects, &hash);
        let file = file.into_inner().map_err(|e| io(&dest)(e.into_error()))?;
        match tmp {
            Some(tmp) if dest.exists() => fs::remove_file(&tmp).map_err(io(&tmp))?,
            Some(tmp) => rename_into(&tmp, &dest)?,
            None if dest.exists() => {}
            None => link_unnamed(&file, &dest)?,
        }
        Ok(hash)
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write_all(buf)?;
        if buf.len() > 1 << 20 {
            self.hasher.update_rayon(buf);
        } else {
            self.hasher.update(buf);
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// An unnamed file in `dir` (`O_TMPFILE`); `None` where the file system cannot make one.
pub(super) fn open_unnamed(dir: &Path) -> Result<Option<File>, CacheError> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || fs::OpenOptions::new().write(true).mode(0o644).custom_flags(libc::O_TMPFILE).open(dir);
    let file = match open() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io(dir))?;
            open()
        }
        other => other,
    };
    match file {
        Ok(f) => Ok(Some(f)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)) => Ok(None),
        Err(e) => Err(io(dir)(e)),
    }
}

/// Links the unnamed `file` as `dest` (creating its directory); an existing `dest` is left as
/// it is (objects are named by their content).
pub(super) fn link_unnamed(file: &File, dest: &Path) -> Result<(), CacheError> {
    use std::os::unix::ffi::OsStrExt;
    // Linking a descriptor (`AT_EMPTY_PATH`) needs a privilege; its /proc link needs none.
    let source = std::ffi::CString::new(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(file)))
        .expect("no NUL in a /proc path");
    let target = std::ffi::CString::new(dest.as_os_str().as_bytes())
        .map_err(|_| io(dest)(std::io::Error::from(ErrorKind::InvalidInput)))?;
    let link = || {
        // SAFETY: both paths are NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::linkat(libc::AT_FDCWD, source.as_ptr(), libc::AT_FDCWD, target.as_ptr(), libc::AT_SYMLINK_FOLLOW)
        };
        if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    };
    match link() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let parent = dest.parent().unwrap_or(Path::new("."));
            fs::create_dir_all(parent).map_err(io(parent))?;
            link()
        }
        other => other,
    }
    .or_else(|e| if e.kind() == ErrorKind::AlreadyExists { Ok(()) } else { Err(io(dest)(e)) })
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
