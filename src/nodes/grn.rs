//! `grn`: a CellOracle-style GRN: per-target bagging ridge, p-values, global BH FDR, and the
//! weak/strong split by a Gaussian mixture on ln|coef| (method.md §3).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use serde_json::json;

use super::common::{FIT_CELLS, dense_columns, fitting_rows, names, outputs};
use super::declare::{kind_params, ports};
use crate::algo::knn::{Smoothing, knn_smooth};
use crate::algo::ridge::{GrnOptions, Keep, bagging_ridge, filter_edges};
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{Edges, SparseMatrix, TableBuilder};

/// The `grn` kind.
pub struct Grn;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "grn",
    version: 2,
    doc: "GRN by bagging ridge per target (CellOracle), BH FDR, strong edges by a 2-component GMM",
    inputs: ports![
        expression: "cells × genes, log-normalised (from preprocess)",
        tfs?: "TF names (a table or a one-per-line file); default: the prior's sources",
        prior?: "base network: source, target (candidate regulators per target)",
        cells?: "cell table (with n_targets) to fit on controls only",
    ],
    outputs: ports![
        edges: "kept edges: source, target, coef_mean, coef_abs, p, q, strong",
        gmm: "component, weight, mean, sd, and the boundary on ln|coef|",
        summary: "tfs, targets, edges_fitted, edges_kept, edges_strong",
    ],
    params: GrnParams::specs(),
});

kind_params! {
    /// Params of `grn` (defaults: [`GrnOptions::default`]).
    pub struct GrnParams {
        alpha: f64 = ParamSpec::new(
            ParamType::Float { min: Some(0.0), max: None },
            json!(GrnOptions::default().alpha),
            "ridge penalty",
        ),
        bagging: usize = ParamSpec::new(
            ParamType::Int { min: Some(2), max: None },
            json!(GrnOptions::default().bagging),
            "bagged estimators per target",
        ),
        feature_fraction: f64 = ParamSpec::new(
            ParamType::fraction(),
            json!(GrnOptions::default().feature_fraction),
            "regulators per estimator",
        ),
        seed: u64 = ParamSpec::new(ParamType::count(), json!(GrnOptions::default().seed), "random seed"),
        fdr: f64 = ParamSpec::new(ParamType::fraction(), json!(0.05), "keep edges with BH q at most this"),
        keep: String = ParamSpec::new(
            ParamType::Choice(&["gmm", "median", "top_fraction"]),
            json!("gmm"),
            "rule for strong edges",
        ),
        top_fraction: f64 = ParamSpec::new(ParamType::fraction(), json!(0.5), "with keep: top_fraction"),
        knn: bool = ParamSpec::new(
            ParamType::Bool,
            json!(false),
            "first smooth cells over kNN in PC space (CellOracle)",
        ),
        knn_k: Option<usize> = ParamSpec::new(
            ParamType::optional(ParamType::positive()),
            json!(null),
            "neighbours; null = 2.5% of cells",
        ),
        knn_pcs: Option<usize> = ParamSpec::new(
            ParamType::optional(ParamType::positive()),
            json!(null),
            "PCs; null = CellOracle's rule",
        ),
        min_regulator_cells: usize = ParamSpec::new(
            ParamType::count(),
            json!(10),
            "a TF regulates only if detected (non-zero) in at least this many of the cells fitted",
        ),
        cells: String = ParamSpec::new(
            ParamType::Choice(FIT_CELLS),
            json!("controls"),
            "cells to fit on (with `cells`): controls = unperturbed (§3.1), training = controls + singles",
        ),
    }
}

