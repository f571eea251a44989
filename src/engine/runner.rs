//! Running one task from its fully resolved description, on any executor.
//!
//! A [`ResolvedTask`] names its kind, parameters and the content hashes of its inputs; it is
//! all a worker needs (locally, or `gcrl exec` on a cluster node, without the workflow file).
//! [`execute`] takes the task's lock, re-checks the cache (another process may have finished
//! it meanwhile), loads inputs, runs the kind (measuring its CPU time and memory peak), stores
//! objects, then the manifest.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::usage::Meter;
use crate::cache::{Cache, CacheError, Manifest, OutputRecord};
use crate::kind::NodeError;
use crate::kind::params::Params;
use crate::kind::registry::Registry;
use crate::kind::{Input, Inputs, Origin, RunContext};
use crate::table::Table;

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

/// Whether the outputs of `manifest` are all still in the cache.
pub fn complete(cache: &Cache, manifest: &Manifest) -> bool {
    manifest.outputs.values().all(|o| cache.has_object(&o.hash))
}

fn cached(cache: &Cache, key: &str) -> Option<Manifest> {
    cache.get_manifest(key).ok().flatten().filter(|m| complete(cache, m))
}

/// An input object as a table: checked against its hash, then mapped (its columns are views
/// into the file; see `table::ipc`).
fn load(cache: &Cache, hash: &str) -> Result<Table, TaskFailure> {
    let path = cache.checked_object_path(hash).map_err(|e| match e {
        CacheError::BadObject { .. } | CacheError::MissingObject(_) => TaskFailure::InputLost(hash.to_string()),
        other => TaskFailure::Cache(other.to_string()),
    })?;
    Table::map_ipc(&path).map_err(|_| TaskFailure::InputLost(hash.to_string()))
}

/// Tables above this size are written to the cache a batch at a time, never as one buffer.
const STREAM_OUTPUT: usize = 8 << 20;

/// Stores `table` as an object and returns its hash.
fn store(cache: &Cache, table: &Table) -> Result<String, TaskFailure> {
    let cache_err = |e: CacheError| TaskFailure::Cache(e.to_string());
    let node_err = |e: crate::table::TableError| TaskFailure::Node(e.to_string());
    if table.batches().iter().map(|b| b.get_array_memory_size()).sum::<usize>() < STREAM_OUTPUT {
        return cache.put_object(&table.to_ipc().map_err(node_err)?).map_err(cache_err);
    }
    let mut writer = cache.object_writer().map_err(cache_err)?;
    table.write_ipc(&mut writer).map_err(node_err)?;
    writer.finish().map_err(cache_err)
}

/// Runs `task` unless the cache already holds its result. `on_wait` is called once if another
/// process holds the task's lock and we must wait for it.
pub fn execute(
    task: &ResolvedTask,
    registry: &Registry,
    cache: &Cache,
    force: bool,
    on_wait: &dyn Fn(),
) -> Result<Outcome, TaskFailure> {
    let cache_err = |e: CacheError| TaskFailure::Cache(e.to_string());
    let lock = match cache.try_lock(&task.key).map_err(cache_err)? {
        Some(lock) => lock,
        None => {
            on_wait();
            cache.lock(&task.key).map_err(cache_err)?
        }
    };
    if !force && let Some(m) = cached(cache, &task.key) {
        return Ok(Outcome::Cached(m));
    }
    let kind = registry
        .get(&task.kind)
        .ok_or_else(|| TaskFailure::Node(format!("kind `{}` is not available in this gcrl", task.kind)))?;
    let mut ports = BTreeMap::new();
    for (port, values) in &task.inputs {
        let mut loaded = Vec::with_capacity(values.len());
        for v in values {
            loaded.push(match v {
                ResolvedInput::Object { hash, instance, origin } => Input::Table {
                    table: load(cache, hash)?,
                    instance: instance.clone(),
                    hash: hash.clone(),
                    origin: origin.clone(),
                },
                ResolvedInput::File { path, .. } => Input::File(path.clone()),
            });
        }
        ports.insert(port.clone(), loaded);
    }
    // A reduce step may read a hundred thousand small objects: on every thread of the pool
    // (which is idle but for it at the end of a sweep), in shard order.
    let shards = task
        .shards
        .par_iter()
        .map(|outputs| outputs.iter().map(|(name, hash)| Ok((name.clone(), load(cache, hash)?))).collect())
        .collect::<Result<Vec<BTreeMap<String, Table>>, TaskFailure>>()?;
    let inputs = Inputs::new(ports, shards);
    let params = Params::from_map(task.params.clone());
    let ctx = RunContext::new(task.label.clone(), task.threads, task.gpus.clone());
    let started = Instant::now();
    let meter = Meter::start();
    let result = catch_unwind(AssertUnwindSafe(|| {
        if task.role == "shard" { kind.run_shard(&params, &inputs, &ctx) } else { kind.run(&params, &inputs, &ctx) }
    }));
    let usage = meter.finish();
    let outputs = match result {
        Ok(Ok(outputs)) => outputs,
        Ok(Err(e @ (NodeError::File { .. } | NodeError::External(_)))) => {
            return Err(TaskFailure::Environment(e.to_string()));
        }
        Ok(Err(e)) => return Err(TaskFailure::Node(e.to_string())),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            return Err(TaskFailure::Node(format!("internal error (panic): {msg}")));
        }
    };
    if task.role != "shard" {
        let mut declared: Vec<String> = kind.outputs().iter().map(|p| p.name.to_string()).collect();
        declared.sort();
        let produced: Vec<String> = outputs.keys().cloned().collect();
        if declared != produced {
            return Err(TaskFailure::Node(format!(
                "internal error: kind `{}` produced outputs {produced:?}, but declares {declared:?}",
                task.kind
            )));
        }
    }
    let mut records = BTreeMap::new();
    for (name, table) in &outputs {
        let hash = store(cache, table)?;
        records.insert(name.clone(), OutputRecord { hash, rows: table.n_rows(), cols: table.n_cols() });
    }
    let manifest = Manifest {
        key: task.key.clone(),
        kind: task.kind.clone(),
        kind_version: task.kind_version,
        label: task.label.clone(),
        params: task.params.clone(),
        inputs: task
            .inputs
            .iter()
            .map(|(p, v)| (p.clone(), v.iter().map(|i| i.hash().to_string()).collect()))
            .collect(),
        outputs: records,
        seconds: started.elapsed().as_secs_f64(),
        finished: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        host: hostname(),
        gcrl_version: env!("CARGO_PKG_VERSION").to_string(),
        notes: ctx.take_notes(),
        usage: Some(usage),
    };
    cache.put_manifest(&manifest, Some(lock)).map_err(cache_err)?;
    Ok(Outcome::Ran(manifest))
}

/// This machine's name (read once: every manifest records it).
pub fn hostname() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown".into())
    })
    .clone()
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
