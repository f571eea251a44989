//! Tables: the one currency between tasks.
//!
//! A [`Table`] is an Arrow record batch. Tasks exchange tables; the cache stores them as Arrow IPC
//! files that pandas (`pd.read_feather`), polars and R open directly. This module converts tables
//! to and from IPC bytes, files (csv, tsv, txt, arrow, parquet), typed columns and matrices. It
//! knows nothing of the cache or of genes.

mod build;
mod error;
mod files;
mod matrix;
mod sparse;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, cast::AsArray, types};
use arrow_schema::DataType;

pub use build::TableBuilder;
pub use error::TableError;
pub use files::{read_table_file, write_table_file};
pub use matrix::Matrix;
pub use sparse::{SparseMatrix, densified, is_sparse};

/// An immutable table of named, typed columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    batch: RecordBatch,
}

impl Table {
    /// Wraps a record batch.
    pub fn new(batch: RecordBatch) -> Self {
        Table { batch }
    }

    /// The underlying record batch.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.batch.num_columns()
    }

    /// Column names in order.
    pub fn column_names(&self) -> Vec<String> {
        self.batch.schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Serialises to Arrow IPC file bytes. The bytes depend only on the content.
    pub fn to_ipc(&self) -> Result<Vec<u8>, TableError> {
        let mut buf = Vec::with_capacity(self.batch.get_array_memory_size() + 1024);
        {
            let mut w = arrow_ipc::writer::FileWriter::try_new(&mut buf, &self.batch.schema())?;
            w.write(&self.batch)?;
            w.finish()?;
        }
        Ok(buf)
    }

    /// Reads Arrow IPC file bytes (all batches are concatenated).
    pub fn from_ipc(bytes: &[u8]) -> Result<Self, TableError> {
        let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        let batch = match batches.len() {
            1 => batches.into_iter().next().unwrap_or_else(|| RecordBatch::new_empty(schema.clone())),
            0 => RecordBatch::new_empty(schema),
            _ => arrow_select_concat(&schema, &batches)?,
        };
        Ok(Table { batch })
    }

    fn column(&self, name: &str) -> Result<&ArrayRef, TableError> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| TableError::Column { name: name.to_string(), available: self.column_names().join(", ") })
    }

    /// Whether a column of that name exists.
    pub fn has_column(&self, name: &str) -> bool {
        self.batch.column_by_name(name).is_some()
    }

    /// A numeric column as `f64` (integers and floats are converted; nulls become NaN).
    pub fn f64_column(&self, name: &str) -> Result<Vec<f64>, TableError> {
        numeric_f64(self.column(name)?, name)
    }

    /// A numeric column by position as `f64`.
    pub fn f64_column_at(&self, index: usize) -> Result<Vec<f64>, TableError> {
        let name = self.column_names().get(index).cloned().unwrap_or_default();
        numeric_f64(self.batch.column(index), &name)
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
            .batch
            .columns()
            .iter()
            .map(|c| arrow_select::take::take(c.as_ref(), &idx, None))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Table::new(RecordBatch::try_new(self.batch.schema(), columns)?))
    }

    /// The first `n` rows, for display.
    pub fn head(&self, n: usize) -> Table {
        Table { batch: self.batch.slice(0, n.min(self.n_rows())) }
    }

    /// A human-readable rendering of the first `rows` rows and at most `cols` columns.
    pub fn pretty(&self, rows: usize, cols: usize) -> Result<String, TableError> {
        let head = self.head(rows);
        let keep: Vec<usize> = (0..self.n_cols().min(cols)).collect();
        let batch = head.batch.project(&keep)?;
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

fn arrow_select_concat(schema: &arrow_schema::SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch, TableError> {
    let columns = (0..schema.fields().len())
        .map(|i| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            arrow_select::concat::concat(&parts)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}
