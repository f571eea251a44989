//! Standard single-cell preprocessing with scanpy semantics (method.md §2): library-size
//! normalisation, `log1p`, highly-variable-gene selection (flavours `seurat`, `cell_ranger`,
//! `seurat_v3`) and the paper's per-perturbation subsampling of cells.
//!
//! Owns the arithmetic only; it reads no files and knows nothing of AnnData. Values stay `f32` in
//! the matrix as scanpy keeps them (normalised values agree with scanpy to within 3e-7 relative,
//! a couple of float ulps; gene lists agree exactly); every statistic is accumulated in `f64`.

mod compact;
mod rows;
mod vmath;

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::algo::AlgoError;
use crate::algo::loess::loess_fit;
use crate::algo::sparse::{ColumnMoments, Csr};
use crate::algo::stats::percentile;

pub use rows::{OutputGenes, Prepared, Steps, prepare};

/// Scales every cell (row) to the same total count, as `sc.pp.normalize_total`.
///
/// Each row is divided by `total / target`, in `f32` like scanpy. Rows whose total is zero are
/// left as zeros.
///
/// # Arguments
/// * `x` – cells × genes, normalised in place.
/// * `target_sum` – the total every cell is scaled to; `None` takes the median of the non-zero
///   cell totals (scanpy's documented default; note that scanpy 1.11 on CSR input actually takes
///   the median over *all* totals, zeros included).
///
/// # Errors
/// [`AlgoError::Param`] if `target_sum` is not finite and positive; [`AlgoError::TooFew`] if
/// `target_sum` is `None` and every cell total is zero.
///
/// # Complexity
/// O(nnz + n_cells log n_cells).
pub fn normalize_total(x: &mut Csr, target_sum: Option<f64>) -> Result<(), AlgoError> {
    // scanpy accumulates each total in f64 and stores it as f32.
    let totals: Vec<f32> = x.row_sums().into_iter().map(|t| t as f32).collect();
    x.divide_rows(&divisors(&totals, target_sum)?);
    Ok(())
}

/// What [`normalize_total`] divides each row by, from the rows' totals.
fn divisors(totals: &[f32], target_sum: Option<f64>) -> Result<Vec<f32>, AlgoError> {
    let target = match target_sum {
        Some(t) if t.is_finite() && t > 0.0 => t,
        Some(t) => {
            return Err(AlgoError::Param {
                name: "target_sum".into(),
                why: format!("must be finite and positive, got {t}"),
            });
        }
        None => {
            let nonzero: Vec<f64> = totals.iter().filter(|&&t| t > 0.0).map(|&t| f64::from(t)).collect();
            median(nonzero).ok_or_else(|| AlgoError::TooFew("every cell total is zero".into()))?
        }
    };
    let target = target as f32;
    // A zero-total row holds no stored values, and v / 1 = v anyway.
    Ok(totals.iter().map(|&t| if t == 0.0 { 1.0 } else { t / target }).collect())
}

/// Replaces every value `v` by `ln(1 + v)` (natural log), as `sc.pp.log1p`.
///
/// Computed in f64 and rounded once: the correctly rounded f32 except within ~1e-15 of a
/// rounding midpoint (libm's `log1pf` errs by up to 1 ulp; see the private `vmath` module).
///
/// # Errors
/// [`AlgoError::Param`] if a value is below −1 (the logarithm is undefined).
///
/// # Complexity
/// O(nnz).
pub fn log1p(x: &mut Csr) -> Result<(), AlgoError> {
    if let Some(p) = x.data.iter().position(|&v| v < -1.0) {
        return Err(AlgoError::Param {
            name: "x".into(),
            why: format!("log1p of {} (stored value {p}) is undefined", x.data[p]),
        });
    }
    x.map_values(vmath::ln_1p_in_place);
    Ok(())
}

/// How genes are ranked by [`highly_variable_genes`] (scanpy's `flavor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Seurat v1 dispersion on log1p data, equal-width mean bins (`flavor='seurat'`).
    Seurat,
    /// Cell Ranger dispersion: percentile mean bins, median/MAD normalisation (`'cell_ranger'`).
    CellRanger,
    /// Seurat v3 standardised variance on raw counts with a LOESS mean–variance trend
    /// (`'seurat_v3'`).
    SeuratV3,
}

