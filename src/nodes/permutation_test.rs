//! `permutation-test` (method.md §6.4, issue 16): a paired permutation test of the gCRL-AE
//! alignment. The autoencoder never sees the community labels (a size-preserving permutation
//! keeps the TF set and `d`), so `seeds` autoencoder runs are trained once and the true
//! labelling and every one of `permutations` size-preserving shuffles are scored on the same
//! runs: eigengenes under the labelling, the closed-form T-MEX alignment on the run's training
//! cells, T-MEX on its validation cells.
//!
//! Each autoencoder run is a shard: it trains, encodes and keeps the centred cross-products of
//! `[TF expression | latents]` over its training and validation cells. Eigengenes are an affine
//! map of the TF expression, so the reduce step scores any labelling on any run from those
//! moments alone (`algo::tmex::Moments`), never touching the cells again. Raising `seeds`
//! trains only the new runs; changing `permutations` or `bootstrap` trains nothing.
//!
//! The summary (`algo::permutation`): the permutation p, the effect size with its bootstrap
//! interval, and the paper's one-sample t-test (`p_t`), which measures technical
//! reproducibility (seed-to-seed noise against the null mean), not significance.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde_json::json;

use super::common::{outputs, pca_param};
use super::declare::{kind_params, ports, shard_params};
use super::gcrl_ae::{AeData, AeParams, ae_ports, eigengene_model, fit, gpu_param};
use crate::algo::eigengene::Pca;
use crate::algo::permutation::{Bootstrap, paired_permutation};
use crate::algo::random::derive_seed;
use crate::algo::tmex::{Moments, fit_alignment_moments, mcc_moments, tmex_moments};
use crate::kind::params::MAX_TASKS;
use crate::kind::{
    Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, Resources, RunContext, Shard,
};
use crate::table::{Matrix, Table, TableBuilder};

/// The `permutation-test` kind.
pub struct PermutationTest;

/// Seed domains: autoencoder runs, label shuffles, the effect-size bootstrap.
const RUN: u64 = 0;
const SHUFFLE: u64 = 2;
const BOOTSTRAP: u64 = 3;

/// Coverage of the effect-size interval.
const LEVEL: f64 = 0.95;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "permutation-test",
    version: 3,
    doc: "T-MEX of the true communities vs size-preserving permutations, scored on the same autoencoder runs",
    inputs: [
        ae_ports(),
        ports![tfs?: "TF names: the global eigengene spans all of them in the expression, A.3 \
            (default: the community TFs)"],
    ]
    .concat(),
    outputs: ports![
        values: "arm (true | null), permutation (0 = the true labelling, 1..N), run, seed, tmex_train, tmex_val, mcc",
        summary: "true_mean, true_sd, null_mean, null_sd, effect_size, effect_ci_low, effect_ci_high, p_perm, \
             permutations, t, p_t (technical reproducibility), runs, bootstrap",
    ],
    params: PermutationParams::specs(),
});

kind_params! {
    /// Params of `permutation-test`.
    pub struct PermutationParams {
        #[flatten] ae: AeParams,
        pca: Pca = pca_param(),
        gpu: bool = gpu_param(),
        seeds: usize = ParamSpec::new(
            ParamType::Int { min: Some(2), max: Some(MAX_TASKS) },
            json!(100),
            "autoencoder runs; every labelling is scored on all of them",
        ),
        permutations: usize = ParamSpec::new(
            ParamType::Int { min: Some(2), max: Some(MAX_TASKS) },
            json!(1000),
            "size-preserving label permutations",
        ),
        bootstrap: usize = ParamSpec::new(
            ParamType::tasks(),
            json!(2000),
            "bootstrap replicates of the effect-size interval (runs and permutations resampled)",
        ),
        seed: u64 = ParamSpec::new(ParamType::count(), json!(0), "master seed of every run, shuffle and bootstrap"),
    }
}

shard_params! {
    /// One autoencoder run, keyed by what its training reads: the autoencoder's params, the GPU
    /// choice, the master seed and the run's index. `seeds`, `permutations`, `bootstrap` and
    /// `pca` are the reduce step's alone, so changing them trains nothing.
    struct RunShard {
        #[flatten] ae: AeParams,
        gpu: bool,
        seed: u64,
        run: usize,
    }
}

