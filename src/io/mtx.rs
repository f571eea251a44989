//! MatrixMarket count matrices with their feature and barcode files: 10x Genomics
//! (`matrix.mtx(.gz)` genes × cells, `features.tsv(.gz)` or `genes.tsv`, `barcodes.tsv(.gz)`),
//! GEO's prefixed copies of them (`GSM123_matrix.mtx.gz` beside `GSM123_features.tsv.gz`), R
//! exports with header rows, and Parse Biosciences (`count_matrix.mtx` cells × genes,
//! `all_genes.csv`, `cell_metadata.csv`).
//!
//! Owns: finding the feature and barcode files beside a matrix ([`companions`]), reading
//! them with or without a header row, and deciding which matrix axis is cells by matching
//! the matrix dimensions with their lengths.

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::IoError;
use crate::algo::sparse::Csr;
use crate::io::frame::{Column, ColumnValues, DataFrame};

/// The files that come with a matrix and how to orient it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MtxFiles {
    /// The features (genes) file; found beside the matrix when `None`.
    pub features: Option<PathBuf>,
    /// The barcodes (cells) file; found beside the matrix when `None`.
    pub barcodes: Option<PathBuf>,
    /// `Some(true)`: matrix rows are cells (Parse); `Some(false)`: rows are genes (10x);
    /// `None`: decided from the lengths of the features and barcodes files.
    pub cells_by_genes: Option<bool>,
}

/// A MatrixMarket matrix turned into cells × genes with its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct Mtx {
    /// Cells × genes counts.
    pub counts: Csr,
    /// Cells: barcodes as index, the other columns of a barcodes table with a header.
    pub obs: DataFrame,
    /// Genes: symbols (the id when there is none) as index, then the columns of
    /// `scanpy.read_10x_mtx` (`gene_ids`, and `feature_types` for a three-column 10x file;
    /// every feature type is kept) or, for a file with a header, its other columns.
    pub var: DataFrame,
}

fn lines(path: &Path) -> Result<impl Iterator<Item = Result<String, IoError>> + use<>, IoError> {
    let file = std::fs::File::open(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })?;
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let owned = path.to_path_buf();
    Ok(reader.lines().map(move |l| l.map_err(|source| IoError::Read { path: owned.clone(), source })))
}

/// Whether a file name (without `.gz`) ends in `.csv`: comma-separated, fields maybe quoted.
fn is_csv(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    name.trim_end_matches(".gz").ends_with(".csv")
}

/// The non-empty rows of a tab-separated (or, for `.csv`, comma-separated) file.
fn rows(path: &Path) -> Result<Vec<Vec<String>>, IoError> {
    let csv = is_csv(path);
    let mut out = Vec::new();
    for line in lines(path)? {
        let line = line?;
        let line = line.trim_end_matches('\r');
        if !line.trim().is_empty() {
            out.push(if csv { split_csv(line) } else { line.split('\t').map(String::from).collect() });
        }
    }
    Ok(out)
}

/// One CSV line split into fields; `"…"` quotes (with `""` inside) are removed.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().expect("a field").push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().expect("a field").push(c),
        }
    }
    fields
}

/// Header names of a features file, by role (compared case-insensitively).
const ID_NAMES: &[&str] = &["gene_id", "gene_ids", "id", "feature_id", "ensembl_id", "ensembl"];
const SYMBOL_NAMES: &[&str] = &["gene_name", "gene_names", "gene_symbol", "gene_symbols", "symbol", "name", "gene"];
const TYPE_NAMES: &[&str] = &["feature_type", "feature_types"];
/// Header names of a barcodes file's key column.
pub(crate) const BARCODE_NAMES: &[&str] = &["barcode", "barcodes", "cell_barcode", "cell", "cell_id", "bc_wells"];

/// Whether the first row of a features or barcodes file is a header: its first field is one
/// of the known column names (an R export may begin with an empty row-name header).
fn has_header(rows: &[Vec<String>]) -> bool {
    let Some(first) = rows.first() else { return false };
    let known = |f: &str| {
        let f = f.trim().to_lowercase();
        ID_NAMES.iter().chain(SYMBOL_NAMES).chain(TYPE_NAMES).chain(BARCODE_NAMES).any(|n| *n == f)
            || ["x", "genome", "features", "genes"].contains(&f.as_str())
    };
    first.iter().take(2).any(|f| known(f))
}

