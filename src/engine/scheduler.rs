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

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::error::EngineError;
use super::events::{Event, Reporter};
use super::executor::{Executor, Message};
use super::graph::{Task, TaskGraph};
use super::resolve::{OutputHashes, Resolver};
use super::runner::{Outcome, ResolvedTask, TaskFailure};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Ready,
    Running,
    Done,
    Failed,
    Skipped,
}

struct Run<'g> {
    graph: &'g TaskGraph,
    dependents: Vec<Vec<usize>>,
    remaining: Vec<usize>,
    state: Vec<State>,
    outputs: Vec<Option<OutputHashes>>,
    keys: Vec<Option<String>>,
    forced: Vec<bool>,
    attempts: Vec<u32>,
    requeues: Vec<u32>,
    ready: VecDeque<usize>,
    runnable: VecDeque<(usize, ResolvedTask)>,
    summary: RunSummary,
    ran: Vec<bool>,
}

impl Run<'_> {
    fn complete(&mut self, id: usize, outputs: OutputHashes) {
        self.state[id] = State::Done;
        self.outputs[id] = Some(outputs);
        for i in 0..self.dependents[id].len() {
            let d = self.dependents[id][i];
            if self.state[d] == State::Waiting {
                self.remaining[d] -= 1;
                if self.remaining[d] == 0 {
                    self.state[d] = State::Ready;
                    self.ready.push_back(d);
                }
            }
        }
    }

    fn fail(&mut self, id: usize, error: &str, reporter: &mut dyn Reporter) {
        let task = &self.graph.tasks[id];
        self.state[id] = State::Failed;
        self.summary.failed += 1;
        self.summary.failures.push((task.label.clone(), error.to_string()));
        reporter.event(Event::Failed { task, error, retrying: false });
        let mut stack = self.dependents[id].clone();
        while let Some(d) = stack.pop() {
            if matches!(self.state[d], State::Waiting | State::Ready) {
                self.state[d] = State::Skipped;
                self.summary.skipped += 1;
                reporter.event(Event::Skipped { task: &self.graph.tasks[d], because: &task.label });
                stack.extend(self.dependents[d].iter().copied());
            }
        }
    }

    /// An input of `consumer` vanished: run its producer again, then the consumer.
    fn requeue_producer(&mut self, consumer: usize, hash: &str, cache: &Cache, reporter: &mut dyn Reporter) -> bool {
        let producer = self.graph.tasks[consumer]
            .deps()
            .into_iter()
            .find(|&p| self.outputs[p].as_ref().is_some_and(|o| o.values().any(|h| h == hash)));
        let Some(p) = producer else { return false };
        if self.requeues[p] >= 2 {
            return false;
        }
        if self.state[p] == State::Done {
            self.requeues[p] += 1;
            if let Some(key) = &self.keys[p] {
                let _ = cache.remove_manifest(key);
            }
            self.forced[p] = true;
            self.outputs[p] = None;
            self.state[p] = State::Ready;
            self.ready.push_back(p);
            reporter.event(Event::Requeued { task: &self.graph.tasks[p], why: "its output was missing or corrupt" });
        }
        self.state[consumer] = State::Waiting;
        self.remaining[consumer] = 1;
        if !self.dependents[p].contains(&consumer) {
            self.dependents[p].push(consumer);
        }
        true
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
        dependents: graph.dependents(),
        remaining: graph.tasks.iter().map(|t| t.deps().len()).collect(),
        state: vec![State::Waiting; n],
        outputs: vec![None; n],
        keys: vec![None; n],
        forced: graph.tasks.iter().map(|t| force.contains(t.node.as_str())).collect(),
        attempts: vec![0; n],
        requeues: vec![0; n],
        ready: VecDeque::new(),
        runnable: VecDeque::new(),
        summary: RunSummary { tasks: n, ..Default::default() },
        ran: vec![false; n],
    };
    let counts: Vec<(String, usize)> =
        graph.node_order.iter().map(|id| (id.clone(), graph.tasks.iter().filter(|t| &t.node == id).count())).collect();
    reporter.event(Event::Planned { nodes: &counts });
    for id in 0..n {
        if run.remaining[id] == 0 {
            run.state[id] = State::Ready;
            run.ready.push_back(id);
        }
    }
    let capacity = executor.capacity();
    let (tx, rx) = mpsc::channel();
    let mut inbox: VecDeque<Message> = VecDeque::new();
    let (mut cpus_used, mut in_flight) = (0usize, 0usize);
    // GPU ordinals free now; a task holds the ones it was given until it ends.
    let mut free_gpus: Vec<usize> = (0..capacity.gpus).rev().collect();
    let mut held_gpus: Vec<Vec<usize>> = vec![Vec::new(); graph.tasks.len()];
    let slots = |id: usize| {
        let r = &graph.tasks[id].resources;
        (r.cpus.clamp(1, capacity.cpus), r.gpus)
    };
    let interrupted = || options.interrupt.is_some_and(|f| f.load(Ordering::SeqCst));
    loop {
        if !run.summary.interrupted && interrupted() {
            run.summary.interrupted = true;
            let queued: HashSet<usize> = run.runnable.iter().map(|(id, _)| *id).collect();
            let running: Vec<&Task> =
                graph.tasks.iter().filter(|t| run.state[t.id] == State::Running && !queued.contains(&t.id)).collect();
            reporter.event(Event::Stopping { running: &running });
        }
        if run.summary.interrupted {
            // What is ready stays unstarted; what runs reports back, and its dependents stop here.
            run.ready.clear();
            run.runnable.clear();
        }
        while let Some(id) = run.ready.pop_front() {
            let task = &graph.tasks[id];
            let key = match resolver.key(task, &run.outputs) {
                Ok(key) => key,
                Err(e) => {
                    run.fail(id, &e, reporter);
                    continue;
                }
            };
            run.keys[id] = Some(key.clone());
            if let Some(outputs) = (!run.forced[id]).then(|| resolver.lookup(&task.label, &key)).flatten() {
                run.summary.cached += 1;
                reporter.event(Event::Cached(task));
                run.complete(id, outputs);
                continue;
            }
            match resolver.resolve(task, key, &graph.tasks, &run.outputs, slots(id).0) {
                Ok(resolved) => run.runnable.push_back((id, resolved)),
                Err(e) => run.fail(id, &e, reporter),
            }
        }
        // Every task takes at least one CPU slot: with none free, do not scan the queue.
        while cpus_used < capacity.cpus
            && let Some(pos) = run.runnable.iter().position(|(id, _)| {
                let (c, g) = slots(*id);
                cpus_used + c <= capacity.cpus && g <= free_gpus.len()
            })
        {
            let (id, mut resolved) = run.runnable.remove(pos).expect("position is in range");
            let (c, g) = slots(id);
            cpus_used += c;
            resolved.gpus = free_gpus.split_off(free_gpus.len() - g);
            held_gpus[id].clone_from(&resolved.gpus);
            in_flight += 1;
            run.state[id] = State::Running;
            reporter.event(Event::Started(&graph.tasks[id]));
            executor.submit(id, resolved, run.forced[id], tx.clone());
        }
        // Messages arrive in bursts (a Slurm element reports its tasks at once): handle the whole
        // burst before the executor sends what it was given, so it can pack it into few jobs.
        if inbox.is_empty() {
            executor.dispatch();
        }
        if in_flight == 0 {
            if run.ready.is_empty() {
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
        cpus_used -= slots(id).0;
        free_gpus.append(&mut held_gpus[id]);
        in_flight -= 1;
        let task = &graph.tasks[id];
        match result {
            Ok(outcome) => {
                let outputs: OutputHashes =
                    outcome.manifest().outputs.iter().map(|(k, v)| (k.clone(), v.hash.clone())).collect();
                match outcome {
                    Outcome::Ran(m) => {
                        run.summary.ran += 1;
                        run.ran[id] = true;
                        reporter.event(Event::Finished { task, seconds: m.seconds, notes: &m.notes });
                    }
                    Outcome::Cached(_) => {
                        run.summary.cached += 1;
                        reporter.event(Event::Cached(task));
                    }
                }
                run.forced[id] = false;
                run.complete(id, outputs);
            }
            Err(TaskFailure::InputLost(hash)) if run.requeue_producer(id, &hash, cache, reporter) => {}
            Err(TaskFailure::Interrupted(why)) => {
                run.summary.interrupted = true;
                run.fail(id, &why, reporter);
            }
            Err(failure) => {
                run.attempts[id] += 1;
                let error = failure.to_string();
                if run.attempts[id] <= task.retries {
                    reporter.event(Event::Failed { task, error: &error, retrying: true });
                    let key = run.keys[id].clone().unwrap_or_default();
                    match resolver.resolve(task, key, &graph.tasks, &run.outputs, slots(id).0) {
                        Ok(r) => run.runnable.push_back((id, r)),
                        Err(e) => run.fail(id, &e, reporter),
                    }
                } else {
                    run.fail(id, &error, reporter);
                }
            }
        }
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
                    tasks.fold((0, 0), |(a, o), t| (a + 1, o + usize::from(run.state[t.id] != State::Done)));
                (node.clone(), open, all)
            })
            .filter(|(_, open, _)| *open > 0)
            .collect();
    }
    let done = |t: &Task| match (run.state[t.id], &run.keys[t.id], &run.outputs[t.id]) {
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
        && record.tasks.len() == n
    {
        // Without a seal the next no-op run only takes longer: a failure to write one is no error.
        let _ = cache.seal(workflow, &file, record, fingerprint);
    }
    Ok(run.summary)
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
