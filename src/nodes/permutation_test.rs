//! `permutation-test` (method.md §6.4): T-MEX of the true TF communities over `seeds` autoencoder
//! runs, against `permutations` size-preserving shuffles of the TF → community labels (each with
//! its own eigengenes and `repeats` autoencoder runs, averaged); one-sample one-tailed t-test of
//! the true values against the null mean, the empirical permutation p and the effect size.
//!
//! Every autoencoder run is a shard, so the runs spread over cores, GPUs or a cluster and are
//! cached one by one: raising `permutations` from 100 to 200 trains only the new ones.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::common::outputs;
use super::gcrl_ae::{AeData, params, ports, run_once};
use crate::algo::random::derive_seed;
use crate::algo::stats::{Alternative, t_test_one_sample};
use crate::engine::{
    Inputs, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, PortSpec, Resources, RunContext, Shard,
};
use crate::table::TableBuilder;

/// The `permutation-test` kind.
pub struct PermutationTest;

/// Seed domains: autoencoder runs of the true arm, of the null arm, and the label shuffles.
const TRUE_ARM: u64 = 0;
const NULL_ARM: u64 = 1;
const SHUFFLE: u64 = 2;

impl NodeKind for PermutationTest {
    fn name(&self) -> &str {
        "permutation-test"
    }
    fn version(&self) -> u32 {
        2
    }
    fn doc(&self) -> &str {
        "T-MEX of the true communities vs size-preserving permuted ones; one-tailed t-test"
    }
    fn inputs(&self) -> Vec<PortSpec> {
        ports()
    }
    fn outputs(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::new("values", "arm (true | null), index, repeat, seed, tmex_train, tmex_val, mcc"),
            PortSpec::new(
                "summary",
                "true_mean, true_sd, null_mean, null_sd, t, p_t, p_empirical, effect_size, n_true, n_null",
            ),
        ]
    }
    fn params(&self) -> Vec<ParamSpec> {
        let mut p = params();
        p.extend([
            ParamSpec::new(
                "seeds",
                ParamType::Int { min: Some(2), max: None },
                json!(100),
                "runs with the true communities",
            ),
            ParamSpec::new("permutations", ParamType::positive(), json!(100), "size-preserving label permutations"),
            ParamSpec::new("repeats", ParamType::positive(), json!(3), "autoencoder runs averaged per permutation"),
            ParamSpec::new("seed", ParamType::count(), json!(0), "master seed of every run and shuffle"),
        ]);
        p
    }
    fn resources(&self, p: &Params) -> Resources {
        Resources { gpus: usize::from(p.bool("gpu").unwrap_or(false)), ..Resources::default() }
    }
    fn shards(&self, p: &Params) -> Option<Vec<Shard>> {
        let (seeds, perms, repeats) = (p.usize("seeds").ok()?, p.usize("permutations").ok()?, p.usize("repeats").ok()?);
        let shared: Vec<(&String, &Value)> =
            p.map().iter().filter(|(k, _)| !matches!(k.as_str(), "seeds" | "permutations" | "repeats")).collect();
        let shard = |label: String, arm: &str, index: usize, repeat: usize| {
            let mut sp = Params::default();
            for (k, v) in &shared {
                sp.set(k, (*v).clone());
            }
            sp.set("arm", json!(arm));
            sp.set("index", json!(index));
            sp.set("repeat", json!(repeat));
            Shard { label, params: sp }
        };
        let mut shards: Vec<Shard> = (0..seeds).map(|s| shard(format!("true seed={s}"), "true", s, 0)).collect();
        for perm in 0..perms {
            for r in 0..repeats {
                shards.push(shard(format!("permutation={perm} repeat={r}"), "null", perm, r));
            }
        }
        Some(shards)
    }
    fn run_shard(&self, sp: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let data = AeData::load(inputs, sp.str("cells")?, sp.str("train_on")?)?;
        let (master, index, repeat) = (sp.seed("seed")?, sp.usize("index")? as u64, sp.usize("repeat")? as u64);
        let (labels, seed) = if sp.str("arm")? == "true" {
            (data.labels.clone(), derive_seed(master, &[TRUE_ARM, index]))
        } else {
            let mut labels = data.labels.clone();
            labels.shuffle(&mut ChaCha8Rng::seed_from_u64(derive_seed(master, &[SHUFFLE, index])));
            (labels, derive_seed(master, &[NULL_ARM, index, repeat]))
        };
        let s = run_once(&data, &labels, sp, seed, ctx)?;
        let values = TableBuilder::new()
            .str("arm", vec![sp.str("arm")?.to_string()])
            .i64("index", vec![index as i64])
            .i64("repeat", vec![repeat as i64])
            .str("seed", vec![seed.to_string()])
            .f64("tmex_train", vec![s.tmex_train])
            .f64("tmex_val", vec![s.tmex_val])
            .f64("mcc", vec![s.mcc])
            .build()?;
        Ok(outputs([("values", values)]))
    }
    fn run(&self, _p: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let (mut arm, mut index, mut repeat, mut seed, mut train, mut val, mut mcc) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for shard in inputs.shards() {
            let t = shard.get("values").ok_or_else(|| NodeError::Internal("shard without values".into()))?;
            arm.extend(t.str_column("arm")?);
            index.extend(t.f64_column("index")?.into_iter().map(|v| v as i64));
            repeat.extend(t.f64_column("repeat")?.into_iter().map(|v| v as i64));
            seed.extend(t.str_column("seed")?);
            train.extend(t.f64_column("tmex_train")?);
            val.extend(t.f64_column("tmex_val")?);
            mcc.extend(t.f64_column("mcc")?);
        }
        let truth: Vec<f64> = (0..arm.len()).filter(|&i| arm[i] == "true").map(|i| val[i]).collect();
        let mut null_by_perm: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
        for i in (0..arm.len()).filter(|&i| arm[i] == "null") {
            null_by_perm.entry(index[i]).or_default().push(val[i]);
        }
        let null: Vec<f64> = null_by_perm.values().map(|v| v.iter().sum::<f64>() / v.len() as f64).collect();
        let summary = summarise(&truth, &null)?;
        let values = TableBuilder::new()
            .str("arm", arm)
            .i64("index", index)
            .i64("repeat", repeat)
            .str("seed", seed)
            .f64("tmex_train", train)
            .f64("tmex_val", val)
            .f64("mcc", mcc)
            .build()?;
        Ok(outputs([("values", values), ("summary", summary)]))
    }
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (mean, (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt())
}

/// The one-row summary: the true values tested against the mean of the null values.
fn summarise(truth: &[f64], null: &[f64]) -> Result<crate::table::Table, NodeError> {
    let (true_mean, true_sd) = mean_sd(truth);
    let (null_mean, null_sd) = mean_sd(null);
    let test = t_test_one_sample(truth, null_mean, Alternative::Greater)?;
    let at_least = null.iter().filter(|&&v| v >= true_mean).count();
    Ok(TableBuilder::new()
        .f64("true_mean", vec![true_mean])
        .f64("true_sd", vec![true_sd])
        .f64("null_mean", vec![null_mean])
        .f64("null_sd", vec![null_sd])
        .f64("t", vec![test.t])
        .f64("p_t", vec![test.p])
        .f64("p_empirical", vec![(1 + at_least) as f64 / (1 + null.len()) as f64])
        .f64("effect_size", vec![if null_sd > 0.0 { (true_mean - null_mean) / null_sd } else { f64::NAN }])
        .i64("n_true", vec![truth.len() as i64])
        .i64("n_null", vec![null.len() as i64])
        .build()?)
}
