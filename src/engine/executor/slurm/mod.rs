//! The Slurm executor: the head plans, writes each job's resolved tasks into the shared cache,
//! submits with `sbatch`, watches, and reports to the scheduler; `gcrl exec` ([`worker`]) runs
//! the tasks on the compute nodes.
//!
//! - Packing ([`pack`]): the tasks the scheduler hands over between two waits are packed into
//!   job arrays (small shards, blocks of about `--slurm-target-minutes` per element) and single
//!   jobs (GPU or long tasks), with `--cpus-per-task`, `--mem`, `--gres`, `--time` from the
//!   task's resources, scaled by `retry_scale` per attempt up to the caps ([`limits`]), and the
//!   [`profile`]'s flags.
//! - Watching ([`watch`]): one `squeue` call per cycle for every job of the run; an element's
//!   report (written by `gcrl exec` when it ends) and the task manifests confirm completion.
//!   A job Slurm killed (timeout, out of memory, node failure, `scancel`) fails its unfinished
//!   tasks with the Slurm state and the log path, and whether more resources can help
//!   ([`Kill`](crate::engine::task::Kill)); the scheduler retries them (`retries`). A task that
//!   failed on its own (bad input) is never retried.
//! - Ctrl-C: every job of the run is cancelled with one `scancel`; unfinished tasks fail as
//!   interrupted. A head killed outright leaves its [`state`]: the next head adopts the elements
//!   that still run (their tasks are not submitted again) and the cache serves what finished.
//!
//! Executors never print (house rule 7): everything goes to the scheduler as messages, and to
//! `cache/slurm/<workflow>/run.json` for `gcrl status`.

pub mod client;
pub mod error;
pub mod files;
pub mod limits;
pub mod options;
pub mod pack;
pub mod profile;
pub mod state;
mod watch;
pub mod worker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use client::Client;
pub use error::SlurmError;
use files::{JobSpec, RunDir, SpecTask, now_ms, read_json, write_atomic, write_json};
use limits::Limits;
use pack::{Item, JobPlan, pack};
use profile::Profile;
use state::{JobRecord, RunState};
use watch::{LiveElement, LiveJob, Shared, Tracked, Watch};

use super::Executor;
use crate::cache::Cache;
use crate::engine::memory::request_gb;
use crate::engine::task::{Capacity, Message, Submission, TaskFailure};

/// How the head uses the cluster.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The `--profile` (default: empty).
    pub profile: Profile,
    /// Expected minutes of one array element (`--slurm-target-minutes`).
    pub target_minutes: f64,
    /// Elements of one array at most (`--slurm-max-array`).
    pub max_array: usize,
    /// Seconds between two `squeue` calls (`--slurm-poll`).
    pub poll: Duration,
}

/// A submission waiting for the next [`Executor::dispatch`], with the channel it reports on.
struct Queued {
    sub: Submission,
    done: Sender<Message>,
}

/// Runs tasks as Slurm jobs.
pub struct SlurmExecutor {
    options: SlurmOptions,
    client: Client,
    dir: RunDir,
    cache_root: PathBuf,
    gcrl: PathBuf,
    interrupt: &'static AtomicBool,
    queue: Vec<Queued>,
    adoptable: HashMap<String, (String, usize)>,
    shared: Arc<Shared>,
    watcher: Option<JoinHandle<()>>,
    seq: u64,
    unavailable: Arc<AtomicBool>,
}

