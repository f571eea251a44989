//! CellOracle's kNN imputation before GRN fitting (method.md §3.2): PCA of the centred log data,
//! the number of components by CellOracle's explained-variance heuristic, and each cell replaced
//! by the plain average of itself and its `k` nearest neighbours in PC space (Euclidean).

use faer::Mat;
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::algo::AlgoError;
use crate::algo::svd::right_singular;

/// What [`knn_smooth`] used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Smoothing {
    /// Principal components used for the neighbour search.
    pub n_pcs: usize,
    /// Neighbours averaged with each cell.
    pub k: usize,
}

/// CellOracle's choice of the number of PCs: with `b_j = ratio[j+1] > 0.002`, the first `j`
/// where `b_{j+1} ≠ b_j`, capped at 50 (for decreasing ratios: the number of PCs explaining more
/// than 0.2 % of the variance, minus 2). At least 1.
///
/// # Example
/// ```
/// use gcrl::algo::knn::n_pcs_heuristic;
/// let mut ratios = vec![0.01; 10];
/// ratios.extend([0.001; 20]);
/// assert_eq!(n_pcs_heuristic(&ratios), 8);
/// ```
pub fn n_pcs_heuristic(ratios: &[f64]) -> usize {
    let b: Vec<bool> = ratios.iter().skip(1).map(|&r| r > 0.002).collect();
    let j = (0..b.len().saturating_sub(1)).find(|&j| b[j + 1] != b[j]).unwrap_or(b.len());
    j.clamp(1, 50)
}

/// Replaces each cell (row of `x`, log expression) by the mean of itself and its `k` nearest
/// neighbours in the space of the first `n_pcs` principal components.
///
/// # Arguments
/// * `k` — neighbours; `None` gives CellOracle's `floor(0.025 · cells)` (at least 1).
/// * `n_pcs` — components; `None` applies [`n_pcs_heuristic`].
///
/// # Returns
/// The smoothed matrix and the parameters used. Neighbour ties break by cell index, so the
/// result is deterministic for any thread count.
///
/// # Complexity
/// `O(n·g·min(n, g))` for the SVD plus `O(n²·n_pcs)` for the exact neighbour search.
pub fn knn_smooth(
    x: ArrayView2<f64>,
    k: Option<usize>,
    n_pcs: Option<usize>,
) -> Result<(Array2<f64>, Smoothing), AlgoError> {
    let (n, g) = x.dim();
    if n < 3 || g < 2 {
        return Err(AlgoError::TooFew(format!("kNN smoothing needs at least 3 cells and 2 genes, got {n} × {g}")));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(AlgoError::NonFinite("kNN smoothing input".into()));
    }
    let mean = x.mean_axis(Axis(0)).ok_or_else(|| AlgoError::TooFew("no cells".into()))?;
    let centred = Mat::from_fn(n, g, |i, j| x[(i, j)] - mean[j]);
    let size = n.min(g);
    let (sigma, v) = right_singular(&centred, "PCA for kNN smoothing")?;
    let total: f64 = sigma.iter().map(|x| x * x).sum();
    let ratios: Vec<f64> = sigma.iter().map(|x| if total > 0.0 { x * x / total } else { 0.0 }).collect();
    let n_pcs = n_pcs.unwrap_or_else(|| n_pcs_heuristic(&ratios)).clamp(1, size);
    let k = k.unwrap_or((n as f64 * 0.025).floor() as usize).clamp(1, n - 1);
    let scores: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| (0..n_pcs).map(|c| (0..g).map(|j| centred[(i, j)] * v[(j, c)]).sum()).collect())
        .collect();
    let neighbours: Vec<Vec<usize>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut d: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| (scores[i].iter().zip(&scores[j]).map(|(a, b)| (a - b) * (a - b)).sum(), j))
                .collect();
            d.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d[..k].iter().map(|&(_, j)| j).collect()
        })
        .collect();
    let rows: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut row = x.row(i).to_vec();
            for &j in &neighbours[i] {
                row.iter_mut().zip(x.row(j)).for_each(|(r, v)| *r += v);
            }
            row.iter_mut().for_each(|r| *r /= (k + 1) as f64);
            row
        })
        .collect();
    let out = Array2::from_shape_vec((n, g), rows.concat()).map_err(|e| AlgoError::Numerical(e.to_string()))?;
    Ok((out, Smoothing { n_pcs, k }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pc_heuristic_follows_celloracle() {
        // method.md §3.2: ratios above 0.002 for PCs 0..9 only → 8 components.
        let mut r = vec![0.1, 0.05, 0.03, 0.02, 0.01, 0.008, 0.006, 0.005, 0.004, 0.003];
        r.extend([0.001; 30]);
        assert_eq!(n_pcs_heuristic(&r), 8);
        assert_eq!(n_pcs_heuristic(&[0.5; 100]), 50);
    }

    #[test]
    fn each_cell_becomes_the_mean_of_itself_and_its_nearest_cells() {
        // Two tight clusters far apart: with k = 2 every neighbour lies in the cell's own cluster.
        let x = ndarray::array![
            [0.0, 0.0, 1.0],
            [0.1, 0.0, 1.0],
            [0.0, 0.1, 1.0],
            [10.0, 10.0, 0.0],
            [10.1, 10.0, 0.0],
            [10.0, 10.1, 0.0],
        ];
        let (y, used) = knn_smooth(x.view(), Some(2), Some(2)).unwrap();
        assert_eq!(used, Smoothing { n_pcs: 2, k: 2 });
        for i in 0..6 {
            let cluster = if i < 3 { 0..3 } else { 3..6 };
            for j in 0..3 {
                let mean: f64 = cluster.clone().map(|r| x[(r, j)]).sum::<f64>() / 3.0;
                assert!((y[(i, j)] - mean).abs() < 1e-12, "cell {i} gene {j}");
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(knn_smooth(ndarray::array![[1.0, 2.0]].view(), None, None).is_err());
        let nan = ndarray::array![[1.0, f64::NAN], [1.0, 2.0], [3.0, 4.0]];
        assert!(knn_smooth(nan.view(), None, None).is_err());
    }
}
