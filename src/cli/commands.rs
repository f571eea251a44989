//! What each subcommand does: load, call the library, print (`gcrl run` is [`super::run`],
//! `gcrl status` [`super::status`]).

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::anndata::{Annotations, Keyed, MatrixArg};
use super::args::{CacheAction, DagFormat, WorkflowArgs};
use super::error::{CliError, Outcome};
use crate::cache::Cache;
use crate::engine::executor::slurm::files::TaskResult;
use crate::engine::executor::slurm::worker::run_element;
use crate::engine::graph::{TaskGraph, check_node};
use crate::engine::plan::{Status, plan};
use crate::engine::publish;
use crate::engine::resolve::Resolver;
use crate::engine::walk::walk;
use crate::io::h5ad_write::Provenance;
use crate::kind::Registry;
use crate::table::{SparseMatrix, Table, densified, is_sparse, write_table_file};
use crate::workflow::{Source, Workflow, load_workflow};

/// The workflow of `args`, loaded and checked.
pub(super) fn load(args: &WorkflowArgs, registry: &Registry) -> Result<Workflow, CliError> {
    Ok(load_workflow(&args.workflow, registry, &args.set)?)
}

fn open_cache(path: &Path) -> Result<Cache, CliError> {
    Ok(Cache::open(path)?)
}

/// `gcrl exec`: one element of a Slurm job.
pub fn exec(registry: &Registry, cache_dir: &Path, spec: &Path, element: Option<usize>) -> Outcome {
    let element =
        element.or_else(|| std::env::var("SLURM_ARRAY_TASK_ID").ok().and_then(|v| v.parse().ok())).unwrap_or(0);
    let cache = open_cache(cache_dir)?;
    let (report, results) = run_element(spec, element, registry, &cache).map_err(CliError::SlurmFiles)?;
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
    if counts[2] > 0 { Err(CliError::TasksFailed) } else { Ok(()) }
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
    for n in force {
        check_node(&workflow, n)?;
    }
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
        return Ok(());
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
    Ok(())
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
    Ok(())
}

/// `gcrl kinds`.
pub fn kinds(registry: &Registry, only: Option<&str>, json: bool) -> Outcome {
    let selected: Vec<_> = registry.kinds().filter(|k| only.is_none_or(|o| k.name() == o)).collect();
    if let Some(o) = only
        && selected.is_empty()
    {
        let h = crate::diag::suggest::hint(o, registry.names());
        return Err(CliError::Usage(format!("unknown kind `{o}` {h}")));
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
        return Ok(());
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
    Ok(())
}

/// `target` as `(node, output)`, both checked against `workflow`.
pub(super) fn checked_output<'t>(workflow: &Workflow, target: &'t str) -> Result<(&'t str, &'t str), CliError> {
    let (node, output) =
        target.split_once('.').ok_or_else(|| CliError::Usage(format!("`{target}` is not `node.output`")))?;
    check_node(workflow, node)?;
    let spec = workflow.node(node).expect("checked above");
    if !spec.kind.outputs().iter().any(|o| o.name == output) {
        let h = crate::diag::suggest::hint(output, spec.kind.outputs().iter().map(|o| o.name));
        return Err(CliError::Usage(format!("node `{node}` has no output `{output}` {h}")));
    }
    Ok((node, output))
}

/// The cached table of `node.output` for the current workflow and parameters.
fn cached_output(args: &WorkflowArgs, registry: &Registry, cache_dir: &Path, target: &str) -> Result<Table, CliError> {
    cached_object(args, registry, cache_dir, target).map(|(table, _)| table)
}