/// A file read as rows of fields, maybe with a header naming the columns.
struct Annotation {
    path: PathBuf,
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

impl Annotation {
    fn read(path: &Path) -> Result<Self, IoError> {
        let mut rows = rows(path)?;
        let header = has_header(&rows).then(|| rows.remove(0));
        if let Some(k) = rows.iter().position(|r| r.iter().all(|f| f.trim().is_empty())) {
            return Err(IoError::invalid(path, format!("row {}", k + 1), "is empty"));
        }
        Ok(Annotation { path: path.to_path_buf(), header, rows })
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Field `k` of every row (empty where a row is shorter).
    fn column(&self, k: usize) -> Vec<String> {
        self.rows.iter().map(|r| r.get(k).cloned().unwrap_or_default()).collect()
    }

    /// The header position of the first of `names` present.
    fn find(&self, names: &[&str]) -> Option<usize> {
        let header = self.header.as_ref()?;
        names.iter().find_map(|n| header.iter().position(|h| h.trim().eq_ignore_ascii_case(n)))
    }

    /// The first column with a name in the header (an R export starts with an unnamed
    /// row-name column); 0 without a header.
    fn first_named(&self) -> usize {
        self.header.as_ref().and_then(|h| h.iter().position(|n| !n.trim().is_empty())).unwrap_or(0)
    }

    /// The other header columns (not in `used`, not an R row-name column) as typed columns.
    fn other_columns(&self, used: &[usize]) -> Vec<Column> {
        let Some(header) = &self.header else { return Vec::new() };
        (0..header.len())
            .filter(|k| !used.contains(k) && !header[*k].trim().is_empty())
            .map(|k| Column { name: header[k].trim().to_string(), values: typed(self.column(k)) })
            .collect()
    }
}

/// Text values as integers, else as numbers, else as text (empty text is missing).
fn typed(values: Vec<String>) -> ColumnValues {
    if let Ok(v) = values.iter().map(|s| s.trim().parse::<i64>()).collect::<Result<Vec<_>, _>>() {
        return ColumnValues::I64(v);
    }
    let number = |s: &str| if s.trim().is_empty() { Ok(f64::NAN) } else { s.trim().parse::<f64>() };
    if let Ok(v) = values.iter().map(|s| number(s)).collect::<Result<Vec<_>, _>>() {
        return ColumnValues::F64(v);
    }
    ColumnValues::Str(values.into_iter().map(|s| (!s.is_empty()).then_some(s)).collect())
}

/// The var table of a features file: the index (symbols) and the columns.
fn genes(f: &Annotation) -> DataFrame {
    if f.header.is_some() {
        let id = f.find(ID_NAMES);
        let symbol = f.find(SYMBOL_NAMES).filter(|&s| Some(s) != id);
        let kind = f.find(TYPE_NAMES);
        let (id, symbol) = match (id, symbol) {
            (Some(i), s) => (i, s),
            (None, Some(s)) => (s, Some(s)),
            (None, None) => (f.first_named(), None),
        };
        let index = f.column(symbol.unwrap_or(id));
        let mut columns = vec![Column::text("gene_ids", f.column(id))];
        columns.extend(kind.map(|k| Column::text("feature_types", f.column(k))));
        let used: Vec<usize> = [Some(id), symbol, kind].into_iter().flatten().collect();
        columns.extend(f.other_columns(&used));
        return DataFrame { index, columns };
    }
    // 10x: id, symbol[, type]; `feature_types` only when every row has a third field.
    let ids = f.column(0);
    let index = f.rows.iter().map(|r| r.get(1).unwrap_or(&r[0]).clone()).collect();
    let mut columns = vec![Column::text("gene_ids", ids)];
    if !f.rows.is_empty() && f.rows.iter().all(|r| r.len() >= 3) {
        columns.push(Column::text("feature_types", f.column(2)));
    }
    DataFrame { index, columns }
}

/// The obs table of a barcodes file: barcodes as index, other header columns.
fn cells(b: &Annotation) -> DataFrame {
    let key = b.find(BARCODE_NAMES).unwrap_or_else(|| b.first_named());
    DataFrame { index: b.column(key), columns: b.other_columns(&[key]) }
}

/// The feature and barcode files beside `matrix`, tried in order: the 10x names with the
/// matrix's prefix (`GSM123_matrix.mtx.gz` → `GSM123_features.tsv.gz`), the 10x names alone,
/// then Parse's `all_genes.csv` and `cell_metadata.csv`. `None` where nothing is found.
pub fn companions(matrix: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let dir = matrix.parent().unwrap_or(Path::new("."));
    let name = matrix.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let stem = lower.trim_end_matches(".gz").trim_end_matches(".mtx");
    let prefix = &name[..stem.strip_suffix("matrix").map_or(0, str::len)];
    let find = |names: &[&str]| {
        let prefixes = if prefix.is_empty() { vec![""] } else { vec![prefix, ""] };
        prefixes.iter().flat_map(|p| names.iter().map(move |n| dir.join(format!("{p}{n}")))).find(|p| p.is_file())
    };
    let features = find(&[
        "features.tsv.gz",
        "features.tsv",
        "genes.tsv.gz",
        "genes.tsv",
        "all_genes.csv.gz",
        "all_genes.csv",
        "genes.csv.gz",
        "genes.csv",
        "features.csv.gz",
        "features.csv",
    ]);
    let barcodes = find(&[
        "barcodes.tsv.gz",
        "barcodes.tsv",
        "cell_metadata.csv.gz",
        "cell_metadata.csv",
        "barcodes.csv.gz",
        "barcodes.csv",
    ]);
    (features, barcodes)
}

/// The entries of a MatrixMarket coordinate file: `(rows, columns, (row, col, value))`, 0-based.
/// The lines of a matrix after its header, with the header's `rows columns entries` and the
/// number of the last header line.
type Body = (Box<dyn Iterator<Item = Result<String, IoError>>>, (usize, usize, usize), usize);

fn body(matrix: &Path) -> Result<Body, IoError> {
    let mut it = lines(matrix)?;
    let header = it.next().transpose()?.unwrap_or_default();
    if !header.starts_with("%%MatrixMarket matrix coordinate") {
        return Err(IoError::invalid(
            matrix,
            "line 1",
            "not a MatrixMarket coordinate matrix (`%%MatrixMarket matrix coordinate …`)",
        ));
    }
    if header.contains("complex") || header.contains("pattern") {
        return Err(IoError::invalid(matrix, "line 1", "only real or integer values are supported"));
    }
    let mut n = 1;
    let size = loop {
        n += 1;
        let line = it.next().transpose()?.ok_or_else(|| IoError::invalid(matrix, "header", "no size line"))?;
        if !line.starts_with('%') {
            break line;
        }
    };
    let dims: Vec<usize> = size.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let [n_rows, n_cols, nnz] = dims[..] else {
        return Err(IoError::invalid(matrix, format!("line {n}"), "expected `rows columns entries`"));
    };
    Ok((Box::new(it), (n_rows, n_cols, nnz), n))
}

/// The entry on line `n` as 0-based `(row, column, value)`; `None` for a line of fewer fields.
fn entry(
    matrix: &Path,
    line: &str,
    n: usize,
    (n_rows, n_cols): (usize, usize),
) -> Result<Option<(u32, u32, f32)>, IoError> {
    let mut f = line.split_whitespace();
    let (Some(i), Some(j), Some(v)) = (f.next(), f.next(), f.next()) else { return Ok(None) };
    let parse = |s: &str| s.parse::<usize>().ok().filter(|&x| x >= 1);
    let (Some(i), Some(j), Ok(v)) = (parse(i), parse(j), v.parse::<f32>()) else {
        return Err(IoError::invalid(matrix, format!("line {n}"), "expected `row column value` (1-based)"));
    };
    if i > n_rows || j > n_cols || !v.is_finite() {
        return Err(IoError::invalid(
            matrix,
            format!("line {n}"),
            format!("entry ({i}, {j}, {v}) outside {n_rows} × {n_cols}"),
        ));
    }
    Ok(Some(((i - 1) as u32, (j - 1) as u32, v)))
}

fn promised(matrix: &Path, nnz: usize, found: usize) -> IoError {
    IoError::invalid(matrix, "body", format!("header promises {nnz} entries, found {found}"))
}

fn read_entries(matrix: &Path) -> Result<(usize, usize, Vec<(u32, u32, f32)>), IoError> {
    let (it, (n_rows, n_cols, nnz), mut n) = body(matrix)?;
    let mut entries: Vec<(u32, u32, f32)> = Vec::with_capacity(nnz.min(1 << 28));
    for line in it {
        n += 1;
        if let Some(e) = entry(matrix, &line?, n, (n_rows, n_cols))? {
            entries.push(e);
        }
    }
    if entries.len() != nnz {
        return Err(promised(matrix, nnz, entries.len()));
    }
    Ok((n_rows, n_cols, entries))
}

/// `(cell, gene, value)` entries as a CSR matrix.
fn to_csr(matrix: &Path, n_cells: usize, n_genes: usize, mut entries: Vec<(u32, u32, f32)>) -> Result<Csr, IoError> {
    entries.sort_unstable_by_key(|&(c, g, _)| (c, g));
    let mut indptr = vec![0u64; n_cells + 1];
    for &(c, _, _) in &entries {
        indptr[c as usize + 1] += 1;
    }
    for c in 0..n_cells {
        indptr[c + 1] += indptr[c];
    }
    let indices = entries.iter().map(|e| e.1).collect();
    let data = entries.iter().map(|e| e.2).collect();
    Csr::new(n_cells, n_genes, indptr, indices, data).map_err(|e| IoError::invalid(matrix, "matrix", e.to_string()))
}

/// Reads a MatrixMarket matrix with its features and barcodes files, the matrix whole (see
/// [`open_mtx`] for the errors).
pub fn read_mtx(matrix: &Path, files: &MtxFiles) -> Result<Mtx, IoError> {
    // The entries first: a malformed line is reported before the annotations are looked at.
    let (_, _, entries) = read_entries(matrix)?;
    let MtxSource { counts, obs, var } = open_mtx(matrix, files)?;
    Ok(Mtx { counts: counts.of(entries)?, obs, var })
}

/// A MatrixMarket matrix's annotations, read, and its counts, left in the file ([`MtxRows`]).
pub struct MtxSource {
    /// Cells × genes counts, in the file.
    pub counts: MtxRows,
    /// As [`Mtx::obs`].
    pub obs: DataFrame,
    /// As [`Mtx::var`].
    pub var: DataFrame,
}

/// Opens a MatrixMarket matrix with its features and barcodes files: reads its header and the
/// annotations, and decides which axis is cells; the entries stay in the file.
///
pub fn open_mtx(matrix: &Path, files: &MtxFiles) -> Result<MtxSource, IoError> {
    let (found_features, found_barcodes) = companions(matrix);
    let missing = |what: &str, port: &str| IoError::Missing {
        path: matrix.to_path_buf(),
        object: format!("{what} file beside the matrix"),
        hint: format!(
            "; looked for features.tsv(.gz), genes.tsv, all_genes.csv / barcodes.tsv(.gz), cell_metadata.csv \
             (also with the matrix's prefix); name it with the input `{port}`"
        ),
    };
    let features = files.features.clone().or(found_features).ok_or_else(|| missing("features", "features"))?;
    let barcodes = files.barcodes.clone().or(found_barcodes).ok_or_else(|| missing("barcodes", "barcodes"))?;
    let (_, (n_rows, n_cols, _), _) = body(matrix)?;
    let f = Annotation::read(&features)?;
    let b = Annotation::read(&barcodes)?;
    let (nf, nb) = (f.len(), b.len());
    let genes_by_cells = (n_rows, n_cols) == (nf, nb);
    let cells_by_genes = (n_rows, n_cols) == (nb, nf);
    let rows_are_cells = match files.cells_by_genes {
        Some(forced) => {
            let fits = if forced { cells_by_genes } else { genes_by_cells };
            if !fits {
                let (gene_axis, cell_axis) = if forced { ("columns", "rows") } else { ("rows", "columns") };
                return Err(IoError::invalid(
                    matrix,
                    "shape",
                    format!(
                        "{n_rows} × {n_cols}, but {} has {nf} features ({gene_axis}) and {} has {nb} barcodes ({cell_axis})",
                        f.path.display(),
                        b.path.display()
                    ),
                ));
            }
            forced
        }
        None if genes_by_cells && cells_by_genes => {
            return Err(IoError::invalid(
                matrix,
                "shape",
                format!(
                    "{n_rows} × {n_cols} with {nf} features and {nb} barcodes: either axis could be the cells; \
                     set `transpose: true` if the rows are cells (Parse), `transpose: false` if they are genes (10x)"
                ),
            ));
        }
        None if genes_by_cells => false,
        None if cells_by_genes => true,
        None => {
            return Err(IoError::invalid(
                matrix,
                "shape",
                format!(
                    "{n_rows} × {n_cols} fits neither {nf} features ({}) × {nb} barcodes ({}) nor the transpose; \
                     are these the matrix's own features and barcodes files?",
                    f.path.display(),
                    b.path.display()
                ),
            ));
        }
    };
    let (n_cells, n_genes) = if rows_are_cells { (n_rows, n_cols) } else { (n_cols, n_rows) };
    let counts = MtxRows { path: matrix.to_path_buf(), n_cells, n_genes, rows_are_cells, cursor: RefCell::new(None) };
    Ok(MtxSource { counts, obs: cells(&b), var: genes(&f) })
}

/// The counts of a MatrixMarket file, read a block of cells at a time while its entries come in
/// order of cell (as Cell Ranger, R's `writeMM` of a genes × cells dgCMatrix and scipy's `mmwrite`
/// of a CSC genes × cells or a CSR cells × genes matrix write them), so a screen is never whole
/// in memory; an entry out of cell order ends the stream, and the file is then read whole.
pub struct MtxRows {
    path: PathBuf,
    n_cells: usize,
    n_genes: usize,
    rows_are_cells: bool,
    cursor: RefCell<Option<Cursor>>,
}

/// Where the stream stands.
struct Cursor {
    lines: Box<dyn Iterator<Item = Result<String, IoError>>>,
    /// Rows × columns and entries, as the header says.
    dims: (usize, usize, usize),
    /// Number of the last line read.
    line: usize,
    /// Entries read so far.
    seen: usize,
    /// An entry read past the block asked for: `(cell, gene, value)`.
    pending: Option<(u32, u32, f32)>,
    /// The cell of the last entry (entries must not go back).
    last_cell: u32,
    /// The first cell not asked for yet.
    next: usize,
}

impl MtxRows {
    /// Number of cells.
    pub fn n_rows(&self) -> usize {
        self.n_cells
    }

