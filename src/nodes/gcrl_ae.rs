//! What `ae-train` and `permutation-test` share (method.md §6): which cells the autoencoder sees,
//! its TF inputs and gene targets z-scored with training statistics, its params, one training
//! (split → train → encode) and the eigengenes of a labelling of its TFs (the global one over
//! every TF, A.3).

use std::collections::{BTreeMap, HashMap, HashSet};

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::common::{
    FIT_CELLS, assigned_gpu, cell_targets, dense_columns, extra_tf_columns, fitting_rows, train_on_error,
    train_on_param,
};
use super::declare::{kind_params, ports};
use crate::algo::eigengene::{EigengeneModel, Pca, fit_eigengenes};
use crate::algo::random::split_rows;
use crate::kind::{Inputs, NodeError, ParamSpec, ParamType, PortSpec, RunContext};
use crate::models::ae::{AeConfig, TrainedAe, train};
use crate::table::{Communities, Edges, SparseMatrix, Table};

/// Random-stream of the train/validation split (the weights use stream 0 of the same seed).
const STREAM_SPLIT: u64 = 1;

/// The input ports of the kinds that train the autoencoder.
pub fn ae_ports() -> Vec<PortSpec> {
    ports![
        expression: "cells × genes, log-normalised (e.g. preprocess.expression)",
        communities: "tf, community (e.g. leiden-sweep.consensus)",
        cells?: "cell table with targets: trains on controls + singles (see `train_on`)",
        grn?: "edge table whose genes are the decoder's targets (default: every gene)",
    ]
}

kind_params! {
    /// The params `ae-train` and `permutation-test` share, with the paper's defaults (method.md
    /// §6.1): the autoencoder's training and the cells it and the eigengenes see. A
    /// permutation-test run is keyed by them.
    pub struct AeParams {
        epochs: usize = ParamSpec::new(ParamType::positive(), json!(100), "passes over the training cells"),
        batch: usize = ParamSpec::new(ParamType::positive(), json!(1024), "cells per Adam step"),
        lr: f64 = ParamSpec::new(ParamType::Float { min: Some(0.0), max: None }, json!(1e-3), "Adam step size"),
        hidden: usize = ParamSpec::new(ParamType::positive(), json!(64), "encoder hidden width"),
        validation: f64 = ParamSpec::new(
            ParamType::Float { min: Some(0.0), max: Some(0.9) },
            json!(0.1),
            "fraction of cells held out to choose the epoch and score T-MEX",
        ),
        cells: String = ParamSpec::new(
            ParamType::Choice(FIT_CELLS),
            json!("training"),
            "cells (with `cells`) the eigengenes are fitted on: training = controls + singles",
        ),
        train_on: String = train_on_param(),
    }
}

/// The `gpu` param of the autoencoder kinds.
pub fn gpu_param(name: &'static str) -> ParamSpec {
    ParamSpec::new(name, ParamType::Bool, json!(false), "train on a GPU slot (needs the `cuda` build)")
}

/// The autoencoder settings of `p` for latent dimension `latent` and seed `seed`, on the GPU
/// the task was given when `gpu`.
pub fn config(p: &AeParams, gpu: bool, latent: usize, seed: u64, ctx: &RunContext) -> Result<AeConfig, NodeError> {
    Ok(AeConfig {
        latent,
        hidden: p.hidden,
        epochs: p.epochs,
        batch: p.batch,
        lr: p.lr,
        seed,
        gpu: assigned_gpu(gpu, ctx)?,
    })
}

/// The data of the gCRL-AE steps, read once from the inputs.
pub struct AeData {
    /// Every cell of the expression, in order.
    pub cells: Vec<String>,
    /// Rows the autoencoder trains and validates on.
    pub used: Vec<usize>,
    /// Rows the eigengenes are fitted on.
    pub fit_rows: Vec<usize>,
    /// Community TFs, the encoder's inputs in this order.
    pub tfs: Vec<String>,
    /// Community index (0-based, in ascending id order) of each TF.
    pub labels: Vec<usize>,
    /// Community ids in ascending order.
    pub community_ids: Vec<i64>,
    /// Log expression of the TFs, all cells × TFs.
    pub tf_log: Array2<f64>,
    /// The other TFs of input `tfs` in the expression: not encoded, but spanned by the global
    /// eigengene (A.3); none without that input.
    pub other_tfs: Vec<String>,
    /// Their log expression, all cells × other TFs.
    pub other_tf_log: Array2<f64>,
    /// Decoder target genes.
    pub genes: Vec<String>,
    /// Log expression of the target genes, all cells × genes.
    pub targets: Array2<f32>,
}

