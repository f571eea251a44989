//! Run records: for each run of a workflow, the key and output hashes of every task.
//!
//! The newest record lets `plan` say *why* a task reruns (by comparing with the manifest of the
//! key it had last time) and lets a no-op run skip reading thousands of manifests.
//! `cache gc --keep-last N` keeps what the N newest records of each workflow reference.
//!
//! A record is `runs/<workflow>/<id>.json`, its id the start in Unix milliseconds and the
//! process id; beside it, `<id>.log` holds what the run printed. `gcrl run` adds the exit code,
//! the workflow fingerprint and the log's name once the run ends ([`Cache::annotate_run`]);
//! records written before those fields read as `None`.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::{CacheError, io};
use super::store::Cache;

/// What one task resolved to in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEntry {
    /// The task key.
    pub key: String,
    /// Output hashes by port.
    pub outputs: BTreeMap<String, String>,
    /// Whether this run computed it (false: served from the cache). Reports count cache hits by it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ran: bool,
}

/// The record of one run of one workflow.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunRecord {
    /// Workflow name.
    pub workflow: String,
    /// Unix milliseconds at the start.
    pub started_ms: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Tasks by label (only those that finished).
    pub tasks: BTreeMap<String, TaskEntry>,
    /// The exit code of `gcrl run` (see `cli::exit`); `None` in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// The fingerprint of the workflow as run (`engine::fingerprint`), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The name of the run's log file, beside the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl Cache {
    pub(super) fn runs_dir(&self, workflow: &str) -> PathBuf {
        let safe: String =
            workflow.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        self.root().join("runs").join(safe)
    }

    /// Saves a run record.
    pub fn save_run(&self, record: &RunRecord) -> Result<PathBuf, CacheError> {
        let dir = self.runs_dir(&record.workflow);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(format!("{:013}-{}.json", record.started_ms, std::process::id()));
        let bytes = serde_json::to_vec(record).unwrap_or_default();
        self.write_atomic(&path, &bytes)?;
        Ok(path)
    }

    /// Where the log of run `id` (a record's file stem) of `workflow` goes; its folder exists.
    pub fn run_log_path(&self, workflow: &str, id: &str) -> Result<PathBuf, CacheError> {
        let dir = self.runs_dir(workflow);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(dir.join(format!("{id}.log")))
    }

    /// The file name of the record this process saved for `workflow` at or after `since_ms`.
    pub fn own_run_file(&self, workflow: &str, since_ms: u64) -> Option<String> {
        let suffix = format!("-{}.json", std::process::id());
        self.run_files(workflow).into_iter().rev().find(|name| {
            name.strip_suffix(&suffix).and_then(|ms| ms.parse::<u64>().ok()).is_some_and(|ms| ms >= since_ms)
        })
    }

    /// Rewrites record `file` of `workflow` (atomically, under the same name) after `change`.
    pub fn annotate_run(
        &self,
        workflow: &str,
        file: &str,
        change: impl FnOnce(&mut RunRecord),
    ) -> Result<(), CacheError> {
        let path = self.runs_dir(workflow).join(file);
        let bytes = fs::read(&path).map_err(io(&path))?;
        let mut record: RunRecord = serde_json::from_slice(&bytes)
            .map_err(|e| CacheError::Corrupt { path: path.clone(), message: e.to_string() })?;
        change(&mut record);
        self.write_atomic(&path, &serde_json::to_vec(&record).unwrap_or_default())
    }

    /// The record with id `id` (a file stem, or a prefix of one only it has) in any workflow,
    /// with its path; `Err` lists what matched when it is not exactly one.
    pub fn find_run(&self, id: &str) -> Result<(PathBuf, RunRecord), Vec<String>> {
        let all: Vec<(String, String)> = self
            .workflows()
            .into_iter()
            .flat_map(|w| self.run_files(&w).into_iter().map(move |name| (w.clone(), name)))
            .collect();
        let stem = |name: &str| name.trim_end_matches(".json").to_string();
        let exact: Vec<_> = all.iter().filter(|(_, n)| stem(n) == id).cloned().collect();
        let found =
            if exact.is_empty() { all.into_iter().filter(|(_, n)| stem(n).starts_with(id)).collect() } else { exact };
        match found.as_slice() {
            [(workflow, name)] => {
                let path = self.runs_dir(workflow).join(name);
                let record = fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
                record.map(|r| (path, r)).ok_or_else(Vec::new)
            }
            _ => Err(found.iter().map(|(_, n)| stem(n)).collect()),
        }
    }

    /// Run records of `workflow`, newest first.
    pub fn runs(&self, workflow: &str) -> Result<Vec<(PathBuf, RunRecord)>, CacheError> {
        let dir = self.runs_dir(workflow);
        self.run_files(workflow)
            .into_iter()
            .rev()
            .map(|name| {
                let p = dir.join(name);
                let bytes = fs::read(&p).map_err(io(&p))?;
                let rec = serde_json::from_slice(&bytes)
                    .map_err(|e| CacheError::Corrupt { path: p.clone(), message: e.to_string() })?;
                Ok((p, rec))
            })
            .collect()
    }

    /// The newest readable run record of `workflow`, with the name of its file.
    pub fn last_run(&self, workflow: &str) -> Option<(String, RunRecord)> {
        self.run_files(workflow).into_iter().rev().find_map(|name| {
            let bytes = fs::read(self.runs_dir(workflow).join(&name)).ok()?;
            Some((name, serde_json::from_slice(&bytes).ok()?))
        })
    }

    /// The file name of the newest run record of `workflow`.
    pub fn newest_run_file(&self, workflow: &str) -> Option<String> {
        self.run_files(workflow).pop()
    }

    /// File names of the run records of `workflow`, oldest first.
    fn run_files(&self, workflow: &str) -> Vec<String> {
        let Ok(listing) = fs::read_dir(self.runs_dir(workflow)) else { return Vec::new() };
        let mut names: Vec<String> = listing
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        names
    }

    /// Names of every workflow with run records.
    pub fn workflows(&self) -> Vec<String> {
        let dir = self.root().join("runs");
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}
