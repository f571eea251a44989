//! `load`: a screen from a file (any layout `load_read` reads) into the
//! `expression`, `cells` and `genes` tables, with canonical perturbation targets per cell.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::LazyLock;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};

use super::common::outputs;
use super::declare::ports;
use super::load_labels::{Assigned, Summary, Unassigned, assign, choose_column, column_labels, targets_table};
use super::load_params::LoadParams;
use super::load_read::{Screen, read_screen};
use crate::algo::labels::{LabelRules, condition_name};
use crate::io::frame::{ColumnValues, DataFrame};
use crate::io::h5ad::ReadOptions;
use crate::io::h5rows::streamed_shape;
use crate::kind::memory::BASE;
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, Params, RunContext};
use crate::table::{BATCH_ROWS, Table, TableBuilder};
use crate::workflow::suggest::hint;

/// The `load` kind.
pub struct Load;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "load",
    version: 2,
    doc: "read a screen: h5ad (AnnData), h5mu (MuData), 10x Cell Ranger h5 (with guide calls), matrix.mtx \
     (10x, GEO, Parse), or a dense cells × genes csv/tsv/arrow/parquet table; join a cell table by barcode",
    inputs: ports![
        file: "the data file (`{file: path}`): .h5ad, .h5mu, 10x .h5, matrix.mtx(.gz), .csv/.tsv/.arrow/.parquet",
        features?: "mtx: features.tsv(.gz), genes.tsv or all_genes.csv (default: found beside the matrix)",
        barcodes?: "mtx: barcodes.tsv(.gz) or cell_metadata.csv (default: found beside the matrix)",
        obs?: "a table with one row per cell (csv/tsv/arrow/parquet), joined to the cells by barcode",
        guide_calls?: "Cell Ranger's protospacer_calls_per_cell.csv: guide calls instead of `guide_umi_threshold`",
    ],
    outputs: ports![
        expression: "cells × genes (sparse), from X or `layer`",
        cells: "obs columns, plus cell, targets (A or A+B), n_targets (a file's own targets/n_targets become *_orig)",
        genes: "var columns, plus gene",
        conditions: "condition (A, A+B; empty = control), n_targets, cells",
        targets: "target, single_cells, combination_cells, in_matrix (a gene of the matrix)",
        summary: "what load decided: column, separators, cells read, dropped by filter, unassigned, dropped by \
             max_targets, controls, singles, doubles, targets not in the matrix, warnings",
    ],
    params: LoadParams::specs(),
});

impl NodeKind for Load {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    /// A CSR matrix read a block of cells at a time (an `.h5ad`, a Cell Ranger `.h5`) costs 3
    /// blocks (the one read, the one written, a batch of kept cells) and 256 bytes a cell (its
    /// row of `obs`, labels, name), besides 5× the other inputs; a file read whole, 5× its size
    /// (a gzip h5ad of 41.5 MiB, 40,000 × 4,000, peaked at 152 MiB; README, "Memory"). The
    /// smaller of the two.
    fn memory(&self, params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        let whole = inputs.times(5.0);
        let (Some(path), Ok(p)) = (inputs.paths("file").next(), LoadParams::decode(params)) else { return whole };
        let Some((cells, stored)) = streamed_shape(path, &ReadOptions { layer: p.layer }) else { return whole };
        let block = (cells.min(BATCH_ROWS as u64) * stored).div_ceil(cells.max(1)) * 8;
        let others = 5 * (inputs.total() - inputs.port("file"));
        whole.min(BASE + 3 * block + 256 * cells + others)
    }
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = LoadParams::decode(params)?;
        let path = inputs.file("file")?;
        let Screen { matrix, obs, mut var, notes } = read_screen(&p, inputs)?;
        for note in notes {
            ctx.note(note);
        }
        let file = path.display();
        if let Some(col) = p.var_names.as_deref() {
            var.index = strings(&var, col).map_err(|e| NodeError::Input(format!("{file}: var {e}")))?;
        }
        let mut seen = HashSet::new();
        if let Some(dup) = var.index.iter().find(|g| !seen.insert(g.as_str())) {
            return Err(NodeError::Input(format!(
                "{file}: gene name `{dup}` appears more than once; pick unique names with `var_names` \
                 or run `adata.var_names_make_unique()` in anndata"
            )));
        }
        let mut rows: Vec<usize> = (0..obs.n_rows()).collect();
        for f in &p.filter {
            let cond = Condition::parse(f)?;
            let values = numbers_or_strings(&obs, &cond.column)
                .map_err(|e| NodeError::Input(format!("{file}: filter `{f}`: {e}")))?;
            cond.check_types(&values).map_err(|e| NodeError::Input(format!("{file}: filter `{f}`: {e}")))?;
            rows.retain(|&i| cond.holds(&values[i]));
        }
        let gene_set: HashSet<String> = var.index.iter().cloned().collect();
        let file_name = file.to_string();
        let Assigned { keep, targets, summary } = if p.all_controls {
            if p.perturbation_column.is_some() {
                return Err(NodeError::Input(
                    "`all_controls: true` and `perturbation_column` contradict each other: keep one".into(),
                ));
            }
            let summary = Summary::all_controls(obs.n_rows(), rows.len());
            Assigned { targets: vec![Vec::new(); rows.len()], keep: rows, summary }
        } else {
            let column = choose_column(&obs, p.perturbation_column.as_deref(), &file_name)?;
            let extra: Vec<String> = p
                .control_label
                .iter()
                .flat_map(|l| l.split(',').map(|s| s.trim().to_string()))
                .filter(|s| !s.is_empty())
                .collect();
            let mut rules = LabelRules::new(&gene_set, &extra);
            rules.separators = p.separator.clone();
            if rules.separators.iter().any(String::is_empty) {
                return Err(NodeError::Input("`separator`: an empty string cannot separate targets".into()));
            }
            let unassigned = match p.unassigned.as_str() {
                "control" => Unassigned::Control,
                _ => Unassigned::Drop,
            };
            assign(&obs, &column, rows, &rules, unassigned, p.max_targets, &file_name)?
        };
        ctx.note(summary.line());
        for w in &summary.warnings {
            ctx.note(format!("warning: {w}"));
        }
        let rows: Vec<String> = keep.iter().map(|&i| obs.index[i].clone()).collect();
        let expression = matrix.select(&keep, rows, &var.index, ctx.spill())?;
        let mut cells = frame_table(&obs, &keep, "cell")?;
        cells = with_columns(
            cells,
            vec![
                ("targets", Arc::new(StringArray::from(targets.iter().map(|t| condition_name(t)).collect::<Vec<_>>()))),
                ("n_targets", Arc::new(Int64Array::from(targets.iter().map(|t| t.len() as i64).collect::<Vec<_>>()))),
            ],
        )?;
        let genes = frame_table(&var, &(0..var.n_rows()).collect::<Vec<_>>(), "gene")?;
        Ok(outputs([
            ("expression", expression),
            ("cells", cells),
            ("genes", genes),
            ("conditions", conditions_table(&targets)?),
            ("targets", targets_table(&targets, &gene_set)?),
            ("summary", summary.table()?),
        ]))
    }
}

