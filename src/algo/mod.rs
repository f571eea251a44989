//! The science: pure functions over slices and ndarray, seeded, with no I/O (house rule 8).
//! Each function is tested against reference values from scipy, scikit-learn, scanpy, leidenalg
//! or the method's golden values.

pub mod aecd;
pub mod buffer;
pub mod effect_structure;
pub mod eigengene;
pub mod enrichment;
pub mod error;
pub mod gmm;
pub mod knn;
pub mod labels;
pub mod leiden;
pub mod linear_baseline;
pub mod loess;
pub mod partition;
pub mod permutation;
pub mod perturbation;
pub mod preprocess;
pub mod pseudobulk;
pub mod random;
pub mod ridge;
pub mod scan;
pub mod simulate;
pub mod sparse;
pub mod stability;
pub mod stats;
pub mod svd;
pub mod tmex;

pub use error::AlgoError;
