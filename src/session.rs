//! One `gcrl run`, as a library call: load the workflow, fingerprint it and check its seal,
//! expand the task graph, schedule it on an executor (the scheduler records the run and seals
//! it), publish the `publish:` files. It prints nothing: scheduler events go to the caller's
//! [`Reporter`], the rest comes back in [`Finished`] for the caller to show (the CLI's
//! `cli::run`). It owns no flags: the caller hands over checked [`Options`].
//!
//! ```no_run
//! use gcrl::engine::events::Silent;
//! use gcrl::session::{Backend, Options};
//!
//! let options = Options { backend: Backend::Local { jobs: Some(2), gpus: Some(0), memory: None }, ..Options::default() };
//! let registry = gcrl::nodes::builtin();
//! let done = gcrl::run("workflows/demo.yaml".as_ref(), registry, "cache".as_ref(), &options, &mut Silent)?;
//! assert_eq!(done.summary.failed, 0);
//! # Ok::<(), gcrl::session::SessionError>(())
//! ```

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use thiserror::Error;

use crate::cache::{Cache, CacheError};
use crate::engine::EngineError;
use crate::engine::events::Reporter;
use crate::engine::executor::slurm::{SlurmError, SlurmExecutor, SlurmOptions};
use crate::engine::executor::{Executor, LocalExecutor};
use crate::engine::fingerprint::fingerprint;
use crate::engine::graph::{TaskGraph, check_node};
use crate::engine::memory::Budget;
use crate::engine::publish::{self, Published, Target};
use crate::engine::scheduler::{RunOptions, RunSummary, run_graph};
use crate::kind::Registry;
use crate::workflow::{Override, Workflow, WorkflowError, load_workflow};

/// Where the tasks run, with the settings of that executor (checked by the caller).
#[derive(Debug, Clone)]
pub enum Backend {
    /// Threads of this process.
    Local {
        /// Tasks at once (default: the number of cores).
        jobs: Option<usize>,
        /// GPU slots (default: the devices in CUDA_VISIBLE_DEVICES).
        gpus: Option<usize>,
        /// What the running tasks' memory may add up to; `None`: not counted.
        memory: Option<Budget>,
    },
    /// Slurm jobs.
    Slurm(SlurmOptions),
}

impl Default for Backend {
    fn default() -> Self {
        Backend::Local { jobs: None, gpus: None, memory: None }
    }
}

/// What to run and where.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--set` overrides of params and input files.
    pub overrides: Vec<Override>,
    /// Nodes whose tasks run even when cached (`--force`).
    pub force: Vec<String>,
    /// Run only these nodes and what they need (`--until`; empty: everything).
    pub until: Vec<String>,
    /// The executor.
    pub backend: Backend,
}

