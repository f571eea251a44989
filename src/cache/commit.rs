//! Group commit of task results.
//!
//! A task's objects are written (temp file + rename) without waiting for the disk. Its manifest
//! — the record that makes the result visible — is queued here. A background thread gathers the
//! manifests of tasks that finish within a few milliseconds; one `syncfs(2)` makes all their
//! objects durable, then their manifests are renamed into place and their locks released; the
//! next batch's `syncfs` (or [`Committer::flush`] at the end of a run) makes those renames durable. So a visible
//! manifest always names durable objects, and one disk flush serves many tasks: with fsync costing
//! milliseconds, per-file fsyncs would cap a run at a few hundred tasks per second.
//!
//! A process killed before its batch commits loses only those manifests: the tasks rerun, their
//! objects are already there. A power loss can at worst leave a manifest whose object did not
//! reach the disk; objects are checked against their hash when read, so such a task is rerun.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::error::{CacheError, io};
use super::store::TaskLock;

struct Pending {
    tmp: PathBuf,
    dest: PathBuf,
    _lock: Option<TaskLock>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    committing: bool,
    started: bool,
    /// Manifests were renamed since the last flush (a run that wrote nothing syncs nothing).
    unsynced: bool,
    error: Option<String>,
}

struct Inner {
    root: File,
    queue: Mutex<Queue>,
    work: Condvar,
    idle: Condvar,
}

/// The commit queue of one cache, served by one background thread.
pub struct Committer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Committer")
    }
}

/// How long the committer gathers finished tasks before one flush.
const WINDOW: Duration = Duration::from_millis(4);

impl Inner {
    fn sync(&self) -> std::io::Result<()> {
        // SAFETY: syncfs only reads the descriptor, which `self.root` keeps open.
        let rc = unsafe { libc::syncfs(self.root.as_raw_fd()) };
        if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn serve(&self) {
        loop {
            let mut q = self.lock();
            while q.pending.is_empty() {
                q = self.work.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            drop(q);
            std::thread::sleep(WINDOW);
            let mut q = self.lock();
            let batch = std::mem::take(&mut q.pending);
            q.committing = true;
            drop(q);
            let result = self.commit(batch);
            let mut q = self.lock();
            q.committing = false;
            if let Err(e) = result {
                q.error = Some(e.to_string());
            }
            self.idle.notify_all();
        }
    }

    fn commit(&self, batch: Vec<Pending>) -> std::io::Result<()> {
        self.sync()?;
        for p in batch {
            if let Err(e) = std::fs::rename(&p.tmp, &p.dest) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(e);
                }
                if let Some(parent) = p.dest.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(&p.tmp, &p.dest)?;
            }
        }
        Ok(())
    }
}

impl Committer {
    /// A committer for the file system holding `root`.
    pub fn new(root: &Path) -> Result<Self, CacheError> {
        let root_file = File::open(root).map_err(io(root))?;
        let inner =
            Inner { root: root_file, queue: Mutex::new(Queue::default()), work: Condvar::new(), idle: Condvar::new() };
        Ok(Committer { inner: Arc::new(inner) })
    }

    /// Queues the rename of `tmp` to `dest` (a manifest), holding `lock` until it is done.
    /// Returns at once; the background thread commits within a few milliseconds.
    pub fn publish(&self, tmp: PathBuf, dest: PathBuf, lock: Option<TaskLock>) -> Result<(), CacheError> {
        let mut q = self.inner.lock();
        q.pending.push(Pending { tmp, dest, _lock: lock });
        q.unsynced = true;
        if !q.started {
            q.started = true;
            let inner = Arc::clone(&self.inner);
            std::thread::Builder::new()
                .name("gcrl-commit".into())
                .spawn(move || inner.serve())
                .map_err(io("(commit thread)"))?;
        }
        self.inner.work.notify_one();
        Ok(())
    }

    /// Waits until every queued manifest is in place, then makes the renames durable.
    pub fn flush(&self) -> Result<(), CacheError> {
        let mut q = self.inner.lock();
        while q.committing || !q.pending.is_empty() {
            q = self.inner.idle.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        let error = q.error.take();
        let unsynced = std::mem::take(&mut q.unsynced);
        drop(q);
        if let Some(e) = error {
            return Err(CacheError::Io { path: PathBuf::from("(commit)"), source: std::io::Error::other(e) });
        }
        if unsynced { self.inner.sync().map_err(io("(commit)")) } else { Ok(()) }
    }
}