impl NodeKind for PermutationTest {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn resources(&self, p: &Params) -> Resources {
        Resources { gpus: usize::from(PermutationParams::decode(p).is_ok_and(|p| p.gpu)), ..Resources::default() }
    }
    /// [`BASE`](crate::kind::memory::BASE) plus 5× the inputs: peaks of 894–1002 MiB were measured
    /// for 221 MiB of inputs (README, "Memory").
    fn memory(&self, _params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        inputs.times(5.0)
    }
    fn shards(&self, params: &Params) -> Result<Option<Vec<Shard>>, NodeError> {
        let p = PermutationParams::decode(params)?;
        let shards = (0..p.seeds)
            .map(|run| {
                let shard = RunShard { ae: p.ae.clone(), gpu: p.gpu, seed: p.seed, run };
                Shard { label: format!("run={run}"), params: shard.params() }
            })
            .collect();
        Ok(Some(shards))
    }
    fn run_shard(&self, sp: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let RunShard { ae, gpu, seed: master, run } = RunShard::decode(sp)?;
        let data = AeData::load(inputs, &ae)?;
        let seed = derive_seed(master, &[RUN, run as u64]);
        let fitted = fit(&data, &ae, gpu, seed, ctx)?;
        let x = data.all_tf_log(&data.used);
        let train = Moments::of(x.view(), fitted.latent.view(), &fitted.train)?;
        let validation = Moments::of(x.view(), fitted.latent.view(), &fitted.validation)?;
        let names = moment_names(&data, fitted.latent.ncols());
        let runs = TableBuilder::new()
            .i64("run", vec![run as i64])
            .str("seed", vec![seed.to_string()])
            .i64("train_cells", vec![train.cells as i64])
            .i64("validation_cells", vec![validation.cells as i64])
            .build()?;
        Ok(outputs([
            ("run", runs),
            ("train", scatter_table(&train, &names)?),
            ("validation", scatter_table(&validation, &names)?),
        ]))
    }
    fn run(&self, params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = PermutationParams::decode(params)?;
        let data = AeData::load(inputs, &p.ae)?;
        let runs = inputs.shards().iter().map(|shard| RunMoments::read(shard, &data)).collect::<Result<Vec<_>, _>>()?;
        let master = p.seed;
        let labellings = labellings(&data.labels, p.permutations, master);
        let scores: Vec<Vec<RunScore>> = labellings
            .par_iter()
            .map(|labels| score_labelling(&data, labels, p.pca, &runs))
            .collect::<Result<_, _>>()?;
        let val = |l: &[RunScore]| l.iter().map(|s| s.tmex_val).collect::<Vec<f64>>();
        let null: Vec<Vec<f64>> = scores[1..].iter().map(|l| val(l)).collect();
        let bootstrap = Bootstrap { replicates: p.bootstrap, level: LEVEL, seed: derive_seed(master, &[BOOTSTRAP]) };
        let s = paired_permutation(&val(&scores[0]), &null, bootstrap)?;
        let summary = TableBuilder::new()
            .f64("true_mean", vec![s.true_mean])
            .f64("true_sd", vec![s.true_sd])
            .f64("null_mean", vec![s.null_mean])
            .f64("null_sd", vec![s.null_sd])
            .f64("effect_size", vec![s.effect_size])
            .f64("effect_ci_low", vec![s.effect_ci.0])
            .f64("effect_ci_high", vec![s.effect_ci.1])
            .f64("p_perm", vec![s.p_perm])
            .i64("permutations", vec![null.len() as i64])
            .f64("t", vec![s.t])
            .f64("p_t", vec![s.p_t])
            .i64("runs", vec![runs.len() as i64])
            .i64("bootstrap", vec![bootstrap.replicates as i64])
            .build()?;
        Ok(outputs([("values", values_table(&scores, &runs)?), ("summary", summary)]))
    }
}

