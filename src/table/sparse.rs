//! Cells × genes matrices that stay sparse in the cache.
//!
//! Layout: one row per cell; columns `cell` (name), `indices` (list of gene positions) and
//! `values` (list of float32); the gene names sit in the schema metadata under `gcrl.genes`
//! (one key, so the bytes are deterministic). A CSR matrix is exactly an Arrow list array
//! (offsets = indptr), so conversion copies no more than once. A matrix is stored as record batches
//! of [`BATCH_ROWS`] rows, each with its own offsets, which streaming readers take one at a time
//! ([`blocks`]). Dense tables (a `cell` column and
//! one numeric column per gene, as `gcrl export` writes) are accepted wherever this is read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt32Type};
use arrow_array::{ArrayRef, Float32Array, ListArray, RecordBatch, StringArray, UInt32Array};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::{BatchSink, Matrix, Spill, Table, TableError};
use crate::algo::scan::first_where;
use crate::algo::sparse::{Csr, Rows};

const GENES_KEY: &str = "gcrl.genes";

/// A named sparse cells × genes matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseMatrix {
    /// Cell names.
    pub rows: Vec<String>,
    /// Gene names.
    pub cols: Vec<String>,
    /// The values.
    pub csr: Csr,
}

/// Rows per record batch of a stored matrix: a multiple of the 4096-row blocks of the column
/// statistics (`algo::sparse`), so statistics streamed batch by batch equal those of the whole.
pub const BATCH_ROWS: usize = 1 << 16;

impl SparseMatrix {
    /// Stores the matrix as a table in the sparse layout, copying the values.
    pub fn to_table(&self) -> Result<Table, TableError> {
        self.clone().into_table()
    }

    /// Stores the matrix as a table in the sparse layout, a batch per [`BATCH_ROWS`] rows; the
    /// values move into the table without a copy when the matrix fits one batch.
    pub fn into_table(self) -> Result<Table, TableError> {
        let schema = sparse_schema(&self.cols);
        let SparseMatrix { rows, csr, .. } = self;
        let Csr { n_rows, indptr, indices, data, .. } = csr;
        // Each batch views a slice of the one buffer the vectors move into.
        let (indices, data) = (ScalarBuffer::from(indices), ScalarBuffer::from(data));
        let mut writer = BlockWriter::new(schema, None);
        let mut names = rows.into_iter();
        for r0 in (0..n_rows.max(1)).step_by(BATCH_ROWS) {
            let r1 = (r0 + BATCH_ROWS).min(n_rows);
            let (lo, hi) = (indptr[r0] as usize, indptr[r1] as usize);
            let block: Vec<u64> = indptr[r0..=r1].iter().map(|&p| p - lo as u64).collect();
            let names = names.by_ref().take(r1 - r0).collect();
            writer.push_buffers(names, &block, indices.slice(lo, hi - lo), data.slice(lo, hi - lo))?;
        }
        writer.finish()
    }

    /// Reads a table in the sparse layout (of any number of batches), or a dense `cell` + genes
    /// table.
    pub fn from_table(table: &Table) -> Result<Self, TableError> {
        if !is_sparse(table) {
            let m = Matrix::from_table(table)?;
            let dense = m.data.mapv(|x| x as f32);
            let csr = Csr::from_dense(&dense.view()).map_err(|e| format_err(e.to_string()))?;
            return Ok(SparseMatrix { rows: m.rows, cols: m.cols, csr });
        }
        let cols = genes(table)?;
        let n_rows = table.n_rows();
        let (mut rows, mut indptr) = (Vec::with_capacity(n_rows), Vec::with_capacity(n_rows + 1));
        let nnz = table.batches().iter().map(|b| lists(b).map(|(i, _)| i.values().len())).sum::<Result<usize, _>>()?;
        let (mut indices, mut data) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
        indptr.push(0u64);
        for block in blocks(table)? {
            let block = block?;
            let base = indices.len() as u64;
            indptr.extend(block.indptr[1..].iter().map(|&p| base + p));
            indices.extend_from_slice(block.indices);
            data.extend_from_slice(block.data);
            rows.extend(block.rows.iter().map(|r| r.unwrap_or("").to_string()));
        }
        let csr = Csr::new(n_rows, cols.len(), indptr, indices, data).map_err(|e| format_err(e.to_string()))?;
        Ok(SparseMatrix { rows, cols, csr })
    }

