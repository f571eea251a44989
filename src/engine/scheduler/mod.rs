//! The scheduler: walks the task graph once, resolves each task when its producers are done,
//! serves it from the cache or hands it to the executor, and reacts to completions.
//!
//! Early cutoff falls out of content addressing: a task whose inputs hash as before has the same
//! key, so it is found in the cache even when its producer just ran again. No busy waiting: the
//! scheduler blocks on the executor's channel (while an interrupt flag is given and not yet set,
//! it also looks at the flag every [`INTERRUPT_TICK`]).
//!
//! Once the flag is set (Ctrl-C, SIGTERM) the run stops: nothing more starts, the tasks already
//! running end as they would (their results are stored), and the summary lists, per node, the
//! tasks that did not finish.
//!
//! [`progress`] decides what may run and what a result means for the rest, [`slots`] what fits
//! on the executor now (CPUs, GPUs, and memory within the run's budget: a task's demand, from
//! [`super::memory`], is known once it is resolved, and one above a hard budget fails there,
//! before it starts); this loop only moves tasks and messages between them (its tests drive
//! whole runs through a fake executor).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

mod progress;
mod slots;
#[cfg(test)]
mod tests;

use progress::{Progress, Requeue, State};
use slots::{Room, Slots};

use super::error::EngineError;
use super::events::{Event, Reporter};
use super::executor::Executor;
use super::graph::{Task, TaskGraph};
use super::memory::{Budget, Demand};
use super::resolve::{OutputHashes, Resolver};
use super::task::{Message, Outcome, ResolvedTask, Submission, TaskFailure};
use crate::cache::{Cache, RunRecord, TaskEntry};

/// What to run and how.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Nodes whose tasks run even when cached.
    pub force: Vec<String>,
    /// The run's fingerprint (see [`super::fingerprint`]): when every task finishes, the run
    /// record is sealed under it, so that a rerun with nothing to do can tell at once.
    pub seal: Option<String>,
    /// Set by a signal handler when the run must stop (see the module doc).
    pub interrupt: Option<&'static AtomicBool>,
    /// The memory the running tasks' demands may add up to (see [`super::memory`]); `None`:
    /// not counted (a cluster places tasks by their requests).
    pub memory: Option<Budget>,
}

/// How often a scheduler waiting for its tasks looks at the interrupt flag.
pub const INTERRUPT_TICK: Duration = Duration::from_millis(50);

/// The result of a run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Tasks in the graph.
    pub tasks: usize,
    /// Tasks that ran.
    pub ran: usize,
    /// Tasks served from the cache.
    pub cached: usize,
    /// Tasks that failed.
    pub failed: usize,
    /// Tasks not run because something they need failed.
    pub skipped: usize,
    /// Wall time.
    pub seconds: f64,
    /// `(task label, error)` of each failure.
    pub failures: Vec<(String, String)>,
    /// The run was interrupted (Ctrl-C, SIGTERM) before it could finish.
    pub interrupted: bool,
    /// After an interrupt: `(node, tasks not finished, tasks)` of each node with unfinished
    /// tasks, in topological order.
    pub unfinished: Vec<(String, usize, usize)>,
}

/// The run's mutable half: the plan, what each task resolved to and produced, the queue of
/// tasks waiting for slots, and the summary.
struct Run<'g> {
    graph: &'g TaskGraph,
    progress: Progress,
    outputs: Vec<Option<OutputHashes>>,
    keys: Vec<Option<String>>,
    forced: Vec<bool>,
    ran: Vec<bool>,
    /// The memory each task asks for, known once it is resolved.
    demands: Vec<Demand>,
    /// Resolved tasks waiting for slots, in the order they became ready.
    runnable: VecDeque<(usize, ResolvedTask)>,
    summary: RunSummary,
}

