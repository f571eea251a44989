//! The sizes of a task's inputs, from which a kind estimates its memory
//! ([`NodeKind::memory`](super::NodeKind::memory)), and the units and defaults of that estimate.

use std::collections::BTreeMap;

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

/// The sizes in bytes of one task's inputs: the cached objects and files on each port, and for
/// a reduce step the outputs of its shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSizes {
    ports: BTreeMap<String, Vec<u64>>,
    shards: u64,
}

impl InputSizes {
    /// Sizes by port, and the shards' outputs in total.
    pub fn new(ports: BTreeMap<String, Vec<u64>>, shards: u64) -> Self {
        InputSizes { ports, shards }
    }

    /// Bytes on `port` (every value of a swept producer together; 0 when not connected).
    pub fn port(&self, port: &str) -> u64 {
        self.ports.get(port).map_or(0, |v| v.iter().sum())
    }

    /// Bytes of every input together.
    pub fn total(&self) -> u64 {
        self.ports.values().flatten().sum::<u64>() + self.shards
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
