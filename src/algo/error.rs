//! The one error type of `algo/`: what can go wrong in a pure computation.

use thiserror::Error;

/// An algorithm could not produce a result from the data it was given.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AlgoError {
    /// Inputs disagree in length or shape.
    #[error("shape mismatch: {what} (expected {expected}, got {got})")]
    Shape {
        /// What was being compared.
        what: String,
        /// The expected size.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// Too little data for the requested statistic or fit.
    #[error("not enough data: {0}")]
    TooFew(String),
    /// A parameter is outside its valid range.
    #[error("invalid parameter `{name}`: {why}")]
    Param {
        /// Parameter name.
        name: String,
        /// Why it is invalid.
        why: String,
    },
    /// A value is NaN or infinite where a finite number is required.
    #[error("non-finite value: {0}")]
    NonFinite(String),
    /// A numerical routine failed (singular matrix, no convergence).
    #[error("numerical failure: {0}")]
    Numerical(String),
}
