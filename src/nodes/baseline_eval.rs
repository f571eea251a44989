//! `baseline-eval`: the paper's Table 1 (method.md §8.1–8.2) with the baselines and metrics the
//! field expects beside it. For each held-out double perturbation, every row predicts the
//! double's centroid and is scored against the observed cells; the rows are, in order:
//!
//! * `perfect`: half of the observed cells predicts the other half (averaged over `splits`
//!   random splits): the sampling noise of the observed centroid, at half the cells.
//! * `additive`: `control + (A − control) + (B − control)` from the observed training singles.
//! * `mean`: the mean centroid of the training singles (the "training mean" baseline).
//! * `best-single`: the observed single (A or B) closer to the observed double: an oracle bound
//!   (it looks at the answer), not a predictor.
//! * `linear`: the linear pseudo-bulk model of Ahlmann-Eltze, Huber & Anders (Nat. Methods 2025),
//!   see [`crate::algo::linear_baseline`].
//! * each model of `predictions` (mean over its tables, one per training seed; a model that also
//!   comes from an earlier producer node is the row `model:node`, e.g. an ablation);
//! * `worst-case`: the control centroid (no change).
//!
//! Metrics ([`crate::algo::perturbation`]): the centroid distance (AECD), Pearson of predicted vs
//! observed change against control over all genes and over the top-20 DE genes of the double
//! (scanpy Welch t against the controls, |t| largest, as GEARS ranks them), the MSE on those
//! genes, and scPerturb's energy distance on the first `edistance_pcs` principal components of
//! the controls and held-out cells. Every prediction is a centroid, so its cells are the same
//! control cells for every row (one per observed cell, seeded) shifted by the predicted change.
//! Beside them, each row's in-sample error on the training singles and its additivity gap
//! `‖pred(A+B) − pred(A) − pred(B) + pred(∅)‖`, so underfitting and composition failure can be
//! told apart.
//!
//! Seeds: per condition the metrics are averaged over a model's tables (seeds) first; means and
//! S.E. are then over conditions (S.E. = sd / √n_conditions, ddof 1), the paired Wilcoxon tests
//! are over conditions of the seed-averaged distances, and `seed_sd` is the spread of the
//! per-seed AECD across seeds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use ndarray::{Array1, Array2, ArrayView1};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::common::{cell_targets, names, outputs};
use super::declare::{kind_params, ports};
use super::vae_train::{CONTROL_PREDICTION, MODELS};
use crate::algo::aecd::{centroid, centroid_distance, half_splits, mean_se, paired_wilcoxon, perfect_distance};
use crate::algo::labels::condition_name;
use crate::algo::linear_baseline::{LinearBaseline, fit_linear_baseline};
use crate::algo::perturbation::{Condition, Pca, Scores};
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{SparseMatrix, Table, TableBuilder};

/// The `baseline-eval` kind.
pub struct BaselineEval;

/// Columns of a predictions table that are not genes.
const META: &[&str] = &["condition", "model", "n_cells"];

/// Top DE genes of the `_top20` metrics.
const DE_GENES: usize = 20;

/// Embedding dimensions and ridge penalty of the linear baseline (the paper's defaults).
const LINEAR_DIM: usize = 10;
const LINEAR_RIDGE: f64 = 0.1;

/// Metric columns, in the order of [`Scores::to_array`].
const METRICS: [&str; 5] = ["aecd", "pearson_delta", "pearson_delta_top20", "mse_top20", "edistance"];

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "baseline-eval",
    version: 2,
    doc: "Table 1 on held-out doubles: models beside perfect, additive, mean, best-single, linear and worst-case",
    inputs: ports![
        expression: "cells × genes, the space the predictions are in",
        cells: "cell, targets, n_targets (same cells as expression)",
        predictions: "vae-train.predictions, one table per model (and seed)",
        communities?: "tf, community: hold out doubles of two community TFs; baselines train on community singles",
    ],
    outputs: ports![
        table: "model, aecd, se, p_value, n_conditions, n_seeds, pearson_delta, pearson_delta_top20, mse_top20, \
             edistance, seed_sd, singles_error, additivity_gap, note (Table 1)",
        per_condition: "model, condition, n_cells, n_seeds, every metric, additivity_gap",
        distances: "model, condition, distance",
        pairs: "model_a, model_b, n, statistic, p_value: paired Wilcoxon of every pair of rows",
        dropped: "condition, n_cells, reason: held-out doubles left out",
    ],
    params: BaselineParams::specs(),
});

kind_params! {
    /// Params of `baseline-eval`.
    pub struct BaselineParams {
        conditions: Option<Vec<String>> = ParamSpec::new(
            ParamType::optional(ParamType::StrList),
            json!(null),
            "held-out doubles (A+B); null = doubles of two community TFs (all doubles without communities)",
        ),
        min_cells: usize = ParamSpec::new(
            ParamType::Int { min: Some(2), max: None },
            json!(20),
            "held-out doubles with fewer observed cells are dropped (listed in `dropped`)",
        ),
        splits: usize = ParamSpec::new(ParamType::positive(), json!(100), "random half splits of the perfect baseline"),
        seed: u64 = ParamSpec::new(ParamType::count(), json!(0), "seed of the half splits and the control pairing"),
        edistance_pcs: usize = ParamSpec::new(
            ParamType::positive(),
            json!(50),
            "principal components of the energy distance (scPerturb: 50)",
        ),
        reference: String = ParamSpec::new(
            ParamType::Str,
            json!("gcrl-vae"),
            "model every other row is tested against (paired two-sided Wilcoxon)",
        ),
    }
}

