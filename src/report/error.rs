//! Errors of the report layer.

use std::path::PathBuf;

use thiserror::Error;

use crate::cache::CacheError;
use crate::engine::EngineError;
use crate::table::TableError;

/// Why a report could not be made.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The task graph could not be built.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The cache could not be read.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// An output is not what its kind's contract says (names node and output).
    #[error("output `{output}` of node `{node}`: {source}")]
    Output {
        /// Node id.
        node: String,
        /// Output port.
        output: String,
        /// What is wrong.
        #[source]
        source: TableError,
    },
    /// plotters failed to draw a figure.
    #[error("cannot draw a figure: {0}")]
    Plot(String),
    /// The report file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
