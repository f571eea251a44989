//! TF-community eigengenes (paper A.3, method.md §5): per community, the first principal
//! component of the TF expression, sign-aligned with the community's average and standardised;
//! plus one global eigengene over all TFs given.
//!
//! [`Pca::Covariance`] (the default, A.3: "`v_1` is the leading eigenvector of the covariance
//! matrix of `X_C`") centres each TF; [`Pca::Correlation`] (WGCNA's `moduleEigengenes`) also
//! scales it to unit variance, so every TF weighs the same whatever its spread.
//!
//! [`fit_eigengenes`] learns every statistic on the fitting cells and stores it in an
//! [`EigengeneModel`]; [`EigengeneModel::transform`] applies the stored means, sds, loadings,
//! signs and output scaling to any cells and never refits. Pure computation, no I/O.

use faer::Mat;
use ndarray::{Array2, ArrayView2, Axis};

use crate::algo::AlgoError;
use crate::algo::svd::right_singular;

/// Which matrix the principal component is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pca {
    /// The covariance matrix of the community's expression: TFs centred, not scaled (A.3).
    Covariance,
    /// The correlation matrix: TFs z-scored first (WGCNA).
    Correlation,
}

/// One eigengene: a community's (or the global) first principal direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Eigengene {
    /// TF columns it is built from (the community's TFs minus the dropped ones, in input order).
    pub tfs: Vec<usize>,
    /// Unit-norm loading `v₁`, one entry per TF in `tfs`, signed so that the score correlates
    /// positively with the row mean of the centred (or z-scored) TFs.
    pub loading: Vec<f64>,
    /// `σ₁² / Σσ²`, the share of the (centred or z-scored) variance the component explains.
    pub variance_explained: f64,
    /// Mean of the raw score `z·v₁` over the fitting cells (0 up to rounding).
    pub score_mean: f64,
    /// Standard deviation (ddof 1) of the raw score over the fitting cells.
    pub score_sd: f64,
}

/// Everything needed to compute eigengene scores for new cells.
#[derive(Debug, Clone, PartialEq)]
pub struct EigengeneModel {
    /// Per TF column: mean over the fitting cells.
    pub mean: Vec<f64>,
    /// Per TF column: standard deviation (ddof 1) over the fitting cells (0 for dropped TFs).
    pub sd: Vec<f64>,
    /// Per TF column: the divisor after centring (the sd for [`Pca::Correlation`], 1 for
    /// [`Pca::Covariance`]).
    pub scale: Vec<f64>,
    /// TF columns with zero sd, left out of every eigengene.
    pub dropped: Vec<usize>,
    /// One eigengene per community, in input order, then the global eigengene.
    pub eigengenes: Vec<Eigengene>,
}

/// Fits one eigengene per community and a global one over every column of `x` (method.md §5).
///
/// # Arguments
/// * `x` — fitting cells × TFs, log expression, finite; at least 2 cells.
/// * `communities` — TF column indices per community; no index twice within a community.
/// * `pca` — PC1 of the covariance or of the correlation matrix.
///
/// # Returns
/// The model; columns of [`EigengeneModel::transform`] are the communities in order, then the
/// global eigengene. Errors: [`AlgoError::TooFew`] for fewer than 2 cells or a community whose
/// TFs are all constant, [`AlgoError::NonFinite`] for NaN input, [`AlgoError::Param`] for a bad
/// index.
///
/// # Complexity
/// `O(n·m²)` per community of `m` TFs (thin SVD of the `n × m` centred data), so `O(n·M²)` for
/// the global one over all `M` TFs.
pub fn fit_eigengenes(x: ArrayView2<f64>, communities: &[Vec<usize>], pca: Pca) -> Result<EigengeneModel, AlgoError> {
    let (n, n_tfs) = x.dim();
    if n < 2 {
        return Err(AlgoError::TooFew(format!("eigengenes need at least 2 cells, got {n}")));
    }
    check_finite(x)?;
    for (c, members) in communities.iter().enumerate() {
        let mut sorted = members.clone();
        sorted.sort_unstable();
        if sorted.last().is_some_and(|&i| i >= n_tfs) || sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(AlgoError::Param {
                name: "communities".into(),
                why: format!("community {c} has an index out of range for {n_tfs} TFs or a repeated TF"),
            });
        }
    }
    let mean: Vec<f64> = x.mean_axis(Axis(0)).expect("n ≥ 2").to_vec();
    let sd: Vec<f64> = x.std_axis(Axis(0), 1.0).to_vec();
    let dropped: Vec<usize> = (0..n_tfs).filter(|&j| sd[j] == 0.0).collect();
    let scale = match pca {
        Pca::Correlation => sd.clone(),
        Pca::Covariance => sd.iter().map(|&s| if s > 0.0 { 1.0 } else { 0.0 }).collect(),
    };
    let stats = ZStats { mean, scale };

    let global: Vec<usize> = (0..n_tfs).collect();
    let eigengenes = communities
        .iter()
        .map(Vec::as_slice)
        .chain([global.as_slice()])
        .enumerate()
        .map(|(c, members)| {
            let tfs: Vec<usize> = members.iter().copied().filter(|&j| stats.scale[j] > 0.0).collect();
            if tfs.is_empty() {
                return Err(AlgoError::TooFew(if c < communities.len() {
                    format!("community {c} has no TF with non-zero variance")
                } else {
                    "no TF has non-zero variance".to_string()
                }));
            }
            fit_one(&stats.z_scores(x, &tfs), tfs)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EigengeneModel { mean: stats.mean, sd, scale: stats.scale, dropped, eigengenes })
}

