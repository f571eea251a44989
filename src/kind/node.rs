//! The node-kind trait: what every built-in or plugin kind declares and does, and the context a
//! running task sees.
//!
//! The engine knows nothing of genes (house rule 8): a kind is a name, a version, typed ports and
//! parameters, optional shards, and a `run` from input tables to output tables.

use std::path::Path;

use super::error::NodeError;
use super::memory::InputSizes;
use super::params::{ParamSpec, Params};
use super::ports::{Inputs, Outputs, PortSpec};
use super::resources::Resources;
use super::spec::KindSpec;
use crate::table::Spill;

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

/// What a running task may know about its surroundings, and where it leaves notes for the run log.
#[derive(Clone, Default)]
pub struct RunContext {
    /// Label of the task, for messages.
    pub label: String,
    /// Threads the task may use.
    pub threads: usize,
    /// GPU ordinals assigned to the task.
    pub gpus: Vec<usize>,
    notes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    spill: Option<Spill>,
}

impl RunContext {
    /// A context for task `label` with `threads` threads and the GPUs `gpus`.
    pub fn new(label: impl Into<String>, threads: usize, gpus: Vec<usize>) -> Self {
        RunContext { label: label.into(), threads, gpus, notes: Default::default(), spill: None }
    }

    /// The context, with big outputs written to the cache as they are made (see
    /// [`RunContext::spill`]).
    pub fn with_spill(self, spill: Spill) -> Self {
        RunContext { spill: Some(spill), ..self }
    }

    /// Where an output too big to hold goes as it is made (`BlockWriter::for_genes`): a new
    /// cache object; `None` outside a run (tests), where outputs stay in memory.
    pub fn spill(&self) -> Option<Spill> {
        self.spill.clone()
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

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("label", &self.label)
            .field("threads", &self.threads)
            .field("gpus", &self.gpus)
            .field("spills", &self.spill.is_some())
            .finish_non_exhaustive()
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
    /// Whether the kind reads where its inputs come from ([`Input::Table`](super::Input::Table)'s `origin`). Only then
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
