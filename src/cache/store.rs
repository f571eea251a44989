//! The on-disk layout of the cache and its atomic operations.
//!
//! ```text
//! cache/
//!   objects/ab/<blake3>.arrow   Arrow IPC files named by the hash of their bytes
//!   tasks/ab/<key>.json         the manifest of a task key, written after its objects: a hard
//!                               link to its commit batch's file, one JSON line per key
//!   locks/tasks.lock            one byte per task key, locked while the task computes
//!   runs/<workflow>/<ms>-<pid>.json   what each run used (for plan reasons and gc)
//!   runs/<workflow>/noop.seal   what lets a rerun with nothing to do skip its tasks (seal.rs)
//!   tmp/                        objects and manifest batches being written; renamed or linked
//!                               into place when complete
//! ```
//! No write is ever seen torn: a process killed at any point leaves the old state or the new one.
//! Objects are written as unnamed files in their own directory (`O_TMPFILE`) and linked into
//! place once complete (where the file system has no `O_TMPFILE`, through `tmp/` and a rename);
//! they and the manifests are made durable together by the commit (`commit.rs`). Whole files
//! (run records, seals) go through the one atomic writer of `atomic.rs`.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::atomic::{hostname, link_new, rename_into, tmp_path, write_atomic};
use super::commit::Committer;
use super::error::{CacheError, io};
use super::hash::{hash_bytes, hash_file};
use super::layout::{fanout, files_under};
use super::lock::{LockFile, TaskLock};
use super::manifest::Manifest;
use super::object::{ObjectWriter, Written};

/// A handle on a cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    objects: PathBuf,
    tasks: PathBuf,
    locks: Arc<LockFile>,
    committer: Arc<Committer>,
    written: Written,
}

/// Objects up to this size are written without first looking whether they exist: the lookup
/// costs more than writing them, and rarely finds one (a task that ran made new bytes).
const WRITE_BLIND: usize = 1 << 16;

impl Cache {
    /// Opens (creating if needed) the cache at `root`. A cache that cannot be written opens for
    /// reading; [`Cache::writable`] says so.
    pub fn open(root: &Path) -> Result<Self, CacheError> {
        if root.exists() && !root.is_dir() {
            return Err(CacheError::NotADirectory(root.to_path_buf()));
        }
        for dir in ["objects", "tasks", "locks", "runs", "tmp"] {
            let p = root.join(dir);
            fs::create_dir_all(&p).map_err(io(&p))?;
        }
        Ok(Cache {
            root: root.to_path_buf(),
            objects: root.join("objects"),
            tasks: root.join("tasks"),
            locks: LockFile::open(&root.join("locks").join(LOCK_FILE))?,
            committer: Arc::new(Committer::new(root)?),
            written: Written::default(),
        })
    }

    /// `Ok` when results can be stored here; [`CacheError::ReadOnly`] otherwise.
    pub fn writable(&self) -> Result<(), CacheError> {
        self.locks.writable()
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the object named `hash` lives.
    pub fn object_path(&self, hash: &str) -> PathBuf {
        fanout(&self.objects, hash, "arrow")
    }

    /// Where the manifest of task `key` lives.
    pub fn manifest_path(&self, key: &str) -> PathBuf {
        fanout(&self.tasks, key, "json")
    }

    /// Stores `bytes` as an object and returns its hash. Storing existing bytes is a no-op.
    /// The object is durable once the manifest that names it is published (see [`Committer`]).
    pub fn put_object(&self, bytes: &[u8]) -> Result<String, CacheError> {
        let hash = hash_bytes(bytes);
        let path = self.object_path(&hash);
        if bytes.len() <= WRITE_BLIND || !path.exists() {
            if !link_new(bytes, &path)? {
                let tmp = self.write_tmp(bytes)?;
                rename_into(&tmp, &path)?;
            }
            // Written here, so known good (an object found in place is checked when read).
            self.written.add(&hash, bytes.len() as u64);
        }
        Ok(hash)
    }

    /// A writer of a new object, for bytes made a piece at a time (see [`ObjectWriter`]).
    pub fn object_writer(&self) -> Result<ObjectWriter, CacheError> {
        ObjectWriter::new(&self.objects, tmp_path(&self.root.join("tmp")), self.written.clone())
    }

    /// The path of object `hash` once its bytes are checked against its name. The file is
    /// streamed through [`hash_file`]'s buffer (a mapping would count the whole object in the
    /// task's resident memory); an object this handle wrote is only looked for. A corrupt object
    /// is removed and reported.
    pub fn checked_object_path(&self, hash: &str) -> Result<PathBuf, CacheError> {
        let path = self.object_path(hash);
        if self.written.contains(hash) {
            return if path.exists() { Ok(path) } else { Err(CacheError::MissingObject(hash.into())) };
        }
        let actual = match hash_file(&path) {
            Ok(actual) => actual,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(CacheError::MissingObject(hash.into())),
            Err(e) => return Err(io(&path)(e)),
        };
        if actual != hash {
            let _ = fs::remove_file(&path);
            return Err(CacheError::BadObject { hash: hash.into(), actual });
        }
        Ok(path)
    }

    /// Whether the object `hash` is present.
    pub fn has_object(&self, hash: &str) -> bool {
        self.object_path(hash).exists()
    }

    /// Reads the object `hash`, checking that its bytes still hash to its name. A corrupt object
    /// is removed (so the task that made it is recomputed) and reported.
    pub fn get_object(&self, hash: &str) -> Result<Vec<u8>, CacheError> {
        let path = self.object_path(hash);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(CacheError::MissingObject(hash.into())),
            Err(e) => return Err(io(&path)(e)),
        };
        let actual = hash_bytes(&bytes);
        if actual != hash {
            let _ = fs::remove_file(&path);
            return Err(CacheError::BadObject { hash: hash.into(), actual });
        }
        Ok(bytes)
    }