/// Why a run could not start or go on (a failing task is not an error: see [`RunSummary`]).
#[derive(Debug, Error)]
pub enum SessionError {
    /// The workflow file is wrong.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The cache cannot be opened or written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The graph cannot be built or scheduled (an unknown `--force`/`--until` node included).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The Slurm executor cannot start.
    #[error(transparent)]
    Slurm(#[from] SlurmError),
    /// The local executor's worker threads cannot start.
    #[error("cannot start worker threads: {0}")]
    WorkerThreads(#[source] std::io::Error),
}

/// What a run did.
#[derive(Debug)]
pub struct Finished {
    /// The scheduler's counts and failures.
    pub summary: RunSummary,
    /// The workflow's seal held: nothing ran, nothing was published.
    pub sealed: bool,
    /// Each `publish:` file and what came of it.
    pub published: Vec<(Target, Result<Published, EngineError>)>,
    /// The cluster stopped answering during the run (the failed tasks are its own).
    pub cluster_lost: bool,
}

impl Finished {
    /// How many `publish:` files were (re)written.
    pub fn written(&self) -> usize {
        self.published.iter().filter(|(_, r)| matches!(r, Ok(Published::Written))).count()
    }

    /// Whether a `publish:` file could not be written.
    pub fn publish_failed(&self) -> bool {
        self.published.iter().any(|(_, r)| r.is_err())
    }
}

/// A workflow loaded against a cache, fingerprinted, ready to run.
pub struct Session {
    workflow: Workflow,
    cache: Cache,
    registry: Arc<Registry>,
    options: Options,
    fingerprint: Option<String>,
    sealed: Option<usize>,
    started: Instant,
}

impl Session {
    /// Loads `path` with `options.overrides`, checks the `force`/`until` nodes, opens `cache_dir`
    /// (it must be writable) and, nothing being forced, checks the workflow's seal.
    pub fn open(path: &Path, registry: Registry, cache_dir: &Path, options: &Options) -> Result<Self, SessionError> {
        let workflow = load_workflow(path, &registry, &options.overrides)?;
        for n in options.force.iter().chain(&options.until) {
            check_node(&workflow, n)?;
        }
        let cache = Cache::open(cache_dir)?;
        cache.writable()?;
        let started = Instant::now();
        // Nothing forced: if the workflow's fingerprint is sealed and the seal holds, nothing runs.
        let fingerprint = if options.force.is_empty() { fingerprint(&workflow, &options.until, &cache) } else { None };
        let sealed = fingerprint.as_deref().and_then(|f| cache.sealed(&workflow.name, f));
        let registry = Arc::new(registry);
        Ok(Session { workflow, cache, registry, options: options.clone(), fingerprint, sealed, started })
    }

    /// The loaded workflow.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// The cache it runs against.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The workflow's fingerprint (`None` when something is forced or an input cannot be hashed).
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// When the seal holds: the run that has nothing to do (every task cached).
    pub fn sealed(&self) -> Option<Finished> {
        let tasks = self.sealed?;
        let seconds = self.started.elapsed().as_secs_f64();
        let summary = RunSummary { tasks, cached: tasks, seconds, ..Default::default() };
        Some(Finished { summary, sealed: true, published: Vec::new(), cluster_lost: false })
    }

    /// Expands the graph and starts the executor; `interrupt`, when given, is the flag a signal
    /// handler sets to stop the run.
    pub fn start(&self, interrupt: Option<&'static AtomicBool>) -> Result<Started<'_>, SessionError> {
        static NEVER: AtomicBool = AtomicBool::new(false);
        let graph = TaskGraph::expand(&self.workflow, &self.options.until)?;
        let (executor, cluster_lost): (Box<dyn Executor>, _) = match &self.options.backend {
            Backend::Local { jobs, gpus, .. } => {
                let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
                let gpus = gpus.unwrap_or_else(visible_gpus);
                let local = LocalExecutor::new(jobs, gpus, Arc::clone(&self.registry), self.cache.clone())
                    .map_err(SessionError::WorkerThreads)?;
                (Box::new(local), None)
            }
            Backend::Slurm(options) => {
                let slurm = SlurmExecutor::new(
                    options.clone(),
                    &self.workflow.name,
                    self.cache.clone(),
                    interrupt.unwrap_or(&NEVER),
                )?;
                let lost = slurm.unavailable();
                (Box::new(slurm), Some(lost))
            }
        };
        Ok(Started { session: self, graph, executor, cluster_lost, interrupt })
    }
}

/// A session with its graph expanded and its executor started.
pub struct Started<'s> {
    session: &'s Session,
    graph: TaskGraph,
    executor: Box<dyn Executor>,
    cluster_lost: Option<Arc<AtomicBool>>,
    interrupt: Option<&'static AtomicBool>,
}

impl Started<'_> {
    /// Schedules every task (the scheduler records the run and seals it when all finish), then
    /// writes the `publish:` files of the tasks that are done.
    pub fn run(mut self, reporter: &mut dyn Reporter) -> Result<Finished, SessionError> {
        let s = self.session;
        let memory = match &s.options.backend {
            Backend::Local { memory, .. } => *memory,
            Backend::Slurm(_) => None,
        };
        let options = RunOptions {
            force: s.options.force.clone(),
            seal: s.fingerprint.clone(),
            interrupt: self.interrupt,
            memory,
        };
        let summary = run_graph(&self.graph, &s.workflow.name, &s.cache, self.executor.as_mut(), &options, reporter);
        drop(self.executor);
        let summary = summary?;
        let cluster_lost = self.cluster_lost.is_some_and(|lost| lost.load(Ordering::Relaxed));
        let published = publish_outputs(&s.workflow, &self.graph, &s.cache);
        Ok(Finished { summary, sealed: false, published, cluster_lost })
    }
}

/// Runs the workflow at `path` against `cache_dir`: the whole of `gcrl run` without its printing.
pub fn run(
    path: &Path,
    registry: Registry,
    cache_dir: &Path,
    options: &Options,
    reporter: &mut dyn Reporter,
) -> Result<Finished, SessionError> {
    let session = Session::open(path, registry, cache_dir, options)?;
    match session.sealed() {
        Some(finished) => Ok(finished),
        None => session.start(None)?.run(reporter),
    }
}

fn visible_gpus() -> usize {
    std::env::var("CUDA_VISIBLE_DEVICES")
        .map(|v| v.split(',').filter(|s| !s.trim().is_empty() && s.trim() != "-1").count())
        .unwrap_or(0)
}

/// Writes the `publish:` files of the tasks the run finished. The run record the scheduler just
/// kept (or left as it was, when nothing changed) lists exactly the tasks that are done.
fn publish_outputs(
    workflow: &Workflow,
    graph: &TaskGraph,
    cache: &Cache,
) -> Vec<(Target, Result<Published, EngineError>)> {
    let targets = publish::targets(workflow, graph);
    if targets.is_empty() {
        return Vec::new();
    }
    let done = cache.last_run(&workflow.name).map(|(_, r)| r.tasks).unwrap_or_default();
    targets
        .into_iter()
        .map(|t| {
            let r = publish::publish(&t, &done, cache);
            (t, r)
        })
        .collect()
}
