//! Reader for AnnData `.h5ad` files (cells × genes matrix plus cell and gene tables).
//!
//! Owns the translation from the on-disk anndata layout to [`AnnData`]: `X` or one
//! layer (dense, CSR or CSC, any integer or float dtype, gzip or lzf), and the `obs`
//! and `var` dataframes. It reads nothing else (`obsm`, `uns`, … are ignored) and
//! computes nothing: the checks here are only those that make the result safe to use
//! (shapes agree, offsets and indices in range, values finite, gene names unique).
//!
//! Layouts: anndata ≥ 0.8 (categoricals as `codes`/`categories` groups, nullable
//! integer/boolean/string groups), the anndata 0.7 layout (categorical codes as integer
//! datasets with labels in `obs/__categories/<col>`, sparse matrices tagged
//! `h5sparse_format`), and older files whose dataframes are one compound dataset, with
//! categorical labels in `uns/<col>_categories` (decoded by `h5compound`). `raw/X` (with
//! `raw/var`) is read as the layer `raw`; a MuData `.h5mu` file is an AnnData per modality
//! under `mod/<name>` ([`read_h5mu`]).
//!
//! Memory: the file is streamed (through [`hdf5_pure::File::from_source`] on a cached
//! positioned-read source, `h5source`), never loaded whole. A CSR matrix is decoded in
//! parallel straight into its final arrays (`h5chunks`), so the peak is the CSR matrix plus
//! a few MiB; CSC input is converted by counting rows, then scattering, in two passes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, DType, Dataset, Error as H5Error, File, FormatError, Group};
use ndarray::Array2;

use crate::algo::buffer;
use crate::algo::scan::first_where;
use crate::algo::sparse::Csr as CsrMatrix;
use crate::io::error::IoError;
use crate::io::frame::{Column, ColumnValues, DataFrame};
use crate::io::h5chunks::{Element, ParallelReader};
use crate::io::h5compound::{CompoundError, compound_columns};
use crate::io::h5source::CachedFile;

/// Largest ratio of decoded to stored bytes a valid file can have (deflate's limit is 1032).
const MAX_INFLATION: u64 = 1100;

/// Entries decoded per read of a large 1-D dataset (4–8 MiB of values).
const WINDOW: u64 = 1 << 20;

/// What to read from an `.h5ad` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Read `layers/<name>` as the matrix instead of `X`; `raw` (when no layer has that name)
    /// reads `raw/X`, with `raw/var` as the gene table.
    pub layer: Option<String>,
}

/// The part of an AnnData object gcrl uses: one matrix and the two annotation tables.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnData {
    /// Number of cells (rows of `x`, rows of `obs`).
    pub n_obs: usize,
    /// Number of genes (columns of `x`, rows of `var`).
    pub n_vars: usize,
    /// `X`, or the layer named in [`ReadOptions::layer`].
    pub x: Matrix,
    /// Cell annotations; `obs.index` holds the cell names.
    pub obs: DataFrame,
    /// Gene annotations; `var.index` holds the gene names (unique).
    pub var: DataFrame,
}

/// A cells × genes matrix, dense or sparse; values are finite.
#[derive(Debug, Clone, PartialEq)]
pub enum Matrix {
    /// Dense row-major matrix.
    Dense(Array2<f32>),
    /// Sparse matrix (CSC files are converted to CSR).
    Csr(CsrMatrix),
}

impl Matrix {
    /// `(rows, columns)`.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Matrix::Dense(a) => a.dim(),
            Matrix::Csr(m) => (m.n_rows, m.n_cols),
        }
    }
}

/// Read the matrix and the `obs`/`var` tables of an `.h5ad` file.
///
/// # Arguments
/// * `path` – the file.
/// * `opts` – which matrix to read (`X` unless [`ReadOptions::layer`] names a layer).
///
/// # Returns
/// The [`AnnData`], or an [`IoError`] naming the file and the problem: not HDF5,
/// missing `X`, unknown layer (with the list of layers), shapes that disagree, bad
/// sparse offsets or indices, NaN/inf values, unsupported compression (Blosc) or
/// layout, duplicate gene names.
///
/// # Complexity
/// Time linear in the file's `X`/`obs`/`var` content; memory the returned object plus
/// a few MiB (see the module docs).
pub fn read_h5ad(path: &Path, opts: &ReadOptions) -> Result<AnnData, IoError> {
    H5ad::open(path)?.anndata("", opts)
}

/// Whether an HDF5 file holds an AnnData at its root (`obs` and `var`), as an `.h5ad` saved
/// under another name does; a Cell Ranger `.h5` does not.
pub fn is_anndata(path: &Path) -> Result<bool, IoError> {
    let file = H5ad::open(path)?;
    Ok(file.node("obs")?.is_some() && file.node("var")?.is_some())
}

/// Read one modality of a MuData `.h5mu` file: the AnnData stored under `mod/<modality>`.
///
/// # Arguments
/// * `path` – the file.
/// * `modality` – the modality (`rna`, `prot`, …); may be omitted when the file has only one.
/// * `opts` – which matrix of that AnnData to read, as in [`read_h5ad`].
///
/// # Returns
/// The [`AnnData`] of the modality, or [`IoError::Choice`] listing the modalities when the
/// one named is absent or none is named and there are several; otherwise the errors of
/// [`read_h5ad`].
pub fn read_h5mu(path: &Path, modality: Option<&str>, opts: &ReadOptions) -> Result<AnnData, IoError> {
    let file = H5ad::open(path)?;
    let available = match file.node("mod")? {
        Some(Node::Group(g)) => file.h5("mod", g.groups())?,
        _ => return Err(file.missing("mod", "; an .h5mu (MuData) file keeps each modality under `mod/<name>`")),
    };
    let chosen = match modality {
        Some(m) if available.iter().any(|a| a == m) => m.to_string(),
        None if available.len() == 1 => available[0].clone(),
        asked => {
            return Err(IoError::Choice {
                path: path.to_path_buf(),
                what: "modality",
                asked: asked.map(String::from),
                available,
            });
        }
    };
    file.anndata(&format!("mod/{chosen}"), opts)
}

/// The names of the `obs` columns of an `.h5ad` file, in order, without reading any data.
///
/// # Returns
/// The names from `obs`'s `column-order` attribute (the index is not a column); for a
/// pre-0.7 file, the fields of the `obs` compound dataset after the first (the index).
pub fn read_obs_column_names(path: &Path) -> Result<Vec<String>, IoError> {
    let file = H5ad::open(path)?;
    match file.frame_node("obs")? {
        Node::Group(obs) => file.column_order("obs", &obs),
        Node::Dataset(ds) => match file.h5("obs", ds.dtype())? {
            DType::Compound(fields) => Ok(fields.into_iter().skip(1).map(|f| f.0).collect()),
            other => Err(file.unsupported("obs", format!("a dataframe stored as a dataset of type {other}"))),
        },
    }
}

/// An object found under a group.
pub(crate) enum Node {
    /// A group.
    Group(Group),
    /// A dataset.
    Dataset(Dataset),
}

/// How a matrix is stored.
pub(crate) enum Layout {
    Dense(Dataset),
    Csr(Group),
    Csc(Group),
}