    /// Publishes a manifest once its objects are durable, releasing `lock` after; several tasks'
    /// manifests share one disk flush and one file (see [`Committer`]). [`Cache::flush`] waits
    /// for them.
    pub fn put_manifest(&self, manifest: &Manifest, lock: Option<TaskLock>) -> Result<(), CacheError> {
        self.committer.publish(manifest.to_line(), self.manifest_path(&manifest.key), lock)
    }

    /// Waits until every published manifest is in place and durable.
    pub fn flush(&self) -> Result<(), CacheError> {
        self.committer.flush()
    }

    /// Whether a manifest exists for `key`.
    pub fn has_manifest(&self, key: &str) -> bool {
        self.manifest_path(key).exists()
    }

    /// Reads the manifest of `key`, if any.
    pub fn get_manifest(&self, key: &str) -> Result<Option<Manifest>, CacheError> {
        Ok(read_manifest(&self.manifest_path(key), key)?.map(|(m, _)| m))
    }

    /// The result of task `key` when the cache holds it whole: its manifest, once every output
    /// it names is present (an output removed by `gc` or by hand, or found corrupt, means the
    /// task runs again). The one answer to "is the result of this key complete?".
    pub fn result(&self, key: &str) -> Result<Option<Manifest>, CacheError> {
        Ok(self.get_manifest(key)?.filter(|m| self.holds_outputs(m)))
    }

    /// Whether every output `manifest` names is present.
    pub(super) fn holds_outputs(&self, manifest: &Manifest) -> bool {
        manifest.outputs.values().all(|o| self.has_object(&o.hash))
    }

