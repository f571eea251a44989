//! gcrl: a declarative workflow engine for GRN-guided causal representation learning on
//! single-cell Perturb-seq data.
//!
//! A YAML [`workflow`] becomes a task graph ([`engine`]) whose results live in a
//! content-addressed [`cache`] of Arrow [`table`]s. Node kinds ([`nodes`]) implement the [`kind`] contract as thin adapters over
//! pure algorithms ([`algo`]); files come in through [`io`]; kinds outside gcrl come from [`plugin`] folders.
//! A [`session`] is one run as a library call ([`run`]); [`cli`] parses flags, calls it and prints.
#![warn(missing_docs)]

pub mod algo;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod diag;
pub mod engine;
pub mod io;
pub mod kind;
pub mod models;
pub mod nodes;
pub mod plugin;
pub mod report;
pub mod session;
pub mod table;
pub mod workflow;

pub use session::run;