    /// The entry `(row, column, value)` as `(cell, gene, value)`.
    fn oriented(&self, (i, j, v): (u32, u32, f32)) -> (u32, u32, f32) {
        if self.rows_are_cells { (i, j, v) } else { (j, i, v) }
    }

    /// Cells `r0..r1` as a CSR matrix of their own, read on from where the last block ended
    /// (`r0` at least the last `r1`; the cells between are passed over); `Ok(None)` once an
    /// entry comes out of cell order (then read the file [`Self::whole`]).
    ///
    /// # Errors
    /// [`IoError::Invalid`] naming the line of a malformed or out-of-range entry, a block asked
    /// for out of order, or an entry count that differs from the header's at the file's end.
    pub fn block(&self, r0: usize, r1: usize) -> Result<Option<Csr>, IoError> {
        match self.advance(r0, r1, true)? {
            Some(entries) => to_csr(&self.path, r1 - r0, self.n_genes, entries).map(Some),
            None => Ok(None),
        }
    }

    /// Reads the rest of the file without keeping it, checking its entries as [`Self::block`]
    /// does: `false` if one comes out of cell order (an entry of a cell already given may
    /// follow, so read the file whole), and an error for a file that ends early.
    ///
    /// # Errors
    /// As [`Self::block`].
    pub fn finish(&self) -> Result<bool, IoError> {
        let next = self.cursor.borrow().as_ref().map_or(0, |c| c.next);
        Ok(self.advance(next, self.n_cells, false)?.is_some())
    }