impl NodeKind for BaselineEval {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn reads_origins(&self) -> bool {
        true
    }
    /// [`BASE`](crate::kind::memory::BASE) plus 7× the inputs: peaks of 104 and 641 MiB were
    /// measured for 21.5 and 105 MiB of inputs (README, "Memory"); it grows faster than its inputs.
    fn memory(&self, _params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        inputs.times(7.0)
    }
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = BaselineParams::decode(params)?;
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
            if t.is_empty() {
                controls.push(row);
            } else {
                by_condition.entry(condition_name(t)).or_default().push(row);
            }
        }
        if controls.len() < 2 {
            return Err(NodeError::Input(format!(
                "input `cells` has {} control cells; the evaluation needs at least 2",
                controls.len()
            )));
        }
        let predictions = read_predictions(inputs, &expr.cols)?;
        let tfs: Option<BTreeSet<String>> =
            inputs.opt_table("communities")?.map(|t| names(&t)).transpose()?.map(|v| v.into_iter().collect());
        let in_scope = |c: &str| tfs.as_ref().is_none_or(|tfs| c.split('+').all(|t| tfs.contains(t)));
        let doubles: BTreeMap<&str, usize> = by_condition
            .iter()
            .filter(|(c, _)| c.split('+').count() == 2)
            .map(|(c, rows)| (c.as_str(), rows.len()))
            .collect();
        let min_cells = p.min_cells;
        let (conditions, dropped) = held_out(p.conditions.as_deref(), &in_scope, &doubles, &predictions, min_cells)?;
        if !dropped.is_empty() {
            let list: Vec<String> = dropped.iter().map(|(c, n)| format!("{c} ({n} cells)")).collect();
            ctx.note(format!(
                "warning: {} held-out double(s) have fewer than min_cells = {min_cells} observed cells, too few for \
                 `perfect` (half against half) to mean anything, and are left out: {}",
                dropped.len(),
                list.join(", ")
            ));
        }
        let all: Vec<usize> = (0..expr.cols.len()).collect();
        let dense =
            |rows: &[usize]| -> Result<Array2<f64>, NodeError> { super::common::dense_columns(&expr, rows, &all) };
        let control_cells = dense(&controls)?;
        let control = centroid(control_cells.view())?;
        let singles: BTreeMap<String, Array1<f64>> = by_condition
            .iter()
            .filter(|(c, _)| !c.contains('+') && in_scope(c))
            .map(|(c, rows)| Ok((c.clone(), centroid(dense(rows)?.view())?)))
            .collect::<Result<_, NodeError>>()?;
        if singles.is_empty() {
            return Err(NodeError::Input("no training single perturbation in `cells` for the baselines".into()));
        }
        let predictors = Predictors::new(control, singles, &expr.cols, predictions)?;
        let eval_rows: Vec<usize> =
            controls.iter().copied().chain(conditions.iter().flat_map(|c| by_condition[c].iter().copied())).collect();
        let pca = Pca::fit(dense(&eval_rows)?.view(), p.edistance_pcs)?;
        let control_pc = pca.project(control_cells.view());
        let rows = predictors.rows();
        let (seed, splits) = (p.seed, p.splits);
        // scores[row][condition][seed], gaps likewise.
        let mut scores: Vec<Vec<Vec<Option<Scores>>>> = vec![Vec::new(); rows.len()];
        let mut gaps: Vec<Vec<Vec<f64>>> = vec![Vec::new(); rows.len()];
        for (i, c) in conditions.iter().enumerate() {
            let y = dense(&by_condition[c])?;
            let pairing = pair_controls(controls.len(), y.nrows(), seed, i as u64);
            let cond = Condition::new(
                y.view(),
                control_cells.view(),
                predictors.control.view(),
                &pca,
                control_pc.view(),
                &pairing,
                DE_GENES,
            )?;
            let parts: Vec<String> = c.split('+').map(String::from).collect();
            for (r, row) in rows.iter().enumerate() {
                let (s, g) = if *row == Row::Perfect {
                    let halves = half_splits(y.nrows(), splits, seed.wrapping_add(i as u64))?;
                    let mut s = cond.score_halves(y.view(), &halves)?;
                    s.distance = perfect_distance(y.view(), splits, seed.wrapping_add(i as u64))?;
                    (vec![Some(s)], vec![f64::NAN])
                } else {
                    let mut s = Vec::new();
                    let mut g = Vec::new();
                    for k in 0..predictors.seeds(row) {
                        let pred = predictors.predict(row, k, &parts, Some(cond.observed()));
                        s.push(pred.map(|v| cond.score(v.view())).transpose()?);
                        g.push(predictors.additivity_gap(row, k, &parts, cond.observed()));
                    }
                    (s, g)
                };
                scores[r].push(s);
                gaps[r].push(g);
            }
        }
        let summary = Summary::new(&rows, &scores, &gaps);
        let table = table_one(&p.reference, &predictors, &rows, &summary, &conditions, splits)?;
        let (per_condition, distances) = per_condition_tables(&rows, &summary, &conditions, &by_condition)?;
        let pairs = pairs_table(&rows, &summary)?;
        let dropped = TableBuilder::new()
            .str("condition", dropped.iter().map(|d| d.0.clone()).collect())
            .i64("n_cells", dropped.iter().map(|d| d.1 as i64).collect())
            .str("reason", vec![format!("fewer than min_cells = {min_cells} observed cells"); dropped.len()])
            .build()?;
        Ok(outputs([
            ("table", table),
            ("per_condition", per_condition),
            ("distances", distances),
            ("pairs", pairs),
            ("dropped", dropped),
        ]))
    }
}

