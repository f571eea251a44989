//! Errors of the model layer.

use thiserror::Error;

/// Why a model could not be built or trained.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The data or the configuration cannot train this model.
    #[error("{0}")]
    Invalid(String),
    /// A GPU was asked for and cannot be used.
    #[error("GPU {index} is not usable: {reason}")]
    Gpu {
        /// Ordinal of the GPU.
        index: usize,
        /// What went wrong, with the fix.
        reason: String,
    },
}