/// The true labelling, then `n` size-preserving shuffles of it (shuffle `j` seeded by
/// `derive_seed(master, [SHUFFLE, j])`).
fn labellings(truth: &[usize], n: usize, master: u64) -> Vec<Vec<usize>> {
    std::iter::once(truth.to_vec())
        .chain((0..n).map(|j| {
            let mut labels = truth.to_vec();
            labels.shuffle(&mut ChaCha8Rng::seed_from_u64(derive_seed(master, &[SHUFFLE, j as u64])));
            labels
        }))
        .collect()
}

/// What one labelling scored on one autoencoder run.
#[derive(Debug, Clone, Copy)]
struct RunScore {
    /// T-MEX on the training cells (where `A` was fitted).
    tmex_train: f64,
    /// T-MEX on the validation cells.
    tmex_val: f64,
    /// MCC between activities and aligned latents on the validation cells.
    mcc: f64,
}

/// One autoencoder run as the reduce step reads it back.
struct RunMoments {
    run: i64,
    seed: String,
    train: Moments,
    validation: Moments,
}

/// Column names of a run's moments: every TF (the community TFs first), then the latents.
fn moment_names(data: &AeData, latents: usize) -> Vec<String> {
    data.all_tfs().cloned().chain((0..latents).map(|i| format!("z_hat_{i}"))).collect()
}

fn scatter_table(m: &Moments, names: &[String]) -> Result<Table, NodeError> {
    let matrix = Matrix { rows: names.to_vec(), cols: names.to_vec(), data: m.scatter.clone() };
    Ok(matrix.to_table("column", false)?)
}

impl RunMoments {
    /// Reads a shard's outputs, checking that its columns are this data's TFs.
    fn read(shard: &BTreeMap<String, Table>, data: &AeData) -> Result<RunMoments, NodeError> {
        let get =
            |name: &str| shard.get(name).ok_or_else(|| NodeError::Internal(format!("run shard without `{name}`")));
        let run = get("run")?;
        let moments = |name: &str, cells: &str| -> Result<Moments, NodeError> {
            let m = Matrix::from_table(get(name)?)?;
            let tfs = data.all_tfs().count();
            let latents = m.cols.len().saturating_sub(tfs);
            if m.cols != moment_names(data, latents) {
                return Err(NodeError::Internal("a run's moments are not over this node's TFs".into()));
            }
            Ok(Moments { cells: run.f64_column(cells)?[0] as usize, lead: tfs, scatter: m.data })
        };
        Ok(RunMoments {
            run: run.f64_column("run")?[0] as i64,
            seed: run.str_column("seed")?[0].clone(),
            train: moments("train", "train_cells")?,
            validation: moments("validation", "validation_cells")?,
        })
    }
}

/// Scores of one labelling on every run: its eigengenes (fitted once), the alignment on the
/// run's training cells, T-MEX in and out of sample and MCC on the validation cells.
fn score_labelling(data: &AeData, labels: &[usize], pca: Pca, runs: &[RunMoments]) -> Result<Vec<RunScore>, NodeError> {
    let (w, _) = eigengene_model(data, labels, pca)?.linear_map();
    runs.iter()
        .map(|r| {
            let (train, validation) = (r.train.project(w.view())?, r.validation.project(w.view())?);
            let a: Array2<f64> = fit_alignment_moments(&train)?;
            Ok(RunScore {
                tmex_train: tmex_moments(&train, a.view())?.0,
                tmex_val: tmex_moments(&validation, a.view())?.0,
                mcc: mcc_moments(&validation, a.view())?,
            })
        })
        .collect()
}

