//! `load`'s first step: the data file (and the files that come with it) into one cells × genes
//! matrix with its `obs` and `var` tables, whatever the layout; `load` itself then handles
//! labels, filters and outputs.
//!
//! Chooses the reader by file name: `.h5ad`, `.h5mu` (MuData), `.h5`/`.hdf5` (Cell Ranger, or
//! an AnnData saved under that name), `.mtx(.gz)`, else a dense table (`.csv`, `.tsv`, `.txt`,
//! each maybe `.gz`, `.arrow`/`.feather`/`.ipc`, `.parquet`). Then joins, by barcode, Cell
//! Ranger's guide calls (or calls made from the matrix's guide features) and the `obs` table.

use std::collections::HashMap;
use std::path::Path;

use crate::algo::sparse::Csr;
use crate::engine::{Inputs, NodeError, Params};
use crate::io::IoError;
use crate::io::cell_table::{JoinReport, join_by_barcode, read_cell_table};
use crate::io::frame::DataFrame;
use crate::io::guide_calls::{read_protospacer_calls, threshold_calls, zero_missing_guide_counts};
use crate::io::h5ad::{Matrix as H5Matrix, ReadOptions, is_anndata, read_h5ad, read_h5mu};
use crate::io::mtx::{MtxFiles, read_mtx};
use crate::io::tenx_h5::{Guides, read_10x_h5};
use crate::table::{Matrix, SparseMatrix, Table, read_table_file};

/// Every format `load` reads, for the unknown-format error.
const FORMATS: &str = ".h5ad (AnnData), .h5mu (MuData, with `modality`), .h5 (10x Cell Ranger HDF5), \
     matrix.mtx(.gz) (10x/GEO/Parse MatrixMarket), .csv/.tsv/.txt (optionally .gz), .arrow/.feather/.ipc, .parquet";

/// What was read, and what the reading decided (for the run's summary).
pub struct Screen {
    /// Cells × genes.
    pub matrix: Csr,
    /// Cell table (index: barcodes).
    pub obs: DataFrame,
    /// Gene table (index: gene names).
    pub var: DataFrame,
    /// One line per decision or count worth reporting (joins, guide calls, orientation).
    pub notes: Vec<String>,
}

fn input_error(e: IoError) -> NodeError {
    NodeError::Input(e.to_string())
}

/// The file's reader, by name.
enum Kind {
    H5ad,
    H5mu,
    H5,
    Mtx,
    Table,
}

fn kind(path: &Path) -> Result<Kind, NodeError> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = stem.rsplit_once('.').map_or("", |(_, e)| e);
    Ok(match ext {
        "h5ad" if stem.len() < name.len() => return Err(unknown(path, "a gzipped .h5ad; unpack it first")),
        "h5ad" => Kind::H5ad,
        "h5mu" => Kind::H5mu,
        "h5" | "hdf5" => Kind::H5,
        "mtx" => Kind::Mtx,
        "csv" | "tsv" | "tab" | "txt" | "arrow" | "feather" | "ipc" | "parquet" | "pq" => Kind::Table,
        _ => return Err(unknown(path, "an unknown extension")),
    })
}

fn unknown(path: &Path, what: &str) -> NodeError {
    NodeError::Input(format!("{}: {what}; `load` reads {FORMATS}", path.display()))
}

/// Reads the screen named by the `file` input (see the module docs).
///
/// # Errors
/// [`NodeError::Input`] naming the file and what to change: unknown format, missing
/// companion files, an unknown layer, modality or genome (with the list), barcodes of a
/// joined table that match no cell.
pub fn read_screen(p: &Params, inputs: &Inputs) -> Result<Screen, NodeError> {
    let path = inputs.file("file")?;
    let mut notes = Vec::new();
    let mut guides = None;
    let opts = ReadOptions { layer: p.opt_str("layer")?.map(String::from) };
    let (matrix, mut obs, var) = match kind(path)? {
        Kind::H5ad => anndata(read_h5ad(path, &opts).map_err(input_error)?)?,
        Kind::H5mu => anndata(read_h5mu(path, p.opt_str("modality")?, &opts).map_err(input_error)?)?,
        Kind::H5 if is_anndata(path).map_err(input_error)? => anndata(read_h5ad(path, &opts).map_err(input_error)?)?,
        Kind::H5 => {
            let x = read_10x_h5(path, p.opt_str("genome")?).map_err(input_error)?;
            let (counts, var) = x.gene_expression()?;
            guides = x.guides()?;
            if let Some(g) = &guides {
                notes
                    .push(format!("{} CRISPR Guide Capture features kept out of the expression matrix", g.names.len()));
            }
            (counts, x.obs, var)
        }
        Kind::Mtx => {
            let files = MtxFiles {
                features: inputs.has("features").then(|| inputs.file("features").map(Path::to_path_buf)).transpose()?,
                barcodes: inputs.has("barcodes").then(|| inputs.file("barcodes").map(Path::to_path_buf)).transpose()?,
                cells_by_genes: transpose(p)?,
            };
            let x = read_mtx(path, &files).map_err(input_error)?;
            (x.counts, x.obs, x.var)
        }
        Kind::Table => {
            let table = read_table_file(path)?;
            let table = if transpose(p)?.unwrap_or(false) { transposed(&table)? } else { table };
            let m = SparseMatrix::from_table(&table)?;
            (m.csr, DataFrame { index: m.rows, columns: Vec::new() }, DataFrame { index: m.cols, columns: Vec::new() })
        }
    };
    guide_columns(p, inputs, guides.as_ref(), &mut obs, &mut notes)?;
    if inputs.has("obs") {
        let file = inputs.file("obs")?;
        let table = read_cell_table(file).map_err(input_error)?;
        let report = join_by_barcode(&mut obs, &table, file).map_err(input_error)?;
        notes.push(join_note(file, &report));
    }
    Ok(Screen { matrix, obs, var, notes })
}