impl SlurmExecutor {
    /// Set once a job could not be submitted because the cluster did not answer: the run's
    /// failed tasks are then the cluster's, not their own.
    pub fn unavailable(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.unavailable)
    }

    /// Checks the Slurm commands, adopts what an earlier head of `workflow` left running, and
    /// starts the watcher. `interrupt` is set by the caller's Ctrl-C handler.
    pub fn new(
        options: SlurmOptions,
        workflow: &str,
        cache: Cache,
        interrupt: &'static AtomicBool,
    ) -> Result<Self, SlurmError> {
        let client = Client;
        client.check()?;
        let gcrl = match &options.profile.gcrl {
            Some(p) => p.clone(),
            None => std::env::current_exe().map_err(error::io("(the gcrl binary)"))?,
        };
        let cache_root = std::path::absolute(cache.root()).map_err(error::io(cache.root()))?;
        let dir = RunDir::new(&cache_root, workflow)?;
        let mut state = RunState {
            workflow: workflow.to_string(),
            head: format!("{}:{}", crate::cache::hostname(), std::process::id()),
            started_ms: now_ms(),
            ..RunState::default()
        };
        let (live, adoptable) = adopt(&client, &dir, &mut state);
        state.save(&dir)?;
        let watch = Watch::new(state, live, dir.clone(), cache, options.poll, interrupt);
        let shared = Arc::new(Shared { inner: Mutex::new(watch), wake: Condvar::new() });
        let watcher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("gcrl-slurm-watch".into())
                .spawn(move || watch::run(&shared))
                .map_err(error::io("(watcher thread)"))?
        };
        Ok(SlurmExecutor {
            options,
            client,
            dir,
            cache_root,
            gcrl,
            interrupt,
            queue: Vec::new(),
            adoptable,
            shared,
            watcher: Some(watcher),
            seq: 0,
            unavailable: Arc::default(),
        })
    }

    /// Hands `q` to the element of an earlier head that runs its task; false if that element ended.
    fn attach(&self, token: &str, element: usize, q: &Queued) -> bool {
        let mut w = self.shared.lock();
        let Some(job) = w.live.iter_mut().find(|j| j.token == token) else { return false };
        let Some(el) = job.elements.get_mut(element).filter(|e| !e.finished) else { return false };
        el.tasks.push(q.tracked());
        self.shared.wake.notify_all();
        true
    }

    fn submit_job(&mut self, plan: &JobPlan, batch: &[Queued], attempt: u32) {
        self.seq += 1;
        let token = format!("{}-{}", now_ms(), self.seq);
        let spec = JobSpec {
            token: token.clone(),
            threads: plan.request.cpus,
            elements: plan
                .elements
                .iter()
                .map(|e| {
                    e.iter().map(|&i| SpecTask { task: batch[i].sub.task.clone(), force: batch[i].sub.force }).collect()
                })
                .collect(),
        };
        let first = &batch[plan.elements[0][0]].sub.task.label;
        let count: usize = plan.elements.iter().map(Vec::len).sum();
        let what = if count == 1 { first.clone() } else { format!("{first} … ({count} tasks)") };
        let fail_all = |message: String| {
            for &i in plan.elements.iter().flatten() {
                batch[i].fail(TaskFailure::Node(message.clone()));
            }
        };
        let script = self.dir.script(&token);
        let body = format!(
            "#!/bin/sh\n# gcrl job {token}: {what}\nexec {} --cache {} exec {}\n",
            quote(&self.gcrl),
            quote(&self.cache_root),
            quote(&self.dir.spec(&token))
        );
        if let Err(e) = write_json(&self.dir.spec(&token), &spec).and_then(|_| write_atomic(&script, body.as_bytes())) {
            fail_all(format!("cannot write the job files: {e}"));
            return;
        }
        let flags = self.flags(&token, plan);
        let mut tries = 0;
        let job_id = loop {
            match self.client.sbatch(&flags, &script) {
                Ok(id) => break id,
                Err(e) if e.transient && tries < 3 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_secs(1 << tries));
                }
                Err(e) if e.transient => {
                    self.unavailable.store(true, Ordering::Relaxed);
                    fail_all(format!(
                        "the cluster did not take the job after {} tries: {}; run again once the Slurm \
                         controller answers (finished results are kept)",
                        tries + 1,
                        e.message
                    ));
                    return;
                }
                Err(e) => {
                    fail_all(format!(
                        "sbatch refused the job: {} (flags: {}); fix the --profile or the node's `resources`",
                        e.message,
                        flags.join(" ")
                    ));
                    return;
                }
            }
        };
        let sizes: Vec<usize> = plan.elements.iter().map(Vec::len).collect();
        let record = JobRecord::new(token.clone(), job_id, what, plan.array, attempt, &plan.request, &sizes);
        let elements = plan
            .elements
            .iter()
            .map(|e| LiveElement { tasks: e.iter().map(|&i| batch[i].tracked()).collect(), ..LiveElement::default() })
            .collect();
        let mut w = self.shared.lock();
        w.state.jobs.push(record);
        let index = w.state.jobs.len() - 1;
        w.live.push(LiveJob { index, token, elements });
        w.dirty = true;
        self.shared.wake.notify_all();
    }

    fn flags(&self, token: &str, plan: &JobPlan) -> Vec<String> {
        let r = &plan.request;
        let mut f = vec![
            format!("--job-name=gcrl-{token}"),
            format!("--chdir={}", self.cache_root.display()),
            format!("--output={}", self.dir.log_pattern(token, plan.array).display()),
            format!("--cpus-per-task={}", r.cpus),
            format!("--mem={}M", r.mem_mb),
            format!("--time={}", r.minutes),
            "--no-requeue".to_string(),
            "--kill-on-invalid-dep=yes".to_string(),
            "--export=ALL".to_string(),
        ];
        if r.gpus > 0 {
            f.push(format!("--gres=gpu:{}", r.gpus));
        }
        if plan.array {
            let throttle = self.options.profile.array_parallel.map(|k| format!("%{k}")).unwrap_or_default();
            f.push(format!("--array=0-{}{throttle}", plan.elements.len() - 1));
        }
        f.extend(self.options.profile.flags());
        f
    }
}

