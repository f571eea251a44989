//! What each subcommand does: load, call the library, print.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use super::anndata::{Annotations, Keyed, MatrixArg};
use super::args::{CacheAction, DagFormat, ExecutorArgs, ExecutorKind, WorkflowArgs};
use super::exit;
use super::profile::Profile;
use super::report::Console;
use super::runlog::RunLog;
use super::usage;
use crate::cache::Cache;
use crate::engine::EngineError;
use crate::engine::executor::slurm::files::{RunDir, TaskResult};
use crate::engine::executor::slurm::state::RunState;
use crate::engine::executor::slurm::worker::run_element;
use crate::engine::executor::slurm::{SlurmError, SlurmExecutor, SlurmOptions};
use crate::engine::executor::{Executor, LocalExecutor};
use crate::engine::fingerprint::fingerprint;
use crate::engine::graph::{TaskGraph, check_node};
use crate::engine::memory::Budget;
use crate::engine::plan::{Status, plan};
use crate::engine::publish::{self, Published};
use crate::engine::resolve::Resolver;
use crate::engine::scheduler::{RunOptions, RunSummary, run_graph};
use crate::engine::walk::walk;
use crate::io::h5ad_write::Provenance;
use crate::kind::Registry;
use crate::table::{SparseMatrix, Table, densified, is_sparse, write_table_file};
use crate::workflow::{Source, Workflow, load_workflow};

/// A failure of a command, with its exit code.
pub struct Failure {
    /// Exit code.
    pub code: i32,
    /// Message for stderr.
    pub message: String,
}

impl Failure {
    fn usage(message: impl ToString) -> Self {
        Failure { code: exit::USAGE, message: message.to_string() }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::Cache(_) | EngineError::Table(_) => exit::IO,
            _ => exit::USAGE,
        };
        Failure { code, message: format!("error: {e}") }
    }
}

impl From<SlurmError> for Failure {
    fn from(e: SlurmError) -> Self {
        let code = if e.is_unavailable() { exit::CLUSTER } else { exit::USAGE };
        Failure { code, message: format!("error: {e}") }
    }
}

impl From<crate::cache::CacheError> for Failure {
    fn from(e: crate::cache::CacheError) -> Self {
        Failure { code: exit::IO, message: format!("error: {e}") }
    }
}

pub(super) type Outcome = Result<i32, Failure>;

/// The workflow of `args`, loaded and checked.
pub(super) fn load(args: &WorkflowArgs, registry: &Registry) -> Result<Workflow, Failure> {
    load_workflow(&args.workflow, registry, &args.set).map_err(|e| Failure::usage(e.to_string().trim_end()))
}

fn open_cache(path: &Path) -> Result<Cache, Failure> {
    Ok(Cache::open(path)?)
}

fn check_nodes(workflow: &Workflow, names: &[String]) -> Result<(), Failure> {
    for n in names {
        check_node(workflow, n)?;
    }
    Ok(())
}

fn visible_gpus() -> usize {
    std::env::var("CUDA_VISIBLE_DEVICES")
        .map(|v| v.split(',').filter(|s| !s.trim().is_empty() && s.trim() != "-1").count())
        .unwrap_or(0)
}

/// Where `gcrl run` sends tasks: the flag, else the profile's `executor`, else local.
fn executor_kind(e: &ExecutorArgs, profile: &Profile) -> ExecutorKind {
    e.executor.or(profile.executor).unwrap_or(ExecutorKind::Local)
}

/// The Slurm settings of `gcrl run`, checked; `None` for the local executor (which ignores
/// the profile's Slurm keys).
fn slurm_options(e: &ExecutorArgs, profile: &Profile) -> Result<Option<SlurmOptions>, Failure> {
    if executor_kind(e, profile) == ExecutorKind::Local {
        let given = [
            (e.slurm_target_minutes.is_some(), "--slurm-target-minutes"),
            (e.slurm_max_array.is_some(), "--slurm-max-array"),
            (e.slurm_poll.is_some(), "--slurm-poll"),
        ];
        if let Some((_, flag)) = given.iter().find(|(set, _)| *set) {
            return Err(Failure::usage(format!(
                "error: `{flag}` applies to `--executor slurm`; add it or drop `{flag}`"
            )));
        }
        return Ok(None);
    }
    let positive = |v: Option<f64>, default: f64, flag: &str| match v {
        Some(x) if !(x > 0.0 && x.is_finite()) => {
            Err(Failure::usage(format!("error: `{flag}` must be a positive number of {}, got {x}", flag_unit(flag))))
        }
        Some(x) => Ok(x),
        None => Ok(default),
    };
    let target_minutes = positive(e.slurm_target_minutes, 10.0, "--slurm-target-minutes")?;
    let poll = positive(e.slurm_poll, 10.0, "--slurm-poll")?;
    let max_array = e.slurm_max_array.unwrap_or(1000);
    if max_array == 0 {
        return Err(Failure::usage("error: `--slurm-max-array` must be at least 1"));
    }
    Ok(Some(SlurmOptions {
        profile: profile.slurm.clone(),
        target_minutes,
        max_array,
        poll: std::time::Duration::from_secs_f64(poll),
    }))
}