impl EigengeneModel {
    /// Eigengene scores of `x` (cells × the same TF columns as at fit time) with the stored
    /// statistics: `((x − mean)/scale)·v₁`, then standardised with the stored score mean and sd.
    ///
    /// # Returns
    /// Cells × (communities + 1); errors on a column-count mismatch or non-finite input.
    ///
    /// # Complexity
    /// `O(n · Σ m_c)`.
    pub fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, AlgoError> {
        if x.ncols() != self.mean.len() {
            return Err(AlgoError::Shape {
                what: "TF columns of the eigengene input".into(),
                expected: self.mean.len(),
                got: x.ncols(),
            });
        }
        check_finite(x)?;
        let mut out = Array2::zeros((x.nrows(), self.eigengenes.len()));
        for (mut col, eg) in out.axis_iter_mut(Axis(1)).zip(&self.eigengenes) {
            for (o, row) in col.iter_mut().zip(x.axis_iter(Axis(0))) {
                let raw: f64 =
                    eg.tfs.iter().zip(&eg.loading).map(|(&j, v)| (row[j] - self.mean[j]) / self.scale[j] * v).sum();
                *o = (raw - eg.score_mean) / eg.score_sd;
            }
        }
        Ok(out)
    }
}

impl EigengeneModel {
    /// [`EigengeneModel::transform`] as the affine map it is: scores `= x W + b`, with `W`
    /// TFs × (communities + 1) and `b` one offset per eigengene.
    ///
    /// # Complexity
    /// `O(T · (k + 1) + Σ m_c)`.
    pub fn linear_map(&self) -> (Array2<f64>, Vec<f64>) {
        let mut w = Array2::zeros((self.mean.len(), self.eigengenes.len()));
        let mut b = vec![0.0; self.eigengenes.len()];
        for (c, eg) in self.eigengenes.iter().enumerate() {
            for (&j, v) in eg.tfs.iter().zip(&eg.loading) {
                w[(j, c)] = v / (self.scale[j] * eg.score_sd);
                b[c] -= self.mean[j] * w[(j, c)];
            }
            b[c] -= eg.score_mean / eg.score_sd;
        }
        (w, b)
    }
}