/// One row per labelling and run.
fn values_table(scores: &[Vec<RunScore>], runs: &[RunMoments]) -> Result<Table, NodeError> {
    let rows = scores.len() * runs.len();
    let (mut arm, mut permutation, mut run, mut seed) =
        (Vec::with_capacity(rows), Vec::with_capacity(rows), Vec::with_capacity(rows), Vec::with_capacity(rows));
    let (mut train, mut val, mut mcc) = (Vec::with_capacity(rows), Vec::with_capacity(rows), Vec::with_capacity(rows));
    for (j, per_run) in scores.iter().enumerate() {
        for (s, r) in per_run.iter().zip(runs) {
            arm.push(if j == 0 { "true" } else { "null" }.to_string());
            permutation.push(j as i64);
            run.push(r.run);
            seed.push(r.seed.clone());
            train.push(s.tmex_train);
            val.push(s.tmex_val);
            mcc.push(s.mcc);
        }
    }
    Ok(TableBuilder::new()
        .str("arm", arm)
        .i64("permutation", permutation)
        .i64("run", run)
        .str("seed", seed)
        .f64("tmex_train", train)
        .f64("tmex_val", val)
        .f64("mcc", mcc)
        .build()?)
}

#[cfg(test)]
mod tests {
    use ndarray::Axis;

    use super::*;
    use crate::algo::random::{normal, split_rows};
    use crate::algo::tmex::{fit_alignment, tmex};

    /// 8 TFs in two communities of 4 driven by two factors, 300 cells (all used, all fitting).
    fn data() -> AeData {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 300;
        let f = Array2::from_shape_fn((n, 2), |_| normal(&mut rng));
        let labels = vec![0, 0, 0, 0, 1, 1, 1, 1];
        let tf_log = Array2::from_shape_fn((n, 8), |(r, t)| 2.0 + f[(r, labels[t])] + 0.8 * normal(&mut rng));
        AeData {
            cells: (0..n).map(|i| format!("c{i}")).collect(),
            used: (0..n).collect(),
            fit_rows: (0..n).collect(),
            tfs: (0..8).map(|t| format!("TF{t}")).collect(),
            labels,
            community_ids: vec![1, 2],
            tf_log,
            other_tfs: Vec::new(),
            other_tf_log: Array2::zeros((n, 0)),
            genes: vec!["g".into()],
            targets: Array2::zeros((n, 1)),
        }
    }

    /// Three "runs": latents a different noisy mixing of the TF expression, a different split.
    fn runs(data: &AeData) -> Vec<(Array2<f64>, Vec<usize>, Vec<usize>)> {
        (0..3)
            .map(|r| {
                let mut rng = ChaCha8Rng::seed_from_u64(10 + r);
                let mix = Array2::from_shape_fn((8, 3), |_| normal(&mut rng));
                let z = data.tf_log.dot(&mix) + Array2::from_shape_fn((300, 3), |_| normal(&mut rng));
                let (train, val) = split_rows(300, 0.3, &mut rng);
                (z, train, val)
            })
            .collect()
    }

    #[test]
    fn the_global_eigengene_spans_the_tfs_outside_every_community() {
        let mut data = data();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        data.other_tfs = vec!["TF8".into(), "TF9".into()];
        data.other_tf_log = Array2::from_shape_fn((300, 2), |_| 1.0 + normal(&mut rng));
        let model = eigengene_model(&data, &data.labels, Pca::Covariance).unwrap();
        let (communities, global) = model.eigengenes.split_at(2);
        assert!(communities.iter().all(|e| e.tfs.iter().all(|&t| t < 8)), "communities keep their own TFs");
        assert_eq!(global[0].tfs, (0..10).collect::<Vec<_>>(), "the global one spans all 10 TFs");
        let names = moment_names(&data, 2);
        assert_eq!((names.len(), names[9].as_str(), names[10].as_str()), (12, "TF9", "z_hat_0"));
    }