fn flag_unit(flag: &str) -> &'static str {
    if flag == "--slurm-poll" { "seconds" } else { "minutes" }
}

/// The memory budget of a local run: `--mem-limit`, else what the machine has available now.
/// A Slurm run counts none: each job asks for its task's memory.
fn memory_budget(e: &ExecutorArgs, profile: &Profile) -> Result<Option<Budget>, Failure> {
    match (executor_kind(e, profile), e.mem_limit) {
        (_, Some(gb)) if !(gb > 0.0 && gb.is_finite()) => {
            Err(Failure::usage(format!("error: `--mem-limit` must be a positive number of GiB, got {gb}")))
        }
        (ExecutorKind::Local, Some(gb)) => Ok(Some(Budget::limit(gb))),
        (ExecutorKind::Local, None) => Ok(Budget::available()),
        (_, Some(_)) => Err(Failure::usage(
            "error: `--mem-limit` applies to the local executor; on Slurm each job asks for its task's memory \
             (cap it with `max_mem_gb` in the --profile)"
                .to_string(),
        )),
        (_, None) => Ok(None),
    }
}

/// `gcrl run`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    args: &WorkflowArgs,
    registry: Registry,
    cache_dir: &Path,
    jobs: Option<usize>,
    gpus: Option<usize>,
    force: &[String],
    until: &[String],
    json: bool,
    quiet: bool,
    executor: &ExecutorArgs,
    profile: &Profile,
) -> Outcome {
    let slurm = slurm_options(executor, profile)?;
    let memory = memory_budget(executor, profile)?;
    let workflow = load(args, &registry)?;
    check_nodes(&workflow, force)?;
    check_nodes(&workflow, until)?;
    let cache = open_cache(cache_dir)?;
    cache.writable()?;
    let started = std::time::Instant::now();
    // Nothing forced: if the workflow's fingerprint is sealed and the seal holds, nothing runs.
    let fingerprint = if force.is_empty() { fingerprint(&workflow, until, &cache) } else { None };
    let sealed = fingerprint.as_deref().and_then(|f| cache.sealed(&workflow.name, f));
    let mut log = None;
    let mut cluster_lost = None;
    let (summary, published) = match sealed {
        Some(tasks) => {
            let seconds = started.elapsed().as_secs_f64();
            (RunSummary { tasks, cached: tasks, seconds, ..Default::default() }, (0, false))
        }
        None => {
            let graph = TaskGraph::expand(&workflow, until)?;
            let interrupt = super::signal::install();
            let (mut executor, unavailable) = executor_for(slurm, &workflow, &cache, registry, jobs, gpus, interrupt)?;
            cluster_lost = unavailable;
            let mut reporter = Console::new(quiet, Some(RunLog::create(&cache, &workflow.name)));
            let options =
                RunOptions { force: force.to_vec(), seal: fingerprint.clone(), interrupt: Some(interrupt), memory };
            let summary = run_graph(&graph, &workflow.name, &cache, executor.as_mut(), &options, &mut reporter);
            drop(executor);
            log = reporter.into_log();
            let summary = summary.inspect_err(|_| {
                // No record: the log goes too.
                if let Some(log) = log.take() {
                    log.finish(&cache, &workflow.name, None, exit::IO, None);
                }
            })?;
            (summary, publish_outputs(&workflow, &graph, &cache, quiet))
        }
    };
    let (published, publish_failed) = published;
    if json {
        let out = json!({
            "workflow": workflow.name,
            "tasks": summary.tasks,
            "ran": summary.ran,
            "cached": summary.cached,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "published": published,
            "seconds": summary.seconds,
            "interrupted": summary.interrupted,
        });
        println!("{out}");
    }
    let mut say = |line: String, shown: bool| {
        if let Some(log) = &mut log {
            log.line(&line);
        }
        if shown {
            eprintln!("{line}");
        }
    };
    let note = if sealed.is_some() { "; nothing changed since the last run" } else { "" };
    say(
        format!(
            "{}: {} tasks, {} ran, {} cached, {} failed, {} skipped in {:.2}s{note}",
            workflow.name, summary.tasks, summary.ran, summary.cached, summary.failed, summary.skipped, summary.seconds
        ),
        !quiet,
    );
    for line in failure_lines(&summary.failures) {
        say(line, true);
    }
    let code = if let Some((signal, code)) = super::signal::received() {
        say(interrupted_line(signal, &summary, executor_kind(executor, profile) == ExecutorKind::Slurm), true);
        code
    } else if summary.failed > 0 && cluster_lost.is_some_and(|lost| lost.load(Ordering::Relaxed)) {
        exit::CLUSTER
    } else if summary.failed > 0 {
        exit::TASK_FAILED
    } else if publish_failed {
        exit::IO
    } else {
        exit::OK
    };
    if let Some(log) = log {
        let record = cache.own_run_file(&workflow.name, log.started_ms);
        log.finish(&cache, &workflow.name, record.as_deref(), code, fingerprint.as_deref());
    }
    Ok(code)
}

