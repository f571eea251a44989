//! The perturbation-prediction metrics the field reports beside the AECD (GEARS, scPerturb,
//! Ahlmann-Eltze et al. 2025): the Pearson correlation of predicted and observed changes against
//! control, over all genes and over the top differentially expressed genes, the MSE on those
//! genes, and scPerturb's energy distance between two sets of cells, with the PCA basis it is
//! computed in.
//!
//! Pure: ndarray in, numbers out. Owns no model, no table and no choice of cells.

use faer::Mat;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::algo::AlgoError;
use crate::algo::stats::pearson;
use crate::algo::svd::right_singular;

/// Welch t-scores of every gene, `group` against `reference` (rows = cells, columns = genes), as
/// scanpy's `rank_genes_groups(method="t-test")` computes them:
/// `(mean_g − mean_r) / √(var_g / n_g + var_r / n_r)` with sample variances (ddof 1); a 0/0
/// score (a gene constant and equal in both) is 0, as scanpy sets NaN scores to 0.
///
/// # Returns
/// One score per gene; [`AlgoError::TooFew`] when either side has fewer than 2 cells,
/// [`AlgoError::Shape`] when the gene counts differ.
///
/// # Complexity
/// `O((n_g + n_r) · G)`.
pub fn welch_t_scores(group: ArrayView2<f64>, reference: ArrayView2<f64>) -> Result<Vec<f64>, AlgoError> {
    if group.ncols() != reference.ncols() {
        return Err(AlgoError::Shape {
            what: "genes of the reference".into(),
            expected: group.ncols(),
            got: reference.ncols(),
        });
    }
    if group.nrows() < 2 || reference.nrows() < 2 {
        return Err(AlgoError::TooFew("a t-score needs at least 2 cells on each side".into()));
    }
    let (mg, vg) = (group.mean_axis(Axis(0)).unwrap_or_default(), group.var_axis(Axis(0), 1.0));
    let (mr, vr) = (reference.mean_axis(Axis(0)).unwrap_or_default(), reference.var_axis(Axis(0), 1.0));
    let (ng, nr) = (group.nrows() as f64, reference.nrows() as f64);
    Ok((0..group.ncols())
        .map(|j| {
            let t = (mg[j] - mr[j]) / (vg[j] / ng + vr[j] / nr).sqrt();
            if t.is_nan() { 0.0 } else { t }
        })
        .collect())
}

/// The `k` differentially expressed genes of a condition: the genes with the largest `|t|`
/// of [`welch_t_scores`] against the controls (GEARS's top-20 DE genes, from scanpy
/// `rank_genes_groups(reference=control, rankby_abs=True)`), ties broken by the lower index.
///
/// # Returns
/// Gene indices in decreasing `|t|`, `min(k, G)` of them; the errors of [`welch_t_scores`].
pub fn top_de_genes(group: ArrayView2<f64>, reference: ArrayView2<f64>, k: usize) -> Result<Vec<usize>, AlgoError> {
    let t = welch_t_scores(group, reference)?;
    let mut order: Vec<usize> = (0..t.len()).collect();
    order.sort_by(|&a, &b| t[b].abs().total_cmp(&t[a].abs()).then(a.cmp(&b)));
    order.truncate(k);
    Ok(order)
}

/// Pearson correlation of the predicted and the observed change against control,
/// `pred − control` and `observed − control`, over `genes` (all genes when `None`).
///
/// # Returns
/// `r`, or NaN when either change is constant over those genes (e.g. a prediction of no change);
/// [`AlgoError::Shape`] when the lengths differ.
pub fn pearson_delta(
    pred: ArrayView1<f64>,
    observed: ArrayView1<f64>,
    control: ArrayView1<f64>,
    genes: Option<&[usize]>,
) -> Result<f64, AlgoError> {
    if pred.len() != observed.len() || control.len() != observed.len() {
        return Err(AlgoError::Shape { what: "centroid length".into(), expected: observed.len(), got: pred.len() });
    }
    let all: Vec<usize>;
    let genes = match genes {
        Some(g) => g,
        None => {
            all = (0..observed.len()).collect();
            &all
        }
    };
    let dp: Vec<f64> = genes.iter().map(|&g| pred[g] - control[g]).collect();
    let dobs: Vec<f64> = genes.iter().map(|&g| observed[g] - control[g]).collect();
    match pearson(&dp, &dobs) {
        Ok(r) => Ok(r),
        Err(AlgoError::Numerical(_) | AlgoError::TooFew(_)) => Ok(f64::NAN),
        Err(e) => Err(e),
    }
}