    #[test]
    fn p_perm_equals_a_brute_force_count_over_the_cell_route() {
        let data = data();
        let runs = runs(&data);
        let moments: Vec<RunMoments> = runs
            .iter()
            .enumerate()
            .map(|(i, (z, train, val))| RunMoments {
                run: i as i64,
                seed: i.to_string(),
                train: Moments::of(data.tf_log.view(), z.view(), train).unwrap(),
                validation: Moments::of(data.tf_log.view(), z.view(), val).unwrap(),
            })
            .collect();
        let labellings = labellings(&data.labels, 40, 5);
        // The slow route: activities of every cell, alignment and T-MEX on the cells.
        let brute: Vec<f64> = labellings
            .iter()
            .map(|labels| {
                let tfa =
                    eigengene_model(&data, labels, Pca::Covariance).unwrap().transform(data.tf_log.view()).unwrap();
                let per_run: Vec<f64> = runs
                    .iter()
                    .map(|(z, train, val)| {
                        let a =
                            fit_alignment(z.select(Axis(0), train).view(), tfa.select(Axis(0), train).view()).unwrap();
                        tmex(z.select(Axis(0), val).view(), tfa.select(Axis(0), val).view(), a.view()).unwrap().0
                    })
                    .collect();
                per_run.iter().sum::<f64>() / 3.0
            })
            .collect();
        let fast: Vec<Vec<RunScore>> =
            labellings.iter().map(|l| score_labelling(&data, l, Pca::Covariance, &moments).unwrap()).collect();
        for (b, f) in brute.iter().zip(&fast) {
            let mean = f.iter().map(|s| s.tmex_val).sum::<f64>() / 3.0;
            assert!((b - mean).abs() < 1e-9, "{b} vs {mean}");
        }
        let count = brute[1..].iter().filter(|&&v| v >= brute[0]).count();
        let null: Vec<Vec<f64>> = fast[1..].iter().map(|l| l.iter().map(|s| s.tmex_val).collect()).collect();
        let truth: Vec<f64> = fast[0].iter().map(|s| s.tmex_val).collect();
        let boot = Bootstrap { replicates: 100, level: 0.95, seed: 1 };
        let s = paired_permutation(&truth, &null, boot).unwrap();
        assert_eq!(s.p_perm, (1 + count) as f64 / 41.0);
    }

    #[test]
    fn run_counts_beyond_a_million_are_refused_with_the_bound() {
        let specs = PermutationTest.params();
        for name in ["seeds", "permutations", "bootstrap"] {
            let spec = specs.iter().find(|s| s.name == name).unwrap();
            let err = spec.ty.check(&serde_json::json!(1_000_001)).unwrap_err();
            assert!(err.contains("1000000"), "{name}: {err}");
            assert!(spec.ty.check(&serde_json::json!(1_000_000)).is_ok(), "{name}");
        }
    }

    /// A run's shard is keyed by the checked params less those of the reduce step alone, plus
    /// its index: what it was before the params were typed, so cached runs stay valid.
    #[test]
    fn a_runs_shard_carries_the_checked_params_but_the_reduce_steps_and_its_index() {
        let mut params = Params::default();
        for s in PermutationTest.params() {
            params.set(s.name, s.ty.check(s.default.as_ref().unwrap()).unwrap());
        }
        for (name, value) in [("lr", json!(0.25)), ("gpu", json!(true)), ("seed", json!(7)), ("seeds", json!(3))] {
            params.set(name, value);
        }
        params.set("pca", json!("correlation"));
        let shards = PermutationTest.shards(&params).unwrap().unwrap();
        assert_eq!(shards.len(), 3);
        for (run, shard) in shards.iter().enumerate() {
            let mut want = params.map().clone();
            want.retain(|k, _| !["seeds", "permutations", "bootstrap", "pca"].contains(&k.as_str()));
            want.insert("run".into(), json!(run));
            assert_eq!(shard.params.canonical(), Params::from_map(want).canonical());
            assert_eq!(shard.label, format!("run={run}"));
        }
        params.set("seeds", json!("many"));
        let e = PermutationTest.shards(&params).unwrap_err().to_string();
        assert!(e.contains("param `seeds`"), "{e}");
    }

    #[test]
    fn shuffles_preserve_community_sizes_and_are_seeded() {
        let truth = vec![0, 0, 0, 1, 1, 2];
        let a = labellings(&truth, 50, 3);
        assert_eq!(a[0], truth);
        for l in &a[1..] {
            let mut sorted = l.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, truth);
        }
        assert_eq!(a, labellings(&truth, 50, 3));
        assert_ne!(a, labellings(&truth, 50, 4));
        assert!(a[1..].iter().any(|l| l != &truth));
    }
}
