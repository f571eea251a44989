//! Task manifests: what a finished task produced, and how.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One stored output of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// blake3 of the Arrow IPC bytes (the object's name).
    pub hash: String,
    /// Rows of the table.
    pub rows: usize,
    /// Columns of the table.
    pub cols: usize,
}

/// The record of one finished task, stored under its key. Written last, so its presence means
/// every object it names was already stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The task key.
    pub key: String,
    /// Kind name.
    pub kind: String,
    /// Kind version.
    pub kind_version: u32,
    /// The label of the task that produced it (first producer).
    pub label: String,
    /// Canonical parameters.
    pub params: BTreeMap<String, Value>,
    /// Input content hashes by port.
    pub inputs: BTreeMap<String, Vec<String>>,
    /// Outputs by port.
    pub outputs: BTreeMap<String, OutputRecord>,
    /// Wall time of the run in seconds.
    pub seconds: f64,
    /// Unix time (seconds) when it finished.
    pub finished: u64,
    /// Host that ran it.
    pub host: String,
    /// gcrl version that ran it.
    pub gcrl_version: String,
}