/// Mean squared error of two centroids over `genes` (GEARS's `mse_de` on the top DE genes).
///
/// # Returns
/// `(1/|genes|) Σ (pred_g − observed_g)²`; [`AlgoError::TooFew`] for no genes.
pub fn mse_on(pred: ArrayView1<f64>, observed: ArrayView1<f64>, genes: &[usize]) -> Result<f64, AlgoError> {
    if genes.is_empty() {
        return Err(AlgoError::TooFew("an MSE needs at least one gene".into()));
    }
    Ok(genes.iter().map(|&g| (pred[g] - observed[g]).powi(2)).sum::<f64>() / genes.len() as f64)
}

/// scPerturb's energy distance between two sets of cells (rows), with squared Euclidean
/// distances and `sample_correct=True` (scperturb `edist_to_control` / `etest`):
/// `E = 2·δ − σ_x − σ_y`, `δ` the mean distance between a cell of `x` and one of `y`, `σ` the
/// mean distance between two distinct cells of one set (the sum over pairs divided by
/// `N(N − 1)`).
///
/// With squared Euclidean distances this equals `2‖x̄ − ȳ‖² − 2·tr(S_x)/N_x − 2·tr(S_y)/N_y`
/// (`S` the sample covariance): an unbiased estimate of twice the squared shift of the means,
/// which can be slightly negative for two samples of one distribution. scPerturb computes it on
/// the first 50 principal components ([`Pca`]).
///
/// # Returns
/// `E`; [`AlgoError::TooFew`] when a set has fewer than 2 cells, [`AlgoError::Shape`] when the
/// dimensions differ.
///
/// # Complexity
/// `O((n_x + n_y)² · d)`.
pub fn energy_distance(x: ArrayView2<f64>, y: ArrayView2<f64>) -> Result<f64, AlgoError> {
    if x.ncols() != y.ncols() {
        return Err(AlgoError::Shape {
            what: "dimensions of the second set".into(),
            expected: x.ncols(),
            got: y.ncols(),
        });
    }
    if x.nrows() < 2 || y.nrows() < 2 {
        return Err(AlgoError::TooFew("an energy distance needs at least 2 cells in each set".into()));
    }
    let sq =
        |a: ArrayView1<f64>, b: ArrayView1<f64>| a.iter().zip(b.iter()).map(|(p, q)| (p - q) * (p - q)).sum::<f64>();
    let cross: f64 = x.rows().into_iter().map(|a| y.rows().into_iter().map(|b| sq(a, b)).sum::<f64>()).sum();
    let within = |m: ArrayView2<f64>| {
        let n = m.nrows();
        let total: f64 = (0..n).map(|i| (i + 1..n).map(|j| sq(m.row(i), m.row(j))).sum::<f64>()).sum();
        2.0 * total / (n * (n - 1)) as f64
    };
    let delta = cross / (x.nrows() * y.nrows()) as f64;
    Ok(2.0 * delta - within(x) - within(y))
}

/// A principal-component basis fitted on cells (scanpy `pp.pca` without scaling: centred on the
/// fitted cells' means).
#[derive(Debug, Clone)]
pub struct Pca {
    /// Gene means of the fitted cells.
    pub mean: Array1<f64>,
    /// Genes × components, orthonormal columns in decreasing variance.
    pub components: Array2<f64>,
}

impl Pca {
    /// Fits the first `k` components (fewer when the data has fewer than `k + 1` cells or `k`
    /// genes: at most `min(n − 1, G)`).
    ///
    /// # Returns
    /// The basis; [`AlgoError::TooFew`] for fewer than 2 cells or `k == 0`,
    /// [`AlgoError::Numerical`] if the SVD fails.
    ///
    /// # Complexity
    /// `O(n · G · min(n, G))`.
    pub fn fit(x: ArrayView2<f64>, k: usize) -> Result<Self, AlgoError> {
        let (n, g) = x.dim();
        if n < 2 || k == 0 {
            return Err(AlgoError::TooFew("a PCA needs at least 2 cells and 1 component".into()));
        }
        let mean = x.mean_axis(Axis(0)).unwrap_or_default();
        let centred = Mat::<f64>::from_fn(n, g, |i, j| x[(i, j)] - mean[j]);
        let (_, v) = right_singular(&centred, "PCA")?;
        let k = k.min(n - 1).min(g).min(v.ncols());
        let components = Array2::from_shape_fn((g, k), |(j, c)| v[(j, c)]);
        Ok(Pca { mean, components })
    }

