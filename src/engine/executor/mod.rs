//! Executors run resolved tasks somewhere and report back over a channel. Adding one takes the
//! [`Executor`] trait below and the task vocabulary of [`super::task`]; [`LocalExecutor`] is the
//! smallest example.

mod local;
pub mod slurm;

pub use local::LocalExecutor;

use std::sync::mpsc::Sender;

use super::task::{Capacity, Message, Submission};

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