impl Queued {
    /// Ends the task with `failure` before it is submitted.
    fn fail(&self, failure: TaskFailure) {
        let _ = self.done.send(Message::Done(self.sub.id, Box::new(Err(failure))));
    }

    /// How the watcher follows this task once its job is submitted.
    fn tracked(&self) -> Tracked {
        Tracked {
            id: self.sub.id,
            key: self.sub.task.key.clone(),
            force: self.sub.force,
            done: self.done.clone(),
            reported: false,
        }
    }
}

/// The jobs `queued` go out as, each with the attempt it records: a task asks for its resources
/// scaled by `retry_scale` to the power of the attempt it was submitted with (its failed tries,
/// as the scheduler counts them; this executor keeps no count of its own), up to the caps. A task
/// whose first request is above a cap is refused on its channel. Returns the plans, whose
/// elements index the accepted tasks, and those tasks.
fn plan_jobs(queued: Vec<Queued>, options: &SlurmOptions) -> (Vec<(JobPlan, u32)>, Vec<Queued>) {
    let mut items = Vec::with_capacity(queued.len());
    let mut accepted = Vec::with_capacity(queued.len());
    for q in queued {
        let Submission { node, resources, attempt, .. } = &q.sub;
        let limits = Limits::of(resources, &options.profile);
        if let Some(why) = limits.refuse(node, resources) {
            q.fail(TaskFailure::Node(why));
            continue;
        }
        items.push(Item {
            group: node.clone(),
            resources: limits.scaled(*resources, options.profile.retry_scale, *attempt),
        });
        accepted.push(q);
    }
    let plans = pack(&items, options.target_minutes, options.max_array)
        .into_iter()
        .map(|plan| {
            let attempt = plan.elements.iter().flatten().map(|&i| accepted[i].sub.attempt).max().unwrap_or(0);
            (plan, attempt)
        })
        .collect();
    (plans, accepted)
}

/// A path quoted for `sh`.
fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// Reads the state an earlier head left, asks Slurm (one call) which of its elements still run,
/// and returns them as live jobs, with the task keys they run mapped to `(token, element)`.
fn adopt(slurm: &Client, dir: &RunDir, state: &mut RunState) -> (Vec<LiveJob>, HashMap<String, (String, usize)>) {
    let mut live = Vec::new();
    let mut adoptable = HashMap::new();
    let Ok(Some(previous)) = RunState::load(dir) else { return (live, adoptable) };
    let ids: Vec<String> =
        previous.jobs.iter().filter(|j| j.elements.iter().any(|e| !e.finished)).map(|j| j.job_id.clone()).collect();
    let Ok(lines) = slurm.squeue(&ids) else { return (live, adoptable) };
    for mut job in previous.jobs.into_iter() {
        let mut running = Vec::new();
        let snapshot = job.clone();
        for (e, el) in job.elements.iter_mut().enumerate() {
            match watch::line_for(&lines, &snapshot, e).filter(|l| !client::is_terminal(&l.state)) {
                Some(l) if !el.finished => {
                    el.state = l.state.clone();
                    running.push(e);
                }
                _ => el.finished = true,
            }
        }
        if running.is_empty() {
            continue;
        }
        let Ok(Some(spec)) = read_json::<JobSpec>(&dir.spec(&job.token)) else { continue };
        for &e in &running {
            for t in spec.elements.get(e).into_iter().flatten() {
                adoptable.insert(t.task.key.clone(), (job.token.clone(), e));
            }
        }
        let elements = (0..job.elements.len())
            .map(|e| LiveElement { finished: !running.contains(&e), ..LiveElement::default() })
            .collect();
        state.jobs.push(job.clone());
        live.push(LiveJob { index: state.jobs.len() - 1, token: job.token, elements });
    }
    (live, adoptable)
}