/// What `gcrl run` says when a signal stopped it: what finished, what did not, how to go on.
fn interrupted_line(signal: &str, s: &RunSummary, slurm: bool) -> String {
    let finished = s.ran + s.cached;
    let mut line = format!(
        "interrupted by {signal}: {finished} of {} tasks finished ({} ran, {} cached)",
        s.tasks, s.ran, s.cached
    );
    if s.unfinished.is_empty() {
        line.push_str(", none left to do");
    } else {
        let nodes = s.unfinished.iter().map(|(node, open, all)| match all {
            1 => node.clone(),
            _ => format!("{node} ({open} of {all} tasks)"),
        });
        let nodes: Vec<String> = nodes.collect();
        line.push_str(&format!("; not finished: {}", super::report::names(nodes.iter().map(String::as_str), 8)));
    }
    if slurm {
        line.push_str("; the run's Slurm jobs were cancelled (`gcrl status` shows them)");
    }
    line.push_str("; finished results are in the cache: run again to resume");
    line
}

/// Set by the Slurm executor when the cluster stops answering during a run.
type ClusterLost = Arc<AtomicBool>;

/// The executor of `gcrl run`: local threads, or Slurm when `slurm` is set; with Slurm, the
/// flag it sets when the cluster stops answering.
fn executor_for(
    slurm: Option<SlurmOptions>,
    workflow: &Workflow,
    cache: &Cache,
    registry: Registry,
    jobs: Option<usize>,
    gpus: Option<usize>,
    interrupt: &'static AtomicBool,
) -> Result<(Box<dyn Executor>, Option<ClusterLost>), Failure> {
    Ok(match slurm {
        None => {
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
            let local = LocalExecutor::new(jobs, gpus.unwrap_or_else(visible_gpus), Arc::new(registry), cache.clone())
                .map_err(|e| Failure { code: exit::IO, message: format!("error: cannot start worker threads: {e}") })?;
            (Box::new(local), None)
        }
        Some(options) => {
            let slurm = SlurmExecutor::new(options, &workflow.name, cache.clone(), interrupt)?;
            let unavailable = slurm.unavailable();
            (Box::new(slurm), Some(unavailable))
        }
    })
}

/// Writes the `publish:` files of the tasks the run finished; returns how many files were
/// (re)written and whether any could not be. The run record the scheduler just kept (or left
/// as it was, when nothing changed) lists exactly the tasks that are done.
fn publish_outputs(workflow: &Workflow, graph: &TaskGraph, cache: &Cache, quiet: bool) -> (usize, bool) {
    let targets = publish::targets(workflow, graph);
    if targets.is_empty() {
        return (0, false);
    }
    let done = cache.last_run(&workflow.name).map(|(_, r)| r.tasks).unwrap_or_default();
    let (mut written, mut failed) = (0, false);
    for t in &targets {
        match publish::publish(t, &done, cache) {
            Ok(Published::Written) => {
                written += 1;
                if !quiet {
                    eprintln!("published {}.{} to {}", t.task, t.output, t.path.display());
                }
            }
            Ok(Published::Unchanged | Published::NotDone) => {}
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
            }
        }
    }
    (written, failed)
}

