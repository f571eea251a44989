//! The engine: node kinds, task graphs, cache keys, scheduling and executors.
//!
//! Domain-agnostic (house rule 8): nothing here knows what a gene is. Flow is one way:
//! workflow → [`graph::TaskGraph`] → [`scheduler::run_graph`] → [`executor`] → [`events`].

pub mod error;
pub mod events;
pub mod executor;
pub mod files;
pub mod fingerprint;
pub mod graph;
pub mod key;
pub mod kind;
pub mod memory;
pub mod params;
pub mod plan;
pub mod publish;
pub mod registry;
pub mod resolve;
pub mod runner;
pub mod scheduler;
pub mod spec;
pub mod usage;

pub use error::{EngineError, NodeError};
pub use kind::{Input, Inputs, NodeKind, Origin, Outputs, PortSpec, Resources, RunContext, Shard};
pub use memory::InputSizes;
pub use params::{ParamSpec, ParamType, Params};
pub use registry::Registry;
pub use spec::KindSpec;