    /// The dense `cell` + one float32 column per gene table.
    pub fn to_dense_table(&self) -> Result<Table, TableError> {
        let dense = self.csr.to_dense();
        Matrix { rows: self.rows.clone(), cols: self.cols.clone(), data: dense.mapv(f64::from) }.to_table("cell", true)
    }
}

/// One stored batch of a sparse matrix, viewed without copying: its cell names and its rows as
/// CSR arrays (`indptr` rebased to start at 0).
pub struct SparseBlock<'a> {
    /// Cell names of the block's rows.
    pub rows: &'a StringArray,
    /// Row `i` holds entries `indptr[i]..indptr[i + 1]` of `indices` and `data`.
    pub indptr: Vec<u64>,
    /// Gene position of each stored entry.
    pub indices: &'a [u32],
    /// Value of each stored entry.
    pub data: &'a [f32],
}

impl SparseBlock<'_> {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }
}

/// A table in the sparse layout read by row without copying: every row, or chosen rows in a
/// chosen order.
///
/// A mapped table's batches are released ([`Table::release`]) as they are read: once every
/// row of a batch has been read (in any order, by any thread) the batch leaves resident
/// memory, and the count starts again for the next pass.
pub struct SparseRows<'a> {
    table: &'a Table,
    blocks: Vec<SparseBlock<'a>>,
    /// Per row: its block and its row within the block.
    rows: Vec<(u32, u32)>,
    n_cols: usize,
    /// Per block: how many of `rows` it holds, and how many were read since its last release.
    reads: Vec<(u32, AtomicU32)>,
}

impl<'a> SparseRows<'a> {
    /// Every row of `table`, in order.
    pub fn new(table: &'a Table) -> Result<Self, TableError> {
        let n_cols = genes(table)?.len();
        // Checking a block reads all its gene positions: it is released behind the check.
        let blocks: Vec<SparseBlock<'a>> = blocks(table)?
            .enumerate()
            .map(|(b, block)| block.inspect(|_| table.release(b)))
            .collect::<Result<_, _>>()?;
        let rows =
            blocks.iter().enumerate().flat_map(|(b, block)| (0..block.n_rows() as u32).map(move |r| (b as u32, r)));
        Ok(SparseRows { table, reads: Vec::new(), rows: rows.collect(), blocks, n_cols }.counted())
    }

    fn counted(self) -> Self {
        let mut reads: Vec<(u32, AtomicU32)> = (0..self.blocks.len()).map(|_| (0, AtomicU32::new(0))).collect();
        for &(b, _) in &self.rows {
            reads[b as usize].0 += 1;
        }
        SparseRows { reads, ..self }
    }

    /// Counts a read of block `b`; the read that completes the block releases it.
    fn read(&self, b: usize) {
        let (total, count) = &self.reads[b];
        if count.fetch_add(1, Ordering::Relaxed) + 1 == *total {
            count.store(0, Ordering::Relaxed);
            self.table.release(b);
        }
    }

    /// The rows at `indices` (positions among these rows), in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(self, indices: &[usize]) -> Self {
        let rows = indices.iter().map(|&i| self.rows[i]).collect();
        SparseRows { rows, ..self }.counted()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The cell name of row `i`.
    pub fn name(&self, i: usize) -> &'a str {
        let (b, r) = self.rows[i];
        self.blocks[b as usize].rows.value(r as usize)
    }
}

