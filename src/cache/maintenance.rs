//! `gcrl cache du | gc | verify`: sizes, garbage collection, integrity.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::error::{CacheError, io};
use super::hash::hash_file;
use super::layout::{files_under, files_with_inodes};
use super::manifest::Manifest;
use super::store::{Cache, LOCK_FILE};

/// Disk use of the cache.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    /// Number of objects and their bytes.
    pub objects: (usize, u64),
    /// Number of manifests and their bytes.
    pub manifests: (usize, u64),
    /// Object bytes by kind (an object shared by kinds counts for the first).
    pub by_kind: BTreeMap<String, (usize, u64)>,
}

/// What `gc` removed.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    /// Manifests removed.
    pub manifests: usize,
    /// Objects removed.
    pub objects: usize,
    /// Bytes freed.
    pub bytes: u64,
}

/// What `verify` found.
#[derive(Debug, Default, Clone)]
pub struct VerifyReport {
    /// Objects checked.
    pub checked: usize,
    /// Objects whose bytes did not match their name (removed).
    pub corrupt: Vec<String>,
    /// Keys of manifests that named missing objects (removed).
    pub broken_manifests: Vec<String>,
    /// Keys of manifests that could not be read (removed).
    pub unreadable_manifests: Vec<String>,
    /// `(workflow, labels)`: tasks that a workflow's newest run record lists as finished but
    /// whose result is gone (the next run recomputes them).
    pub gone: Vec<(String, Vec<String>)>,
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default()
}

impl Cache {
    /// Every manifest file, with its manifest (`None` when unreadable) and the bytes of its
    /// record. A batch file, linked under each of its keys, is read once.
    fn all_manifests(&self) -> Vec<(PathBuf, Option<Manifest>, u64)> {
        let mut by_inode: HashMap<u64, Vec<PathBuf>> = HashMap::new();
        for (p, ino) in files_with_inodes(&self.root().join("tasks")) {
            by_inode.entry(ino).or_default().push(p);
        }
        by_inode
            .into_par_iter()
            .flat_map_iter(|(_, paths)| {
                let bytes = fs::read(&paths[0]).unwrap_or_default();
                paths.into_iter().map(move |p| {
                    let found = Manifest::find(&bytes, &stem(&p)).and_then(Result::ok);
                    let len = found.as_ref().map_or(0, |(_, len)| *len as u64);
                    (p, found.map(|(m, _)| m), len)
                })
            })
            .collect()
    }

    /// Counts objects and manifests and sums their sizes.
    pub fn usage(&self) -> Usage {
        let mut u = Usage::default();
        let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut seen = HashSet::new();
        for (_, m, len) in self.all_manifests() {
            u.manifests.0 += 1;
            u.manifests.1 += len;
            if let Some(m) = m {
                for o in m.outputs.values() {
                    if seen.insert(o.hash.clone()) {
                        let e = u.by_kind.entry(m.kind.clone()).or_default();
                        e.0 += 1;
                        e.1 += size(&self.object_path(&o.hash));
                    }
                }
            }
        }
        for p in files_under(&self.root().join("objects")) {
            u.objects.0 += 1;
            u.objects.1 += size(&p);
        }
        u
    }

    /// Keeps what the `keep_last` newest runs of `workflows` (all workflows when empty) reference;
    /// removes every other manifest and object, and stale temp files.
    pub fn gc(&self, workflows: &[String], keep_last: usize) -> Result<GcReport, CacheError> {
        let names = if workflows.is_empty() { self.workflows() } else { workflows.to_vec() };
        let mut keys = HashSet::new();
        for name in &names {
            for (_, rec) in self.runs(name)?.into_iter().take(keep_last.max(1)) {
                keys.extend(rec.tasks.into_values().map(|t| t.key));
            }
        }
        let mut report = GcReport::default();
        let mut live_objects = HashSet::new();
        for (path, manifest, _) in self.all_manifests() {
            match manifest {
                Some(m) if keys.contains(&m.key) => live_objects.extend(m.outputs.into_values().map(|o| o.hash)),
                _ => {
                    fs::remove_file(&path).map_err(io(&path))?;
                    report.manifests += 1;
                }
            }
        }
        for path in files_under(&self.root().join("objects")) {
            if !live_objects.contains(&stem(&path)) {
                report.bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                fs::remove_file(&path).map_err(io(&path))?;
                report.objects += 1;
            }
        }
        // Per-task lock files of older versions; the shared lock file stays.
        for path in files_under(&self.root().join("locks")) {
            if !path.ends_with(LOCK_FILE) {
                let _ = fs::remove_file(&path);
            }
        }
        for name in &names {
            for (path, _) in self.runs(name)?.into_iter().skip(keep_last.max(1)) {
                fs::remove_file(&path).map_err(io(&path))?;
                let _ = fs::remove_file(path.with_extension("log"));
            }
        }
        self.clean_tmp()?;
        Ok(report)
    }

    /// Re-hashes every object (an object that cannot be read is left for the run that needs it
    /// to report); removes corrupt objects and the manifests that can no longer be
    /// served, so the tasks behind them are recomputed by the next run; then lists the tasks
    /// of each workflow's newest run whose result is gone.
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        let objects = files_under(&self.root().join("objects"));
        let corrupt: Vec<String> = objects
            .par_iter()
            // Streamed through a buffer: objects can be tens of GB, several hashed at once.
            .filter_map(|p| (hash_file(p).ok()? != stem(p)).then(|| stem(p)))
            .collect();
        for hash in &corrupt {
            let p = self.object_path(hash);
            fs::remove_file(&p).map_err(io(&p))?;
        }
        let (mut broken, mut unreadable) = (Vec::new(), Vec::new());
        for (path, manifest, _) in self.all_manifests() {
            let list = match manifest {
                None => &mut unreadable,
                Some(m) if !self.holds_outputs(&m) => &mut broken,
                Some(_) => continue,
            };
            list.push(stem(&path));
            fs::remove_file(&path).map_err(io(&path))?;
        }
        let gone = self
            .workflows()
            .into_iter()
            .filter_map(|w| self.last_run(&w))
            .filter_map(|(_, record)| {
                let mut labels: Vec<String> = self.absent_tasks(&record).into_iter().collect();
                labels.sort();
                (!labels.is_empty()).then_some((record.workflow, labels))
            })
            .collect();
        Ok(VerifyReport {
            checked: objects.len(),
            corrupt,
            broken_manifests: broken,
            unreadable_manifests: unreadable,
            gone,
        })
    }
}