/// Thresholds and binning of [`highly_variable_genes`]; `Default` gives scanpy's defaults.
///
/// The four cut-offs apply to `Seurat` and `CellRanger` only when no `n_top_genes` is given;
/// `n_bins` applies to `Seurat`, `span` to `SeuratV3`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HvgOptions {
    /// Keep genes with mean strictly above this (default 0.0125).
    pub min_mean: f64,
    /// Keep genes with mean strictly below this (default 3).
    pub max_mean: f64,
    /// Keep genes with normalised dispersion strictly above this (default 0.5).
    pub min_disp: f64,
    /// Keep genes with normalised dispersion strictly below this (default +∞).
    pub max_disp: f64,
    /// Number of equal-width mean bins for `Seurat` (default 20).
    pub n_bins: usize,
    /// LOESS span for `SeuratV3` (default 0.3).
    pub span: f64,
}

impl Default for HvgOptions {
    fn default() -> Self {
        HvgOptions { min_mean: 0.0125, max_mean: 3.0, min_disp: 0.5, max_disp: f64::INFINITY, n_bins: 20, span: 0.3 }
    }
}

/// Per-gene result of [`highly_variable_genes`], in the column order of the input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hvg {
    /// Whether the gene is selected.
    pub highly_variable: Vec<bool>,
    /// scanpy's `means`: `ln(1 + mean)` of the expm1'd data for `Seurat`, the plain mean otherwise.
    pub means: Vec<f64>,
    /// scanpy's `dispersions` (`variances` for `SeuratV3`).
    pub dispersions: Vec<f64>,
    /// scanpy's `dispersions_norm` (`variances_norm` for `SeuratV3`); may hold NaN.
    pub dispersions_norm: Vec<f64>,
}

/// Flags highly variable genes as `sc.pp.highly_variable_genes` (single batch, scanpy 1.11).
///
/// * `Seurat` expects log1p data: it undoes the log, takes per-gene mean μ and variance
///   (ddof 1), dispersion ln(σ²/μ), mean ln(1+μ), normalises dispersions within 20 equal-width
///   mean bins (mean and std; a bin with a single gene gives it 1).
/// * `CellRanger` uses σ²/μ and μ unlogged, bins at the 10th, 15th, …, 100th percentiles of the
///   means, and normalises by the bin median and MAD (÷ Φ⁻¹(¾)).
/// * `SeuratV3` expects counts: fits a LOESS (degree 2, tricube, `span`) of log10 σ² on log10 μ,
///   clips counts at μ + σ̂·√n and ranks genes by the variance of the standardised clipped counts.
///   The fit is scikit-misc's (as scanpy calls it): the k-d tree interpolated surface of
///   [`loess_fit`].
///
/// # Arguments
/// * `x` – cells × genes (log1p data for `Seurat`/`CellRanger` as scanpy is normally called,
///   raw counts for `SeuratV3`).
/// * `flavor` – the ranking method.
/// * `n_top_genes` – select the genes whose normalised dispersion is at least the N-th largest
///   (ties may give more than N); `None` applies the cut-offs of `options` (for `SeuratV3`,
///   `None` means 2000 as in scanpy).
/// * `options` – cut-offs and binning.
///
/// # Returns
/// An [`Hvg`] with one entry per gene.
///
/// # Errors
/// [`AlgoError::TooFew`] for fewer than two cells or no genes, [`AlgoError::Param`] for
/// `n_top_genes = 0`, `n_bins = 0` or a span outside (0, 1], [`AlgoError::Numerical`] when the
/// `CellRanger` percentile edges coincide (scanpy raises as well); for `SeuratV3` the errors
/// of [`loess_fit`] (too few varying genes for the span, many genes tied at one mean).
///
/// # Complexity
/// O(nnz + G log G) for `Seurat`/`CellRanger`; `SeuratV3` adds O(G / (span·0.2)) for the LOESS.
pub fn highly_variable_genes(
    x: &Csr,
    flavor: Flavor,
    n_top_genes: Option<usize>,
    options: &HvgOptions,
) -> Result<Hvg, AlgoError> {
    check_hvg(x.n_cols, n_top_genes)?;
    match flavor {
        Flavor::Seurat | Flavor::CellRanger => dispersion_hvg(x, flavor, n_top_genes, options),
        Flavor::SeuratV3 => seurat_v3_hvg(x, n_top_genes.unwrap_or(2000), options.span),
    }
}