/// `n` control rows drawn uniformly with replacement, from the stream of condition `key`.
fn pair_controls(controls: usize, n: usize, seed: u64, key: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1 + key);
    (0..n).map(|_| rng.random_range(0..controls)).collect()
}

/// A row of Table 1.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Row {
    Perfect,
    Additive,
    Mean,
    BestSingle,
    Linear,
    Model(String),
    Worst,
}

impl Row {
    fn name(&self) -> &str {
        match self {
            Row::Perfect => "perfect",
            Row::Additive => "additive",
            Row::Mean => "mean",
            Row::BestSingle => "best-single",
            Row::Linear => "linear",
            Row::Model(m) => m,
            Row::Worst => "worst-case",
        }
    }
}

/// Predicted centroids: model → one map per table (seed) from condition to centroid, in the
/// column order of `genes`.
type Predictions = BTreeMap<String, Vec<HashMap<String, Array1<f64>>>>;

/// Everything the rows predict from: the observed control and training singles, the linear
/// model fitted on them, and the models' predictions.
struct Predictors {
    control: Array1<f64>,
    singles: BTreeMap<String, Array1<f64>>,
    mean: Array1<f64>,
    /// The linear baseline and the gene index of each target it can embed.
    linear: (LinearBaseline, HashMap<String, usize>),
    models: Predictions,
}

impl Predictors {
    fn new(
        control: Array1<f64>,
        singles: BTreeMap<String, Array1<f64>>,
        genes: &[String],
        models: Predictions,
    ) -> Result<Self, NodeError> {
        let mean = singles.values().fold(Array1::zeros(control.len()), |a, s| a + s) / singles.len() as f64;
        let gene_index: HashMap<String, usize> = genes.iter().enumerate().map(|(i, g)| (g.clone(), i)).collect();
        // The linear model trains on the control and the singles whose target is a gene column.
        let mut rows = vec![control.view()];
        let mut targets = vec![None];
        for (t, centroid) in &singles {
            if let Some(&g) = gene_index.get(t) {
                rows.push(centroid.view());
                targets.push(Some(g));
            }
        }
        if rows.len() < 3 {
            return Err(NodeError::Input(
                "the linear baseline needs at least 2 training singles whose target is a gene of `expression`".into(),
            ));
        }
        let bulk = ndarray::stack(ndarray::Axis(0), &rows).map_err(|e| NodeError::Input(e.to_string()))?;
        let model = fit_linear_baseline(bulk.view(), &targets, control.view(), LINEAR_DIM, LINEAR_RIDGE)?;
        Ok(Predictors { control, singles, mean, linear: (model, gene_index), models })
    }

    /// The rows of Table 1, in order.
    fn rows(&self) -> Vec<Row> {
        let mut rows = vec![Row::Perfect, Row::Additive, Row::Mean, Row::BestSingle, Row::Linear];
        rows.extend(MODELS.iter().filter(|m| self.models.contains_key(**m)).map(|m| Row::Model(m.to_string())));
        rows.extend(self.models.keys().filter(|m| !MODELS.contains(&m.as_str())).map(|m| Row::Model(m.clone())));
        rows.push(Row::Worst);
        rows
    }

    /// Runs (seeds) of a row: the model's tables, 1 for a baseline.
    fn seeds(&self, row: &Row) -> usize {
        match row {
            Row::Model(m) => self.models[m].len(),
            _ => 1,
        }
    }

