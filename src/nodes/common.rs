//! Small helpers shared by node kinds: building outputs and the standard tables.

use std::collections::{HashMap, HashSet};

use crate::algo::AlgoError;
use crate::algo::labels::condition_name;
use crate::kind::{NodeError, Outputs, ParamSpec, ParamType, RunContext};
use crate::table::{Table, TableBuilder};

/// Builds an [`Outputs`] map from `(port, table)` pairs.
pub fn outputs<const N: usize>(pairs: [(&str, Table); N]) -> Outputs {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The `cells` table: `cell`, `targets` (`A+B`, empty for controls) and `n_targets`.
pub fn cells_table(names: Vec<String>, targets: &[Vec<String>]) -> Result<Table, NodeError> {
    Ok(TableBuilder::new()
        .str("cell", names)
        .str("targets", targets.iter().map(|t| condition_name(t)).collect())
        .i64("n_targets", targets.iter().map(|t| t.len() as i64).collect())
        .build()?)
}

/// Reads the canonical targets of each cell from a `cells` table.
pub fn cell_targets(cells: &Table) -> Result<Vec<Vec<String>>, NodeError> {
    Ok(cells
        .str_column("targets")?
        .into_iter()
        .map(|t| if t.is_empty() { Vec::new() } else { t.split('+').map(String::from).collect() })
        .collect())
}

/// The names in a list table: column `tf`, `name`, `gene` or the first string column.
pub fn names(table: &Table) -> Result<Vec<String>, NodeError> {
    for col in ["tf", "name", "gene", "symbol"] {
        if table.has_column(col) {
            return Ok(table.str_column(col)?);
        }
    }
    let first = table.column_names().into_iter().next().unwrap_or_default();
    table.str_column(&first).map_err(|e| NodeError::Input(format!("expected a list of names: {e}")))
}

/// The expression columns (`index`: column of each gene name) of the TFs listed in `tfs` that
/// are not already in `taken`, in list order without repeats: the TFs beyond the communities
/// that the global eigengene spans (A.3).
pub fn extra_tf_columns(
    index: &HashMap<&str, usize>,
    tfs: Option<&Table>,
    taken: &[usize],
) -> Result<Vec<usize>, NodeError> {
    let Some(tfs) = tfs else { return Ok(Vec::new()) };
    let mut seen: HashSet<usize> = taken.iter().copied().collect();
    Ok(names(tfs)?.iter().filter_map(|tf| index.get(tf.as_str()).copied()).filter(|&c| seen.insert(c)).collect())
}

/// Dense float64 columns `cols` of a sparse expression matrix, for rows `rows`, filled straight
/// from the CSR rows: the result is the only allocation (no sub-matrix or f32 copy on the way).
pub fn dense_columns(
    m: &crate::table::SparseMatrix,
    rows: &[usize],
    cols: &[usize],
) -> Result<ndarray::Array2<f64>, NodeError> {
    let bad = |why: String| NodeError::from(AlgoError::Param { name: "columns".into(), why });
    let mut position = vec![None; m.csr.n_cols];
    for (k, &j) in cols.iter().enumerate() {
        match position.get_mut(j) {
            Some(slot @ None) => *slot = Some(k),
            Some(Some(_)) => return Err(bad(format!("column {j} selected twice"))),
            None => return Err(bad(format!("column {j} out of range for {} columns", m.csr.n_cols))),
        }
    }
    if let Some(&i) = rows.iter().find(|&&i| i >= m.csr.n_rows) {
        return Err(bad(format!("row {i} out of range for {} rows", m.csr.n_rows)));
    }
    let mut out = ndarray::Array2::zeros((rows.len(), cols.len()));
    for (mut dst, &i) in out.rows_mut().into_iter().zip(rows) {
        let (idx, val) = m.csr.row(i);
        for (&j, &v) in idx.iter().zip(val) {
            if let Some(k) = position[j as usize] {
                dst[k] = f64::from(v);
            }
        }
    }
    Ok(out)
}

/// Which single perturbations train a model: those of community TFs (the paper) or all of them.
pub const TRAIN_ON: &[&str] = &["communities", "all"];

/// The `train_on` param of the kinds that train on controls and single perturbations.
pub fn train_on_param(name: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::Choice(TRAIN_ON),
        serde_json::json!("communities"),
        "single perturbations to train on: of community TFs (the paper) or all (a screen of non-TF genes)",
    )
}

