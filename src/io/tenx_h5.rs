//! Reader for 10x Genomics Cell Ranger HDF5 matrices (`filtered_feature_bc_matrix.h5`,
//! `raw_feature_bc_matrix.h5`), as `scanpy.read_10x_h5` reads them.
//!
//! Layouts: Cell Ranger ≥ 3 (`matrix/{data,indices,indptr,shape,barcodes}` and
//! `matrix/features/{id,name,feature_type,genome,…}`) and Cell Ranger 2 (one group per genome,
//! `<genome>/{data,indices,indptr,shape,barcodes,genes,gene_names}`). Both store the counts as a
//! CSC genes × cells matrix, which is the CSR cells × genes matrix read as is; it is left in the
//! file and read a block of cells at a time where `h5chunks` takes its arrays ([`CsrSource`]).
//! Owns the layout only: the split into gene expression and CRISPR guide features is
//! [`TenXH5::gene_expression`] and [`TenXH5::guides`].

use std::path::Path;

use crate::algo::sparse::Csr;
use crate::io::IoError;
use crate::io::frame::{Column, ColumnValues, DataFrame};
use crate::io::h5ad::{H5ad, Node, Rows};
use crate::io::h5rows::CsrSource;

/// The feature type of expression features.
pub const GENE_EXPRESSION: &str = "Gene Expression";
/// The feature type of CRISPR guide features (Cell Ranger's feature reference).
pub const GUIDE_CAPTURE: &str = "CRISPR Guide Capture";

/// A Cell Ranger matrix: every feature of the chosen genome (all types).
pub struct TenXH5 {
    /// Cells × features counts.
    pub counts: CsrSource,
    /// Cells: barcodes as index; `filtered_barcodes` when the file has it.
    pub obs: DataFrame,
    /// Features: names as index, then scanpy's var columns: `gene_ids`, `feature_types`,
    /// and the other datasets of `matrix/features` in name order (`genome`,
    /// `target_gene_id`, …); Cell Ranger 2 files have `gene_ids` only.
    pub var: DataFrame,
}

/// The guide features of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Guides {
    /// Cells × guides UMI counts.
    pub umis: Csr,
    /// Guide (feature) names.
    pub names: Vec<String>,
    /// The target of each guide: `target_gene_name`, else `target_gene_id`, else the guide name
    /// (control guides carry the feature reference's label, e.g. `Non-Targeting`).
    pub targets: Vec<String>,
}

impl TenXH5 {
    /// The feature type of each feature (`Gene Expression` for every feature of a Cell Ranger 2 file).
    fn feature_types(&self) -> Vec<String> {
        match self.var.column("feature_types").map(|c| &c.values) {
            Some(ColumnValues::Str(v)) => v.iter().map(|t| t.clone().unwrap_or_default()).collect(),
            _ => vec![GENE_EXPRESSION.to_string(); self.var.n_rows()],
        }
    }

    fn features_of_type(&self, kind: &str) -> Vec<usize> {
        self.feature_types().iter().enumerate().filter(|(_, t)| *t == kind).map(|(k, _)| k).collect()
    }

    /// The `Gene Expression` features only (scanpy's `gex_only=True`): counts and var rows.
    pub fn gene_expression(self) -> TenXH5 {
        let keep = self.features_of_type(GENE_EXPRESSION);
        TenXH5 { counts: self.counts.select_columns(&keep), obs: self.obs, var: self.var.select_rows(&keep) }
    }

    /// The `CRISPR Guide Capture` features, or `None` when the matrix has none (a matrix left in
    /// its file is read through for them).
    ///
    /// # Errors
    /// Those of reading the matrix.
    pub fn guides(&self) -> Result<Option<Guides>, IoError> {
        let keep = self.features_of_type(GUIDE_CAPTURE);
        if keep.is_empty() {
            return Ok(None);
        }
        let text = |name: &str| match self.var.column(name).map(|c| &c.values) {
            Some(ColumnValues::Str(v)) => Some(v.clone()),
            _ => None,
        };
        let (by_name, by_id) = (text("target_gene_name"), text("target_gene_id"));
        let pick = |col: &Option<Vec<Option<String>>>, k: usize| {
            col.as_ref().and_then(|v| v[k].clone()).filter(|t| !t.trim().is_empty())
        };
        let names: Vec<String> = keep.iter().map(|&k| self.var.index[k].clone()).collect();
        let targets = keep
            .iter()
            .zip(&names)
            .map(|(&k, name)| pick(&by_name, k).or_else(|| pick(&by_id, k)).unwrap_or_else(|| name.clone()))
            .collect();
        Ok(Some(Guides { umis: self.counts.read_columns(&keep)?, names, targets }))
    }
}

