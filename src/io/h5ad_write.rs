//! Writing AnnData `.h5ad` files that anndata and scanpy read: `X` (CSR or dense), `obs` and
//! `var` data frames (an index and string or numeric columns), `obsm` and `varm` dense matrices,
//! the column names of each `obsm` matrix under `uns/gcrl/<key>_columns` (of each `varm` matrix
//! under `uns/gcrl/varm/<key>_columns`), and where each part came
//! from as the data frame `uns/gcrl/provenance` (one row per part). HDF5 is written by
//! hdf5-pure (pure Rust), with anndata's `encoding-type`/`encoding-version` attributes as
//! variable-length strings, as h5py writes them.

use std::path::Path;

use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder};
use ndarray::Array2;

use super::IoError;
use crate::algo::sparse::Csr;

/// The main matrix.
#[derive(Debug, Clone, Copy)]
pub enum XData<'a> {
    /// Sparse, cells × genes.
    Csr(&'a Csr),
    /// Dense, cells × genes.
    Dense(&'a Array2<f64>),
}

/// One `obs` or `var` column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Strings.
    Str(Vec<String>),
    /// Integers.
    I64(Vec<i64>),
    /// Numbers.
    F64(Vec<f64>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Str(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::F64(v) => v.len(),
        }
    }
}

/// What goes into the file.
#[derive(Debug, Clone)]
pub struct H5adContent<'a> {
    /// Cell names (the `obs` index).
    pub obs_names: &'a [String],
    /// Gene names (the `var` index).
    pub var_names: &'a [String],
    /// `X`.
    pub x: XData<'a>,
    /// `obs` columns, in order.
    pub obs: Vec<(String, Column)>,
    /// `var` columns, in order.
    pub var: Vec<(String, Column)>,
    /// `obsm` matrices (rows = cells) with their column names.
    pub obsm: Vec<(String, Vec<String>, Array2<f64>)>,
    /// `varm` matrices (rows = genes) with their column names.
    pub varm: Vec<(String, Vec<String>, Array2<f64>)>,
    /// What each part (`X`, `obs`, `var`, `obsm/<key>`, `varm/<key>`) came from.
    pub provenance: Vec<Provenance>,
}

/// Where one part of the file came from: a row of `uns/gcrl/provenance`.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// `X`, `obs` or `obsm/<key>` (the row name).
    pub part: String,
    /// Workflow name.
    pub workflow: String,
    /// Producing node.
    pub node: String,
    /// Its output port.
    pub output: String,
    /// The node's kind.
    pub kind: String,
    /// The kind's version.
    pub kind_version: u32,
    /// blake3 of the cached object.
    pub hash: String,
}

impl Provenance {
    /// The data frame's columns.
    fn columns(rows: &[Provenance]) -> Vec<(String, Column)> {
        let text = |f: fn(&Provenance) -> &str| Column::Str(rows.iter().map(|r| f(r).to_string()).collect());
        vec![
            ("workflow".into(), text(|r| &r.workflow)),
            ("node".into(), text(|r| &r.node)),
            ("output".into(), text(|r| &r.output)),
            ("kind".into(), text(|r| &r.kind)),
            ("kind_version".into(), Column::I64(rows.iter().map(|r| i64::from(r.kind_version)).collect())),
            ("hash".into(), text(|r| &r.hash)),
        ]
    }
}

fn vstr(s: &str) -> AttrValue {
    AttrValue::VarLenString(s.to_string())
}

fn encoding(g: &mut GroupBuilder, ty: &str, version: &str) {
    g.set_attr("encoding-type", vstr(ty));
    g.set_attr("encoding-version", vstr(version));
}

fn string_array(g: &mut GroupBuilder, name: &str, values: &[String]) {
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    g.create_dataset(name)
        .with_vlen_strings(&refs)
        .set_attr("encoding-type", vstr("string-array"))
        .set_attr("encoding-version", vstr("0.2.0"));
}

fn dense(g: &mut GroupBuilder, name: &str, m: &Array2<f64>) {
    let data: Vec<f64> = m.iter().copied().collect();
    g.create_dataset(name)
        .with_f64_data(&data)
        .with_shape(&[m.nrows() as u64, m.ncols() as u64])
        .set_attr("encoding-type", vstr("array"))
        .set_attr("encoding-version", vstr("0.2.0"));
}

