//! Executors run resolved tasks somewhere and report back over a channel.

mod local;
pub mod slurm;

pub use local::LocalExecutor;

use std::sync::mpsc::Sender;

use super::runner::{Outcome, ResolvedTask, TaskFailure};

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

/// Runs tasks; never prints (house rule 7).
pub trait Executor {
    /// Slots available at once.
    fn capacity(&self) -> Capacity;
    /// Starts `task` (index `id`) with `cpus` threads; reports on `done`.
    fn submit(&mut self, id: usize, task: ResolvedTask, force: bool, done: Sender<Message>);
    /// Called after a round of [`Executor::submit`]s, before the scheduler waits: an executor
    /// that batches (Slurm packs tasks into job arrays) sends what it was given.
    fn dispatch(&mut self) {}
}