    /// Reads on to cell `r1`, gathering the entries of cells `r0..` (rows from 0) when `keep`.
    fn advance(&self, r0: usize, r1: usize, keep: bool) -> Result<Option<Vec<(u32, u32, f32)>>, IoError> {
        let mut slot = self.cursor.borrow_mut();
        let c = match &mut *slot {
            Some(c) => c,
            empty => {
                let (lines, dims, line) = body(&self.path)?;
                empty.insert(Cursor { lines, dims, line, seen: 0, pending: None, last_cell: 0, next: 0 })
            }
        };
        if r0 < c.next || r1 < r0 {
            return Err(IoError::invalid(
                &self.path,
                "matrix",
                format!("cells {r0}..{r1} asked after cell {}", c.next),
            ));
        }
        let mut entries = Vec::new();
        loop {
            let e = match c.pending.take() {
                Some(e) => e,
                None => match c.lines.next() {
                    Some(line) => {
                        c.line += 1;
                        let Some(e) = entry(&self.path, &line?, c.line, (c.dims.0, c.dims.1))? else { continue };
                        c.seen += 1;
                        self.oriented(e)
                    }
                    None if c.seen != c.dims.2 => return Err(promised(&self.path, c.dims.2, c.seen)),
                    None => break,
                },
            };
            if e.0 < c.last_cell {
                return Ok(None);
            }
            c.last_cell = e.0;
            if e.0 as usize >= r1 {
                c.pending = Some(e);
                break;
            }
            if keep && e.0 as usize >= r0 {
                entries.push((e.0 - r0 as u32, e.1, e.2));
            }
        }
        c.next = r1;
        Ok(Some(entries))
    }