fn check_hvg(n_cols: usize, n_top_genes: Option<usize>) -> Result<(), AlgoError> {
    if n_cols == 0 {
        return Err(AlgoError::TooFew("no genes".into()));
    }
    if n_top_genes == Some(0) {
        return Err(AlgoError::Param { name: "n_top_genes".into(), why: "must be at least 1".into() });
    }
    Ok(())
}

/// The `seurat` and `cell_ranger` flavours.
fn dispersion_hvg(x: &Csr, flavor: Flavor, n_top_genes: Option<usize>, options: &HvgOptions) -> Result<Hvg, AlgoError> {
    let moments = if flavor == Flavor::Seurat {
        // scanpy applies np.expm1 to the float32 values.
        x.column_moments_of(vmath::exp_m1_in_place)?
    } else {
        x.column_moments()?
    };
    dispersion_select(moments, flavor, n_top_genes, options)
}

/// The `seurat` and `cell_ranger` selection from the genes' moments (of the expm1'd values for
/// `seurat`).
fn dispersion_select(
    moments: ColumnMoments,
    flavor: Flavor,
    n_top_genes: Option<usize>,
    options: &HvgOptions,
) -> Result<Hvg, AlgoError> {
    let mut means = moments.mean;
    means.iter_mut().filter(|m| **m == 0.0).for_each(|m| *m = 1e-12);
    let mut dispersions: Vec<f64> = moments.var.iter().zip(&means).map(|(v, m)| v / m).collect();
    let bins = if flavor == Flavor::Seurat {
        dispersions.iter_mut().for_each(|d| *d = if *d == 0.0 { f64::NAN } else { d.ln() });
        means.iter_mut().for_each(|m| *m = m.ln_1p());
        if options.n_bins == 0 {
            return Err(AlgoError::Param { name: "n_bins".into(), why: "must be at least 1".into() });
        }
        equal_width_bins(&means, options.n_bins)
    } else {
        percentile_bins(&means)?
    };
    let n_groups = bins.iter().max().map_or(0, |&b| b + 1);
    let mut groups: Vec<Vec<f64>> = vec![Vec::new(); n_groups];
    for (&b, &d) in bins.iter().zip(&dispersions) {
        if !d.is_nan() {
            groups[b].push(d);
        }
    }
    let stats: Vec<(f64, f64)> = groups
        .into_iter()
        .map(|g| match flavor {
            Flavor::Seurat => seurat_bin_stats(&g),
            _ => cell_ranger_bin_stats(g),
        })
        .collect();
    let dispersions_norm: Vec<f64> =
        bins.iter().zip(&dispersions).map(|(&b, &d)| (d - stats[b].0) / stats[b].1).collect();
    let highly_variable = match n_top_genes {
        Some(n) => top_n_with_ties(&dispersions_norm, n),
        None => {
            // Seurat's rule: NaN → 0, ±∞ → ±max finite (numpy's nan_to_num).
            let finite = |d: f64| {
                if d.is_nan() { 0.0 } else { d.clamp(f64::MIN, f64::MAX) }
            };
            means
                .iter()
                .zip(&dispersions_norm)
                .map(|(&m, &d)| {
                    let d = finite(d);
                    m > options.min_mean && m < options.max_mean && d > options.min_disp && d < options.max_disp
                })
                .collect()
        }
    };
    Ok(Hvg { highly_variable, means, dispersions, dispersions_norm })
}

