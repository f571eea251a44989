//! `vae-train`: gCRL-VAE, id-VAE or the discrepancy-VAE (method.md §7) on the controls and
//! single perturbations of a screen, with predictions for every observed combination of seen
//! targets (see [`crate::models::vae`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::LazyLock;

use arrow_array::StringArray;
use ndarray::{Array2, Axis};
use serde_json::json;

use super::common::{assigned_gpu, cell_targets, outputs, train_on_error, train_on_param};
use super::declare::{count, kind_params, non_negative, ports};
use crate::algo::labels::condition_name;
use crate::kind::{
    Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, Resources, RunContext,
};
use crate::models::train_device;
use crate::models::vae::{Matching, Routing, Schedule, Sparsity, TrainedVae, VaeConfig, VaeData, VaeModel, train};
use crate::table::{Edges, Matrix, SparseMatrix, Table, TableBuilder};

/// The `vae-train` kind.
pub struct VaeTrain;

/// Model names as written in workflows.
pub const MODELS: &[&str] = &["gcrl-vae", "id-vae", "d-vae"];

/// The `condition` of the predictions row of no intervention (the model's control).
pub const CONTROL_PREDICTION: &str = "ctrl";

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "vae-train",
    version: 4,
    doc: "train gCRL-VAE, id-VAE or the discrepancy-VAE on controls + singles; predict combinations",
    inputs: ports![
        expression: "cells × genes, log-normalised (the evaluation gene space)",
        cells: "cell, targets, n_targets (same cells as expression)",
        communities?: "tf, community: d = k + 1 (gcrl-vae, id-vae) and routing",
        tfa?: "TF activities (eigengene.activities), gcrl-vae's alignment target",
    ],
    outputs: ports![
        model: "every weight: parameter, row, col, value",
        history: "per epoch: loss terms (unweighted; l1 and prior times their weights), weights, kept",
        latent: "cell, z_1 … z_d: posterior means of every cell",
        dag: "learned latent DAG: source, target, weight",
        assignment: "target, latent, weight, strength, via (pi:…, encoder, or encoder+prior pi:…), \
            pi_latent (gcrl-vae)",
        predictions: "condition, model, n_cells, then the predicted centroid per gene; last the `ctrl` row \
            (no intervention)",
    ],
    params: VaeParams::specs(),
});

kind_params! {
    /// Params of `vae-train`.
    pub struct VaeParams {
        model: String = ParamSpec::new(ParamType::Choice(MODELS), json!("gcrl-vae"), "which model"),
        seed: u64 = count(0, "random seed (initialisation, pairing, batches, noise)"),
        epochs: usize = ParamSpec::new(ParamType::positive(), json!(100), "training epochs T"),
        batch_size: usize = ParamSpec::new(ParamType::positive(), json!(32), "cells per single-target batch"),
        learning_rate: f64 = non_negative(1e-3, "Adam learning rate"),
        hidden: usize = ParamSpec::new(ParamType::positive(), json!(128), "hidden width of every block"),
        latent: Option<usize> = ParamSpec::new(ParamType::optional(ParamType::positive()), json!(null), "override d"),
        matching: String = ParamSpec::new(
            ParamType::Choice(&["centroid", "mmd"]),
            json!("centroid"),
            "centroid MSE (paper) or the reference's MMD",
        ),
        alpha_max: f64 = non_negative(20.0, "maximum weight α of the matching term"),
        alpha_start: usize = count(5, "first epoch of the α (and alignment) ramp"),
        alpha_end: Option<usize> = ParamSpec::new(
            ParamType::optional(ParamType::count()),
            json!(null),
            "first epoch at alpha_max; null = ⌊epochs/2⌋",
        ),
        beta_max: f64 = non_negative(2.0, "KL weight β (A.6: 2.0); the maximum with a ramp"),
        beta_start: Option<usize> = ParamSpec::new(
            ParamType::optional(ParamType::count()),
            json!(null),
            "first epoch of a β ramp to the last epoch (reference code: 10); null = constant β (A.6)",
        ),
        temp_max: f64 = ParamSpec::new(
            ParamType::Float { min: Some(1e-6), max: None },
            json!(5.0),
            "final softmax/Sinkhorn temperature (also used to predict)",
        ),
        temp_start: usize = count(5, "first epoch of the temperature ramp"),
        l1: f64 = non_negative(1e-3, "L1 coefficient λ"),
        l1_on: String = ParamSpec::new(
            ParamType::Choice(&["dag", "decoder"]),
            json!("decoder"),
            "L1 on the decoder weights (A.6, default) or the latent DAG (reference code)",
        ),
        align_weight: f64 = non_negative(1.0, "λ_MCC of gcrl-vae's alignment loss (ramped like α)"),
        mmd_sigma: f64 = non_negative(1000.0, "MMD bandwidth scale"),
        mmd_kernels: usize = ParamSpec::new(ParamType::positive(), json!(10), "MMD kernels"),
        sinkhorn_iterations: usize = count(20, "Sinkhorn normalisations of gcrl-vae's soft permutation"),
        routing: String = ParamSpec::new(
            ParamType::Choice(&["hard", "prior"]),
            json!("hard"),
            "gcrl-vae: hard = a target shifts the latent π(community), no interventional encoder (method.md §7.3); \
             prior = the encoder assigns, pulled towards π(community) by prior_weight · KL",
        ),
        prior_weight: f64 = non_negative(
            1.0,
            "weight of gcrl-vae's KL(encoder assignment ‖ π(community)) under routing: prior",
        ),
        checkpoint: String = ParamSpec::new(
            ParamType::Choice(&["best", "last"]),
            json!("best"),
            "keep the epoch with the lowest unweighted loss, or the last",
        ),
        predict: Option<Vec<String>> = ParamSpec::new(
            ParamType::optional(ParamType::StrList),
            json!(null),
            "conditions (A+B) to predict; null = every observed combination of training targets",
        ),
        predict_cells: usize = ParamSpec::new(
            ParamType::positive(),
            json!(500),
            "generated cells for a requested condition that has no observed cells",
        ),
        train_on: String = train_on_param(),
        gpu: bool = ParamSpec::new(ParamType::Bool, json!(false), "train on a GPU slot (needs the cuda feature)"),
    }
}