impl AeData {
    /// Reads expression, communities, cells and the optional GRN, choosing cells by `p.cells`
    /// (the eigengenes' fit) and `p.train_on` (the autoencoder's).
    pub fn load(inputs: &Inputs, p: &AeParams) -> Result<AeData, NodeError> {
        let expr = SparseMatrix::from_table(&inputs.table("expression")?)?;
        let comm = Communities::from_table(&inputs.table("communities")?)?;
        let index: HashMap<&str, usize> = expr.cols.iter().enumerate().map(|(i, g)| (g.as_str(), i)).collect();
        let community_ids = comm.ids();
        let (mut tfs, mut tf_cols, mut labels, mut missing) = (vec![], vec![], vec![], vec![]);
        for (tf, id) in comm.rows() {
            match index.get(tf) {
                Some(&c) => {
                    tfs.push(tf.to_string());
                    tf_cols.push(c);
                    labels.push(community_ids.binary_search(&id).unwrap_or_default());
                }
                None => missing.push(tf),
            }
        }
        if !missing.is_empty() {
            return Err(NodeError::Input(format!(
                "{} community TFs are not in the expression matrix (first: {}); keep them in preprocess (input `tfs`)",
                missing.len(),
                missing[0]
            )));
        }
        if community_ids.len() < 2 {
            return Err(NodeError::Input(format!(
                "`communities` holds {} community; the autoencoder needs at least 2",
                community_ids.len()
            )));
        }
        let gene_cols: Vec<usize> = match inputs.opt_table("grn")? {
            Some(grn) => {
                let wanted: HashSet<String> =
                    Edges::from_table(&grn)?.0.into_iter().flat_map(|(s, t, _)| [s, t]).collect();
                (0..expr.cols.len()).filter(|&c| wanted.contains(&expr.cols[c])).collect()
            }
            None => (0..expr.cols.len()).collect(),
        };
        if gene_cols.is_empty() {
            return Err(NodeError::Input("no gene of `grn` is in the expression matrix; check gene names".into()));
        }
        let other_cols = extra_tf_columns(&index, inputs.opt_table("tfs")?.as_ref(), &tf_cols)?;
        let cells_table = inputs.opt_table("cells")?;
        let all_rows: Vec<usize> = (0..expr.rows.len()).collect();
        let fit_rows = fitting_rows(cells_table.as_ref(), &expr.rows, &p.cells)?;
        let used = training_cells(cells_table.as_ref(), &tfs, expr.rows.len(), &p.train_on)?;
        Ok(AeData {
            tf_log: dense_columns(&expr, &all_rows, &tf_cols)?,
            other_tf_log: dense_columns(&expr, &all_rows, &other_cols)?,
            other_tfs: other_cols.iter().map(|&c| expr.cols[c].clone()).collect(),
            targets: expr.csr.select_cols(&gene_cols).map_err(NodeError::from)?.to_dense(),
            genes: gene_cols.iter().map(|&c| expr.cols[c].clone()).collect(),
            cells: expr.rows,
            used,
            fit_rows,
            tfs,
            labels,
            community_ids,
        })
    }

    /// Number of communities `k`; the latent has `k + 1` dimensions.
    pub fn k(&self) -> usize {
        self.community_ids.len()
    }

    /// The train/validation split of the used rows for `seed` (indices into `used`).
    pub fn split(&self, validation: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(STREAM_SPLIT);
        split_rows(self.used.len(), validation, &mut rng)
    }

    /// Log expression of every TF (the community TFs, then the others) at `rows`.
    pub fn all_tf_log(&self, rows: &[usize]) -> Array2<f64> {
        let (tf, other) = (self.tf_log.select(Axis(0), rows), self.other_tf_log.select(Axis(0), rows));
        ndarray::concatenate![Axis(1), tf, other]
    }

    /// Names of every TF, in the order of [`AeData::all_tf_log`].
    pub fn all_tfs(&self) -> impl Iterator<Item = &String> {
        self.tfs.iter().chain(&self.other_tfs)
    }

    /// Encoder inputs and decoder targets of the used rows, z-scored with the statistics of
    /// `train` (indices into `used`; ddof 1; a constant column becomes 0).
    pub fn scaled(&self, train: &[usize]) -> (Array2<f32>, Array2<f32>) {
        let x = self.tf_log.select(Axis(0), &self.used).mapv(|v| v as f32);
        let y = self.targets.select(Axis(0), &self.used);
        (zscore(x, train), zscore(y, train))
    }
}