impl Run<'_> {
    fn fail(&mut self, id: usize, error: &str, reporter: &mut dyn Reporter) {
        let task = &self.graph.tasks[id];
        self.summary.failed += 1;
        self.summary.failures.push((task.label.clone(), error.to_string()));
        reporter.event(Event::Failed { task, error, retrying: false });
        for d in self.progress.fail(id) {
            self.summary.skipped += 1;
            reporter.event(Event::Skipped { task: &self.graph.tasks[d], because: &task.label });
        }
        self.drop_unready();
    }

    /// What task `id` takes from `slots` while it runs.
    fn need(&self, slots: &Slots, id: usize) -> slots::Need {
        slots.need(&self.graph.tasks[id].resources, self.demands[id].bytes)
    }

    /// Forgets queued tasks that are no longer ready (skipped, or waiting again).
    fn drop_unready(&mut self) {
        let progress = &self.progress;
        self.runnable.retain(|(id, _)| progress.state(*id) == State::Ready);
    }

    /// An input of `consumer` vanished: run its producer again, then the consumer. `false` when
    /// no producer made that object or it may not run again.
    fn requeue_producer(&mut self, consumer: usize, hash: &str, cache: &Cache, reporter: &mut dyn Reporter) -> bool {
        let producer = self.graph.tasks[consumer]
            .deps()
            .into_iter()
            .find(|&p| self.outputs[p].as_ref().is_some_and(|o| o.values().any(|h| h == hash)));
        let Some(p) = producer else { return false };
        match self.progress.requeue(p, consumer) {
            Requeue::Refused => return false,
            Requeue::Waits => {}
            Requeue::Again => {
                if let Some(key) = &self.keys[p] {
                    let _ = cache.remove_manifest(key);
                }
                // Its old outputs stay known until it finishes again: a second consumer that
                // finds the same object gone must still find the producer that made it.
                self.forced[p] = true;
                reporter
                    .event(Event::Requeued { task: &self.graph.tasks[p], why: "its output was missing or corrupt" });
            }
        }
        self.drop_unready();
        true
    }

    /// Resolves every ready task: served from the cache, queued for slots, or failed.
    fn resolve_ready(&mut self, resolver: &Resolver, slots: &Slots, reporter: &mut dyn Reporter) {
        while let Some(id) = self.progress.next_ready() {
            let task = &self.graph.tasks[id];
            let key = match resolver.key(task, &self.outputs) {
                Ok(key) => key,
                Err(e) => {
                    self.fail(id, &e, reporter);
                    continue;
                }
            };
            self.keys[id] = Some(key.clone());
            if let Some(outputs) = (!self.forced[id]).then(|| resolver.lookup(&task.label, &key)).flatten() {
                self.summary.cached += 1;
                reporter.event(Event::Cached(task));
                self.outputs[id] = Some(outputs);
                self.progress.complete(id);
                continue;
            }
            self.queue(id, key, resolver, slots, reporter);
        }
    }

    /// Resolves task `id` (key `key`) against its producers' outputs and queues it for slots.
    fn queue(&mut self, id: usize, key: String, resolver: &Resolver, slots: &Slots, reporter: &mut dyn Reporter) {
        let task = &self.graph.tasks[id];
        match resolver.resolve(task, key, &self.graph.tasks, &self.outputs, slots.need(&task.resources, 0).cpus) {
            Ok(resolved) => {
                let demand = resolver.demand(task, &resolved);
                self.demands[id] = demand;
                match slots.budget().filter(|_| slots.room(demand.bytes) == Room::Never) {
                    Some(budget) => self.fail(id, &demand.refusal(&task.node, budget), reporter),
                    None => self.runnable.push_back((id, resolved)),
                }
            }
            Err(e) => self.fail(id, &e, reporter),
        }
    }

    /// The task's result arrived.
    fn finish(
        &mut self,
        id: usize,
        result: Result<Outcome, TaskFailure>,
        resolver: &Resolver,
        slots: &Slots,
        cache: &Cache,
        reporter: &mut dyn Reporter,
    ) {
        let task = &self.graph.tasks[id];
        match result {
            Ok(outcome) => {
                let outputs: OutputHashes =
                    outcome.manifest().outputs.iter().map(|(k, v)| (k.clone(), v.hash.clone())).collect();
                match outcome {
                    Outcome::Ran(m) => {
                        self.summary.ran += 1;
                        self.ran[id] = true;
                        reporter.event(Event::Finished { task, seconds: m.seconds, notes: &m.notes });
                    }
                    Outcome::Cached(_) => {
                        self.summary.cached += 1;
                        reporter.event(Event::Cached(task));
                    }
                }
                self.forced[id] = false;
                self.outputs[id] = Some(outputs);
                self.progress.complete(id);
            }
            Err(TaskFailure::InputLost(hash)) if self.requeue_producer(id, &hash, cache, reporter) => {}
            Err(TaskFailure::Interrupted(why)) => {
                self.summary.interrupted = true;
                self.fail(id, &why, reporter);
            }
            Err(failure) => {
                let error = failure.to_string();
                if failure.retryable() && self.progress.retry(id, task.retries) {
                    reporter.event(Event::Failed { task, error: &error, retrying: true });
                    let key = self.keys[id].clone().unwrap_or_default();
                    self.queue(id, key, resolver, slots, reporter);
                } else {
                    self.fail(id, &error, reporter);
                }
            }
        }
    }
}

