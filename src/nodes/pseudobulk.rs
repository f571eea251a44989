//! `pseudobulk`: one profile per perturbation (× covariates such as batch or donor): the mean or
//! sum of each gene over the group's cells and the fraction of them expressing it, as
//! decoupler's `get_pseudobulk` and the `sum`/`mean` aggregations of scanpy's `aggregate`. The
//! matrix is read in place, a row at a time ([`crate::algo::pseudobulk`]); the groups' cell
//! counts are the `count per perturbation × covariate` of Table 1's baselines.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use arrow_cast::display::{ArrayFormatter, FormatOptions};
use serde_json::json;

use super::common::outputs;
use super::declare::{kind_params, ports};
use crate::algo::pseudobulk::group_profiles;
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{BlockWriter, SparseRows, Table, TableBuilder, sparse_genes, sparsified};

/// The `pseudobulk` kind.
pub struct Pseudobulk;

/// The group name of control cells (empty `targets`).
const CONTROL: &str = "control";

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "pseudobulk",
    version: 1,
    doc: "mean (or sum) expression and fraction of expressing cells per perturbation × covariates",
    inputs: ports![
        expression: "cells × genes (counts or normalised; sparse or dense table)",
        cells: "one row per cell of `expression`, in its order, with the `by` columns",
    ],
    outputs: ports![
        profiles: "groups × genes: the `stat` of each gene over the group's cells (sparse)",
        fractions: "groups × genes: the fraction of the group's cells where the gene is non-zero",
        groups: "group, the `by` columns, cells, total (sum of the group's values)",
    ],
    params: PseudobulkParams::specs(),
});

kind_params! {
    /// Params of `pseudobulk`.
    pub struct PseudobulkParams {
        by: Vec<String> = ParamSpec::new(
            ParamType::StrList,
            json!(["targets"]),
            "cell-table columns that define a group (e.g. [targets, gem_group]); empty targets are `control`",
        ),
        stat: String = ParamSpec::new(
            ParamType::Choice(&["mean", "sum"]),
            json!("mean"),
            "per gene: the mean over the group's cells, or the sum (counts for DESeq2/edgeR)",
        ),
        min_cells: usize = ParamSpec::new(
            ParamType::positive(),
            json!(1),
            "drop groups with fewer cells (counted in the log)",
        ),
    }
}