impl Executor for SlurmExecutor {
    fn capacity(&self) -> Capacity {
        // Slurm queues what does not fit; the head hands over everything that is ready.
        Capacity { cpus: 1 << 20, gpus: 1 << 20 }
    }

    fn submit(&mut self, mut sub: Submission, done: Sender<Message>) {
        // Without `mem_gb` in the workflow, the job asks for the kind's estimate.
        sub.resources.mem_gb.get_or_insert_with(|| request_gb(sub.memory));
        self.queue.push(Queued { sub, done });
    }

    fn dispatch(&mut self) {
        let queued = std::mem::take(&mut self.queue);
        if queued.is_empty() {
            return;
        }
        if self.interrupt.load(Ordering::SeqCst) {
            for q in queued {
                q.fail(TaskFailure::Interrupted("not submitted: the run was interrupted (Ctrl-C)".into()));
            }
            return;
        }
        let mut fresh = Vec::with_capacity(queued.len());
        for q in queued {
            match self.adoptable.remove(&q.sub.task.key) {
                Some((token, element)) if self.attach(&token, element, &q) => {}
                _ => fresh.push(q),
            }
        }
        if fresh.is_empty() {
            return;
        }
        let (plans, accepted) = plan_jobs(fresh, &self.options);
        for (plan, attempt) in plans {
            self.submit_job(&plan, &accepted, attempt);
        }
    }
}

impl Drop for SlurmExecutor {
    fn drop(&mut self) {
        {
            let mut w = self.shared.lock();
            w.stop = true;
            self.shared.wake.notify_all();
        }
        if let Some(h) = self.watcher.take() {
            let _ = h.join();
        }
        let mut w = self.shared.lock();
        w.state.finished_ms = Some(now_ms());
        if self.interrupt.load(Ordering::SeqCst) {
            w.state.outcome = "interrupted".into();
        }
        let _ = w.state.save(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::mpsc;

    use super::pack::Request;
    use super::*;
    use crate::engine::task::ResolvedTask;
    use crate::kind::Resources;

    /// A queued task of node `node` (2 GiB, 30 minutes) submitted at `attempt`.
    fn queued(node: &str, attempt: u32, done: &Sender<Message>) -> Queued {
        let task = ResolvedTask {
            key: format!("key-of-{node}"),
            label: node.into(),
            kind: "diag-numbers".into(),
            kind_version: 1,
            role: "whole".into(),
            params: BTreeMap::new(),
            inputs: BTreeMap::new(),
            shards: Vec::new(),
            threads: 1,
            gpus: Vec::new(),
        };
        let resources = Resources { mem_gb: Some(2.0), minutes: 30.0, ..Resources::default() };
        let sub = Submission { id: 0, task, node: node.into(), resources, force: false, attempt, memory: 0 };
        Queued { sub, done: done.clone() }
    }

    /// Regression (issue 19), the Slurm half of the scheduler's
    /// `regression_a_producer_run_again_for_a_lost_output_asks_for_no_more_resources`: the
    /// executor counted its own attempts per task, so a task it was given again at attempt 0 (a
    /// producer whose output vanished) asked for `retry_scale` times the memory and time. The
    /// request now follows the submission's attempt alone.
    #[test]
    fn regression_a_task_submitted_again_without_a_failure_asks_slurm_for_its_first_request() {
        let options = SlurmOptions {
            profile: Profile::default(),
            target_minutes: 30.0,
            max_array: 100,
            poll: Duration::from_secs(1),
        };
        let (tx, rx) = mpsc::channel();
        let requests = |attempt| {
            let (plans, accepted) = plan_jobs(vec![queued("n0", attempt, &tx)], &options);
            assert_eq!(accepted.len(), 1);
            plans.into_iter().map(|(plan, attempt)| (plan.request, attempt)).collect::<Vec<_>>()
        };
        let first = requests(0);
        assert_eq!(first, [(Request { cpus: 1, gpus: 0, mem_mb: 2048, minutes: 30 }, 0)]);
        assert_eq!(requests(0), first, "given again at attempt 0, the same request");
        let retry = requests(1);
        assert_eq!(
            retry,
            [(Request { cpus: 1, gpus: 0, mem_mb: 4096, minutes: 60 }, 1)],
            "one failed try: × retry_scale"
        );
        assert!(rx.try_recv().is_err(), "nothing was refused");
    }
}
