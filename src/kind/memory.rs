//! The sizes of a task's inputs, from which a kind estimates its memory
//! ([`NodeKind::memory`](super::NodeKind::memory)), and the units and defaults of that estimate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::table::BATCH_ROWS;

/// One mebibyte.
pub const MIB: u64 = 1 << 20;
/// One gibibyte.
pub const GIB: u64 = 1 << 30;

/// What a task holds besides its inputs' multiple: the process's share (binary, libraries, thread
/// pool). A `diag-numbers` task measures 11 MiB, the smallest built-in tasks 16–22 MiB.
pub const BASE: u64 = 32 * MIB;

/// How many times its input bytes the default estimate allows a task: the inputs decoded
/// (Arrow to ndarray is about one copy), a working copy, and outputs of the same order.
pub const INPUT_FACTOR: f64 = 3.0;

/// One input value as it lies on disk: a cached object (an Arrow IPC file) or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDisk {
    /// Its size.
    pub bytes: u64,
    /// Where it is (a kind whose memory follows what is inside may look).
    pub path: PathBuf,
}

/// The sizes in bytes of one task's inputs: the cached objects and files on each port, and for
/// a reduce step the outputs of its shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSizes {
    ports: BTreeMap<String, Vec<OnDisk>>,
    shards: u64,
}

impl InputSizes {
    /// The values on each port, and the shards' outputs in total.
    pub fn new(ports: BTreeMap<String, Vec<OnDisk>>, shards: u64) -> Self {
        InputSizes { ports, shards }
    }

    /// Bytes on `port` (every value of a swept producer together; 0 when not connected).
    pub fn port(&self, port: &str) -> u64 {
        self.ports.get(port).map_or(0, |v| v.iter().map(|d| d.bytes).sum())
    }

    /// Where the values on `port` are (none when not connected).
    pub fn paths(&self, port: &str) -> impl Iterator<Item = &Path> {
        self.ports.get(port).into_iter().flatten().map(|d| d.path.as_path())
    }

    /// The estimate of a kind that reads the cached matrix on `port` a batch at a time (so its
    /// memory follows the largest batch, not the matrix): [`BASE`], `batches` times the largest
    /// batch, `per_cell` bytes for each of its rows ([`BATCH_ROWS`] a batch, an upper bound) and
    /// `others` times the other inputs. `None` when the port holds no Arrow table (its batch
    /// sizes come from the file's footer: [`crate::table::batch_sizes`]).
    pub fn streamed(&self, port: &str, batches: u64, per_cell: u64, others: f64) -> Option<u64> {
        let (n, largest) = self.paths(port).next().and_then(crate::table::batch_sizes)?;
        let rest = (self.total() - self.port(port)) as f64 * others;
        Some(BASE + batches * largest + per_cell * n as u64 * BATCH_ROWS as u64 + rest.ceil() as u64)
    }

    /// Bytes of every input together.
    pub fn total(&self) -> u64 {
        self.ports.values().flatten().map(|d| d.bytes).sum::<u64>() + self.shards
    }

    /// [`BASE`] plus `factor` times the inputs.
    pub fn times(&self, factor: f64) -> u64 {
        BASE + (factor * self.total() as f64).ceil() as u64
    }

    /// [`BASE`] plus [`INPUT_FACTOR`] times the inputs: the estimate of kinds that declare none.
    pub fn default_estimate(&self) -> u64 {
        self.times(INPUT_FACTOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableBuilder;

    #[test]
    fn a_streamed_estimate_follows_the_largest_batch_not_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.arrow");
        let batch = |n: usize| TableBuilder::new().f64("x", vec![1.0; n]).build().unwrap();
        let (a, b) = (batch(1000), batch(10));
        let t = crate::table::Table::from_batches(a.schema(), vec![a.batch().clone(), b.batch().clone()]).unwrap();
        std::fs::write(&path, t.to_ipc().unwrap()).unwrap();
        let (n, largest) = crate::table::batch_sizes(&path).unwrap();
        assert!(n == 2 && largest > 8000 && largest < 9000, "{n} {largest}");
        let on_disk = |path: PathBuf| OnDisk { bytes: std::fs::metadata(&path).map_or(100, |m| m.len()), path };
        let sizes = InputSizes::new(
            BTreeMap::from([("m".into(), vec![on_disk(path)]), ("c".into(), vec![on_disk(dir.path().join("c"))])]),
            0,
        );
        let want = BASE + 3 * largest + 2 * 10 * BATCH_ROWS as u64 + 150;
        assert_eq!(sizes.streamed("m", 3, 10, 1.5), Some(want));
        assert_eq!(sizes.streamed("c", 3, 10, 1.5), None, "not a table");
        assert_eq!(sizes.streamed("absent", 3, 10, 1.5), None);
    }
}
