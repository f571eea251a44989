//! Executors run resolved tasks somewhere and report back over a channel.

mod local;
pub mod slurm;

pub use local::LocalExecutor;

use std::sync::mpsc::Sender;

use super::runner::{Outcome, ResolvedTask, TaskFailure};
use crate::kind::Resources;

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

/// Runs tasks; never prints (house rule 7).
pub trait Executor {
    /// Slots available at once.
    fn capacity(&self) -> Capacity;
    /// Starts a task (with `task.threads` threads); reports on `done`.
    fn submit(&mut self, submission: Submission, done: Sender<Message>);
    /// Called after a round of [`Executor::submit`]s, before the scheduler waits: an executor
    /// that batches (Slurm packs tasks into job arrays) sends what it was given.
    fn dispatch(&mut self) {}
}
