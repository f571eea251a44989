//! Compressed sparse row (CSR) matrices of `f32` values: the in-memory form of cells × genes
//! count and expression matrices before gene subsetting.
//!
//! Owns validation of the CSR invariants, row access, row/column subsetting, densification and
//! per-column moments. It knows nothing of files or of what rows and columns mean.

use ndarray::Array2;

use crate::algo::AlgoError;

/// A `n_rows × n_cols` matrix in compressed sparse row form.
///
/// Invariants (checked by [`Csr::new`]): `indptr` has `n_rows + 1` non-decreasing entries starting
/// at 0 and ending at `indices.len() == data.len()`; inside each row the column indices are
/// strictly increasing and `< n_cols`; every value is finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    /// Number of rows (cells).
    pub n_rows: usize,
    /// Number of columns (genes).
    pub n_cols: usize,
    /// Row `i` holds the entries `indptr[i]..indptr[i + 1]` of `indices` and `data`.
    pub indptr: Vec<u64>,
    /// Column index of each stored entry.
    pub indices: Vec<u32>,
    /// Value of each stored entry.
    pub data: Vec<f32>,
}

/// Per-column mean and sample variance (ddof = 1) of a matrix, in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMoments {
    /// Mean of each column over all rows (implicit zeros included).
    pub mean: Vec<f64>,
    /// Sample variance (denominator `n_rows − 1`) of each column.
    pub var: Vec<f64>,
}