/// Datasets of `matrix/features` that are not extra var columns in scanpy.
const NOT_COLUMNS: &[&str] = &["name", "feature_type", "id", "gene_id", "_all_tag_keys"];

/// Read a Cell Ranger HDF5 matrix.
///
/// # Arguments
/// * `path` – the `.h5` file.
/// * `genome` – keep the features of this genome only. Needed for a Cell Ranger 2 file with
///   several genome groups; for Cell Ranger ≥ 3 every genome is kept when `None` (a barnyard
///   matrix), as scanpy does.
///
/// # Returns
/// Every feature of the genome, or an [`IoError`]: not HDF5, neither layout, a genome that is
/// absent or a choice of genome needed ([`IoError::Choice`] listing them), bad offsets or
/// indices, lengths that disagree with `shape`.
pub fn read_10x_h5(path: &Path, genome: Option<&str>) -> Result<TenXH5, IoError> {
    let file = H5ad::open(path)?;
    let x = match file.node("matrix")? {
        Some(Node::Group(_)) => v3(file)?,
        _ => v2(file, path, genome)?,
    };
    let Some(genome) = genome.filter(|_| x.var.column("genome").is_some()) else { return Ok(x) };
    let genomes = match x.var.column("genome").map(|c| &c.values) {
        Some(ColumnValues::Str(v)) => v.iter().map(|g| g.clone().unwrap_or_default()).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    let keep: Vec<usize> = (0..genomes.len()).filter(|&k| genomes[k] == genome).collect();
    if keep.is_empty() {
        let mut available: Vec<String> = Vec::new();
        for g in genomes {
            if !available.contains(&g) {
                available.push(g);
            }
        }
        return Err(IoError::Choice {
            path: path.to_path_buf(),
            what: "genome",
            asked: Some(genome.into()),
            available,
        });
    }
    Ok(TenXH5 { counts: x.counts.select_columns(&keep), obs: x.obs, var: x.var.select_rows(&keep) })
}

/// The shape `[features, cells]` of the matrix group `g`.
fn shape(file: &H5ad, object: &str, g: &hdf5_pure::Group) -> Result<(usize, usize), IoError> {
    let path = format!("{object}/shape");
    let ds = file.dataset(g, object, "shape")?;
    match file.h5(&path, ds.read_i64())?[..] {
        [f, c] if f >= 0 && c >= 0 && u32::try_from(f).is_ok() => Ok((f as usize, c as usize)),
        ref other => Err(file.invalid(&path, format!("expected [features, cells], found {other:?}"))),
    }
}

/// A 1-D dataset of `n` names.
fn names(
    file: &H5ad,
    g: &hdf5_pure::Group,
    parent: &str,
    name: &str,
    n: usize,
    axis: &str,
) -> Result<Vec<String>, IoError> {
    let object = format!("{parent}/{name}");
    let ds = file.dataset(g, parent, name)?;
    match file.array(&object, &ds, Some(Rows { matrix: parent, axis, n }))? {
        ColumnValues::Str(v) => Ok(v.into_iter().map(Option::unwrap_or_default).collect()),
        _ => Err(file.invalid(&object, "expected strings")),
    }
}

fn v3(h5: H5ad) -> Result<TenXH5, IoError> {
    let file = &h5;
    let Some(Node::Group(g)) = file.node("matrix")? else { return Err(file.missing("matrix", "")) };
    let (n_features, n_cells) = shape(file, "matrix", &g)?;
    let barcodes = names(file, &g, "matrix", "barcodes", n_cells, "cells")?;
    let mut obs = DataFrame { index: barcodes, columns: Vec::new() };
    if let Some(Node::Dataset(ds)) = file.node("matrix/filtered_barcodes")? {
        let values =
            file.array("matrix/filtered_barcodes", &ds, Some(Rows { matrix: "matrix", axis: "cells", n: n_cells }))?;
        let values = match values {
            ColumnValues::I64(v) => ColumnValues::Bool(v.into_iter().map(|b| Some(b != 0)).collect()),
            other => other,
        };
        obs.columns.push(Column { name: "filtered_barcodes".into(), values });
    }
    let Some(Node::Group(features)) = file.node("matrix/features")? else {
        return Err(file.missing("matrix/features", "; a Cell Ranger ≥ 3 matrix has a features group"));
    };
    let parent = "matrix/features";
    let feature_names = |name: &str| names(file, &features, parent, name, n_features, "features");
    let mut datasets = file.h5(parent, features.datasets())?;
    datasets.sort();
    let mut columns = Vec::new();
    if datasets.iter().any(|d| d == "gene_id") {
        // A probe-barcode matrix (Flex): `id` holds probe ids.
        columns.push(Column::text("gene_ids", feature_names("gene_id")?));
        columns.push(Column::text("probe_ids", feature_names("id")?));
    } else {
        columns.push(Column::text("gene_ids", feature_names("id")?));
    }
    columns.push(Column::text("feature_types", feature_names("feature_type")?));
    for name in datasets.iter().filter(|d| !NOT_COLUMNS.contains(&d.as_str())) {
        let object = format!("{parent}/{name}");
        let ds = file.dataset(&features, parent, name)?;
        let values = match file.array(&object, &ds, Some(Rows { matrix: "matrix", axis: "features", n: n_features }))? {
            ColumnValues::Bool(v) => ColumnValues::Bool(v),
            ColumnValues::Str(v) => ColumnValues::Str(v),
            ColumnValues::I64(v) => ColumnValues::Str(v.iter().map(|x| Some(x.to_string())).collect()),
            ColumnValues::F64(v) => ColumnValues::Str(v.iter().map(|x| Some(x.to_string())).collect()),
            ColumnValues::Categorical { .. } => return Err(file.invalid(&object, "unexpected categorical")),
        };
        columns.push(Column { name: name.clone(), values });
    }
    let var = DataFrame { index: feature_names("name")?, columns };
    let counts = CsrSource::open(h5, "matrix", &g, n_cells, n_features)?;
    Ok(TenXH5 { counts, obs, var })
}

fn v2(h5: H5ad, path: &Path, genome: Option<&str>) -> Result<TenXH5, IoError> {
    let file = &h5;
    let available = file.h5("/", file.root().groups())?;
    let chosen = match genome {
        Some(g) if available.iter().any(|a| a == g) => g.to_string(),
        None if available.len() == 1 => available[0].clone(),
        None if available.is_empty() => {
            return Err(file.missing(
                "matrix",
                "; a 10x .h5 holds `matrix` (Cell Ranger ≥ 3) or one group per genome (Cell Ranger 2)",
            ));
        }
        asked => {
            return Err(IoError::Choice {
                path: path.to_path_buf(),
                what: "genome",
                asked: asked.map(String::from),
                available,
            });
        }
    };
    let Some(Node::Group(g)) = file.node(&chosen)? else { return Err(file.missing(&chosen, "")) };
    let (n_genes, n_cells) = shape(file, &chosen, &g)?;
    let obs = DataFrame { index: names(file, &g, &chosen, "barcodes", n_cells, "cells")?, columns: Vec::new() };
    let ids = names(file, &g, &chosen, "genes", n_genes, "features")?;
    let var = DataFrame {
        index: names(file, &g, &chosen, "gene_names", n_genes, "features")?,
        columns: vec![Column::text("gene_ids", ids)],
    };
    let counts = CsrSource::open(h5, &chosen, &g, n_cells, n_genes)?;
    Ok(TenXH5 { counts, obs, var })
}