    /// Coordinates of the rows of `x` on the components.
    pub fn project(&self, x: ArrayView2<f64>) -> Array2<f64> {
        (&x - &self.mean.view().insert_axis(Axis(0))).dot(&self.components)
    }

    /// Coordinates of a change `delta` (a difference of two points) on the components.
    pub fn project_delta(&self, delta: ArrayView1<f64>) -> Array1<f64> {
        delta.dot(&self.components)
    }
}

/// The metrics of one prediction of one held-out condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// `‖predicted − observed centroid‖₂` (the AECD term).
    pub distance: f64,
    /// [`pearson_delta`] over all genes.
    pub pearson_delta: f64,
    /// [`pearson_delta`] over the condition's top DE genes.
    pub pearson_delta_top: f64,
    /// [`mse_on`] the top DE genes.
    pub mse_top: f64,
    /// [`energy_distance`] between the predicted and the observed cells, on the PCA basis.
    pub edistance: f64,
}

impl Scores {
    /// The metrics as a fixed-order array (the order of the fields).
    pub fn to_array(self) -> [f64; 5] {
        [self.distance, self.pearson_delta, self.pearson_delta_top, self.mse_top, self.edistance]
    }

    /// The inverse of [`Scores::to_array`].
    pub fn from_array(a: [f64; 5]) -> Self {
        Scores { distance: a[0], pearson_delta: a[1], pearson_delta_top: a[2], mse_top: a[3], edistance: a[4] }
    }
}

/// One held-out condition, prepared for scoring centroid predictions.
///
/// A prediction is a centroid; its cells, for the energy distance, are the `pairing` control
/// cells (one per observed cell, as the VAEs generate theirs) shifted by the predicted change
/// `predicted − control centroid`, so every predictor is scored on the same cells.
#[derive(Debug, Clone)]
pub struct Condition<'a> {
    observed: Array1<f64>,
    control: ArrayView1<'a, f64>,
    de: Vec<usize>,
    observed_pc: Array2<f64>,
    paired_pc: Array2<f64>,
    pca: &'a Pca,
}

impl<'a> Condition<'a> {
    /// # Arguments
    /// * `y` — the observed cells of the condition (cells × genes), at least 2.
    /// * `control_cells`, `control` — the control cells and their centroid.
    /// * `pca`, `control_pc` — the basis and the control cells' coordinates on it.
    /// * `pairing` — rows of `control_cells` that seed the predicted cells.
    /// * `de_genes` — how many top DE genes ([`top_de_genes`]) the `_top` metrics use.
    ///
    /// # Returns
    /// The prepared condition; the errors of [`top_de_genes`], [`AlgoError::Param`] for a
    /// pairing row out of range.
    pub fn new(
        y: ArrayView2<f64>,
        control_cells: ArrayView2<f64>,
        control: ArrayView1<'a, f64>,
        pca: &'a Pca,
        control_pc: ArrayView2<f64>,
        pairing: &[usize],
        de_genes: usize,
    ) -> Result<Self, AlgoError> {
        if let Some(&r) = pairing.iter().find(|&&r| r >= control_pc.nrows()) {
            return Err(AlgoError::Param { name: "pairing".into(), why: format!("control row {r} out of range") });
        }
        let observed = y.mean_axis(Axis(0)).ok_or_else(|| AlgoError::TooFew("a condition without cells".into()))?;
        let de = top_de_genes(y, control_cells, de_genes)?;
        Ok(Condition {
            observed,
            control,
            de,
            observed_pc: pca.project(y),
            paired_pc: control_pc.select(Axis(0), pairing),
            pca,
        })
    }

