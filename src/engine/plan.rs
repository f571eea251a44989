//! `gcrl plan`: what a run would do, task by task, and why (the graph [`walk`]ed against the cache).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::graph::{TaskGraph, TaskInput, plain};
use super::resolve::Resolver;
use super::walk::{Standing, walk};
use crate::cache::{Cache, Manifest};
use crate::kind::memory::MIB;

/// Whether a task would run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Served from the cache.
    Cached,
    /// Would run.
    Run,
}

/// One line of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEntry {
    /// Node id.
    pub node: String,
    /// Task label.
    pub task: String,
    /// Cached or run.
    pub status: Status,
    /// Why it runs (empty when cached).
    pub reason: String,
    /// MiB of memory it asks for (`resources: {mem_gb}`, or its kind's estimate), once its inputs
    /// are known: every producer is cached.
    #[serde(rename = "mem_mb", skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
}

/// Plans `graph` against `cache`: each task cached, or run with its reason.
pub fn plan(graph: &TaskGraph, workflow: &str, cache: &Cache, force: &[String]) -> Vec<PlanEntry> {
    let resolver = Resolver::new(cache, workflow);
    let standings = walk(graph, &resolver, force);
    let mut entries = Vec::with_capacity(graph.tasks.len());
    for (task, standing) in graph.tasks.iter().zip(standings) {
        let previous = resolver.last_run().and_then(|r| r.tasks.get(&task.label)).map(|e| e.key.clone());
        let old = || previous.as_ref().and_then(|k| cache.get_manifest(k).ok().flatten());
        let mut memory = None;
        let (status, reason) = match standing {
            Standing::Forced => (Status::Run, "forced".to_string()),
            Standing::Upstream(dep) => {
                let upstream = upstream_name(task, dep, graph);
                let reason = old()
                    .and_then(|m| param_change(&m.params, task.params.map()))
                    .unwrap_or_else(|| format!("{upstream} is recomputed upstream"));
                (Status::Run, reason)
            }
            Standing::Unresolved(e) => (Status::Run, format!("cannot resolve: {e}")),
            Standing::Resolved { task: resolved, outputs } => {
                memory = Some(resolver.demand(task, &resolved).bytes.div_ceil(MIB));
                match outputs {
                    Some(_) => (Status::Cached, String::new()),
                    None => {
                        let reason = match (&previous, old()) {
                            (None, _) => "new".to_string(),
                            (Some(k), _) if *k == resolved.key => "its outputs are no longer in the cache".into(),
                            (Some(_), None) => "changed (the previous result was removed from the cache)".into(),
                            (Some(_), Some(m)) => {
                                change(&m, &resolved.params, resolved.kind_version, &resolved_inputs(&resolved), task)
                            }
                        };
                        (Status::Run, reason)
                    }
                }
            }
        };
        entries.push(PlanEntry { node: task.node.clone(), task: task.label.clone(), status, reason, memory });
    }
    entries
}

fn resolved_inputs(r: &super::task::ResolvedTask) -> BTreeMap<String, Vec<String>> {
    r.inputs.iter().map(|(p, v)| (p.clone(), v.iter().map(|i| i.hash().to_string()).collect())).collect()
}

fn upstream_name(task: &super::graph::Task, dep: usize, graph: &TaskGraph) -> String {
    for (port, values) in &task.inputs {
        for v in values {
            if let TaskInput::Output { task: t, source, .. } = v
                && *t == dep
            {
                return format!("input `{port}` (`{source}`)");
            }
        }
    }
    format!("shard `{}`", graph.tasks[dep].label)
}

fn param_change(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Option<String> {
    for (name, value) in new {
        match old.get(name) {
            Some(o) if o == value => {}
            Some(o) => return Some(format!("param `{name}` changed from {} to {}", plain(o), plain(value))),
            None => return Some(format!("param `{name}` is new ({})", plain(value))),
        }
    }
    old.keys().find(|k| !new.contains_key(*k)).map(|k| format!("param `{k}` was removed"))
}

fn change(
    old: &Manifest,
    params: &BTreeMap<String, Value>,
    version: u32,
    inputs: &BTreeMap<String, Vec<String>>,
    task: &super::graph::Task,
) -> String {
    if old.kind_version != version {
        return format!("kind version changed ({} -> {version})", old.kind_version);
    }
    if let Some(p) = param_change(&old.params, params) {
        return p;
    }
    for (port, hashes) in inputs {
        if old.inputs.get(port) != Some(hashes) {
            let source = task.inputs.get(port).and_then(|v| v.first()).map(|v| match v {
                TaskInput::Output { source, .. } => source.clone(),
                TaskInput::File(p) => p.display().to_string(),
            });
            return format!("input `{port}` (`{}`) changed", source.unwrap_or_default());
        }
    }
    if !task.shards.is_empty() {
        return "shards changed".into();
    }
    if task.kind.fingerprint().is_some() {
        // Kind, version, params and inputs are as before: only the plugin's files are left.
        return format!("the files of plugin `{}` changed", task.kind.name());
    }
    "changed".into()
}
