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

/// A cells × genes matrix read by row: each row's gene positions (increasing) and values.
pub trait Rows: Sync {
    /// Number of rows.
    fn n_rows(&self) -> usize;
    /// Number of columns.
    fn n_cols(&self) -> usize;
    /// Column positions and values of row `i`.
    fn row(&self, i: usize) -> (&[u32], &[f32]);
}

impl Rows for Csr {
    fn n_rows(&self) -> usize {
        self.n_rows
    }
    fn n_cols(&self) -> usize {
        self.n_cols
    }
    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        Csr::row(self, i)
    }
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

    /// Sum of each row, accumulated in f64 (rows in parallel).
    pub fn row_sums(&self) -> Vec<f64> {
        use rayon::prelude::*;
        (0..self.n_rows)
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| self.row(i).1.iter().map(|&x| f64::from(x)).sum())
            .collect()
    }

    /// Applies `f` to the stored values, a slice of at most 2¹⁶ at a time, slices in parallel
    /// (implicit zeros are untouched, so `f` should map 0 to 0).
    pub fn map_values(&mut self, f: impl Fn(&mut [f32]) + Sync + Send) {
        use rayon::prelude::*;
        self.data.par_chunks_mut(1 << 16).for_each(f);
    }

    /// Divides every stored value of row `i` by `divisors[i]` (rows in parallel).
    ///
    /// # Panics
    /// If `divisors` has fewer than `n_rows` entries.
    pub fn divide_rows(&mut self, divisors: &[f32]) {
        use rayon::prelude::*;
        const ROWS: usize = 1024;
        let indptr = &self.indptr;
        let mut rest = self.data.as_mut_slice();
        let mut blocks = Vec::with_capacity(self.n_rows.div_ceil(ROWS));
        for start in (0..self.n_rows).step_by(ROWS) {
            let end = (start + ROWS).min(self.n_rows);
            let (block, tail) = std::mem::take(&mut rest).split_at_mut((indptr[end] - indptr[start]) as usize);
            rest = tail;
            blocks.push((start..end, block));
        }
        blocks.into_par_iter().for_each(|(rows, block)| {
            let base = indptr[rows.start];
            for i in rows {
                let d = divisors[i];
                block[(indptr[i] - base) as usize..(indptr[i + 1] - base) as usize].iter_mut().for_each(|v| *v /= d);
            }
        });
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
        let mut m = self.clone().keep_columns(&new_index, cols.len());
        if !cols.is_sorted() {
            m.canonicalise();
        }
        Ok(m)
    }

    /// The matrix with each stored column `j` renumbered `map[j]` and the entries of columns
    /// mapped to `u32::MAX` dropped, compacted in place; `n_kept` columns. `map` holds a place
    /// for every column, and keeps the kept ones in their order (else rows need
    /// [`Self::canonicalise`]).
    pub fn keep_columns(mut self, map: &[u32], n_kept: usize) -> Csr {
        let (mut at, mut start) = (0, 0);
        for i in 0..self.n_rows {
            let end = self.indptr[i + 1] as usize;
            for k in start..end {
                let c = map[self.indices[k] as usize];
                if c != u32::MAX {
                    self.indices[at] = c;
                    self.data[at] = self.data[k];
                    at += 1;
                }
            }
            start = end;
            self.indptr[i + 1] = at as u64;
        }
        self.indices.truncate(at);
        self.data.truncate(at);
        Csr { n_cols: n_kept, ..self }
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

    /// The number of stored non-zero values in each column (scanpy's `n_cells` of `filter_genes`).
    ///
    /// # Complexity
    /// O(nnz + n_cols).
    pub fn col_nnz(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.n_cols];
        for (&j, &v) in self.indices.iter().zip(&self.data) {
            if v != 0.0 {
                counts[j as usize] += 1;
            }
        }
        counts
    }

    /// Per-column mean and sample variance (ddof = 1) in a single pass over the stored values.
    ///
    /// Rows are taken in blocks of 4,096: inside a block each column's sum and sum of squares
    /// are accumulated in f64 (implicit zeros add nothing), giving the block's mean and sum of
    /// squared deviations; blocks are then merged with Chan et al.'s pairwise formula. The
    /// relative error is about 4,096 · ε · (1 + mean²/variance) with ε = 2⁻⁵³, far below what
    /// f32 data resolve (scanpy takes E[x²] − E[x]² over all rows at once).
    ///
    /// # Errors
    /// [`AlgoError::TooFew`] if the matrix has fewer than two rows.
    ///
    /// # Complexity
    /// O(nnz + n_cols) time, O(n_cols) memory.
    pub fn column_moments(&self) -> Result<ColumnMoments, AlgoError> {
        self.column_moments_of(|_| {})
    }

    /// [`Csr::column_moments`] of the values as transformed by `f` (which rewrites a row's
    /// stored values in place and must map 0 to 0), without materialising the transformed
    /// matrix: `f` sees a copy of one row at a time.
    pub fn column_moments_of(&self, f: impl Fn(&mut [f32]) + Sync) -> Result<ColumnMoments, AlgoError> {
        column_moments_by_row(self.n_rows, self.n_cols, |i, idx, val| {
            let (cols, values) = self.row(i);
            idx.extend_from_slice(cols);
            val.extend_from_slice(values);
            f(val);
        })
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

/// [`Csr::column_moments`] of `n_rows` rows that `row(i, indices, values)` appends to the two
/// (empty) buffers, for matrices held in pieces or transformed on the fly. Blocks of 4,096 rows
/// run in parallel and are merged in order, so the result depends neither on the thread count
/// nor on how the rows are stored.
///
/// # Errors
/// [`AlgoError::TooFew`] for fewer than two rows.
pub fn column_moments_by_row(
    n_rows: usize,
    n_cols: usize,
    row: impl Fn(usize, &mut Vec<u32>, &mut Vec<f32>) + Sync,
) -> Result<ColumnMoments, AlgoError> {
    use rayon::prelude::*;
    const BLOCK: usize = 4096;
    if n_rows < 2 {
        return Err(AlgoError::TooFew(format!("column variance needs at least 2 rows, got {n_rows}")));
    }
    // Per block: its row count and each column's [sum, sum of squares].
    let blocks: Vec<(f64, Vec<[f64; 2]>)> = (0..n_rows.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let (r0, r1) = (b * BLOCK, ((b + 1) * BLOCK).min(n_rows));
            let mut sums = vec![[0.0f64; 2]; n_cols];
            let (mut idx, mut val) = (Vec::new(), Vec::new());
            for i in r0..r1 {
                idx.clear();
                val.clear();
                row(i, &mut idx, &mut val);
                for (&j, &v) in idx.iter().zip(&val) {
                    let x = f64::from(v);
                    let s = &mut sums[j as usize];
                    s[0] += x;
                    s[1] += x * x;
                }
            }
            ((r1 - r0) as f64, sums)
        })
        .collect();
    let (mut n, mut mean, mut m2) = (0.0f64, vec![0.0f64; n_cols], vec![0.0f64; n_cols]);
    for (nb, sums) in blocks {
        let total = n + nb;
        for (j, [sum, squares]) in sums.into_iter().enumerate() {
            let block_mean = sum / nb;
            let block_m2 = (squares - sum * block_mean).max(0.0);
            let delta = block_mean - mean[j];
            mean[j] += delta * nb / total;
            m2[j] += block_m2 + delta * delta * n * nb / total;
        }
        n = total;
    }
    let var = m2.into_iter().map(|s| s / (n - 1.0)).collect();
    Ok(ColumnMoments { mean, var })
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
