//! Which of many manifests and objects exist, asked at once.
//!
//! A no-op run checks every task of its last run: 12,000 tasks are 24,000 paths, and a path
//! lookup costs a system call and a walk of five directories. Names fall into fan-out
//! directories (`tasks/ab/`, `objects/ab/`); where a directory holds many of the names asked
//! for, one listing of it answers them all; where it does not exist, none of them do. Where it
//! holds few of them among many other entries (a large cache, a small workflow), each path is
//! looked up alone.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use rayon::prelude::*;

use super::runs::RunRecord;
use super::store::Cache;

/// List a directory when it holds at least this many of the names asked for…
const LIST_MIN: usize = 4;
/// …and its size in bytes is at most this many times their count (ext4 spends ~80 bytes of
/// directory per name of ours; a listing entry costs about a tenth of a path lookup).
const LIST_BYTES_PER_NAME: u64 = 256;

/// For each of `names`, whether `dir/<first two chars>/<name>.<ext>` exists.
fn present(dir: &Path, names: &[&str], ext: &str) -> Vec<bool> {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        groups.entry(name.get(..2).unwrap_or("xx")).or_default().push(i);
    }
    let found: Vec<(usize, bool)> = groups
        .into_par_iter()
        .flat_map_iter(|(prefix, idx)| {
            let sub = dir.join(prefix);
            let meta = fs::metadata(&sub);
            if meta.as_ref().is_err_and(|e| e.kind() == ErrorKind::NotFound) {
                // No such fan-out directory: none of its names exist (a new cache).
                return idx.iter().map(|&i| (i, false)).collect::<Vec<_>>();
            }
            let listed = (idx.len() >= LIST_MIN)
                .then_some(meta.ok())
                .flatten()
                .filter(|m| m.len() <= idx.len() as u64 * LIST_BYTES_PER_NAME)
                .and_then(|_| fs::read_dir(&sub).ok())
                .map(|rd| stems(rd, ext));
            match listed {
                Some(stems) => idx.iter().map(|&i| (i, stems.contains(names[i]))).collect(),
                None => idx.iter().map(|&i| (i, sub.join(format!("{}.{ext}", names[i])).exists())).collect::<Vec<_>>(),
            }
        })
        .collect();
    let mut out = vec![false; names.len()];
    for (i, ok) in found {
        out[i] = ok;
    }
    out
}

/// The names of the `<name>.<ext>` files of a directory listing.
fn stems(listing: fs::ReadDir, ext: &str) -> HashSet<String> {
    listing
        .flatten()
        .filter_map(|e| {
            let mut name = e.file_name().into_string().ok()?;
            let stem = name.len().checked_sub(ext.len() + 1)?;
            (name.as_bytes()[stem] == b'.' && name[stem + 1..] == *ext).then(|| {
                name.truncate(stem);
                name
            })
        })
        .collect()
}

impl Cache {
    /// For each of `keys`, whether its manifest exists.
    fn manifests_present(&self, keys: &[&str]) -> Vec<bool> {
        present(&self.root().join("tasks"), keys, "json")
    }

    /// The fan-out directories (`ab`) of the manifests now in the cache.
    pub fn manifest_dirs(&self) -> HashSet<String> {
        let Ok(listing) = fs::read_dir(self.root().join("tasks")) else { return HashSet::new() };
        listing.flatten().filter_map(|e| e.file_name().into_string().ok()).collect()
    }

    /// For each of `hashes`, whether its object exists.
    fn objects_present(&self, hashes: &[&str]) -> Vec<bool> {
        present(&self.root().join("objects"), hashes, "arrow")
    }

    /// Labels of `record` whose manifest or some object is missing.
    pub fn absent_tasks(&self, record: &RunRecord) -> HashSet<String> {
        let keys: Vec<&str> = record.tasks.values().map(|e| e.key.as_str()).collect();
        let hashes: Vec<&str> = record.tasks.values().flat_map(|e| e.outputs.values().map(String::as_str)).collect();
        let (manifests, objects) = rayon::join(|| self.manifests_present(&keys), || self.objects_present(&hashes));
        let mut objects = objects.into_iter();
        let mut absent = HashSet::new();
        for ((label, entry), manifest) in record.tasks.iter().zip(manifests) {
            // `fold`, not `all`: each task's answers must be consumed whole to keep the rest aligned.
            let all_objects = objects.by_ref().take(entry.outputs.len()).fold(true, |all, o| all && o);
            if !(manifest && all_objects) {
                absent.insert(label.clone());
            }
        }
        absent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_and_lookup_agree_with_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let stored: Vec<String> =
            (0..40).map(|i| cache.put_object(format!("object {i}").as_bytes()).unwrap()).collect();
        let mut asked: Vec<String> = stored.clone();
        // Absent names, in directories that are listed (many asks) and looked up (one ask).
        asked.extend((0..40).map(|i| blake3::hash(format!("absent {i}").as_bytes()).to_hex().to_string()));
        asked.push(format!("zz{}", &stored[0][2..]));
        let names: Vec<&str> = asked.iter().map(String::as_str).collect();
        let got = cache.objects_present(&names);
        let truth: Vec<bool> = names.iter().map(|h| cache.has_object(h)).collect();
        assert_eq!(got, truth);
        assert_eq!(got.iter().filter(|&&b| b).count(), 40);
        // Many names in one directory: the listing path answers them.
        let many: Vec<String> = (0..300).map(|i| format!("ab{i:062}")).collect();
        std::fs::create_dir_all(dir.path().join("objects/ab")).unwrap();
        for h in many.iter().step_by(3) {
            std::fs::write(cache.object_path(h), b"x").unwrap();
        }
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        let got = cache.objects_present(&names);
        assert_eq!(got, (0..300).map(|i| i % 3 == 0).collect::<Vec<_>>());
    }
}
