//! A CSR matrix of an `.h5ad` read a range of rows at a time, so that a screen can be filtered,
//! subsampled and written block by block without ever being in memory whole; [`open_h5ad`]
//! opens a file so.
//!
//! The `indptr` is read when the file is opened (one offset per cell); `indices` and `data` are
//! left in the file and decoded by `h5chunks` (in parallel, a stored chunk at a time) for the
//! rows asked for, with the checks the whole-matrix reader makes: column indices in range
//! (reported as stored), values finite (reported by row and column).

use std::path::Path;

use hdf5_pure::{Dataset, Group};

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
    let x = match CsrSource::open(h5, &object, &g, n_rows, n_cols)? {
        CsrSource::Read(c) => MatrixSource::Whole(Matrix::Csr(c)),
        CsrSource::InFile(rows) => MatrixSource::Rows(rows),
    };
    Ok((x, obs, var))
}

/// Rows and stored values of the CSR matrix that [`open_h5ad`] (or the Cell Ranger reader, for
/// a `.h5` with a `matrix` group) would leave in the file, from the file's headers alone; `None`
/// when the matrix would be read whole (not CSR, arrays `h5chunks` does not take, an unreadable
/// file). For memory estimates: reading it costs a block of rows at a time.
pub fn streamed_shape(path: &Path, opts: &ReadOptions) -> Option<(u64, u64)> {
    let h5 = H5ad::open(path).ok()?;
    let (object, g) = match h5.node("matrix").ok()? {
        Some(crate::io::h5ad::Node::Group(g)) if h5.node("obs").ok()?.is_none() => ("matrix".to_string(), g),
        _ => {
            let object = match &opts.layer {
                None => "X".to_string(),
                Some(layer) => h5.layer_path("", layer).ok()?.0,
            };
            match h5.matrix_header("", &object).ok()?.layout {
                Layout::Csr(g) => (object, g),
                _ => return None,
            }
        }
    };
    let len = |name: &str| -> Option<(Dataset, u64)> {
        let ds = h5.dataset(&g, &object, name).ok()?;
        let n = h5.len_1d(&join(&object, name), &ds).ok()?;
        Some((ds, n))
    };
    let ((indices, _), (data, nnz), (_, ptrs)) = (len("indices")?, len("data")?, len("indptr")?);
    ParallelReader::new(path, &join(&object, "indices"), &indices)?;
    ParallelReader::new(path, &join(&object, "data"), &data)?;
    Some((ptrs.checked_sub(1)?, nnz))
}

/// An `.h5ad` matrix as [`open_h5ad`] leaves it.
pub enum MatrixSource {
    /// Read whole (dense, CSC, or arrays `h5chunks` does not take).
    Whole(Matrix),
    /// CSR, read by ranges of rows.
    Rows(CsrRows),
}

/// A CSR matrix of an HDF5 file (an `.h5ad`'s, a Cell Ranger `.h5`'s), read, or left in the file.
pub enum CsrSource {
    /// Read whole (arrays `h5chunks` does not take).
    Read(Csr),
    /// Read by ranges of rows.
    InFile(CsrRows),
}

impl CsrSource {
    /// The CSR matrix of group `g` (named `object`): left in the file when `h5chunks` takes both
    /// its arrays, else read whole.
    pub(crate) fn open(h5: H5ad, object: &str, g: &Group, n_rows: usize, n_cols: usize) -> Result<Self, IoError> {
        let (indptr, indices, data) = h5.indptr(object, g, n_rows, "rows")?;
        let readers = (
            ParallelReader::new(h5.path(), &join(object, "indices"), &indices),
            ParallelReader::new(h5.path(), &join(object, "data"), &data),
        );
        Ok(match readers {
            (Some(idx), Some(val)) => CsrSource::InFile(CsrRows {
                h5,
                object: object.to_string(),
                n_cols,
                indptr,
                indices: (indices, idx),
                data: (data, val),
                columns: None,
            }),
            _ => CsrSource::Read(h5.csr(object, g, n_rows, n_cols)?),
        })
    }

    /// The columns `keep` (increasing, each a column of the matrix) only, renumbered in that
    /// order: applied now to a matrix read, and to each block as it is read from a file.
    pub fn select_columns(self, keep: &[usize]) -> Self {
        match self {
            CsrSource::Read(m) => {
                let map = column_map(keep, m.n_cols);
                CsrSource::Read(m.keep_columns(&map, keep.len()))
            }
            CsrSource::InFile(rows) => {
                let map = column_map(keep, rows.n_cols);
                // A selection of a selection: each stored column goes through both.
                let map = match &rows.columns {
                    Some(first) => first.iter().map(|&c| if c == NONE { NONE } else { map[c as usize] }).collect(),
                    None => map,
                };
                CsrSource::InFile(CsrRows { n_cols: keep.len(), columns: Some(map), ..rows })
            }
        }
    }

    /// Columns `keep` (increasing, each a column of the matrix) of every row, as a matrix of
    /// their own; a file's matrix is read through a block at a time, keeping only those columns
    /// (for the few guide features of a Cell Ranger matrix).
    ///
    /// # Errors
    /// As [`CsrRows::read`].
    pub fn read_columns(&self, keep: &[usize]) -> Result<Csr, IoError> {
        let rows = match self {
            CsrSource::Read(m) => return Ok(m.clone().keep_columns(&column_map(keep, m.n_cols), keep.len())),
            CsrSource::InFile(rows) => rows,
        };
        let map = column_map(keep, rows.n_cols);
        let (mut indptr, mut indices, mut data) = (vec![0u64], Vec::new(), Vec::new());
        for r0 in (0..rows.n_rows()).step_by(READ_ROWS) {
            let block = rows.read(r0, (r0 + READ_ROWS).min(rows.n_rows()))?.keep_columns(&map, keep.len());
            let base = indices.len() as u64;
            indptr.extend(block.indptr[1..].iter().map(|&p| base + p));
            indices.extend_from_slice(&block.indices);
            data.extend_from_slice(&block.data);
        }
        Ok(Csr { n_rows: rows.n_rows(), n_cols: keep.len(), indptr, indices, data })
    }