/// `transpose`: unset (`None`) lets a MatrixMarket matrix be oriented by its files.
fn transpose(p: &Params) -> Result<Option<bool>, NodeError> {
    match p.value("transpose")? {
        serde_json::Value::Null => Ok(None),
        v => v.as_bool().map(Some).ok_or_else(|| NodeError::Input("param `transpose` must be true or false".into())),
    }
}

fn anndata(a: crate::io::h5ad::AnnData) -> Result<(Csr, DataFrame, DataFrame), NodeError> {
    let csr = match a.x {
        H5Matrix::Csr(c) => c,
        H5Matrix::Dense(d) => Csr::from_dense(&d.view())?,
    };
    Ok((csr, a.obs, a.var))
}

fn transposed(table: &Table) -> Result<Table, NodeError> {
    let m = Matrix::from_table(table)?;
    Ok(Matrix { rows: m.cols, cols: m.rows, data: m.data.t().to_owned() }.to_table("cell", true)?)
}

fn join_note(file: &Path, r: &JoinReport) -> String {
    let suffix = if r.suffix_dropped { " (after dropping the `-<digits>` barcode suffix)" } else { "" };
    format!(
        "{}: {} cells matched{suffix}; {} cells without a row; {} rows without a cell",
        file.display(),
        r.matched,
        r.cells_without_row,
        r.rows_without_cell
    )
}

/// The guide-call columns: from the `guide_calls` input (Cell Ranger's
/// `protospacer_calls_per_cell.csv`) when given, else from the matrix's guide features.
fn guide_columns(
    p: &Params,
    inputs: &Inputs,
    guides: Option<&Guides>,
    obs: &mut DataFrame,
    notes: &mut Vec<String>,
) -> Result<(), NodeError> {
    let target_of: HashMap<String, String> =
        guides.map(|g| g.names.iter().cloned().zip(g.targets.iter().cloned()).collect()).unwrap_or_default();
    let (calls, file) = if inputs.has("guide_calls") {
        let file = inputs.file("guide_calls")?;
        (read_protospacer_calls(file).map_err(input_error)?, file.to_path_buf())
    } else if let Some(g) = guides {
        let min = p.f64("guide_umi_threshold")?;
        let calls = threshold_calls(g, &obs.index, min);
        notes.push(format!("guides called with at least {min} UMIs: {} of {} cells", calls.cells.len(), obs.n_rows()));
        (calls, inputs.file("file")?.to_path_buf())
    } else {
        return Ok(());
    };
    if calls.cells.is_empty() {
        return Err(NodeError::Input(format!(
            "{}: no cell has a guide call (guide_umi_threshold {}); lower the threshold or give Cell Ranger's \
             calls as the input `guide_calls`",
            file.display(),
            p.f64("guide_umi_threshold")?
        )));
    }
    let frame = calls.frame(&target_of);
    let n_guides = if obs.column("n_guides").is_some() { "n_guides_table" } else { "n_guides" };
    if let Some(clash) = frame.columns.iter().find(|c| obs.column(&c.name).is_some()) {
        notes.push(format!(
            "the file has its own `{}`: the guide calls are added as `<name>_table` columns",
            clash.name
        ));
    }
    let report = join_by_barcode(obs, &frame, &file).map_err(input_error)?;
    zero_missing_guide_counts(obs, n_guides);
    if inputs.has("guide_calls") {
        notes.push(join_note(&file, &report));
    }
    Ok(())
}