impl NodeKind for VaeTrain {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn resources(&self, p: &Params) -> Resources {
        Resources { gpus: usize::from(VaeParams::decode(p).is_ok_and(|p| p.gpu)), ..Default::default() }
    }
    /// [`BASE`](crate::kind::memory::BASE) plus 4.5× the inputs, as `ae-train`: a peak of 84 MiB was
    /// measured for 21.9 MiB of inputs (README, "Memory").
    fn memory(&self, _params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        inputs.times(4.5)
    }
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = VaeParams::decode(params)?;
        let model = match p.model.as_str() {
            "gcrl-vae" => VaeModel::Gcrl,
            "id-vae" => VaeModel::Informed,
            _ => VaeModel::Discrepancy,
        };
        let expr = SparseMatrix::from_table(&inputs.table("expression")?)?;
        let cells = inputs.table("cells")?;
        if cells.str_column("cell")? != expr.rows {
            return Err(NodeError::Input(
                "input `cells` does not list the cells of `expression` in the same order; connect the `cells` \
                 output of the node that produced the expression"
                    .into(),
            ));
        }
        let targets_of = cell_targets(&cells)?;
        let communities = match inputs.opt_table("communities")? {
            Some(t) => Some(Communities::new(&t)?),
            None => None,
        };
        let keep = |t: &str| match (&communities, p.train_on.as_str()) {
            (Some(c), "communities") => c.of_tf.contains_key(t),
            _ => true,
        };
        let setup = Setup::new(&targets_of, keep).map_err(|(controls, singles, kept)| {
            train_on_error(
                "vae-train",
                controls,
                singles,
                kept,
                if communities.is_some() { p.train_on.as_str() } else { "all" },
            )
        })?;
        let gcrl = match model {
            VaeModel::Gcrl => {
                let comm = communities.as_ref().ok_or_else(|| need("gcrl-vae", "communities"))?;
                let tfa = inputs.opt_table("tfa")?.ok_or_else(|| need("gcrl-vae", "tfa"))?;
                Some(GcrlInputs::new(&expr, &setup, comm, &tfa)?)
            }
            _ => None,
        };
        let latent = match (p.latent, model, &communities) {
            (Some(d), ..) => d,
            (None, VaeModel::Discrepancy, _) => setup.targets.len(),
            (None, _, Some(c)) => c.ids.len() + 1,
            (None, _, None) => return Err(need(&p.model, "communities")),
        };
        let epochs = p.epochs;
        let config = VaeConfig {
            model,
            latent,
            hidden: p.hidden,
            batch_size: p.batch_size,
            learning_rate: p.learning_rate,
            schedule: Schedule {
                epochs,
                alpha_max: p.alpha_max,
                alpha_start: p.alpha_start,
                alpha_end: p.alpha_end.unwrap_or(epochs / 2),
                beta_max: p.beta_max,
                beta_start: p.beta_start,
                temp_max: p.temp_max,
                temp_start: p.temp_start,
                align_max: if model == VaeModel::Gcrl { p.align_weight } else { 0.0 },
            },
            matching: match p.matching.as_str() {
                "mmd" => Matching::Mmd { sigma: p.mmd_sigma, kernels: p.mmd_kernels },
                _ => Matching::Centroid,
            },
            l1: p.l1,
            sparsity: if p.l1_on == "decoder" { Sparsity::Decoder } else { Sparsity::Dag },
            sinkhorn_iterations: p.sinkhorn_iterations,
            routing: match p.routing.as_str() {
                "prior" => Routing::Prior { weight: p.prior_weight },
                _ => Routing::Hard,
            },
            keep_best: p.checkpoint == "best",
            seed: p.seed,
        };
        let data = VaeData {
            genes: &expr.csr,
            tf_input: gcrl.as_ref().map(|g| g.tf_input.view()),
            tfa: gcrl.as_ref().map(|g| g.tfa.view()),
            targets: setup.targets.len(),
            routes: gcrl.as_ref().map(|g| g.routes.as_slice()),
            controls: &setup.controls,
            singles: &setup.singles,
        };
        let device = train_device(assigned_gpu(p.gpu, ctx)?)?;
        let trained = train(&config, &data, &device)?;
        let requested = setup.requested(p.predict.as_deref())?;
        Ok(outputs([
            ("model", weights_table(&trained)?),
            ("history", history_table(&trained)?),
            ("latent", latent_table(&trained, &data, &expr.rows)?),
            ("dag", dag_table(&trained)?),
            ("assignment", assignment_table(&trained, &data, &setup.targets, gcrl.as_ref(), &p.routing)?),
            ("predictions", predictions_table(&trained, &data, &setup, &requested, &p, &expr.cols)?),
        ]))
    }
}

