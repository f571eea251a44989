//! Why a node's `run` failed: the one error type of the kind contract. The science's own errors
//! (algorithms, models) enter as [`NodeError::Compute`], converted in `nodes/`, so this floor
//! names none of them.

use std::path::PathBuf;

use thiserror::Error;

use crate::table::TableError;

/// Why a node's `run` failed. The scheduler reports it with the task's label.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The input data is not what the node needs (say which input and what to do).
    #[error("{0}")]
    Input(String),
    /// The computation itself failed (an algorithm or a neural model); shown as its own message.
    #[error("{0}")]
    Compute(Box<dyn std::error::Error + Send + Sync>),
    /// Reading or writing a table failed.
    #[error(transparent)]
    Table(#[from] TableError),
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