fn frame(mut g: GroupBuilder, index: &[String], columns: &[(String, Column)]) -> hdf5_pure::FinishedGroup {
    encoding(&mut g, "dataframe", "0.2.0");
    g.set_attr("_index", vstr("_index"));
    let order: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    // anndata writes an empty column order as an empty float array (h5py has no empty strings).
    g.set_attr(
        "column-order",
        if order.is_empty() { AttrValue::F64Array(Vec::new()) } else { AttrValue::VarLenStringArray(order) },
    );
    string_array(&mut g, "_index", index);
    for (col, values) in columns {
        match values {
            Column::Str(v) => string_array(&mut g, col, v),
            Column::I64(v) => {
                g.create_dataset(col)
                    .with_i64_data(v)
                    .set_attr("encoding-type", vstr("array"))
                    .set_attr("encoding-version", vstr("0.2.0"));
            }
            Column::F64(v) => {
                g.create_dataset(col)
                    .with_f64_data(v)
                    .set_attr("encoding-type", vstr("array"))
                    .set_attr("encoding-version", vstr("0.2.0"));
            }
        }
    }
    g.finish()
}

fn invalid(path: &Path, object: &str, reason: String) -> IoError {
    IoError::Invalid { path: path.to_path_buf(), object: object.to_string(), reason }
}