impl Rows for SparseRows<'_> {
    fn n_rows(&self) -> usize {
        self.rows.len()
    }
    fn n_cols(&self) -> usize {
        self.n_cols
    }
    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (b, r) = self.rows[i];
        let block = &self.blocks[b as usize];
        let span = block.indptr[r as usize] as usize..block.indptr[r as usize + 1] as usize;
        self.read(b as usize);
        (&block.indices[span.clone()], &block.data[span])
    }
}

/// The gene names of a table in the sparse layout.
pub fn genes(table: &Table) -> Result<Vec<String>, TableError> {
    let meta = table.schema().metadata().get(GENES_KEY).cloned().ok_or_else(|| format_err("no gene list".into()))?;
    serde_json::from_str(&meta).map_err(|e| format_err(format!("bad gene list: {e}")))
}

/// The batches of a table in the sparse layout, each viewed as a [`SparseBlock`].
pub fn blocks(table: &Table) -> Result<impl Iterator<Item = Result<SparseBlock<'_>, TableError>>, TableError> {
    let n_cols = genes(table)?.len();
    Ok(table.batches().iter().map(move |b| block(b, n_cols)))
}

fn block(batch: &RecordBatch, n_cols: usize) -> Result<SparseBlock<'_>, TableError> {
    let (indices, values) = lists(batch)?;
    if indices.value_offsets() != values.value_offsets() {
        return Err(format_err("`indices` and `values` rows differ in length".into()));
    }
    let rows = batch
        .column_by_name("cell")
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| format_err("column `cell` is not a string column".into()))?;
    let offsets = indices.value_offsets();
    let (first, last) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
    let idx =
        indices.values().as_primitive_opt::<UInt32Type>().ok_or_else(|| format_err("indices are not u32".into()))?;
    let val =
        values.values().as_primitive_opt::<Float32Type>().ok_or_else(|| format_err("values are not f32".into()))?;
    let indices = &idx.values()[first..last];
    if let Some(j) = first_where(indices, |&j| j as usize >= n_cols).map(|k| indices[k]) {
        return Err(format_err(format!("gene position {j} out of range for {n_cols} genes")));
    }
    Ok(SparseBlock {
        rows,
        indptr: offsets.iter().map(|&o| (o as usize - first) as u64).collect(),
        indices,
        data: &val.values()[first..last],
    })
}

fn lists(batch: &RecordBatch) -> Result<(&ListArray, &ListArray), TableError> {
    let list = |name: &str| -> Result<&ListArray, TableError> {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_list_opt::<i32>())
            .ok_or_else(|| format_err(format!("column `{name}` is not a list")))
    };
    Ok((list("indices")?, list("values")?))
}

/// Builds a sparse-layout table a batch at a time (rows appended in order), for kinds that
/// produce a matrix block by block; a big one spills to its stored file as it is made.
pub struct BlockWriter {
    sink: BatchSink,
}

impl BlockWriter {
    /// A writer for a matrix over `genes`, spilling through `spill` (a task's
    /// `RunContext::spill`) once it is big.
    pub fn for_genes(genes: &[String], spill: Option<Spill>) -> Self {
        BlockWriter::new(sparse_schema(genes), spill)
    }

    fn new(schema: SchemaRef, spill: Option<Spill>) -> Self {
        BlockWriter { sink: BatchSink::new(schema, spill) }
    }

    /// Appends rows `names` with entries `indptr[i]..indptr[i + 1]` (from 0) of `indices`, `values`.
    pub fn push(
        &mut self,
        names: Vec<String>,
        indptr: &[u64],
        indices: Vec<u32>,
        values: Vec<f32>,
    ) -> Result<(), TableError> {
        self.push_buffers(names, indptr, indices.into(), values.into())
    }

