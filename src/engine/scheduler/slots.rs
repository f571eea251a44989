//! The slots an executor offers: CPU slots, counted, and GPU ordinals, each held by one task at
//! a time until it ends.

use super::super::executor::Capacity;
use super::super::kind::Resources;

/// CPU and GPU slots, free and held.
#[derive(Debug, Clone)]
pub struct Slots {
    capacity: Capacity,
    cpus_used: usize,
    /// GPU ordinals free now, the lowest last (handed out first).
    free_gpus: Vec<usize>,
    /// `(cpus, gpu ordinals)` held by each running task.
    held: Vec<(usize, Vec<usize>)>,
}

impl Slots {
    /// The slots of `capacity`, for `tasks` tasks.
    pub fn new(capacity: Capacity, tasks: usize) -> Self {
        Slots {
            capacity,
            cpus_used: 0,
            free_gpus: (0..capacity.gpus).rev().collect(),
            held: vec![(0, Vec::new()); tasks],
        }
    }

    /// `(cpu slots, gpus)` a task with resources `r` takes: at least one CPU, at most all.
    pub fn need(&self, r: &Resources) -> (usize, usize) {
        (r.cpus.clamp(1, self.capacity.cpus.max(1)), r.gpus)
    }

    /// Whether every CPU slot is taken (every task takes one).
    pub fn full(&self) -> bool {
        self.cpus_used >= self.capacity.cpus
    }

    /// Whether a task needing `(cpus, gpus)` fits now.
    pub fn fits(&self, (cpus, gpus): (usize, usize)) -> bool {
        self.cpus_used + cpus <= self.capacity.cpus && gpus <= self.free_gpus.len()
    }

    /// Task `id` takes `(cpus, gpus)`, which must fit; returns the GPU ordinals it was given.
    pub fn take(&mut self, id: usize, (cpus, gpus): (usize, usize)) -> Vec<usize> {
        debug_assert!(self.fits((cpus, gpus)), "a task takes only slots that are free");
        self.cpus_used += cpus;
        let given = self.free_gpus.split_off(self.free_gpus.len() - gpus);
        self.held[id] = (cpus, given.clone());
        given
    }

    /// Task `id` ended: its slots are free again.
    pub fn release(&mut self, id: usize) {
        let (cpus, mut gpus) = std::mem::take(&mut self.held[id]);
        self.cpus_used -= cpus;
        self.free_gpus.append(&mut gpus);
    }
}
