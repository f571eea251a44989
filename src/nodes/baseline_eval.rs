//! `baseline-eval`: the paper's Table 1 (method.md §8.1–8.2). For each held-out double
//! perturbation, the distance between each model's predicted centroid and the observed one,
//! beside the `perfect` (half against half) and `worst-case` (control centroid) references;
//! AECD ± S.E. per model and paired two-sided Wilcoxon tests against the reference model.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ndarray::{Array1, Array2};
use serde_json::json;

use super::common::{cell_targets, names, outputs};
use super::vae_train::MODELS;
use crate::algo::aecd::{centroid, centroid_distance, mean_se, paired_wilcoxon, perfect_distance};
use crate::algo::labels::condition_name;
use crate::engine::{Inputs, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, PortSpec, RunContext};
use crate::table::{SparseMatrix, TableBuilder};

/// The `baseline-eval` kind.
pub struct BaselineEval;

/// Columns of a predictions table that are not genes.
const META: &[&str] = &["condition", "model", "n_cells"];

impl NodeKind for BaselineEval {
    fn name(&self) -> &str {
        "baseline-eval"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &str {
        "AECD of predicted vs observed centroids of held-out doubles, with perfect and worst-case baselines"
    }
    fn inputs(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::new("expression", "cells × genes, the space the predictions are in"),
            PortSpec::new("cells", "cell, targets, n_targets (same cells as expression)"),
            PortSpec::new("predictions", "vae-train.predictions, one table per model (and seed)"),
            PortSpec::optional("communities", "tf, community: by default, hold out doubles of two community TFs"),
        ]
    }
    fn outputs(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::new("table", "model, aecd, se, p_value, n_conditions (Table 1)"),
            PortSpec::new("distances", "model, condition, distance"),
        ]
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::new(
                "conditions",
                ParamType::optional(ParamType::StrList),
                json!(null),
                "held-out doubles (A+B); null = doubles of two community TFs (all doubles without communities)",
            ),
            ParamSpec::new("splits", ParamType::positive(), json!(100), "random half splits of the perfect baseline"),
            ParamSpec::new("seed", ParamType::count(), json!(0), "seed of the half splits"),
            ParamSpec::new(
                "reference",
                ParamType::Str,
                json!("gcrl-vae"),
                "model every other row is tested against (paired two-sided Wilcoxon)",
            ),
        ]
    }
    fn run(&self, p: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let expr = SparseMatrix::from_table(&inputs.table("expression")?)?;
        let cells = inputs.table("cells")?;
        if cells.str_column("cell")? != expr.rows {
            return Err(NodeError::Input(
                "input `cells` does not list the cells of `expression` in the same order".into(),
            ));
        }
        let targets = cell_targets(&cells)?;
        let mut by_condition: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut controls = Vec::new();
        for (row, t) in targets.iter().enumerate() {
            match t.len() {
                0 => controls.push(row),
                2 => by_condition.entry(condition_name(t)).or_default().push(row),
                _ => {}
            }
        }
        let predictions = read_predictions(inputs, &expr.cols)?;
        let conditions = held_out(p, inputs, &by_condition, &predictions)?;
        let all: Vec<usize> = (0..expr.cols.len()).collect();
        let dense =
            |rows: &[usize]| -> Result<Array2<f64>, NodeError> { super::common::dense_columns(&expr, rows, &all) };
        let control = centroid(dense(&controls)?.view())?;
        let seed = p.seed("seed")?;
        let splits = p.usize("splits")?;
        let mut rows: Vec<(String, Vec<f64>)> = vec![("perfect".into(), vec![]), ("worst-case".into(), vec![])];
        let mut model_d: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for (i, c) in conditions.iter().enumerate() {
            let y = dense(&by_condition[c])?;
            let observed = centroid(y.view())?;
            rows[0].1.push(perfect_distance(y.view(), splits, seed.wrapping_add(i as u64))?);
            rows[1].1.push(centroid_distance(control.view(), observed.view())?);
            for (model, runs) in &predictions {
                let mut total = 0.0;
                for run in runs {
                    total += centroid_distance(run[c].view(), observed.view())?;
                }
                model_d.entry(model.as_str()).or_default().push(total / runs.len() as f64);
            }
        }
        let mut order: Vec<&str> = MODELS.iter().copied().filter(|m| model_d.contains_key(m)).collect();
        order.extend(model_d.keys().copied().filter(|m| !MODELS.contains(m)));
        let worst = rows.pop().expect("two reference rows");
        rows.extend(order.iter().map(|m| (m.to_string(), model_d[m].clone())));
        rows.push(worst);
        let reference = p.str("reference")?;
        let ref_d = model_d.get(reference);
        let (mut model, mut aecd, mut se, mut p_value, mut n) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut dm, mut dc, mut dd) = (vec![], vec![], vec![]);
        for (name, d) in &rows {
            let (m, s) = mean_se(d)?;
            let pv = match ref_d {
                Some(r) if name != reference => paired_wilcoxon(d, r).map_or(f64::NAN, |w| w.p),
                _ => f64::NAN,
            };
            model.push(name.clone());
            aecd.push(m);
            se.push(s);
            p_value.push(pv);
            n.push(d.len() as i64);
            for (c, v) in conditions.iter().zip(d) {
                dm.push(name.clone());
                dc.push(c.clone());
                dd.push(*v);
            }
        }
        let table = TableBuilder::new()
            .str("model", model)
            .f64("aecd", aecd)
            .f64("se", se)
            .f64("p_value", p_value)
            .i64("n_conditions", n)
            .build()?;
        let distances = TableBuilder::new().str("model", dm).str("condition", dc).f64("distance", dd).build()?;
        Ok(outputs([("table", table), ("distances", distances)]))
    }
}