/// The length every array of a dataframe must have: the matrix's rows (`obs`) or columns (`var`).
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    /// The matrix, for messages.
    pub(crate) matrix: &'a str,
    /// `rows` or `columns`, for messages.
    pub(crate) axis: &'a str,
    /// The length.
    pub(crate) n: usize,
}

/// A located matrix whose values are not read yet.
pub(crate) struct MatrixHeader {
    /// Its path in the file.
    pub(crate) object: String,
    /// How it is stored.
    pub(crate) layout: Layout,
    /// Rows (cells).
    pub(crate) n_rows: usize,
    /// Columns (genes).
    pub(crate) n_cols: usize,
}

/// An open HDF5 file (`.h5ad`, `.h5mu`, 10x `.h5`); every error it builds names the file.
pub(crate) struct H5ad {
    path: PathBuf,
    file: File,
}

impl H5ad {
    pub(crate) fn open(path: &Path) -> Result<Self, IoError> {
        let is_hdf5 = hdf5_pure::is_hdf5(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })?;
        if !is_hdf5 {
            return Err(IoError::NotHdf5 { path: path.to_path_buf() });
        }
        let source = CachedFile::open(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })?;
        let file = File::from_source(source).map_err(|source| hdf5_error(path, "/", source))?;
        Ok(H5ad { path: path.to_path_buf(), file })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    // ----- error helpers -----

    /// Attach the file and object to an HDF5 library result.
    pub(crate) fn h5<T>(&self, object: &str, result: Result<T, H5Error>) -> Result<T, IoError> {
        result.map_err(|source| hdf5_error(&self.path, object, source))
    }

    pub(crate) fn invalid(&self, object: &str, reason: impl Into<String>) -> IoError {
        IoError::Invalid { path: self.path.clone(), object: object.to_string(), reason: reason.into() }
    }

    pub(crate) fn unsupported(&self, object: &str, what: impl Into<String>) -> IoError {
        IoError::Unsupported { path: self.path.clone(), object: object.to_string(), what: what.into() }
    }

    pub(crate) fn missing(&self, object: &str, hint: &str) -> IoError {
        IoError::Missing { path: self.path.clone(), object: object.to_string(), hint: hint.to_string() }
    }

    // ----- navigation -----

    /// The child `name` of `parent` (whose path is `parent_path`), if it exists.
    pub(crate) fn child(&self, parent: &Group, parent_path: &str, name: &str) -> Result<Option<Node>, IoError> {
        let object = join(parent_path, name);
        if self.h5(parent_path, parent.groups())?.iter().any(|g| g == name) {
            return Ok(Some(Node::Group(self.h5(&object, parent.group(name))?)));
        }
        if self.h5(parent_path, parent.datasets())?.iter().any(|d| d == name) {
            return Ok(Some(Node::Dataset(self.h5(&object, parent.dataset(name))?)));
        }
        Ok(None)
    }

    /// The dataset `name` under `parent`, which must exist.
    pub(crate) fn dataset(&self, parent: &Group, parent_path: &str, name: &str) -> Result<Dataset, IoError> {
        match self.child(parent, parent_path, name)? {
            Some(Node::Dataset(ds)) => Ok(ds),
            Some(Node::Group(_)) => Err(self.invalid(&join(parent_path, name), "expected a dataset, found a group")),
            None => Err(self.missing(&join(parent_path, name), "")),
        }
    }

    /// The root group.
    pub(crate) fn root(&self) -> Group {
        self.file.root()
    }

    /// The object at `path` (from the root, `/`-separated), if it exists.
    pub(crate) fn node(&self, path: &str) -> Result<Option<Node>, IoError> {
        let (parent_path, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = match parent_path {
            "" => self.file.root(),
            _ => match self.node(parent_path)? {
                Some(Node::Group(g)) => g,
                _ => return Ok(None),
            },
        };
        self.child(&parent, parent_path, name)
    }

    /// The AnnData stored under the group `root` (`""` for an `.h5ad`, `mod/<name>` in an `.h5mu`).
    fn anndata(&self, root: &str, opts: &ReadOptions) -> Result<AnnData, IoError> {
        let (header, obs, var) = self.tables(root, opts)?;
        let (n_obs, n_vars) = (header.n_rows, header.n_cols);
        let x = self.matrix(header)?;
        Ok(AnnData { n_obs, n_vars, x, obs, var })
    }

    /// The located matrix under `root` and its checked `obs` and `var` tables.
    pub(crate) fn tables(
        &self,
        root: &str,
        opts: &ReadOptions,
    ) -> Result<(MatrixHeader, DataFrame, DataFrame), IoError> {
        let (object, var_path) = match &opts.layer {
            None => (join(root, "X"), join(root, "var")),
            Some(layer) => self.layer_path(root, layer)?,
        };
        // Every size read from the file is checked against the matrix shape before any
        // bulk read, so a damaged size field gives an error, not a huge allocation.
        let header = self.matrix_header(root, &object)?;
        let (n_obs, n_vars) = (header.n_rows, header.n_cols);
        let obs = self.dataframe(root, &join(root, "obs"), Rows { matrix: &object, axis: "rows", n: n_obs })?;
        let var = self.dataframe(root, &var_path, Rows { matrix: &object, axis: "columns", n: n_vars })?;
        self.check_unique_var_names(&var.index)?;
        Ok((header, obs, var))
    }

    /// The matrices besides `X` under `root`: the layers, then `raw` when `raw/X` exists.
    fn other_matrices(&self, root: &str) -> Result<Vec<String>, IoError> {
        let layers = join(root, "layers");
        let mut names = match self.node(&layers)? {
            Some(Node::Group(g)) => {
                let mut names = self.h5(&layers, g.groups())?;
                names.extend(self.h5(&layers, g.datasets())?);
                names.sort();
                names
            }
            _ => Vec::new(),
        };
        if !names.iter().any(|n| n == "raw") && self.node(&join(root, "raw/X"))?.is_some() {
            names.push("raw".to_string());
        }
        Ok(names)
    }

    /// The matrix and var table of `layer`: `layers/<layer>` with `var`, or, for `raw` when
    /// there is no layer of that name, `raw/X` with `raw/var` (its genes may differ from X's).
    pub(crate) fn layer_path(&self, root: &str, layer: &str) -> Result<(String, String), IoError> {
        let available = self.other_matrices(root)?;
        if !available.iter().any(|l| l == layer) {
            return Err(IoError::UnknownLayer { path: self.path.clone(), layer: layer.to_string(), available });
        }
        if layer == "raw" && self.node(&join(root, "layers/raw"))?.is_none() {
            let raw_var = join(root, "raw/var");
            let var = if self.node(&raw_var)?.is_some() { raw_var } else { join(root, "var") };
            return Ok((join(root, "raw/X"), var));
        }
        Ok((join(root, &format!("layers/{layer}")), join(root, "var")))
    }

    // ----- matrices -----

    /// Locate the matrix at `object` (`X`, `layers/<name>` or `raw/X` under `root`) and read its
    /// layout and shape.
    pub(crate) fn matrix_header(&self, root: &str, object: &str) -> Result<MatrixHeader, IoError> {
        let Some(node) = self.node(object)? else {
            let others = self.other_matrices(root)?;
            let hint = match others.is_empty() {
                true => {
                    "; an .h5ad file needs X, and this one has no layers and no raw/X (`layer: raw`) either".to_string()
                }
                false => format!(
                    "; read another matrix with `layer: <name>` (this file has: {}{})",
                    others.join(", "),
                    if others.iter().any(|o| o == "raw") { "; `raw` is raw/X" } else { "" }
                ),
            };
            return Err(self.missing(object, &hint));
        };
        let (layout, shape) = match node {
            Node::Dataset(ds) => {
                let shape = self.h5(object, ds.shape())?;
                (Layout::Dense(ds), shape.into_iter().map(|n| n as i64).collect())
            }
            Node::Group(g) => {
                let attrs = self.h5(object, g.attrs())?;
                let format = match (attr_str(&attrs, "encoding-type"), attr_str(&attrs, "h5sparse_format")) {
                    (Some("csr_matrix") | None, Some("csr")) | (Some("csr_matrix"), None) => Layout::Csr(g),
                    (Some("csc_matrix") | None, Some("csc")) | (Some("csc_matrix"), None) => Layout::Csc(g),
                    (enc, legacy) => {
                        let what = enc.or(legacy).unwrap_or("a group without `encoding-type`");
                        return Err(self.unsupported(object, format!("matrix encoding `{what}`")));
                    }
                };
                let shape = attrs
                    .get("shape")
                    .or_else(|| attrs.get("h5sparse_shape"))
                    .and_then(AttrValue::to_i64s)
                    .ok_or_else(|| self.invalid(object, "no integer `shape` attribute"))?;
                (format, shape)
            }
        };
        let [rows, cols] = shape[..] else {
            return Err(self.unsupported(object, format!("a matrix of rank {}", shape.len())));
        };
        let (Ok(n_rows), Ok(n_cols)) = (usize::try_from(rows), usize::try_from(cols)) else {
            return Err(self.invalid(object, format!("negative shape {rows} × {cols}")));
        };
        if u32::try_from(n_cols).is_err() {
            return Err(self.unsupported(object, format!("{n_cols} columns (at most 2^32)")));
        }
        Ok(MatrixHeader { object: object.to_string(), layout, n_rows, n_cols })
    }

    /// Read the values of a located matrix.
    pub(crate) fn matrix(&self, header: MatrixHeader) -> Result<Matrix, IoError> {
        let MatrixHeader { object, layout, n_rows, n_cols } = header;
        match layout {
            Layout::Dense(ds) => self.dense(&object, &ds, n_rows, n_cols).map(Matrix::Dense),
            Layout::Csr(g) => self.csr(&object, &g, n_rows, n_cols).map(Matrix::Csr),
            Layout::Csc(g) => self.csc_as_csr(&object, &g, n_rows, n_cols).map(Matrix::Csr),
        }
    }

    fn dense(&self, object: &str, ds: &Dataset, rows: usize, cols: usize) -> Result<Array2<f32>, IoError> {
        let values = self.h5(object, ds.read_f32())?;
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(self.non_finite(object, k / cols.max(1), k % cols.max(1), values[k]));
        }
        Array2::from_shape_vec((rows, cols), values)
            .map_err(|e| self.invalid(object, format!("values do not fill the {rows} × {cols} shape: {e}")))
    }

    pub(crate) fn non_finite(&self, object: &str, row: usize, col: usize, value: f32) -> IoError {
        IoError::NonFinite { path: self.path.clone(), object: object.to_string(), row, col, value }
    }

    /// The checked `indptr` of a compressed matrix with `n_major` rows (CSR) or columns
    /// (CSC, `major` = "columns"), and its `indices` and `data` datasets, not read yet.
    pub(crate) fn indptr(
        &self,
        object: &str,
        g: &Group,
        n_major: usize,
        major: &str,
    ) -> Result<(Vec<u64>, Dataset, Dataset), IoError> {
        let ptr_path = join(object, "indptr");
        let ptr_ds = self.dataset(g, object, "indptr")?;
        let len = self.len_1d(&ptr_path, &ptr_ds)?;
        if len != n_major as u64 + 1 {
            return Err(
                self.invalid(&ptr_path, format!("has {len} entries, expected {} ({n_major} {major} + 1)", n_major + 1))
            );
        }
        let raw = self.h5(&ptr_path, ptr_ds.read_i64())?;
        if raw.first().is_some_and(|&p| p != 0) {
            return Err(self.invalid(&ptr_path, format!("starts at {} instead of 0", raw[0])));
        }
        if let Some(i) = raw.windows(2).position(|w| w[1] < w[0]) {
            return Err(self.invalid(
                &ptr_path,
                format!(
                    "decreases at position {} ({} then {}): offsets must be non-decreasing",
                    i + 1,
                    raw[i],
                    raw[i + 1]
                ),
            ));
        }
        let indices = self.dataset(g, object, "indices")?;
        let data = self.dataset(g, object, "data")?;
        let nnz = raw.last().copied().unwrap_or(0) as u64;
        for (name, ds) in [("indices", &indices), ("data", &data)] {
            let len = self.len_1d(&join(object, name), ds)?;
            if len != nnz {
                return Err(self.invalid(object, format!("`{name}` has {len} entries but `indptr` ends at {nnz}")));
            }
        }
        Ok((raw.into_iter().map(|p| p as u64).collect(), indices, data))
    }

    pub(crate) fn len_1d(&self, object: &str, ds: &Dataset) -> Result<u64, IoError> {
        match self.h5(object, ds.shape())?[..] {
            [n] => Ok(n),
            ref shape => Err(self.invalid(object, format!("expected a 1-D dataset, found shape {shape:?}"))),
        }
    }

    pub(crate) fn csr(&self, object: &str, g: &Group, n_rows: usize, n_cols: usize) -> Result<CsrMatrix, IoError> {
        let (indptr, indices_ds, data_ds) = self.indptr(object, g, n_rows, "rows")?;
        let nnz = indptr[n_rows];
        let idx_path = join(object, "indices");
        let mut indices = self.zeroed::<u32>(&idx_path, nnz)?;
        self.read_all(&idx_path, &indices_ds, &mut indices, |ds, start, count| {
            Ok(ds.read_i64_rows(start, count)?.into_iter().map(|c| u32::try_from(c).unwrap_or(u32::MAX)).collect())
        })?;
        if let Some(k) = first_where(&indices, |&c| c as usize >= n_cols) {
            // Out-of-range values were saturated to u32::MAX: report the stored one.
            let stored = self.h5(&idx_path, indices_ds.read_i64_rows(k as u64, 1))?;
            let value = stored.first().copied().unwrap_or(i64::from(indices[k]));
            return Err(self.out_of_range(&idx_path, k as u64, value, n_cols, "columns"));
        }
        let data_path = join(object, "data");
        let mut data = self.zeroed::<f32>(&data_path, nnz)?;
        self.read_all(&data_path, &data_ds, &mut data, Dataset::read_f32_rows)?;
        if let Some(k) = first_where(&data, |v| !v.is_finite()) {
            let row = indptr.partition_point(|&p| p <= k as u64) - 1;
            return Err(self.non_finite(object, row, indices[k] as usize, data[k]));
        }
        Ok(CsrMatrix { n_rows, n_cols, indptr, indices, data })
    }

    /// Read a CSC matrix straight into CSR: count the entries of each row, then scatter.
    fn csc_as_csr(&self, object: &str, g: &Group, n_rows: usize, n_cols: usize) -> Result<CsrMatrix, IoError> {
        let (col_ptr, rows_ds, data_ds) = self.indptr(object, g, n_cols, "columns")?;
        let nnz = col_ptr[n_cols];
        let idx_path = join(object, "indices");
        let mut indptr = vec![0u64; n_rows + 1];
        self.for_each_window(&idx_path, &rows_ds, nnz, Dataset::read_i64_rows, |start, window| {
            for (k, &r) in window.iter().enumerate() {
                if r < 0 || r as u64 >= n_rows as u64 {
                    return Err(self.out_of_range(&idx_path, start + k as u64, r, n_rows, "rows"));
                }
                indptr[r as usize + 1] += 1;
            }
            Ok(())
        })?;
        for i in 0..n_rows {
            indptr[i + 1] += indptr[i];
        }
        let mut next: Vec<u64> = indptr[..n_rows].to_vec();
        let mut indices = self.alloc::<u32>(&idx_path, nnz)?;
        indices.resize(nnz as usize, 0);
        let data_path = join(object, "data");
        let mut data = self.alloc::<f32>(&data_path, nnz)?;
        data.resize(nnz as usize, 0.0);
        let mut col = 0usize;
        let mut start = 0u64;
        while start < nnz {
            let count = WINDOW.min(nnz - start);
            let rows = self.read_window(&idx_path, &rows_ds, start, count, Dataset::read_i64_rows)?;
            let values = self.read_window(&data_path, &data_ds, start, count, Dataset::read_f32_rows)?;
            for (k, (&r, &v)) in rows.iter().zip(&values).enumerate() {
                let entry = start + k as u64;
                while col_ptr[col + 1] <= entry {
                    col += 1;
                }
                let slot = usize::try_from(r)
                    .ok()
                    .and_then(|r| next.get_mut(r))
                    .ok_or_else(|| self.out_of_range(&idx_path, entry, r, n_rows, "rows"))?;
                if !v.is_finite() {
                    return Err(self.non_finite(object, r as usize, col, v));
                }
                if *slot >= indptr[r as usize + 1] {
                    return Err(self.invalid(&idx_path, "changed while it was read"));
                }
                let pos = *slot as usize;
                *slot += 1;
                indices[pos] = col as u32;
                data[pos] = v;
            }
            start += count;
        }
        Ok(CsrMatrix { n_rows, n_cols, indptr, indices, data })
    }

    pub(crate) fn out_of_range(&self, object: &str, entry: u64, index: i64, bound: usize, what: &str) -> IoError {
        self.invalid(object, format!("entry {entry} is {index}, outside the {bound} {what} (0..{bound})"))
    }

    /// An empty vector with room for `n` values, or an error if memory cannot be had.
    fn alloc<T>(&self, object: &str, n: u64) -> Result<Vec<T>, IoError> {
        let mut v = Vec::new();
        usize::try_from(n)
            .ok()
            .and_then(|n| v.try_reserve_exact(n).ok())
            .ok_or_else(|| self.invalid(object, format!("cannot allocate memory for {n} values")))?;
        Ok(v)
    }

    /// `n` zeros ([`buffer::zeroed`]: huge pages, touched only when written), or an error if
    /// memory cannot be had.
    pub(crate) fn zeroed<T: Element>(&self, object: &str, n: u64) -> Result<Vec<T>, IoError> {
        drop(self.alloc::<T>(object, n)?);
        Ok(buffer::zeroed(n as usize))
    }

    /// Reads the whole 1-D dataset into `out` (as long as the dataset): in parallel when
    /// `h5chunks` takes it, else window by window through hdf5-pure's `read`.
    fn read_all<T: Element>(
        &self,
        object: &str,
        ds: &Dataset,
        out: &mut [T],
        read: fn(&Dataset, u64, u64) -> Result<Vec<T>, H5Error>,
    ) -> Result<(), IoError> {
        if let Some(reader) = ParallelReader::new(&self.path, object, ds) {
            return reader.read_into(out);
        }
        for (k, dst) in out.chunks_mut(WINDOW as usize).enumerate() {
            let start = k as u64 * WINDOW;
            dst.copy_from_slice(&self.read_window(object, ds, start, dst.len() as u64, read)?);
        }
        Ok(())
    }

    /// Read entries `start..start + count` of a 1-D dataset with `read`.
    fn read_window<T>(
        &self,
        object: &str,
        ds: &Dataset,
        start: u64,
        count: u64,
        read: fn(&Dataset, u64, u64) -> Result<Vec<T>, H5Error>,
    ) -> Result<Vec<T>, IoError> {
        let window = self.h5(object, read(ds, start, count))?;
        if window.len() as u64 == count {
            Ok(window)
        } else {
            Err(self.invalid(object, format!("read {} values at {start}, expected {count}", window.len())))
        }
    }

    /// Call `visit(start, values)` on consecutive windows covering the first `len` entries
    /// (the whole dataset, decoded in parallel when it is contiguous or chunked with gzip: see `h5chunks`).
    fn for_each_window<T: Element>(
        &self,
        object: &str,
        ds: &Dataset,
        len: u64,
        read: fn(&Dataset, u64, u64) -> Result<Vec<T>, H5Error>,
        mut visit: impl FnMut(u64, &[T]) -> Result<(), IoError>,
    ) -> Result<(), IoError> {
        if let Some(reader) = ParallelReader::new(&self.path, object, ds) {
            return reader.for_each_window(visit);
        }
        let mut start = 0;
        while start < len {
            let count = WINDOW.min(len - start);
            visit(start, &self.read_window(object, ds, start, count, read)?)?;
            start += count;
        }
        Ok(())
    }

    // ----- dataframes -----

    /// The group (anndata ≥ 0.7) or compound dataset (older) of dataframe `name`.
    fn frame_node(&self, name: &str) -> Result<Node, IoError> {
        self.node(name)?.ok_or_else(|| self.missing(name, ""))
    }

    /// The column names of a dataframe group, from `column-order`.
    fn column_order(&self, name: &str, g: &Group) -> Result<Vec<String>, IoError> {
        let attrs = self.h5(name, g.attrs())?;
        match attrs.get("column-order") {
            None => Err(self.unsupported(name, "a dataframe without a `column-order` attribute")),
            Some(value) => match value.as_strings() {
                Some(names) => Ok(names.to_vec()),
                // h5py writes an empty list of names as an empty float64 array.
                None if value.to_f64s().is_some_and(|v| v.is_empty()) => Ok(Vec::new()),
                None => Err(self.invalid(name, "`column-order` is not a list of names")),
            },
        }
    }

    /// The dataframe `name` of the AnnData under `root` (whose `uns` holds the categories of a
    /// pre-0.7 file).
    fn dataframe(&self, root: &str, name: &str, rows: Rows) -> Result<DataFrame, IoError> {
        let g = match self.frame_node(name)? {
            Node::Group(g) => g,
            Node::Dataset(ds) => return self.compound_frame(root, name, &ds, rows),
        };
        let attrs = self.h5(name, g.attrs())?;
        let index_name = attr_str(&attrs, "_index")
            .ok_or_else(|| self.unsupported(name, "a dataframe without an `_index` attribute"))?;
        let index_path = join(name, index_name);
        let index_ds = self.dataset(&g, name, index_name)?;
        let index = match self.array(&index_path, &index_ds, Some(rows))? {
            ColumnValues::Str(names) => names.into_iter().map(Option::unwrap_or_default).collect::<Vec<_>>(),
            _ => return Err(self.invalid(&index_path, "the index must hold strings")),
        };
        let legacy = match self.child(&g, name, "__categories")? {
            Some(Node::Group(cats)) => Some(cats),
            _ => None,
        };
        let mut columns = Vec::new();
        for col in self.column_order(name, &g)? {
            let object = join(name, &col);
            let node = self
                .child(&g, name, &col)?
                .ok_or_else(|| self.missing(&object, &format!("; it is listed in the `column-order` of `{name}`")))?;
            let values = self.column(&object, node, legacy.as_ref(), &col, rows)?;
            columns.push(Column { name: col, values });
        }
        Ok(DataFrame { index, columns })
    }

    /// A pre-0.7 dataframe: one compound dataset whose first field is the index, with the
    /// labels of categorical columns in `uns/<column>_categories`. As anndata's `_clean_uns`
    /// does, an integer column becomes categorical when such a dataset exists and every code
    /// is below its length.
    fn compound_frame(&self, root: &str, name: &str, ds: &Dataset, rows: Rows) -> Result<DataFrame, IoError> {
        self.check_len(name, ds, Some(rows))?;
        let datatype = self.h5(name, ds.datatype())?;
        let raw = self.h5(name, ds.read_raw())?;
        let mut columns = compound_columns(&datatype, &raw, rows.n).map_err(|e| match e {
            CompoundError::NotCompound => {
                self.unsupported(name, "a dataframe stored as a dataset that is not a compound (record) dataset")
            }
            CompoundError::Field(field, what) => {
                self.unsupported(&format!("{name}/{field}"), format!("a compound field of type {what}"))
            }
            CompoundError::Size(reason) => self.invalid(name, reason),
        })?;
        if columns.is_empty() {
            return Err(self.invalid(name, "the compound dataset has no fields (its first field is the index)"));
        }
        let first = columns.remove(0);
        let index = match first.values {
            ColumnValues::Str(v) => v.into_iter().map(Option::unwrap_or_default).collect(),
            ColumnValues::I64(v) => v.iter().map(i64::to_string).collect(),
            _ => {
                return Err(
                    self.invalid(&format!("{name}/{}", first.name), "the index (first field) must hold strings")
                );
            }
        };
        for col in &mut columns {
            let ColumnValues::I64(codes) = &col.values else { continue };
            let cats_path = join(root, &format!("uns/{}_categories", col.name));
            let Some(Node::Dataset(cats)) = self.node(&cats_path)? else { continue };
            let categories = self.labels(&cats_path, &cats)?;
            if codes.iter().all(|&c| (-1..categories.len() as i64).contains(&c)) {
                let codes = codes.iter().map(|&c| c as i32).collect();
                col.values = ColumnValues::Categorical { codes, categories };
            }
        }
        Ok(DataFrame { index, columns })
    }

    fn column(
        &self,
        object: &str,
        node: Node,
        legacy: Option<&Group>,
        name: &str,
        rows: Rows,
    ) -> Result<ColumnValues, IoError> {
        let g = match node {
            Node::Dataset(ds) => {
                let cats_path = format!("{}/__categories", object.rsplit_once('/').map_or("", |p| p.0));
                return match legacy.map(|cats| self.child(cats, &cats_path, name)).transpose()?.flatten() {
                    Some(Node::Dataset(cats)) => {
                        let categories = self.labels(&join(&cats_path, name), &cats)?;
                        let codes = self.codes(object, &ds, categories.len(), rows)?;
                        Ok(ColumnValues::Categorical { codes, categories })
                    }
                    _ => self.array(object, &ds, Some(rows)),
                };
            }
            Node::Group(g) => g,
        };
        let attrs = self.h5(object, g.attrs())?;
        let encoding = attr_str(&attrs, "encoding-type").unwrap_or("");
        match encoding {
            "categorical" => {
                let categories = self.labels(&join(object, "categories"), &self.dataset(&g, object, "categories")?)?;
                let codes =
                    self.codes(&join(object, "codes"), &self.dataset(&g, object, "codes")?, categories.len(), rows)?;
                Ok(ColumnValues::Categorical { codes, categories })
            }
            "nullable-integer" | "nullable-boolean" | "nullable-string-array" => {
                let mask_path = join(object, "mask");
                let mask_ds = self.dataset(&g, object, "mask")?;
                self.check_len(&mask_path, &mask_ds, Some(rows))?;
                let mask = self.h5(&mask_path, mask_ds.read_u8())?;
                let values_path = join(object, "values");
                let values_ds = self.dataset(&g, object, "values")?;
                let values = self.array(&values_path, &values_ds, Some(rows))?;
                apply_mask(values, &mask)
                    .ok_or_else(|| self.invalid(&values_path, format!("wrong dtype for `{encoding}`")))
            }
            other => Err(self.unsupported(object, format!("a column with encoding `{other}`"))),
        }
    }

    /// Check that a 1-D dataset has `rows.n` entries or, with no `rows`, a length that
    /// its file could hold (deflate expands at most 1032-fold), before it is read.
    fn check_len(&self, object: &str, ds: &Dataset, rows: Option<Rows>) -> Result<(), IoError> {
        let len = self.len_1d(object, ds)?;
        match rows {
            Some(Rows { matrix, axis, n }) if len != n as u64 => {
                Err(self.invalid(object, format!("has {len} entries, but `{matrix}` has {n} {axis}")))
            }
            None if len > self.file.file_size().saturating_mul(MAX_INFLATION) => {
                Err(self.invalid(object, format!("claims {len} entries, more than the file can hold")))
            }
            _ => Ok(()),
        }
    }

    /// A 1-D dataset as column values, by its dtype; `rows` as in [`Self::check_len`].
    pub(crate) fn array(&self, object: &str, ds: &Dataset, rows: Option<Rows>) -> Result<ColumnValues, IoError> {
        self.check_len(object, ds, rows)?;
        match self.h5(object, ds.dtype())? {
            DType::String | DType::VariableLengthString => {
                Ok(ColumnValues::Str(self.h5(object, ds.read_string())?.into_iter().map(Some).collect()))
            }
            DType::Enum(names) if names == ["FALSE", "TRUE"] => {
                Ok(ColumnValues::Bool(self.h5(object, ds.read_u8())?.into_iter().map(|b| Some(b != 0)).collect()))
            }
            DType::I8 | DType::I16 | DType::I32 | DType::I64 | DType::U8 | DType::U16 | DType::U32 | DType::U64 => {
                Ok(ColumnValues::I64(self.h5(object, ds.read_i64())?))
            }
            DType::F32 | DType::F64 => Ok(ColumnValues::F64(self.h5(object, ds.read_f64())?)),
            other => Err(self.unsupported(object, format!("a column of HDF5 type {other}"))),
        }
    }

    /// Category labels; numbers and booleans are given as text.
    pub(crate) fn labels(&self, object: &str, ds: &Dataset) -> Result<Vec<String>, IoError> {
        Ok(match self.array(object, ds, None)? {
            ColumnValues::Str(v) => v.into_iter().map(Option::unwrap_or_default).collect(),
            ColumnValues::I64(v) => v.iter().map(i64::to_string).collect(),
            ColumnValues::F64(v) => v.iter().map(f64::to_string).collect(),
            ColumnValues::Bool(v) => {
                v.iter().map(|b| if *b == Some(true) { "True" } else { "False" }.to_string()).collect()
            }
            ColumnValues::Categorical { .. } => {
                return Err(self.invalid(object, "nested categorical"));
            }
        })
    }

    /// Categorical codes, checked against the number of categories (−1 = missing).
    fn codes(&self, object: &str, ds: &Dataset, n_categories: usize, rows: Rows) -> Result<Vec<i32>, IoError> {
        let ColumnValues::I64(raw) = self.array(object, ds, Some(rows))? else {
            return Err(self.invalid(object, "categorical codes must be integers"));
        };
        raw.into_iter()
            .enumerate()
            .map(|(i, c)| {
                if (-1..n_categories as i64).contains(&c) {
                    Ok(c as i32)
                } else {
                    Err(self.invalid(object, format!("code {c} at row {i} is outside -1..{n_categories}")))
                }
            })
            .collect()
    }

    fn check_unique_var_names(&self, names: &[String]) -> Result<(), IoError> {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if let Some(&first) = seen.get(name.as_str()) {
                return Err(IoError::DuplicateVarName {
                    path: self.path.clone(),
                    name: name.clone(),
                    first,
                    second: i,
                });
            }
            seen.insert(name, i);
        }
        Ok(())
    }
}

