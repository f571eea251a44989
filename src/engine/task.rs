//! The task vocabulary, owned by neither the scheduler nor any executor (nextest's
//! `runner/internal_events.rs`): what a task is once resolved ([`ResolvedTask`]), what the
//! scheduler hands an executor ([`Submission`]: the task with its resources, memory and
//! attempt), what comes back ([`Message`], [`Outcome`], [`TaskFailure`]), and how much an
//! executor runs at once ([`Capacity`]). An executor needs this file and
//! [`super::executor::Executor`], nothing of the scheduler.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cache::Manifest;
use crate::kind::{Origin, Resources};

/// One resolved input value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ResolvedInput {
    /// A cached object.
    Object {
        /// Its hash.
        hash: String,
        /// Sweep assignment of its producer.
        instance: BTreeMap<String, Value>,
        /// Its producer, for kinds that read origins (absent in task specs written before them).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<Origin>,
    },
    /// A file and its content hash.
    File {
        /// The path.
        path: PathBuf,
        /// blake3 of its bytes.
        hash: String,
    },
}

impl ResolvedInput {
    /// The content hash that enters the task key.
    pub fn hash(&self) -> &str {
        match self {
            ResolvedInput::Object { hash, .. } | ResolvedInput::File { hash, .. } => hash,
        }
    }
}

/// Everything needed to run a task, and its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedTask {
    /// The task key.
    pub key: String,
    /// Label, for messages and manifests.
    pub label: String,
    /// Kind name.
    pub kind: String,
    /// Kind version.
    pub kind_version: u32,
    /// `whole`, `shard` or `reduce`.
    pub role: String,
    /// Parameters (a shard's own for a shard).
    pub params: BTreeMap<String, Value>,
    /// Inputs by port.
    pub inputs: BTreeMap<String, Vec<ResolvedInput>>,
    /// For a reduce step: each shard's output hashes.
    pub shards: Vec<BTreeMap<String, String>>,
    /// Threads it may use.
    pub threads: usize,
    /// GPU ordinals assigned by the executor when the task declared GPUs (not part of the key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<usize>,
}

/// How a task ended well.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It ran and stored this manifest.
    Ran(Manifest),
    /// Another process had finished it first.
    Cached(Manifest),
}

impl Outcome {
    /// The manifest either way.
    pub fn manifest(&self) -> &Manifest {
        match self {
            Outcome::Ran(m) | Outcome::Cached(m) => m,
        }
    }
}

/// Why a cluster killed a task's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    /// Out of memory or out of time: a retry with more of them may succeed.
    Resources,
    /// The job was lost (node failure, preemption, `scancel`, a worker that died): the same
    /// request may succeed.
    Transient,
}

/// How a task failed.
#[derive(Debug, Clone)]
pub enum TaskFailure {
    /// The node reported an error (or panicked): its inputs and parameters give the same error
    /// again, so it is never retried.
    Node(String),
    /// The node failed on something outside its inputs and code (a file it reads, an external
    /// program it runs, which the OOM killer may have stopped): a retry may pass.
    Environment(String),
    /// An input object is missing or corrupt: its producer must run again.
    InputLost(String),
    /// The cache could not be written.
    Cache(String),
    /// The run was interrupted (Ctrl-C) before the task ended; it is not retried.
    Interrupted(String),
    /// The cluster killed the task's job before it ended.
    Killed {
        /// What happened, with the job's state and log.
        message: String,
        /// Whether more resources can fix it.
        cause: Kill,
    },
}

impl TaskFailure {
    /// Whether trying again (within the node's `retries`) can end otherwise: a lost or killed
    /// job, or a cache write, yes; the node's own error on its inputs, or an interruption, no.
    pub fn retryable(&self) -> bool {
        match self {
            TaskFailure::Node(_) | TaskFailure::Interrupted(_) => false,
            TaskFailure::Environment(_)
            | TaskFailure::InputLost(_)
            | TaskFailure::Cache(_)
            | TaskFailure::Killed { .. } => true,
        }
    }
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskFailure::Node(m)
            | TaskFailure::Environment(m)
            | TaskFailure::Cache(m)
            | TaskFailure::Interrupted(m)
            | TaskFailure::Killed { message: m, .. } => f.write_str(m),
            TaskFailure::InputLost(h) => write!(f, "input object {h} is missing or corrupt"),
        }
    }
}

/// A message from an executor to the scheduler, tagged with the task index.
#[derive(Debug)]
pub enum Message {
    /// The task waits for another process's lock.
    Waiting(usize),
    /// The task ended.
    Done(usize, Box<Result<Outcome, TaskFailure>>),
}

/// How much an executor can run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// CPU slots.
    pub cpus: usize,
    /// GPU slots.
    pub gpus: usize,
}

/// One task handed to an executor: what it runs, what it needs, and how many of its tries
/// failed before in this run.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The task's index in the graph (messages name it).
    pub id: usize,
    /// The task, resolved.
    pub task: ResolvedTask,
    /// Its node (tasks of one node with equal resources may share a Slurm array).
    pub node: String,
    /// What one try needs, before any scaling for retries.
    pub resources: Resources,
    /// Run even when the cache holds the result.
    pub force: bool,
    /// Failed tries before this one: 0 for a first try, and for a producer that runs again only
    /// because a consumer found its output gone (it never failed, so it asks for no more).
    pub attempt: u32,
    /// Bytes of memory it asks for: `resources.mem_gb` when the workflow set it, else its kind's
    /// estimate from its input sizes.
    pub memory: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_a_retry_can_change_are_retryable() {
        assert!(!TaskFailure::Node("bad input".into()).retryable(), "the same inputs give the same error");
        assert!(!TaskFailure::Interrupted("Ctrl-C".into()).retryable());
        assert!(TaskFailure::Environment("plugin `x` was killed by a signal".into()).retryable());
        assert!(TaskFailure::Cache("disk full".into()).retryable());
        assert!(TaskFailure::InputLost("h".into()).retryable());
        for cause in [Kill::Resources, Kill::Transient] {
            assert!(TaskFailure::Killed { message: "OUT_OF_MEMORY".into(), cause }.retryable());
        }
    }

    #[test]
    fn task_specs_without_origins_still_parse_and_origins_round_trip() {
        let old = r#"{"type":"object","hash":"h1","instance":{"model":"d-vae"}}"#;
        let parsed: ResolvedInput = serde_json::from_str(old).unwrap();
        assert_eq!(
            parsed,
            ResolvedInput::Object {
                hash: "h1".into(),
                instance: BTreeMap::from([("model".into(), Value::from("d-vae"))]),
                origin: None
            }
        );
        assert_eq!(serde_json::to_string(&parsed).unwrap(), old, "no origin, nothing written");
        let with = ResolvedInput::Object {
            hash: "h1".into(),
            instance: BTreeMap::new(),
            origin: Some(Origin {
                node: "grn".into(),
                output: "edges".into(),
                kind: "grn".into(),
                instance: BTreeMap::new(),
            }),
        };
        let text = serde_json::to_string(&with).unwrap();
        assert_eq!(serde_json::from_str::<ResolvedInput>(&text).unwrap(), with, "{text}");
    }
}
