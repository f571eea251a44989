//! Walking a task graph against the cache without running anything: task by task, in
//! topological order, its key and whether the cache holds its result. `gcrl plan`, `show` and
//! `export`, and the report all read the cache through [`walk`].

use super::graph::TaskGraph;
use super::resolve::{OutputHashes, Resolver};
use super::task::ResolvedTask;

/// Where one task stands against the cache.
#[derive(Debug, Clone)]
pub enum Standing {
    /// Its node is forced: it runs whatever the cache holds.
    Forced,
    /// The producer with this task index is not in the cache (or forced), so this task's key
    /// cannot be known yet.
    Upstream(usize),
    /// Its producers are in the cache, but it cannot be resolved (an input file cannot be read).
    Unresolved(String),
    /// Resolved against its producers' outputs.
    Resolved {
        /// The task with its key and inputs.
        task: ResolvedTask,
        /// Its outputs, when the cache holds its result.
        outputs: Option<OutputHashes>,
    },
}

impl Standing {
    /// Its outputs, when the cache holds its result.
    pub fn outputs(&self) -> Option<&OutputHashes> {
        match self {
            Standing::Resolved { outputs, .. } => outputs.as_ref(),
            _ => None,
        }
    }

    /// Its key, once resolved.
    pub fn key(&self) -> Option<&str> {
        match self {
            Standing::Resolved { task, .. } => Some(&task.key),
            _ => None,
        }
    }
}

/// Where each task of `graph` stands, by task index; the tasks of the nodes in `forced` count
/// as not cached (as `gcrl run --force` would run them).
pub fn walk(graph: &TaskGraph, resolver: &Resolver, forced: &[String]) -> Vec<Standing> {
    let mut outputs: Vec<Option<OutputHashes>> = vec![None; graph.tasks.len()];
    let mut standings = Vec::with_capacity(graph.tasks.len());
    for task in &graph.tasks {
        let standing = if forced.contains(&task.node) {
            Standing::Forced
        } else if let Some(dep) = task.deps().into_iter().find(|&d| outputs[d].is_none()) {
            Standing::Upstream(dep)
        } else {
            match resolver.key(task, &outputs).and_then(|k| resolver.resolve(task, k, &graph.tasks, &outputs, 1)) {
                Err(e) => Standing::Unresolved(e),
                Ok(resolved) => {
                    let found = resolver.lookup(&task.label, &resolved.key);
                    outputs[task.id] = found.clone();
                    Standing::Resolved { task: resolved, outputs: found }
                }
            }
        };
        standings.push(standing);
    }
    standings
}
