//! Building tables column by column.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};

use super::{Table, TableError};

/// Accumulates named columns, then checks their lengths and builds a [`Table`].
///
/// ```
/// use gcrl::table::TableBuilder;
/// let t = TableBuilder::new().str("tf", vec!["A".into(), "B".into()]).f64("w", vec![1.0, 2.0]).build().unwrap();
/// assert_eq!(t.n_rows(), 2);
/// ```
#[derive(Debug, Default)]
pub struct TableBuilder {
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
}

impl TableBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds any Arrow array as a column.
    pub fn array(mut self, name: &str, array: ArrayRef) -> Self {
        self.fields.push(Field::new(name, array.data_type().clone(), array.null_count() > 0));
        self.columns.push(array);
        self
    }

    /// Adds a string column.
    pub fn str(self, name: &str, values: Vec<String>) -> Self {
        self.array(name, Arc::new(StringArray::from(values)))
    }

    /// Adds a float64 column.
    pub fn f64(self, name: &str, values: Vec<f64>) -> Self {
        self.array(name, Arc::new(Float64Array::from(values)))
    }

    /// Adds a float32 column.
    pub fn f32(self, name: &str, values: Vec<f32>) -> Self {
        self.array(name, Arc::new(Float32Array::from(values)))
    }

    /// Adds an int64 column.
    pub fn i64(self, name: &str, values: Vec<i64>) -> Self {
        self.array(name, Arc::new(Int64Array::from(values)))
    }

    /// Adds a boolean column.
    pub fn bool(self, name: &str, values: Vec<bool>) -> Self {
        self.array(name, Arc::new(BooleanArray::from(values)))
    }

    /// Checks that all columns have the same length and builds the table.
    pub fn build(self) -> Result<Table, TableError> {
        if let Some(first) = self.columns.first() {
            for (f, c) in self.fields.iter().zip(&self.columns) {
                if c.len() != first.len() {
                    return Err(TableError::Length { name: f.name().clone(), expected: first.len(), got: c.len() });
                }
            }
        }
        let schema = Arc::new(Schema::new(self.fields));
        let batch = if self.columns.is_empty() {
            RecordBatch::new_empty(schema)
        } else {
            RecordBatch::try_new(schema, self.columns)?
        };
        Ok(Table::new(batch))
    }
}

use arrow_array::Array;