    /// The row's predicted centroid of the combination `targets` (empty = the control) for
    /// run `seed`; `observed` is the observed centroid of a double (only `best-single` looks).
    /// `None` when the row cannot predict it.
    fn predict(
        &self,
        row: &Row,
        seed: usize,
        targets: &[String],
        observed: Option<ArrayView1<f64>>,
    ) -> Option<Array1<f64>> {
        match row {
            Row::Perfect => None,
            Row::Worst => Some(self.control.clone()),
            Row::Mean if targets.is_empty() => Some(self.control.clone()),
            Row::Mean => Some(self.mean.clone()),
            Row::Additive => targets
                .iter()
                .try_fold(self.control.clone(), |acc, t| self.singles.get(t).map(|s| acc + s - &self.control)),
            Row::BestSingle => match (targets, observed) {
                ([], _) => Some(self.control.clone()),
                ([t], _) => self.singles.get(t).cloned(),
                ([a, b], Some(obs)) => {
                    let (sa, sb) = (self.singles.get(a)?, self.singles.get(b)?);
                    let da = centroid_distance(sa.view(), obs).ok()?;
                    let db = centroid_distance(sb.view(), obs).ok()?;
                    Some(if db < da { sb.clone() } else { sa.clone() })
                }
                _ => None,
            },
            Row::Linear => {
                let (model, index) = &self.linear;
                let genes: Option<Vec<usize>> = targets.iter().map(|t| index.get(t).copied()).collect();
                Some(model.predict(&genes?))
            }
            Row::Model(m) => {
                let key = if targets.is_empty() { CONTROL_PREDICTION.to_string() } else { condition_name(targets) };
                self.models[m][seed].get(&key).cloned()
            }
        }
    }

    /// `‖pred(A+B) − pred(A) − pred(B) + pred(∅)‖₂`; NaN when the row cannot predict one of them.
    fn additivity_gap(&self, row: &Row, seed: usize, targets: &[String], observed: ArrayView1<f64>) -> f64 {
        let gap = || -> Option<f64> {
            let both = self.predict(row, seed, targets, Some(observed))?;
            let none = self.predict(row, seed, &[], None)?;
            let mut v = both + none;
            for t in targets {
                v -= &self.predict(row, seed, std::slice::from_ref(t), None)?;
            }
            Some(v.dot(&v).sqrt())
        };
        gap().unwrap_or(f64::NAN)
    }

    /// Mean over runs of the mean distance between the row's prediction and the observed
    /// centroid of each training single it predicts; NaN when it predicts none.
    fn singles_error(&self, row: &Row) -> f64 {
        let runs: Vec<f64> = (0..self.seeds(row))
            .map(|k| {
                let d: Vec<f64> = self
                    .singles
                    .iter()
                    .filter_map(|(t, obs)| {
                        let pred = self.predict(row, k, std::slice::from_ref(t), None)?;
                        centroid_distance(pred.view(), obs.view()).ok()
                    })
                    .collect();
                mean_finite(&d)
            })
            .collect();
        mean_finite(&runs)
    }

    /// A note when `row` is a model whose predictions equal those of an earlier model.
    fn same_as(&self, row: &Row, rows: &[Row]) -> Option<String> {
        let Row::Model(m) = row else { return None };
        let earlier = rows.iter().take_while(|r| *r != row).find_map(|r| match r {
            Row::Model(o) if self.models[o] == self.models[m] => Some(o.clone()),
            _ => None,
        })?;
        let why = if (earlier.as_str(), m.as_str()) == ("id-vae", "d-vae") {
            ": id-VAE's d = k + 1 equals d-VAE's d = the number of training targets"
        } else {
            ""
        };
        Some(format!("identical predictions to `{earlier}`, the same model{why}"))
    }
}

/// Mean of the finite values; NaN when there are none.
fn mean_finite(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() { f64::NAN } else { f.iter().sum::<f64>() / f.len() as f64 }
}

/// Seed-averaged metrics per row and condition, and the per-seed AECD of each row.
struct Summary {
    /// `[row][condition]`: metrics averaged over the runs that predicted the condition.
    metrics: Vec<Vec<[f64; 5]>>,
    /// `[row][condition]`: the additivity gap averaged over runs.
    gaps: Vec<Vec<f64>>,
    /// `[row]`: the AECD of each run.
    run_aecd: Vec<Vec<f64>>,
    /// `[row]`: runs.
    seeds: Vec<usize>,
}

impl Summary {
    fn new(rows: &[Row], scores: &[Vec<Vec<Option<Scores>>>], gaps: &[Vec<Vec<f64>>]) -> Self {
        let mut metrics = Vec::new();
        let mut run_aecd = Vec::new();
        let mut seeds = Vec::new();
        for per_condition in scores.iter().take(rows.len()) {
            let runs = per_condition.first().map_or(0, Vec::len);
            let m: Vec<[f64; 5]> = per_condition
                .iter()
                .map(|runs| {
                    let arrays: Vec<[f64; 5]> = runs.iter().flatten().map(|s| s.to_array()).collect();
                    std::array::from_fn(|j| mean_finite(&arrays.iter().map(|a| a[j]).collect::<Vec<_>>()))
                })
                .collect();
            let per_run: Vec<f64> = (0..runs)
                .map(|k| {
                    let d: Vec<f64> = per_condition.iter().map(|r| r[k].map_or(f64::NAN, |s| s.distance)).collect();
                    mean_finite(&d)
                })
                .collect();
            metrics.push(m);
            run_aecd.push(per_run);
            seeds.push(runs);
        }
        let gaps = gaps.iter().map(|row| row.iter().map(|g| mean_finite(g)).collect()).collect();
        Summary { metrics, gaps, run_aecd, seeds }
    }