/// Writes `content` to `path` as an `.h5ad` file.
pub fn write_h5ad(path: &Path, content: &H5adContent<'_>) -> Result<(), IoError> {
    let (n_obs, n_var) = (content.obs_names.len(), content.var_names.len());
    let shape = match content.x {
        XData::Csr(m) => (m.n_rows, m.n_cols),
        XData::Dense(m) => m.dim(),
    };
    if shape != (n_obs, n_var) {
        return Err(invalid(path, "X", format!("{shape:?} does not match {n_obs} cells × {n_var} genes")));
    }
    for (group, matrices, n, noun) in [("obsm", &content.obsm, n_obs, "cells"), ("varm", &content.varm, n_var, "genes")]
    {
        for (key, _, m) in matrices {
            if m.nrows() != n {
                return Err(invalid(path, &format!("{group}/{key}"), format!("{} rows for {n} {noun}", m.nrows())));
            }
        }
    }
    for (frame, columns, n, noun) in [("obs", &content.obs, n_obs, "cells"), ("var", &content.var, n_var, "genes")] {
        for (col, values) in columns {
            let len = values.len();
            if len != n {
                return Err(invalid(path, &format!("{frame}/{col}"), format!("{len} values for {n} {noun}")));
            }
        }
    }
    let mut fb = FileBuilder::new();
    fb.set_attr("encoding-type", vstr("anndata"));
    fb.set_attr("encoding-version", vstr("0.1.0"));
    match content.x {
        XData::Csr(m) => {
            let mut g = fb.create_group("X");
            encoding(&mut g, "csr_matrix", "0.1.0");
            g.set_attr("shape", AttrValue::I64Array(vec![n_obs as i64, n_var as i64]));
            g.create_dataset("data").with_f32_data(&m.data);
            // One integer type for both, as anndata writes them: scipy's kernels refuse a mix.
            if m.data.len() <= i32::MAX as usize && n_var <= i32::MAX as usize {
                let indices: Vec<i32> = m.indices.iter().map(|&i| i as i32).collect();
                g.create_dataset("indices").with_i32_data(&indices);
                let indptr: Vec<i32> = m.indptr.iter().map(|&p| p as i32).collect();
                g.create_dataset("indptr").with_i32_data(&indptr);
            } else {
                let indices: Vec<i64> = m.indices.iter().map(|&i| i64::from(i)).collect();
                g.create_dataset("indices").with_i64_data(&indices);
                let indptr: Vec<i64> = m.indptr.iter().map(|&p| p as i64).collect();
                g.create_dataset("indptr").with_i64_data(&indptr);
            }
            fb.add_group(g.finish());
        }
        XData::Dense(m) => {
            let data: Vec<f64> = m.iter().copied().collect();
            fb.create_dataset("X")
                .with_f64_data(&data)
                .with_shape(&[n_obs as u64, n_var as u64])
                .set_attr("encoding-type", vstr("array"))
                .set_attr("encoding-version", vstr("0.2.0"));
        }
    }
    let obs = frame(fb.create_group("obs"), content.obs_names, &content.obs);
    fb.add_group(obs);
    let var = frame(fb.create_group("var"), content.var_names, &content.var);
    fb.add_group(var);
    let mut obsm = fb.create_group("obsm");
    encoding(&mut obsm, "dict", "0.1.0");
    let mut uns = fb.create_group("uns");
    encoding(&mut uns, "dict", "0.1.0");
    let mut gcrl = uns.create_group("gcrl");
    encoding(&mut gcrl, "dict", "0.1.0");
    for (key, columns, m) in &content.obsm {
        dense(&mut obsm, key, m);
        string_array(&mut gcrl, &format!("{key}_columns"), columns);
    }
    let mut varm = fb.create_group("varm");
    encoding(&mut varm, "dict", "0.1.0");
    if !content.varm.is_empty() {
        let mut names = gcrl.create_group("varm");
        encoding(&mut names, "dict", "0.1.0");
        for (key, columns, m) in &content.varm {
            dense(&mut varm, key, m);
            string_array(&mut names, &format!("{key}_columns"), columns);
        }
        gcrl.add_group(names.finish());
    }
    if !content.provenance.is_empty() {
        let parts: Vec<String> = content.provenance.iter().map(|p| p.part.clone()).collect();
        let provenance = frame(gcrl.create_group("provenance"), &parts, &Provenance::columns(&content.provenance));
        gcrl.add_group(provenance);
    }
    uns.add_group(gcrl.finish());
    fb.add_group(obsm.finish());
    fb.add_group(varm.finish());
    fb.add_group(uns.finish());
    for empty in ["layers", "obsp", "varp"] {
        let mut g = fb.create_group(empty);
        encoding(&mut g, "dict", "0.1.0");
        fb.add_group(g.finish());
    }
    fb.write(path).map_err(|source| IoError::Write { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::h5ad::{Matrix, ReadOptions, read_h5ad};

    #[test]
    fn what_is_written_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.h5ad");
        let csr =
            Csr { n_rows: 2, n_cols: 3, indptr: vec![0, 1, 3], indices: vec![2, 0, 1], data: vec![1.5, 2.0, 3.0] };
        let cells = vec!["c1".to_string(), "c2".into()];
        let genes = vec!["g1".to_string(), "g2".into(), "g3".into()];
        let tfa = Array2::from_shape_vec((2, 2), vec![0.1, 0.2, 0.3, 0.4]).unwrap();
        let content = H5adContent {
            obs_names: &cells,
            var_names: &genes,
            x: XData::Csr(&csr),
            obs: vec![
                ("targets".into(), Column::Str(vec!["".into(), "TF1".into()])),
                ("n_targets".into(), Column::I64(vec![0, 1])),
            ],
            var: vec![("means".into(), Column::F64(vec![0.5, 1.0, 2.0]))],
            obsm: vec![("X_tfa".into(), vec!["community_1".into(), "global".into()], tfa)],
            varm: vec![("loadings".into(), vec!["pc1".into()], Array2::zeros((3, 1)))],
            provenance: Vec::new(),
        };
        write_h5ad(&path, &content).unwrap();
        let back = read_h5ad(&path, &ReadOptions::default()).unwrap();
        assert_eq!(back.obs.index, cells);
        assert_eq!(back.var.index, genes);
        assert_eq!(back.obs.column_names(), ["targets", "n_targets"]);
        assert_eq!(back.var.column_names(), ["means"]);
        let Matrix::Csr(m) = back.x else { panic!("X is CSR") };
        assert_eq!((m.indptr, m.indices, m.data), (vec![0, 1, 3], vec![2, 0, 1], vec![1.5, 2.0, 3.0]));
        let bad = H5adContent { obs_names: &cells[..1], ..content.clone() };
        let e = write_h5ad(&path, &bad).unwrap_err().to_string();
        assert!(e.contains("invalid `X`") && e.contains("1 cells × 3 genes"), "{e}");
        let bad = H5adContent { varm: vec![("loadings".into(), vec!["pc1".into()], Array2::zeros((2, 1)))], ..content };
        let e = write_h5ad(&path, &bad).unwrap_err().to_string();
        assert!(e.contains("varm/loadings") && e.contains("2 rows for 3 genes"), "{e}");
    }
}
