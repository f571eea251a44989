//! Tables: the one currency between tasks.
//!
//! A [`Table`] is a sequence of Arrow record batches of one schema. Tasks exchange tables; the cache stores them as Arrow IPC
//! files that pandas (`pd.read_feather`), polars and R open directly. This module converts tables
//! to and from IPC bytes, files (csv, tsv, txt, arrow, parquet), typed columns and matrices, and
//! reads and writes the two typed tables that kinds pass each other: [`Communities`] and [`Edges`].
//! It knows nothing of the cache.

mod build;
mod communities;
mod edges;
mod error;
mod files;
mod ipc;
mod matrix;
mod sparse;
mod spill;

use std::sync::{Arc, OnceLock};

use arrow_array::{Array, ArrayRef, RecordBatch, cast::AsArray, types};
use arrow_schema::{DataType, SchemaRef};

pub use build::TableBuilder;
pub use communities::Communities;
pub use edges::{Edge, Edges};
pub use error::TableError;
pub use files::{read_table_file, write_table_file};
pub use ipc::batch_sizes;
pub use matrix::Matrix;
pub use sparse::{
    BATCH_ROWS, BlockWriter, SparseBlock, SparseMatrix, SparseRows, blocks, densified, genes as sparse_genes,
    is_sparse, sparsified,
};
pub use spill::{BatchSink, SPILL_BYTES, Spill, SpillFile};

/// An immutable table of named, typed columns, held as one or more record batches of the same
/// schema (a big matrix is written and read a row block at a time). Most readers see one batch
/// ([`Table::batch`], concatenated once on first use); streaming readers walk
/// [`Table::batches`]. Tables read from the cache are views into the mapped file (`ipc`).
#[derive(Debug, Clone)]
pub struct Table {
    parts: Arc<[RecordBatch]>,
    whole: Arc<OnceLock<RecordBatch>>,
    /// The content hash of the file this table was written to as it was made (see `spill`).
    stored: Option<Arc<str>>,
    /// For a table mapped from a file: the address range of each batch in the mapping.
    mapped: Option<Arc<[std::ops::Range<usize>]>>,
}

impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        self.batch() == other.batch()
    }
}

impl Table {
    /// Wraps a record batch.
    pub fn new(batch: RecordBatch) -> Self {
        Table { parts: Arc::from(vec![batch]), whole: Arc::default(), stored: None, mapped: None }
    }

    /// A table of several batches of `schema` (none: an empty table).
    ///
    /// # Errors
    /// [`TableError::Arrow`] when a batch's schema differs from `schema`.
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Self, TableError> {
        if let Some(b) = batches.iter().find(|b| b.schema() != schema) {
            return Err(TableError::Arrow(arrow_schema::ArrowError::SchemaError(format!(
                "a batch's schema {:?} differs from the table's {:?}",
                b.schema(),
                schema
            ))));
        }
        Ok(match batches.len() {
            0 => Table::new(RecordBatch::new_empty(schema)),
            _ => Table { parts: Arc::from(batches), whole: Arc::default(), stored: None, mapped: None },
        })
    }

    /// The table as one record batch (several batches are concatenated on first use).
    pub fn batch(&self) -> &RecordBatch {
        match &*self.parts {
            [one] => one,
            // Batches of one schema fail to concatenate only past 2^31 string bytes or list values
            // in one column; the one table that large, a sparse matrix, is read batch by batch.
            parts => self.whole.get_or_init(|| concat_batches(parts).expect("batches of one schema concatenate")),
        }
    }

    /// The table, known to be stored already under content hash `hash`.
    pub fn stored(self, hash: String) -> Self {
        Table { stored: Some(hash.into()), ..self }
    }

    /// The content hash of the file that already holds this table's bytes, if it spilled to one
    /// as it was made ([`BatchSink`]); storing it then costs nothing.
    pub fn stored_as(&self) -> Option<&str> {
        self.stored.as_deref()
    }

    fn mapped(self, spans: Vec<std::ops::Range<usize>>) -> Self {
        Table { mapped: Some(spans.into()), ..self }
    }

    /// Says that batch `i` of a table mapped from a file will not be read again soon: its pages
    /// leave the process's resident memory (they stay in the page cache, and fault back in if
    /// read). Streaming readers call it behind them, so reading a matrix bigger than memory
    /// holds only the batches in use. Nothing happens to a table in memory.
    pub fn release(&self, i: usize) {
        if let Some(span) = self.mapped.as_ref().and_then(|m| m.get(i)) {
            ipc::release(span);
        }
    }

