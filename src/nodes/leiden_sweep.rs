//! `leiden-sweep`: Leiden on the TF–TF graph over a grid of resolutions × seeds, stability,
//! choice of resolution, majority-vote consensus and cohesion (method.md §4).
//!
//! Shards are (resolution × block of seeds), so the scheduler spreads them over cores (or a
//! cluster) and caches them one by one: raising `runs` computes only the new blocks.

use std::sync::Arc;
use std::sync::LazyLock;

use arrow_array::ListArray;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use serde_json::json;

use super::common::{names, outputs};
use super::declare::{kind_params, ports, shard_params};
use crate::algo::leiden::{Graph, LeidenOptions, leiden};
use crate::algo::partition::{cohesion, consensus_majority, mean_cohesion};
use crate::algo::stability::{PairScore, mean_stability, pair_scores, select_resolution, tf_graph};
use crate::kind::params::Range;
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext, Shard};
use crate::table::{Communities, Edges, TableBuilder};

/// The `leiden-sweep` kind.
pub struct LeidenSweep;

/// TF names and the undirected weighted edges between them (by index).
type TfGraph = (Vec<String>, Vec<(usize, usize, f64)>);

fn graph(inputs: &Inputs) -> Result<TfGraph, NodeError> {
    let edges = Edges::from_table(&inputs.table("grn")?)?.0;
    let tfs = match inputs.opt_table("tfs")? {
        Some(t) => names(&t)?,
        None => edges.iter().map(|(s, _, _)| s.clone()).collect(),
    };
    let (nodes, g) = tf_graph(&edges, &tfs);
    if nodes.len() < 2 {
        let tf_set: std::collections::HashSet<&str> = tfs.iter().map(String::as_str).collect();
        let from_tfs = edges.iter().filter(|(s, _, _)| tf_set.contains(s.as_str())).count();
        return Err(NodeError::Input(format!(
            "the TF–TF graph is empty: of the GRN's {} edges ({from_tfs} from one of the {} TFs), none joins two \
             different TFs, so there is nothing to cluster; check that `tfs` is the list the GRN was fitted with, \
             or keep more edges in grn (`fdr`, `keep`)",
            edges.len(),
            tf_set.len()
        )));
    }
    Ok((nodes, g))
}

kind_params! {
    /// Params of `leiden-sweep`.
    pub struct SweepParams {
        resolution: Range = ParamSpec::new(
            ParamType::Range,
            json!({"from": 0.9, "to": 2.0, "step": 0.1}),
            "resolutions γ",
        ),
        runs: usize = ParamSpec::new(ParamType::tasks(), json!(1000), "Leiden runs (seeds) per resolution"),
        block: usize = ParamSpec::new(ParamType::positive(), json!(250), "seeds per shard"),
        seed: usize = ParamSpec::new(ParamType::count(), json!(0), "first seed; run i uses seed + i"),
        randomness: f64 = ParamSpec::new(
            ParamType::non_negative(),
            json!(0.5),
            "refinement θ in mean edge weights (0 = greedy merge; see algo::leiden)",
        ),
        pairs: usize = ParamSpec::new(ParamType::positive(), json!(200), "random run pairs for ARI/VI"),
        tolerance: f64 = ParamSpec::new(
            ParamType::non_negative(),
            json!(1e-3),
            "ARI/VI within this fraction of the best ties (then fewest communities ≥ 2, lower VI)",
        ),
        cohesion_permutations: usize = ParamSpec::new(ParamType::count(), json!(1000), "size-preserving permutations"),
    }
}

impl SweepParams {
    /// Shards per resolution: `runs` seeds in blocks of `block`.
    fn blocks(&self) -> usize {
        self.runs.div_ceil(self.block.max(1))
    }
}

shard_params! {
    /// One shard: a resolution and a block of seeds `first_seed..last_seed`.
    struct BlockShard {
        resolution: f64,
        first_seed: usize,
        last_seed: usize,
        randomness: f64,
    }
}

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "leiden-sweep",
    version: 3,
    doc: "TF communities: Leiden over resolutions × seeds, stability, consensus, cohesion test",
    inputs: ports![
        grn: "edge table: source, target, coef_mean or weight (strong edges if `strong`)",
        tfs?: "TF names (default: the sources of the edges)",
    ],
    outputs: ports![
        runs: "resolution, seed, quality, n_communities",
        stability: "resolution, ari, vi, score (= ari_over_vi, the selection score), ari_over_vi, n_communities, \
             fraction_identical, selected",
        pairs: "resolution, run_a, run_b, ari, vi: the sampled run pairs behind the means",
        consensus: "tf, community",
        cohesion: "community, size, w_internal, w_boundary, ratio, p_value",
        cohesion_mean: "mean_ratio, null_mean, null_sd, p_value, permutations: the mean ratio over communities \
            vs its null",
        cohesion_null: "permutation, mean_ratio: the size-preserving null of the mean ratio",
        tf_graph: "source, target, weight (undirected TF–TF graph)",
    ],
    params: SweepParams::specs(),
});