/// Bin labels of `pd.cut(values, n_bins)`: equal-width, right-closed bins whose lowest edge is
/// pushed down by 0.1 % of the range.
fn equal_width_bins(values: &[f64], n_bins: usize) -> Vec<usize> {
    let (mut lo, mut hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let mut edges: Vec<f64>;
    if lo == hi {
        let widen = |v: f64| if v == 0.0 { 0.001 } else { 0.001 * v.abs() };
        lo -= widen(lo);
        hi += widen(hi);
        edges = linspace(lo, hi, n_bins + 1);
    } else {
        edges = linspace(lo, hi, n_bins + 1);
        edges[0] -= (hi - lo) * 0.001;
    }
    values.iter().map(|&v| right_closed_bin(&edges, v)).collect()
}

/// `np.linspace(start, stop, num)` with the same rounding (k·step + start, last = stop).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut out: Vec<f64> = (0..num).map(|k| k as f64 * step + start).collect();
    out[num - 1] = stop;
    out
}

/// Index of the right-closed bin `(edges[b], edges[b + 1]]` holding `v`.
fn right_closed_bin(edges: &[f64], v: f64) -> usize {
    edges.partition_point(|&e| e < v).saturating_sub(1)
}

/// Bin labels for `cell_ranger`: edges `[-∞, P10, P15, …, P100, +∞]` of the values.
fn percentile_bins(values: &[f64]) -> Result<Vec<usize>, AlgoError> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut edges = vec![f64::NEG_INFINITY];
    edges.extend((10..=100).step_by(5).map(|q| percentile(&sorted, q as f64)));
    edges.push(f64::INFINITY);
    if edges.windows(2).any(|w| w[0] == w[1]) {
        return Err(AlgoError::Numerical("cell_ranger mean-bin percentile edges are not unique".into()));
    }
    Ok(values.iter().map(|&v| right_closed_bin(&edges, v)).collect())
}

/// Seurat bin statistics (mean, sample std); a bin with fewer than two values gets
/// (0, mean) so that its gene's normalised dispersion is 1.
fn seurat_bin_stats(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let avg = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (0.0, avg);
    }
    let ss = values.iter().map(|v| (v - avg).powi(2)).sum::<f64>();
    (avg, (ss / (n - 1.0)).sqrt())
}

/// Cell Ranger bin statistics (median, MAD scaled by 1/Φ⁻¹(¾) as statsmodels' `mad`).
fn cell_ranger_bin_stats(values: Vec<f64>) -> (f64, f64) {
    /// Φ⁻¹(0.75), statsmodels' normalising constant.
    const MAD_SCALE: f64 = 0.674_489_750_196_081_7;
    let Some(center) = median(values.clone()) else {
        return (f64::NAN, f64::NAN);
    };
    let deviations = values.iter().map(|v| (v - center).abs() / MAD_SCALE).collect();
    (center, median(deviations).unwrap_or(f64::NAN))
}

/// Median of the values (mean of the two middle ones for an even count); `None` if empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

/// scanpy's `n_top_genes` rule: threshold at the N-th largest non-NaN score (all of them if
/// fewer), keep every gene at or above it (NaN never kept).
fn top_n_with_ties(scores: &[f64], n: usize) -> Vec<bool> {
    let mut finite: Vec<f64> = scores.iter().copied().filter(|s| !s.is_nan()).collect();
    if finite.is_empty() {
        return vec![false; scores.len()];
    }
    finite.sort_by(|a, b| b.total_cmp(a));
    let cut = finite[n.min(finite.len()) - 1];
    scores.iter().map(|&s| !s.is_nan() && s >= cut).collect()
}

/// The `seurat_v3` flavour on counts.
fn seurat_v3_hvg(x: &Csr, n_top_genes: usize, span: f64) -> Result<Hvg, AlgoError> {
    let moments = x.column_moments()?;
    let trend = SeuratV3Trend::fit(&moments, x.n_rows, span)?;
    let mut sums = ClipSums::new(x.n_cols);
    for (&j, &v) in x.indices.iter().zip(&x.data) {
        sums.add(&trend, j, v);
    }
    Ok(trend.select(moments, &sums, x.n_rows, n_top_genes))
}