    /// The observed centroid.
    pub fn observed(&self) -> ArrayView1<'_, f64> {
        self.observed.view()
    }

    /// The top DE genes, in decreasing `|t|`.
    pub fn de_genes(&self) -> &[usize] {
        &self.de
    }

    /// Scores a predicted centroid.
    pub fn score(&self, pred: ArrayView1<f64>) -> Result<Scores, AlgoError> {
        let shift = self.pca.project_delta((&pred - &self.control).view());
        let cells = &self.paired_pc + &shift.insert_axis(Axis(0));
        self.scores(pred, self.observed.view(), cells.view(), self.observed_pc.view())
    }

    /// The `perfect` reference: each split's half `A` predicts half `B` (centroids and cells),
    /// the scores averaged over `splits` (as from [`crate::algo::aecd::half_splits`]).
    pub fn score_halves(&self, y: ArrayView2<f64>, splits: &[(Vec<usize>, Vec<usize>)]) -> Result<Scores, AlgoError> {
        let mut sum = [0.0; 5];
        for (a, b) in splits {
            let mean = |rows: &[usize]| y.select(Axis(0), rows).mean_axis(Axis(0)).unwrap_or_default();
            let (ca, cb) = (mean(a), mean(b));
            let pa = self.observed_pc.select(Axis(0), a);
            let pb = self.observed_pc.select(Axis(0), b);
            let s = self.scores(ca.view(), cb.view(), pa.view(), pb.view())?;
            sum.iter_mut().zip(s.to_array()).for_each(|(t, v)| *t += v);
        }
        Ok(Scores::from_array(sum.map(|t| t / splits.len() as f64)))
    }

    fn scores(
        &self,
        pred: ArrayView1<f64>,
        observed: ArrayView1<f64>,
        pred_cells: ArrayView2<f64>,
        observed_cells: ArrayView2<f64>,
    ) -> Result<Scores, AlgoError> {
        Ok(Scores {
            distance: crate::algo::aecd::centroid_distance(pred, observed)?,
            pearson_delta: pearson_delta(pred, observed, self.control, None)?,
            pearson_delta_top: pearson_delta(pred, observed, self.control, Some(&self.de))?,
            mse_top: mse_on(pred, observed, &self.de)?,
            edistance: energy_distance(pred_cells, observed_cells)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn t_scores_match_scanpy_semantics() {
        // Group [1, 2, 3] vs reference [0, 0, 1, 1]: means 2 and 0.5, variances 1 and 1/3:
        // t = 1.5 / √(1/3 + 1/12) = 2.3237900077244502 (numpy).
        let g = array![[1.0, 5.0, 2.0], [2.0, 5.0, 2.0], [3.0, 5.0, 2.0]];
        let r = array![[0.0, 5.0, 1.0], [0.0, 5.0, 1.0], [1.0, 5.0, 1.0], [1.0, 5.0, 1.0]];
        let t = welch_t_scores(g.view(), r.view()).unwrap();
        assert!((t[0] - 2.323_790_007_724_450_2).abs() < 1e-12, "{}", t[0]);
        // Constant and equal in both: 0/0 → 0; constant and different: ±∞ ranks first.
        assert_eq!(t[1], 0.0);
        assert_eq!(t[2], f64::INFINITY);
        assert_eq!(top_de_genes(g.view(), r.view(), 2).unwrap(), vec![2, 0]);
        assert!(welch_t_scores(g.slice(ndarray::s![..1, ..]), r.view()).is_err());
    }

    #[test]
    fn pearson_delta_is_nan_for_no_change() {
        let c = array![1.0, 1.0, 1.0];
        let obs = array![2.0, 1.0, 0.0];
        assert!(pearson_delta(c.view(), obs.view(), c.view(), None).unwrap().is_nan());
        let r = pearson_delta(array![3.0, 1.0, -1.0].view(), obs.view(), c.view(), None).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
        let r = pearson_delta(array![0.0, 1.0, 9.0].view(), obs.view(), c.view(), Some(&[0, 2])).unwrap();
        assert!((r + 1.0).abs() < 1e-12);
    }

    #[test]
    fn energy_distance_is_the_unbiased_squared_centroid_shift() {
        // x: (0,0), (1,0), (0,2), total sample variance tr(S) = 5/3; y = x shifted by (3, −1):
        // E = 2·10 − 2·(5/3)/3 − 2·(5/3)/3 = 160/9.
        let x = array![[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]];
        let y = &x + &array![[3.0, -1.0]];
        let e = energy_distance(x.view(), y.view()).unwrap();
        assert!((e - 160.0 / 9.0).abs() < 1e-12, "{e}");
        assert!((energy_distance(x.view(), x.view()).unwrap() + 20.0 / 9.0).abs() < 1e-12);
        assert!(energy_distance(x.slice(ndarray::s![..1, ..]), y.view()).is_err());
    }

    #[test]
    fn pca_projection_preserves_distances_in_the_span() {
        // Points on a line in 3-D: one component holds all the variance.
        let x = array![[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [2.0, 4.0, 4.0]];
        let pca = Pca::fit(x.view(), 5).unwrap();
        assert_eq!(pca.components.ncols(), 2);
        let z = pca.project(x.view());
        assert!(((z[(2, 0)] - z[(0, 0)]).abs() - 6.0).abs() < 1e-12);
        let d = pca.project_delta(array![1.0, 2.0, 2.0].view());
        assert!((d[0].abs() - 3.0).abs() < 1e-12);
    }
}