/// Per-TF means and divisors of the fitting cells.
struct ZStats {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl ZStats {
    /// The `n × |tfs|` centred (and scaled) matrix of the given columns.
    fn z_scores(&self, x: ArrayView2<f64>, tfs: &[usize]) -> Mat<f64> {
        Mat::from_fn(x.nrows(), tfs.len(), |i, k| {
            let j = tfs[k];
            (x[(i, j)] - self.mean[j]) / self.scale[j]
        })
    }
}

/// First right singular vector of `y`, sign-aligned, with its variance share and score scaling.
fn fit_one(y: &Mat<f64>, tfs: Vec<usize>) -> Result<Eigengene, AlgoError> {
    let (n, m) = y.shape();
    let (sigma, v) = right_singular(y, "eigengene")?;
    let total: f64 = sigma.iter().map(|x| x * x).sum();
    let mut loading: Vec<f64> = v.col(0).iter().copied().collect();

    let scores =
        |loading: &[f64]| -> Vec<f64> { (0..n).map(|i| (0..m).map(|k| y[(i, k)] * loading[k]).sum()).collect() };
    let mut e = scores(&loading);
    // Columns of y are centred, so the sign of Σ e·rowmean is the sign of their correlation.
    let alignment: f64 = (0..n).map(|i| e[i] * (0..m).map(|k| y[(i, k)]).sum::<f64>()).sum();
    let largest = loading.iter().copied().max_by(|a, b| a.abs().total_cmp(&b.abs())).expect("m ≥ 1");
    if alignment < 0.0 || (alignment == 0.0 && largest < 0.0) {
        loading.iter_mut().for_each(|l| *l = -*l);
        e = scores(&loading);
    }
    let score_mean = e.iter().sum::<f64>() / n as f64;
    let score_sd = (e.iter().map(|v| (v - score_mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    Ok(Eigengene { tfs, loading, variance_explained: sigma[0] * sigma[0] / total, score_mean, score_sd })
}

fn check_finite(x: ArrayView2<f64>) -> Result<(), AlgoError> {
    if x.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(AlgoError::NonFinite("eigengene input contains NaN or infinity".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fitting cells of crosscheck/eigengene.py: `x[i][j] = sin(0.37·i·(j mod 3 + 1) + j)
    /// + 0.3·cos(1.1i + 2j) + 1`, 20 cells × 7 TFs.
    fn fixture() -> Array2<f64> {
        Array2::from_shape_fn((20, 7), |(i, j)| {
            let (fi, fj) = (i as f64, j as f64);
            (0.37 * fi * ((j % 3) as f64 + 1.0) + fj).sin() + 0.3 * (1.1 * fi + 2.0 * fj).cos() + 1.0
        })
    }

    /// New cells: `cos(0.5i + 0.9j) + 1`, 5 cells × 7 TFs.
    fn new_cells() -> Array2<f64> {
        Array2::from_shape_fn((5, 7), |(i, j)| (0.5 * i as f64 + 0.9 * j as f64).cos() + 1.0)
    }

    fn communities() -> Vec<Vec<usize>> {
        vec![vec![0, 1, 2], vec![3, 4, 6], vec![5]]
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn eigengenes_match_sklearn_pca() {
        // crosscheck/eigengene.py with scikit-learn 1.9.1: per community (then all TFs),
        // PCA(n_components=1).fit(z) on z-scores (ddof 1), components_[0] sign-aligned with the
        // row mean, explained_variance_ratio_[0].
        let model = fit_eigengenes(fixture().view(), &communities(), Pca::Correlation).unwrap();
        let loadings: [&[f64]; 4] = [
            &[0.6945206745454697, 0.19081648984161004, 0.693707503082843],
            &[0.7008665892973664, 0.09217085439658709, -0.7073122066007907],
            &[1.0],
            &[
                0.5891625233074176,
                0.06827392647415657,
                0.04607016046202228,
                -0.536687873894257,
                -0.10669808331385838,
                -0.04661647292266197,
                0.5869516861659939,
            ],
        ];
        let explained = [0.4107619827991435, 0.609287814156882, 1.0, 0.39047565939069123];
        assert_eq!(model.eigengenes.len(), 4);
        assert!(model.dropped.is_empty());
        for ((eg, want), ve) in model.eigengenes.iter().zip(loadings).zip(explained) {
            assert_close(&eg.loading, want, 1e-9);
            assert_close(&[eg.variance_explained], &[ve], 1e-9);
        }
        assert_eq!(model.eigengenes[3].tfs, (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn covariance_eigengenes_match_sklearn_pca_of_centred_data() {
        // scikit-learn 1.9.1: per community (then all TFs), PCA(1, svd_solver="full") of the
        // centred, unscaled fixture; components_[0] sign-aligned with the row mean.
        let model = fit_eigengenes(fixture().view(), &communities(), Pca::Covariance).unwrap();
        let loadings: [&[f64]; 4] = [
            &[0.6489425728481782, 0.7272959616140398, 0.22341468475706017],
            &[0.7004630205082609, 0.1358789388421356, -0.7006343346422427],
            &[1.0],
            &[
                0.5911160854184733,
                0.10745386357976285,
                0.05761784469686636,
                -0.5189901359655057,
                -0.15461370767816535,
                -0.10316620201556381,
                0.5760348944847096,
            ],
        ];
        let explained = [0.4212891336699199, 0.5687347944826618, 1.0, 0.36292298716004606];
        for ((eg, want), ve) in model.eigengenes.iter().zip(loadings).zip(explained) {
            assert_close(&eg.loading, want, 1e-9);
            assert_close(&[eg.variance_explained], &[ve], 1e-9);
        }
        assert!(model.scale.iter().all(|&s| s == 1.0));
        let fitted = model.transform(fixture().view()).unwrap();
        for col in fitted.columns() {
            assert!(col.mean().unwrap().abs() < 1e-12 && (col.std(1.0) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn the_linear_map_is_the_transform() {
        let model = fit_eigengenes(fixture().view(), &communities(), Pca::Correlation).unwrap();
        let (w, b) = model.linear_map();
        let x = new_cells();
        let want = model.transform(x.view()).unwrap();
        let got = x.dot(&w) + &ndarray::Array1::from(b);
        for (g, v) in got.iter().zip(&want) {
            assert!((g - v).abs() < 1e-12, "{g} vs {v}");
        }
    }

    #[test]
    fn transform_applies_stored_statistics() {
        let model = fit_eigengenes(fixture().view(), &communities(), Pca::Correlation).unwrap();
        // crosscheck/eigengene.py "transform" on the new cells.
        let want: [[f64; 4]; 5] = [
            [0.6524003606494275, -1.1465838105307906, -0.20804569580212268, 1.2462974946690473],
            [-0.07751884162030273, -1.4023693849278023, 0.3159032920616404, 1.2851298551491284],
            [-0.8112887419411418, -1.3025369710397512, 0.7662596475133617, 0.990544512637396],
            [-1.3692568775946226, -0.871529025563588, 1.0327604280114637, 0.434666233003716],
            [-1.6148131891537365, -0.2148713254794843, 1.0501569479503599, -0.24640659396482678],
        ];
        let got = model.transform(new_cells().view()).unwrap();
        for (row, w) in got.rows().into_iter().zip(want) {
            assert_close(row.as_slice().unwrap(), &w, 1e-9);
        }
        // On the fitting cells every column is standardised, and the singleton is the z-score.
        let x = fixture();
        let fitted = model.transform(x.view()).unwrap();
        for col in fitted.columns() {
            assert!(col.mean().unwrap().abs() < 1e-12);
            assert!((col.std(1.0) - 1.0).abs() < 1e-12);
        }
        let z5 = x.column(5).mapv(|v| (v - model.mean[5]) / model.sd[5]);
        assert_close(&fitted.column(2).to_vec(), &z5.to_vec(), 1e-12);
    }

    #[test]
    fn constant_tfs_are_dropped() {
        let x = fixture();
        let mut wider = Array2::from_elem((20, 8), 4.0);
        wider.slice_mut(ndarray::s![.., ..7]).assign(&x);
        let mut comms = communities();
        comms[1].push(7);
        let model = fit_eigengenes(wider.view(), &comms, Pca::Correlation).unwrap();
        let plain = fit_eigengenes(x.view(), &communities(), Pca::Correlation).unwrap();
        assert_eq!(model.dropped, vec![7]);
        assert_eq!(model.eigengenes[1].tfs, vec![3, 4, 6]);
        for (a, b) in model.eigengenes.iter().zip(&plain.eigengenes) {
            assert_close(&a.loading, &b.loading, 1e-12);
        }
        let only_constant = fit_eigengenes(wider.view(), &[vec![7]], Pca::Covariance);
        assert!(matches!(only_constant, Err(AlgoError::TooFew(_))));
    }

    #[test]
    fn eigengene_rejects_bad_input() {
        let x = fixture();
        assert!(matches!(fit_eigengenes(x.view(), &[vec![0, 7]], Pca::Covariance), Err(AlgoError::Param { .. })));
        assert!(matches!(fit_eigengenes(x.view(), &[vec![1, 1]], Pca::Covariance), Err(AlgoError::Param { .. })));
        assert!(matches!(
            fit_eigengenes(x.slice(ndarray::s![..1, ..]), &[vec![0]], Pca::Covariance),
            Err(AlgoError::TooFew(_))
        ));
        let model = fit_eigengenes(x.view(), &communities(), Pca::Correlation).unwrap();
        assert!(matches!(model.transform(x.slice(ndarray::s![.., ..6])), Err(AlgoError::Shape { .. })));
        let mut bad = x.clone();
        bad[(2, 2)] = f64::NAN;
        assert!(matches!(model.transform(bad.view()), Err(AlgoError::NonFinite(_))));
    }
}
