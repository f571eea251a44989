//! Cell-metadata tables joined to a matrix by barcode: guide assignments (crispat, Cell
//! Ranger), scPerturb or GEO metadata, any CSV/TSV/Arrow/Parquet table with one row per cell.
//!
//! Owns reading such a table into a [`DataFrame`] keyed by barcode ([`read_cell_table`]) and
//! the join ([`join_by_barcode`]) with its one matching rule for the GEM-well suffix: barcodes
//! match when equal; only when no barcode matches that way are both sides compared without a
//! trailing `-<digits>` (Cell Ranger writes `AAACCTGA-1`, many tables drop the `-1`, some add
//! it), and then only if that keeps each side's barcodes distinct.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

use crate::io::IoError;
use crate::io::frame::{Column, ColumnValues, DataFrame};
use crate::io::mtx::BARCODE_NAMES;

/// How a join went, for the run's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinReport {
    /// Cells of the matrix with a row in the table.
    pub matched: usize,
    /// Cells of the matrix without a row (their new columns are missing values).
    pub cells_without_row: usize,
    /// Rows of the table whose barcode is no cell of the matrix (ignored).
    pub rows_without_cell: usize,
    /// Whether barcodes matched only after dropping a `-<digits>` suffix.
    pub suffix_dropped: bool,
}

/// Reads a table with one row per cell. The key is the first column named `barcode`,
/// `barcodes`, `cell_barcode`, `cell`, `cell_id` or `bc_wells` (any case), else the first
/// column; the other columns keep their types (integers with missing values become floats).
///
/// # Errors
/// [`IoError::Invalid`] for an unreadable table, no columns, or a barcode given twice.
pub fn read_cell_table(path: &Path) -> Result<DataFrame, IoError> {
    let table = crate::table::read_table_file(path).map_err(|e| {
        let message = e.to_string();
        let prefix = format!("{}: ", path.display());
        IoError::invalid(path, "table", message.strip_prefix(&prefix).unwrap_or(&message))
    })?;
    let names = table.column_names();
    let key = names
        .iter()
        .position(|n| BARCODE_NAMES.iter().any(|b| b.eq_ignore_ascii_case(n.trim())))
        .or((!names.is_empty()).then_some(0))
        .ok_or_else(|| IoError::invalid(path, "table", "has no columns"))?;
    let batch = table.batch();
    let mut index = Vec::with_capacity(table.n_rows());
    let ColumnValues::Str(keys) = values(batch.column(key)).map_err(|e| IoError::invalid(path, &names[key], e))? else {
        return Err(IoError::invalid(path, &names[key], "barcodes must be text"));
    };
    let mut seen = HashMap::with_capacity(keys.len());
    for (row, k) in keys.into_iter().enumerate() {
        let k = k.ok_or_else(|| IoError::invalid(path, &names[key], format!("row {} has no barcode", row + 1)))?;
        if let Some(first) = seen.insert(k.clone(), row) {
            return Err(IoError::invalid(
                path,
                &names[key],
                format!("barcode `{k}` appears in rows {} and {}", first + 1, row + 1),
            ));
        }
        index.push(k);
    }
    let mut columns = Vec::new();
    for (k, name) in names.iter().enumerate().filter(|(k, _)| *k != key) {
        let values = values(batch.column(k)).map_err(|e| IoError::invalid(path, name, e))?;
        columns.push(Column { name: name.clone(), values });
    }
    Ok(DataFrame { index, columns })
}

