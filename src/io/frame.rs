//! A minimal column table for cell (`obs`) and gene (`var`) annotations.
//!
//! Owns the in-memory shape of an annotation table read from a file; it does no
//! I/O and no computation beyond lookup and row selection.

/// A table of named, typed columns sharing one string index (row names).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataFrame {
    /// Row names (cell barcodes for `obs`, gene names for `var`).
    pub index: Vec<String>,
    /// The columns, in the file's `column-order`; each has `index.len()` values.
    pub columns: Vec<Column>,
}

/// One named column of a [`DataFrame`].
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Column values.
    pub values: ColumnValues,
}

/// The values of one column, by type.
///
/// Missing values: `None` in `Str` and `Bool`, NaN in `F64`, code −1 in `Categorical`.
/// `I64` has no missing values; a nullable integer column with a missing value is read as `F64`.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Strings (anndata `string-array` or `nullable-string-array`).
    Str(Vec<Option<String>>),
    /// Floating-point numbers (any float dtype, and nullable integers with missing values).
    F64(Vec<f64>),
    /// Integers (any integer dtype).
    I64(Vec<i64>),
    /// Booleans (numpy bool or anndata `nullable-boolean`).
    Bool(Vec<Option<bool>>),
    /// Categorical: `codes[i]` indexes `categories`, −1 is missing.
    /// Numeric categories are given as their decimal text.
    Categorical {
        /// One code per row.
        codes: Vec<i32>,
        /// The category labels.
        categories: Vec<String>,
    },
}

impl Column {
    /// A text column without missing values.
    pub fn text(name: &str, values: Vec<String>) -> Self {
        Column { name: name.to_string(), values: ColumnValues::Str(values.into_iter().map(Some).collect()) }
    }
}

impl ColumnValues {
    /// The values at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> ColumnValues {
        match self {
            ColumnValues::Str(v) => ColumnValues::Str(rows.iter().map(|&k| v[k].clone()).collect()),
            ColumnValues::F64(v) => ColumnValues::F64(rows.iter().map(|&k| v[k]).collect()),
            ColumnValues::I64(v) => ColumnValues::I64(rows.iter().map(|&k| v[k]).collect()),
            ColumnValues::Bool(v) => ColumnValues::Bool(rows.iter().map(|&k| v[k]).collect()),
            ColumnValues::Categorical { codes, categories } => ColumnValues::Categorical {
                codes: rows.iter().map(|&k| codes[k]).collect(),
                categories: categories.clone(),
            },
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnValues::Str(v) => v.len(),
            ColumnValues::F64(v) => v.len(),
            ColumnValues::I64(v) => v.len(),
            ColumnValues::Bool(v) => v.len(),
            ColumnValues::Categorical { codes, .. } => codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl DataFrame {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.index.len()
    }

    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Rows `rows` of the frame, in that order.
    ///
    /// # Panics
    /// If a row is out of range.
    pub fn select_rows(&self, rows: &[usize]) -> DataFrame {
        DataFrame {
            index: rows.iter().map(|&k| self.index[k].clone()).collect(),
            columns: self
                .columns
                .iter()
                .map(|c| Column { name: c.name.clone(), values: c.values.select(rows) })
                .collect(),
        }
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}
