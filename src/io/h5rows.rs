//! A CSR matrix of an `.h5ad` read a range of rows at a time, so that a screen can be filtered,
//! subsampled and written block by block without ever being in memory whole; [`open_h5ad`]
//! opens a file so.
//!
//! The `indptr` is read when the file is opened (one offset per cell); `indices` and `data` are
//! left in the file and decoded by `h5chunks` (in parallel, a stored chunk at a time) for the
//! rows asked for, with the checks the whole-matrix reader makes: column indices in range
//! (reported as stored), values finite (reported by row and column).

use std::path::Path;

use hdf5_pure::Dataset;

use crate::algo::scan::first_where;
use crate::algo::sparse::Csr;
use crate::io::IoError;
use crate::io::frame::DataFrame;
use crate::io::h5ad::{H5ad, Layout, Matrix, MatrixHeader, ReadOptions, join};
use crate::io::h5chunks::ParallelReader;

/// The matrix and the `obs`/`var` tables of an `.h5ad` file, the matrix left in the file to be
/// read a range of rows at a time when it can be ([`MatrixSource::Rows`]: CSR, both its arrays
/// read by `h5chunks`, i.e. uncompressed or gzip), else read whole; errors as
/// [`crate::io::h5ad::read_h5ad`].
pub fn open_h5ad(path: &Path, opts: &ReadOptions) -> Result<(MatrixSource, DataFrame, DataFrame), IoError> {
    let h5 = H5ad::open(path)?;
    let (header, obs, var) = h5.tables("", opts)?;
    let (object, g, n_rows, n_cols) = match header {
        MatrixHeader { object, layout: Layout::Csr(g), n_rows, n_cols } => (object, g, n_rows, n_cols),
        other => return Ok((MatrixSource::Whole(h5.matrix(other)?), obs, var)),
    };
    let (indptr, indices, data) = h5.indptr(&object, &g, n_rows, "rows")?;
    let readers = (
        ParallelReader::new(h5.path(), &join(&object, "indices"), &indices),
        ParallelReader::new(h5.path(), &join(&object, "data"), &data),
    );
    let x = match readers {
        (Some(idx), Some(val)) => {
            MatrixSource::Rows(CsrRows { h5, object, n_cols, indptr, indices: (indices, idx), data: (data, val) })
        }
        _ => MatrixSource::Whole(Matrix::Csr(h5.csr(&object, &g, n_rows, n_cols)?)),
    };
    Ok((x, obs, var))
}

/// An `.h5ad` matrix as [`open_h5ad`] leaves it.
pub enum MatrixSource {
    /// Read whole (dense, CSC, or arrays `h5chunks` does not take).
    Whole(Matrix),
    /// CSR, read by ranges of rows.
    Rows(CsrRows),
}

/// A CSR matrix in its file, read by ranges of rows (see the module docs).
pub struct CsrRows {
    h5: H5ad,
    object: String,
    n_cols: usize,
    indptr: Vec<u64>,
    indices: (Dataset, ParallelReader),
    data: (Dataset, ParallelReader),
}

impl CsrRows {
    /// Number of rows (cells).
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of columns (genes).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Stored entries of rows `r0..r1`.
    pub fn nnz(&self, r0: usize, r1: usize) -> u64 {
        self.indptr[r1] - self.indptr[r0]
    }

    /// Rows `r0..r1` as a CSR matrix of their own (`indptr` from 0).
    ///
    /// # Errors
    /// [`IoError::Read`] / [`IoError::Invalid`] for a file that cannot be read or decoded, a
    /// column index out of range (its stored value), a NaN or infinite value (its row and column).
    pub fn read(&self, r0: usize, r1: usize) -> Result<Csr, IoError> {
        let (lo, hi) = (self.indptr[r0], self.indptr[r1]);
        let n = usize::try_from(hi - lo).map_err(|_| self.h5.invalid(&self.object, "too many values in a block"))?;
        let idx_path = join(&self.object, "indices");
        let mut indices = self.h5.zeroed::<u32>(&idx_path, n as u64)?;
        self.indices.1.read_range_into(lo, &mut indices)?;
        if let Some(k) = first_where(&indices, |&c| c as usize >= self.n_cols) {
            // Out-of-range values were saturated to u32::MAX: report the stored one.
            let entry = lo + k as u64;
            let stored = self.h5.h5(&idx_path, self.indices.0.read_i64_rows(entry, 1))?;
            let value = stored.first().copied().unwrap_or(i64::from(indices[k]));
            return Err(self.h5.out_of_range(&idx_path, entry, value, self.n_cols, "columns"));
        }
        let mut data = self.h5.zeroed::<f32>(&join(&self.object, "data"), n as u64)?;
        self.data.1.read_range_into(lo, &mut data)?;
        let indptr: Vec<u64> = self.indptr[r0..=r1].iter().map(|&p| p - lo).collect();
        if let Some(k) = first_where(&data, |v| !v.is_finite()) {
            let row = r0 + indptr.partition_point(|&p| p <= k as u64) - 1;
            return Err(self.h5.non_finite(&self.object, row, indices[k] as usize, data[k]));
        }
        Ok(Csr { n_rows: r1 - r0, n_cols: self.n_cols, indptr, indices, data })
    }
}