/// An Arrow column as frame values: booleans, integers, floats, and everything else as text.
fn values(array: &ArrayRef) -> Result<ColumnValues, String> {
    let cast = |to: &DataType| arrow_cast::cast(array, to).map_err(|e| e.to_string());
    Ok(match array.data_type() {
        DataType::Boolean => ColumnValues::Bool(array.as_boolean().iter().collect()),
        t if t.is_integer() => {
            let a = cast(&DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            if a.null_count() == 0 {
                ColumnValues::I64(a.values().to_vec())
            } else {
                ColumnValues::F64(a.iter().map(|v| v.map_or(f64::NAN, |x| x as f64)).collect())
            }
        }
        t if t.is_floating() => {
            let a = cast(&DataType::Float64)?;
            ColumnValues::F64(a.as_primitive::<Float64Type>().iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        }
        _ => {
            let a = cast(&DataType::Utf8)?;
            ColumnValues::Str(a.as_string::<i32>().iter().map(|v| v.map(String::from)).collect())
        }
    })
}

/// `barcode` without a trailing `-<digits>` (the GEM well).
fn without_suffix(barcode: &str) -> &str {
    match barcode.rsplit_once('-') {
        Some((stem, well)) if !well.is_empty() && well.bytes().all(|b| b.is_ascii_digit()) => stem,
        _ => barcode,
    }
}

/// For each cell, the table row with the same key (`key` applied to both sides), or an error
/// naming a key two barcodes of one side share.
fn rows_by_key<'a>(
    cells: &'a [String],
    rows: &'a [String],
    key: fn(&str) -> &str,
) -> Result<Vec<Option<usize>>, (&'static str, &'a str)> {
    let mut by_key: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    for (r, b) in rows.iter().enumerate() {
        if by_key.insert(key(b), r).is_some() {
            return Err(("table", b));
        }
    }
    let mut cell_keys: HashMap<&str, ()> = HashMap::with_capacity(cells.len());
    for c in cells {
        if cell_keys.insert(key(c), ()).is_some() {
            return Err(("matrix", c));
        }
    }
    Ok(cells.iter().map(|c| by_key.get(key(c)).copied()).collect())
}

/// Adds the columns of `table` to `obs`, matching rows by barcode (see the module docs for
/// the suffix rule). Cells without a row get missing values (integers become floats); a
/// column whose name `obs` already has is added as `<name>_table`.
///
/// # Errors
/// [`IoError::Invalid`] on `file` when no barcode matches (with three barcodes of each side),
/// or when dropping the suffix makes two barcodes of one side equal.
pub fn join_by_barcode(obs: &mut DataFrame, table: &DataFrame, file: &Path) -> Result<JoinReport, IoError> {
    let identity: fn(&str) -> &str = |b| b;
    let exact = rows_by_key(&obs.index, &table.index, identity).map_err(|(side, barcode)| {
        IoError::invalid(
            file,
            "barcodes",
            format!("barcode `{barcode}` appears twice in the {side}: cannot join by barcode"),
        )
    })?;
    let (rows, suffix_dropped) = if exact.iter().any(Option::is_some) {
        (exact, false)
    } else {
        match rows_by_key(&obs.index, &table.index, without_suffix) {
            Ok(rows) if rows.iter().any(Option::is_some) => (rows, true),
            Ok(_) => {
                let examples = |v: &[String]| v.iter().take(3).map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ");
                return Err(IoError::invalid(
                    file,
                    "barcodes",
                    format!(
                        "no barcode of the table matches a cell of the matrix, also not without a `-1` suffix \
                         (table: {}; matrix: {}); is it the table of this matrix?",
                        examples(&table.index),
                        examples(&obs.index)
                    ),
                ));
            }
            Err((side, barcode)) => {
                return Err(IoError::invalid(
                    file,
                    "barcodes",
                    format!(
                        "no barcode matches as written, and without its `-<digits>` suffix `{barcode}` of the {side} \
                         equals another (several GEM wells?); make the barcodes agree",
                    ),
                ));
            }
        }
    };
    let matched = rows.iter().filter(|r| r.is_some()).count();
    for col in &table.columns {
        let name = if obs.column(&col.name).is_some() { format!("{}_table", col.name) } else { col.name.clone() };
        obs.columns.push(Column { name, values: gather(&col.values, &rows) });
    }
    Ok(JoinReport {
        matched,
        cells_without_row: obs.n_rows() - matched,
        rows_without_cell: table.n_rows() - matched,
        suffix_dropped,
    })
}

/// `values[rows[i]]` for each cell, missing where `rows[i]` is `None`.
fn gather(values: &ColumnValues, rows: &[Option<usize>]) -> ColumnValues {
    let all = rows.iter().all(Option::is_some);
    match values {
        ColumnValues::Str(v) => ColumnValues::Str(rows.iter().map(|r| r.and_then(|r| v[r].clone())).collect()),
        ColumnValues::Bool(v) => ColumnValues::Bool(rows.iter().map(|r| r.and_then(|r| v[r])).collect()),
        ColumnValues::F64(v) => ColumnValues::F64(rows.iter().map(|r| r.map_or(f64::NAN, |r| v[r])).collect()),
        ColumnValues::I64(v) if all => ColumnValues::I64(rows.iter().map(|r| v[r.expect("all rows")]).collect()),
        ColumnValues::I64(v) => ColumnValues::F64(rows.iter().map(|r| r.map_or(f64::NAN, |r| v[r] as f64)).collect()),
        ColumnValues::Categorical { codes, categories } => ColumnValues::Categorical {
            codes: rows.iter().map(|r| r.map_or(-1, |r| codes[r])).collect(),
            categories: categories.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: &[&str], columns: Vec<Column>) -> DataFrame {
        DataFrame { index: index.iter().map(|s| s.to_string()).collect(), columns }
    }

    fn strs(v: &[Option<&str>]) -> ColumnValues {
        ColumnValues::Str(v.iter().map(|s| s.map(String::from)).collect())
    }

    #[test]
    fn columns_join_by_barcode_with_missing_cells_and_extra_rows() {
        let mut obs =
            frame(&["A-1", "B-1", "C-1"], vec![Column { name: "n".into(), values: ColumnValues::I64(vec![1, 2, 3]) }]);
        let table = frame(
            &["C-1", "A-1", "Z-1"],
            vec![
                Column { name: "guide".into(), values: strs(&[Some("g3"), Some("g1"), Some("gz")]) },
                Column { name: "n".into(), values: ColumnValues::I64(vec![30, 10, 99]) },
            ],
        );
        let report = join_by_barcode(&mut obs, &table, Path::new("calls.csv")).unwrap();
        assert_eq!(
            report,
            JoinReport { matched: 2, cells_without_row: 1, rows_without_cell: 1, suffix_dropped: false }
        );
        assert_eq!(obs.column_names(), ["n", "guide", "n_table"]);
        assert_eq!(obs.column("guide").unwrap().values, strs(&[Some("g1"), None, Some("g3")]));
        let ColumnValues::F64(n) = &obs.column("n_table").unwrap().values else { panic!("floats with a gap") };
        assert_eq!((n[0], n[2]), (10.0, 30.0));
        assert!(n[1].is_nan());
    }

    #[test]
    fn the_gem_well_suffix_is_dropped_only_when_nothing_matches() {
        let table = frame(&["A", "B"], vec![Column { name: "t".into(), values: strs(&[Some("x"), Some("y")]) }]);
        let mut obs = frame(&["B-1", "A-1", "Q-1"], Vec::new());
        let report = join_by_barcode(&mut obs, &table, Path::new("t.csv")).unwrap();
        assert!(report.suffix_dropped);
        assert_eq!(obs.column("t").unwrap().values, strs(&[Some("y"), Some("x"), None]));
        // Two GEM wells collapse to the same barcode: refused.
        let mut obs = frame(&["A-1", "A-2"], Vec::new());
        let err = join_by_barcode(&mut obs, &table, Path::new("t.csv")).unwrap_err().to_string();
        assert!(err.contains("`A-2` of the matrix equals another"), "{err}");
    }

    #[test]
    fn no_match_shows_three_barcodes_of_each_side() {
        let table = frame(&["w", "x", "y", "z"], Vec::new());
        let mut obs = frame(&["AAAC-1", "AAAG-1", "AAAT-1", "AACC-1"], Vec::new());
        let err = join_by_barcode(&mut obs, &table, Path::new("calls.csv")).unwrap_err().to_string();
        assert!(err.starts_with("calls.csv: invalid `barcodes`"), "{err}");
        assert!(err.contains("table: `w`, `x`, `y`; matrix: `AAAC-1`, `AAAG-1`, `AAAT-1`"), "{err}");
    }

    #[test]
    fn tables_are_keyed_by_their_barcode_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.csv");
        std::fs::write(&path, "n_umi,cell_barcode,target\n5,AAAC-1,TP53\n,AAAG-1,\n").unwrap();
        let t = read_cell_table(&path).unwrap();
        assert_eq!(t.index, ["AAAC-1", "AAAG-1"]);
        assert_eq!(t.column_names(), ["n_umi", "target"]);
        assert_eq!(t.column("target").unwrap().values, strs(&[Some("TP53"), None]));
        let ColumnValues::F64(n) = &t.column("n_umi").unwrap().values else { panic!() };
        assert!(n[0] == 5.0 && n[1].is_nan());
        std::fs::write(&path, "cell,x\nA,1\nA,2\n").unwrap();
        let err = read_cell_table(&path).unwrap_err().to_string();
        assert!(err.contains("barcode `A` appears in rows 1 and 2"), "{err}");
    }
}