/// `gcrl exec`: one element of a Slurm job.
pub fn exec(registry: &Registry, cache_dir: &Path, spec: &Path, element: Option<usize>) -> Outcome {
    let element =
        element.or_else(|| std::env::var("SLURM_ARRAY_TASK_ID").ok().and_then(|v| v.parse().ok())).unwrap_or(0);
    let cache = open_cache(cache_dir)?;
    let (report, results) = run_element(spec, element, registry, &cache)
        .map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
    let mut counts = [0usize; 3];
    for (label, r) in &results {
        match r {
            TaskResult::Ran => counts[0] += 1,
            TaskResult::Cached => counts[1] += 1,
            TaskResult::Failed { message, .. } => {
                counts[2] += 1;
                eprintln!("error: task {label} failed: {message}");
            }
        }
    }
    println!(
        "gcrl exec {} element {element} on {}: {} tasks, {} ran, {} cached, {} failed in {:.2}s",
        spec.display(),
        report.host,
        results.len(),
        counts[0],
        counts[1],
        counts[2],
        (report.finished_ms - report.started_ms) as f64 / 1000.0
    );
    Ok(if counts[2] > 0 { exit::TASK_FAILED } else { exit::OK })
}

/// `gcrl status`.
pub fn status(registry: Registry, cache_dir: &Path, workflow: Option<&Path>, json: bool) -> Outcome {
    let name = match workflow {
        Some(path) => Some(load(&WorkflowArgs { workflow: path.to_path_buf(), set: Vec::new() }, &registry)?.name),
        None => None,
    };
    let mut runs = Vec::new();
    for dir in RunDir::all(cache_dir) {
        let state = RunState::load(&dir).map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
        if let Some(state) = state.filter(|s| name.as_ref().is_none_or(|n| &s.workflow == n)) {
            runs.push((dir, state));
        }
    }
    if runs.is_empty() {
        let which = name.map(|n| format!("workflow `{n}`")).unwrap_or_else(|| "any workflow".into());
        if json {
            println!("{}", json!({ "runs": [] }));
            return Ok(exit::OK);
        }
        println!("no Slurm runs of {which} in {} (run with `--executor slurm`)", cache_dir.display());
        return Ok(exit::OK);
    }
    let cache = Cache::open(cache_dir).ok();
    if json {
        let list: Vec<_> = runs
            .iter()
            .map(|(dir, s)| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                v["dir"] = json!(dir.root());
                for (j, job) in s.jobs.iter().enumerate() {
                    for (e, u) in usage::elements(cache.as_ref(), dir, job).iter().enumerate() {
                        v["jobs"][j]["elements"][e]["usage"] = usage::json(u.as_ref());
                    }
                }
                v
            })
            .collect();
        println!("{}", json!({ "runs": list }));
        return Ok(exit::OK);
    }
    let mut out = std::io::stdout().lock();
    for (dir, s) in &runs {
        let done = match s.finished_ms {
            Some(f) => format!(
                "ended after {:.1}s{}",
                (f.saturating_sub(s.started_ms)) as f64 / 1000.0,
                if s.outcome.is_empty() { String::new() } else { format!(" ({})", s.outcome) }
            ),
            None => "running (or its head was killed; a new run adopts its jobs)".into(),
        };
        let _ = writeln!(out, "{}: head {}, {done}; {} jobs", s.workflow, s.head, s.jobs.len());
        for j in &s.jobs {
            let kind = if j.array { format!("array of {}", j.elements.len()) } else { "single".into() };
            let gpus = if j.gpus > 0 { format!(" gpus={}", j.gpus) } else { String::new() };
            let _ = writeln!(
                out,
                "  job {:<8} {kind:<14} cpus={} mem={}M time={}m{gpus} attempt {}  {}",
                j.job_id,
                j.cpus,
                j.mem_mb,
                j.minutes,
                j.attempt + 1,
                j.what
            );
            let used = usage::elements(cache.as_ref(), dir, j);
            for (e, el) in j.elements.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    {:<12} {:<11} {:>5} tasks  start {}  end {}  {}  log {}",
                    j.element_id(e),
                    el.state,
                    el.tasks,
                    if el.start.is_empty() { "-" } else { &el.start },
                    if el.end.is_empty() { "-" } else { &el.end },
                    usage::text(used[e].as_ref()),
                    dir.log(&j.token, e).display()
                );
            }
        }
    }
    Ok(exit::OK)
}