impl NodeKind for LeidenSweep {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn shards(&self, params: &Params) -> Result<Option<Vec<Shard>>, NodeError> {
        let p = SweepParams::decode(params)?;
        let mut shards = Vec::new();
        for resolution in p.resolution.values() {
            for first in (0..p.runs).step_by(p.block.max(1)) {
                let (first_seed, last_seed) = (p.seed + first, p.seed + (first + p.block).min(p.runs));
                let shard = BlockShard { resolution, first_seed, last_seed, randomness: p.randomness };
                shards.push(Shard {
                    label: format!("γ={resolution} seeds={first_seed}..{last_seed}"),
                    params: shard.params(),
                });
            }
        }
        Ok(Some(shards))
    }
    fn run_shard(&self, sp: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let (nodes, edges) = graph(inputs)?;
        let g = Graph::from_edges(nodes.len(), &edges)?;
        let BlockShard { resolution: gamma, first_seed: first, last_seed: last, randomness } = BlockShard::decode(sp)?;
        let options = LeidenOptions { randomness, ..LeidenOptions::default() };
        let (mut seeds, mut quality, mut k, mut labels) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for s in first..last {
            let part = leiden(&g, gamma, s as u64, &options)?;
            seeds.push(s as i64);
            quality.push(part.quality);
            k.push(part.n_communities as i64);
            labels.push(Some(part.labels.iter().map(|&l| Some(l as u32)).collect::<Vec<_>>()));
        }
        let labels = ListArray::from_iter_primitive::<UInt32Type, _, _>(labels);
        let table = TableBuilder::new()
            .f64("resolution", vec![gamma; seeds.len()])
            .i64("seed", seeds)
            .f64("quality", quality)
            .i64("n_communities", k)
            .array("labels", Arc::new(labels))
            .build()?;
        Ok(outputs([("runs", table)]))
    }
    fn run(&self, params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = SweepParams::decode(params)?;
        let (nodes, edges) = graph(inputs)?;
        let gammas = p.resolution.values();
        // Shards come in the order `shards` made them: `per_gamma` blocks of seeds per
        // resolution, so a shard's resolution is found by its index, not by comparing floats.
        let per_gamma = p.blocks();
        if inputs.shards().len() != gammas.len() * per_gamma {
            return Err(NodeError::Internal(format!(
                "{} shards for {} resolutions of {per_gamma} blocks",
                inputs.shards().len(),
                gammas.len()
            )));
        }
        // Per resolution, each run's (seed, quality, communities, labels).
        let mut by_gamma: Vec<Vec<(i64, f64, i64, Vec<usize>)>> = vec![Vec::new(); gammas.len()];
        for (index, shard) in inputs.shards().iter().enumerate() {
            let t = shard.get("runs").ok_or_else(|| NodeError::Internal("shard without runs".into()))?;
            let lists = t.batch().column_by_name("labels").and_then(|c| c.as_list_opt::<i32>()).cloned();
            let lists = lists.ok_or_else(|| NodeError::Internal("runs without labels".into()))?;
            let (s, q, k) = (t.f64_column("seed")?, t.f64_column("quality")?, t.f64_column("n_communities")?);
            for i in 0..t.n_rows() {
                let l = lists.value(i);
                let l = l.as_primitive::<UInt32Type>().values().iter().map(|&x| x as usize).collect();
                by_gamma[index / per_gamma.max(1)].push((s[i] as i64, q[i], k[i] as i64, l));
            }
        }
        let (pairs, seed) = (p.pairs, p.seed as u64);
        let (mut stab, mut consensus) = (Vec::new(), Vec::new());
        let (mut pair_gamma, mut run_a, mut run_b, mut pair_ari, mut pair_vi) =
            (vec![], vec![], vec![], vec![], vec![]);
        for (&gamma, at) in gammas.iter().zip(&by_gamma) {
            let parts: Vec<Vec<usize>> = at.iter().map(|r| r.3.clone()).collect();
            let quals: Vec<f64> = at.iter().map(|r| r.1).collect();
            let scored: Vec<PairScore> = if parts.len() >= 2 { pair_scores(&parts, pairs, seed)? } else { vec![] };
            for pair in &scored {
                pair_gamma.push(gamma);
                run_a.push(at[pair.a].0);
                run_b.push(at[pair.b].0);
                pair_ari.push(pair.ari);
                pair_vi.push(pair.vi);
            }
            stab.push(mean_stability(&scored));
            consensus.push(consensus_majority(&parts, &quals)?);
        }
        let ks: Vec<usize> = consensus.iter().map(|c| c.n_communities).collect();
        let chosen = select_resolution(&stab, &ks, p.tolerance)
            .ok_or_else(|| NodeError::Input("no resolution to choose from".into()))?;
        let labels = &consensus[chosen].labels;
        let permutations = p.cohesion_permutations;
        let coh = cohesion(&edges, labels, permutations, seed)?;
        let mean_coh = mean_cohesion(&edges, labels, permutations, seed)?;
        let stability_table = TableBuilder::new()
            .f64("resolution", gammas.clone())
            .f64("ari", stab.iter().map(|s| s.ari).collect())
            .f64("vi", stab.iter().map(|s| s.vi).collect())
            .f64("score", stab.iter().map(|s| s.ari_over_vi()).collect())
            .f64("ari_over_vi", stab.iter().map(|s| s.ari_over_vi()).collect())
            .i64("n_communities", ks.iter().map(|&k| k as i64).collect())
            .f64("fraction_identical", consensus.iter().map(|c| c.fraction_identical).collect())
            .bool("selected", (0..gammas.len()).map(|i| i == chosen).collect())
            .build()?;
        let runs = || gammas.iter().zip(&by_gamma).flat_map(|(&g, at)| at.iter().map(move |r| (g, r)));
        let runs_table = TableBuilder::new()
            .f64("resolution", runs().map(|(g, _)| g).collect())
            .i64("seed", runs().map(|(_, r)| r.0).collect())
            .f64("quality", runs().map(|(_, r)| r.1).collect())
            .i64("n_communities", runs().map(|(_, r)| r.2).collect())
            .build()?;
        let consensus_table =
            Communities { tf: nodes.clone(), community: labels.iter().map(|&l| l as i64 + 1).collect() }.to_table()?;
        let cohesion_table = TableBuilder::new()
            .i64("community", coh.iter().map(|c| c.label as i64 + 1).collect())
            .i64("size", coh.iter().map(|c| c.size as i64).collect())
            .f64("w_internal", coh.iter().map(|c| c.w_int).collect())
            .f64("w_boundary", coh.iter().map(|c| c.w_bnd).collect())
            .f64("ratio", coh.iter().map(|c| c.cohesion).collect())
            .f64("p_value", coh.iter().map(|c| c.p_perm).collect())
            .build()?;
        let pairs_table = TableBuilder::new()
            .f64("resolution", pair_gamma)
            .i64("run_a", run_a)
            .i64("run_b", run_b)
            .f64("ari", pair_ari)
            .f64("vi", pair_vi)
            .build()?;
        let null = &mean_coh.null;
        let null_mean = null.iter().sum::<f64>() / null.len().max(1) as f64;
        let null_sd =
            (null.iter().map(|v| (v - null_mean).powi(2)).sum::<f64>() / (null.len() as f64 - 1.0).max(1.0)).sqrt();
        let cohesion_mean = TableBuilder::new()
            .f64("mean_ratio", vec![mean_coh.observed])
            .f64("null_mean", vec![null_mean])
            .f64("null_sd", vec![null_sd])
            .f64("p_value", vec![mean_coh.p_perm])
            .i64("permutations", vec![permutations as i64])
            .build()?;
        let cohesion_null = TableBuilder::new()
            .i64("permutation", (0..null.len() as i64).collect())
            .f64("mean_ratio", null.clone())
            .build()?;
        let graph_table =
            Edges(edges.iter().map(|e| (nodes[e.0].clone(), nodes[e.1].clone(), e.2)).collect()).to_table()?;
        Ok(outputs([
            ("runs", runs_table),
            ("stability", stability_table),
            ("pairs", pairs_table),
            ("consensus", consensus_table),
            ("cohesion", cohesion_table),
            ("cohesion_mean", cohesion_mean),
            ("cohesion_null", cohesion_null),
            ("tf_graph", graph_table),
        ]))
    }
}

#[cfg(test)]
mod graph_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kind::Input;

    #[test]
    fn an_empty_tf_graph_says_how_many_grn_edges_there_are_and_that_none_joins_two_tfs() {
        let grn = TableBuilder::new()
            .str("source", vec!["T1".into(), "T2".into(), "T1".into()])
            .str("target", vec!["G1".into(), "G2".into(), "G2".into()])
            .build()
            .unwrap();
        let given = Input::Table { table: grn, instance: BTreeMap::new(), hash: String::new(), origin: None };
        let inputs = Inputs::new([("grn".to_string(), vec![given])].into(), vec![]);
        let e = graph(&inputs).unwrap_err().to_string();
        assert!(e.contains("the TF–TF graph is empty: of the GRN's 3 edges (3 from one of the 2 TFs)"), "{e}");
    }
}
