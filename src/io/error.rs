//! The one error type of `io/`: what can go wrong reading a data file.
//!
//! Every variant names the file, and where it applies the object inside it
//! (`X/indptr`, `obs/cell_type`), so a message alone tells the user what to fix.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The Python line that rewrites an old or unusual `.h5ad` in the current layout.
const CONVERT_HINT: &str = "convert it with a current anndata: \
     python -c \"import anndata; anndata.read_h5ad('in.h5ad').write_h5ad('out.h5ad')\"";

/// A data file could not be read (or, for `.h5ad` exports, written).
#[derive(Debug, Error)]
pub enum IoError {
    /// An h5ad file could not be written.
    #[error("{path}: cannot write the file: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The HDF5 writer's error.
        #[source]
        source: hdf5_pure::Error,
    },
    /// The file could not be opened or read at all.
    #[error("{path}: cannot read the file: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the HDF5 signature.
    #[error("{path}: not an HDF5 file (an .h5ad file is HDF5; the file is empty, truncated or of another format)")]
    NotHdf5 {
        /// The file.
        path: PathBuf,
    },
    /// The HDF5 library failed on an object (a damaged or truncated file).
    #[error("{path}: cannot read `{object}`: {source}")]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The HDF5 object being read.
        object: String,
        /// The HDF5 library's error.
        #[source]
        source: hdf5_pure::Error,
    },
    /// A dataset is compressed with a filter this reader cannot decode.
    #[error(
        "{path}: `{object}` is compressed with {}, which this reader cannot decode; re-save the file with gzip: \
         python -c \"import anndata; anndata.read_h5ad('in.h5ad').write_h5ad('out.h5ad', compression='gzip')\"",
        filter_name(*filter)
    )]
    UnsupportedFilter {
        /// The file.
        path: PathBuf,
        /// The dataset.
        object: String,
        /// The HDF5 filter id (32001 = Blosc).
        filter: u16,
    },
    /// A required object is absent.
    #[error("{path}: no `{object}` in the file{hint}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The object that should be there.
        object: String,
        /// Extra advice, empty or starting with `; `.
        hint: String,
    },
    /// The requested layer does not exist.
    #[error("{path}: no layer `{layer}`; available layers: {}", list_or_none(available))]
    UnknownLayer {
        /// The file.
        path: PathBuf,
        /// The layer asked for.
        layer: String,
        /// The layers the file has.
        available: Vec<String>,
    },
    /// A file holds several of something (modalities of an `.h5mu`, genomes of a 10x `.h5`) and
    /// the one asked for is absent, or none was asked for where a choice is needed.
    #[error("{path}: {}", choice_message(what, asked.as_deref(), available))]
    Choice {
        /// The file.
        path: PathBuf,
        /// What is chosen, also the `load` param that chooses it: `modality`, `genome`.
        what: &'static str,
        /// The name asked for, if any.
        asked: Option<String>,
        /// The names the file has.
        available: Vec<String>,
    },
    /// An object is present but its content breaks the format (shapes, offsets, codes).
    #[error("{path}: invalid `{object}`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending object.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The matrix holds NaN or an infinity.
    #[error("{path}: `{object}` holds the non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The matrix (`X` or `layers/<name>`).
        object: String,
        /// Row (cell) of the first bad value.
        row: usize,
        /// Column (gene) of the first bad value.
        col: usize,
        /// The value.
        value: f32,
    },
    /// Two genes share a name, so gene-keyed steps would be ambiguous.
    #[error(
        "{path}: duplicate var name `{name}` (rows {first} and {second}); make the names unique in Python \
         (`adata.var_names_make_unique()`) or set them from a unique var column \
         (`adata.var_names = adata.var['gene_ids']`), then save again"
    )]
    DuplicateVarName {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
        /// Row of its first occurrence.
        first: usize,
        /// Row of its second occurrence.
        second: usize,
    },
    /// The file uses a layout this reader does not implement (old anndata, exotic encodings).
    #[error("{path}: `{object}` uses an unsupported layout ({what}); {CONVERT_HINT}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The object.
        object: String,
        /// The layout found.
        what: String,
    },
}

impl IoError {
    /// [`IoError::Invalid`] on `object` of `path`.
    pub(crate) fn invalid(path: &Path, object: impl Into<String>, reason: impl Into<String>) -> Self {
        IoError::Invalid { path: path.to_path_buf(), object: object.into(), reason: reason.into() }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            IoError::Read { path, .. }
            | IoError::Write { path, .. }
            | IoError::NotHdf5 { path }
            | IoError::Hdf5 { path, .. }
            | IoError::UnsupportedFilter { path, .. }
            | IoError::Missing { path, .. }
            | IoError::UnknownLayer { path, .. }
            | IoError::Choice { path, .. }
            | IoError::Invalid { path, .. }
            | IoError::NonFinite { path, .. }
            | IoError::DuplicateVarName { path, .. }
            | IoError::Unsupported { path, .. } => path,
        }
    }
}

fn filter_name(filter: u16) -> String {
    match filter {
        32001 => "the Blosc filter (HDF5 filter 32001)".to_string(),
        32004 => "the LZ4 filter (HDF5 filter 32004)".to_string(),
        32008 => "the bitshuffle filter (HDF5 filter 32008)".to_string(),
        32015 => "the Zstandard filter (HDF5 filter 32015)".to_string(),
        id => format!("HDF5 filter {id}"),
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

fn choice_message(what: &str, asked: Option<&str>, available: &[String]) -> String {
    match asked {
        Some(asked) => format!("no {what} `{asked}`; available: {}", list_or_none(available)),
        None if available.is_empty() => format!("holds no {what} at all"),
        None => format!("holds several: {}; pick one with `{what}: <name>`", available.join(", ")),
    }
}