    /// The seed-averaged distances of row `r`, one per condition.
    fn distances(&self, r: usize) -> Vec<f64> {
        self.metrics[r].iter().map(|m| m[0]).collect()
    }
}

/// Paired Wilcoxon of two rows over the conditions where both are finite: `(n, W, p)`.
fn paired(a: &[f64], b: &[f64]) -> (usize, f64, f64) {
    let (x, y): (Vec<f64>, Vec<f64>) =
        a.iter().zip(b).filter(|(x, y)| x.is_finite() && y.is_finite()).map(|(x, y)| (*x, *y)).unzip();
    match paired_wilcoxon(&x, &y) {
        Ok(w) => (x.len(), w.statistic, w.p),
        Err(_) => (x.len(), f64::NAN, f64::NAN),
    }
}

fn table_one(
    reference: &str,
    predictors: &Predictors,
    rows: &[Row],
    s: &Summary,
    conditions: &[String],
    splits: usize,
) -> Result<Table, NodeError> {
    let ref_index = rows.iter().position(|r| r.name() == reference);
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); METRICS.len()];
    let (mut se, mut p_value, mut n, mut n_seeds, mut seed_sd, mut singles, mut gap, mut note) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (r, row) in rows.iter().enumerate() {
        let d: Vec<f64> = s.distances(r).into_iter().filter(|v| v.is_finite()).collect();
        let (_, e) = if d.is_empty() { (f64::NAN, f64::NAN) } else { mean_se(&d)? };
        for (j, col) in cols.iter_mut().enumerate() {
            col.push(mean_finite(&s.metrics[r].iter().map(|m| m[j]).collect::<Vec<_>>()));
        }
        se.push(e);
        p_value.push(match ref_index {
            Some(k) if k != r => paired(&s.distances(r), &s.distances(k)).2,
            _ => f64::NAN,
        });
        n.push(d.len() as i64);
        n_seeds.push(s.seeds[r] as i64);
        seed_sd.push(sample_sd(&s.run_aecd[r]));
        singles.push(if *row == Row::Perfect { f64::NAN } else { predictors.singles_error(row) });
        gap.push(mean_finite(&s.gaps[r]));
        note.push(row_note(row, predictors, rows, conditions.len(), splits));
    }
    let mut b = TableBuilder::new().str("model", rows.iter().map(|r| r.name().to_string()).collect());
    b = b
        .f64("aecd", cols[0].clone())
        .f64("se", se)
        .f64("p_value", p_value)
        .i64("n_conditions", n)
        .i64("n_seeds", n_seeds);
    for (name, col) in METRICS.iter().zip(cols).skip(1) {
        b = b.f64(name, col);
    }
    Ok(b.f64("seed_sd", seed_sd).f64("singles_error", singles).f64("additivity_gap", gap).str("note", note).build()?)
}

/// Sample standard deviation (ddof 1) of the finite values; NaN with fewer than 2.
fn sample_sd(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.len() < 2 {
        return f64::NAN;
    }
    let m = f.iter().sum::<f64>() / f.len() as f64;
    (f.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (f.len() - 1) as f64).sqrt()
}

fn row_note(row: &Row, predictors: &Predictors, rows: &[Row], conditions: usize, splits: usize) -> String {
    match row {
        Row::Perfect => format!(
            "reference: half of each double's observed cells predicts the other half, {splits} random splits \
             ({conditions} doubles)"
        ),
        Row::Additive => "control + (A − control) + (B − control), observed training singles".into(),
        Row::Mean => format!("mean centroid of the {} training singles", predictors.singles.len()),
        Row::BestSingle => "oracle bound, not a predictor: the observed single (A or B) closer to the double".into(),
        Row::Linear => format!(
            "Ahlmann-Eltze et al. 2025: PCA({LINEAR_DIM}) gene embedding of the training pseudo-bulk, ridge \
             {LINEAR_RIDGE}, a double's embedding the sum of its targets'"
        ),
        Row::Model(_) => predictors.same_as(row, rows).unwrap_or_default(),
        Row::Worst => "reference: the control centroid (no change)".into(),
    }
}

fn per_condition_tables(
    rows: &[Row],
    s: &Summary,
    conditions: &[String],
    by_condition: &BTreeMap<String, Vec<usize>>,
) -> Result<(Table, Table), NodeError> {
    let (mut model, mut cond, mut n_cells, mut n_seeds, mut gap) = (vec![], vec![], vec![], vec![], vec![]);
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); METRICS.len()];
    for (r, row) in rows.iter().enumerate() {
        for (i, c) in conditions.iter().enumerate() {
            model.push(row.name().to_string());
            cond.push(c.clone());
            n_cells.push(by_condition[c].len() as i64);
            n_seeds.push(s.seeds[r] as i64);
            gap.push(s.gaps[r][i]);
            for (j, col) in cols.iter_mut().enumerate() {
                col.push(s.metrics[r][i][j]);
            }
        }
    }
    let distances =
        TableBuilder::new().str("model", model.clone()).str("condition", cond.clone()).f64("distance", cols[0].clone());
    let mut b =
        TableBuilder::new().str("model", model).str("condition", cond).i64("n_cells", n_cells).i64("n_seeds", n_seeds);
    for (name, col) in METRICS.iter().zip(cols) {
        b = b.f64(name, col);
    }
    Ok((b.f64("additivity_gap", gap).build()?, distances.build()?))
}