/// Controls and single perturbations (never doubles): of a community TF with `train_on:
/// communities`, any with `all`; every cell without a cell table.
fn training_cells(cells: Option<&Table>, tfs: &[String], n: usize, train_on: &str) -> Result<Vec<usize>, NodeError> {
    let Some(cells) = cells else { return Ok((0..n).collect()) };
    let tfs: HashSet<&str> = tfs.iter().map(String::as_str).collect();
    let targets = cell_targets(cells)?;
    let single = |t: &Vec<String>| t.len() == 1 && (train_on == "all" || tfs.contains(t[0].as_str()));
    let rows: Vec<usize> = (0..targets.len()).filter(|&i| targets[i].is_empty() || single(&targets[i])).collect();
    if rows.len() < 10 {
        let controls = targets.iter().filter(|t| t.is_empty()).count();
        let singles = targets.iter().filter(|t| t.len() == 1).count();
        let of_tfs = targets.iter().filter(|t| t.len() == 1 && tfs.contains(t[0].as_str())).count();
        return Err(train_on_error("the autoencoder (at least 10 cells)", controls, singles, of_tfs, train_on));
    }
    Ok(rows)
}

/// Columns of `m` z-scored with the mean and sd (ddof 1) over `rows`.
pub fn zscore(mut m: Array2<f32>, rows: &[usize]) -> Array2<f32> {
    let n = rows.len() as f64;
    for mut col in m.columns_mut() {
        let mean = rows.iter().map(|&r| f64::from(col[r])).sum::<f64>() / n;
        let var = rows.iter().map(|&r| (f64::from(col[r]) - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let sd = var.sqrt();
        col.mapv_inplace(|v| if sd > 0.0 { ((f64::from(v) - mean) / sd) as f32 } else { 0.0 });
    }
    m
}

/// A trained autoencoder with its split.
pub struct Fitted {
    /// The model and its history.
    pub ae: TrainedAe,
    /// Training rows (indices into `used`).
    pub train: Vec<usize>,
    /// Validation rows (indices into `used`).
    pub validation: Vec<usize>,
    /// Latents of the used rows.
    pub latent: Array2<f64>,
}

/// Splits, scales and trains the autoencoder with seed `seed` (split and weights).
pub fn fit(data: &AeData, p: &AeParams, gpu: bool, seed: u64, ctx: &RunContext) -> Result<Fitted, NodeError> {
    let (train_rows, validation) = data.split(p.validation, seed);
    let (x, y) = data.scaled(&train_rows);
    let cfg = config(p, gpu, data.k() + 1, seed, ctx)?;
    let ae = train(x.view(), y.view(), &train_rows, &validation, &cfg)?;
    let latent = ae.encode(x.view())?.mapv(f64::from);
    Ok(Fitted { ae, train: train_rows, validation, latent })
}

/// The eigengenes of TF → community `labels` (communities in ascending label order, then the
/// global one over every TF of [`AeData::all_tf_log`]), fitted on the fitting rows.
pub fn eigengene_model(data: &AeData, labels: &[usize], pca: Pca) -> Result<EigengeneModel, NodeError> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (t, &l) in labels.iter().enumerate() {
        groups.entry(l).or_default().push(t);
    }
    let communities: Vec<Vec<usize>> = groups.into_values().collect();
    Ok(fit_eigengenes(data.all_tf_log(&data.fit_rows).view(), &communities, pca)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::common::cells_table;

    #[test]
    fn the_training_rule_names_itself_and_the_counts_when_no_single_targets_a_community_tf() {
        let mut targets = vec![Vec::new(); 5];
        targets.extend((0..20).map(|i| vec![format!("GENE{}", i % 4)]));
        let names = (0..targets.len()).map(|i| format!("c{i}")).collect();
        let cells = cells_table(names, &targets).unwrap();
        let tfs = vec!["TF1".to_string(), "TF2".to_string()];
        let e = training_cells(Some(&cells), &tfs, 25, "communities").unwrap_err().to_string();
        assert!(
            e.contains("`train_on: communities`")
                && e.contains("5 controls, and 0 of 20 single-perturbed cells target a community TF")
                && e.contains("use `train_on: all`"),
            "{e}"
        );
        assert_eq!(training_cells(Some(&cells), &tfs, 25, "all").unwrap().len(), 25);
    }
}