    /// The record batches as stored, in row order.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.parts
    }

    /// The schema shared by every batch.
    pub fn schema(&self) -> SchemaRef {
        self.parts[0].schema()
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.parts.iter().map(RecordBatch::num_rows).sum()
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.parts[0].num_columns()
    }

    /// Column names in order.
    pub fn column_names(&self) -> Vec<String> {
        self.schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Serialises to Arrow IPC file bytes, one record batch per stored batch. The bytes depend
    /// only on the content and its batching.
    pub fn to_ipc(&self) -> Result<Vec<u8>, TableError> {
        let mut buf = Vec::with_capacity(self.parts.iter().map(|b| b.get_array_memory_size()).sum::<usize>() + 1024);
        self.write_ipc(&mut buf)?;
        Ok(buf)
    }

    /// Writes the Arrow IPC file to `out`, a batch at a time (see [`Table::to_ipc`]).
    pub fn write_ipc(&self, out: impl std::io::Write) -> Result<(), TableError> {
        let mut w = ipc::BatchWriter::new(out, &self.schema())?;
        for batch in self.parts.iter() {
            w.write(batch)?;
        }
        w.finish()?;
        Ok(())
    }

    /// Reads Arrow IPC file bytes (the batches are kept as written).
    pub fn from_ipc(bytes: &[u8]) -> Result<Self, TableError> {
        ipc::decode(arrow_buffer::Buffer::from(bytes))
    }

    /// Maps an Arrow IPC file and reads it without copying: the columns are views into the
    /// mapping, paged in as they are read. The file must not be modified while the table lives
    /// (cache objects never are: they are written once, under their content hash).
    pub fn map_ipc(path: &std::path::Path) -> Result<Self, TableError> {
        ipc::map(path)
    }

    fn column(&self, name: &str) -> Result<&ArrayRef, TableError> {
        self.batch()
            .column_by_name(name)
            .ok_or_else(|| TableError::Column { name: name.to_string(), available: self.column_names().join(", ") })
    }

    /// Whether a column of that name exists.
    pub fn has_column(&self, name: &str) -> bool {
        self.batch().column_by_name(name).is_some()
    }

    /// A numeric column as `f64` (integers and floats are converted; nulls become NaN).
    pub fn f64_column(&self, name: &str) -> Result<Vec<f64>, TableError> {
        numeric_f64(self.column(name)?, name)
    }

    /// A numeric column by position as `f64`.
    pub fn f64_column_at(&self, index: usize) -> Result<Vec<f64>, TableError> {
        let name = self.column_names().get(index).cloned().unwrap_or_default();
        numeric_f64(self.batch().column(index), &name)
    }

    /// A string column (nulls become empty strings).
    pub fn str_column(&self, name: &str) -> Result<Vec<String>, TableError> {
        let col = self.column(name)?;
        match col.data_type() {
            DataType::Utf8 => Ok(col.as_string::<i32>().iter().map(|s| s.unwrap_or("").to_string()).collect()),
            DataType::LargeUtf8 => Ok(col.as_string::<i64>().iter().map(|s| s.unwrap_or("").to_string()).collect()),
            DataType::Utf8View => Ok(col.as_string_view().iter().map(|s| s.unwrap_or("").to_string()).collect()),
            other => Err(TableError::Type { name: name.into(), expected: "strings", found: other.to_string() }),
        }
    }

    /// A boolean column (nulls become false).
    pub fn bool_column(&self, name: &str) -> Result<Vec<bool>, TableError> {
        let col = self.column(name)?;
        match col.data_type() {
            DataType::Boolean => Ok(col.as_boolean().iter().map(|b| b.unwrap_or(false)).collect()),
            other => Err(TableError::Type { name: name.into(), expected: "booleans", found: other.to_string() }),
        }
    }

    /// The rows at `indices`, in that order.
    pub fn take(&self, indices: &[usize]) -> Result<Table, TableError> {
        let idx = arrow_array::UInt64Array::from(indices.iter().map(|&i| i as u64).collect::<Vec<_>>());
        let columns = self
            .batch()
            .columns()
            .iter()
            .map(|c| arrow_select::take::take(c.as_ref(), &idx, None))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Table::new(RecordBatch::try_new(self.schema(), columns)?))
    }

    /// The first `n` rows, for display.
    pub fn head(&self, n: usize) -> Table {
        Table::new(self.batch().slice(0, n.min(self.n_rows())))
    }

    /// A human-readable rendering of the first `rows` rows and at most `cols` columns.
    pub fn pretty(&self, rows: usize, cols: usize) -> Result<String, TableError> {
        let head = self.head(rows);
        let keep: Vec<usize> = (0..self.n_cols().min(cols)).collect();
        let batch = head.batch().project(&keep)?;
        Ok(arrow_cast::pretty::pretty_format_batches(&[batch])?.to_string())
    }
}

fn numeric_f64(col: &ArrayRef, name: &str) -> Result<Vec<f64>, TableError> {
    macro_rules! prim {
        ($t:ty) => {
            col.as_primitive::<$t>().iter().map(|v| v.map(|x| x as f64).unwrap_or(f64::NAN)).collect()
        };
    }
    Ok(match col.data_type() {
        DataType::Float64 => col.as_primitive::<types::Float64Type>().iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
        DataType::Float32 => prim!(types::Float32Type),
        DataType::Int64 => prim!(types::Int64Type),
        DataType::Int32 => prim!(types::Int32Type),
        DataType::Int16 => prim!(types::Int16Type),
        DataType::Int8 => prim!(types::Int8Type),
        DataType::UInt64 => prim!(types::UInt64Type),
        DataType::UInt32 => prim!(types::UInt32Type),
        DataType::UInt16 => prim!(types::UInt16Type),
        DataType::UInt8 => prim!(types::UInt8Type),
        DataType::Boolean => col.as_boolean().iter().map(|b| if b.unwrap_or(false) { 1.0 } else { 0.0 }).collect(),
        other => return Err(TableError::Type { name: name.into(), expected: "numbers", found: other.to_string() }),
    })
}

fn concat_batches(batches: &[RecordBatch]) -> Result<RecordBatch, TableError> {
    let schema = batches[0].schema();
    let columns = (0..schema.fields().len())
        .map(|i| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            arrow_select::concat::concat(&parts)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}
