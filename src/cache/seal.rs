//! Seals: what lets a rerun with nothing to do answer without looking at its tasks.
//!
//! After a run that finished every task, the engine seals its run record under a fingerprint of
//! everything those tasks depend on (opaque here). The seal names the record's file and stamps
//! every fan-out directory that holds the record's manifests and objects with its inode and
//! change time. Adding, removing or renaming an entry changes a directory's change time, and
//! the names were listed present *after* the stamps were taken: while every stamp matches, every
//! manifest and object of the record is still there.
//!
//! Change times come from the file system's clock, which may tick in whole milliseconds or
//! coarser: an entry removed in the same tick as the stamp would leave it unchanged. So a stamp
//! is only taken once the directory's change time is older than a probe (the lock file's change
//! time, set just before): a later change then gets a time at least the probe's, unlike the
//! stamp. Like `git`'s index, this assumes the clock does not step back.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::CacheError;
use super::runs::RunRecord;
use super::store::Cache;

/// A fan-out directory (`objects/ab`) as the seal saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dir: String,
    ino: u64,
    ctime: i64,
    ctime_ns: i64,
}

/// The seal of one workflow's newest run record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Seal {
    fingerprint: String,
    record: String,
    tasks: usize,
    stamps: Vec<Stamp>,
}

/// How often a seal waits for the file system's clock to pass its directories' change times.
const PROBES: usize = 20;

impl Cache {
    fn seal_path(&self, workflow: &str) -> PathBuf {
        self.runs_dir(workflow).join("noop.seal")
    }

    /// Seals `record` (of `workflow`, stored as `file` in its runs folder) under `fingerprint`,
    /// when every manifest and object it names is present. Returns whether it sealed.
    pub fn seal(&self, workflow: &str, file: &str, record: &RunRecord, fingerprint: &str) -> Result<bool, CacheError> {
        let mut dirs: Vec<String> = record
            .tasks
            .values()
            .flat_map(|e| {
                let objects = e.outputs.values().map(|h| format!("objects/{}", prefix(h)));
                std::iter::once(format!("tasks/{}", prefix(&e.key))).chain(objects)
            })
            .collect();
        dirs.sort_unstable();
        dirs.dedup();
        let Some(stamps) = self.settled_stamps(&dirs)? else { return Ok(false) };
        if !self.absent_tasks(record).is_empty() {
            return Ok(false);
        }
        let tasks = record.tasks.len();
        let seal = Seal { fingerprint: fingerprint.to_string(), record: file.to_string(), tasks, stamps };
        self.write_atomic(&self.seal_path(workflow), &serde_json::to_vec(&seal).unwrap_or_default())?;
        Ok(true)
    }

    /// Stamps of `dirs` whose change times precede a probe of the clock; `None` when they keep
    /// changing (another run writes there) or one is missing.
    fn settled_stamps(&self, dirs: &[String]) -> Result<Option<Vec<Stamp>>, CacheError> {
        for _ in 0..PROBES {
            let probe = self.touch_probe()?;
            let Some(stamps) = dirs.iter().map(|d| self.stamp(d)).collect::<Option<Vec<Stamp>>>() else {
                return Ok(None);
            };
            if stamps.iter().all(|s| (s.ctime, s.ctime_ns) < probe) {
                return Ok(Some(stamps));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(None)
    }

    fn stamp(&self, dir: &str) -> Option<Stamp> {
        let meta = fs::metadata(self.root().join(dir)).ok()?;
        Some(Stamp { dir: dir.to_string(), ino: meta.ino(), ctime: meta.ctime(), ctime_ns: meta.ctime_nsec() })
    }

    /// The number of tasks of the record sealed for `workflow` under `fingerprint`, when the
    /// seal still holds: same fingerprint, its record still the newest, no directory changed.
    pub fn sealed(&self, workflow: &str, fingerprint: &str) -> Option<usize> {
        let seal: Seal = serde_json::from_slice(&fs::read(self.seal_path(workflow)).ok()?).ok()?;
        let holds = seal.fingerprint == fingerprint
            && self.newest_run_file(workflow).is_some_and(|f| f == seal.record)
            && seal.stamps.iter().all(|s| self.stamp(&s.dir).as_ref() == Some(s));
        holds.then_some(seal.tasks)
    }
}

/// The fan-out directory name of a key or hash.
fn prefix(name: &str) -> &str {
    name.get(..2).unwrap_or("xx")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cache::TaskEntry;

    fn record(cache: &Cache, n: usize) -> RunRecord {
        let tasks = (0..n)
            .map(|i| {
                let hash = cache.put_object(format!("object {i}").as_bytes()).unwrap();
                let key = blake3::hash(format!("key {i}").as_bytes()).to_hex().to_string();
                let dir = cache.root().join("tasks").join(&key[..2]);
                fs::create_dir_all(&dir).unwrap();
                fs::write(dir.join(format!("{key}.json")), b"{}").unwrap();
                (format!("t{i}"), TaskEntry { key, outputs: BTreeMap::from([("x".into(), hash)]), ran: true })
            })
            .collect();
        RunRecord { workflow: "w".into(), started_ms: 1, seconds: 0.0, tasks, ..Default::default() }
    }

    #[test]
    fn a_seal_holds_until_a_named_file_goes_or_the_record_or_fingerprint_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let rec = record(&cache, 30);
        let file = cache.save_run(&rec).unwrap().file_name().unwrap().to_string_lossy().into_owned();
        assert!(cache.seal("w", &file, &rec, "f1").unwrap());
        assert_eq!(cache.sealed("w", "f1"), Some(30));
        assert_eq!(cache.sealed("w", "f2"), None, "another fingerprint");
        assert_eq!(cache.sealed("v", "f1"), None, "another workflow");

        // An unrelated object in a sealed directory breaks the seal (it cannot tell which name
        // changed); sealing again restores it.
        let hash = &rec.tasks["t3"].outputs["x"];
        let sibling = cache.object_path(&format!("{}{}", &hash[..2], "0".repeat(62)));
        fs::write(&sibling, b"x").unwrap();
        assert_eq!(cache.sealed("w", "f1"), None, "a directory changed");
        assert!(cache.seal("w", &file, &rec, "f1").unwrap());
        assert_eq!(cache.sealed("w", "f1"), Some(30));

        // Removing an object right after sealing is seen, however fast it follows.
        fs::remove_file(cache.object_path(hash)).unwrap();
        assert_eq!(cache.sealed("w", "f1"), None, "an object was removed");
        assert!(!cache.seal("w", &file, &rec, "f1").unwrap(), "nothing is sealed while an object is missing");
        cache.put_object(b"object 3").unwrap();
        assert!(cache.seal("w", &file, &rec, "f1").unwrap());
        fs::remove_file(cache.manifest_path(&rec.tasks["t7"].key)).unwrap();
        assert_eq!(cache.sealed("w", "f1"), None, "a manifest was removed");
    }

    #[test]
    fn a_newer_record_breaks_the_seal() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let mut rec = record(&cache, 3);
        let file = cache.save_run(&rec).unwrap().file_name().unwrap().to_string_lossy().into_owned();
        assert!(cache.seal("w", &file, &rec, "f1").unwrap());
        rec.started_ms += 1;
        cache.save_run(&rec).unwrap();
        assert_eq!(cache.sealed("w", "f1"), None);
    }
}
