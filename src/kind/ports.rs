//! Ports: the named inputs and outputs a kind declares, and the values a task receives on them
//! ([`Inputs`]) and returns ([`Outputs`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::NodeError;
use crate::table::Table;

/// One named input or output port.
#[derive(Debug, Clone)]
pub struct PortSpec {
    /// Port name as written in YAML.
    pub name: &'static str,
    /// One-line description.
    pub doc: &'static str,
    /// Inputs only: the workflow may leave it out.
    pub optional: bool,
}

impl PortSpec {
    /// A port that must be connected.
    pub const fn new(name: &'static str, doc: &'static str) -> Self {
        PortSpec { name, doc, optional: false }
    }

    /// An input port that may be left out.
    pub const fn optional(name: &'static str, doc: &'static str) -> Self {
        PortSpec { name, doc, optional: true }
    }
}

/// The sweep values that produced a table (empty when its node is not swept).
pub type Instance = BTreeMap<String, Value>;

/// Where an input table comes from, for kinds that declare [`NodeKind::reads_origins`]: it then
/// enters the task key, so renaming or changing the kind of a producer reruns the consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Producing node id.
    pub node: String,
    /// Its output port.
    pub output: String,
    /// The producer's kind name.
    pub kind: String,
    /// Sweep assignment of the producing task (empty when not swept).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instance: Instance,
}

/// One input value as a node receives it.
#[derive(Debug, Clone)]
pub enum Input {
    /// A table produced by another task; `instance` names the sweep values that produced it.
    Table {
        /// The table.
        table: Table,
        /// Sweep assignment of the producing task (empty when not swept).
        instance: BTreeMap<String, Value>,
        /// Its content hash (the cache object's blake3).
        hash: String,
        /// Where it comes from; `Some` only for kinds that read origins.
        origin: Option<Origin>,
    },
    /// A file named in the workflow.
    File(PathBuf),
}

/// The inputs of one task, by port, in declaration order of the producers.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    ports: BTreeMap<String, Vec<Input>>,
    shards: Vec<BTreeMap<String, Table>>,
}

impl Inputs {
    /// Builds inputs from ports and, for a reduce step, the shards' outputs.
    pub fn new(ports: BTreeMap<String, Vec<Input>>, shards: Vec<BTreeMap<String, Table>>) -> Self {
        Inputs { ports, shards }
    }

    /// Whether `port` is connected.
    pub fn has(&self, port: &str) -> bool {
        self.ports.get(port).is_some_and(|v| !v.is_empty())
    }

    /// Every value given to `port` (several when the producer was swept).
    pub fn all(&self, port: &str) -> &[Input] {
        self.ports.get(port).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The single table on `port`; a file is read as a table by its extension.
    pub fn table(&self, port: &str) -> Result<Table, NodeError> {
        match self.all(port) {
            [] => Err(NodeError::Input(format!("input `{port}` is not connected"))),
            [one] => input_table(one),
            many => Err(NodeError::Input(format!(
                "input `{port}` received {} tables from a swept node; this kind takes one",
                many.len()
            ))),
        }
    }

    /// The table on `port`, or `None` when the port is not connected.
    pub fn opt_table(&self, port: &str) -> Result<Option<Table>, NodeError> {
        if self.has(port) { self.table(port).map(Some) } else { Ok(None) }
    }

    /// Every table on `port`, with its sweep assignment.
    pub fn tables(&self, port: &str) -> Result<Vec<(Table, Instance)>, NodeError> {
        self.all(port)
            .iter()
            .map(|i| {
                let inst = match i {
                    Input::Table { instance, .. } => instance.clone(),
                    Input::File(_) => BTreeMap::new(),
                };
                input_table(i).map(|t| (t, inst))
            })
            .collect()
    }

    /// The path of the file on `port` (for kinds that read a file format themselves).
    pub fn file(&self, port: &str) -> Result<&Path, NodeError> {
        match self.all(port) {
            [Input::File(p)] => Ok(p),
            [Input::Table { .. }] => {
                Err(NodeError::Input(format!("input `{port}` must be a file (`{{file: path}}`), not a node output")))
            }
            _ => Err(NodeError::Input(format!("input `{port}` needs exactly one file"))),
        }
    }

    /// Outputs of every shard, in shard order (reduce step of a sharded kind).
    pub fn shards(&self) -> &[BTreeMap<String, Table>] {
        &self.shards
    }
}

fn input_table(input: &Input) -> Result<Table, NodeError> {
    match input {
        Input::Table { table, .. } => Ok(table.clone()),
        Input::File(path) => Ok(crate::table::read_table_file(path)?),
    }
}

/// The outputs of one task, by port name.
pub type Outputs = BTreeMap<String, Table>;