/// Mark the rows where `mask` is set as missing; `None` if `values` cannot hold a missing value.
fn apply_mask(values: ColumnValues, mask: &[u8]) -> Option<ColumnValues> {
    let missing = |i: usize| mask[i] != 0;
    Some(match values {
        ColumnValues::I64(v) if !mask.iter().any(|&m| m != 0) => ColumnValues::I64(v),
        ColumnValues::I64(v) => ColumnValues::F64(
            v.into_iter().enumerate().map(|(i, x)| if missing(i) { f64::NAN } else { x as f64 }).collect(),
        ),
        ColumnValues::Bool(v) => {
            ColumnValues::Bool(v.into_iter().enumerate().map(|(i, x)| x.filter(|_| !missing(i))).collect())
        }
        ColumnValues::Str(v) => {
            ColumnValues::Str(v.into_iter().enumerate().map(|(i, x)| x.filter(|_| !missing(i))).collect())
        }
        ColumnValues::F64(_) | ColumnValues::Categorical { .. } => return None,
    })
}

/// An HDF5 library error on `object`, with unsupported compression filters singled out.
fn hdf5_error(path: &Path, object: &str, source: H5Error) -> IoError {
    match source {
        H5Error::Format(FormatError::UnsupportedFilter(filter)) => {
            IoError::UnsupportedFilter { path: path.to_path_buf(), object: object.to_string(), filter }
        }
        source => IoError::Hdf5 { path: path.to_path_buf(), object: object.to_string(), source },
    }
}

