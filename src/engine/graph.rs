//! Expanding a workflow into its task graph: one task per node and sweep instance, or, for a
//! sharded kind, one task per shard plus a reduce task.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::error::EngineError;
use crate::diag::suggest::hint;
use crate::kind::params::Params;
use crate::kind::{NodeKind, Origin, Resources};
use crate::workflow::{Source, Workflow};

/// What part of a node a task computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The whole node instance.
    Whole,
    /// One shard (its index in the node's shard list).
    Shard(usize),
    /// The reduce step after all shards.
    Reduce,
}

impl Role {
    /// Tag used in the task key.
    pub fn tag(&self) -> &'static str {
        match self {
            Role::Whole => "whole",
            Role::Shard(_) => "shard",
            Role::Reduce => "reduce",
        }
    }
}

/// Where one input value of a task comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskInput {
    /// Output `port` of task `task`; `source` is how the workflow named it (`grn.edges`).
    Output {
        /// Producing task.
        task: usize,
        /// Its output port.
        port: String,
        /// `node.output` as written.
        source: String,
        /// Producer, port, kind and instance, when the consumer's kind reads origins.
        origin: Option<Origin>,
    },
    /// A file.
    File(PathBuf),
}

/// One unit of scheduling and caching.
#[derive(Clone)]
pub struct Task {
    /// Index in [`TaskGraph::tasks`].
    pub id: usize,
    /// Node id.
    pub node: String,
    /// Unique, stable label: `node`, `node[k=v]`, `node#shard`.
    pub label: String,
    /// The kind.
    pub kind: Arc<dyn NodeKind>,
    /// Whole, shard or reduce.
    pub role: Role,
    /// Parameters (for a shard: the shard's own).
    pub params: Params,
    /// Sweep assignment of this instance.
    pub instance: BTreeMap<String, Value>,
    /// Inputs by port.
    pub inputs: BTreeMap<String, Vec<TaskInput>>,
    /// For a reduce task: its shard tasks in order.
    pub shards: Vec<usize>,
    /// Resources it needs.
    pub resources: Resources,
    /// Retries after a failure.
    pub retries: u32,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("id", &self.id).field("label", &self.label).field("role", &self.role).finish()
    }
}

impl Task {
    /// Tasks whose outputs this one needs.
    pub fn deps(&self) -> Vec<usize> {
        let mut d: Vec<usize> = self
            .inputs
            .values()
            .flatten()
            .filter_map(|i| match i {
                TaskInput::Output { task, .. } => Some(*task),
                TaskInput::File(_) => None,
            })
            .chain(self.shards.iter().copied())
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    }
}

/// Every task of a workflow, in an order where producers come before consumers.
pub struct TaskGraph {
    /// Tasks, topologically ordered.
    pub tasks: Vec<Task>,
    /// For each node, the tasks that provide its outputs (one per sweep instance).
    pub outputs_of: HashMap<String, Vec<usize>>,
    /// Node ids in topological order.
    pub node_order: Vec<String>,
}

impl TaskGraph {
    /// Expands `workflow`; with `until`, only those nodes and what they need.
    pub fn expand(workflow: &Workflow, until: &[String]) -> Result<TaskGraph, EngineError> {
        for name in until {
            check_node(workflow, name)?;
        }
        let order = topo_order(workflow);
        let keep =
            if until.is_empty() { order.iter().cloned().collect::<HashSet<_>>() } else { ancestors(workflow, until) };
        let mut g = TaskGraph { tasks: Vec::new(), outputs_of: HashMap::new(), node_order: Vec::new() };
        for id in order.iter().filter(|id| keep.contains(*id)) {
            let node = workflow.node(id).expect("ids come from the workflow");
            g.node_order.push(id.clone());
            let mut provided = Vec::new();
            let instances = node.instances();
            for instance in instances {
                let mut params = node.params.clone();
                for (k, v) in &instance {
                    params.set(k, v.clone());
                }
                let label = label(id, &instance);
                let inputs = g.resolve_inputs(&node.inputs, node.kind.reads_origins());
                let base = Task {
                    id: 0,
                    node: id.clone(),
                    label: label.clone(),
                    kind: node.kind.clone(),
                    role: Role::Whole,
                    params: params.clone(),
                    instance: instance.clone(),
                    inputs,
                    shards: Vec::new(),
                    resources: node.resources,
                    retries: node.retries,
                };
                let mut task = base.clone();
                let shards =
                    node.kind.shards(&params).map_err(|error| EngineError::Shards { node: id.clone(), error })?;
                if let Some(shards) = shards {
                    for (i, shard) in shards.into_iter().enumerate() {
                        // Built field by field: cloning `base` would copy its params only to drop them.
                        let t = Task {
                            id: 0,
                            node: id.clone(),
                            label: format!("{label}#{}", shard.label),
                            kind: node.kind.clone(),
                            role: Role::Shard(i),
                            params: shard.params,
                            instance: instance.clone(),
                            inputs: base.inputs.clone(),
                            shards: Vec::new(),
                            resources: node.resources,
                            retries: node.retries,
                        };
                        task.shards.push(g.push(t));
                    }
                    task.role = Role::Reduce;
                }
                provided.push(g.push(task));
            }
            g.outputs_of.insert(id.clone(), provided);
        }
        Ok(g)
    }