/// `seurat_v3`'s mean–variance trend: each gene's regularised standard deviation and the value
/// its counts are clipped at.
struct SeuratV3Trend {
    reg_std: Vec<f64>,
    clip: Vec<f64>,
}

impl SeuratV3Trend {
    fn fit(moments: &ColumnMoments, n_rows: usize, span: f64) -> Result<Self, AlgoError> {
        let (mean, var) = (&moments.mean, &moments.var);
        let n_cols = mean.len();
        let varying: Vec<usize> = (0..n_cols).filter(|&j| var[j] > 0.0).collect();
        let log_mean: Vec<f64> = varying.iter().map(|&j| mean[j].log10()).collect();
        let log_var: Vec<f64> = varying.iter().map(|&j| var[j].log10()).collect();
        let fitted = loess_fit(&log_mean, &log_var, span)?;
        let mut reg_std = vec![1.0f64; n_cols];
        for (&j, f) in varying.iter().zip(fitted) {
            reg_std[j] = 10f64.powf(f).sqrt();
        }
        let n = n_rows as f64;
        let clip = (0..n_cols).map(|j| reg_std[j] * n.sqrt() + mean[j]).collect();
        Ok(SeuratV3Trend { reg_std, clip })
    }

    /// Ranks the genes by the variance of their standardised clipped counts.
    fn select(self, moments: ColumnMoments, sums: &ClipSums, n_rows: usize, n_top_genes: usize) -> Hvg {
        let (n, mean, reg_std) = (n_rows as f64, &moments.mean, &self.reg_std);
        let norm_var: Vec<f64> = (0..mean.len())
            .map(|j| {
                (n * mean[j] * mean[j] + sums.sum_sq[j] - 2.0 * sums.sum[j] * mean[j])
                    / ((n - 1.0) * reg_std[j] * reg_std[j])
            })
            .collect();
        let mut order: Vec<usize> = (0..mean.len()).collect();
        order.sort_by(|&a, &b| norm_var[b].total_cmp(&norm_var[a]));
        let mut highly_variable = vec![false; mean.len()];
        order.iter().take(n_top_genes).for_each(|&j| highly_variable[j] = true);
        Hvg { highly_variable, means: moments.mean, dispersions: moments.var, dispersions_norm: norm_var }
    }
}

/// Sums and sums of squares of each gene's clipped counts, added in storage order.
struct ClipSums {
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
}

impl ClipSums {
    fn new(n_cols: usize) -> Self {
        ClipSums { sum: vec![0.0; n_cols], sum_sq: vec![0.0; n_cols] }
    }

    fn add(&mut self, trend: &SeuratV3Trend, j: u32, v: f32) {
        let j = j as usize;
        let c = f64::from(v).min(trend.clip[j]);
        self.sum[j] += c;
        self.sum_sq[j] += c * c;
    }
}

