//! `preprocess` over a matrix read a row at a time: gene detection, normalize_total, log1p and
//! the HVG statistics are gathered in passes over the rows, and the normalised rows are then
//! made one at a time, so neither a copy of the counts nor the whole normalised matrix exists.
//!
//! Every number equals what the whole-matrix functions of the parent module give on the
//! subsetted matrix (the same f32 operations per value, the same 4,096-row blocks of the column
//! moments, the same storage order of the `seurat_v3` sums), whatever the rows are stored in.

use rayon::prelude::*;

use super::compact;
use super::{ClipSums, Flavor, Hvg, HvgOptions, SeuratV3Trend, check_hvg, dispersion_select, divisors, vmath};
use crate::algo::AlgoError;
use crate::algo::sparse::{Rows, column_moments_by_row};

/// What `preprocess` does to the counts, in order.
#[derive(Debug, Clone)]
pub struct Steps {
    /// Genes detected (non-zero) in fewer rows leave before everything else.
    pub min_detected: usize,
    /// `Some(target_sum)`: normalize_total (`None` inside: to the median total); `None`: the
    /// values are used as given.
    pub normalise: Option<Option<f64>>,
    /// ln(1 + x) after normalising.
    pub log1p: bool,
    /// HVG method; `SeuratV3` ranks the raw counts.
    pub flavor: Flavor,
    /// Number of HVGs (`None`: the cut-offs of `options`).
    pub n_top_genes: Option<usize>,
    /// HVG cut-offs and binning.
    pub options: HvgOptions,
}

/// The statistics [`prepare`] gathered, and what [`Prepared::row_into`] needs to make rows.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Rows in which each gene is detected (non-zero), for every input gene.
    pub detected: Vec<usize>,
    /// The input genes left after `min_detected`, increasing.
    pub passing: Vec<usize>,
    /// The HVG statistics of the passing genes, in their order.
    pub hvg: Hvg,
    /// Per input gene, its position among the passing genes.
    position: Vec<Option<u32>>,
    /// Per row, what normalize_total divides it by (`None`: not normalised).
    divisors: Option<Vec<f32>>,
    log1p: bool,
}

/// Gathers gene detection, the totals of normalize_total and the HVG statistics of `x` in
/// passes over its rows (rows in parallel blocks).
///
/// # Errors
/// As `normalize_total` (a bad `target_sum`, every total zero), `log1p` (negative values) and
/// `highly_variable_genes` (fewer than two rows, no passing gene, bad HVG options).
pub fn prepare(x: &impl Rows, steps: &Steps) -> Result<Prepared, AlgoError> {
    let detected = detected(x);
    let passing: Vec<usize> = (0..x.n_cols()).filter(|&j| detected[j] >= steps.min_detected).collect();
    let mut position = vec![None; x.n_cols()];
    for (k, &j) in passing.iter().enumerate() {
        position[j] = Some(k as u32);
    }
    check_hvg(passing.len(), steps.n_top_genes)?;
    let mut prepared = Prepared { detected, passing, hvg: Hvg::default(), position, divisors: None, log1p: false };
    let raw = |i: usize, idx: &mut Vec<u32>, val: &mut Vec<f32>| prepared.passing_row(x, i, idx, val);
    let seurat_v3 = match steps.flavor {
        Flavor::SeuratV3 => {
            let moments = column_moments_by_row(x.n_rows(), prepared.passing.len(), raw)?;
            let trend = SeuratV3Trend::fit(&moments, x.n_rows(), steps.options.span)?;
            let mut sums = ClipSums::new(prepared.passing.len());
            let (mut idx, mut val) = (Vec::new(), Vec::new());
            for i in 0..x.n_rows() {
                idx.clear();
                val.clear();
                raw(i, &mut idx, &mut val);
                idx.iter().zip(&val).for_each(|(&j, &v)| sums.add(&trend, j, v));
            }
            Some(trend.select(moments, &sums, x.n_rows(), steps.n_top_genes.unwrap_or(2000)))
        }
        _ => None,
    };
    if let Some(target_sum) = steps.normalise {
        // One pass gives each row's total over the passing genes and whether it holds a
        // negative value (which log1p refuses), both in branch-free folds.
        let rows: Vec<(f32, bool)> = (0..x.n_rows())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| {
                let (cols, values) = x.row(i);
                let kept = cols.iter().zip(values).filter(|&(&j, _)| prepared.position[j as usize].is_some());
                let total = kept.map(|(_, &v)| f64::from(v)).sum::<f64>() as f32;
                (total, values.iter().fold(false, |any, &v| any | (v < 0.0)))
            })
            .collect();
        let totals: Vec<f32> = rows.iter().map(|r| r.0).collect();
        prepared.divisors = Some(divisors(&totals, target_sum)?);
        if steps.log1p {
            if let Some(i) = rows.iter().position(|r| r.1)
                && let Some(v) = x.row(i).1.iter().copied().find(|&v| v < 0.0)
            {
                return Err(AlgoError::Param { name: "x".into(), why: format!("log1p of {v} is undefined") });
            }
            prepared.log1p = true;
        }
    }
    prepared.hvg = match seurat_v3 {
        Some(hvg) => hvg,
        None => {
            let seurat = steps.flavor == Flavor::Seurat;
            let moments = column_moments_by_row(x.n_rows(), prepared.passing.len(), |i, idx, val| {
                prepared.transformed_row(x, i, idx, val);
                if seurat {
                    // scanpy applies np.expm1 to the float32 values.
                    vmath::exp_m1_in_place(val);
                }
            })?;
            dispersion_select(moments, steps.flavor, steps.n_top_genes, &steps.options)?
        }
    };
    Ok(prepared)
}