    fn push(&mut self, mut t: Task) -> usize {
        t.id = self.tasks.len();
        self.tasks.push(t);
        self.tasks.len() - 1
    }

    fn resolve_inputs(
        &self,
        inputs: &BTreeMap<String, Vec<Source>>,
        reads_origins: bool,
    ) -> BTreeMap<String, Vec<TaskInput>> {
        inputs
            .iter()
            .map(|(port, sources)| {
                let values = sources
                    .iter()
                    .flat_map(|s| match s {
                        Source::File(p) => vec![TaskInput::File(p.clone())],
                        Source::Output { node, output } => self.outputs_of[node]
                            .iter()
                            .map(|&task| TaskInput::Output {
                                task,
                                port: output.clone(),
                                source: s.to_string(),
                                origin: reads_origins.then(|| Origin {
                                    node: node.clone(),
                                    output: output.clone(),
                                    kind: self.tasks[task].kind.name().to_string(),
                                    instance: self.tasks[task].instance.clone(),
                                }),
                            })
                            .collect(),
                    })
                    .collect();
                (port.clone(), values)
            })
            .collect()
    }

    /// Tasks that consume each task's outputs.
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.tasks.len()];
        for t in &self.tasks {
            for d in t.deps() {
                out[d].push(t.id);
            }
        }
        out
    }
}

/// The label of the task of node `id` for sweep `instance`: `id`, or `id[k=v,…]`.
pub fn label(id: &str, instance: &BTreeMap<String, Value>) -> String {
    if instance.is_empty() {
        return id.to_string();
    }
    let parts: Vec<String> = instance.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect();
    format!("{id}[{}]", parts.join(","))
}

/// A JSON value without quotes for strings (labels read `model=gcrl-vae`).
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks that `name` is a node of `workflow`.
pub fn check_node(workflow: &Workflow, name: &str) -> Result<(), EngineError> {
    if workflow.node(name).is_some() {
        return Ok(());
    }
    let h = hint(name, workflow.nodes.iter().map(|n| n.id.as_str()));
    Err(EngineError::UnknownNode { name: name.into(), hint: if h.is_empty() { h } else { format!("; {h}") } })
}

fn producers(node: &crate::workflow::NodeSpec) -> impl Iterator<Item = &str> {
    node.inputs.values().flatten().filter_map(|s| match s {
        Source::Output { node, .. } => Some(node.as_str()),
        Source::File(_) => None,
    })
}

fn topo_order(workflow: &Workflow) -> Vec<String> {
    let mut done: HashSet<&str> = HashSet::new();
    let mut order = Vec::new();
    while order.len() < workflow.nodes.len() {
        let before = order.len();
        for n in &workflow.nodes {
            if !done.contains(n.id.as_str()) && producers(n).all(|p| done.contains(p)) {
                done.insert(&n.id);
                order.push(n.id.clone());
            }
        }
        if order.len() == before {
            break; // a cycle; the loader reports it before we get here
        }
    }
    order
}

fn ancestors(workflow: &Workflow, roots: &[String]) -> HashSet<String> {
    let mut keep = HashSet::new();
    let mut stack: Vec<String> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if keep.insert(id.clone())
            && let Some(n) = workflow.node(&id)
        {
            stack.extend(producers(n).map(String::from));
        }
    }
    keep
}