/// Predicted centroids: model → one map per table (seed) from condition to centroid, in the
/// column order of `genes`.
type Predictions = BTreeMap<String, Vec<HashMap<String, Array1<f64>>>>;

fn read_predictions(inputs: &Inputs, genes: &[String]) -> Result<Predictions, NodeError> {
    let mut out: Predictions = BTreeMap::new();
    for (table, _) in inputs.tables("predictions")? {
        let cols: Vec<String> = table.column_names().into_iter().filter(|c| !META.contains(&c.as_str())).collect();
        if cols.as_slice() != genes {
            return Err(NodeError::Input(
                "input `predictions` is not in the gene space of `expression`; train on the same expression".into(),
            ));
        }
        let model = table.str_column("model")?;
        let Some(name) = model.first() else { continue };
        let conditions = table.str_column("condition")?;
        let mut values = Array2::<f64>::zeros((conditions.len(), genes.len()));
        for (j, g) in genes.iter().enumerate() {
            values.column_mut(j).iter_mut().zip(table.f64_column(g)?).for_each(|(v, x)| *v = x);
        }
        let map = conditions.into_iter().zip(values.rows()).map(|(c, r)| (c, r.to_owned())).collect();
        out.entry(name.clone()).or_default().push(map);
    }
    if out.is_empty() {
        return Err(NodeError::Input("input `predictions` holds no predictions".into()));
    }
    Ok(out)
}