impl NodeKind for Pseudobulk {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    /// The matrix is streamed once, front to back, a batch at a time: 2 batches, 256 bytes a
    /// cell (its labels and group) and 3× the cell table
    /// ([`InputSizes::streamed`](crate::kind::InputSizes::streamed)), or the default if less.
    fn memory(&self, _params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        let whole = inputs.default_estimate();
        inputs.streamed("expression", 2, 256, 3.0).map_or(whole, |s| s.min(whole))
    }
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = PseudobulkParams::decode(params)?;
        let table = inputs.table("expression")?;
        let table = sparsified(table)?;
        let genes = sparse_genes(&table)?;
        let x = SparseRows::new(&table)?;
        let cells = inputs.table("cells")?;
        if cells.n_rows() != x.len() {
            return Err(NodeError::Input(format!(
                "input `cells` has {} rows but `expression` has {} cells; connect the `cells` output of the node \
                 that made the expression",
                cells.n_rows(),
                x.len()
            )));
        }
        if cells.has_column("cell") {
            let names = cells.str_column("cell")?;
            if let Some(i) = (0..x.len()).find(|&i| names[i] != x.name(i)) {
                return Err(NodeError::Input(format!(
                    "input `cells` row {i} is cell `{}` but `expression` row {i} is `{}`: connect the `cells` output \
                     of the node that made the expression",
                    names[i],
                    x.name(i)
                )));
            }
        }
        let by = &p.by;
        if by.is_empty() {
            return Err(NodeError::Input("`by` is empty: name at least one cell-table column, e.g. [targets]".into()));
        }
        let columns: Vec<Vec<String>> = by.iter().map(|c| labels(&cells, c)).collect::<Result<_, _>>()?;
        let mut members: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
        for i in 0..x.len() {
            members.entry(columns.iter().map(|c| c[i].as_str()).collect()).or_default().push(i);
        }
        let min_cells = p.min_cells;
        let (kept, small): (Vec<_>, Vec<_>) = members.into_iter().partition(|(_, rows)| rows.len() >= min_cells);
        if !small.is_empty() {
            let cells_dropped: usize = small.iter().map(|(_, r)| r.len()).sum();
            ctx.note(format!(
                "{} group(s) with fewer than {min_cells} cells dropped ({cells_dropped} cells)",
                small.len()
            ));
        }
        if kept.is_empty() {
            return Err(NodeError::Input(format!("no group has {min_cells} cells or more; lower `min_cells`")));
        }
        let rows: Vec<Vec<usize>> = kept.iter().map(|(_, r)| r.clone()).collect();
        let profiles = group_profiles(&x, &rows);
        let mean = p.stat == "mean";
        let names: Vec<String> = kept.iter().map(|(key, _)| group_name(&by, key)).collect();
        let (mut values, mut fractions) =
            (BlockWriter::for_genes(&genes, ctx.spill()), BlockWriter::for_genes(&genes, ctx.spill()));
        let (mut v_rows, mut f_rows) = (Rowwise::default(), Rowwise::default());
        for (profile, members) in profiles.iter().zip(&rows) {
            let n = members.len() as f64;
            v_rows.push(profile.sum.iter().map(|&s| if mean { s / n } else { s }));
            f_rows.push(profile.expressing.iter().map(|&e| f64::from(e) / n));
        }
        v_rows.write(&mut values, names.clone())?;
        f_rows.write(&mut fractions, names.clone())?;
        let mut groups = TableBuilder::new().str("group", names);
        for (k, column) in by.iter().enumerate() {
            groups = groups.str(column, kept.iter().map(|(key, _)| key[k].to_string()).collect());
        }
        let groups = groups
            .i64("cells", rows.iter().map(|r| r.len() as i64).collect())
            .f64("total", profiles.iter().map(|p| p.sum.iter().sum()).collect())
            .build()?;
        Ok(outputs([("profiles", values.finish()?), ("fractions", fractions.finish()?), ("groups", groups)]))
    }
}