    fn push_buffers(
        &mut self,
        names: Vec<String>,
        indptr: &[u64],
        indices: ScalarBuffer<u32>,
        values: ScalarBuffer<f32>,
    ) -> Result<(), TableError> {
        let batch = batch(self.sink.schema(), names, indptr, indices, values)?;
        self.sink.push(batch)
    }

    /// The table of every pushed batch.
    pub fn finish(self) -> Result<Table, TableError> {
        self.sink.finish()
    }
}

fn sparse_schema(genes: &[String]) -> SchemaRef {
    let genes = serde_json::to_string(genes).unwrap_or_default();
    Arc::new(
        Schema::new(vec![
            Field::new("cell", DataType::Utf8, false),
            Field::new("indices", DataType::List(item(DataType::UInt32)), false),
            Field::new("values", DataType::List(item(DataType::Float32)), false),
        ])
        .with_metadata(HashMap::from([(GENES_KEY.to_string(), genes)])),
    )
}

fn item(ty: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", ty, false))
}

fn batch(
    schema: &SchemaRef,
    names: Vec<String>,
    indptr: &[u64],
    indices: ScalarBuffer<u32>,
    values: ScalarBuffer<f32>,
) -> Result<RecordBatch, TableError> {
    let offsets: Vec<i32> =
        indptr.iter().map(|&p| i32::try_from(p).map_err(|_| too_big())).collect::<Result<_, _>>()?;
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let indices =
        ListArray::try_new(item(DataType::UInt32), offsets.clone(), Arc::new(UInt32Array::new(indices, None)), None)?;
    let values = ListArray::try_new(item(DataType::Float32), offsets, Arc::new(Float32Array::new(values, None)), None)?;
    let columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(names)), Arc::new(indices), Arc::new(values)];
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Whether `table` holds a matrix in the sparse layout.
pub fn is_sparse(table: &Table) -> bool {
    table.schema().metadata().contains_key(GENES_KEY)
}

/// `table` in the sparse layout: a dense `cell` + genes table is converted, a sparse one
/// returned as is (readers of [`SparseRows`] take either input).
pub fn sparsified(table: Table) -> Result<Table, TableError> {
    if is_sparse(&table) { Ok(table) } else { SparseMatrix::from_table(&table)?.into_table() }
}

/// `table` as `gcrl export` and `publish:` write it: a sparse matrix becomes the dense `cell` +
/// one column per gene table; any other table is returned as is.
pub fn densified(table: Table) -> Result<Table, TableError> {
    if is_sparse(&table) { SparseMatrix::from_table(&table)?.to_dense_table() } else { Ok(table) }
}

fn format_err(message: String) -> TableError {
    TableError::Type { name: "sparse matrix".into(), expected: "the gcrl sparse layout", found: message }
}