/// Runs every task of `graph` that the cache does not hold.
pub fn run_graph(
    graph: &TaskGraph,
    workflow: &str,
    cache: &Cache,
    executor: &mut dyn Executor,
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<RunSummary, EngineError> {
    let started = Instant::now();
    let started_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    cache.clean_tmp()?;
    let resolver = Resolver::new(cache, workflow);
    let n = graph.tasks.len();
    let force: HashSet<&str> = options.force.iter().map(String::as_str).collect();
    let mut run = Run {
        graph,
        progress: Progress::new(graph.tasks.iter().map(Task::deps).collect()),
        outputs: vec![None; n],
        keys: vec![None; n],
        forced: graph.tasks.iter().map(|t| force.contains(t.node.as_str())).collect(),
        ran: vec![false; n],
        demands: vec![Demand::default(); n],
        runnable: VecDeque::new(),
        summary: RunSummary { tasks: n, ..Default::default() },
    };
    let counts: Vec<(String, usize)> =
        graph.node_order.iter().map(|id| (id.clone(), graph.tasks.iter().filter(|t| &t.node == id).count())).collect();
    reporter.event(Event::Planned { nodes: &counts });
    let mut slots = Slots::new(executor.capacity(), options.memory, n);
    let (tx, rx) = mpsc::channel();
    let mut inbox: VecDeque<Message> = VecDeque::new();
    let mut in_flight = 0usize;
    let interrupted = || options.interrupt.is_some_and(|f| f.load(Ordering::SeqCst));
    loop {
        if !run.summary.interrupted && interrupted() {
            run.summary.interrupted = true;
            let queued: HashSet<usize> = run.runnable.iter().map(|(id, _)| *id).collect();
            let running: Vec<&Task> = graph
                .tasks
                .iter()
                .filter(|t| run.progress.state(t.id) == State::Running && !queued.contains(&t.id))
                .collect();
            reporter.event(Event::Stopping { running: &running });
        }
        if run.summary.interrupted {
            // What is ready stays unstarted; what runs reports back, and its dependents stop here.
            run.progress.stop();
            run.runnable.clear();
        }
        run.resolve_ready(&resolver, &slots, reporter);
        // Every task takes at least one CPU slot: with none free, do not scan the queue.
        while !slots.full()
            && let Some(pos) = run.runnable.iter().position(|(id, _)| slots.fits(run.need(&slots, *id)))
        {
            let (id, mut resolved) = run.runnable.remove(pos).expect("position is in range");
            resolved.gpus = slots.take(id, run.need(&slots, id));
            in_flight += 1;
            run.progress.start(id);
            reporter.event(Event::Started(&graph.tasks[id]));
            let task = &graph.tasks[id];
            let submission = Submission {
                id,
                task: resolved,
                node: task.node.clone(),
                resources: task.resources,
                force: run.forced[id],
                attempt: run.progress.failures(id),
                memory: run.demands[id].bytes,
            };
            executor.submit(submission, tx.clone());
        }
        // Messages arrive in bursts (a Slurm element reports its tasks at once): handle the whole
        // burst before the executor sends what it was given, so it can pack it into few jobs.
        if inbox.is_empty() {
            executor.dispatch();
        }
        if in_flight == 0 {
            if !run.progress.has_ready() {
                // Whatever remains runnable needs GPUs this executor lacks.
                while let Some((id, _)) = run.runnable.pop_front() {
                    run.fail(id, "needs a GPU, and none is available (set CUDA_VISIBLE_DEVICES or --gpus)", reporter);
                }
                break;
            }
            continue;
        }
        let message = match inbox.pop_front() {
            Some(m) => m,
            None => {
                let watch = options.interrupt.filter(|_| !run.summary.interrupted);
                let Some(m) = receive(&rx, watch)? else { continue };
                inbox.extend(rx.try_iter());
                m
            }
        };
        let (id, result) = match message {
            Message::Waiting(id) => {
                reporter.event(Event::Waiting(&graph.tasks[id]));
                continue;
            }
            Message::Done(id, result) => (id, *result),
        };
        slots.release(id);
        in_flight -= 1;
        run.finish(id, result, &resolver, &slots, cache, reporter);
    }
    reporter.finish();
    cache.flush()?;
    resolver.save();
    run.summary.seconds = started.elapsed().as_secs_f64();
    if run.summary.interrupted {
        run.summary.unfinished = graph
            .node_order
            .iter()
            .map(|node| {
                let tasks = graph.tasks.iter().filter(|t| &t.node == node);
                let (all, open) =
                    tasks.fold((0, 0), |(a, o), t| (a + 1, o + usize::from(run.progress.state(t.id) != State::Done)));
                (node.clone(), open, all)
            })
            .filter(|(_, open, _)| *open > 0)
            .collect();
    }
    record(&run, &resolver, cache, workflow, started_ms, options)?;
    Ok(run.summary)
}

/// Writes the run record (unless nothing changed since the last one) and, when every task
/// finished, seals it under the run's fingerprint.
fn record(
    run: &Run,
    resolver: &Resolver,
    cache: &Cache,
    workflow: &str,
    started_ms: u64,
    options: &RunOptions,
) -> Result<(), EngineError> {
    let graph = run.graph;
    let done = |t: &Task| match (run.progress.state(t.id), &run.keys[t.id], &run.outputs[t.id]) {
        (State::Done, Some(key), Some(outputs)) => Some((key, outputs)),
        _ => None,
    };
    // A no-op run whose results equal the last record's writes no new record.
    let unchanged = run.summary.ran == 0
        && resolver.last_run().is_some_and(|r| {
            let finished = graph.tasks.iter().filter_map(|t| done(t).map(|d| (t, d)));
            r.tasks.len() == finished.clone().count()
                && finished.into_iter().all(|(t, (key, outputs))| {
                    r.tasks.get(&t.label).is_some_and(|e| e.key == *key && e.outputs == *outputs)
                })
        });
    let saved;
    let (file, record) = if unchanged {
        (resolver.last_run_file().map(String::from), resolver.last_run())
    } else {
        let tasks = graph
            .tasks
            .iter()
            .filter_map(|t| {
                let (key, outputs) = done(t)?;
                Some((t.label.clone(), TaskEntry { key: key.clone(), outputs: outputs.clone(), ran: run.ran[t.id] }))
            })
            .collect();
        saved = RunRecord {
            workflow: workflow.to_string(),
            started_ms,
            seconds: run.summary.seconds,
            tasks,
            ..Default::default()
        };
        let path = cache.save_run(&saved)?;
        (path.file_name().map(|f| f.to_string_lossy().into_owned()), Some(&saved))
    };
    if let (Some(fingerprint), Some(file), Some(record)) = (&options.seal, file, record)
        && record.tasks.len() == graph.tasks.len()
    {
        // Without a seal the next no-op run only takes longer: a failure to write one is no error.
        let _ = cache.seal(workflow, &file, record, fingerprint);
    }
    Ok(())
}

/// The executor's next message; `None` when `interrupt` is set first.
fn receive(rx: &Receiver<Message>, interrupt: Option<&AtomicBool>) -> Result<Option<Message>, EngineError> {
    let stopped = || EngineError::Output("the executor stopped unexpectedly".into());
    let Some(flag) = interrupt else { return rx.recv().map(Some).map_err(|_| stopped()) };
    loop {
        match rx.recv_timeout(INTERRUPT_TICK) {
            Ok(m) => return Ok(Some(m)),
            Err(RecvTimeoutError::Timeout) if flag.load(Ordering::SeqCst) => return Ok(None),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Err(stopped()),
        }
    }
}
