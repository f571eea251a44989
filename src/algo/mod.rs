//! The science: pure functions over slices and ndarray, seeded, with no I/O (house rule 8).
//! Each function is tested against reference values from scipy, scikit-learn, leidenalg or
//! the method's golden values.

pub mod error;

pub use error::AlgoError;