fn pairs_table(rows: &[Row], s: &Summary) -> Result<Table, NodeError> {
    let (mut a, mut b, mut n, mut w, mut p) = (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let (k, stat, pv) = paired(&s.distances(i), &s.distances(j));
            a.push(rows[i].name().to_string());
            b.push(rows[j].name().to_string());
            n.push(k as i64);
            w.push(stat);
            p.push(pv);
        }
    }
    Ok(TableBuilder::new()
        .str("model_a", a)
        .str("model_b", b)
        .i64("n", n)
        .f64("statistic", w)
        .f64("p_value", p)
        .build()?)
}

/// The predictions on `predictions`, by row name: the table's `model`, or `model:node` for the
/// tables of a model that also comes from an earlier producer node on the port (an ablation
/// such as `gcrl-vae` with `align_weight: 0` beside the plain one).
fn read_predictions(inputs: &Inputs, genes: &[String]) -> Result<Predictions, NodeError> {
    let mut out: Predictions = BTreeMap::new();
    // model → the first node that produced it.
    let mut first: HashMap<String, String> = HashMap::new();
    for input in inputs.all("predictions") {
        let crate::kind::Input::Table { table, origin, .. } = input else {
            return Err(NodeError::Input("input `predictions` must come from vae-train nodes, not a file".into()));
        };
        let cols: Vec<String> = table.column_names().into_iter().filter(|c| !META.contains(&c.as_str())).collect();
        if cols.as_slice() != genes {
            return Err(NodeError::Input(
                "input `predictions` is not in the gene space of `expression`; train on the same expression".into(),
            ));
        }
        let model = table.str_column("model")?;
        let Some(name) = model.first() else { continue };
        let node = origin.as_ref().map(|o| o.node.clone()).unwrap_or_default();
        let label = match first.get(name) {
            Some(n) if *n != node => format!("{name}:{node}"),
            Some(_) => name.clone(),
            None => {
                first.insert(name.clone(), node);
                name.clone()
            }
        };
        let conditions = table.str_column("condition")?;
        let mut values = Array2::<f64>::zeros((conditions.len(), genes.len()));
        for (j, g) in genes.iter().enumerate() {
            values.column_mut(j).iter_mut().zip(table.f64_column(g)?).for_each(|(v, x)| *v = x);
        }
        let map = conditions.into_iter().zip(values.rows()).map(|(c, r)| (c, r.to_owned())).collect();
        out.entry(label).or_default().push(map);
    }
    if out.is_empty() {
        return Err(NodeError::Input("input `predictions` holds no predictions".into()));
    }
    Ok(out)
}

/// Held-out doubles with fewer observed cells than `min_cells`: `(condition, cells)`.
type Dropped = Vec<(String, usize)>;

