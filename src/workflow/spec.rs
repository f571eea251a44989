//! A validated workflow: every kind resolved, every parameter typed, every input connected.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::kind::params::Params;
use crate::kind::{NodeKind, Resources};

/// Where an input port's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An output of another node.
    Output {
        /// Producing node id.
        node: String,
        /// Its output port.
        output: String,
    },
    /// A file, hashed by content.
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Output { node, output } => write!(f, "{node}.{output}"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One node of a validated workflow.
#[derive(Clone)]
pub struct NodeSpec {
    /// Node id (unique in the workflow).
    pub id: String,
    /// Its kind.
    pub kind: Arc<dyn NodeKind>,
    /// Parameters with defaults filled (sweep values not yet applied).
    pub params: Params,
    /// Swept parameters and their values, expanded as a cartesian grid.
    pub sweep: Vec<(String, Vec<Value>)>,
    /// `sweep: {zip: {…}}`: parameters swept together, the i-th values of every list forming
    /// the i-th point (lists of one length); one more axis of the grid.
    pub zip: Vec<(String, Vec<Value>)>,
    /// Inputs by port.
    pub inputs: BTreeMap<String, Vec<Source>>,
    /// Resources per task.
    pub resources: Resources,
    /// How many times a failed task is retried, when a retry can change the outcome (the
    /// engine's `TaskFailure::retryable`): never for the node's own error on its inputs.
    pub retries: u32,
    /// `publish:`: output name → file written after each run (relative paths already joined to
    /// the workflow's folder).
    pub publish: BTreeMap<String, PathBuf>,
}

impl std::fmt::Debug for NodeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSpec")
            .field("id", &self.id)
            .field("kind", &self.kind.name())
            .field("params", &self.params)
            .field("sweep", &self.sweep)
            .field("zip", &self.zip)
            .field("inputs", &self.inputs)
            .finish()
    }
}

impl NodeSpec {
    /// The names of the swept parameters: the grid's, then the zip group's.
    pub fn swept(&self) -> impl Iterator<Item = &str> {
        self.sweep.iter().chain(&self.zip).map(|(name, _)| name.as_str())
    }

    /// Every combination of sweep values (one empty assignment when not swept), in grid order;
    /// a zip group is the last axis, its points in list order.
    pub fn instances(&self) -> Vec<BTreeMap<String, Value>> {
        let mut out = vec![BTreeMap::new()];
        for (name, values) in &self.sweep {
            out = out
                .into_iter()
                .flat_map(|base| {
                    values.iter().map(move |v| {
                        let mut m = base.clone();
                        m.insert(name.clone(), v.clone());
                        m
                    })
                })
                .collect();
        }
        let points = self.zip.iter().map(|(_, values)| values.len()).min().unwrap_or(0);
        if points > 0 {
            out = out
                .into_iter()
                .flat_map(|base| {
                    (0..points).map(move |i| {
                        let mut m = base.clone();
                        m.extend(self.zip.iter().map(|(name, values)| (name.clone(), values[i].clone())));
                        m
                    })
                })
                .collect();
        }
        out
    }
}

/// A validated workflow, nodes in file order.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// `name:` of the workflow (names its run records).
    pub name: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Nodes in file order.
    pub nodes: Vec<NodeSpec>,
}

impl Workflow {
    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.id == id)
    }
}
