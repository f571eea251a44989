//! The node-kind trait: what every built-in or plugin kind declares and does.
//!
//! The engine knows nothing of genes (house rule 8): a kind is a name, a version, typed ports and
//! parameters, optional shards, and a `run` from input tables to output tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::NodeError;
use super::memory::InputSizes;
use super::params::{ParamSpec, Params};
use super::spec::KindSpec;
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

/// What a task needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    /// CPU cores (threads) it uses.
    pub cpus: usize,
    /// GPUs it uses (0 = CPU only).
    pub gpus: usize,
    /// Memory in GiB, as the workflow's `resources: {mem_gb}` sets it; `None`: the kind's
    /// estimate from the task's input sizes ([`NodeKind::memory`]).
    pub mem_gb: Option<f64>,
    /// Expected wall time in minutes, for cluster requests.
    pub minutes: f64,
    /// The most memory (GiB) a retry may ask for (`None`: the profile's cap, if any).
    pub max_mem_gb: Option<f64>,
    /// The longest time (minutes) a retry may ask for (`None`: the profile's cap, if any).
    pub max_minutes: Option<f64>,
}

impl Default for Resources {
    fn default() -> Self {
        Resources { cpus: 1, gpus: 0, mem_gb: None, minutes: 10.0, max_mem_gb: None, max_minutes: None }
    }
}

/// One shard of a sharded kind: the parameters its result depends on, and a label.
///
/// A shard's cache key is built from these parameters only, so growing a sweep
/// (1000 → 2000 seeds) leaves the keys of the existing shards unchanged.
#[derive(Debug, Clone)]
pub struct Shard {
    /// Short label, e.g. `res=0.9 seeds=0..100`.
    pub label: String,
    /// Parameters of this shard.
    pub params: Params,
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

/// What a running task may know about its surroundings, and where it leaves notes for the run log.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// Label of the task, for messages.
    pub label: String,
    /// Threads the task may use.
    pub threads: usize,
    /// GPU ordinals assigned to the task.
    pub gpus: Vec<usize>,
    notes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl RunContext {
    /// A context for task `label` with `threads` threads and the GPUs `gpus`.
    pub fn new(label: impl Into<String>, threads: usize, gpus: Vec<usize>) -> Self {
        RunContext { label: label.into(), threads, gpus, notes: Default::default() }
    }

    /// Leaves a line for the run log (what the task decided, a warning); it is kept in the
    /// task's manifest and shown when the task finishes.
    pub fn note(&self, line: impl Into<String>) {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).push(line.into());
    }

    /// The notes left so far, removed from the context.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A node kind. Implementations live in `nodes/` and in plugins.
pub trait NodeKind: Send + Sync {
    /// The kind's declaration: name, version, doc, ports and params.
    fn spec(&self) -> &KindSpec;
    /// Name used in workflows (`kind: grn`).
    fn name(&self) -> &str {
        self.spec().name
    }
    /// Bumped whenever results change for the same inputs; part of every cache key.
    fn version(&self) -> u32 {
        self.spec().version
    }
    /// One-line description.
    fn doc(&self) -> &str {
        self.spec().doc
    }
    /// Input ports.
    fn inputs(&self) -> Vec<PortSpec> {
        self.spec().inputs.clone()
    }
    /// Output ports.
    fn outputs(&self) -> Vec<PortSpec> {
        self.spec().outputs.clone()
    }
    /// Parameters with types and defaults.
    fn params(&self) -> Vec<ParamSpec> {
        self.spec().params.clone()
    }
    /// Resources one task of this kind needs.
    fn resources(&self, _params: &Params) -> Resources {
        Resources::default()
    }
    /// Bytes of memory one task is expected to need at most, from its parameters and the sizes
    /// of its inputs (known once its producers are done); an explicit `resources: {mem_gb}`
    /// overrides it. The default, [`InputSizes::default_estimate`], is a base plus a few times the
    /// inputs; kinds whose memory follows something else (a dense matrix they build, seeds
    /// run at once) say so here.
    fn memory(&self, _params: &Params, inputs: &InputSizes) -> u64 {
        inputs.default_estimate()
    }
    /// Splits the work into shards (`None`: one task). Each shard runs [`NodeKind::run_shard`];
    /// then [`NodeKind::run`] receives every shard's outputs through [`Inputs::shards`], in
    /// this order. An error (a parameter the split needs is missing) stops the workflow from
    /// expanding; it never falls back to one unsharded task.
    fn shards(&self, _params: &Params) -> Result<Option<Vec<Shard>>, NodeError> {
        Ok(None)
    }
    /// Runs one shard.
    fn run_shard(&self, _shard: &Params, _inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        Err(NodeError::Internal(format!("kind `{}` declares no shards", self.name())))
    }
    /// Content hash of code outside this binary that results depend on (a plugin's files); when
    /// present it enters every cache key of the kind, so editing that code reruns its tasks.
    fn fingerprint(&self) -> Option<&str> {
        None
    }
    /// Whether the kind reads where its inputs come from ([`Input::Table`]'s `origin`). Only then
    /// do producer node ids, ports, kinds and sweep instances enter its task keys.
    fn reads_origins(&self) -> bool {
        false
    }
    /// Where an external kind was loaded from (a plugin's folder); `None` for built-in kinds.
    fn origin(&self) -> Option<&Path> {
        None
    }
    /// Runs the task (or the reduce step of a sharded kind).
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError>;
}
