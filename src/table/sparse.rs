//! Cells × genes matrices that stay sparse in the cache.
//!
//! Layout: one row per cell; columns `cell` (name), `indices` (list of gene positions) and
//! `values` (list of float32); the gene names sit in the schema metadata under `gcrl.genes`
//! (one key, so the bytes are deterministic). A CSR matrix is exactly an Arrow list array
//! (offsets = indptr), so conversion copies no more than once. Dense tables (a `cell` column and
//! one numeric column per gene, as `gcrl export` writes) are accepted wherever this is read.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt32Type};
use arrow_array::{ArrayRef, Float32Array, ListArray, RecordBatch, StringArray, UInt32Array};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema};

use super::{Matrix, Table, TableError};
use crate::algo::sparse::Csr;

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

impl SparseMatrix {
    /// Stores the matrix as a table in the sparse layout.
    pub fn to_table(&self) -> Result<Table, TableError> {
        let offsets: Vec<i32> =
            self.csr.indptr.iter().map(|&p| i32::try_from(p).map_err(|_| too_big())).collect::<Result<_, _>>()?;
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let idx_field = Arc::new(Field::new("item", DataType::UInt32, false));
        let val_field = Arc::new(Field::new("item", DataType::Float32, false));
        let indices = ListArray::try_new(
            idx_field.clone(),
            offsets.clone(),
            Arc::new(UInt32Array::from(self.csr.indices.clone())),
            None,
        )?;
        let values =
            ListArray::try_new(val_field.clone(), offsets, Arc::new(Float32Array::from(self.csr.data.clone())), None)?;
        let genes = serde_json::to_string(&self.cols).unwrap_or_default();
        let schema = Schema::new(vec![
            Field::new("cell", DataType::Utf8, false),
            Field::new("indices", DataType::List(idx_field), false),
            Field::new("values", DataType::List(val_field), false),
        ])
        .with_metadata(HashMap::from([(GENES_KEY.to_string(), genes)]));
        let columns: Vec<ArrayRef> =
            vec![Arc::new(StringArray::from(self.rows.clone())), Arc::new(indices), Arc::new(values)];
        Ok(Table::new(RecordBatch::try_new(Arc::new(schema), columns)?))
    }

    /// Reads a table in the sparse layout, or a dense `cell` + genes table.
    pub fn from_table(table: &Table) -> Result<Self, TableError> {
        if !is_sparse(table) {
            let m = Matrix::from_table(table)?;
            let dense = m.data.mapv(|x| x as f32);
            let csr = Csr::from_dense(&dense.view()).map_err(|e| format_err(e.to_string()))?;
            return Ok(SparseMatrix { rows: m.rows, cols: m.cols, csr });
        }
        let schema = table.batch().schema();
        let cols: Vec<String> = serde_json::from_str(&schema.metadata()[GENES_KEY])
            .map_err(|e| format_err(format!("bad gene list: {e}")))?;
        let rows = table.str_column("cell")?;
        let batch = table.batch();
        let list = |name: &str| -> Result<&ListArray, TableError> {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_list_opt::<i32>())
                .ok_or_else(|| format_err(format!("column `{name}` is not a list")))
        };
        let (indices, values) = (list("indices")?, list("values")?);
        let indptr: Vec<u64> = indices.value_offsets().iter().map(|&o| o as u64).collect();
        let first = *indices.value_offsets().first().unwrap_or(&0) as usize;
        let last = *indices.value_offsets().last().unwrap_or(&0) as usize;
        let idx = indices
            .values()
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| format_err("indices are not u32".into()))?;
        let val =
            values.values().as_primitive_opt::<Float32Type>().ok_or_else(|| format_err("values are not f32".into()))?;
        let indptr: Vec<u64> = indptr.iter().map(|&p| p - first as u64).collect();
        let csr = Csr::new(
            rows.len(),
            cols.len(),
            indptr,
            idx.values()[first..last].to_vec(),
            val.values()[first..last].to_vec(),
        )
        .map_err(|e| format_err(e.to_string()))?;
        Ok(SparseMatrix { rows, cols, csr })
    }

    /// The dense `cell` + one float32 column per gene table.
    pub fn to_dense_table(&self) -> Result<Table, TableError> {
        let dense = self.csr.to_dense();
        Matrix { rows: self.rows.clone(), cols: self.cols.clone(), data: dense.mapv(f64::from) }.to_table("cell", true)
    }
}

/// Whether `table` holds a matrix in the sparse layout.
pub fn is_sparse(table: &Table) -> bool {
    table.batch().schema().metadata().contains_key(GENES_KEY)
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
    format_err("more than 2^31 stored values in one matrix; split it".into())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