impl Prepared {
    /// Where the output puts each input gene: `out` gives each passing gene its output position
    /// (or none).
    pub fn output_genes(&self, out: &[Option<u32>]) -> OutputGenes {
        let map = self.position.iter().map(|p| p.and_then(|k| out[k as usize]).unwrap_or(compact::NONE));
        OutputGenes(map.collect())
    }

    /// How many entries row `i` of `x` has in the output.
    pub fn row_len(&self, x: &impl Rows, i: usize, genes: &OutputGenes) -> usize {
        compact::count(x.row(i).0, &genes.0)
    }

    /// Row `i` of `x` as the output holds it, into `idx` and `val` ([`Self::row_len`] long):
    /// the entries of the output genes, normalised and logged as the steps say.
    pub fn write_row(&self, x: &impl Rows, i: usize, genes: &OutputGenes, idx: &mut [u32], val: &mut [f32]) {
        let (cols, values) = x.row(i);
        let n = compact::keep(cols, values, &genes.0, idx, val);
        self.transform(i, &mut val[..n]);
    }

    /// Row `i` restricted to the passing genes (positions among them), as given.
    fn passing_row(&self, x: &impl Rows, i: usize, idx: &mut Vec<u32>, val: &mut Vec<f32>) {
        let (cols, values) = x.row(i);
        if self.passing.len() == self.position.len() {
            // Every gene passed: positions are the gene indices.
            idx.extend_from_slice(cols);
            val.extend_from_slice(values);
            return;
        }
        for (&j, &v) in cols.iter().zip(values) {
            if let Some(k) = self.position[j as usize] {
                idx.push(k);
                val.push(v);
            }
        }
    }

    /// Row `i` restricted to the passing genes, normalised and logged.
    fn transformed_row(&self, x: &impl Rows, i: usize, idx: &mut Vec<u32>, val: &mut Vec<f32>) {
        self.passing_row(x, i, idx, val);
        self.transform(i, val);
    }

    fn transform(&self, i: usize, values: &mut [f32]) {
        if let Some(d) = &self.divisors {
            values.iter_mut().for_each(|v| *v /= d[i]);
        }
        if self.log1p {
            vmath::ln_1p_in_place(values);
        }
    }
}

/// Per input gene, its position in the output matrix (see [`Prepared::output_genes`]).
#[derive(Debug, Clone)]
pub struct OutputGenes(Vec<u32>);