/// The held-out doubles: the `conditions` list, or (`None`) every observed double predicted by
/// every model and `in_scope` (both targets community TFs when `communities` is connected);
/// those with fewer than `min_cells` cells are returned apart.
fn held_out(
    conditions: Option<&[String]>,
    in_scope: &dyn Fn(&str) -> bool,
    doubles: &BTreeMap<&str, usize>,
    predictions: &Predictions,
    min_cells: usize,
) -> Result<(Vec<String>, Dropped), NodeError> {
    let predicted_by_all = |c: &str| predictions.values().flatten().all(|m| m.contains_key(c));
    let conditions: Vec<String> = if let Some(listed) = conditions {
        let mut list = Vec::new();
        for c in listed {
            let mut parts: Vec<String> = c.split('+').map(|s| s.trim().to_string()).collect();
            parts.sort();
            let name = condition_name(&parts);
            if !doubles.contains_key(name.as_str()) {
                return Err(NodeError::Input(format!("held-out condition `{c}` has no double-perturbation cells")));
            }
            if !predicted_by_all(&name) {
                return Err(NodeError::Input(format!("held-out condition `{c}` is not predicted by every model")));
            }
            list.push(name);
        }
        list
    } else {
        doubles.keys().filter(|c| in_scope(c) && predicted_by_all(c)).map(|c| c.to_string()).collect()
    };
    if conditions.is_empty() {
        return Err(NodeError::Input(
            "no held-out double perturbation is observed and predicted by every model".into(),
        ));
    }
    let (kept, dropped): (Vec<String>, Vec<String>) =
        conditions.into_iter().partition(|c| doubles[c.as_str()] >= min_cells);
    let dropped: Dropped = dropped.into_iter().map(|c| (c.clone(), doubles[c.as_str()])).collect();
    if kept.is_empty() {
        let list: Vec<String> = dropped.iter().map(|(c, n)| format!("{c} ({n} cells)")).collect();
        return Err(NodeError::Input(format!(
            "every held-out double has fewer than min_cells = {min_cells} cells: {}; lower `min_cells`",
            list.join(", ")
        )));
    }
    Ok((kept, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Input;
    use crate::table::{Matrix, Table};

    /// Controls, singles A, B, C and doubles A+B, A+C in three genes (named after the targets),
    /// 4 cells each around the group's centre.
    fn fixture() -> (Table, Table) {
        let groups: [(&[&str], [f64; 3]); 6] = [
            (&[], [0.0, 0.0, 0.0]),
            (&["A"], [1.0, 0.0, 0.5]),
            (&["B"], [0.0, 2.0, 0.0]),
            (&["C"], [2.0, 1.0, 1.0]),
            (&["A", "B"], [1.0, 2.0, 1.0]),
            (&["A", "C"], [3.0, 2.0, 0.0]),
        ];
        let jitter = [-0.1, 0.1, -0.2, 0.2];
        let (mut names, mut values, mut targets) = (vec![], vec![], vec![]);
        for (g, (t, centre)) in groups.iter().enumerate() {
            for (k, j) in jitter.iter().enumerate() {
                names.push(format!("c{g}_{k}"));
                values.extend((0..3).map(|gene| centre[gene] + j * (1 + (gene + k) % 3) as f64));
                targets.push(t.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            }
        }
        let n = names.len();
        let expr = Matrix {
            rows: names.clone(),
            cols: vec!["A".into(), "B".into(), "C".into()],
            data: Array2::from_shape_vec((n, 3), values).unwrap(),
        };
        (expr.to_table("cell", true).unwrap(), super::super::common::cells_table(names, &targets).unwrap())
    }

    fn prediction(model: &str, rows: &[(&str, [f64; 3])]) -> Input {
        from_node(model, "vae", rows)
    }

    fn from_node(model: &str, node: &str, rows: &[(&str, [f64; 3])]) -> Input {
        let t = TableBuilder::new()
            .str("condition", rows.iter().map(|r| r.0.to_string()).collect())
            .str("model", vec![model.into(); rows.len()])
            .i64("n_cells", vec![4; rows.len()])
            .f32("A", rows.iter().map(|r| r.1[0] as f32).collect())
            .f32("B", rows.iter().map(|r| r.1[1] as f32).collect())
            .f32("C", rows.iter().map(|r| r.1[2] as f32).collect())
            .build()
            .unwrap();
        let origin = crate::kind::Origin {
            node: node.into(),
            output: "predictions".into(),
            kind: "vae-train".into(),
            instance: BTreeMap::new(),
        };
        Input::Table { table: t, instance: BTreeMap::new(), hash: String::new(), origin: Some(origin) }
    }

    fn given(table: Table) -> Input {
        Input::Table { table, instance: BTreeMap::new(), hash: String::new(), origin: None }
    }

    fn run(predictions: Vec<Input>, set: &[(&str, serde_json::Value)]) -> Result<Outputs, NodeError> {
        let (expr, cells) = fixture();
        let mut ports = BTreeMap::new();
        ports.insert("expression".to_string(), vec![given(expr)]);
        ports.insert("cells".to_string(), vec![given(cells)]);
        ports.insert("predictions".to_string(), predictions);
        let inputs = Inputs::new(ports, vec![]);
        let mut params = Params::default();
        for s in BaselineEval.params() {
            params.set(s.name, s.default.clone().unwrap());
        }
        for (k, v) in set {
            params.set(k, v.clone());
        }
        let ctx = RunContext::new("t", 1, vec![]);
        BaselineEval.run(&params, &inputs, &ctx)
    }

    fn approx(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6 * (1.0 + b.abs())
    }

    /// A centroid of the fixture's cells with `want` targets.
    fn observed(want: &[&str]) -> [f64; 3] {
        let (expr, cells) = fixture();
        let m = Matrix::from_table(&expr).unwrap();
        let targets = cell_targets(&cells).unwrap();
        let rows: Vec<usize> = (0..targets.len()).filter(|&i| targets[i] == want).collect();
        let c = centroid(m.data.select(ndarray::Axis(0), &rows).view()).unwrap();
        [c[0], c[1], c[2]]
    }

    fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
        a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn table_one_by_hand() {
        let seeds = vec![
            prediction(
                "gcrl-vae",
                &[("ctrl", [0.0; 3]), ("A", [1.0, 0.0, 0.0]), ("A+B", [2.0, 2.0, 1.0]), ("A+C", [3.0, 2.0, 0.0])],
            ),
            prediction("d-vae", &[("ctrl", [0.0; 3]), ("A+B", [1.0, 2.0, 1.0]), ("A+C", [3.0, 2.0, 0.5])]),
            prediction("d-vae", &[("ctrl", [0.0; 3]), ("A+B", [1.0, 4.0, 1.0]), ("A+C", [3.0, 2.0, 0.5])]),
        ];
        let out = run(seeds, &[("min_cells", json!(4))]).unwrap();
        let t = &out["table"];
        let models = t.str_column("model").unwrap();
        assert_eq!(models, ["perfect", "additive", "mean", "best-single", "linear", "gcrl-vae", "d-vae", "worst-case"]);
        let col = |name: &str| t.f64_column(name).unwrap();
        assert_eq!(col("n_seeds"), vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0]);
        assert!(col("n_conditions").iter().all(|&n| n == 2.0));
        let (ctrl, a, b, c) = (observed(&[]), observed(&["A"]), observed(&["B"]), observed(&["C"]));
        let (ab, ac) = (observed(&["A", "B"]), observed(&["A", "C"]));
        let aecd = col("aecd");
        let add = |x: [f64; 3], y: [f64; 3]| -> [f64; 3] { std::array::from_fn(|g| x[g] + y[g] - ctrl[g]) };
        assert!(approx(aecd[1], (dist(add(a, b), ab) + dist(add(a, c), ac)) / 2.0), "{aecd:?}");
        let mean: [f64; 3] = std::array::from_fn(|g| (a[g] + b[g] + c[g]) / 3.0);
        assert!(approx(aecd[2], (dist(mean, ab) + dist(mean, ac)) / 2.0));
        let best = |d: [f64; 3], x: [f64; 3], y: [f64; 3]| dist(x, d).min(dist(y, d));
        assert!(approx(aecd[3], (best(ab, a, b) + best(ac, a, c)) / 2.0));
        assert!(approx(aecd[5], (dist([2.0, 2.0, 1.0], ab) + dist([3.0, 2.0, 0.0], ac)) / 2.0));
        // d-vae: the two seeds averaged per condition, then over conditions.
        let runs = [
            (dist([1.0, 2.0, 1.0], ab) + dist([3.0, 2.0, 0.5], ac)) / 2.0,
            (dist([1.0, 4.0, 1.0], ab) + dist([3.0, 2.0, 0.5], ac)) / 2.0,
        ];
        assert!(approx(aecd[6], (runs[0] + runs[1]) / 2.0));
        assert!(approx(aecd[7], (dist(ctrl, ab) + dist(ctrl, ac)) / 2.0));
        let sd = col("seed_sd");
        assert!(approx(sd[6], (runs[0] - runs[1]).abs() / 2f64.sqrt()));
        assert!(sd[5].is_nan());
        // Additive, linear and worst-case compose exactly (mean's gap is ‖control − mean‖);
        // gcrl-vae predicts no B or C.
        let gap = col("additivity_gap");
        assert!(gap[1].abs() < 1e-9 && gap[4].abs() < 1e-9 && gap[7].abs() < 1e-12, "{gap:?}");
        assert!(gap[5].is_nan());
        // In-sample singles: the model predicts A only; additive reproduces the singles.
        let singles = col("singles_error");
        assert!(singles[1].abs() < 1e-12);
        assert!(approx(singles[5], dist([1.0, 0.0, 0.0], a)));
        assert!(singles[6].is_nan());
        // Worst-case predicts no change: its Pearson is undefined; additive's is defined.
        assert!(col("pearson_delta")[7].is_nan());
        assert!(col("pearson_delta")[1].is_finite());
        assert!(col("p_value")[5].is_nan(), "no test of the reference against itself");
        assert!(t.str_column("note").unwrap()[3].contains("oracle"));
        assert_eq!(out["per_condition"].n_rows(), 16);
        assert_eq!(out["pairs"].n_rows(), 28);
        assert_eq!(out["dropped"].n_rows(), 0);
    }

    #[test]
    fn identical_models_are_named_and_small_doubles_dropped() {
        let rows = [
            ("ctrl", [0.0; 3]),
            ("A", [1.0, 0.0, 0.0]),
            ("B", [0.0, 2.0, 0.0]),
            ("A+B", [1.0, 2.0, 0.0]),
            ("A+C", [3.0, 2.0, 0.0]),
        ];
        let out =
            run(vec![prediction("id-vae", &rows), prediction("d-vae", &rows)], &[("min_cells", json!(4))]).unwrap();
        let notes = out["table"].str_column("note").unwrap();
        assert!(notes[6].contains("identical predictions to `id-vae`"), "{notes:?}");
        assert!(notes[5].is_empty());
        // The model composes exactly at A+B: (1,2,0) − (1,0,0) − (0,2,0) + 0 = 0.
        let per = &out["per_condition"];
        let (m, c) = (per.str_column("model").unwrap(), per.str_column("condition").unwrap());
        let g = per.f64_column("additivity_gap").unwrap();
        let at = (0..m.len()).find(|&i| m[i] == "id-vae" && c[i] == "A+B").unwrap();
        assert!(g[at].abs() < 1e-6);
        let err = run(vec![prediction("id-vae", &rows)], &[("min_cells", json!(5))]).unwrap_err().to_string();
        assert!(err.contains("A+B (4 cells)") && err.contains("min_cells = 5"), "{err}");
        // The same model from a second node (an ablation) is a row of its own.
        let two = vec![prediction("gcrl-vae", &rows), from_node("gcrl-vae", "no-align", &rows)];
        let out = run(two, &[("min_cells", json!(4))]).unwrap();
        let names = out["table"].str_column("model").unwrap();
        assert_eq!(&names[5..7], ["gcrl-vae", "gcrl-vae:no-align"]);
        assert_eq!(out["table"].f64_column("n_seeds").unwrap()[5], 1.0);
    }
}
