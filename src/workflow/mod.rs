//! The YAML workflow language: parsing with positions, validation against the registered kinds,
//! `--set` overrides, sweeps. Produces a [`Workflow`] that the engine plans.

pub mod load;
pub mod resources;
pub mod spec;

/// The positioned YAML tree and the suggestions live in [`crate::diag`], shared with plugin
/// manifests and profiles.
pub use crate::diag::{suggest, yaml};
pub use load::{Override, load_workflow};
pub use spec::{NodeSpec, Source, Workflow};

/// Every problem of one workflow file, positioned.
pub type WorkflowError = crate::diag::FileError;
