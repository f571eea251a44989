//! The slots an executor offers: CPU slots, counted; GPU ordinals, each held by one task at a
//! time until it ends; and memory, the bytes the running tasks' demands add up to, within the
//! run's [`Budget`] (none: not counted).

use super::super::memory::Budget;
use crate::engine::task::Capacity;
use crate::kind::Resources;

/// What one task takes while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Need {
    /// CPU slots.
    pub cpus: usize,
    /// GPUs.
    pub gpus: usize,
    /// Bytes of memory.
    pub mem: u64,
}

/// Whether a task's memory can ever fit the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Within the budget.
    Fits,
    /// Above a soft budget: it runs once nothing else does.
    Alone,
    /// Above a hard budget (`--mem-limit`): it must not start.
    Never,
}

/// CPU, GPU and memory slots, free and held.
#[derive(Debug, Clone)]
pub struct Slots {
    capacity: Capacity,
    budget: Option<Budget>,
    cpus_used: usize,
    mem_used: u64,
    running: usize,
    /// GPU ordinals free now, the lowest last (handed out first).
    free_gpus: Vec<usize>,
    /// `(cpus, memory, gpu ordinals)` held by each running task.
    held: Vec<(usize, u64, Vec<usize>)>,
}

impl Slots {
    /// The slots of `capacity` and `budget`, for `tasks` tasks.
    pub fn new(capacity: Capacity, budget: Option<Budget>, tasks: usize) -> Self {
        Slots {
            capacity,
            budget,
            cpus_used: 0,
            mem_used: 0,
            running: 0,
            free_gpus: (0..capacity.gpus).rev().collect(),
            held: vec![(0, 0, Vec::new()); tasks],
        }
    }

    /// The memory budget, if counted.
    pub fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    /// What a task with resources `r` and a memory demand of `mem` bytes takes: at least one
    /// CPU, at most all.
    pub fn need(&self, r: &Resources, mem: u64) -> Need {
        Need { cpus: r.cpus.clamp(1, self.capacity.cpus.max(1)), gpus: r.gpus, mem }
    }

    /// Whether `mem` bytes fit the budget at all.
    pub fn room(&self, mem: u64) -> Room {
        match self.budget {
            Some(b) if mem > b.bytes && b.hard => Room::Never,
            Some(b) if mem > b.bytes => Room::Alone,
            _ => Room::Fits,
        }
    }

    /// Whether every CPU slot is taken (every task takes one).
    pub fn full(&self) -> bool {
        self.cpus_used >= self.capacity.cpus
    }

    /// Whether a task needing `need` fits now: CPUs, GPUs, and memory within the budget (a task
    /// above a soft budget only when nothing runs; one above a hard budget never).
    pub fn fits(&self, need: Need) -> bool {
        let mem = match self.budget {
            None => true,
            Some(b) => match self.room(need.mem) {
                Room::Fits => self.mem_used + need.mem <= b.bytes,
                Room::Alone => self.running == 0,
                Room::Never => false,
            },
        };
        mem && self.cpus_used + need.cpus <= self.capacity.cpus && need.gpus <= self.free_gpus.len()
    }

    /// Task `id` takes `need`, which must fit; returns the GPU ordinals it was given.
    pub fn take(&mut self, id: usize, need: Need) -> Vec<usize> {
        debug_assert!(self.fits(need), "a task takes only slots that are free");
        self.cpus_used += need.cpus;
        self.mem_used += need.mem;
        self.running += 1;
        let given = self.free_gpus.split_off(self.free_gpus.len() - need.gpus);
        self.held[id] = (need.cpus, need.mem, given.clone());
        given
    }

    /// Task `id` ended: its slots are free again.
    pub fn release(&mut self, id: usize) {
        let (cpus, mem, mut gpus) = std::mem::take(&mut self.held[id]);
        self.cpus_used -= cpus;
        self.mem_used -= mem;
        self.running -= 1;
        self.free_gpus.append(&mut gpus);
    }
}