impl NodeKind for Grn {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn resources(&self, _params: &Params) -> crate::kind::Resources {
        crate::kind::Resources { cpus: 2, ..Default::default() }
    }
    /// [`BASE`](crate::kind::memory::BASE) plus 3.5× the inputs: a peak of 699 MiB was measured
    /// for 220 MiB of inputs (README, "Memory").
    fn memory(&self, _params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        inputs.times(3.5)
    }
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = GrnParams::decode(params)?;
        let expr = SparseMatrix::from_table(&inputs.table("expression")?)?;
        let cells = inputs.opt_table("cells")?;
        let rows = fitting_rows(cells.as_ref(), &expr.rows, &p.cells)?;
        let gene_index: HashMap<&str, usize> = expr.cols.iter().enumerate().map(|(i, g)| (g.as_str(), i)).collect();
        let prior = match inputs.opt_table("prior")? {
            Some(t) => Some(Edges::from_table(&t)?.0),
            None => None,
        };
        let tfs: Vec<String> = match (inputs.opt_table("tfs")?, &prior) {
            (Some(t), _) => names(&t)?,
            (None, Some(edges)) => edges.iter().map(|e| e.0.clone()).collect::<HashSet<_>>().into_iter().collect(),
            (None, None) => {
                return Err(NodeError::Input("grn needs a TF list (`tfs`) or a base network (`prior`)".into()));
            }
        };
        let tf_cols: HashSet<usize> = tfs.iter().filter_map(|t| gene_index.get(t.as_str()).copied()).collect();
        if tf_cols.is_empty() {
            return Err(NodeError::Input(format!(
                "none of the {} TFs is among the {} measured genes (are the names gene symbols on both sides?)",
                tfs.len(),
                expr.cols.len()
            )));
        }
        let mut candidates: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        match &prior {
            Some(edges) => {
                for (s, t, _) in edges {
                    if let (Some(&si), Some(&ti)) = (gene_index.get(s.as_str()), gene_index.get(t.as_str()))
                        && si != ti
                        && tf_cols.contains(&si)
                    {
                        candidates.entry(ti).or_default().push(si);
                    }
                }
            }
            None => {
                let mut regs: Vec<usize> = tf_cols.iter().copied().collect();
                regs.sort_unstable();
                for t in 0..expr.cols.len() {
                    candidates.insert(t, regs.iter().copied().filter(|&r| r != t).collect());
                }
            }
        }
        let all_cols: Vec<usize> = (0..expr.cols.len()).collect();
        let mut x = dense_columns(&expr, &rows, &all_cols)?;
        // Only the gene names are needed from here on: free the sparse copy before the fit.
        let SparseMatrix { cols: genes, csr, .. } = expr;
        drop(csr);
        // A regulator detected in a handful of cells gets tiny-variance, huge-t coefficients (a TF
        // in 1 of 3,375 cells reached q ≈ 1e-8): it must be seen in `min_regulator_cells` cells.
        let min_cells = p.min_regulator_cells;
        let rare: HashSet<usize> = tf_cols
            .iter()
            .copied()
            .filter(|&c| x.column(c).iter().filter(|&&v| v != 0.0).count() < min_cells)
            .collect();
        if !rare.is_empty() {
            let mut names: Vec<&str> = rare.iter().map(|&c| genes[c].as_str()).collect();
            names.sort_unstable();
            ctx.note(format!(
                "{} of {} TFs are detected in fewer than {min_cells} of the {} cells fitted and regulate nothing \
                 (`min_regulator_cells`): {}",
                rare.len(),
                tf_cols.len(),
                rows.len(),
                names.join(", ")
            ));
        }
        if rare.len() == tf_cols.len() {
            return Err(NodeError::Input(format!(
                "every one of the {} TFs is detected in fewer than {min_cells} of the {} cells fitted; lower \
                 `min_regulator_cells` or fit on more cells (`cells`)",
                tf_cols.len(),
                rows.len()
            )));
        }
        let candidates: Vec<(usize, Vec<usize>)> = candidates
            .into_iter()
            .map(|(t, mut r)| {
                r.retain(|c| !rare.contains(c));
                r.sort_unstable();
                r.dedup();
                (t, r)
            })
            .filter(|(_, r)| !r.is_empty())
            .collect();
        let mut smoothing = Smoothing { n_pcs: 0, k: 0 };
        if p.knn {
            (x, smoothing) = knn_smooth(x.view(), p.knn_k, p.knn_pcs)?;
        }
        let options =
            GrnOptions { alpha: p.alpha, bagging: p.bagging, feature_fraction: p.feature_fraction, seed: p.seed };
        let edges = bagging_ridge(x.view(), &genes, &candidates, &options)?;
        let keep = match p.keep.as_str() {
            "median" => Keep::Median,
            "top_fraction" => Keep::TopFraction(p.top_fraction),
            _ => Keep::Gmm,
        };
        let filtered = filter_edges(&edges, p.fdr, keep)?;
        let kept: Vec<usize> = (0..edges.len()).filter(|&i| filtered.kept[i]).collect();
        let name = |i: usize| genes[i].clone();
        let edge_table = TableBuilder::new()
            .str("source", kept.iter().map(|&i| name(edges[i].source)).collect())
            .str("target", kept.iter().map(|&i| name(edges[i].target)).collect())
            .f64("coef_mean", kept.iter().map(|&i| edges[i].coef_mean).collect())
            .f64("coef_abs", kept.iter().map(|&i| edges[i].coef_abs).collect())
            .f64("p", kept.iter().map(|&i| edges[i].p).collect())
            .f64("q", kept.iter().map(|&i| filtered.q[i]).collect())
            .bool("strong", kept.iter().map(|&i| filtered.strong[i]).collect())
            .build()?;
        let g = filtered.gmm;
        let gmm = TableBuilder::new()
            .str("component", vec!["weak".into(), "strong".into()])
            .f64("weight", g.map(|g| g.weights.to_vec()).unwrap_or(vec![f64::NAN; 2]))
            .f64("mean", g.map(|g| g.means.to_vec()).unwrap_or(vec![f64::NAN; 2]))
            .f64("sd", g.map(|g| g.sds.to_vec()).unwrap_or(vec![f64::NAN; 2]))
            .f64("boundary", vec![g.and_then(|g| g.boundary).unwrap_or(f64::NAN); 2])
            .f64("log_likelihood", vec![g.map(|g| g.log_likelihood).unwrap_or(f64::NAN); 2])
            .bool("converged", vec![g.is_some_and(|g| g.converged); 2])
            .build()?;
        let n_strong = kept.iter().filter(|&&i| filtered.strong[i]).count();
        let summary = TableBuilder::new()
            .i64("tfs", vec![(tf_cols.len() - rare.len()) as i64])
            .i64("tfs_too_rare", vec![rare.len() as i64])
            .i64("targets", vec![candidates.len() as i64])
            .i64("cells", vec![rows.len() as i64])
            .i64("edges_fitted", vec![edges.len() as i64])
            .i64("edges_kept", vec![kept.len() as i64])
            .i64("edges_strong", vec![n_strong as i64])
            .i64("knn_k", vec![smoothing.k as i64])
            .i64("knn_pcs", vec![smoothing.n_pcs as i64])
            .build()?;
        Ok(outputs([("edges", edge_table), ("gmm", gmm), ("summary", summary)]))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::algo::sparse::Csr;
    use crate::kind::Input;