/// [`cached_output`] with where it came from (its `part` left empty for the caller to name).
fn cached_object(
    args: &WorkflowArgs,
    registry: &Registry,
    cache_dir: &Path,
    target: &str,
) -> Result<(Table, Provenance), CliError> {
    let workflow = load(args, registry)?;
    let (node, output) = checked_output(&workflow, target)?;
    let spec = workflow.node(node).expect("checked above");
    let graph = TaskGraph::expand(&workflow, &[node.to_string()])?;
    let cache = open_cache(cache_dir)?;
    let providers = &graph.outputs_of[node];
    if providers.len() > 1 {
        let swept: Vec<String> = spec.swept().map(String::from).collect();
        return Err(CliError::Usage(format!(
            "node `{node}` is swept over {} ({} instances); pick one with --set {node}.{}=VALUE",
            swept.join(", "),
            providers.len(),
            swept.first().cloned().unwrap_or_default()
        )));
    }
    let standings = walk(&graph, &Resolver::new(&cache, &workflow.name), &[]);
    if let Some(task) = graph.tasks.iter().find(|t| standings[t.id].outputs().is_none()) {
        return Err(CliError::Usage(format!(
            "`{}` is not in the cache for these parameters; run `gcrl run {}` first",
            task.label,
            args.workflow.display()
        )));
    }
    let hash = standings[providers[0]].outputs().and_then(|o| o.get(output)).cloned().unwrap_or_default();
    let bytes = cache.get_object(&hash)?;
    let table = Table::from_ipc(&bytes)?;
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
        let m = SparseMatrix::from_table(&table)?;
        println!("{target}: {} cells × {} genes, sparse, {} stored values", m.rows.len(), m.cols.len(), m.csr.nnz());
        return Ok(());
    }
    println!("{target}: {} rows × {} columns", table.n_rows(), table.n_cols());
    let text = table.pretty(rows, 12)?;
    println!("{text}");
    if table.n_cols() > 12 {
        println!("… {} more columns", table.n_cols() - 12);
    }
    Ok(())
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
        let mut part = |name: &str, part: String| -> Result<Table, CliError> {
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
        let mut keyed = |flag: &str, list: &[MatrixArg]| -> Result<Vec<Keyed>, CliError> {
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
        let line = super::anndata::export_h5ad(&x, &annotations, provenance, to).map_err(CliError::Export)?;
        eprintln!("{line}");
        return Ok(());
    }
    if with.obs.is_some() || with.var.is_some() || !with.obsm.is_empty() || !with.varm.is_empty() {
        return Err(CliError::Usage(
            "--obs, --var, --obsm and --varm go with an .h5ad destination (--to out.h5ad)".into(),
        ));
    }
    let table = densified(cached_output(args, &registry, cache_dir, target)?)?;
    write_output(&table, to)?;
    Ok(())
}

/// Writes `table` to `to` as its extension says (.csv, .tsv, .parquet, .arrow) and says so.
pub(super) fn write_output(table: &Table, to: &Path) -> Result<(), CliError> {
    write_table_file(table, to).map_err(|e| match e {
        // An extension gcrl does not write is a mistake on the command line, not an I/O failure.
        crate::table::TableError::Format { .. } => {
            CliError::Usage(format!("{e} (or .h5ad for a cells × genes matrix)"))
        }
        e => CliError::Table(e),
    })?;
    eprintln!("wrote {} ({} rows × {} columns)", to.display(), table.n_rows(), table.n_cols());
    Ok(())
}

/// `gcrl report`.
pub fn report(args: &WorkflowArgs, registry: Registry, cache_dir: &Path, out: &Path) -> Outcome {
    let workflow = load(args, &registry)?;
    let cache = open_cache(cache_dir)?;
    let data = crate::report::gather(&workflow, &cache)?;
    let html = crate::report::render(&data)?;
    std::fs::write(out, &html)
        .map_err(|source| crate::report::ReportError::Write { path: out.to_path_buf(), source })?;
    let missing = data.run.tasks.iter().filter(|t| t.status == crate::report::TaskStatus::Missing).count();
    eprintln!("wrote {} ({} figure sections, {} KiB)", out.display(), data.nodes.len(), html.len().div_ceil(1024));
    if missing > 0 {
        eprintln!(
            "note: {missing} of {} tasks are not in the cache for these parameters; run `gcrl run {}` for the full report",
            data.run.tasks.len(),
            args.workflow.display()
        );
    }
    Ok(())
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
                return Err(CliError::CorruptObjects);
            }
        }
    }
    Ok(())
}
