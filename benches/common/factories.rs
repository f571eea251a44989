//! Generators of bench inputs: workflows of a given shape (gcrl YAML and the equivalent
//! Snakefile), the planted-partition TF graph and a log-normalised screen. All deterministic.

use gcrl::algo::preprocess::{log1p, normalize_total};
use gcrl::algo::simulate::{SimParams, simulate};
use gcrl::table::SparseMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The Leiden sweep's shape: `seeds` swept instances of one `diag-sweep` node with `shards`
/// trivial shards each (one number per shard), then one `diag-sum` over all instances.
/// Tasks: `seeds × shards` shards + `seeds` reduces + 1 summary.
pub fn sweep_workflow(seeds: usize, shards: usize) -> String {
    let list: Vec<String> = (0..seeds).map(|s| s.to_string()).collect();
    format!(
        "name: bench-{seeds}x{shards}\nnodes:\n  sweep:\n    kind: diag-sweep\n    params: {{shards: {shards}, per_shard: 1}}\n    sweep: {{seed: [{}]}}\n  summary:\n    kind: diag-sum\n    inputs: {{values: sweep.values}}\n",
        list.join(", ")
    )
}

/// Task count of [`sweep_workflow`].
pub fn sweep_tasks(seeds: usize, shards: usize) -> usize {
    seeds * shards + seeds + 1
}

/// `shards` trivial tasks in one `diag-sweep` node (one number each) and its reduce.
pub fn flat_workflow(shards: usize) -> String {
    format!(
        "name: bench-flat-{shards}\nnodes:\n  sweep:\n    kind: diag-sweep\n    params: {{shards: {shards}, per_shard: 1}}\n"
    )
}

/// A Snakefile of the same shape as [`sweep_workflow`]: `seeds × shards` trivial jobs (each
/// writes one line), one reduce per seed (`cat`), one summary. Jobs use `shell:`: Snakemake 9
/// runs a `run:` job in a fresh Python process, about 1 s each on 2 cores, which would
/// understate the peer by some 40×.
pub fn snakefile(seeds: usize, shards: usize) -> String {
    format!(
        r#"SEEDS = range({seeds})
SHARDS = range({shards})

rule all:
    input: "summary.txt"

rule shard:
    output: "shards/{{seed}}/{{i}}.txt"
    shell: "echo {{wildcards.seed}} {{wildcards.i}} > {{output}}"

rule reduce:
    input: expand("shards/{{{{seed}}}}/{{i}}.txt", i=SHARDS)
    output: "reduce/{{seed}}.txt"
    shell: "cat {{input}} > {{output}}"

rule summary:
    input: expand("reduce/{{seed}}.txt", seed=SEEDS)
    output: "summary.txt"
    shell: "cat {{input}} > {{output}}"
"#
    )
}

/// A weighted planted-partition graph of the paper's TF–TF density: `n` nodes in blocks of
/// `block`, within-block pairs linked with probability `p_in`, others with `p_out`, weights
/// uniform in [0.05, 1). With 150 nodes, blocks of 25, 0.35 and 0.07 it has about 1,300 edges
/// (the same law as `tests/crosscheck/leiden_planted_graph.py`, with Rust's generator).
/// Returns `(i, j, w)` with `i < j`.
pub fn planted_graph(n: usize, block: usize, p_in: f64, p_out: f64, seed: u64) -> Vec<(usize, usize, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut edges = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let p = if i / block == j / block { p_in } else { p_out };
            if rng.random::<f64>() < p {
                let w = 0.05 + 0.95 * rng.random::<f64>();
                edges.push((i, j, (w * 1e6).round() / 1e6));
            }
        }
    }
    edges
}

/// The graph of the Leiden bench: 150 TFs, 6 planted communities, seed 2024.
pub fn tf_graph_150() -> Vec<(usize, usize, f64)> {
    planted_graph(150, 25, 0.35, 0.07, 2024)
}

/// Control cells of a simulated screen with a planted GRN (`gcrl::algo::simulate`: `tfs` TFs in 6
/// communities, `genes − tfs` targets with 3 regulators each, negative-binomial counts), then
/// normalised to 10,000 counts per cell and `log1p`, as `preprocess` leaves them. Genes are the
/// TFs first, then the targets. Returns the matrix and the TF names.
pub fn log_screen(cells: usize, tfs: usize, genes: usize, seed: u64) -> (SparseMatrix, Vec<String>) {
    let params = SimParams {
        tfs,
        communities: 6,
        targets: genes - tfs,
        control_cells: cells,
        singles: 0,
        doubles: 0,
        ..SimParams::default()
    };
    let sim = simulate(&params, seed).expect("simulate");
    let mut csr = sim.counts;
    normalize_total(&mut csr, Some(1e4)).expect("normalize_total");
    log1p(&mut csr).expect("log1p");
    let rows = (0..cells).map(|i| format!("cell{i}")).collect();
    (SparseMatrix { rows, cols: sim.gene_names, csr }, sim.tf_names)
}