    fn given(table: crate::table::Table) -> Input {
        Input::Table { table, instance: BTreeMap::new(), hash: String::new(), origin: None }
    }

    /// 60 cells: TF `RARE` is detected in 2 cells, TF `T2` everywhere; G1 and G2 follow T2.
    fn inputs() -> Inputs {
        let n = 60;
        let dense = ndarray::Array2::from_shape_fn((n, 4), |(i, j)| {
            let t2 = 1.0 + ((i * 7) % 13) as f32 / 4.0;
            match j {
                0 => f32::from(u8::from(i < 2)) * 3.0,
                1 => t2,
                2 => 0.8 * t2 + ((i * 5) % 7) as f32 / 20.0,
                _ => 0.5 * t2 + ((i * 3) % 11) as f32 / 30.0,
            }
        });
        let expr = SparseMatrix {
            rows: (0..n).map(|i| format!("c{i}")).collect(),
            cols: ["RARE", "T2", "G1", "G2"].map(String::from).to_vec(),
            csr: Csr::from_dense(&dense.view()).unwrap(),
        };
        let tfs = TableBuilder::new().str("tf", vec!["RARE".into(), "T2".into()]).build().unwrap();
        let mut ports = BTreeMap::new();
        ports.insert("expression".to_string(), vec![given(expr.to_table().unwrap())]);
        ports.insert("tfs".to_string(), vec![given(tfs)]);
        Inputs::new(ports, vec![])
    }

    fn run(min_cells: usize) -> (Outputs, Vec<String>) {
        let (out, notes) = try_run(min_cells);
        (out.unwrap(), notes)
    }

    fn try_run(min_cells: usize) -> (Result<Outputs, NodeError>, Vec<String>) {
        let mut params = Params::default();
        for s in Grn.params() {
            params.set(s.name, s.default.clone().unwrap_or(serde_json::Value::Null));
        }
        params.set("min_regulator_cells", json!(min_cells));
        params.set("fdr", json!(1.0));
        let ctx = RunContext::new("grn", 1, vec![]);
        let out = Grn.run(&params, &inputs(), &ctx);
        (out, ctx.take_notes())
    }

    #[test]
    fn a_tf_detected_in_too_few_cells_regulates_nothing_and_is_named() {
        let (out, notes) = run(10);
        let sources = out["edges"].str_column("source").unwrap();
        assert!(!sources.is_empty() && sources.iter().all(|s| s == "T2"), "{sources:?}");
        assert_eq!(out["summary"].f64_column("tfs_too_rare").unwrap(), vec![1.0]);
        assert!(notes.iter().any(|n| n.contains("1 of 2 TFs are detected in fewer than 10") && n.contains("RARE")));
        // With the minimum off, the rare TF is a regulator again.
        let (out, notes) = run(0);
        assert!(out["edges"].str_column("source").unwrap().iter().any(|s| s == "RARE"));
        assert!(notes.is_empty());
        // Every TF too rare: an error that names the param, not an empty network.
        let e = try_run(100).0.unwrap_err().to_string();
        assert!(e.contains("every one of the 2 TFs is detected in fewer than 100 of the 60 cells"), "{e}");
        assert!(e.contains("`min_regulator_cells`"), "{e}");
    }
}
