//! The engine: task graphs, cache keys, scheduling and executors, over the [`crate::kind`] contract.
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
pub mod memory;
pub mod plan;
pub mod publish;
pub mod resolve;
pub mod runner;
pub mod scheduler;
pub mod task;
pub mod usage;
pub mod walk;

pub use error::EngineError;
