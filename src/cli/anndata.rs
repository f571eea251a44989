//! `gcrl export … --to out.h5ad`: cached tables back into an AnnData file. The exported output
//! is `X` (its cells and genes are `obs` and `var`); `--obs node.output` adds the columns of a
//! cell table, `--var node.output` those of a gene table (`gene` column), `--obsm
//! KEY=node.output` a cells × k matrix (activities, latents) aligned by cell name, and `--varm
//! KEY=node.output` a genes × k matrix (loadings, per-gene statistics) aligned by gene name.

use std::collections::HashMap;
use std::path::Path;

use ndarray::Array2;

use crate::io::h5ad_write::{Column, H5adContent, Provenance, XData, write_h5ad};
use crate::table::{Matrix, SparseMatrix, Table, is_sparse};

/// One `--obsm` or `--varm KEY=node.output`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixArg {
    /// The `obsm` or `varm` key (`X_tfa`, `X_gcrl`, `hvg`).
    pub key: String,
    /// The `node.output` that holds it.
    pub output: String,
}

impl std::str::FromStr for MatrixArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((key, output)) if !key.is_empty() && output.contains('.') => {
                Ok(MatrixArg { key: key.to_string(), output: output.to_string() })
            }
            _ => Err(format!("`{s}` is not KEY=node.output (e.g. X_tfa=activities.activities)")),
        }
    }
}

/// Rows of `names` in the order of `wanted` (cells or genes of X, `noun` says which); the error
/// names the first one that is missing.
fn align(names: &[String], wanted: &[String], noun: &str, what: &str) -> Result<Vec<usize>, String> {
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    wanted
        .iter()
        .map(|c| index.get(c.as_str()).copied().ok_or_else(|| format!("{noun} `{c}` of X is not in {what}")))
        .collect()
}

/// The columns of `table` but `key` (its `cell` or `gene` names), in the order of `wanted`:
/// integers as i64, other numbers as f64, anything else as text.
fn frame_columns(table: &Table, key: &str, wanted: &[String], what: &str) -> Result<Vec<(String, Column)>, String> {
    let names = table.str_column(key).map_err(|e| format!("{what}: {e}"))?;
    let rows = align(&names, wanted, key, what)?;
    let table = table.take(&rows).map_err(|e| e.to_string())?;
    let mut columns = Vec::new();
    for col in table.column_names().into_iter().filter(|c| c != key) {
        let integer = table.batch().column_by_name(&col).is_some_and(|c| c.data_type().is_integer());
        let values = match table.f64_column(&col) {
            Ok(v) if integer => Column::I64(v.into_iter().map(|x| x as i64).collect()),
            Ok(v) => Column::F64(v),
            Err(_) => Column::Str(table.str_column(&col).map_err(|e| format!("{what}: {e}"))?),
        };
        columns.push((col, values));
    }
    Ok(columns)
}

/// A `--obsm`/`--varm` matrix: its key, its `node.output` and the table.
pub type Keyed = (String, String, Table);

/// What goes into an .h5ad besides `X`: each with the `node.output` it came from.
pub struct Annotations<'a> {
    /// `--obs`: a cell table.
    pub obs: Option<(&'a str, &'a Table)>,
    /// `--var`: a gene table.
    pub var: Option<(&'a str, &'a Table)>,
    /// `--obsm`: cells × k tables.
    pub obsm: &'a [Keyed],
    /// `--varm`: genes × k tables.
    pub varm: &'a [Keyed],
}

/// A key, the column names and the values of an `obsm`/`varm` matrix.
type NamedMatrix = (String, Vec<String>, Array2<f64>);

/// The matrices of `keyed` (`flag` is `obsm` or `varm`) with rows in the order of `names` (the
/// cells or genes of X, `noun` says which), each with its column names.
fn aligned(keyed: &[Keyed], names: &[String], noun: &str, flag: &str) -> Result<Vec<NamedMatrix>, String> {
    let mut matrices = Vec::new();
    for (key, name, table) in keyed {
        let what = format!("--{flag} {key}={name}");
        let m = Matrix::from_table(table).map_err(|e| format!("{what}: {e}"))?;
        let rows = align(&m.rows, names, noun, &what)?;
        let data = Array2::from_shape_fn((rows.len(), m.cols.len()), |(i, j)| m.data[[rows[i], j]]);
        matrices.push((key.clone(), m.cols.clone(), data));
    }
    Ok(matrices)
}

/// Writes `x` with its annotations `with` to `path`; returns a one-line summary.
pub fn export_h5ad(
    x: &Table,
    with: &Annotations<'_>,
    provenance: Vec<Provenance>,
    path: &Path,
) -> Result<String, String> {
    let (cells, genes, sparse, dense);
    let x_data = if is_sparse(x) {
        sparse = SparseMatrix::from_table(x).map_err(|e| e.to_string())?;
        (cells, genes) = (&sparse.rows, &sparse.cols);
        XData::Csr(&sparse.csr)
    } else {
        dense = Matrix::from_table(x).map_err(|e| format!("X must be a cells × genes table: {e}"))?;
        (cells, genes) = (&dense.rows, &dense.cols);
        XData::Dense(&dense.data)
    };
    let obs_columns = match with.obs {
        Some((name, table)) => frame_columns(table, "cell", cells, &format!("--obs {name}"))?,
        None => Vec::new(),
    };
    let var_columns = match with.var {
        Some((name, table)) => frame_columns(table, "gene", genes, &format!("--var {name}"))?,
        None => Vec::new(),
    };
    let content = H5adContent {
        obs_names: cells,
        var_names: genes,
        x: x_data,
        obs: obs_columns,
        var: var_columns,
        obsm: aligned(with.obsm, cells, "cell", "obsm")?,
        varm: aligned(with.varm, genes, "gene", "varm")?,
        provenance,
    };
    write_h5ad(path, &content).map_err(|e| e.to_string())?;
    let mut extra = String::new();
    for (flag, keyed) in [("obsm", with.obsm), ("varm", with.varm)] {
        if !keyed.is_empty() {
            let keys: Vec<&str> = keyed.iter().map(|(k, _, _)| k.as_str()).collect();
            extra.push_str(&format!(", {flag}: {}", keys.join(", ")));
        }
    }
    Ok(format!("wrote {} ({} cells × {} genes{extra})", path.display(), cells.len(), genes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obsm_arguments_are_key_equals_output() {
        let a: MatrixArg = "X_tfa=activities.activities".parse().unwrap();
        assert_eq!((a.key.as_str(), a.output.as_str()), ("X_tfa", "activities.activities"));
        assert!("X_tfa".parse::<MatrixArg>().unwrap_err().contains("KEY=node.output"));
        assert!("=a.b".parse::<MatrixArg>().is_err());
    }

    #[test]
    fn alignment_names_the_missing_cell() {
        let names = vec!["b".to_string(), "a".into()];
        assert_eq!(align(&names, &["a".into(), "b".into()], "cell", "t").unwrap(), [1, 0]);
        assert_eq!(align(&names, &["c".into()], "gene", "t").unwrap_err(), "gene `c` of X is not in t");
    }
}