/// `gcrl plan`.
pub fn plan_cmd(
    args: &WorkflowArgs,
    registry: Registry,
    cache_dir: &Path,
    force: &[String],
    until: &[String],
    json: bool,
) -> Outcome {
    let workflow = load(args, &registry)?;
    check_nodes(&workflow, force)?;
    let graph = TaskGraph::expand(&workflow, until)?;
    let cache = open_cache(cache_dir)?;
    let entries = plan(&graph, &workflow.name, &cache, force);
    let targets = publish::targets(&workflow, &graph);
    let mut out = std::io::stdout().lock();
    if json {
        let mut doc = json!({ "workflow": workflow.name, "tasks": entries });
        if !targets.is_empty() {
            doc["publish"] = json!(targets);
        }
        let _ = writeln!(out, "{doc}");
        return Ok(exit::OK);
    }
    let run = entries.iter().filter(|e| e.status == Status::Run).count();
    let width = entries.iter().map(|e| e.task.len()).max().unwrap_or(0).min(60);
    for e in &entries {
        let _ = match e.status {
            Status::Cached => writeln!(out, "cached  {}", e.task),
            Status::Run => match e.memory {
                Some(mb) => writeln!(out, "run     {:<width$}  {} (memory ≈ {mb} MiB)", e.task, e.reason),
                None => writeln!(out, "run     {:<width$}  {}", e.task, e.reason),
            },
        };
    }
    for t in &targets {
        let _ = writeln!(out, "publish {}.{} -> {}", t.task, t.output, t.path.display());
    }
    let _ = writeln!(out, "{} tasks: {run} to run, {} cached", entries.len(), entries.len() - run);
    Ok(exit::OK)
}

/// `gcrl dag`.
pub fn dag(args: &WorkflowArgs, registry: Registry, format: DagFormat) -> Outcome {
    let workflow = load(args, &registry)?;
    let mut out = String::new();
    let edges: Vec<(String, String, String)> = workflow
        .nodes
        .iter()
        .flat_map(|n| {
            n.inputs.iter().flat_map(move |(port, sources)| {
                sources.iter().map(move |s| match s {
                    Source::Output { node, output } => (node.clone(), n.id.clone(), format!("{output} → {port}")),
                    Source::File(p) => {
                        let name = p.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
                        (format!("file:{name}"), n.id.clone(), port.clone())
                    }
                })
            })
        })
        .collect();
    let label = |n: &crate::workflow::NodeSpec| {
        let instances = n.instances().len();
        let sweep = if instances > 1 { format!(" ×{instances}") } else { String::new() };
        format!("{}\\n({}{sweep})", n.id, n.kind.name())
    };
    match format {
        DagFormat::Dot => {
            out.push_str(&format!(
                "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n",
                workflow.name
            ));
            for n in &workflow.nodes {
                out.push_str(&format!("  \"{}\" [label=\"{}\"];\n", n.id, label(n)));
            }
            for (a, b, l) in &edges {
                if let Some(name) = a.strip_prefix("file:") {
                    out.push_str(&format!("  \"{a}\" [shape=note, label=\"{name}\"];\n"));
                }
                out.push_str(&format!("  \"{a}\" -> \"{b}\" [label=\"{l}\"];\n"));
            }
            out.push_str("}\n");
        }
        DagFormat::Mermaid => {
            let id = |s: &str| s.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            out.push_str("flowchart LR\n");
            for n in &workflow.nodes {
                out.push_str(&format!("  {}[\"{}\"]\n", id(&n.id), label(n).replace("\\n", "<br/>")));
            }
            for (a, b, l) in &edges {
                if let Some(f) = a.strip_prefix("file:") {
                    out.push_str(&format!("  {}[/\"{f}\"/]\n", id(a)));
                }
                out.push_str(&format!("  {} -->|{}| {}\n", id(a), l, id(b)));
            }
        }
    }
    print!("{out}");
    Ok(exit::OK)
}

