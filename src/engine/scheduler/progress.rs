//! The plan of a run: the state of every task and the moves between states, with no executor,
//! cache or clock in sight (ninja's `Plan`). The loop in [`super`] moves messages and asks this
//! what may start; everything it decides is tested here without running a task.
//!
//! The invariant the moves keep: a waiting task's count of open inputs is the number of its
//! producers that are not done, so a producer that runs again (its output was lost) holds back
//! every dependent still waiting for it, not only the one that noticed.

use std::collections::VecDeque;

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Some producer is not done.
    Waiting,
    /// Every producer is done; not yet handed to an executor.
    Ready,
    /// Handed to an executor.
    Running,
    /// Finished (ran or cached).
    Done,
    /// Failed for good.
    Failed,
    /// Not run because a task it needs failed.
    Skipped,
}

/// How many times a producer may run again in one run because a consumer found its output gone.
pub const MAX_REQUEUES: u32 = 2;

/// The states of a run's tasks.
#[derive(Debug, Clone)]
pub struct Progress {
    state: Vec<State>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    open: Vec<usize>,
    ready: VecDeque<usize>,
    failures: Vec<u32>,
    requeues: Vec<u32>,
}

impl Progress {
    /// The plan of tasks whose producers are `deps[i]` (each list without repeats): the tasks
    /// without producers are ready, in index order.
    pub fn new(deps: Vec<Vec<usize>>) -> Self {
        let n = deps.len();
        let mut dependents = vec![Vec::new(); n];
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(i);
            }
        }
        let open: Vec<usize> = deps.iter().map(Vec::len).collect();
        let ready = (0..n).filter(|&i| open[i] == 0).collect();
        let state = open.iter().map(|&o| if o == 0 { State::Ready } else { State::Waiting }).collect();
        Progress { state, deps, dependents, open, ready, failures: vec![0; n], requeues: vec![0; n] }
    }

    /// The state of task `id`.
    pub fn state(&self, id: usize) -> State {
        self.state[id]
    }

    /// The next ready task, in the order tasks became ready.
    pub fn next_ready(&mut self) -> Option<usize> {
        while let Some(id) = self.ready.pop_front() {
            // A task skipped after it became ready is still queued.
            if self.state[id] == State::Ready {
                return Some(id);
            }
        }
        None
    }

    /// Whether a ready task waits to be taken by [`Progress::next_ready`].
    pub fn has_ready(&self) -> bool {
        self.ready.iter().any(|&id| self.state[id] == State::Ready)
    }

    /// Task `id` was handed to an executor.
    pub fn start(&mut self, id: usize) {
        debug_assert_eq!(self.state[id], State::Ready, "only a ready task starts");
        self.state[id] = State::Running;
    }

    /// Task `id` finished: each dependent whose last open producer it was becomes ready.
    pub fn complete(&mut self, id: usize) {
        self.state[id] = State::Done;
        for &d in &self.dependents[id] {
            if self.state[d] == State::Waiting {
                self.open[d] -= 1;
                if self.open[d] == 0 {
                    self.state[d] = State::Ready;
                    self.ready.push_back(d);
                }
            }
        }
    }

    /// Task `id` failed for good: every task that needs it, directly or not, and has not started
    /// is skipped. Returns the skipped tasks, each once, in the order they were reached.
    pub fn fail(&mut self, id: usize) -> Vec<usize> {
        self.state[id] = State::Failed;
        let mut skipped = Vec::new();
        let mut stack = self.dependents[id].clone();
        while let Some(d) = stack.pop() {
            if matches!(self.state[d], State::Waiting | State::Ready) {
                self.state[d] = State::Skipped;
                skipped.push(d);
                stack.extend(self.dependents[d].iter().copied());
            }
        }
        skipped
    }

    /// How many tries of task `id` failed so far in this run.
    pub fn failures(&self, id: usize) -> u32 {
        self.failures[id]
    }

    /// The running task `id` failed: counts the failure and says whether a try is left
    /// (`retries` tries after the first). If so the task is ready again; the loop, which still
    /// holds what it resolved to, queues it without [`Progress::next_ready`].
    pub fn retry(&mut self, id: usize, retries: u32) -> bool {
        self.failures[id] += 1;
        let again = self.failures[id] <= retries;
        if again {
            self.state[id] = State::Ready;
        }
        again
    }

    /// The running task `consumer` found an output of its producer `producer` gone: the
    /// producer runs again (unless it already did [`MAX_REQUEUES`] times), and the consumer
    /// waits for it, as does every dependent of the producer that has not started.
    pub fn requeue(&mut self, producer: usize, consumer: usize) -> Requeue {
        debug_assert!(self.deps[consumer].contains(&producer), "a requeued producer is a producer of the consumer");
        let what = match self.state[producer] {
            State::Done if self.requeues[producer] < MAX_REQUEUES => {
                self.requeues[producer] += 1;
                self.state[producer] = State::Ready;
                self.ready.push_back(producer);
                Requeue::Again
            }
            // Put back already, for another consumer.
            State::Ready | State::Running => Requeue::Waits,
            _ => return Requeue::Refused,
        };
        self.state[consumer] = State::Waiting;
        for i in 0..self.dependents[producer].len() {
            let d = self.dependents[producer][i];
            if matches!(self.state[d], State::Waiting | State::Ready) {
                if self.state[d] == State::Ready {
                    self.ready.retain(|&r| r != d);
                }
                self.state[d] = State::Waiting;
                self.open[d] = self.deps[d].iter().filter(|&&p| self.state[p] != State::Done).count();
            }
        }
        what
    }

    /// The run stops: no ready task is handed out any more (running tasks still report).
    pub fn stop(&mut self) {
        self.ready.clear();
    }
}

/// What [`Progress::requeue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// The producer runs again.
    Again,
    /// The producer already runs again; the consumer waits for it.
    Waits,
    /// The producer ran again too often, or failed: the consumer's failure stands.
    Refused,
}