/// Why too few cells passed the `train_on` rule: the rule and the counts that explain it
/// (`community_singles` of the `singles` single-perturbed cells target a community TF).
pub fn train_on_error(what: &str, controls: usize, singles: usize, community_singles: usize, rule: &str) -> NodeError {
    let singles_text = if rule == "communities" {
        let fix = if community_singles < singles {
            "; use `train_on: all` to train on every single perturbation"
        } else {
            ""
        };
        format!("{community_singles} of {singles} single-perturbed cells target a community TF{fix}")
    } else {
        format!("{singles} single-perturbed cells")
    };
    NodeError::Input(format!(
        "{what} trains on controls and single perturbations (`train_on: {rule}`); the cells hold {controls} \
         controls, and {singles_text}"
    ))
}

/// The GPU a model trains on: none without `gpu`, else the first one the task was assigned.
pub fn assigned_gpu(gpu: bool, ctx: &RunContext) -> Result<Option<usize>, NodeError> {
    if !gpu {
        return Ok(None);
    }
    let first = ctx.gpus.first().copied();
    first.map(Some).ok_or_else(|| NodeError::Input("`gpu: true` but no GPU was assigned".into()))
}

/// Which cells a model is fitted on.
pub const FIT_CELLS: &[&str] = &["training", "controls", "all"];

/// The `pca` param of the kinds that fit eigengenes: PC1 of the covariance matrix (A.3, the
/// default) or of the correlation matrix (WGCNA).
pub fn pca_param(name: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::Choice(&["covariance", "correlation"]),
        serde_json::json!("covariance"),
        "eigengene = PC1 of the covariance (A.3) or the correlation (WGCNA) matrix of the community's TFs",
    )
}

/// The rows of `cells` used for fitting, checked against the expression's cell names:
/// `training` = controls and single perturbations (never the doubles that evaluation holds out),
/// `controls` = `n_targets == 0`, `all` = every cell.
pub fn fitting_rows(cells: Option<&Table>, expression_rows: &[String], which: &str) -> Result<Vec<usize>, NodeError> {
    let Some(cells) = cells else { return Ok((0..expression_rows.len()).collect()) };
    let names = cells.str_column("cell")?;
    if names.as_slice() != expression_rows {
        return Err(NodeError::Input(
            "input `cells` does not list the same cells, in the same order, as `expression`; \
             connect the `cells` output of the node that produced the expression"
                .into(),
        ));
    }
    let max_targets = match which {
        "all" => return Ok((0..names.len()).collect()),
        "controls" => 0.0,
        _ => 1.0,
    };
    let n_targets = cells.f64_column("n_targets")?;
    let rows: Vec<usize> = (0..names.len()).filter(|&i| n_targets[i] <= max_targets).collect();
    if rows.is_empty() {
        return Err(NodeError::Input(format!("no cells to fit on with `cells: {which}`; try `cells: all`")));
    }
    Ok(rows)
}

/// Refuses, before it allocates, a task whose peak memory (an upper bound, `bytes`) exceeds
/// what the machine has available now (`MemAvailable` of /proc/meminfo; no check where that is
/// unknown). `what` names the size, `fix` the params that set it.
pub fn check_memory(what: &str, bytes: f64, fix: &str) -> Result<(), NodeError> {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok().map(|kib| kib * 1024.0)
    });
    match available {
        Some(free) if bytes > free => Err(NodeError::Input(format!(
            "{what} needs up to {} of memory and {} is available; lower {fix}",
            gib(bytes),
            gib(free)
        ))),
        _ => Ok(()),
    }
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / f64::from(1u32 << 30))
}
