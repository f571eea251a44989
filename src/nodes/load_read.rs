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

use super::load_params::LoadParams;
use crate::algo::sparse::Csr;
use crate::io::IoError;
use crate::io::cell_table::{JoinReport, join_by_barcode, read_cell_table};
use crate::io::frame::DataFrame;
use crate::io::guide_calls::{read_protospacer_calls, threshold_calls, zero_missing_guide_counts};
use crate::io::h5ad::{Matrix as H5Matrix, ReadOptions, is_anndata, read_h5mu};
use crate::io::h5rows::{CsrRows, CsrSource, MatrixSource, open_h5ad};
use crate::io::mtx::{MtxFiles, MtxRows, open_mtx};
use crate::io::tenx_h5::{Guides, TenXH5, read_10x_h5};
use crate::kind::{Inputs, NodeError};
use crate::table::{BATCH_ROWS, BlockWriter, Matrix, SparseMatrix, Spill, Table, read_table_file};

/// Every format `load` reads, for the unknown-format error.
const FORMATS: &str = ".h5ad (AnnData), .h5mu (MuData, with `modality`), .h5 (10x Cell Ranger HDF5), \
     matrix.mtx(.gz) (10x/GEO/Parse MatrixMarket), .csv/.tsv/.txt (optionally .gz), .arrow/.feather/.ipc, .parquet";