    /// Removes the manifest of `key` (the task will be recomputed).
    pub fn remove_manifest(&self, key: &str) -> Result<(), CacheError> {
        let path = self.manifest_path(key);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io(&path)(e)),
            _ => Ok(()),
        }
    }

    /// The file system's clock now: the change time of the lock file, touched (see `seal.rs`).
    pub(super) fn touch_probe(&self) -> Result<(i64, i64), CacheError> {
        self.locks.touch()
    }

    /// Takes the lock of `key` without waiting; `None` when another thread or process holds it.
    pub fn try_lock(&self, key: &str) -> Result<Option<TaskLock>, CacheError> {
        self.locks.try_lock(key)
    }

    /// Takes the lock of `key`, waiting for whoever holds it.
    pub fn lock(&self, key: &str) -> Result<TaskLock, CacheError> {
        self.locks.lock(key)
    }

    /// `bytes` in a new file of `tmp/`, not synced: an object's bytes, made durable by the
    /// commit of the manifest that names it.
    fn write_tmp(&self, bytes: &[u8]) -> Result<PathBuf, CacheError> {
        let tmp = tmp_path(&self.root.join("tmp"));
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        Ok(tmp)
    }

    /// Writes `bytes` to `dest` atomically and durably ([`write_atomic`]). For the few files
    /// written outside task results (run records, seals, file hashes).
    pub fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> Result<(), CacheError> {
        write_atomic(dest, bytes).map_err(io(dest))
    }

    /// Removes temp files left by processes that no longer run: those in `tmp/`, and those
    /// [`write_atomic`] leaves beside the files it writes (run records and seals under `runs/`,
    /// the file-hash memo) when a crash cuts it short; each run starts with this, so the many
    /// files of Slurm runs (`slurm/`) are not walked. A temp
    /// file names the process and host that write it (`…<pid>-<n>@<host>.tmp`): the cache may be
    /// shared by the compute nodes of a cluster, whose processes this host cannot see, so
    /// another host's files are removed only once they are a day old.
    pub fn clean_tmp(&self) -> Result<usize, CacheError> {
        let dir = self.root.join("tmp");
        let in_tmp: Vec<PathBuf> = fs::read_dir(&dir).map_err(io(&dir))?.flatten().map(|e| e.path()).collect();
        let top = fs::read_dir(&self.root).into_iter().flatten().flatten().map(|e| e.path());
        let kept = files_under(&self.root.join("runs"));
        let beside = top.chain(kept).filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            name.starts_with('.') && name.ends_with(".tmp")
        });
        let mut removed = 0;
        for path in in_tmp.into_iter().chain(beside) {
            if abandoned(&path) && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Whether the temp file at `path` (`<pid>-<n>@<host>.tmp`, or `.<file>.<pid>-<n>@<host>.tmp`
/// beside `file`) has no writer left: a process of this host that is gone, or, for another
/// host, a file a day old.
fn abandoned(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let stem = name.strip_suffix(".tmp").unwrap_or(&name);
    let (before, host) = match stem.rsplit_once('@') {
        Some((b, h)) => (b, Some(h)),
        None => (stem, None),
    };
    let writer = before.rsplit_once('.').map_or(before, |(_, w)| w);
    if host.is_none_or(|h| h == hostname()) {
        let pid: Option<u32> = writer.split('-').next().and_then(|p| p.parse().ok());
        !pid.is_some_and(|p| p == std::process::id() || Path::new(&format!("/proc/{p}")).exists())
    } else {
        let age = fs::metadata(path).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        age.is_some_and(|a| a > std::time::Duration::from_secs(86_400))
    }
}

/// The file under `locks/` that holds every task lock (see `lock.rs`).
pub(super) const LOCK_FILE: &str = "tasks.lock";

/// Reads the manifest of `key` from the file `path` (which may hold other keys' manifests too),
/// with the length of its record; `None` if there is none.
pub(super) fn read_manifest(path: &Path, key: &str) -> Result<Option<(Manifest, usize)>, CacheError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    match Manifest::find(&bytes, key) {
        Some(Ok(found)) => Ok(Some(found)),
        Some(Err(e)) => Err(CacheError::Corrupt { path: path.to_path_buf(), message: e.to_string() }),
        None => Err(CacheError::Corrupt { path: path.to_path_buf(), message: format!("no manifest of {key} in it") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_named_by_their_hash_and_verified_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let hash = cache.put_object(b"hello").unwrap();
        assert_eq!(hash, blake3::hash(b"hello").to_hex().to_string());
        assert_eq!(cache.get_object(&hash).unwrap(), b"hello");
        assert_eq!(cache.put_object(b"hello").unwrap(), hash, "storing it again changes nothing");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "nothing left behind");
        fs::write(cache.object_path(&hash), b"hellp").unwrap();
        assert!(matches!(cache.get_object(&hash), Err(CacheError::BadObject { .. })));
        assert!(!cache.has_object(&hash), "a corrupt object is removed");
    }

    #[test]
    fn a_held_lock_blocks_try_lock() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let held = cache.try_lock("abcdef").unwrap();
        assert!(held.is_some());
        assert!(cache.try_lock("abcdef").unwrap().is_none());
        drop(held);
        assert!(cache.try_lock("abcdef").unwrap().is_some());
    }

    #[test]
    fn clean_tmp_keeps_young_files_of_other_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let tmp = dir.path().join("tmp");
        let dead_here = tmp.join(format!("999999999-0@{}.tmp", hostname()));
        let other_host = tmp.join("999999999-1@compute-node-7.tmp");
        let mine = cache.write_tmp(b"x").unwrap();
        for p in [&dead_here, &other_host] {
            fs::write(p, b"x").unwrap();
        }
        // Beside a run record and the file-hash memo: what `write_atomic` leaves when cut short.
        let runs = dir.path().join("runs/demo");
        fs::create_dir_all(&runs).unwrap();
        let beside_record = runs.join(format!(".latest.json.999999999-2@{}.tmp", hostname()));
        let beside_memo = dir.path().join(format!(".files.json.999999999-3@{}.tmp", hostname()));
        let live_beside = runs.join(format!(".latest.json.{}-9@{}.tmp", std::process::id(), hostname()));
        let record = runs.join("latest.json");
        for p in [&beside_record, &beside_memo, &live_beside, &record] {
            fs::write(p, b"x").unwrap();
        }
        assert_eq!(cache.clean_tmp().unwrap(), 3);
        assert!(!dead_here.exists(), "a dead process of this host left it");
        assert!(other_host.exists(), "a worker on another host may still be writing it");
        assert!(mine.exists());
        assert!(!beside_record.exists() && !beside_memo.exists(), "left beside the files write_atomic writes");
        assert!(live_beside.exists() && record.exists(), "a live writer's file and the record itself stay");
    }
}