fn need(model: &str, port: &str) -> NodeError {
    NodeError::Input(format!("model `{model}` needs input `{port}`"))
}

/// The training cells and the target list.
struct Setup {
    /// Sorted targets of the training singles.
    targets: Vec<String>,
    /// Rows of control cells.
    controls: Vec<usize>,
    /// `(row, target)` of the training singles.
    singles: Vec<(usize, usize)>,
    /// Rows of every condition with at least one target, by condition name.
    conditions: BTreeMap<String, Vec<usize>>,
}

impl Setup {
    /// `keep` says which single-perturbation targets train. Without controls or kept singles, the
    /// error is the counts `(controls, singles, kept singles)`, for the caller to explain.
    fn new(targets_of: &[Vec<String>], keep: impl Fn(&str) -> bool) -> Result<Self, (usize, usize, usize)> {
        let targets: Vec<String> = targets_of
            .iter()
            .filter(|t| t.len() == 1 && keep(&t[0]))
            .map(|t| t[0].clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index: HashMap<&str, usize> = targets.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
        let mut controls = Vec::new();
        let mut singles = Vec::new();
        let mut conditions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (row, t) in targets_of.iter().enumerate() {
            match t.len() {
                0 => controls.push(row),
                1 => singles.extend(index.get(t[0].as_str()).map(|&i| (row, i))),
                _ => {}
            }
            if !t.is_empty() {
                conditions.entry(condition_name(t)).or_default().push(row);
            }
        }
        if controls.is_empty() || singles.is_empty() {
            let all_singles = targets_of.iter().filter(|t| t.len() == 1).count();
            return Err((controls.len(), all_singles, singles.len()));
        }
        Ok(Setup { targets, controls, singles, conditions })
    }

    /// The conditions to predict, as target indices: the `predict` list, or (`None`) every
    /// observed condition whose targets were all trained on.
    fn requested(&self, predict: Option<&[String]>) -> Result<Vec<(String, Vec<usize>)>, NodeError> {
        let index: HashMap<&str, usize> = self.targets.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
        let resolve = |name: &str| -> Option<Vec<usize>> { name.split('+').map(|t| index.get(t).copied()).collect() };
        let Some(predict) = predict else {
            return Ok(self.conditions.keys().filter_map(|c| resolve(c).map(|t| (c.clone(), t))).collect());
        };
        predict
            .iter()
            .map(|c| {
                let mut parts: Vec<String> = c.split('+').map(|s| s.trim().to_string()).collect();
                parts.sort();
                let name = condition_name(&parts);
                resolve(&name).map(|t| (name.clone(), t)).ok_or_else(|| {
                    NodeError::Input(format!(
                        "cannot predict `{c}`: every target must be a training single perturbation"
                    ))
                })
            })
            .collect()
    }
}

/// TF communities, with their ids in sorted order.
struct Communities {
    ids: Vec<i64>,
    of_tf: HashMap<String, usize>,
}

impl Communities {
    fn new(t: &Table) -> Result<Self, NodeError> {
        let table = crate::table::Communities::from_table(t)?;
        let ids = table.ids();
        let of_tf = table.rows().map(|(tf, c)| (tf.to_string(), ids.binary_search(&c).unwrap_or(0))).collect();
        if ids.is_empty() {
            return Err(NodeError::Input("input `communities` is empty".into()));
        }
        Ok(Communities { ids, of_tf })
    }
}

/// gCRL-VAE's extra inputs: z-scored TF expression, TF activities in community order, routes.
struct GcrlInputs {
    tf_input: Array2<f32>,
    tfa: Array2<f32>,
    routes: Vec<usize>,
    /// Community (or `global`) that routes each target.
    route_names: Vec<String>,
}

impl GcrlInputs {
    fn new(expr: &SparseMatrix, setup: &Setup, comm: &Communities, tfa: &Table) -> Result<Self, NodeError> {
        let gene_index: HashMap<&str, usize> = expr.cols.iter().enumerate().map(|(i, g)| (g.as_str(), i)).collect();
        let mut tf_cols: Vec<usize> = comm.of_tf.keys().filter_map(|tf| gene_index.get(tf.as_str()).copied()).collect();
        tf_cols.sort_unstable();
        if tf_cols.is_empty() {
            return Err(NodeError::Input("no community TF is a column of `expression`".into()));
        }
        let sub = expr.csr.select_cols(&tf_cols)?.to_dense();
        let fit: Vec<usize> = setup.controls.iter().copied().chain(setup.singles.iter().map(|s| s.0)).collect();
        let fit_rows = sub.select(Axis(0), &fit).mapv(f64::from);
        let mean = fit_rows.mean_axis(Axis(0)).unwrap_or_default();
        let sd = fit_rows.std_axis(Axis(0), 1.0);
        let mut tf_input = sub;
        for (j, mut col) in tf_input.columns_mut().into_iter().enumerate() {
            let s = if sd[j] > 0.0 { sd[j] } else { 1.0 };
            col.mapv_inplace(|v| ((f64::from(v) - mean[j]) / s) as f32);
        }
        let m = Matrix::from_table(tfa)?;
        if m.rows != expr.rows {
            return Err(NodeError::Input(
                "input `tfa` does not list the cells of `expression` in the same order; connect the activities \
                 computed from the same expression"
                    .into(),
            ));
        }
        let mut names: Vec<String> = comm.ids.iter().map(|id| format!("community_{id}")).collect();
        names.push("global".into());
        let cols: Vec<usize> = names
            .iter()
            .map(|n| {
                m.cols.iter().position(|c| c == n).ok_or_else(|| {
                    NodeError::Input(format!(
                        "input `tfa` has no column `{n}`; connect eigengene.activities computed from the same \
                         communities"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let tfa = m.data.select(Axis(1), &cols).mapv(|v| v as f32);
        let k = comm.ids.len();
        let routes: Vec<usize> = setup.targets.iter().map(|t| comm.of_tf.get(t).copied().unwrap_or(k)).collect();
        let route_names = routes.iter().map(|&r| names[r].clone()).collect();
        Ok(GcrlInputs { tf_input, tfa, routes, route_names })
    }
}

fn latent_names(d: usize) -> Vec<String> {
    (1..=d).map(|i| format!("z_{i}")).collect()
}

fn weights_table(t: &TrainedVae) -> Result<Table, NodeError> {
    let (mut name, mut row, mut col, mut value) = (vec![], vec![], vec![], vec![]);
    for (n, m) in t.parameters()? {
        for ((i, j), &v) in m.indexed_iter() {
            name.push(n.clone());
            row.push(i as i64);
            col.push(j as i64);
            value.push(v);
        }
    }
    Ok(TableBuilder::new().str("parameter", name).i64("row", row).i64("col", col).f32("value", value).build()?)
}

fn history_table(t: &TrainedVae) -> Result<Table, NodeError> {
    let h = &t.history;
    let col = |f: fn(&crate::models::vae::EpochLog) -> f64| h.iter().map(f).collect::<Vec<f64>>();
    Ok(TableBuilder::new()
        .i64("epoch", h.iter().map(|e| e.epoch as i64).collect())
        .f64("loss", col(|e| e.loss))
        .f64("reconstruction", col(|e| e.reconstruction))
        .f64("matching", col(|e| e.matching))
        .f64("kl", col(|e| e.kl))
        .f64("l1", col(|e| e.l1))
        .f64("align", col(|e| e.align))
        .f64("prior", col(|e| e.prior))
        .f64("alpha", col(|e| e.weights.alpha))
        .f64("beta", col(|e| e.weights.beta))
        .f64("temp", col(|e| e.weights.temp))
        .f64("align_weight", col(|e| e.weights.align))
        .bool("kept", h.iter().map(|e| e.epoch == t.kept_epoch).collect())
        .build()?)
}

fn latent_table(t: &TrainedVae, data: &VaeData, cells: &[String]) -> Result<Table, NodeError> {
    let z = t.latent(data)?;
    let m = Matrix { rows: cells.to_vec(), cols: latent_names(z.ncols()), data: z.mapv(f64::from) };
    Ok(m.to_table("cell", true)?)
}

fn dag_table(t: &TrainedVae) -> Result<Table, NodeError> {
    let b = t.dag()?;
    let names = latent_names(b.nrows());
    let edges = b.indexed_iter().filter(|(_, v)| **v != 0.0);
    Ok(Edges(edges.map(|((i, j), &v)| (names[i].clone(), names[j].clone(), f64::from(v))).collect()).to_table()?)
}

fn assignment_table(
    t: &TrainedVae,
    data: &VaeData,
    targets: &[String],
    gcrl: Option<&GcrlInputs>,
    routing: &str,
) -> Result<Table, NodeError> {
    let a = t.assignment(data)?;
    let names = latent_names(t.latent_dim());
    let via: Vec<String> = match (gcrl, routing) {
        (Some(g), "hard") => g.route_names.iter().map(|r| format!("pi:{r}")).collect(),
        (Some(g), _) => g.route_names.iter().map(|r| format!("encoder+prior pi:{r}")).collect(),
        (None, _) => vec!["encoder".to_string(); a.len()],
    };
    let pi_latent: Vec<Option<String>> = a.iter().map(|x| x.pi_latent.map(|l| names[l].clone())).collect();
    Ok(TableBuilder::new()
        .str("target", a.iter().map(|x| targets[x.target].clone()).collect())
        .str("latent", a.iter().map(|x| names[x.latent].clone()).collect())
        .f64("weight", a.iter().map(|x| x.weight).collect())
        .f64("strength", a.iter().map(|x| x.strength).collect())
        .str("via", via)
        .array("pi_latent", Arc::new(StringArray::from(pi_latent)))
        .build()?)
}

fn predictions_table(
    t: &TrainedVae,
    data: &VaeData,
    setup: &Setup,
    requested: &[(String, Vec<usize>)],
    p: &VaeParams,
    genes: &[String],
) -> Result<Table, NodeError> {
    let fallback = p.predict_cells;
    // The requested conditions, then the model's control (no intervention) on its own stream.
    let control = (CONTROL_PREDICTION.to_string(), Vec::new());
    let rows: Vec<&(String, Vec<usize>)> = requested.iter().chain(std::iter::once(&control)).collect();
    let mut centroids = Array2::<f64>::zeros((rows.len(), genes.len()));
    let mut n_cells = Vec::with_capacity(rows.len());
    for (i, (name, targets)) in rows.iter().enumerate() {
        let n = if targets.is_empty() {
            setup.controls.len()
        } else {
            setup.conditions.get(name).map_or(fallback, Vec::len)
        };
        centroids.row_mut(i).assign(&t.predict(data, targets, n, i as u64)?);
        n_cells.push(n as i64);
    }
    let mut b = TableBuilder::new()
        .str("condition", rows.iter().map(|(c, _)| c.clone()).collect())
        .str("model", vec![p.model.clone(); rows.len()])
        .i64("n_cells", n_cells);
    for (j, g) in genes.iter().enumerate() {
        b = b.f32(g, centroids.column(j).iter().map(|&v| v as f32).collect());
    }
    Ok(b.build()?)
}
