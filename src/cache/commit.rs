//! Group commit of task results.
//!
//! A task's objects are written (temp file + rename) without waiting for the disk. Its manifest
//! — the record that makes the result visible — is queued here. A background thread gathers the
//! manifests of tasks that finish within a few milliseconds and writes them, one JSON line each,
//! into one temp file per 64 tasks; one `syncfs(2)` makes those files and all their objects
//! durable; then each file is hard-linked under each of its tasks' keys (an atomic step that
//! allocates no inode) and the tasks' locks are released; the next batch's `syncfs` (or
//! [`Committer::flush`] at the end of a run) makes those links durable. So a visible manifest
//! always names durable objects, one disk flush serves many tasks (with fsync costing
//! milliseconds, per-file fsyncs would cap a run at a few hundred tasks per second), and 64 tasks
//! cost one inode, not one each (creating files is what bounds small tasks on file systems
//! without a journal and on network file systems).
//!
//! A batch closes when it holds [`BATCH`] tasks or its oldest task has waited [`WINDOW`],
//! whichever comes first; while one batch is being flushed, the next gathers, and a task that
//! finds the next batch full waits for room (it is not reported finished before it is queued).
//! So at most 2 × [`BATCH`] tasks reported finished are uncommitted at any moment, and a queued
//! task is committed within [`WINDOW`] and two flushes (the batch's ahead of it and its own).
//!
//! A process killed before its batch commits loses only those manifests: the tasks rerun, their
//! objects are already there. A power loss can at worst leave a manifest whose object did not
//! reach the disk; objects are checked against their hash when read, so such a task is rerun.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::atomic::tmp_path;
use super::error::{CacheError, io};
use super::lock::TaskLock;

struct Pending {
    line: Vec<u8>,
    dest: PathBuf,
    _lock: Option<TaskLock>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    /// When the oldest of `pending` was queued.
    since: Option<Instant>,
    committing: bool,
    started: bool,
    /// Manifests were renamed since the last flush (a run that wrote nothing syncs nothing).
    unsynced: bool,
    error: Option<String>,
}

struct Inner {
    root: File,
    tmp: PathBuf,
    queue: Mutex<Queue>,
    work: Condvar,
    idle: Condvar,
    /// Signalled when a batch is taken, for tasks waiting for room in the next one.
    room: Condvar,
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

/// The longest a finished task waits for its batch to close.
const WINDOW: Duration = Duration::from_millis(4);

/// The most tasks in one batch: one flush per 256 tasks keeps up with 10,000 trivial tasks a
/// second even where a flush takes 20 ms (a busy disk: `syncfs` writes back other programs'
/// data too).
const BATCH: usize = 256;

/// The most manifests in one file: a reader of one key reads the whole file.
const PER_FILE: usize = 64;

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
            let closes = q.since.unwrap_or_else(Instant::now) + WINDOW;
            while q.pending.len() < BATCH {
                let left = closes.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                q = self.work.wait_timeout(q, left).unwrap_or_else(|e| e.into_inner()).0;
            }
            let batch = std::mem::take(&mut q.pending);
            q.since = None;
            q.committing = true;
            self.room.notify_all();
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
        let files: Vec<PathBuf> = batch.chunks(PER_FILE).map(|_| tmp_path(&self.tmp)).collect();
        let written = batch.chunks(PER_FILE).zip(&files).try_for_each(|(chunk, path)| {
            let mut f = std::io::BufWriter::new(File::create(path)?);
            chunk.iter().try_for_each(|p| f.write_all(&p.line))?;
            f.into_inner().map_err(|e| e.into_error()).map(drop)
        });
        if let Err(e) = written.and_then(|()| self.sync()) {
            // A full disk: leave no partial file behind.
            files.iter().for_each(|f| drop(std::fs::remove_file(f)));
            return Err(e);
        }
        for (chunk, file) in batch.chunks(PER_FILE).zip(&files) {
            for p in chunk {
                self.link(file, &p.dest)?;
            }
            std::fs::remove_file(file)?;
        }
        Ok(())
    }

    /// Makes `dest` a name of `file`, replacing what `dest` was.
    fn link(&self, file: &Path, dest: &Path) -> std::io::Result<()> {
        let mut linked = std::fs::hard_link(file, dest);
        if let Err(e) = &linked
            && e.kind() == ErrorKind::NotFound
            && let Some(parent) = dest.parent()
        {
            std::fs::create_dir_all(parent)?;
            linked = std::fs::hard_link(file, dest);
        }
        match linked {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                // A forced rerun: link beside it, then rename over it (atomic for readers).
                let tmp = tmp_path(&self.tmp);
                std::fs::hard_link(file, &tmp)?;
                std::fs::rename(&tmp, dest)
            }
            other => other,
        }
    }
}

impl Committer {
    /// A committer for the file system holding `root`.
    pub fn new(root: &Path) -> Result<Self, CacheError> {
        let root_file = File::open(root).map_err(io(root))?;
        let inner = Inner {
            root: root_file,
            tmp: root.join("tmp"),
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            idle: Condvar::new(),
            room: Condvar::new(),
        };
        Ok(Committer { inner: Arc::new(inner) })
    }

    /// Queues `line` (a manifest) for publication at `dest`, holding `lock` until it is done.
    /// Returns once it is queued (at once, unless [`BATCH`] tasks already wait); the background
    /// thread commits it within [`WINDOW`] and two flushes.
    pub fn publish(&self, line: Vec<u8>, dest: PathBuf, lock: Option<TaskLock>) -> Result<(), CacheError> {
        let mut q = self.inner.lock();
        while q.pending.len() >= BATCH {
            q = self.inner.room.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        q.since.get_or_insert_with(Instant::now);
        q.pending.push(Pending { line, dest, _lock: lock });
        q.unsynced = true;
        if !q.started {
            q.started = true;
            let inner = Arc::clone(&self.inner);
            std::thread::Builder::new()
                .name("gcrl-commit".into())
                .spawn(move || inner.serve())
                .map_err(io("(commit thread)"))?;
        }
        // The committer waits for a first task, then for a full batch or its window's end.
        if q.pending.len() == 1 || q.pending.len() == BATCH {
            self.inner.work.notify_one();
        }
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
            return Err(CacheError::Io { path: self.inner.tmp.clone(), source: std::io::Error::other(e) });
        }
        if unsynced { self.inner.sync().map_err(io(&self.inner.tmp)) } else { Ok(()) }
    }
}