/// What was read, and what the reading decided (for the run's summary).
pub struct Screen {
    /// Cells × genes.
    pub matrix: ScreenMatrix,
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
pub fn read_screen(p: &LoadParams, inputs: &Inputs) -> Result<Screen, NodeError> {
    let path = inputs.file("file")?;
    let mut notes = Vec::new();
    let mut guides = None;
    let opts = ReadOptions { layer: p.layer.clone() };
    let (matrix, mut obs, var) = match kind(path)? {
        Kind::H5ad => in_file(open_h5ad(path, &opts).map_err(input_error)?)?,
        Kind::H5mu => {
            let a = read_h5mu(path, p.modality.as_deref(), &opts).map_err(input_error)?;
            (ScreenMatrix::Loaded(whole(a.x)?), a.obs, a.var)
        }
        Kind::H5 if is_anndata(path).map_err(input_error)? => in_file(open_h5ad(path, &opts).map_err(input_error)?)?,
        Kind::H5 => {
            let x = read_10x_h5(path, p.genome.as_deref()).map_err(input_error)?;
            guides = x.guides().map_err(input_error)?;
            if let Some(g) = &guides {
                notes
                    .push(format!("{} CRISPR Guide Capture features kept out of the expression matrix", g.names.len()));
            }
            let TenXH5 { counts, obs, var } = x.gene_expression();
            let matrix = match counts {
                CsrSource::Read(c) => ScreenMatrix::Loaded(c),
                CsrSource::InFile(rows) => ScreenMatrix::InFile(Box::new(rows)),
            };
            (matrix, obs, var)
        }
        Kind::Mtx => {
            let files = MtxFiles {
                features: inputs.has("features").then(|| inputs.file("features").map(Path::to_path_buf)).transpose()?,
                barcodes: inputs.has("barcodes").then(|| inputs.file("barcodes").map(Path::to_path_buf)).transpose()?,
                cells_by_genes: p.transpose,
            };
            let x = open_mtx(path, &files).map_err(input_error)?;
            (ScreenMatrix::InFile(Box::new(x.counts)), x.obs, x.var)
        }
        Kind::Table => {
            let table = read_table_file(path)?;
            let table = if p.transpose.unwrap_or(false) { transposed(&table)? } else { table };
            let m = SparseMatrix::from_table(&table)?;
            let (obs, var) =
                (DataFrame { index: m.rows, columns: Vec::new() }, DataFrame { index: m.cols, columns: Vec::new() });
            (ScreenMatrix::Loaded(m.csr), obs, var)
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

fn whole(x: H5Matrix) -> Result<Csr, NodeError> {
    Ok(match x {
        H5Matrix::Csr(c) => c,
        H5Matrix::Dense(d) => Csr::from_dense(&d.view())?,
    })
}

fn in_file(
    (x, obs, var): (MatrixSource, DataFrame, DataFrame),
) -> Result<(ScreenMatrix, DataFrame, DataFrame), NodeError> {
    let matrix = match x {
        MatrixSource::Rows(rows) => ScreenMatrix::InFile(Box::new(rows)),
        MatrixSource::Whole(x) => ScreenMatrix::Loaded(whole(x)?),
    };
    Ok((matrix, obs, var))
}

/// The screen's matrix: read, or (a CSR `.h5ad` or Cell Ranger `.h5`, a MatrixMarket file)
/// still in its file, to be read a block of rows at a time as the kept cells are written.
pub enum ScreenMatrix {
    /// In memory.
    Loaded(Csr),
    /// In the file.
    InFile(Box<dyn Blocks>),
}

/// A matrix in its file, read by blocks of rows in increasing order.
pub trait Blocks {
    /// Number of rows (cells).
    fn n_rows(&self) -> usize;
    /// Rows `r0..r1` (`r0` at least the last block's `r1`); `None`: the file cannot give its rows
    /// in order after all, read it [`Blocks::whole`].
    fn block(&self, r0: usize, r1: usize) -> Result<Option<Csr>, IoError>;
    /// After the last block: whether the rest of the file agrees (`false`: read it whole).
    fn finish(&self) -> Result<bool, IoError>;
    /// Every row.
    fn whole(&self) -> Result<Csr, IoError>;
}

impl Blocks for CsrRows {
    fn n_rows(&self) -> usize {
        CsrRows::n_rows(self)
    }
    fn block(&self, r0: usize, r1: usize) -> Result<Option<Csr>, IoError> {
        self.read(r0, r1).map(Some)
    }
    fn finish(&self) -> Result<bool, IoError> {
        Ok(true)
    }
    fn whole(&self) -> Result<Csr, IoError> {
        self.read(0, CsrRows::n_rows(self))
    }
}

impl Blocks for MtxRows {
    fn n_rows(&self) -> usize {
        MtxRows::n_rows(self)
    }
    fn block(&self, r0: usize, r1: usize) -> Result<Option<Csr>, IoError> {
        MtxRows::block(self, r0, r1)
    }
    fn finish(&self) -> Result<bool, IoError> {
        MtxRows::finish(self)
    }
    fn whole(&self) -> Result<Csr, IoError> {
        MtxRows::whole(self)
    }
}

impl ScreenMatrix {
    /// Number of cells.
    pub fn n_rows(&self) -> usize {
        match self {
            ScreenMatrix::Loaded(m) => m.n_rows,
            ScreenMatrix::InFile(m) => m.n_rows(),
        }
    }

    /// The rows `keep` (in that order), named `names`, over `genes`, in the sparse layout. From
    /// the file, cells are read [`BATCH_ROWS`] file rows at a time (only the span holding kept
    /// ones) and written in batches of that many kept cells, so neither the whole screen nor a
    /// copy of the kept part exists beside the result; a block whose cells are all kept becomes
    /// a batch as read.
    pub fn select(
        self,
        keep: &[usize],
        names: Vec<String>,
        genes: &[String],
        spill: Option<Spill>,
    ) -> Result<Table, NodeError> {
        let file = match self {
            ScreenMatrix::Loaded(m) => {
                let csr = if keep.len() == m.n_rows && keep.iter().enumerate().all(|(i, &r)| i == r) {
                    m
                } else {
                    m.select_rows(keep)?
                };
                return Ok(SparseMatrix { rows: names, cols: genes.to_vec(), csr }.into_table()?);
            }
            ScreenMatrix::InFile(file) => file,
        };
        let whole = |file: Box<dyn Blocks>, names| {
            let all = file.whole().map_err(input_error)?;
            ScreenMatrix::Loaded(all).select(keep, names, genes, spill.clone())
        };
        if keep.windows(2).any(|w| w[0] >= w[1]) {
            return whole(file, names);
        }
        let mut out = BlockWriter::for_genes(genes, spill.clone());
        let mut batch = Batch::default();
        // Names are cloned as they are written: a file read whole after all needs them again.
        let mut at = 0;
        let mut rest = keep;
        for w0 in (0..file.n_rows()).step_by(BATCH_ROWS) {
            let w1 = (w0 + BATCH_ROWS).min(file.n_rows());
            let here = rest.partition_point(|&r| r < w1);
            let (rows, tail) = rest.split_at(here);
            rest = tail;
            let (Some(&first), Some(&last)) = (rows.first(), rows.last()) else { continue };
            let Some(block) = file.block(first, last + 1).map_err(input_error)? else {
                // Out of order: what was written goes (its object is never named).
                drop((out, batch));
                return whole(file, names);
            };
            if rows.len() == w1 - w0 && batch.names.is_empty() {
                let Csr { indptr, indices, data, .. } = block;
                out.push(names[at..at + rows.len()].to_vec(), &indptr, indices, data)?;
                at += rows.len();
                continue;
            }
            for &r in rows {
                let (cols, values) = block.row(r - first);
                batch.push(names.get(at).cloned().unwrap_or_default(), cols, values);
                at += 1;
                if batch.names.len() == BATCH_ROWS {
                    std::mem::take(&mut batch).write(&mut out)?;
                }
            }
        }
        if !file.finish().map_err(input_error)? {
            drop((out, batch));
            return whole(file, names);
        }
        if !batch.names.is_empty() {
            batch.write(&mut out)?;
        }
        Ok(out.finish()?)
    }
}

/// Kept cells gathered for one output batch.
struct Batch {
    names: Vec<String>,
    indptr: Vec<u64>,
    indices: Vec<u32>,
    data: Vec<f32>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch { names: Vec::new(), indptr: vec![0], indices: Vec::new(), data: Vec::new() }
    }
}

impl Batch {
    fn push(&mut self, name: String, cols: &[u32], values: &[f32]) {
        self.names.push(name);
        self.indices.extend_from_slice(cols);
        self.data.extend_from_slice(values);
        self.indptr.push(self.indices.len() as u64);
    }

    fn write(self, out: &mut BlockWriter) -> Result<(), NodeError> {
        Ok(out.push(self.names, &self.indptr, self.indices, self.data)?)
    }
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
    p: &LoadParams,
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
        let min = p.guide_umi_threshold;
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
            p.guide_umi_threshold
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::io::h5ad_write::{H5adContent, XData, write_h5ad};

    /// 140,000 cells (three read blocks) × 5 genes, one or two entries per cell.
    fn screen(dir: &Path) -> (std::path::PathBuf, Csr, Vec<String>, Vec<String>) {
        let n = 2 * BATCH_ROWS + 8_928;
        let (mut indptr, mut indices, mut data) = (vec![0u64], Vec::new(), Vec::new());
        for i in 0..n {
            indices.push((i % 3) as u32);
            data.push((i % 7 + 1) as f32);
            if i % 2 == 1 {
                indices.push(4);
                data.push(2.0);
            }
            indptr.push(indices.len() as u64);
        }
        let csr = Csr::new(n, 5, indptr, indices, data).unwrap();
        let cells: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let genes: Vec<String> = (0..5).map(|j| format!("g{j}")).collect();
        let path = dir.join("screen.h5ad");
        let content = H5adContent {
            obs_names: &cells,
            var_names: &genes,
            x: XData::Csr(&csr),
            obs: vec![],
            var: vec![],
            obsm: vec![],
            varm: vec![],
            provenance: vec![],
        };
        write_h5ad(&path, &content).unwrap();
        (path, csr, cells, genes)
    }

    #[test]
    fn kept_cells_read_block_by_block_give_the_bytes_of_the_whole_matrix() {
        let dir = tempfile::tempdir().unwrap();
        let (path, csr, cells, genes) = screen(dir.path());
        let n = csr.n_rows;
        let keeps: Vec<Vec<usize>> = vec![
            (0..n).collect(),
            (0..n).step_by(3).collect(),
            (BATCH_ROWS - 5..BATCH_ROWS + 70_000).collect(),
            vec![0, n - 1],
            (1..n).collect(),
            vec![],
        ];
        for keep in keeps {
            let (x, _, _) = open_h5ad(&path, &ReadOptions::default()).unwrap();
            let MatrixSource::Rows(rows) = x else { panic!("an uncompressed CSR X stays in its file") };
            let names: Vec<String> = keep.iter().map(|&i| cells[i].clone()).collect();
            let streamed = ScreenMatrix::InFile(Box::new(rows)).select(&keep, names.clone(), &genes, None).unwrap();
            let whole = ScreenMatrix::Loaded(csr.clone()).select(&keep, names, &genes, None).unwrap();
            assert_eq!(streamed.to_ipc().unwrap(), whole.to_ipc().unwrap(), "{} cells kept", keep.len());
            assert_eq!(streamed.n_rows(), keep.len());
        }
    }

    #[test]
    fn kept_cells_of_a_gzip_screen_read_from_inside_its_chunks_match_the_whole_read() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/papalexi2021_lowmoi.h5ad");
        let whole = crate::io::h5ad::read_h5ad(&path, &ReadOptions::default()).unwrap();
        let H5Matrix::Csr(csr) = whole.x else { panic!("papalexi X is CSR") };
        let genes = whole.var.index.clone();
        for keep in [(7..20_000).step_by(3).collect::<Vec<usize>>(), vec![5_431, 5_432, 20_728], (1..20_729).collect()]
        {
            let (x, _, _) = open_h5ad(&path, &ReadOptions::default()).unwrap();
            let MatrixSource::Rows(rows) = x else { panic!("a gzip CSR X stays in its file") };
            let names: Vec<String> = keep.iter().map(|&i| whole.obs.index[i].clone()).collect();
            let streamed = ScreenMatrix::InFile(Box::new(rows)).select(&keep, names.clone(), &genes, None).unwrap();
            let loaded = ScreenMatrix::Loaded(csr.clone()).select(&keep, names, &genes, None).unwrap();
            assert_eq!(streamed.to_ipc().unwrap(), loaded.to_ipc().unwrap(), "{} cells kept", keep.len());
        }
    }

    /// A 10x MatrixMarket screen (genes × cells) of `BATCH_ROWS + 9,000` cells, its entries in
    /// cell order, then with `moved` (an entry of cell 3) put last.
    fn mtx_screen(dir: &Path, moved: bool) -> PathBuf {
        let (n_genes, n_cells) = (7, BATCH_ROWS + 9_000);
        let mut entries: Vec<String> = Vec::new();
        for c in 0..n_cells {
            for g in (c % 3..n_genes).step_by(3) {
                entries.push(format!("{} {} {}", g + 1, c + 1, (c + g) % 5 + 1));
            }
        }
        if moved {
            let k = entries.iter().position(|e| e.split(' ').nth(1) == Some("4")).unwrap();
            let e = entries.remove(k);
            entries.push(e);
        }
        let header =
            format!("%%MatrixMarket matrix coordinate integer general\n{n_genes} {n_cells} {}\n", entries.len());
        std::fs::write(dir.join("matrix.mtx"), header + &entries.join("\n") + "\n").unwrap();
        let genes: Vec<String> = (0..n_genes).map(|g| format!("ENSG{g}\tG{g}\tGene Expression")).collect();
        std::fs::write(dir.join("features.tsv"), genes.join("\n") + "\n").unwrap();
        let cells: Vec<String> = (0..n_cells).map(|c| format!("C{c}-1")).collect();
        std::fs::write(dir.join("barcodes.tsv"), cells.join("\n") + "\n").unwrap();
        dir.join("matrix.mtx")
    }

    #[test]
    fn a_matrix_market_screen_streams_in_cell_order_and_is_read_whole_out_of_it() {
        let dir = tempfile::tempdir().unwrap();
        for moved in [false, true] {
            let path = mtx_screen(dir.path(), moved);
            let whole = crate::io::mtx::read_mtx(&path, &MtxFiles::default()).unwrap();
            let n = whole.counts.n_rows;
            let genes = whole.var.index.clone();
            let keeps: Vec<Vec<usize>> =
                vec![(0..n).collect(), (0..n).step_by(5).collect(), vec![0, 2], (BATCH_ROWS - 3..n).collect()];
            for keep in keeps {
                let x = open_mtx(&path, &MtxFiles::default()).unwrap();
                let names: Vec<String> = keep.iter().map(|&i| whole.obs.index[i].clone()).collect();
                let streamed =
                    ScreenMatrix::InFile(Box::new(x.counts)).select(&keep, names.clone(), &genes, None).unwrap();
                let loaded = ScreenMatrix::Loaded(whole.counts.clone()).select(&keep, names, &genes, None).unwrap();
                assert_eq!(streamed.to_ipc().unwrap(), loaded.to_ipc().unwrap(), "moved {moved}: {} kept", keep.len());
            }
            // The first block streams either way; the rest of the file shows cell 3's moved entry.
            let x = open_mtx(&path, &MtxFiles::default()).unwrap();
            assert!(x.counts.block(0, 10).unwrap().is_some());
            let back = x.counts.block(5, 20).unwrap_err().to_string();
            assert!(back.contains("matrix.mtx") && back.contains("cells 5..20 asked after cell 10"), "{back}");
            assert_eq!(x.counts.finish().unwrap(), !moved, "moved {moved}");
        }
        // A file that promises more entries than it has fails at its end, even past the cells kept.
        let path = mtx_screen(dir.path(), false);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
        let x = open_mtx(&path, &MtxFiles::default()).unwrap();
        let genes = x.var.index.clone();
        let e = ScreenMatrix::InFile(Box::new(x.counts)).select(&[0, 1], vec!["a".into(), "b".into()], &genes, None);
        assert!(e.is_err_and(|e| e.to_string().contains("header promises")), "a short file is an error");
    }
}