    /// The whole matrix, read.
    ///
    /// # Errors
    /// As [`CsrRows::read`].
    pub fn into_csr(self) -> Result<Csr, IoError> {
        match self {
            CsrSource::Read(m) => Ok(m),
            CsrSource::InFile(rows) => rows.read(0, rows.n_rows()),
        }
    }
}

/// Rows per block when a file's matrix is read through.
const READ_ROWS: usize = 1 << 16;

/// Per column of an `n_cols` matrix, its position in `keep` ([`NONE`] if absent).
fn column_map(keep: &[usize], n_cols: usize) -> Vec<u32> {
    let mut map = vec![NONE; n_cols];
    for (k, &j) in keep.iter().enumerate() {
        if let Some(m) = map.get_mut(j) {
            *m = k as u32;
        }
    }
    map
}

/// A CSR matrix in its file, read by ranges of rows (see the module docs).
pub struct CsrRows {
    h5: H5ad,
    object: String,
    n_cols: usize,
    indptr: Vec<u64>,
    indices: (Dataset, ParallelReader),
    data: (Dataset, ParallelReader),
    /// Per stored column, its position among the columns kept ([`NONE`]: dropped); `None`: all.
    columns: Option<Vec<u32>>,
}

/// A stored column that [`CsrRows::select_columns`] dropped.
const NONE: u32 = u32::MAX; // as `Csr::keep_columns` reads it

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
        // Indices are checked against the stored columns, before any selection.
        let width = self.columns.as_ref().map_or(self.n_cols, Vec::len);
        if let Some(k) = first_where(&indices, |&c| c as usize >= width) {
            // Out-of-range values were saturated to u32::MAX: report the stored one.
            let entry = lo + k as u64;
            let stored = self.h5.h5(&idx_path, self.indices.0.read_i64_rows(entry, 1))?;
            let value = stored.first().copied().unwrap_or(i64::from(indices[k]));
            return Err(self.h5.out_of_range(&idx_path, entry, value, width, "columns"));
        }
        let mut data = self.h5.zeroed::<f32>(&join(&self.object, "data"), n as u64)?;
        self.data.1.read_range_into(lo, &mut data)?;
        let indptr: Vec<u64> = self.indptr[r0..=r1].iter().map(|&p| p - lo).collect();
        if let Some(k) = first_where(&data, |v| !v.is_finite()) {
            let row = r0 + indptr.partition_point(|&p| p <= k as u64) - 1;
            return Err(self.h5.non_finite(&self.object, row, indices[k] as usize, data[k]));
        }
        let block = Csr { n_rows: r1 - r0, n_cols: width, indptr, indices, data };
        Ok(match &self.columns {
            Some(map) => block.keep_columns(map, self.n_cols),
            None => block,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::h5ad::Node;

    /// A 300 × 7 CSR matrix in group `m` (contiguous arrays, which `h5chunks` reads in place),
    /// and the same matrix in memory.
    fn fixture(dir: &Path) -> (std::path::PathBuf, Csr) {
        let (n, g) = (300, 7);
        let dense = ndarray::Array2::from_shape_fn((n, g), |(i, j)| ((i * 3 + j * 5) % 4) as f32);
        let csr = Csr::from_dense(&dense.view()).unwrap();
        let mut fb = hdf5_pure::FileBuilder::new();
        let mut m = fb.create_group("m");
        m.create_dataset("data").with_f32_data(&csr.data);
        m.create_dataset("indices").with_i32_data(&csr.indices.iter().map(|&j| j as i32).collect::<Vec<_>>());
        m.create_dataset("indptr").with_i64_data(&csr.indptr.iter().map(|&p| p as i64).collect::<Vec<_>>());
        fb.add_group(m.finish());
        let path = dir.join("m.h5");
        fb.write(&path).unwrap();
        (path, csr)
    }

    fn open(path: &Path) -> CsrSource {
        let h5 = H5ad::open(path).unwrap();
        let Some(Node::Group(g)) = h5.node("m").unwrap() else { panic!("no group") };
        CsrSource::open(h5, "m", &g, 300, 7).unwrap()
    }

    #[test]
    fn columns_selected_in_the_file_equal_those_selected_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (path, csr) = fixture(dir.path());
        assert!(matches!(open(&path), CsrSource::InFile(_)), "contiguous arrays are read in place");
        // Columns 1, 2, 4, 6, then 0, 2, 3 of those: stored columns 1, 4, 6.
        let (first, second) = ([1, 2, 4, 6], [0, 2, 3]);
        let want = csr.select_cols(&first).unwrap().select_cols(&second).unwrap();
        for source in [open(&path), CsrSource::Read(csr.clone())] {
            let twice = source.select_columns(&first).select_columns(&second);
            assert_eq!(twice.read_columns(&[0, 2]).unwrap(), want.select_cols(&[0, 2]).unwrap());
            assert_eq!(twice.into_csr().unwrap(), want);
        }
        let CsrSource::InFile(rows) = open(&path).select_columns(&[5]) else { panic!("read") };
        assert_eq!(
            rows.read(100, 160).unwrap(),
            csr.select_cols(&[5]).unwrap().select_rows(&(100..160).collect::<Vec<_>>()).unwrap()
        );
    }
}
