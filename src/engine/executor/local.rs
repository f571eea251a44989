//! The local executor: a pool of `-j` threads on this machine. A task's own rayon work runs
//! inside the same pool, so `-j N` bounds the process's computing to N threads; a big output is
//! copied into its cache object by one more thread (and hashed by another), which wait on the
//! kernel and the disk more than they compute.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use super::Executor;
use crate::cache::Cache;
use crate::engine::runner::execute;
use crate::engine::task::{Capacity, Message, Submission};
use crate::kind::Registry;

/// Runs tasks on a thread pool of this process.
pub struct LocalExecutor {
    pool: rayon::ThreadPool,
    registry: Arc<Registry>,
    cache: Cache,
    capacity: Capacity,
}

impl LocalExecutor {
    /// A pool of `jobs` threads and `gpus` GPU slots.
    pub fn new(jobs: usize, gpus: usize, registry: Arc<Registry>, cache: Cache) -> std::io::Result<Self> {
        let jobs = jobs.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .thread_name(|i| format!("gcrl-worker-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(LocalExecutor { pool, registry, cache, capacity: Capacity { cpus: jobs, gpus } })
    }
}

impl Executor for LocalExecutor {
    fn capacity(&self) -> Capacity {
        self.capacity
    }

    fn submit(&mut self, Submission { id, task, force, .. }: Submission, done: Sender<Message>) {
        let registry = Arc::clone(&self.registry);
        let cache = self.cache.clone();
        self.pool.spawn(move || {
            let waiting = done.clone();
            let result = execute(&task, &registry, &cache, force, &|| {
                let _ = waiting.send(Message::Waiting(id));
            });
            let _ = done.send(Message::Done(id, Box::new(result)));
        });
    }
}
