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

/// What a task cost the machine that ran it, measured by the engine (not part of any key).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TaskUsage {
    /// CPU time (user + system) of the process while the task ran, in seconds.
    pub cpu_seconds: f64,
    /// Peak resident memory of the process while the task ran, in MiB.
    pub peak_rss_mb: f64,
    /// Whether the task ran alone in its process (every `gcrl exec` task, a local `-j 1` run),
    /// so both figures are its own; otherwise they include tasks that ran beside it and are
    /// upper bounds.
    pub alone: bool,
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
    /// Lines the task left for the run log (what it decided, warnings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// CPU time and peak memory (absent in manifests written before they were measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TaskUsage>,
}

/// Manifests are stored as lines of compact JSON, several to a file (a commit batch, see
/// `commit.rs`): the file is hard-linked under each key it holds, so a batch costs one inode.
/// `key` is the first field, so a key's line starts with `{"key":"<key>"`.
impl Manifest {
    /// The manifest as one line of JSON, newline included.
    pub(crate) fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// The manifest of `key` in the bytes of a manifest file, and its length in bytes; `None`
    /// when the file holds no such record. A file written before batches (one pretty-printed
    /// manifest) is read whole.
    pub(crate) fn find(bytes: &[u8], key: &str) -> Option<Result<(Manifest, usize), serde_json::Error>> {
        let prefix = format!("{{\"key\":\"{key}\"");
        if let Some(line) = bytes.split(|&b| b == b'\n').find(|l| l.starts_with(prefix.as_bytes())) {
            return Some(serde_json::from_slice(line).map(|m| (m, line.len() + 1)));
        }
        match serde_json::from_slice::<Manifest>(bytes) {
            Ok(m) if m.key == key => Some(Ok((m, bytes.len()))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_written_before_usage_was_measured_still_read() {
        let old = r#"{"key":"k1","kind":"diag-numbers","kind_version":1,"label":"n","params":{},"inputs":{},"outputs":{},"seconds":0.5,"finished":1,"host":"h","gcrl_version":"0.1.0"}"#;
        let (m, len) = Manifest::find(old.as_bytes(), "k1").unwrap().unwrap();
        assert_eq!((m.usage, len), (None, old.len() + 1), "a line and its newline");
        let with = Manifest { usage: Some(TaskUsage { cpu_seconds: 1.5, peak_rss_mb: 40.0, alone: true }), ..m };
        let line = with.to_line();
        assert!(line.starts_with(b"{\"key\":\"k1\""), "the key stays the first field");
        assert_eq!(Manifest::find(&line, "k1").unwrap().unwrap().0, with);
    }
}
