//! The run directory of a Slurm run in the shared cache, and the files in it.
//!
//! ```text
//! cache/slurm/<workflow>/
//!   run.json                   the run state: jobs, elements, Slurm states and times (`gcrl status`)
//!   jobs/<token>.json          a job's spec: per array element, the resolved tasks it runs
//!   jobs/<token>.sh            the batch script handed to sbatch
//!   done/<token>.<element>.json   an element's report, written by `gcrl exec` when it ends
//!   logs/<token>.<element>.log    stdout and stderr of an element
//! ```
//! Writes are atomic and durable (the cache's one writer: temp file beside it, fsync, rename), so a
//! reader sees a whole file or none.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{SlurmError, io};
use crate::engine::task::{Kill, ResolvedTask, TaskFailure};

/// One task of a job spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpecTask {
    /// Everything the worker needs.
    pub task: ResolvedTask,
    /// Run even if cached (`--force`).
    pub force: bool,
}

/// What one `sbatch` job runs: for each array element (one for a single job), its tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSpec {
    /// The submit token (names the files of the job).
    pub token: String,
    /// Threads of each element (its `--cpus-per-task`).
    pub threads: usize,
    /// Tasks per element.
    pub elements: Vec<Vec<SpecTask>>,
}

/// How one task of an element ended, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TaskResult {
    /// It ran and its manifest is stored.
    Ran,
    /// It was already cached.
    Cached,
    /// It failed.
    Failed {
        /// `node`, `environment`, `input_lost`, `cache`, `interrupted`, `killed` or `killed_resources`.
        reason: String,
        /// The error (for `input_lost`, the hash of the lost input).
        message: String,
    },
}

impl TaskResult {
    /// The report of a failure.
    pub fn failed(f: &TaskFailure) -> Self {
        let (reason, message) = match f {
            TaskFailure::Node(m) => ("node", m.clone()),
            TaskFailure::Environment(m) => ("environment", m.clone()),
            TaskFailure::InputLost(h) => ("input_lost", h.clone()),
            TaskFailure::Cache(m) => ("cache", m.clone()),
            TaskFailure::Interrupted(m) => ("interrupted", m.clone()),
            TaskFailure::Killed { message, cause: Kill::Resources } => ("killed_resources", message.clone()),
            TaskFailure::Killed { message, cause: Kill::Transient } => ("killed", message.clone()),
        };
        TaskResult::Failed { reason: reason.into(), message }
    }

    /// The failure a report describes (`None` when the task succeeded).
    pub fn failure(&self) -> Option<TaskFailure> {
        match self {
            TaskResult::Failed { reason, message } => Some(match reason.as_str() {
                "environment" => TaskFailure::Environment(message.clone()),
                "input_lost" => TaskFailure::InputLost(message.clone()),
                "cache" => TaskFailure::Cache(message.clone()),
                "interrupted" => TaskFailure::Interrupted(message.clone()),
                "killed_resources" => TaskFailure::Killed { message: message.clone(), cause: Kill::Resources },
                "killed" => TaskFailure::Killed { message: message.clone(), cause: Kill::Transient },
                _ => TaskFailure::Node(message.clone()),
            }),
            TaskResult::Ran | TaskResult::Cached => None,
        }
    }
}

/// An element's report, written by `gcrl exec` as its last act.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ElementReport {
    /// Host that ran it.
    pub host: String,
    /// Unix milliseconds at start and end.
    pub started_ms: u64,
    /// Unix milliseconds at the end.
    pub finished_ms: u64,
    /// Result per task key.
    pub results: BTreeMap<String, TaskResult>,
}

/// The run directory of one workflow in a cache.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory of `workflow` under `cache_root` (created).
    pub fn new(cache_root: &Path, workflow: &str) -> Result<Self, SlurmError> {
        let safe: String =
            workflow.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        let root = std::path::absolute(cache_root.join("slurm").join(safe)).map_err(io(cache_root))?;
        for sub in ["jobs", "done", "logs"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io(&p))?;
        }
        Ok(RunDir { root })
    }

    /// The run directories of every workflow in a cache.
    pub fn all(cache_root: &Path) -> Vec<RunDir> {
        let mut dirs: Vec<RunDir> = fs::read_dir(cache_root.join("slurm"))
            .map(|rd| rd.flatten().map(|e| RunDir { root: e.path() }).collect())
            .unwrap_or_default();
        dirs.sort_by(|a, b| a.root.cmp(&b.root));
        dirs
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The run state file.
    pub fn state(&self) -> PathBuf {
        self.root.join("run.json")
    }

    /// The spec of job `token`.
    pub fn spec(&self, token: &str) -> PathBuf {
        self.root.join("jobs").join(format!("{token}.json"))
    }

    /// The batch script of job `token`.
    pub fn script(&self, token: &str) -> PathBuf {
        self.root.join("jobs").join(format!("{token}.sh"))
    }

    /// The report of element `element` of job `token`.
    pub fn done(&self, token: &str, element: usize) -> PathBuf {
        self.root.join("done").join(format!("{token}.{element}.json"))
    }

    /// The log of element `element` of job `token`.
    pub fn log(&self, token: &str, element: usize) -> PathBuf {
        self.root.join("logs").join(format!("{token}.{element}.log"))
    }

    /// The `-o` pattern of job `token` (`%a` is the array index; a single job is element 0).
    pub fn log_pattern(&self, token: &str, array: bool) -> PathBuf {
        let element = if array { "%a" } else { "0" };
        self.root.join("logs").join(format!("{token}.{element}.log"))
    }
}

/// Writes `bytes` to `path` atomically and durably (the cache's [`crate::cache::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SlurmError> {
    crate::cache::write_atomic(path, bytes).map_err(io(path))
}

/// Writes `value` as JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), SlurmError> {
    let bytes =
        serde_json::to_vec(value).map_err(|e| SlurmError::Corrupt { path: path.into(), message: e.to_string() })?;
    write_atomic(path, &bytes)
}

/// Reads JSON from `path`; `None` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, SlurmError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SlurmError::Corrupt { path: path.into(), message: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
