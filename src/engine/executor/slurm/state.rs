//! The run state (`cache/slurm/<workflow>/run.json`): what a head submitted and what Slurm said
//! about it. Saved as it changes, so `gcrl status` can show a running or finished run and a
//! restarted head can adopt the jobs that still run.

use serde::{Deserialize, Serialize};

use super::error::SlurmError;
use super::files::{RunDir, read_json, write_json};
use super::pack::Request;

/// One element of a job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ElementRecord {
    /// Tasks it runs.
    pub tasks: usize,
    /// Last known Slurm state (`PENDING`, `RUNNING`, `COMPLETED`, …).
    pub state: String,
    /// Slurm's reason (why pending, why ended).
    pub reason: String,
    /// Start time as Slurm prints it.
    pub start: String,
    /// End time as Slurm prints it.
    pub end: String,
    /// Whether the head has accounted for it (its tasks were reported).
    pub finished: bool,
}

/// One submitted job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The submit token (names its spec, reports and logs).
    pub token: String,
    /// Slurm's job id.
    pub job_id: String,
    /// What it runs, e.g. `sweep[seed=1]#3 … (40 tasks)`.
    pub what: String,
    /// Submitted as an array.
    pub array: bool,
    /// Unix milliseconds at submission.
    pub submitted_ms: u64,
    /// Attempt (0 = first) of its tasks.
    pub attempt: u32,
    /// `--cpus-per-task`.
    pub cpus: usize,
    /// `--gres=gpu:N`.
    pub gpus: usize,
    /// `--mem` in MiB.
    pub mem_mb: u64,
    /// `--time` in minutes.
    pub minutes: u64,
    /// Its elements.
    pub elements: Vec<ElementRecord>,
}

impl JobRecord {
    /// The record of a job just submitted.
    pub fn new(
        token: String,
        job_id: String,
        what: String,
        array: bool,
        attempt: u32,
        req: &Request,
        sizes: &[usize],
    ) -> Self {
        JobRecord {
            token,
            job_id,
            what,
            array,
            submitted_ms: super::files::now_ms(),
            attempt,
            cpus: req.cpus,
            gpus: req.gpus,
            mem_mb: req.mem_mb,
            minutes: req.minutes,
            elements: sizes
                .iter()
                .map(|&tasks| ElementRecord { tasks, state: "SUBMITTED".into(), ..Default::default() })
                .collect(),
        }
    }

    /// `123` for a single job, `123_4` for an element.
    pub fn element_id(&self, element: usize) -> String {
        if self.array { format!("{}_{element}", self.job_id) } else { self.job_id.clone() }
    }
}

/// Everything one head did on the cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The workflow.
    pub workflow: String,
    /// `host:pid` of the head.
    pub head: String,
    /// Unix milliseconds at the start.
    pub started_ms: u64,
    /// Unix milliseconds at the end (`None` while it runs, or if the head was killed).
    pub finished_ms: Option<u64>,
    /// `interrupted` when Ctrl-C stopped it.
    #[serde(default)]
    pub outcome: String,
    /// Jobs, in submission order (adopted jobs of an earlier head first).
    pub jobs: Vec<JobRecord>,
}

impl RunState {
    /// The state saved in `dir`, if any.
    pub fn load(dir: &RunDir) -> Result<Option<RunState>, SlurmError> {
        read_json(&dir.state())
    }

    /// Saves the state in `dir`.
    pub fn save(&self, dir: &RunDir) -> Result<(), SlurmError> {
        write_json(&dir.state(), self)
    }
}
