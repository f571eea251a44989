//! `gcrl paths`: where each cached output of a workflow lives, with its provenance (node, kind,
//! kind version, content hash, shape), for tools that read the cache directly (the Python
//! package in `python/`). Keys are resolved as `gcrl run` resolves them, so `--set` is honoured
//! and nothing is re-implemented outside the binary.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use super::args::WorkflowArgs;
use super::commands::load;
use super::error::Outcome;
use crate::cache::Cache;
use crate::engine::graph::TaskGraph;
use crate::engine::resolve::{OutputHashes, Resolver};
use crate::kind::Registry;

/// One cached output.
#[derive(Debug, Serialize)]
pub struct ObjectEntry {
    /// `label.output`: `node.output`, or `node[k=v].output` for a sweep instance.
    pub name: String,
    /// Node id.
    pub node: String,
    /// The output port.
    pub output: String,
    /// The producing task's label.
    pub task: String,
    /// Kind name.
    pub kind: String,
    /// Kind version.
    pub kind_version: u32,
    /// blake3 of the object's bytes.
    pub hash: String,
    /// The Arrow IPC file.
    pub path: String,
}

/// The outputs of `graph`'s node-level tasks that are in `cache`, and the labels of those that
/// are not (a task whose inputs are missing cannot be looked up, so it is missing too).
pub fn cached_objects(graph: &TaskGraph, workflow: &str, cache: &Cache) -> (Vec<ObjectEntry>, Vec<String>) {
    let resolver = Resolver::new(cache, workflow);
    let mut outputs: Vec<Option<OutputHashes>> = vec![None; graph.tasks.len()];
    for task in &graph.tasks {
        if task.deps().iter().all(|&d| outputs[d].is_some()) {
            outputs[task.id] = resolver.key(task, &outputs).ok().and_then(|key| resolver.lookup(&task.label, &key));
        }
    }
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for node in &graph.node_order {
        for &id in &graph.outputs_of[node] {
            let task = &graph.tasks[id];
            let label = task.label.split('#').next().unwrap_or(&task.label);
            let Some(hashes) = &outputs[id] else {
                missing.push(label.to_string());
                continue;
            };
            for (output, hash) in hashes {
                found.push(ObjectEntry {
                    name: format!("{label}.{output}"),
                    node: node.clone(),
                    output: output.clone(),
                    task: task.label.clone(),
                    kind: task.kind.name().to_string(),
                    kind_version: task.kind.version(),
                    hash: hash.clone(),
                    path: cache.object_path(hash).display().to_string(),
                });
            }
        }
    }
    (found, missing)
}

/// `gcrl paths`.
pub fn paths(args: &WorkflowArgs, registry: Registry, cache_dir: &Path, json: bool) -> Outcome {
    let workflow = load(args, &registry)?;
    let graph = TaskGraph::expand(&workflow, &[])?;
    let cache = Cache::open(cache_dir)?;
    let (found, missing) = cached_objects(&graph, &workflow.name, &cache);
    let mut out = std::io::stdout().lock();
    if json {
        let doc = json!({ "workflow": workflow.name, "cache": cache_dir, "objects": found, "missing": missing });
        let _ = writeln!(out, "{doc}");
        return Ok(());
    }
    let width = found.iter().map(|o| o.name.len()).max().unwrap_or(0).min(60);
    for o in &found {
        let _ = writeln!(out, "{:<width$}  {}", o.name, o.path);
    }
    for m in &missing {
        let _ = writeln!(out, "{m:<width$}  (not in the cache; `gcrl run {}` computes it)", args.workflow.display());
    }
    Ok(())
}