impl Csr {
    /// Builds a CSR matrix from its parts after checking every invariant.
    ///
    /// Rows whose column indices are unsorted are sorted (values follow); duplicate column
    /// indices inside a row are summed, as `scipy.sparse` does when it canonicalises.
    ///
    /// # Errors
    /// [`AlgoError::Shape`] for inconsistent lengths, [`AlgoError::Param`] for a non-monotone
    /// `indptr` or an out-of-range column index, [`AlgoError::NonFinite`] for NaN/inf values.
    ///
    /// # Complexity
    /// O(nnz) for canonical input, O(nnz log r) when rows of length r need sorting.
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<u64>,
        indices: Vec<u32>,
        data: Vec<f32>,
    ) -> Result<Self, AlgoError> {
        if indptr.len() != n_rows + 1 {
            return Err(shape("indptr length", n_rows + 1, indptr.len()));
        }
        if indices.len() != data.len() {
            return Err(shape("indices vs data length", data.len(), indices.len()));
        }
        if indptr[0] != 0 || indptr[n_rows] as usize != data.len() {
            return Err(AlgoError::Param {
                name: "indptr".into(),
                why: format!("must start at 0 and end at nnz = {}, got {}..{}", data.len(), indptr[0], indptr[n_rows]),
            });
        }
        if let Some(i) = indptr.windows(2).position(|w| w[0] > w[1]) {
            return Err(AlgoError::Param { name: "indptr".into(), why: format!("decreases at row {i}") });
        }
        if let Some(&j) = indices.iter().find(|&&j| j as usize >= n_cols) {
            return Err(AlgoError::Param {
                name: "indices".into(),
                why: format!("column {j} out of range for {n_cols} columns"),
            });
        }
        if let Some(p) = data.iter().position(|v| !v.is_finite()) {
            return Err(AlgoError::NonFinite(format!("CSR value at position {p}")));
        }
        let mut m = Csr { n_rows, n_cols, indptr, indices, data };
        m.canonicalise();
        Ok(m)
    }

    /// Builds a CSR matrix holding the non-zero entries of a dense row-major matrix.
    ///
    /// # Errors
    /// [`AlgoError::NonFinite`] if any value is NaN or infinite.
    pub fn from_dense(dense: &ndarray::ArrayView2<f32>) -> Result<Self, AlgoError> {
        let (n_rows, n_cols) = dense.dim();
        let mut indptr = Vec::with_capacity(n_rows + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for row in dense.rows() {
            for (j, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(AlgoError::NonFinite("dense matrix value".into()));
                }
                if v != 0.0 {
                    indices.push(j as u32);
                    data.push(v);
                }
            }
            indptr.push(data.len() as u64);
        }
        Ok(Csr { n_rows, n_cols, indptr, indices, data })
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// Column indices and values of row `i`.
    ///
    /// # Panics
    /// If `i >= n_rows`.
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let r = self.indptr[i] as usize..self.indptr[i + 1] as usize;
        (&self.indices[r.clone()], &self.data[r])
    }

    /// Iterates over rows as `(column indices, values)`.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = (&[u32], &[f32])> + '_ {
        (0..self.n_rows).map(|i| self.row(i))
    }

    /// Sum of each row, accumulated in f64.
    pub fn row_sums(&self) -> Vec<f64> {
        self.rows().map(|(_, v)| v.iter().map(|&x| f64::from(x)).sum()).collect()
    }

    /// Applies `f` to every stored value (implicit zeros are untouched, so `f(0)` should be 0).
    pub fn map_values(&mut self, f: impl Fn(f32) -> f32 + Sync + Send) {
        use rayon::prelude::*;
        self.data.par_iter_mut().with_min_len(1 << 16).for_each(|v| *v = f(*v));
    }

    /// The sub-matrix of the given rows, in the given order (rows may repeat).
    ///
    /// # Errors
    /// [`AlgoError::Param`] if a row index is out of range.
    ///
    /// # Complexity
    /// O(len(rows) + nnz of the selected rows).
    pub fn select_rows(&self, rows: &[usize]) -> Result<Csr, AlgoError> {
        if let Some(&i) = rows.iter().find(|&&i| i >= self.n_rows) {
            return Err(AlgoError::Param {
                name: "rows".into(),
                why: format!("row {i} out of range for {} rows", self.n_rows),
            });
        }
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for &i in rows {
            let (idx, val) = self.row(i);
            indices.extend_from_slice(idx);
            data.extend_from_slice(val);
            indptr.push(data.len() as u64);
        }
        Ok(Csr { n_rows: rows.len(), n_cols: self.n_cols, indptr, indices, data })
    }

    /// The sub-matrix of the given columns; column `cols[k]` becomes column `k`.
    ///
    /// Columns may be given in any order but not twice.
    ///
    /// # Errors
    /// [`AlgoError::Param`] if a column is out of range or repeated.
    ///
    /// # Complexity
    /// O(n_cols + nnz), plus a per-row sort when `cols` is not increasing.
    pub fn select_cols(&self, cols: &[usize]) -> Result<Csr, AlgoError> {
        let mut new_index = vec![u32::MAX; self.n_cols];
        for (k, &j) in cols.iter().enumerate() {
            if j >= self.n_cols {
                return Err(AlgoError::Param {
                    name: "cols".into(),
                    why: format!("column {j} out of range for {} columns", self.n_cols),
                });
            }
            if new_index[j] != u32::MAX {
                return Err(AlgoError::Param { name: "cols".into(), why: format!("column {j} selected twice") });
            }
            new_index[j] = k as u32;
        }
        let mut indptr = Vec::with_capacity(self.n_rows + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for (idx, val) in self.rows() {
            for (&j, &v) in idx.iter().zip(val) {
                let k = new_index[j as usize];
                if k != u32::MAX {
                    indices.push(k);
                    data.push(v);
                }
            }
            indptr.push(data.len() as u64);
        }
        let mut m = Csr { n_rows: self.n_rows, n_cols: cols.len(), indptr, indices, data };
        if !cols.is_sorted() {
            m.canonicalise();
        }
        Ok(m)
    }

    /// The dense `n_rows × n_cols` matrix.
    ///
    /// # Complexity
    /// O(n_rows · n_cols) memory and time.
    pub fn to_dense(&self) -> Array2<f32> {
        let mut out = Array2::zeros((self.n_rows, self.n_cols));
        for (i, (idx, val)) in self.rows().enumerate() {
            for (&j, &v) in idx.iter().zip(val) {
                out[[i, j as usize]] = v;
            }
        }
        out
    }

    /// Per-column mean and sample variance (ddof = 1) in a single pass over the stored values.
    ///
    /// Each column's stored values are accumulated with Welford's update in f64 and then merged
    /// with the column's implicit zeros (Chan et al.'s pairwise formula), so the result is as
    /// accurate as a two-pass computation.
    ///
    /// # Errors
    /// [`AlgoError::TooFew`] if the matrix has fewer than two rows.
    ///
    /// # Complexity
    /// O(nnz + n_cols) time, O(n_cols) memory.
    pub fn column_moments(&self) -> Result<ColumnMoments, AlgoError> {
        self.column_moments_of(|v| v)
    }

    /// [`Csr::column_moments`] of `f` applied to every stored value (`f(0)` must be 0), without
    /// materialising the transformed matrix. Rows are processed in fixed blocks in parallel and
    /// the blocks merged in order (Chan et al.), so the result does not depend on thread count.
    pub fn column_moments_of(&self, f: impl Fn(f32) -> f32 + Sync) -> Result<ColumnMoments, AlgoError> {
        use rayon::prelude::*;
        const BLOCK: usize = 4096;
        if self.n_rows < 2 {
            return Err(AlgoError::TooFew(format!("column variance needs at least 2 rows, got {}", self.n_rows)));
        }
        let blocks: Vec<(Vec<u64>, Vec<f64>, Vec<f64>)> = (0..self.n_rows.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let (lo, hi) =
                    (self.indptr[b * BLOCK] as usize, self.indptr[((b + 1) * BLOCK).min(self.n_rows)] as usize);
                let (mut count, mut mean, mut m2) =
                    (vec![0u64; self.n_cols], vec![0.0; self.n_cols], vec![0.0; self.n_cols]);
                for (&j, &v) in self.indices[lo..hi].iter().zip(&self.data[lo..hi]) {
                    let j = j as usize;
                    count[j] += 1;
                    let x = f64::from(f(v));
                    let delta = x - mean[j];
                    mean[j] += delta / count[j] as f64;
                    m2[j] += delta * (x - mean[j]);
                }
                (count, mean, m2)
            })
            .collect();
        let (mut count, mut mean, mut m2) =
            (vec![0u64; self.n_cols], vec![0.0f64; self.n_cols], vec![0.0f64; self.n_cols]);
        for (bc, bm, bm2) in blocks {
            for j in 0..self.n_cols {
                if bc[j] == 0 {
                    continue;
                }
                let (na, nb) = (count[j] as f64, bc[j] as f64);
                let delta = bm[j] - mean[j];
                let n = na + nb;
                mean[j] += delta * nb / n;
                m2[j] += bm2[j] + delta * delta * na * nb / n;
                count[j] += bc[j];
            }
        }
        let n = self.n_rows as f64;
        for j in 0..self.n_cols {
            // Merge {count[j] stored values} with {n − count[j] zeros (mean 0, M2 0)}.
            let na = count[j] as f64;
            let nb = n - na;
            let delta = -mean[j];
            m2[j] += delta * delta * na * nb / n;
            mean[j] *= na / n;
        }
        let var = m2.into_iter().map(|s| s / (n - 1.0)).collect();
        Ok(ColumnMoments { mean, var })
    }

    /// Sorts the column indices of each row and sums duplicates, in place.
    fn canonicalise(&mut self) {
        let canonical = (0..self.n_rows).all(|i| self.row(i).0.windows(2).all(|w| w[0] < w[1]));
        if canonical {
            return;
        }
        let mut indptr = Vec::with_capacity(self.n_rows + 1);
        let mut indices = Vec::with_capacity(self.nnz());
        let mut data = Vec::with_capacity(self.nnz());
        indptr.push(0);
        let mut entries: Vec<(u32, f32)> = Vec::new();
        for (idx, val) in self.rows() {
            entries.clear();
            entries.extend(idx.iter().copied().zip(val.iter().copied()));
            entries.sort_by_key(|&(j, _)| j);
            for &(j, v) in &entries {
                if indices.len() > *indptr.last().unwrap() as usize && indices.last() == Some(&j) {
                    *data.last_mut().unwrap() += v;
                } else {
                    indices.push(j);
                    data.push(v);
                }
            }
            indptr.push(data.len() as u64);
        }
        self.indptr = indptr;
        self.indices = indices;
        self.data = data;
    }
}