/// `gcrl kinds`.
pub fn kinds(registry: &Registry, only: Option<&str>, json: bool) -> Outcome {
    let selected: Vec<_> = registry.kinds().filter(|k| only.is_none_or(|o| k.name() == o)).collect();
    if let Some(o) = only
        && selected.is_empty()
    {
        let h = crate::diag::suggest::hint(o, registry.names());
        return Err(Failure::usage(format!("error: unknown kind `{o}` {h}")));
    }
    if json {
        let list: Vec<_> = selected
            .iter()
            .map(|k| {
                json!({
                    "name": k.name(), "version": k.version(), "doc": k.doc(),
                    "plugin": k.origin().map(|p| p.display().to_string()),
                    "inputs": k.inputs().iter().map(|p| json!({"name": p.name, "doc": p.doc, "optional": p.optional})).collect::<Vec<_>>(),
                    "outputs": k.outputs().iter().map(|p| json!({"name": p.name, "doc": p.doc})).collect::<Vec<_>>(),
                    "params": k.params().iter().map(|p| json!({"name": p.name, "type": p.ty.to_string(), "default": p.default, "doc": p.doc})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(exit::OK);
    }
    let mut out = std::io::stdout().lock();
    for k in selected {
        let _ = writeln!(out, "{} (v{}): {}", k.name(), k.version(), k.doc());
        if let Some(dir) = k.origin() {
            let _ = writeln!(out, "  plugin {}", dir.display());
        }
        for p in k.inputs() {
            let opt = if p.optional { " (optional)" } else { "" };
            let _ = writeln!(out, "  in   {:<22} {}{opt}", p.name, p.doc);
        }
        for p in k.outputs() {
            let _ = writeln!(out, "  out  {:<22} {}", p.name, p.doc);
        }
        for p in k.params() {
            let default = p.default.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "required".into());
            let _ = writeln!(out, "  param {:<21} {} = {default}: {}", p.name, p.ty, p.doc);
        }
        let _ = writeln!(out);
    }
    Ok(exit::OK)
}

/// `target` as `(node, output)`, both checked against `workflow`.
pub(super) fn checked_output<'t>(workflow: &Workflow, target: &'t str) -> Result<(&'t str, &'t str), Failure> {
    let (node, output) =
        target.split_once('.').ok_or_else(|| Failure::usage(format!("error: `{target}` is not `node.output`")))?;
    check_node(workflow, node)?;
    let spec = workflow.node(node).expect("checked above");
    if !spec.kind.outputs().iter().any(|o| o.name == output) {
        let h = crate::diag::suggest::hint(output, spec.kind.outputs().iter().map(|o| o.name));
        return Err(Failure::usage(format!("error: node `{node}` has no output `{output}` {h}")));
    }
    Ok((node, output))
}

/// The cached table of `node.output` for the current workflow and parameters.
fn cached_output(args: &WorkflowArgs, registry: &Registry, cache_dir: &Path, target: &str) -> Result<Table, Failure> {
    cached_object(args, registry, cache_dir, target).map(|(table, _)| table)
}

/// [`cached_output`] with where it came from (its `part` left empty for the caller to name).
fn cached_object(
    args: &WorkflowArgs,
    registry: &Registry,
    cache_dir: &Path,
    target: &str,
) -> Result<(Table, Provenance), Failure> {
    let workflow = load(args, registry)?;
    let (node, output) = checked_output(&workflow, target)?;
    let spec = workflow.node(node).expect("checked above");
    let graph = TaskGraph::expand(&workflow, &[node.to_string()])?;
    let cache = open_cache(cache_dir)?;
    let providers = &graph.outputs_of[node];
    if providers.len() > 1 {
        let swept: Vec<String> = spec.swept().map(String::from).collect();
        return Err(Failure::usage(format!(
            "error: node `{node}` is swept over {} ({} instances); pick one with --set {node}.{}=VALUE",
            swept.join(", "),
            providers.len(),
            swept.first().cloned().unwrap_or_default()
        )));
    }
    let standings = walk(&graph, &Resolver::new(&cache, &workflow.name), &[]);
    if let Some(task) = graph.tasks.iter().find(|t| standings[t.id].outputs().is_none()) {
        return Err(Failure::usage(format!(
            "error: `{}` is not in the cache for these parameters; run `gcrl run {}` first",
            task.label,
            args.workflow.display()
        )));
    }
    let hash = standings[providers[0]].outputs().and_then(|o| o.get(output)).cloned().unwrap_or_default();
    let bytes = cache.get_object(&hash)?;
    let table = Table::from_ipc(&bytes).map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
    let provenance = Provenance {
        part: String::new(),
        workflow: workflow.name.clone(),
        node: node.to_string(),
        output: output.to_string(),
        kind: spec.kind.name().to_string(),
        kind_version: spec.kind.version(),
        hash,
    };
    Ok((table, provenance))
}

/// `gcrl show`.
pub fn show(args: &WorkflowArgs, registry: Registry, cache_dir: &Path, target: &str, rows: usize) -> Outcome {
    let table = cached_output(args, &registry, cache_dir, target)?;
    if is_sparse(&table) {
        let m =
            SparseMatrix::from_table(&table).map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
        println!("{target}: {} cells × {} genes, sparse, {} stored values", m.rows.len(), m.cols.len(), m.csr.nnz());
        return Ok(exit::OK);
    }
    println!("{target}: {} rows × {} columns", table.n_rows(), table.n_cols());
    let text = table.pretty(rows, 12).map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
    println!("{text}");
    if table.n_cols() > 12 {
        println!("… {} more columns", table.n_cols() - 12);
    }
    Ok(exit::OK)
}

/// The .h5ad options of `gcrl export`, as given.
pub struct ExportWith<'a> {
    /// `--obs`.
    pub obs: Option<&'a str>,
    /// `--var`.
    pub var: Option<&'a str>,
    /// `--obsm`.
    pub obsm: &'a [MatrixArg],
    /// `--varm`.
    pub varm: &'a [MatrixArg],
}

/// `gcrl export`.
pub fn export(
    args: &WorkflowArgs,
    registry: Registry,
    cache_dir: &Path,
    target: &str,
    to: &Path,
    with: &ExportWith<'_>,
) -> Outcome {
    let is_h5ad = to.extension().is_some_and(|e| e.eq_ignore_ascii_case("h5ad"));
    if is_h5ad {
        let mut provenance = Vec::new();
        let mut part = |name: &str, part: String| -> Result<Table, Failure> {
            let (table, from) = cached_object(args, &registry, cache_dir, name)?;
            provenance.push(Provenance { part, ..from });
            Ok(table)
        };
        let x = part(target, "X".into())?;
        let obs_table = match with.obs {
            Some(name) => Some((name, part(name, "obs".into())?)),
            None => None,
        };
        let var_table = match with.var {
            Some(name) => Some((name, part(name, "var".into())?)),
            None => None,
        };
        let mut keyed = |flag: &str, list: &[MatrixArg]| -> Result<Vec<Keyed>, Failure> {
            let mut out = Vec::new();
            for m in list {
                out.push((m.key.clone(), m.output.clone(), part(&m.output, format!("{flag}/{}", m.key))?));
            }
            Ok(out)
        };
        let obsm = keyed("obsm", with.obsm)?;
        let varm = keyed("varm", with.varm)?;
        let annotations = Annotations {
            obs: obs_table.as_ref().map(|(n, t)| (*n, t)),
            var: var_table.as_ref().map(|(n, t)| (*n, t)),
            obsm: &obsm,
            varm: &varm,
        };
        let line = super::anndata::export_h5ad(&x, &annotations, provenance, to)
            .map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
        eprintln!("{line}");
        return Ok(exit::OK);
    }
    if with.obs.is_some() || with.var.is_some() || !with.obsm.is_empty() || !with.varm.is_empty() {
        return Err(Failure::usage(
            "error: --obs, --var, --obsm and --varm go with an .h5ad destination (--to out.h5ad)",
        ));
    }
    let table = densified(cached_output(args, &registry, cache_dir, target)?)
        .map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
    write_output(&table, to)?;
    Ok(exit::OK)
}

/// Writes `table` to `to` as its extension says (.csv, .tsv, .parquet, .arrow) and says so.
pub(super) fn write_output(table: &Table, to: &Path) -> Result<(), Failure> {
    write_table_file(table, to).map_err(|e| match e {
        // An extension gcrl does not write is a mistake on the command line, not an I/O failure.
        crate::table::TableError::Format { .. } => {
            Failure::usage(format!("error: {e} (or .h5ad for a cells × genes matrix)"))
        }
        e => Failure { code: exit::IO, message: format!("error: {e}") },
    })?;
    eprintln!("wrote {} ({} rows × {} columns)", to.display(), table.n_rows(), table.n_cols());
    Ok(())
}

/// `gcrl report`.
pub fn report(args: &WorkflowArgs, registry: Registry, cache_dir: &Path, out: &Path) -> Outcome {
    let workflow = load(args, &registry)?;
    let cache = open_cache(cache_dir)?;
    let failure = |e: crate::report::ReportError| Failure { code: exit::IO, message: format!("error: {e}") };
    let data = crate::report::gather(&workflow, &cache).map_err(failure)?;
    let html = crate::report::render(&data).map_err(failure)?;
    std::fs::write(out, &html)
        .map_err(|source| failure(crate::report::ReportError::Write { path: out.to_path_buf(), source }))?;
    let missing = data.run.tasks.iter().filter(|t| t.status == crate::report::TaskStatus::Missing).count();
    eprintln!("wrote {} ({} figure sections, {} KiB)", out.display(), data.nodes.len(), html.len().div_ceil(1024));
    if missing > 0 {
        eprintln!(
            "note: {missing} of {} tasks are not in the cache for these parameters; run `gcrl run {}` for the full report",
            data.run.tasks.len(),
            args.workflow.display()
        );
    }
    Ok(exit::OK)
}

fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1024.0 && u < units.len() - 1 {
        x /= 1024.0;
        u += 1;
    }
    format!("{x:.1} {}", units[u])
}

/// `gcrl cache …`.
pub fn cache(action: &CacheAction, registry: Registry, cache_dir: &Path) -> Outcome {
    let cache = open_cache(cache_dir)?;
    match action {
        CacheAction::Du => {
            let u = cache.usage();
            println!(
                "{}: {} objects, {}; {} task manifests",
                cache_dir.display(),
                u.objects.0,
                bytes(u.objects.1),
                u.manifests.0
            );
            for (kind, (n, b)) in &u.by_kind {
                println!("  {kind:<20} {n:>8} objects  {:>10}", bytes(*b));
            }
        }
        CacheAction::Gc { workflows, keep_last } => {
            let mut names = Vec::new();
            for w in workflows {
                let args = WorkflowArgs { workflow: w.clone(), set: Vec::new() };
                names.push(load(&args, &registry)?.name);
            }
            let r = cache.gc(&names, *keep_last)?;
            println!("removed {} task manifests and {} objects ({})", r.manifests, r.objects, bytes(r.bytes));
        }
        CacheAction::Verify => {
            let r = cache.verify()?;
            for hash in &r.corrupt {
                println!("corrupt object {hash}: removed; its task will be recomputed");
            }
            for key in &r.broken_manifests {
                println!("task {key}: its result is incomplete; removed, will be recomputed");
            }
            for key in &r.unreadable_manifests {
                println!("task {key}: its record is unreadable; removed, will be recomputed");
            }
            for (workflow, labels) in &r.gone {
                let n = labels.len();
                let names = super::report::names(labels.iter().map(String::as_str), 5);
                let what = if n == 1 { "task whose result is" } else { "tasks whose results are" };
                println!(
                    "workflow `{workflow}`: the newest run lists {n} {what} gone ({names}); the next run recomputes them"
                );
            }
            println!(
                "verified {} objects: {} corrupt, {} task results removed",
                r.checked,
                r.corrupt.len(),
                r.broken_manifests.len() + r.unreadable_manifests.len()
            );
            if !r.corrupt.is_empty() {
                return Ok(exit::TASK_FAILED);
            }
        }
    }
    Ok(exit::OK)
}

/// The failures of a run, one error line per distinct message: shards of one node that fail for
/// the same reason (an empty TF–TF graph fails every Leiden shard) are named once, with a count.
fn failure_lines(failures: &[(String, String)]) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (label, error) in failures {
        match groups.iter_mut().find(|(e, _)| *e == error.as_str()) {
            Some((_, labels)) => labels.push(label),
            None => groups.push((error, vec![label])),
        }
    }
    groups
        .into_iter()
        .map(|(error, labels)| match labels.as_slice() {
            [one] => format!("error: task {one} failed: {error}"),
            [first, rest @ ..] => format!(
                "error: task {first} failed: {error}\n  (and {} more task(s) with the same error: {})",
                rest.len(),
                super::report::names(rest.iter().copied(), 3)
            ),
            [] => String::new(),
        })
        .collect()
}

#[cfg(test)]
mod failure_tests {
    use super::failure_lines;

    #[test]
    fn failures_with_the_same_message_are_reported_once_with_a_count() {
        let f = |l: &str, e: &str| (l.to_string(), e.to_string());
        let lines = failure_lines(&[f("c[γ=0.9]", "empty graph"), f("g", "other"), f("c[γ=1]", "empty graph")]);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "error: task c[γ=0.9] failed: empty graph\n  (and 1 more task(s) with the same error: c[γ=1])"
        );
        assert_eq!(lines[1], "error: task g failed: other");
    }
}