/// Cell counts per condition, sorted by condition name.
fn conditions_table(targets: &[Vec<String>]) -> Result<Table, NodeError> {
    let mut counts: std::collections::BTreeMap<String, (i64, i64)> = std::collections::BTreeMap::new();
    for t in targets {
        counts.entry(condition_name(t)).or_insert((t.len() as i64, 0)).1 += 1;
    }
    Ok(TableBuilder::new()
        .str("condition", counts.keys().cloned().collect())
        .i64("n_targets", counts.values().map(|c| c.0).collect())
        .i64("cells", counts.values().map(|c| c.1).collect())
        .build()?)
}

fn missing_column(df: &DataFrame, name: &str) -> String {
    let names = df.column_names();
    let h = hint(name, names.iter().copied());
    format!("has no column `{name}` (columns: {}) {h}", names.join(", "))
}

/// A column as text (categories by label, numbers printed, missing values empty).
fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>, String> {
    df.column(name).ok_or_else(|| missing_column(df, name))?;
    Ok(column_labels(df, name).into_iter().map(Option::unwrap_or_default).collect())
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Num(f64),
    Text(String),
}

fn numbers_or_strings(df: &DataFrame, name: &str) -> Result<Vec<Value>, String> {
    let col = df.column(name).ok_or_else(|| missing_column(df, name))?;
    Ok(match &col.values {
        ColumnValues::F64(v) => v.iter().map(|&x| Value::Num(x)).collect(),
        ColumnValues::I64(v) => v.iter().map(|&x| Value::Num(x as f64)).collect(),
        _ => strings(df, name)?.into_iter().map(Value::Text).collect(),
    })
}

/// `column op value`, e.g. `grna_top_frac >= 0.8`.
struct Condition {
    column: String,
    op: &'static str,
    value: Value,
}

impl Condition {
    fn parse(text: &str) -> Result<Self, NodeError> {
        for op in [">=", "<=", "==", "!=", ">", "<"] {
            if let Some((col, val)) = text.split_once(op) {
                let val = val.trim().trim_matches(|c| c == '"' || c == '\'');
                let value = val.parse::<f64>().map(Value::Num).unwrap_or_else(|_| Value::Text(val.to_string()));
                return Ok(Condition { column: col.trim().to_string(), op, value });
            }
        }
        Err(NodeError::Input(format!("filter `{text}`: expected `column op value` with op one of == != >= <= > <")))
    }