/// Rows of a groups × genes matrix, kept sparse (zeros dropped) as they are made.
#[derive(Default)]
struct Rowwise {
    indptr: Vec<u64>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Rowwise {
    fn push(&mut self, row: impl Iterator<Item = f64>) {
        if self.indptr.is_empty() {
            self.indptr.push(0);
        }
        for (j, v) in row.enumerate() {
            if v != 0.0 {
                self.indices.push(j as u32);
                self.values.push(v as f32);
            }
        }
        self.indptr.push(self.indices.len() as u64);
    }

    fn write(self, out: &mut BlockWriter, names: Vec<String>) -> Result<(), NodeError> {
        Ok(out.push(names, &self.indptr, self.indices, self.values)?)
    }
}

/// `A+B|rep1`: the group's `by` values joined by `|`, empty targets shown as `control`.
fn group_name(by: &[String], key: &[&str]) -> String {
    let shown = by.iter().zip(key).map(|(col, v)| if col == "targets" && v.is_empty() { CONTROL } else { v });
    shown.collect::<Vec<_>>().join("|")
}

/// Column `name` of `cells` as text, whatever its type (missing values empty).
fn labels(cells: &Table, name: &str) -> Result<Vec<String>, NodeError> {
    let batch = cells.batch();
    let column = batch.column_by_name(name).ok_or_else(|| {
        NodeError::Input(format!(
            "`by`: the cell table has no column `{name}` (columns: {})",
            cells.column_names().join(", ")
        ))
    })?;
    let format = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())
        .map_err(|e| NodeError::Input(format!("`by`: column `{name}` cannot be shown as text: {e}")))?;
    Ok((0..column.len()).map(|i| if column.is_null(i) { String::new() } else { format.value(i).to_string() }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::sparse::Csr;
    use crate::table::SparseMatrix;

    fn run(by: &[&str], stat: &str, min_cells: usize) -> Result<Outputs, NodeError> {
        run_with(by, stat, min_cells, false)
    }

    fn run_with(by: &[&str], stat: &str, min_cells: usize, reversed: bool) -> Result<Outputs, NodeError> {
        // cells: c0 ctrl rep1, c1 A rep1, c2 A rep2, c3 ctrl rep2, c4 A rep1
        let dense = ndarray::array![[1., 0., 2.], [0., 4., 0.], [2., 2., 0.], [3., 0., 0.], [0., 6., 1.]];
        let m = SparseMatrix {
            rows: (0..5).map(|i| format!("c{i}")).collect(),
            cols: vec!["g0".into(), "g1".into(), "g2".into()],
            csr: Csr::from_dense(&dense.mapv(|v: f64| v as f32).view()).unwrap(),
        };
        let mut names = m.rows.clone();
        if reversed {
            names.reverse();
        }
        let cells = TableBuilder::new()
            .str("cell", names)
            .str("targets", ["", "A", "A", "", "A"].map(String::from).to_vec())
            .i64("gem_group", vec![1, 1, 2, 2, 1])
            .build()
            .unwrap();
        let inputs = Inputs::new(
            [("expression", m.into_table().unwrap()), ("cells", cells)]
                .into_iter()
                .map(|(port, table)| {
                    (
                        port.to_string(),
                        vec![crate::kind::Input::Table {
                            table,
                            instance: Default::default(),
                            hash: String::new(),
                            origin: None,
                        }],
                    )
                })
                .collect(),
            vec![],
        );
        let params = Params::from_map(
            [
                ("by".to_string(), json!(by)),
                ("stat".to_string(), json!(stat)),
                ("min_cells".to_string(), json!(min_cells)),
            ]
            .into(),
        );
        Pseudobulk.run(&params, &inputs, &RunContext::default())
    }

    #[test]
    fn means_fractions_and_counts_per_perturbation() {
        let out = run(&["targets"], "mean", 1).unwrap();
        let profiles = SparseMatrix::from_table(&out["profiles"]).unwrap();
        assert_eq!(profiles.rows, vec!["control", "A"], "groups sorted by their values, controls (empty) first");
        assert_eq!(profiles.csr.to_dense(), ndarray::array![[2., 0., 1.], [2. / 3., 4., 1. / 3.]]);
        let fractions = SparseMatrix::from_table(&out["fractions"]).unwrap();
        assert_eq!(fractions.csr.to_dense(), ndarray::array![[1., 0., 0.5], [1. / 3., 1., 1. / 3.]]);
        let groups = &out["groups"];
        assert_eq!(groups.str_column("targets").unwrap(), vec!["", "A"]);
        assert_eq!(groups.f64_column("cells").unwrap(), vec![2.0, 3.0]);
        assert_eq!(groups.f64_column("total").unwrap(), vec![6.0, 15.0]);
    }

    #[test]
    fn covariates_split_groups_and_small_groups_leave() {
        let out = run(&["targets", "gem_group"], "sum", 2).unwrap();
        let profiles = SparseMatrix::from_table(&out["profiles"]).unwrap();
        assert_eq!(profiles.rows, vec!["A|1"], "A|2, control|1 and control|2 have one cell each");
        assert_eq!(profiles.csr.to_dense(), ndarray::array![[0., 10., 1.]]);
        assert_eq!(out["groups"].str_column("gem_group").unwrap(), vec!["1"]);
    }

    #[test]
    fn a_missing_column_is_named_with_the_ones_there() {
        let e = run(&["donor"], "mean", 1).unwrap_err().to_string();
        assert!(e.contains("no column `donor`") && e.contains("gem_group"), "{e}");
        assert!(run(&["targets"], "mean", 10).unwrap_err().to_string().contains("lower `min_cells`"));
        assert!(run(&[], "mean", 1).unwrap_err().to_string().contains("`by` is empty"));
        let e = run_with(&["targets"], "mean", 1, true).unwrap_err().to_string();
        assert!(e.contains("row 0 is cell `c4` but `expression` row 0 is `c0`"), "{e}");
    }
}