fn shape(what: &str, expected: usize, got: usize) -> AlgoError {
    AlgoError::Shape { what: what.into(), expected, got }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn example() -> Csr {
        // [[1, 0, 2], [0, 0, 0], [0, 3, 4], [5, 0, 0]]
        Csr::new(4, 3, vec![0, 2, 2, 4, 5], vec![0, 2, 1, 2, 0], vec![1., 2., 3., 4., 5.]).unwrap()
    }

    #[test]
    fn validation_rejects_bad_parts() {
        let bad_len = Csr::new(2, 2, vec![0, 1], vec![0], vec![1.]);
        assert!(matches!(bad_len, Err(AlgoError::Shape { .. })));
        let decreasing = Csr::new(2, 2, vec![0, 2, 1], vec![0], vec![1.]);
        assert!(matches!(decreasing, Err(AlgoError::Param { .. })));
        let out_of_range = Csr::new(1, 2, vec![0, 1], vec![2], vec![1.]);
        assert!(matches!(out_of_range, Err(AlgoError::Param { .. })));
        let nan = Csr::new(1, 2, vec![0, 1], vec![0], vec![f32::NAN]);
        assert!(matches!(nan, Err(AlgoError::NonFinite(_))));
    }

    #[test]
    fn unsorted_rows_are_sorted_and_duplicates_summed() {
        let m = Csr::new(1, 4, vec![0, 4], vec![3, 1, 3, 0], vec![1., 2., 3., 4.]).unwrap();
        assert_eq!(m.indices, vec![0, 1, 3]);
        assert_eq!(m.data, vec![4., 2., 4.]);
    }

    #[test]
    fn dense_round_trip_and_subsetting() {
        let m = example();
        let dense = array![[1., 0., 2.], [0., 0., 0.], [0., 3., 4.], [5., 0., 0.]];
        assert_eq!(m.to_dense(), dense);
        assert_eq!(Csr::from_dense(&dense.view()).unwrap(), m);
        let cols = m.select_cols(&[2, 0]).unwrap();
        assert_eq!(cols.to_dense(), array![[2., 1.], [0., 0.], [4., 0.], [0., 5.]]);
        let rows = m.select_rows(&[3, 0, 3]).unwrap();
        assert_eq!(rows.to_dense(), array![[5., 0., 0.], [1., 0., 2.], [5., 0., 0.]]);
        assert!(m.select_cols(&[0, 0]).is_err());
        assert!(m.select_rows(&[4]).is_err());
        assert_eq!(m.row_sums(), vec![3., 0., 7., 5.]);
    }

    #[test]
    fn column_moments_match_numpy() {
        // numpy: X.mean(0) = [1.5, 0.75, 1.5]; X.var(0, ddof=1) = [5.6666667, 2.25, 3.6666667]
        let mm = example().column_moments().unwrap();
        let want_mean = [1.5, 0.75, 1.5];
        let want_var = [17.0 / 3.0, 2.25, 11.0 / 3.0];
        for j in 0..3 {
            assert!((mm.mean[j] - want_mean[j]).abs() < 1e-12);
            assert!((mm.var[j] - want_var[j]).abs() < 1e-12);
        }
    }
}