/// Rows in which each column holds a non-zero value (blocks of rows in parallel).
fn detected(x: &impl Rows) -> Vec<usize> {
    const BLOCK: usize = 4096;
    (0..x.n_rows().div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut counts = vec![0usize; x.n_cols()];
            for i in b * BLOCK..((b + 1) * BLOCK).min(x.n_rows()) {
                let (cols, values) = x.row(i);
                cols.iter().zip(values).filter(|&(_, &v)| v != 0.0).for_each(|(&j, _)| counts[j as usize] += 1);
            }
            counts
        })
        .reduce(
            || vec![0; x.n_cols()],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::preprocess::{highly_variable_genes, log1p, normalize_total};
    use crate::algo::sparse::Csr;

    /// A matrix with genes of every kind: varying, constant, rare, never seen.
    fn counts() -> Csr {
        let (n, g) = (9000, 40);
        let mut dense = ndarray::Array2::<f32>::zeros((n, g));
        for i in 0..n {
            for j in 0..g - 2 {
                let v = ((i * 31 + j * 17) % (j + 3)) as f32 * if (i + j) % 4 == 0 { 3.0 } else { 1.0 };
                dense[[i, j]] = if j == 37 { if i % 2000 == 0 { 1.0 } else { 0.0 } } else { v };
            }
        }
        Csr::from_dense(&dense.view()).unwrap()
    }

    fn steps(flavor: Flavor, min_detected: usize) -> Steps {
        Steps {
            min_detected,
            normalise: Some(Some(1e4)),
            log1p: true,
            flavor,
            n_top_genes: Some(10),
            options: HvgOptions::default(),
        }
    }

    /// The whole-matrix path the node took before: subset genes, normalise, log, HVGs.
    fn whole(x: &Csr, flavor: Flavor, passing: &[usize]) -> (Hvg, Csr) {
        let mut x = x.select_cols(passing).unwrap();
        let raw = (flavor == Flavor::SeuratV3)
            .then(|| highly_variable_genes(&x, flavor, Some(10), &HvgOptions::default()).unwrap());
        normalize_total(&mut x, Some(1e4)).unwrap();
        log1p(&mut x).unwrap();
        let hvg = raw.unwrap_or_else(|| highly_variable_genes(&x, flavor, Some(10), &HvgOptions::default()).unwrap());
        (hvg, x)
    }

    #[test]
    fn row_by_row_equals_the_whole_matrix_to_the_bit() {
        let x = counts();
        for flavor in [Flavor::Seurat, Flavor::CellRanger, Flavor::SeuratV3] {
            for min_detected in [0, 10] {
                let p = prepare(&x, &steps(flavor, min_detected)).unwrap();
                // Gene 37 is seen in 5 cells, genes 38 and 39 in none.
                let expected: Vec<usize> = if min_detected == 0 { (0..40).collect() } else { (0..37).collect() };
                assert_eq!(p.passing, expected, "{flavor:?} {min_detected}");
                let (hvg, normalised) = whole(&x, flavor, &p.passing);
                assert_eq!(p.hvg.highly_variable, hvg.highly_variable, "{flavor:?}");
                for (a, b) in [(&p.hvg.means, &hvg.means), (&p.hvg.dispersions, &hvg.dispersions)] {
                    assert_eq!(
                        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                    );
                }
                let out: Vec<Option<u32>> = (0..p.passing.len() as u32).map(Some).collect();
                for i in [0, 1, 4095, 4096, 8999] {
                    let all = p.output_genes(&out);
                    let n = p.row_len(&x, i, &all);
                    let (mut idx, mut val) = (vec![0; n], vec![0.0; n]);
                    p.write_row(&x, i, &all, &mut idx, &mut val);
                    assert_eq!((idx.as_slice(), val.as_slice()), normalised.row(i), "row {i}");
                }
                // Only some genes out, in new positions.
                let some: Vec<Option<u32>> =
                    (0..p.passing.len() as u32).map(|k| (k % 3 == 1).then_some(k / 3)).collect();
                for i in [0, 17, 8999] {
                    let some = p.output_genes(&some);
                    let n = p.row_len(&x, i, &some);
                    let (mut idx, mut val) = (vec![0; n], vec![0.0; n]);
                    p.write_row(&x, i, &some, &mut idx, &mut val);
                    let (cols, values) = normalised.row(i);
                    let want: Vec<(u32, f32)> =
                        cols.iter().zip(values).filter(|&(&k, _)| k % 3 == 1).map(|(&k, &v)| (k / 3, v)).collect();
                    assert_eq!(idx.into_iter().zip(val).collect::<Vec<_>>(), want, "row {i}");
                }
            }
        }
    }

    #[test]
    fn bad_steps_fail_as_the_whole_matrix_functions_do() {
        let x = counts();
        let mut s = steps(Flavor::Seurat, 0);
        s.normalise = Some(Some(-1.0));
        assert!(matches!(prepare(&x, &s), Err(AlgoError::Param { .. })));
        let mut s = steps(Flavor::Seurat, 0);
        s.n_top_genes = Some(0);
        assert!(matches!(prepare(&x, &s), Err(AlgoError::Param { .. })));
        assert!(matches!(prepare(&x, &steps(Flavor::Seurat, 100_000)), Err(AlgoError::TooFew(_))));
    }
}
