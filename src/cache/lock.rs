//! Task locks: one byte of one shared file per task key.
//!
//! A lock file per task would cost an inode per task — on ext4 without a journal, or on a
//! cluster's network file system, creating files is what caps dispatch of small tasks. Instead
//! every task locks one byte of `locks/tasks.lock`, at an offset taken from its key, with an
//! open-file-description lock (`F_OFD_SETLK`, Linux ≥ 3.15): it excludes other processes, on
//! this host or (through the file system's lock manager, as `flock` does there) on others, and
//! the kernel drops it when the process dies. All threads of a process share one open file, and
//! OFD locks of one open file do not exclude each other, so a table in the process excludes
//! its own threads. Two keys share an offset with probability 2⁻⁶⁰; they would only wait for
//! each other.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::error::{CacheError, io};

/// The lock file of a cache, shared by every lock this process takes.
#[derive(Debug)]
pub(crate) struct LockFile {
    path: PathBuf,
    file: File,
    /// The OS error that kept the file from being opened for writing (a read-only cache): no
    /// lock can be taken.
    read_only: Option<i32>,
    held: Mutex<HashSet<i64>>,
    freed: Condvar,
}

/// An exclusive lock on one task key; released on drop (or when the process dies).
#[derive(Debug)]
pub struct TaskLock {
    file: Arc<LockFile>,
    offset: i64,
}

/// The byte of the lock file that stands for `key` (its first 15 hex digits; any other string
/// is hashed first).
fn offset(key: &str) -> i64 {
    let hex = key.get(..15).and_then(|h| i64::from_str_radix(h, 16).ok());
    hex.unwrap_or_else(|| {
        let h = blake3::hash(key.as_bytes());
        i64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes")) & ((1 << 60) - 1)
    })
}

impl LockFile {
    /// Opens (creating if needed) the lock file `path`; in a cache that cannot be written, for
    /// reading only (see [`LockFile::writable`]).
    pub(crate) fn open(path: &Path) -> Result<Arc<Self>, CacheError> {
        let (file, read_only) = match OpenOptions::new().create(true).truncate(false).write(true).open(path) {
            Ok(file) => (file, None),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EROFS | libc::EACCES | libc::EPERM)) => {
                match File::open(path) {
                    Ok(file) => (file, e.raw_os_error()),
                    Err(_) => return Err(CacheError::ReadOnly { path: path.to_path_buf(), source: e }),
                }
            }
            Err(e) => return Err(io(path)(e)),
        };
        Ok(Arc::new(LockFile {
            path: path.to_path_buf(),
            file,
            read_only,
            held: Mutex::new(HashSet::new()),
            freed: Condvar::new(),
        }))
    }

    /// Sets the file's modification time to now and returns the change time that gives it: a
    /// reading of the file system's clock (see `seal.rs`).
    pub(crate) fn touch(&self) -> Result<(i64, i64), CacheError> {
        use std::os::unix::fs::MetadataExt;
        self.file.set_modified(std::time::SystemTime::now()).map_err(io(&self.path))?;
        let meta = self.file.metadata().map_err(io(&self.path))?;
        Ok((meta.ctime(), meta.ctime_nsec()))
    }

    /// `Ok` when locks can be taken, the read-only error otherwise.
    pub(crate) fn writable(&self) -> Result<(), CacheError> {
        match self.read_only {
            None => Ok(()),
            Some(code) => {
                Err(CacheError::ReadOnly { path: self.path.clone(), source: std::io::Error::from_raw_os_error(code) })
            }
        }
    }

    fn table(&self) -> MutexGuard<'_, HashSet<i64>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `F_OFD_SETLK(W)` of one byte: `kind` is `F_WRLCK` or `F_UNLCK`.
    fn fcntl(&self, offset: i64, kind: libc::c_int, wait: bool) -> std::io::Result<()> {
        // SAFETY: an all-zero `flock` is valid; OFD locks require `l_pid` 0.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = kind as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = offset;
        fl.l_len = 1;
        let cmd = if wait { libc::F_OFD_SETLKW } else { libc::F_OFD_SETLK };
        loop {
            // SAFETY: the descriptor is open for the lifetime of `self`; `fl` outlives the call.
            if unsafe { libc::fcntl(self.file.as_raw_fd(), cmd, &fl) } == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Takes the lock of `key` without waiting; `None` when another thread or process holds it.
    pub(crate) fn try_lock(self: &Arc<Self>, key: &str) -> Result<Option<TaskLock>, CacheError> {
        self.writable()?;
        let offset = offset(key);
        let mut held = self.table();
        if held.contains(&offset) {
            return Ok(None);
        }
        match self.fcntl(offset, libc::F_WRLCK, false) {
            Ok(()) => {
                held.insert(offset);
                Ok(Some(TaskLock { file: Arc::clone(self), offset }))
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(None),
            Err(e) => Err(io(&self.path)(e)),
        }
    }

    /// Takes the lock of `key`, waiting for whoever holds it.
    pub(crate) fn lock(self: &Arc<Self>, key: &str) -> Result<TaskLock, CacheError> {
        self.writable()?;
        let offset = offset(key);
        let mut held = self.table();
        while held.contains(&offset) {
            held = self.freed.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        held.insert(offset);
        drop(held);
        // Our own entry in the table keeps this process's other threads off the byte meanwhile.
        match self.fcntl(offset, libc::F_WRLCK, true) {
            Ok(()) => Ok(TaskLock { file: Arc::clone(self), offset }),
            Err(e) => {
                self.release(offset, false);
                Err(io(&self.path)(e))
            }
        }
    }

    fn release(&self, offset: i64, unlock: bool) {
        if unlock {
            // Unlocking a byte this description holds cannot fail but for a closed descriptor.
            let _ = self.fcntl(offset, libc::F_UNLCK, false);
        }
        self.table().remove(&offset);
        self.freed.notify_all();
    }
}

impl Drop for TaskLock {
    fn drop(&mut self) {
        self.file.release(self.offset, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_come_from_the_key() {
        assert_eq!(offset("000000000000000f"), 0, "the 16th digit is not used");
        assert_eq!(offset("000000000000010f"), 16);
        assert!(offset("not hex at all!!") >= 0);
    }

    #[test]
    fn a_byte_held_through_one_open_file_excludes_another() {
        // Two opens of one path are two open file descriptions, as in two processes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.lock");
        let (a, b) = (LockFile::open(&path).unwrap(), LockFile::open(&path).unwrap());
        let key = "0123456789abcdef";
        let held = a.try_lock(key).unwrap().expect("free");
        assert!(b.try_lock(key).unwrap().is_none(), "the other description sees the byte taken");
        assert!(b.try_lock("fedcba9876543210").unwrap().is_some(), "other keys are free");
        let waiter = std::thread::spawn(move || b.lock(key).map(|_| ()));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "`lock` waits for the holder");
        drop(held);
        waiter.join().unwrap().unwrap();
    }
}
