//! What the scheduler tells the outside world. Executors and the scheduler never print
//! (house rule 7); a [`Reporter`] turns events into progress bars, log lines or nothing.

use super::graph::Task;

/// Something that happened to a task.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The run starts with these nodes and task counts.
    Planned {
        /// `(node, tasks)` in topological order.
        nodes: &'a [(String, usize)],
    },
    /// The task's result was found in the cache.
    Cached(&'a Task),
    /// The task was handed to an executor.
    Started(&'a Task),
    /// Another process holds the task's lock; waiting for it.
    Waiting(&'a Task),
    /// The task finished.
    Finished {
        /// The task.
        task: &'a Task,
        /// Wall time of its run.
        seconds: f64,
        /// The lines it left for the run log.
        notes: &'a [String],
    },
    /// The task failed.
    Failed {
        /// The task.
        task: &'a Task,
        /// The error.
        error: &'a str,
        /// Whether it will be tried again.
        retrying: bool,
    },
    /// The task will not run because a task it needs failed.
    Skipped {
        /// The task.
        task: &'a Task,
        /// The failed task's label.
        because: &'a str,
    },
    /// A finished task runs again because its output was lost.
    Requeued {
        /// The task.
        task: &'a Task,
        /// Why.
        why: &'a str,
    },
    /// The run was interrupted: nothing more starts; these tasks run on until they end.
    Stopping {
        /// The tasks still running.
        running: &'a [&'a Task],
    },
}

/// Receives events, on the scheduler's thread.
pub trait Reporter {
    /// Handles one event.
    fn event(&mut self, event: Event<'_>);
    /// Called once at the end of a run.
    fn finish(&mut self) {}
}

/// A reporter that ignores everything.
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&mut self, _event: Event<'_>) {}
}
