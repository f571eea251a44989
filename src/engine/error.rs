//! Errors of the engine layer: a node that fails, a graph that cannot be built, a run that cannot go on.

use std::path::PathBuf;

use thiserror::Error;

use crate::algo::AlgoError;
use crate::cache::CacheError;
use crate::table::TableError;

/// Why a node's `run` failed. The scheduler reports it with the task's label.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The input data is not what the node needs (say which input and what to do).
    #[error("{0}")]
    Input(String),
    /// The computation itself failed.
    #[error(transparent)]
    Algo(#[from] AlgoError),
    /// Reading or writing a table failed.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A neural model could not be built or trained.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// A file named by the workflow could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An external program the kind runs (a plugin) failed: its exit status and stderr tail.
    #[error("{0}")]
    External(String),
    /// A bug in gcrl: a node asked for something its own schema does not declare.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a run could not proceed (as opposed to a single task failing).
#[derive(Debug, Error)]
pub enum EngineError {
    /// The cache could not be read or written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// `--force`/`--until`/`show` named a node the workflow does not have.
    #[error("unknown node `{name}`{hint}")]
    UnknownNode {
        /// The name given.
        name: String,
        /// A did-you-mean suffix, possibly empty.
        hint: String,
    },
    /// `show`/`export` named an output the node does not have or has not produced.
    #[error("{0}")]
    Output(String),
    /// A table operation failed.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A `publish:` file could not be written.
    #[error("cannot publish {}: {message}", path.display())]
    Publish {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A sharded kind could not split a node into shards (a parameter it needs is missing or
    /// of the wrong type).
    #[error("node `{node}`: cannot split into shards: {error}")]
    Shards {
        /// The node id.
        node: String,
        /// Why.
        error: NodeError,
    },
    /// The Slurm executor cannot start or go on.
    #[error(transparent)]
    Slurm(#[from] crate::engine::executor::slurm::SlurmError),
}
