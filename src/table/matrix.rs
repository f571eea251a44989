//! Labelled matrices as tables: the first column holds row names, one column per feature.
//!
//! This is the layout `gcrl export` writes and pandas reads as a cells × genes frame.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Float64Array, StringArray};
use ndarray::Array2;

use super::{Table, TableBuilder, TableError};

/// A dense matrix with row and column names.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Row names (cells).
    pub rows: Vec<String>,
    /// Column names (genes, TFs, latents).
    pub cols: Vec<String>,
    /// Values, rows × cols.
    pub data: Array2<f64>,
}

impl Matrix {
    /// Converts to a table whose first column `row_col` holds row names; values as float64,
    /// or float32 when `f32` is set (expression matrices).
    pub fn to_table(&self, row_col: &str, f32: bool) -> Result<Table, TableError> {
        let mut b = TableBuilder::new().array(row_col, Arc::new(StringArray::from(self.rows.clone())) as ArrayRef);
        for (j, name) in self.cols.iter().enumerate() {
            let col = self.data.column(j);
            let array: ArrayRef = if f32 {
                Arc::new(col.iter().map(|&x| x as f32).collect::<Float32Array>())
            } else {
                Arc::new(col.iter().copied().collect::<Float64Array>())
            };
            b = b.array(name, array);
        }
        b.build()
    }

    /// Reads a table whose first column holds row names and whose other columns are numeric.
    pub fn from_table(table: &Table) -> Result<Matrix, TableError> {
        let names = table.column_names();
        let Some(row_col) = names.first() else {
            return Err(TableError::Column { name: "(row names)".into(), available: String::new() });
        };
        let rows = table.str_column(row_col)?;
        let cols: Vec<String> = names[1..].to_vec();
        let mut data = Array2::<f64>::zeros((rows.len(), cols.len()));
        for j in 0..cols.len() {
            let values = table.f64_column_at(j + 1)?;
            data.column_mut(j).iter_mut().zip(values).for_each(|(d, v)| *d = v);
        }
        Ok(Matrix { rows, cols, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_round_trips_through_a_table() {
        let m = Matrix {
            rows: vec!["c1".into(), "c2".into()],
            cols: vec!["g1".into(), "g2".into(), "g3".into()],
            data: ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.5, 6.0]],
        };
        let t = m.to_table("cell", false).unwrap();
        assert_eq!(t.column_names(), vec!["cell", "g1", "g2", "g3"]);
        assert_eq!(Matrix::from_table(&t).unwrap(), m);
    }
}