fn too_big() -> TableError {
    format_err(format!("more than 2^31 stored values in {BATCH_ROWS} rows of one matrix"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident KiB of the mapping of this process that holds address `at` (`/proc/self/smaps`).
    fn resident_kib(at: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((a, b)) = range.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = (a..b).contains(&at);
            } else if inside && let Some(kib) = line.strip_prefix("Rss:") {
                return kib.trim().trim_end_matches(" kB").parse().unwrap();
            }
        }
        panic!("no mapping holds {at:#x}")
    }

    #[test]
    fn a_mapped_batch_leaves_resident_memory_once_every_row_of_it_is_read() {
        // Four batches of 65,536 rows × 32 values: 16 MiB each in the file.
        let n = 4 * BATCH_ROWS;
        let indptr: Vec<u64> = (0..=n as u64).map(|i| i * 32).collect();
        let indices: Vec<u32> = (0..n * 32).map(|k| (k % 32) as u32 * 3).collect();
        let csr = Csr::new(n, 96, indptr, indices, vec![1.5; n * 32]).unwrap();
        let rows: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let cols: Vec<String> = (0..96).map(|j| format!("g{j}")).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.arrow");
        std::fs::write(&path, SparseMatrix { rows, cols, csr }.into_table().unwrap().to_ipc().unwrap()).unwrap();
        let table = Table::map_ipc(&path).unwrap();
        let at = lists(&table.batches()[0]).unwrap().1.values().to_data().buffers()[0].as_ptr() as usize;
        let x = SparseRows::new(&table).unwrap();
        let sum = |rows: std::ops::Range<usize>| rows.map(|i| x.row(i).1.iter().sum::<f32>()).sum::<f32>();
        // Decoding touched a few pages (the page cache may map 2 MiB at a time).
        let start = resident_kib(at);
        assert_eq!(sum(0..2 * BATCH_ROWS + BATCH_ROWS / 2), 48.0 * (2 * BATCH_ROWS + BATCH_ROWS / 2) as f32);
        let mid = resident_kib(at);
        // Without releases, 40 MiB more would be resident; released, only half the third batch.
        assert!(mid < start + (12 << 10), "the first two batches were released: {start} → {mid} KiB");
        assert!(mid + (4 << 10) > start.min(8 << 10), "half the third batch is resident: {start} → {mid} KiB");
        sum(2 * BATCH_ROWS + BATCH_ROWS / 2..n);
        let end = resident_kib(at);
        assert!(end < 4 << 10, "every batch released: {end} KiB");
        // A second pass reads the same values again (from the page cache).
        assert_eq!(sum(0..n), 48.0 * n as f32);
    }

    #[test]
    fn sparse_matrix_round_trips_and_densifies() {
        let csr = Csr::new(2, 3, vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]).unwrap();
        let m =
            SparseMatrix { rows: vec!["c1".into(), "c2".into()], cols: vec!["a".into(), "b".into(), "c".into()], csr };
        let t = m.to_table().unwrap();
        assert!(is_sparse(&t));
        let back = SparseMatrix::from_table(&Table::from_ipc(&t.to_ipc().unwrap()).unwrap()).unwrap();
        assert_eq!(back, m);
        let dense = m.to_dense_table().unwrap();
        assert_eq!(dense.column_names(), vec!["cell", "a", "b", "c"]);
        assert_eq!(dense.f64_column("c").unwrap(), vec![2.0, 0.0]);
        assert_eq!(SparseMatrix::from_table(&dense).unwrap(), m);
    }

    #[test]
    fn ipc_bytes_are_deterministic() {
        let csr = Csr::new(1, 2, vec![0, 1], vec![1], vec![5.0]).unwrap();
        let m = SparseMatrix { rows: vec!["c".into()], cols: vec!["a".into(), "b".into()], csr };
        assert_eq!(m.to_table().unwrap().to_ipc().unwrap(), m.to_table().unwrap().to_ipc().unwrap());
    }

    #[test]
    fn a_matrix_taller_than_a_batch_is_stored_in_batches_and_read_back_whole() {
        let n = BATCH_ROWS + 3;
        let indptr: Vec<u64> = (0..=n as u64).collect();
        let indices: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        let data: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
        let m = SparseMatrix {
            rows: (0..n).map(|i| format!("c{i}")).collect(),
            cols: vec!["a".into(), "b".into(), "c".into()],
            csr: Csr::new(n, 3, indptr, indices, data).unwrap(),
        };
        let t = m.clone().into_table().unwrap();
        assert_eq!(t.batches().len(), 2);
        assert_eq!(t.n_rows(), n);
        let parts: Vec<SparseBlock> = blocks(&t).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(parts[1].n_rows(), 3);
        assert_eq!(parts[1].rows.value(0), format!("c{BATCH_ROWS}"));
        assert_eq!(parts[1].indptr, vec![0, 1, 2, 3], "each block's offsets start at 0");
        assert_eq!(parts[1].data[0], BATCH_ROWS as f32 + 1.0);
        let back = SparseMatrix::from_table(&Table::from_ipc(&t.to_ipc().unwrap()).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