fn attr_str<'a>(attrs: &'a HashMap<String, AttrValue>, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(AttrValue::as_str)
}

pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_string() } else { format!("{parent}/{name}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAPALEXI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/papalexi2021_lowmoi.h5ad");

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/h5ad").join(name)
    }

    fn read(name: &str) -> AnnData {
        read_h5ad(&fixture(name), &ReadOptions::default()).unwrap()
    }

    fn read_layer(name: &str, layer: &str) -> Result<AnnData, IoError> {
        let opts = ReadOptions { layer: Some(layer.to_string()) };
        read_h5ad(&fixture(name), &opts)
    }

    fn read_err(name: &str) -> IoError {
        read_h5ad(&fixture(name), &ReadOptions::default()).unwrap_err()
    }

    /// The matrix every fixture is built from (crosscheck/make_fixtures.py `base_values`):
    /// k = (3i + 5j) mod 7, value k if k < 4 else 0, times `scale`.
    fn expected(scale: f32) -> Array2<f32> {
        Array2::from_shape_fn((30, 8), |(i, j)| {
            let k = (3 * i + 5 * j) % 7;
            if k < 4 { scale * k as f32 } else { 0.0 }
        })
    }

    fn dense(m: &Matrix) -> Array2<f32> {
        match m {
            Matrix::Dense(a) => a.clone(),
            Matrix::Csr(c) => {
                let mut a = Array2::zeros((c.n_rows, c.n_cols));
                for i in 0..c.n_rows {
                    let (cols, vals) = c.row(i);
                    for (&j, &v) in cols.iter().zip(vals) {
                        a[[i, j as usize]] += v;
                    }
                }
                a
            }
        }
    }

    fn values<'a>(frame: &'a DataFrame, name: &str) -> &'a ColumnValues {
        &frame.column(name).unwrap().values
    }

    fn is_csr(m: &Matrix) -> bool {
        matches!(m, Matrix::Csr(_))
    }

    #[test]
    fn papalexi_matches_anndata() {
        let path = Path::new(PAPALEXI);
        let a = read_h5ad(path, &ReadOptions::default()).unwrap();
        // python: a = anndata.read_h5ad(PAPALEXI); a.shape, a.X.nnz
        assert_eq!((a.n_obs, a.n_vars), (20729, 299));
        let Matrix::Csr(x) = &a.x else { panic!("X should be CSR") };
        assert_eq!(x.nnz(), 1_390_126);
        // [float(a.X[i].sum()) for i in (0, 1, 100, 20728)]
        let row_sum = |i: usize| x.row(i).1.iter().map(|&v| f64::from(v)).sum::<f64>();
        let sums: Vec<f64> = [0, 1, 100, 20728].into_iter().map(row_sum).collect();
        assert_eq!(sums, [212.0, 173.0, 138.0, 238.0]);
        // float(a.X.sum(dtype=np.float64))
        assert_eq!(x.data.iter().map(|&v| f64::from(v)).sum::<f64>(), 4_299_765.0);
        // np.asarray(a.X.sum(axis=0, dtype=np.float64)).ravel()[:3]
        let col_sum =
            |j: u32| x.indices.iter().zip(&x.data).filter(|(c, _)| **c == j).map(|(_, &v)| f64::from(v)).sum::<f64>();
        assert_eq!([col_sum(0), col_sum(1), col_sum(2)], [1103.0, 35411.0, 16760.0]);
        // a.X[0].indices[:5], a.X[0].data[:5]
        assert_eq!(&x.row(0).0[..5], &[1, 2, 16, 26, 33]);
        assert_eq!(&x.row(0).1[..5], &[3.0, 3.0, 2.0, 1.0, 1.0]);
        // a.obs_names[:3], a.obs_names[-1], a.var_names[:3], a.var_names[-1]
        assert_eq!(&a.obs.index[..3], &["cell0", "cell1", "cell2"]);
        assert_eq!(a.obs.index[20728], "cell20728");
        assert_eq!(&a.var.index[..3], &["PCBP3", "ITGB1BP1", "SERTAD1"]);
        assert_eq!(a.var.index[298], "NFKBIA");
        // list(a.obs.columns)
        let names =
            ["bio_rep", "grna_umi_total", "grna_top", "grna_top_umi", "grna_second_umi", "grna_top_frac", "target_top"];
        assert_eq!(a.obs.column_names(), names);
        assert!(a.var.columns.is_empty());
        // a.obs.target_top.cat.categories, a.obs.target_top.cat.codes[:5]
        let ColumnValues::Categorical { codes, categories } = values(&a.obs, "target_top") else {
            panic!("target_top should be categorical")
        };
        let targets = [
            "ATF2",
            "BRD4",
            "CAV1",
            "CD86",
            "CMTM6",
            "CUL3",
            "ETV7",
            "IFNGR1",
            "IFNGR2",
            "IRF1",
            "IRF7",
            "JAK2",
            "MARCH8",
            "MYC",
            "NFKBIA",
            "PDCD1LG2",
            "POU2F2",
            "SMAD4",
            "SPI1",
            "STAT1",
            "STAT2",
            "STAT3",
            "STAT5A",
            "TNFRSF14",
            "UBE2L6",
            "non-targeting",
        ];
        assert_eq!(categories, &targets);
        assert_eq!(&codes[..5], &[20, 2, 19, 3, 10]);
        assert!(codes.iter().all(|&c| c >= 0));
        // a.obs.bio_rep.cat.categories; len(a.obs.grna_top.cat.categories)
        let ColumnValues::Categorical { codes, categories } = values(&a.obs, "bio_rep") else { panic!() };
        assert_eq!(categories, &["rep_1", "rep_2", "rep_3"]);
        assert_eq!(&codes[..5], &[0, 0, 0, 0, 0]);
        let ColumnValues::Categorical { categories, .. } = values(&a.obs, "grna_top") else { panic!() };
        assert_eq!(categories.len(), 107);
        // a.obs.grna_top_frac.values[:3]; int((a.obs.grna_top_frac >= 0.8).sum())
        let ColumnValues::F64(frac) = values(&a.obs, "grna_top_frac") else { panic!() };
        assert_eq!(&frac[..3], &[0.9311827956989247, 0.8354430379746836, 0.8712871287128713]);
        assert_eq!(frac.iter().filter(|&&f| f >= 0.8).count(), 16192);
        // a.obs.grna_umi_total.values[:3]
        let ColumnValues::I64(total) = values(&a.obs, "grna_umi_total") else { panic!() };
        assert_eq!(&total[..3], &[465, 79, 101]);
    }

    #[test]
    fn every_fixture_matrix_matches_the_python_formula() {
        for (name, scale, sparse) in [
            ("csr_f32_gzip.h5ad", 0.5, true),
            ("csc_f64_lzf.h5ad", 0.5, true),
            ("dense_i32.h5ad", 1.0, false),
            ("csr_i64_index_u16_lzf.h5ad", 1.0, true),
            ("legacy_categories.h5ad", 0.5, true),
        ] {
            let a = read(name);
            assert_eq!((a.n_obs, a.n_vars), (30, 8), "{name}");
            assert_eq!(is_csr(&a.x), sparse, "{name}");
            assert_eq!(dense(&a.x), expected(scale), "{name}");
        }
    }

    #[test]
    fn csc_is_converted_to_the_same_csr_as_the_csr_file() {
        // Both files hold 0.5 * base_values(); anndata writes sorted indices.
        assert_eq!(read("csc_f64_lzf.h5ad").x, read("csr_f32_gzip.h5ad").x);
    }

    #[test]
    fn layers_are_read_by_name() {
        for (name, layer, scale, sparse) in [
            ("csr_f32_gzip.h5ad", "counts", 1.0, true),
            ("csc_f64_lzf.h5ad", "counts", 1.0, true),
            ("dense_i32.h5ad", "scaled", 0.25, false),
        ] {
            let a = read_layer(name, layer).unwrap();
            assert_eq!(is_csr(&a.x), sparse, "{name}");
            assert_eq!(dense(&a.x), expected(scale), "{name}/{layer}");
        }
    }

    #[test]
    fn unknown_layer_lists_the_available_ones() {
        let err = read_layer("csr_f32_gzip.h5ad", "spliced").unwrap_err();
        assert!(matches!(&err, IoError::UnknownLayer { available, .. } if available == &["counts"]));
        assert!(err.to_string().ends_with("no layer `spliced`; available layers: counts"), "{err}");
        let err = read_layer("csr_i64_index_u16_lzf.h5ad", "counts").unwrap_err();
        assert!(err.to_string().ends_with("available layers: none"), "{err}");
    }

    #[test]
    fn obs_columns_of_every_kind_match_pandas() {
        let a = read("csr_f32_gzip.h5ad");
        let obs = &a.obs;
        let rows = 0..30usize;
        assert_eq!(obs.index, rows.clone().map(|i| format!("cell{i}")).collect::<Vec<_>>());
        let order = ["cell_type", "n_genes", "score", "is_ctrl", "batch", "flag", "label", "label_na", "dose"];
        assert_eq!(obs.column_names(), order);
        let codes = rows.clone().map(|i| if i % 10 == 9 { -1 } else { (i % 3) as i32 }).collect();
        let categories = ["B", "T", "NK"].map(String::from).to_vec();
        assert_eq!(values(obs, "cell_type"), &ColumnValues::Categorical { codes, categories });
        assert_eq!(values(obs, "n_genes"), &ColumnValues::I64(rows.clone().map(|i| 10 * i as i64).collect()));
        let ColumnValues::F64(score) = values(obs, "score") else { panic!("score should be F64") };
        for (i, &s) in score.iter().enumerate() {
            if i == 5 { assert!(s.is_nan()) } else { assert_eq!(s, i as f64 / 4.0) }
        }
        assert_eq!(values(obs, "is_ctrl"), &ColumnValues::Bool(rows.clone().map(|i| Some(i % 2 == 0)).collect()));
        // Nullable Int64 with missing values: F64 with NaN.
        let ColumnValues::F64(batch) = values(obs, "batch") else { panic!("batch should be F64") };
        for (i, &b) in batch.iter().enumerate() {
            if i % 4 == 3 { assert!(b.is_nan()) } else { assert_eq!(b, i as f64) }
        }
        let flag = rows.clone().map(|i| (i % 5 != 4).then_some(i % 3 == 0)).collect();
        assert_eq!(values(obs, "flag"), &ColumnValues::Bool(flag));
        assert_eq!(values(obs, "label"), &ColumnValues::Str(rows.clone().map(|i| Some(format!("c{i}"))).collect()));
        let label_na = rows.clone().map(|i| (i % 6 != 5).then(|| format!("s{i}"))).collect();
        assert_eq!(values(obs, "label_na"), &ColumnValues::Str(label_na));
        let dose = ColumnValues::Categorical {
            codes: rows.map(|i| (i % 2) as i32).collect(),
            categories: vec!["10".into(), "20".into()],
        };
        assert_eq!(values(obs, "dose"), &dose);
    }

    #[test]
    fn var_columns_match_pandas() {
        let a = read("csc_f64_lzf.h5ad");
        assert_eq!(a.var.index, (0..8).map(|j| format!("g{j}")).collect::<Vec<_>>());
        assert_eq!(values(&a.var, "mean"), &ColumnValues::F64((0..8).map(|j| j as f64 / 8.0).collect()));
        let hv = (0..8).map(|j| Some(j % 2 == 1)).collect();
        assert_eq!(values(&a.var, "highly_variable"), &ColumnValues::Bool(hv));
    }

    #[test]
    fn legacy_categories_are_read_from_the_categories_group() {
        let a = read("legacy_categories.h5ad");
        let codes = (0..30).map(|i| i % 3).collect();
        let categories = ["B", "T", "NK"].map(String::from).to_vec();
        assert_eq!(values(&a.obs, "cell_type"), &ColumnValues::Categorical { codes, categories });
        assert_eq!(values(&a.obs, "n_genes"), &ColumnValues::I64((0..30).map(|i| 10 * i).collect()));
        assert_eq!(a.obs.column_names(), ["cell_type", "n_genes"]);
    }

    #[test]
    fn compound_obs_of_anndata_before_0_7_is_read() {
        // make_fixtures.py `compound_obs`: obs is one record array (index S8, n <i8), all zeros.
        let a = read("compound_obs.h5ad");
        assert_eq!(a.obs.index, vec![String::new(); 30]);
        assert_eq!(a.obs.column_names(), ["n"]);
        assert_eq!(values(&a.obs, "n"), &ColumnValues::I64(vec![0; 30]));
        assert_eq!(read_obs_column_names(&fixture("compound_obs.h5ad")).unwrap(), ["n"]);
        assert_eq!(dense(&a.x), expected(0.5));
    }

    #[test]
    fn obs_column_names_are_read_alone() {
        let names = read_obs_column_names(&fixture("csc_f64_lzf.h5ad")).unwrap();
        assert_eq!(names, ["cell_type"]);
    }

    #[test]
    fn out_of_range_indices_are_reported_as_stored() {
        // bad_indices.h5ad with entry 2 of its contiguous int32 `X/indices` (11) set to -1: read
        // as u32 it saturates, and the message must show the stored value, not 4294967295.
        let mut bytes = std::fs::read(fixture("bad_indices.h5ad")).unwrap();
        const ENTRY_2: usize = 88_800 + 2 * 4;
        assert_eq!(bytes[ENTRY_2..ENTRY_2 + 4], 11i32.to_le_bytes(), "fixture layout changed");
        bytes[ENTRY_2..ENTRY_2 + 4].copy_from_slice(&(-1i32).to_le_bytes());
        let message = read_bytes("negative-index", &bytes).unwrap_err().to_string();
        assert!(message.contains("`X/indices`: entry 2 is -1, outside the 8 columns"), "{message}");
    }

    #[test]
    fn bad_files_give_errors_naming_file_and_problem() {
        type IsKind = fn(&IoError) -> bool;
        let cases: [(&str, IsKind, &str); 8] = [
            ("bad_blosc.h5ad", |e| matches!(e, IoError::UnsupportedFilter { filter: 32001, .. }), "compression='gzip'"),
            (
                "bad_dup_var.h5ad",
                |e| matches!(e, IoError::DuplicateVarName { first: 2, second: 5, .. }),
                "var_names_make_unique()",
            ),
            (
                "bad_indices.h5ad",
                |e| matches!(e, IoError::Invalid { .. }),
                "`X/indices`: entry 2 is 11, outside the 8 columns",
            ),
            ("bad_indptr.h5ad", |e| matches!(e, IoError::Invalid { .. }), "`X/indptr`: decreases at position 5"),
            ("bad_nan.h5ad", |e| matches!(e, IoError::NonFinite { row: 1, col: 0, .. }), "non-finite value NaN"),
            ("bad_csc_inf.h5ad", |e| matches!(e, IoError::NonFinite { row: 8, col: 0, .. }), "non-finite value -inf"),
            ("bad_no_x.h5ad", |e| matches!(e, IoError::Missing { .. }), "no `X` in the file"),
            (
                "bad_shape.h5ad",
                |e| matches!(e, IoError::Invalid { .. }),
                "`obs/_index`: has 30 entries, but `X` has 29 rows",
            ),
        ];
        for (name, is_kind, text) in cases {
            let err = read_err(name);
            let message = err.to_string();
            assert!(is_kind(&err), "{name}: {message}");
            assert!(message.starts_with(&fixture(name).display().to_string()), "{message}");
            assert!(message.contains(text), "{name}: {message}");
            assert_eq!(err.path(), fixture(name));
        }
    }

    /// Write `bytes` to a fresh temporary file and read it.
    fn read_bytes(tag: &str, bytes: &[u8]) -> Result<AnnData, IoError> {
        let path = std::env::temp_dir().join(format!("gcrl-h5ad-{}-{tag}.h5ad", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let result = read_h5ad(&path, &ReadOptions::default());
        std::fs::remove_file(&path).unwrap();
        result
    }

    #[test]
    fn garbage_and_truncated_files_are_errors_not_panics() {
        assert!(matches!(read_bytes("empty", b""), Err(IoError::NotHdf5 { .. })));
        // xorshift bytes: not HDF5.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(matches!(read_bytes("random", &random), Err(IoError::NotHdf5 { .. })));
        let missing = fixture("no-such-file.h5ad");
        assert!(matches!(read_h5ad(&missing, &ReadOptions::default()), Err(IoError::Read { .. })));
        // Every prefix on a 2 KiB grid of a real file, and of the real data set's first 1000 bytes.
        let whole = std::fs::read(fixture("csr_f32_gzip.h5ad")).unwrap();
        for cut in (0..whole.len()).step_by(2048).chain([1000, whole.len() - 1]) {
            assert!(read_bytes(&format!("cut{cut}"), &whole[..cut]).is_err(), "prefix of {cut} bytes was read");
        }
        if let Ok(real) = std::fs::read(PAPALEXI) {
            assert!(read_bytes("real1000", &real[..1000]).is_err());
        }
        // Single corrupted bytes anywhere: Ok or Err, but no panic.
        for n in 0..300 {
            let mut bad = whole.clone();
            let at = (random[n] as usize * 256 + random[n + 300] as usize) % bad.len();
            bad[at] ^= random[n + 600] | 1;
            let _ = read_bytes(&format!("flip{n}"), &bad);
        }
        // The file's signature with its body overwritten by noise.
        let mut noisy = whole.clone();
        noisy[64..].iter_mut().zip(random.iter().cycle()).for_each(|(b, r)| *b ^= r);
        assert!(read_bytes("noisy", &noisy).is_err());
    }
}
