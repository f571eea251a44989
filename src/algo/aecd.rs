//! The average Euclidean centroid distance (AECD) of the paper's Table 1 and its reference
//! points (method.md §8.1): the distance between a predicted and an observed perturbation
//! centroid, the `perfect` baseline (half of the observed cells against the other half), the
//! mean with its standard error, and the paired Wilcoxon comparison of two methods.
//!
//! Pure: ndarray and slices in, numbers out; the random half splits take a seed. Owns no model
//! and no table.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::algo::AlgoError;
use crate::algo::stats::{Alternative, Wilcoxon, wilcoxon_signed_rank};

/// Euclidean distance `‖a − b‖₂` between two centroids.
///
/// # Arguments
/// * `a`, `b` — centroids in the same gene space.
///
/// # Returns
/// The distance; [`AlgoError::Shape`] when the lengths differ.
///
/// # Complexity
/// `O(G)`.
pub fn centroid_distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> Result<f64, AlgoError> {
    if a.len() != b.len() {
        return Err(AlgoError::Shape { what: "centroid length".into(), expected: a.len(), got: b.len() });
    }
    Ok(a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt())
}

/// The centroid (column means) of the rows of `y`.
///
/// # Returns
/// The mean of each column; [`AlgoError::TooFew`] when `y` has no rows.
pub fn centroid(y: ArrayView2<f64>) -> Result<Array1<f64>, AlgoError> {
    y.mean_axis(Axis(0)).ok_or_else(|| AlgoError::TooFew("a centroid needs at least one cell".into()))
}

/// The `perfect` baseline of one condition: the observed cells are shuffled and cut into two
/// halves `A` (the first `⌊n/2⌋`) and `B` (the rest); the result is `‖mean(A) − mean(B)‖₂`
/// averaged over `splits` independent shuffles.
///
/// # Arguments
/// * `y` — observed cells × genes of the condition, at least 2 rows.
/// * `splits` — number of random splits, at least 1.
/// * `seed` — seed of the shuffles (ChaCha8).
///
/// # Returns
/// The mean distance between half centroids; [`AlgoError::TooFew`] with fewer than 2 cells,
/// [`AlgoError::Param`] for `splits == 0`.
///
/// # Complexity
/// `O(splits · n · G)`.
pub fn perfect_distance(y: ArrayView2<f64>, splits: usize, seed: u64) -> Result<f64, AlgoError> {
    let mut total = 0.0;
    for (a, b) in half_splits(y.nrows(), splits, seed)? {
        let ca = centroid(y.select(Axis(0), &a).view())?;
        let cb = centroid(y.select(Axis(0), &b).view())?;
        total += centroid_distance(ca.view(), cb.view())?;
    }
    Ok(total / splits as f64)
}

/// The random half splits of the `perfect` baseline: `splits` successive shuffles of `0..n`
/// (ChaCha8 from `seed`), each cut into the first `⌊n/2⌋` and the rest.
///
/// # Returns
/// `(A, B)` index lists per split; [`AlgoError::TooFew`] with fewer than 2 items,
/// [`AlgoError::Param`] for `splits == 0`.
pub fn half_splits(n: usize, splits: usize, seed: u64) -> Result<Vec<(Vec<usize>, Vec<usize>)>, AlgoError> {
    if n < 2 {
        return Err(AlgoError::TooFew(format!("the perfect baseline needs at least 2 cells, got {n}")));
    }
    if splits == 0 {
        return Err(AlgoError::Param { name: "splits".into(), why: "must be at least 1".into() });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    Ok((0..splits)
        .map(|_| {
            order.shuffle(&mut rng);
            let (a, b) = order.split_at(n / 2);
            (a.to_vec(), b.to_vec())
        })
        .collect())
}

/// Mean and standard error of per-condition distances.
///
/// # Returns
/// `(mean, sd / √n)` with the sample standard deviation (ddof 1; the discrepancy-VAE notebook
/// used ddof 0). The S.E. is NaN for a single value. [`AlgoError::TooFew`] for no values,
/// [`AlgoError::NonFinite`] for NaN/infinite values.
pub fn mean_se(d: &[f64]) -> Result<(f64, f64), AlgoError> {
    if d.is_empty() {
        return Err(AlgoError::TooFew("no distances to average".into()));
    }
    if d.iter().any(|v| !v.is_finite()) {
        return Err(AlgoError::NonFinite("a centroid distance".into()));
    }
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    if d.len() < 2 {
        return Ok((mean, f64::NAN));
    }
    let var = d.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    Ok((mean, (var / n).sqrt()))
}

/// Paired two-sided Wilcoxon signed-rank test of `x` against `y` (scipy `wilcoxon(x, y)`).
///
/// The differences `x − y` are rounded to 12 significant digits before ranking, so that
/// differences equal up to float noise count as ties (method.md §8.2).
///
/// # Returns
/// The test result; [`AlgoError::Shape`] when the lengths differ, and the errors of
/// [`wilcoxon_signed_rank`] (e.g. all differences zero).
pub fn paired_wilcoxon(x: &[f64], y: &[f64]) -> Result<Wilcoxon, AlgoError> {
    if x.len() != y.len() {
        return Err(AlgoError::Shape { what: "paired samples".into(), expected: x.len(), got: y.len() });
    }
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| round_significant(a - b, 12)).collect();
    wilcoxon_signed_rank(&d, Alternative::TwoSided)
}

