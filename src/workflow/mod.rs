//! The YAML workflow language: parsing with positions, validation against the registered kinds,
//! `--set` overrides, sweeps. Produces a [`Workflow`] that the engine plans.

pub mod error;
pub mod load;
pub mod spec;
pub mod suggest;
pub mod yaml;

pub use error::WorkflowError;
pub use load::{Override, load_workflow};
pub use spec::{NodeSpec, Source, Workflow};
