//! Neural models on burn: the gCRL autoencoder and the discrepancy-VAE family.
//!
//! Everything that names a burn type lives under this folder (design.md: `models/`); nodes hand in
//! ndarray matrices and get ndarray back. Weights are initialised from our own seeded ChaCha
//! stream, and batches are drawn from it too, so a seed gives the same bytes whatever burn's
//! global RNG or the scheduler does.

mod adam;
pub mod ae;
mod error;
mod tensor;
pub mod vae;

pub use adam::Adam;
pub use error::ModelError;
pub use tensor::{from_matrix, reuse_freed_memory, seeded_linear, to_matrix, train_device};
