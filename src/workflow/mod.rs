//! The YAML workflow language: parsing with positions, validation against the registered kinds,
//! `--set` overrides, sweeps. Produces a [`Workflow`] that the engine plans.

pub mod load;
pub mod publish;
pub mod resources;
pub mod spec;

/// The suggestions live in [`crate::diag`] with the positioned YAML tree, shared with plugin
/// manifests and profiles; `workflow::suggest` stays a name for them.
pub use crate::diag::suggest;
pub use load::{Override, load_workflow};
pub use spec::{NodeSpec, Source, Workflow};

/// Every problem of one workflow file, positioned.
pub type WorkflowError = crate::diag::FileError;
