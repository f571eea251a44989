//! Errors of table conversion and table files.

use std::path::PathBuf;

use thiserror::Error;

/// A table could not be built, read, written or interpreted.
#[derive(Debug, Error)]
pub enum TableError {
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A Parquet operation failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A column was asked for that the table lacks.
    #[error("no column `{name}` (columns: {available})")]
    Column {
        /// The column asked for.
        name: String,
        /// The columns present.
        available: String,
    },
    /// A column has the wrong type.
    #[error("column `{name}` should hold {expected}, but holds {found}")]
    Type {
        /// The column.
        name: String,
        /// What was expected.
        expected: &'static str,
        /// The Arrow type found.
        found: String,
    },
    /// Columns of different lengths were combined.
    #[error("column `{name}` has {got} rows, expected {expected}")]
    Length {
        /// The column.
        name: String,
        /// Rows of the first column.
        expected: usize,
        /// Rows of this column.
        got: usize,
    },
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file's contents or name are not a table gcrl can read.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A table could not be written to the file it spills to (the cache's message).
    #[error("writing a big output to the cache: {0}")]
    Spill(String),
}
