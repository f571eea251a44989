//! How much of the single-perturbation effects one shared direction per community explains: the
//! structure gCRL's prior assumes (a perturbation of any TF of a community moves one program).
//!
//! Pure: ndarray in, numbers out.

use faer::Mat;
use ndarray::ArrayView2;

use crate::algo::AlgoError;
use crate::algo::svd::right_singular;

/// The rank-1 share of one community's effects.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityShare {
    /// Rows (perturbed TFs) of the community.
    pub n: usize,
    /// `‖E_k‖²_F`, the effect energy.
    pub energy: f64,
    /// `σ₁²`, the energy of the best single direction.
    pub rank1: f64,
}

/// For each group of rows of `effects` (perturbations × genes, the change of each single
/// perturbation's centroid against control), the energy and the energy of its rank-1 SVD
/// approximation. The overall share is `Σ rank1 / Σ energy`; a group of one row has share 1.
///
/// # Returns
/// One [`CommunityShare`] per group; [`AlgoError::Param`] for a row index out of range or an
/// empty group, [`AlgoError::Numerical`] if an SVD fails.
///
/// # Complexity
/// `O(Σ n_k² · G)`.
pub fn rank1_shares(effects: ArrayView2<f64>, groups: &[Vec<usize>]) -> Result<Vec<CommunityShare>, AlgoError> {
    groups
        .iter()
        .map(|rows| {
            if rows.is_empty() || rows.iter().any(|&r| r >= effects.nrows()) {
                return Err(AlgoError::Param { name: "groups".into(), why: "empty group or row out of range".into() });
            }
            let m = Mat::<f64>::from_fn(rows.len(), effects.ncols(), |i, j| effects[(rows[i], j)]);
            let (s, _) = right_singular(&m, "effect structure")?;
            let energy: f64 = s.iter().map(|v| v * v).sum();
            Ok(CommunityShare { n: rows.len(), energy, rank1: s.first().map_or(0.0, |v| v * v) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn shared_directions_explain_everything_and_orthogonal_ones_half() {
        // Rows 0, 1 are multiples of one direction; rows 2, 3 are orthogonal unit vectors.
        let e = array![[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        let s = rank1_shares(e.view(), &[vec![0, 1], vec![2, 3]]).unwrap();
        assert!((s[0].rank1 - s[0].energy).abs() < 1e-12 && (s[0].energy - 25.0).abs() < 1e-12);
        assert!((s[1].rank1 - 1.0).abs() < 1e-12 && (s[1].energy - 2.0).abs() < 1e-12);
        assert!(rank1_shares(e.view(), &[vec![9]]).is_err());
    }
}
