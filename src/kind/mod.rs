//! The kind contract, below both [`crate::workflow`] and [`crate::engine`]: the node-kind trait,
//! its ports and parameters, the resources a task needs, the registry of kinds and the error a
//! node returns. The workflow loader checks YAML against it, the engine plans and runs it,
//! `nodes/` and plugins implement it; it imports none of them (only [`crate::table`] for the
//! tables a task reads and writes, and [`crate::diag`] for suggestions).

pub mod error;
pub mod memory;
pub mod node;
pub mod params;
pub mod ports;
pub mod registry;
pub mod resources;
pub mod spec;

pub use error::NodeError;
pub use memory::InputSizes;
pub use node::{NodeKind, RunContext, Shard};
pub use params::{ParamSpec, ParamType, Params};
pub use ports::{Input, Inputs, Instance, Origin, Outputs, PortSpec};
pub use registry::Registry;
pub use resources::Resources;
pub use spec::KindSpec;
