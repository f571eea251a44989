//! Reading data files into plain in-memory structures, and writing AnnData files back.
//!
//! `io/` turns files into the types the rest of gcrl works on and owns every
//! file-format detail; it knows no workflow, cache or algorithm.

pub mod cell_table;
pub mod error;
pub mod frame;
pub mod gmt;
pub mod guide_calls;
pub mod h5ad;
pub mod h5ad_write;
mod h5chunks;
mod h5compound;
pub mod h5rows;
mod h5source;
pub mod mtx;
pub mod tenx_h5;

pub use error::IoError;
