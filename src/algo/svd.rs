//! The thin singular value decomposition that PCA-like steps share (eigengenes, kNN smoothing).

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::svd::{ComputeSvdVectors, svd, svd_scratch};
use faer::{Mat, Par};

use crate::algo::AlgoError;

/// Singular values (descending) and right singular vectors (as columns) of `y`.
///
/// # Complexity
/// `O(n·m·min(n, m))` for an `n × m` matrix; sequential (callers parallelise across problems).
pub fn right_singular(y: &Mat<f64>, what: &str) -> Result<(Vec<f64>, Mat<f64>), AlgoError> {
    let (n, m) = y.shape();
    let size = n.min(m);
    let mut s = Diag::<f64>::zeros(size);
    let mut v = Mat::<f64>::zeros(m, size);
    let scratch =
        svd_scratch::<f64>(n, m, ComputeSvdVectors::No, ComputeSvdVectors::Thin, Par::Seq, Default::default());
    svd(
        y.as_ref(),
        s.as_mut(),
        None,
        Some(v.as_mut()),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .map_err(|e| AlgoError::Numerical(format!("{what} SVD: {e:?}")))?;
    Ok((s.column_vector().iter().copied().collect(), v))
}
