//! What each subcommand does: load, call the library, print.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::args::{CacheAction, DagFormat, WorkflowArgs};
use super::exit;
use super::report::Console;
use crate::cache::Cache;
use crate::engine::executor::LocalExecutor;
use crate::engine::graph::{TaskGraph, check_node};
use crate::engine::plan::{Status, plan};
use crate::engine::resolve::Resolver;
use crate::engine::scheduler::{RunOptions, run_graph};
use crate::engine::{EngineError, Registry};
use crate::table::{SparseMatrix, Table, is_sparse, write_table_file};
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
        let code = match e {
            EngineError::Cache(_) | EngineError::Table(_) => exit::IO,
            _ => exit::USAGE,
        };
        Failure { code, message: format!("error: {e}") }
    }
}

impl From<crate::cache::CacheError> for Failure {
    fn from(e: crate::cache::CacheError) -> Self {
        Failure { code: exit::IO, message: format!("error: {e}") }
    }
}

type Outcome = Result<i32, Failure>;

fn load(args: &WorkflowArgs, registry: &Registry) -> Result<Workflow, Failure> {
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
) -> Outcome {
    let workflow = load(args, &registry)?;
    check_nodes(&workflow, force)?;
    let graph = TaskGraph::expand(&workflow, until)?;
    let cache = open_cache(cache_dir)?;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let mut executor =
        LocalExecutor::new(jobs, gpus.unwrap_or_else(visible_gpus), Arc::new(registry), cache.clone())
            .map_err(|e| Failure { code: exit::IO, message: format!("error: cannot start worker threads: {e}") })?;
    let mut reporter = Console::new(quiet);
    let options = RunOptions { force: force.to_vec() };
    let summary = run_graph(&graph, &workflow.name, &cache, &mut executor, &options, &mut reporter)?;
    if json {
        let out = json!({
            "workflow": workflow.name,
            "tasks": summary.tasks,
            "ran": summary.ran,
            "cached": summary.cached,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "seconds": summary.seconds,
        });
        println!("{out}");
    }
    if !quiet {
        eprintln!(
            "{}: {} tasks, {} ran, {} cached, {} failed, {} skipped in {:.2}s",
            workflow.name, summary.tasks, summary.ran, summary.cached, summary.failed, summary.skipped, summary.seconds
        );
    }
    for (label, error) in &summary.failures {
        eprintln!("error: task {label} failed: {error}");
    }
    Ok(if summary.failed > 0 { exit::TASK_FAILED } else { exit::OK })
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
    let mut out = std::io::stdout().lock();
    if json {
        let _ = writeln!(out, "{}", json!({ "workflow": workflow.name, "tasks": entries }));
        return Ok(exit::OK);
    }
    let run = entries.iter().filter(|e| e.status == Status::Run).count();
    let width = entries.iter().map(|e| e.task.len()).max().unwrap_or(0).min(60);
    for e in &entries {
        let _ = match e.status {
            Status::Cached => writeln!(out, "cached  {}", e.task),
            Status::Run => writeln!(out, "run     {:<width$}  {}", e.task, e.reason),
        };
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
        let h = crate::workflow::suggest::hint(o, registry.names());
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

/// The cached table of `node.output` for the current workflow and parameters.
fn cached_output(args: &WorkflowArgs, registry: &Registry, cache_dir: &Path, target: &str) -> Result<Table, Failure> {
    let workflow = load(args, registry)?;
    let (node, output) =
        target.split_once('.').ok_or_else(|| Failure::usage(format!("error: `{target}` is not `node.output`")))?;
    check_node(&workflow, node)?;
    let spec = workflow.node(node).expect("checked above");
    if !spec.kind.outputs().iter().any(|o| o.name == output) {
        let h = crate::workflow::suggest::hint(output, spec.kind.outputs().iter().map(|o| o.name));
        return Err(Failure::usage(format!("error: node `{node}` has no output `{output}` {h}")));
    }
    let graph = TaskGraph::expand(&workflow, &[node.to_string()])?;
    let cache = open_cache(cache_dir)?;
    let providers = &graph.outputs_of[node];
    if providers.len() > 1 {
        let swept: Vec<String> = spec.sweep.iter().map(|(k, _)| k.clone()).collect();
        return Err(Failure::usage(format!(
            "error: node `{node}` is swept over {} ({} instances); pick one with --set {node}.{}=VALUE",
            swept.join(", "),
            providers.len(),
            swept.first().cloned().unwrap_or_default()
        )));
    }
    let resolver = Resolver::new(&cache, &workflow.name);
    let mut outputs = vec![None; graph.tasks.len()];
    for task in &graph.tasks {
        let found = resolver.key(task, &outputs).ok().and_then(|key| resolver.lookup(&task.label, &key));
        let Some(found) = found else {
            return Err(Failure::usage(format!(
                "error: `{}` is not in the cache for these parameters; run `gcrl run {}` first",
                task.label,
                args.workflow.display()
            )));
        };
        outputs[task.id] = Some(found);
    }
    let hash = outputs[providers[0]].as_ref().and_then(|o| o.get(output)).cloned().unwrap_or_default();
    let bytes = cache.get_object(&hash)?;
    Table::from_ipc(&bytes).map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })
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

/// `gcrl export`.
pub fn export(
    args: &WorkflowArgs,
    registry: Registry,
    cache_dir: &Path,
    target: &str,
    to: &Path,
    obs: Option<&str>,
    obsm: &[super::anndata::ObsmArg],
) -> Outcome {
    let is_h5ad = to.extension().is_some_and(|e| e.eq_ignore_ascii_case("h5ad"));
    if is_h5ad {
        let x = cached_output(args, &registry, cache_dir, target)?;
        let obs_table = match obs {
            Some(name) => Some((name, cached_output(args, &registry, cache_dir, name)?)),
            None => None,
        };
        let mut matrices = Vec::new();
        for m in obsm {
            matrices.push((m.key.clone(), m.output.clone(), cached_output(args, &registry, cache_dir, &m.output)?));
        }
        let obs_ref = obs_table.as_ref().map(|(n, t)| (*n, t));
        let line = super::anndata::export_h5ad(&x, obs_ref, &matrices, to)
            .map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
        eprintln!("{line}");
        return Ok(exit::OK);
    }
    if obs.is_some() || !obsm.is_empty() {
        return Err(Failure::usage("error: --obs and --obsm go with an .h5ad destination (--to out.h5ad)"));
    }
    let mut table = cached_output(args, &registry, cache_dir, target)?;
    if is_sparse(&table) {
        table = SparseMatrix::from_table(&table)
            .and_then(|m| m.to_dense_table())
            .map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
    }
    write_table_file(&table, to).map_err(|e| Failure { code: exit::IO, message: format!("error: {e}") })?;
    eprintln!("wrote {} ({} rows × {} columns)", to.display(), table.n_rows(), table.n_cols());
    Ok(exit::OK)
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
            println!(
                "verified {} objects: {} corrupt, {} task results removed",
                r.checked,
                r.corrupt.len(),
                r.broken_manifests.len()
            );
            if !r.corrupt.is_empty() {
                return Ok(exit::TASK_FAILED);
            }
        }
    }
    Ok(exit::OK)
}