    /// Every cell, the file read whole (entries in any order).
    ///
    /// # Errors
    /// As [`Self::block`].
    pub fn whole(&self) -> Result<Csr, IoError> {
        self.of(read_entries(&self.path)?.2)
    }

    /// The matrix of the file's `(row, column, value)` entries.
    fn of(&self, entries: Vec<(u32, u32, f32)>) -> Result<Csr, IoError> {
        let entries = entries.into_iter().map(|e| self.oriented(e)).collect();
        to_csr(&self.path, self.n_cells, self.n_genes, entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn text(df: &DataFrame, name: &str) -> Vec<Option<String>> {
        match &df.column(name).unwrap().values {
            ColumnValues::Str(v) => v.clone(),
            other => panic!("{name}: {other:?}"),
        }
    }

    const MATRIX: &str = "%%MatrixMarket matrix coordinate integer general\n%\n3 2 3\n1 1 5\n3 1 1\n2 2 7\n";

    #[test]
    fn reads_a_small_matrix_as_cells_by_genes() {
        let dir = tempfile::tempdir().unwrap();
        let m = write(dir.path(), "matrix.mtx", MATRIX);
        let f = write(
            dir.path(),
            "features.tsv",
            "ENSG1\tA\tGene Expression\nENSG2\tB\tGene Expression\nENSG3\tC\tGene Expression\n",
        );
        let b = write(dir.path(), "barcodes.tsv", "AAAC-1\nGGGT-1\n");
        let named = MtxFiles { features: Some(f), barcodes: Some(b), cells_by_genes: None };
        let x = read_mtx(&m, &named).unwrap();
        assert_eq!(x.counts.to_dense(), ndarray::array![[5.0f32, 0.0, 1.0], [0.0, 7.0, 0.0]]);
        assert_eq!(x.var.index, vec!["A", "B", "C"]);
        assert_eq!(x.var.column_names(), ["gene_ids", "feature_types"]);
        assert_eq!(text(&x.var, "gene_ids"), ["ENSG1", "ENSG2", "ENSG3"].map(|s| Some(s.to_string())));
        assert_eq!(x.obs.index, vec!["AAAC-1", "GGGT-1"]);
        // The same files found beside the matrix.
        assert_eq!(read_mtx(&m, &MtxFiles::default()).unwrap(), x);
    }

    #[test]
    fn prefixed_geo_files_are_found_beside_the_matrix() {
        let dir = tempfile::tempdir().unwrap();
        let m = write(dir.path(), "GSM123_matrix.mtx", MATRIX);
        write(dir.path(), "GSM123_genes.tsv", "E1\tA\nE2\tB\nE3\tC\n");
        write(dir.path(), "GSM123_barcodes.tsv", "c1\nc2\n");
        // A decoy without the prefix must not be taken.
        write(dir.path(), "barcodes.tsv", "x\n");
        let x = read_mtx(&m, &MtxFiles::default()).unwrap();
        assert_eq!(x.obs.index, ["c1", "c2"]);
        assert_eq!(x.var.index, ["A", "B", "C"]);
        assert_eq!(x.var.column_names(), ["gene_ids"]);
        let (f, b) = companions(&m);
        assert_eq!(f.unwrap().file_name().unwrap(), "GSM123_genes.tsv");
        assert_eq!(b.unwrap().file_name().unwrap(), "GSM123_barcodes.tsv");
    }

    #[test]
    fn parse_layout_is_cells_by_genes_with_csv_headers() {
        let dir = tempfile::tempdir().unwrap();
        // 2 cells × 3 genes, rows are cells.
        let m = write(
            dir.path(),
            "count_matrix.mtx",
            "%%MatrixMarket matrix coordinate integer general\n2 3 3\n1 1 5\n1 3 1\n2 2 7\n",
        );
        write(dir.path(), "all_genes.csv", "gene_id,gene_name,genome\nE1,A,hg38\nE2,B,hg38\nE3,\"C,x\",hg38\n");
        write(
            dir.path(),
            "cell_metadata.csv",
            "bc_wells,sample,gene_count,tscp_count\n01_01_01__s1,s1,2,6\n01_02_03__s1,s1,1,7\n",
        );
        let x = read_mtx(&m, &MtxFiles::default()).unwrap();
        assert_eq!(x.counts.to_dense(), ndarray::array![[5.0f32, 0.0, 1.0], [0.0, 7.0, 0.0]]);
        assert_eq!(x.var.index, ["A", "B", "C,x"]);
        assert_eq!(x.var.column_names(), ["gene_ids", "genome"]);
        assert_eq!(text(&x.var, "gene_ids"), ["E1", "E2", "E3"].map(|s| Some(s.to_string())));
        assert_eq!(x.obs.index, ["01_01_01__s1", "01_02_03__s1"]);
        assert_eq!(x.obs.column_names(), ["sample", "gene_count", "tscp_count"]);
        assert_eq!(x.obs.column("gene_count").unwrap().values, ColumnValues::I64(vec![2, 1]));
        // Forcing the 10x orientation on it is an error naming both lengths.
        let forced = MtxFiles { cells_by_genes: Some(false), ..MtxFiles::default() };
        let err = read_mtx(&m, &forced).unwrap_err().to_string();
        assert!(err.contains("2 × 3") && err.contains("3 features (rows)"), "{err}");
    }

    #[test]
    fn r_export_with_row_names_and_header_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let m = write(dir.path(), "matrix.mtx", MATRIX);
        let f = write(dir.path(), "genes.csv", "\"\",\"x\"\n\"1\",\"A\"\n\"2\",\"B\"\n\"3\",\"C\"\n");
        let b = write(dir.path(), "barcodes.csv", "\"\",\"x\"\n\"1\",\"c1\"\n\"2\",\"c2\"\n");
        let x = read_mtx(&m, &MtxFiles { features: Some(f), barcodes: Some(b), cells_by_genes: None });
        let x = x.unwrap();
        assert_eq!(x.var.index, ["A", "B", "C"]);
        assert_eq!(x.obs.index, ["c1", "c2"]);
    }

    #[test]
    fn square_matrix_is_ambiguous_until_oriented() {
        let dir = tempfile::tempdir().unwrap();
        let m = write(dir.path(), "matrix.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 3.5\n");
        write(dir.path(), "features.tsv", "E1\tA\nE2\tB\n");
        write(dir.path(), "barcodes.tsv", "c1\nc2\n");
        let err = read_mtx(&m, &MtxFiles::default()).unwrap_err().to_string();
        assert!(err.contains("either axis could be the cells") && err.contains("transpose: true"), "{err}");
        let tenx = read_mtx(&m, &MtxFiles { cells_by_genes: Some(false), ..MtxFiles::default() }).unwrap();
        assert_eq!(tenx.counts.to_dense(), ndarray::array![[0.0f32, 0.0], [3.5, 0.0]]);
        let parse = read_mtx(&m, &MtxFiles { cells_by_genes: Some(true), ..MtxFiles::default() }).unwrap();
        assert_eq!(parse.counts.to_dense(), ndarray::array![[0.0f32, 3.5], [0.0, 0.0]]);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let m = write(dir.path(), "matrix.mtx", "%%MatrixMarket matrix coordinate integer general\n2 2 1\n3 1 5\n");
        let f = write(dir.path(), "features.tsv", "a\nb\n");
        let err = read_mtx(&m, &MtxFiles { features: Some(f.clone()), barcodes: Some(f), cells_by_genes: None });
        let err = err.unwrap_err().to_string();
        assert!(err.contains("matrix.mtx") && err.contains("line 3"), "{err}");
        let lone = tempfile::tempdir().unwrap();
        let m = write(lone.path(), "matrix.mtx", MATRIX);
        let err = read_mtx(&m, &MtxFiles::default()).unwrap_err().to_string();
        assert!(err.contains("no `features file beside the matrix`") && err.contains("input `features`"), "{err}");
    }
}