/// Subsamples cells per perturbation as the gCRL paper does for Joung et al.: at most
/// `n_controls` control cells, at most `max_per_perturbation` cells of each perturbation, and
/// perturbations with fewer than `min_cells` cells dropped entirely.
///
/// A perturbation is the set of a cell's targets (order and repeats ignored); a cell with no
/// targets is a control. Cells are drawn without replacement, uniformly within each group, from
/// one generator seeded with `seed` and visiting groups in sorted order.
///
/// # Arguments
/// * `targets` – per cell, the perturbed genes (empty for controls).
/// * `n_controls`, `max_per_perturbation`, `min_cells` – as above (the paper: 10 000, 1 000, 500).
/// * `seed` – random seed.
///
/// # Returns
/// The kept cell indices, increasing.
///
/// # Complexity
/// O(n log n).
pub fn subsample(
    targets: &[Vec<String>],
    n_controls: usize,
    max_per_perturbation: usize,
    min_cells: usize,
    seed: u64,
) -> Vec<usize> {
    let mut groups: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
    for (i, t) in targets.iter().enumerate() {
        let mut key: Vec<&str> = t.iter().map(String::as_str).collect();
        key.sort_unstable();
        key.dedup();
        groups.entry(key).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut kept = Vec::new();
    for (key, mut cells) in groups {
        let cap = if key.is_empty() {
            n_controls
        } else if cells.len() < min_cells {
            continue;
        } else {
            max_per_perturbation
        };
        if cells.len() > cap {
            let (chosen, _) = cells.partial_shuffle(&mut rng, cap);
            kept.extend_from_slice(chosen);
        } else {
            kept.extend(cells);
        }
    }
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Decodes the varint CSR format written by `crosscheck/export_fixture.py`.
    fn decode_fixture(bytes: &[u8]) -> Csr {
        let mut pos = 0;
        let mut next = || {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let b = bytes[pos];
                pos += 1;
                v |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    return v;
                }
            }
        };
        let (n_rows, n_cols) = (next() as usize, next() as usize);
        let (mut indptr, mut indices, mut data) = (vec![0u64], Vec::new(), Vec::new());
        for _ in 0..n_rows {
            let nnz = next();
            let mut col = -1i64;
            for _ in 0..nnz {
                col += next() as i64;
                indices.push(col as u32);
                data.push(next() as f32);
            }
            indptr.push(indices.len() as u64);
        }
        Csr::new(n_rows, n_cols, indptr, indices, data).unwrap()
    }

    /// Every 4th cell of /work/shared/data/papalexi2021_lowmoi.h5ad (5,183 × 299 raw counts),
    /// written by `python tests/crosscheck/export_fixture.py <h5ad> papalexi_every4th.bin 4`.
    fn papalexi() -> Csr {
        decode_fixture(include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/papalexi_every4th.bin")))
    }

    fn papalexi_log() -> Csr {
        let mut x = papalexi();
        normalize_total(&mut x, Some(1e4)).unwrap();
        log1p(&mut x).unwrap();
        x
    }

    fn selected(hvg: &Hvg) -> Vec<usize> {
        (0..hvg.highly_variable.len()).filter(|&j| hvg.highly_variable[j]).collect()
    }

    fn assert_rel(got: &[f64], want: &[f64], tol: f64) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol * w.abs().max(1e-12), "{g} vs {w}");
        }
    }

    // Expected values: scanpy 1.11.5 (anndata 0.12.19, numpy 2.4.6, pandas 2.3.3,
    // scikit-misc 0.5.x) via `crosscheck/export_fixture.py` on the fixture above:
    //   ad = sc.read_h5ad(h5ad)[::4].copy()
    //   v3 = sc.pp.highly_variable_genes(ad, flavor="seurat_v3", n_top_genes=100, inplace=False)
    //   sc.pp.normalize_total(ad, target_sum=1e4); sc.pp.log1p(ad)
    //   sc.pp.highly_variable_genes(ad, flavor=f, n_top_genes=100 or None, inplace=False)
    const SEURAT_GENES: &[usize] = &[
        3, 4, 14, 16, 20, 23, 25, 27, 29, 32, 33, 35, 39, 40, 43, 47, 49, 54, 55, 58, 62, 67, 70, 73, 75, 77, 79, 87,
        88, 90, 92, 94, 96, 97, 98, 102, 103, 104, 105, 110, 112, 113, 115, 120, 121, 129, 132, 133, 136, 144, 146,
        148, 150, 151, 153, 164, 166, 171, 172, 173, 174, 176, 181, 187, 189, 190, 193, 195, 196, 201, 206, 208, 210,
        213, 215, 217, 222, 228, 236, 239, 251, 252, 253, 254, 256, 257, 259, 260, 262, 263, 265, 270, 273, 283, 285,
        286, 287, 296, 297, 298,
    ];
    const CELL_RANGER_GENES: &[usize] = &[
        0, 4, 8, 10, 14, 20, 24, 25, 26, 27, 29, 33, 35, 39, 40, 42, 43, 46, 47, 54, 55, 59, 60, 61, 62, 67, 70, 73,
        75, 78, 79, 81, 86, 90, 92, 94, 95, 96, 97, 98, 103, 105, 110, 120, 132, 133, 144, 146, 148, 150, 151, 153,
        154, 158, 161, 164, 171, 173, 176, 178, 180, 185, 186, 189, 190, 193, 196, 201, 206, 209, 210, 213, 218, 223,
        225, 227, 228, 233, 236, 237, 238, 239, 244, 245, 251, 252, 254, 257, 258, 259, 260, 262, 265, 270, 281, 283,
        285, 287, 292, 298,
    ];
    const SEURAT_CUTOFFS_GENES: &[usize] = &[
        3, 4, 14, 29, 35, 39, 40, 54, 58, 62, 70, 73, 75, 79, 87, 92, 96, 97, 98, 102, 103, 105, 110, 112, 120, 129,
        132, 151, 153, 164, 172, 173, 181, 187, 190, 193, 195, 201, 210, 215, 217, 228, 251, 252, 257, 259, 262, 265,
        270, 285, 286, 287,
    ];
    const SEURAT_V3_GENES: &[usize] = &[
        3, 4, 14, 16, 20, 22, 23, 25, 27, 32, 33, 35, 36, 42, 43, 48, 49, 54, 55, 58, 67, 70, 73, 75, 77, 79, 82, 84,
        85, 87, 92, 94, 96, 98, 102, 103, 104, 110, 111, 113, 132, 133, 136, 142, 146, 148, 151, 152, 153, 157, 164,
        166, 169, 171, 172, 173, 174, 176, 179, 181, 183, 187, 192, 193, 195, 196, 199, 202, 206, 213, 217, 222, 228,
        229, 233, 236, 249, 250, 251, 253, 254, 257, 261, 262, 263, 265, 270, 272, 273, 274, 276, 280, 281, 285, 286,
        287, 289, 296, 297, 298,
    ];
    const SEURAT_MEANS_FIRST5: [f64; 5] =
        [1.2811128166574004, 4.439133401775378, 3.652791570514955, 1.5293325725185483, 0.3572895635898982];
    const SEURAT_DISPERSIONS_NORM_FIRST5: [f64; 5] =
        [-0.5759186622034095, -0.1851653918415683, -0.24856748504160972, 0.8300321526200081, 1.96352960549245];
    const CELL_RANGER_MEANS_FIRST5: [f64; 5] =
        [0.19083368081327068, 3.305542267222168, 1.95528493225632, 0.2580687099043154, 0.027928742482904622];
    const CELL_RANGER_DISPERSIONS_NORM_FIRST5: [f64; 5] =
        [0.5745131260499626, 0.20807518493853622, 0.29694136394296716, 0.0, 0.9810676115263729];
    const SEURAT_V3_VARIANCES_NORM_FIRST5: [f64; 5] =
        [0.9138043835557599, 0.874214175849096, 0.9347824349305197, 1.052818897329244, 1.9881979956941371];

    #[test]
    fn normalize_total_and_log1p_match_scanpy() {
        let dense = array![[1f32, 0., 3.], [0., 0., 0.], [2., 2., 2.], [5., 1., 1.]];
        // a = AnnData(dense); sc.pp.normalize_total(a, target_sum=1e4)
        let want_1e4 = [
            [2500.0, 0.0, 7500.0],
            [0.0, 0.0, 0.0],
            [3333.333251953125, 3333.333251953125, 3333.333251953125],
            [7142.857421875, 1428.571533203125, 1428.571533203125],
        ];
        let mut x = Csr::from_dense(&dense.view()).unwrap();
        normalize_total(&mut x, Some(1e4)).unwrap();
        assert_eq!(x.to_dense(), ndarray::Array2::from(want_1e4.map(|r| r.map(|v| v as f32)).to_vec()));
        // a = AnnData(dense); sc.pp.normalize_total(a); sc.pp.log1p(a)   (target = median 6 of
        // the non-zero totals 4, 6, 7)
        let want_log = [
            [0.9162907600402832, 0.0, 1.7047481536865234],
            [0.0, 0.0, 0.0],
            [1.0986123085021973, 1.0986123085021973, 1.0986123085021973],
            [1.6650078296661377, 0.6190392374992371, 0.6190392374992371],
        ];
        let mut x = Csr::from_dense(&dense.view()).unwrap();
        normalize_total(&mut x, None).unwrap();
        log1p(&mut x).unwrap();
        let got = x.to_dense();
        for (g, w) in got.iter().zip(want_log.as_flattened()) {
            assert!((f64::from(*g) - w).abs() <= 1e-7 * w.max(1.0), "{g} vs {w}");
        }
        assert!(normalize_total(&mut x, Some(0.0)).is_err());
        let mut empty = Csr::from_dense(&ndarray::Array2::zeros((2, 2)).view()).unwrap();
        assert!(matches!(normalize_total(&mut empty, None), Err(AlgoError::TooFew(_))));
    }

    #[test]
    fn seurat_top_genes_match_scanpy() {
        let hvg = highly_variable_genes(&papalexi_log(), Flavor::Seurat, Some(100), &HvgOptions::default()).unwrap();
        assert_eq!(selected(&hvg), SEURAT_GENES);
        assert_rel(&hvg.means[..5], &SEURAT_MEANS_FIRST5, 1e-5);
        assert_rel(&hvg.dispersions_norm[..5], &SEURAT_DISPERSIONS_NORM_FIRST5, 1e-5);
    }

    #[test]
    fn seurat_cutoffs_match_scanpy() {
        let hvg = highly_variable_genes(&papalexi_log(), Flavor::Seurat, None, &HvgOptions::default()).unwrap();
        assert_eq!(selected(&hvg), SEURAT_CUTOFFS_GENES);
    }

    #[test]
    fn cell_ranger_top_genes_match_scanpy() {
        let hvg =
            highly_variable_genes(&papalexi_log(), Flavor::CellRanger, Some(100), &HvgOptions::default()).unwrap();
        assert_eq!(selected(&hvg), CELL_RANGER_GENES);
        assert_rel(&hvg.means[..5], &CELL_RANGER_MEANS_FIRST5, 1e-5);
        assert_rel(&hvg.dispersions_norm[..5], &CELL_RANGER_DISPERSIONS_NORM_FIRST5, 1e-5);
    }

    #[test]
    fn seurat_v3_matches_scanpy() {
        let hvg = highly_variable_genes(&papalexi(), Flavor::SeuratV3, Some(100), &HvgOptions::default()).unwrap();
        assert_eq!(selected(&hvg), SEURAT_V3_GENES);
        assert_rel(&hvg.dispersions_norm[..5], &SEURAT_V3_VARIANCES_NORM_FIRST5, 1e-9);
    }

    #[test]
    fn hvg_rejects_bad_options() {
        let x = papalexi_log();
        let opts = HvgOptions::default();
        assert!(highly_variable_genes(&x, Flavor::Seurat, Some(0), &opts).is_err());
        let bad_span = HvgOptions { span: 0.0, ..opts };
        assert!(highly_variable_genes(&x, Flavor::SeuratV3, Some(10), &bad_span).is_err());
    }

    #[test]
    fn subsample_caps_groups_and_drops_small_perturbations() {
        let label = |s: &str| -> Vec<String> { s.split('+').filter(|t| !t.is_empty()).map(String::from).collect() };
        let mut targets = Vec::new();
        targets.extend((0..50).map(|_| label("")));
        targets.extend((0..30).map(|_| label("A")));
        targets.extend((0..5).map(|_| label("B")));
        targets.extend((0..12).map(|_| label("A+C")));
        targets.extend((0..12).map(|_| label("C+A")));
        let kept = subsample(&targets, 20, 10, 8, 7);
        let count = |key: &str| kept.iter().filter(|&&i| targets[i] == label(key)).count();
        assert_eq!(count(""), 20);
        assert_eq!(count("A"), 10);
        assert_eq!(count("B"), 0);
        // A+C and C+A are one perturbation of 24 cells.
        assert_eq!(count("A+C") + count("C+A"), 10);
        assert!(kept.is_sorted());
        assert_eq!(kept, subsample(&targets, 20, 10, 8, 7));
        assert_ne!(kept, subsample(&targets, 20, 10, 8, 8));
    }
}
