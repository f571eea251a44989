//! Errors of the engine layer: a graph that cannot be built, a run that cannot go on. (A node's
//! own failure is a [`NodeError`] of the kind contract; an executor's, its own type.)

use std::path::PathBuf;

use thiserror::Error;

use crate::cache::CacheError;
use crate::kind::NodeError;
use crate::table::TableError;

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
}