    /// Refuses a comparison that could only ever drop every cell or keep them by accident: a
    /// number column against text (`n_guides >= one`), or an order (`>=`, `<`, …) on a text column.
    fn check_types(&self, values: &[Value]) -> Result<(), String> {
        let numeric = values.first().is_some_and(|v| matches!(v, Value::Num(_)));
        match (&self.value, numeric) {
            (Value::Text(t), true) => Err(format!(
                "column `{}` holds numbers but `{t}` is not a number; write a number (e.g. `{} {} 1`)",
                self.column, self.column, self.op
            )),
            (Value::Num(n), false) if !matches!(self.op, "==" | "!=") && !values.is_empty() => Err(format!(
                "column `{}` holds text, so `{} {n}` would compare letters, not numbers; use `==` or `!=`, or \
                 filter a numeric column",
                self.column, self.op
            )),
            _ => Ok(()),
        }
    }

    fn holds(&self, v: &Value) -> bool {
        let ord = match (v, &self.value) {
            (Value::Num(a), Value::Num(b)) => a.partial_cmp(b),
            (Value::Text(a), Value::Text(b)) => Some(a.cmp(b)),
            (Value::Text(a), Value::Num(b)) => Some(a.as_str().cmp(b.to_string().as_str())),
            (Value::Num(a), Value::Text(b)) => Some(a.to_string().as_str().cmp(b)),
        };
        let Some(ord) = ord else { return false };
        match self.op {
            ">=" => ord.is_ge(),
            "<=" => ord.is_le(),
            "==" => ord.is_eq(),
            "!=" => ord.is_ne(),
            ">" => ord.is_gt(),
            _ => ord.is_lt(),
        }
    }
}

/// An annotation frame (rows `keep`) as a table whose first column `index_name` holds its index.
fn frame_table(df: &DataFrame, keep: &[usize], index_name: &str) -> Result<Table, NodeError> {
    let mut b = TableBuilder::new().str(index_name, keep.iter().map(|&i| df.index[i].clone()).collect());
    let mut taken: HashSet<String> = [index_name, "targets", "n_targets"].map(String::from).into();
    taken.extend(df.columns.iter().map(|c| c.name.clone()));
    for col in &df.columns {
        if col.name == index_name {
            continue;
        }
        // gcrl's own columns (`targets`, `n_targets`) are added after these; the file's keep their
        // values under a name that cannot collide.
        let mut name = col.name.clone();
        if name == "targets" || name == "n_targets" {
            while taken.contains(&name) {
                name.push_str("_orig");
            }
            taken.insert(name.clone());
        }
        let array: ArrayRef = match &col.values {
            ColumnValues::F64(v) => Arc::new(Float64Array::from(keep.iter().map(|&i| v[i]).collect::<Vec<_>>())),
            ColumnValues::I64(v) => Arc::new(Int64Array::from(keep.iter().map(|&i| v[i]).collect::<Vec<_>>())),
            ColumnValues::Bool(v) => Arc::new(BooleanArray::from(keep.iter().map(|&i| v[i]).collect::<Vec<_>>())),
            ColumnValues::Str(_) | ColumnValues::Categorical { .. } => {
                let all = strings(df, &col.name).map_err(NodeError::Input)?;
                Arc::new(StringArray::from(keep.iter().map(|&i| all[i].clone()).collect::<Vec<_>>()))
            }
        };
        b = b.array(&name, array);
    }
    Ok(b.build()?)
}

fn with_columns(table: Table, extra: Vec<(&str, ArrayRef)>) -> Result<Table, NodeError> {
    let mut b = TableBuilder::new();
    for (i, name) in table.column_names().iter().enumerate() {
        b = b.array(name, table.batch().column(i).clone());
    }
    for (name, array) in extra {
        b = b.array(name, array);
    }
    Ok(b.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_compare_numbers_and_text() {
        let c = Condition::parse("grna_top_frac >= 0.8").unwrap();
        assert!(c.holds(&Value::Num(0.8)) && !c.holds(&Value::Num(0.79)));
        let c = Condition::parse("bio_rep == rep1").unwrap();
        assert!(c.holds(&Value::Text("rep1".into())) && !c.holds(&Value::Text("rep2".into())));
        assert!(Condition::parse("nonsense").is_err());
    }

    #[test]
    fn a_filter_value_of_the_wrong_type_is_an_error_not_zero_cells() {
        let numbers = [Value::Num(1.0), Value::Num(2.0)];
        let e = Condition::parse("n_guides >= one").unwrap().check_types(&numbers).unwrap_err();
        assert!(e.contains("`one` is not a number"), "{e}");
        let text = [Value::Text("rep1".into())];
        assert!(Condition::parse("bio_rep >= 1").unwrap().check_types(&text).is_err());
        assert!(Condition::parse("bio_rep == rep1").unwrap().check_types(&text).is_ok());
        assert!(Condition::parse("n_guides >= 1").unwrap().check_types(&numbers).is_ok());
    }
}