/// `v` rounded to `digits` significant decimal digits.
fn round_significant(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn distance_is_euclidean() {
        let d = centroid_distance(array![0.0, 3.0, 1.0].view(), array![4.0, 0.0, 1.0].view()).unwrap();
        assert_eq!(d, 5.0);
        assert!(centroid_distance(array![0.0].view(), array![1.0, 2.0].view()).is_err());
    }

    #[test]
    fn perfect_baseline_of_two_cells_is_their_distance() {
        // With two cells every split puts one cell in each half.
        let y = array![[0.0, 0.0], [3.0, 4.0]];
        assert_eq!(perfect_distance(y.view(), 7, 1).unwrap(), 5.0);
    }

    #[test]
    fn perfect_baseline_averages_over_all_splits() {
        // Four cells on a line at 0, 1, 2, 3: the three distinct splits {01|23}, {02|13}, {03|12}
        // give half-centroid distances 2, 1 and 0 (each split and its mirror equally likely),
        // so the average over many shuffles tends to 1.
        let y = array![[0.0], [1.0], [2.0], [3.0]];
        let p = perfect_distance(y.view(), 20_000, 3).unwrap();
        assert!((p - 1.0).abs() < 0.02, "{p}");
        assert!(perfect_distance(y.view(), 0, 3).is_err());
        assert!(perfect_distance(array![[1.0]].view(), 5, 3).is_err());
    }

    #[test]
    fn mean_and_standard_error_match_numpy() {
        // numpy: x = [1, 2, 4, 7]; x.mean() = 3.5; x.std(ddof=1) / 2 = 1.3228756555322954
        let (m, se) = mean_se(&[1.0, 2.0, 4.0, 7.0]).unwrap();
        assert_eq!(m, 3.5);
        assert!((se - 1.322_875_655_532_295_4).abs() < 1e-15);
        assert!(mean_se(&[2.0]).unwrap().1.is_nan());
        assert!(mean_se(&[]).is_err());
    }

    #[test]
    fn paired_wilcoxon_matches_scipy() {
        // scipy.stats.wilcoxon(x, y) with x − y = the golden d of method.md §10:
        // statistic 24, p = 0.041259765625 (exact).
        let d = [6.0, 8.0, 14.0, 16.0, 23.0, 24.0, 28.0, 29.0, 41.0, -48.0, 49.0, 56.0, 60.0, -67.0, 75.0];
        let y: Vec<f64> = (0..d.len()).map(|i| 0.1 * i as f64 + 0.3).collect();
        let x: Vec<f64> = y.iter().zip(&d).map(|(a, b)| a + b).collect();
        let w = paired_wilcoxon(&x, &y).unwrap();
        assert_eq!(w.statistic, 24.0);
        assert!((w.p - 0.041_259_765_625).abs() < 1e-12, "{}", w.p);
        assert!(paired_wilcoxon(&x, &y[1..]).is_err());
    }

    #[test]
    fn rounding_keeps_twelve_significant_digits() {
        assert_eq!(round_significant(0.1 + 0.2, 12), 0.3);
        assert_eq!(round_significant(-123_456.789_012_345, 12), -123_456.789_012);
        assert_eq!(round_significant(0.0, 12), 0.0);
    }
}