/// The held-out doubles: the `conditions` list, or every observed double predicted by every
/// model (restricted to doubles of two community TFs when `communities` is connected).
fn held_out(
    p: &Params,
    inputs: &Inputs,
    observed: &BTreeMap<String, Vec<usize>>,
    predictions: &Predictions,
) -> Result<Vec<String>, NodeError> {
    let predicted_by_all = |c: &str| predictions.values().flatten().all(|m| m.contains_key(c));
    let conditions: Vec<String> = if p.value("conditions")?.is_null() {
        let tfs: Option<BTreeSet<String>> =
            inputs.opt_table("communities")?.map(|t| names(&t)).transpose()?.map(|v| v.into_iter().collect());
        observed
            .keys()
            .filter(|c| tfs.as_ref().is_none_or(|tfs| c.split('+').all(|t| tfs.contains(t))))
            .filter(|c| predicted_by_all(c))
            .cloned()
            .collect()
    } else {
        let mut list = Vec::new();
        for c in p.strs("conditions")? {
            let mut parts: Vec<String> = c.split('+').map(|s| s.trim().to_string()).collect();
            parts.sort();
            let name = condition_name(&parts);
            if !observed.contains_key(&name) {
                return Err(NodeError::Input(format!("held-out condition `{c}` has no double-perturbation cells")));
            }
            if !predicted_by_all(&name) {
                return Err(NodeError::Input(format!("held-out condition `{c}` is not predicted by every model")));
            }
            list.push(name);
        }
        list
    };
    if conditions.is_empty() {
        return Err(NodeError::Input(
            "no held-out double perturbation is observed and predicted by every model".into(),
        ));
    }
    Ok(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Input;
    use crate::table::{Matrix, Table};

    /// Four controls at 0, two doubles A+B (cells at 1 and 3) and A+C (cells at 2 and 2), one gene.
    fn fixture() -> (Table, Table) {
        let names: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
        let values = [0.0, 0.0, 0.0, 0.0, 1.0, 3.0, 2.0, 2.0];
        let expr = Matrix {
            rows: names.clone(),
            cols: vec!["g".into()],
            data: Array2::from_shape_vec((8, 1), values.to_vec()).unwrap(),
        };
        let targets: Vec<Vec<String>> =
            [vec![], vec![], vec![], vec![], vec!["A", "B"], vec!["A", "B"], vec!["A", "C"], vec!["A", "C"]]
                .into_iter()
                .map(|t| t.into_iter().map(String::from).collect())
                .collect();
        (expr.to_table("cell", true).unwrap(), super::super::common::cells_table(names, &targets).unwrap())
    }

    fn prediction(model: &str, ab: f64, ac: f64) -> Input {
        let t = TableBuilder::new()
            .str("condition", vec!["A+B".into(), "A+C".into()])
            .str("model", vec![model.into(); 2])
            .i64("n_cells", vec![2, 2])
            .f32("g", vec![ab as f32, ac as f32])
            .build()
            .unwrap();
        given(t)
    }

    fn given(table: Table) -> Input {
        Input::Table { table, instance: BTreeMap::new(), hash: String::new(), origin: None }
    }

    #[test]
    fn table_one_by_hand() {
        let (expr, cells) = fixture();
        let mut ports = BTreeMap::new();
        ports.insert("expression".to_string(), vec![given(expr)]);
        ports.insert("cells".to_string(), vec![given(cells)]);
        // gcrl-vae is off by 1 and 0.5; d-vae (two seeds) by 0 and 1, then 2 and 1 → 1 and 1.
        ports.insert(
            "predictions".to_string(),
            vec![prediction("gcrl-vae", 3.0, 2.5), prediction("d-vae", 2.0, 3.0), prediction("d-vae", 4.0, 1.0)],
        );
        let inputs = Inputs::new(ports, vec![]);
        let mut params = Params::default();
        for s in BaselineEval.params() {
            params.set(s.name, s.default.clone().unwrap());
        }
        let ctx = RunContext::new("t", 1, vec![]);
        let out = BaselineEval.run(&params, &inputs, &ctx).unwrap();
        let t = &out["table"];
        assert_eq!(t.str_column("model").unwrap(), vec!["perfect", "gcrl-vae", "d-vae", "worst-case"]);
        let aecd = t.f64_column("aecd").unwrap();
        // perfect: A+B halves {1},{3} → 2; A+C → 0; worst-case: centroids 2 and 2 vs 0.
        assert_eq!(aecd, vec![1.0, 0.75, 1.0, 2.0]);
        let se = t.f64_column("se").unwrap();
        // sd([1, 0.5], ddof 1) / √2 = 0.25
        assert!((se[1] - 0.25).abs() < 1e-12);
        assert_eq!(se[3], 0.0);
        assert_eq!(t.f64_column("n_conditions").unwrap(), vec![2.0; 4]);
        let p = t.f64_column("p_value").unwrap();
        assert!(p[1].is_nan(), "no test of the reference against itself");
        // scipy.stats.wilcoxon([2, 2], [1, 0.5]) → exact two-sided p = 0.5
        assert_eq!(p[3], 0.5);
        let d = &out["distances"];
        assert_eq!(d.n_rows(), 8);
    }
}
