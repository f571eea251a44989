//! Leiden benchmark (issue 4): 12 resolutions (0.9..2.0 by 0.1) × 1000 seeds on a 150-TF
//! planted graph of the paper's density (~1,300 weighted edges), `gcrl::algo::leiden::leiden`
//! on 1 and 2 threads (rayon over runs) beside a Python loop over `leidenalg.find_partition`
//! (`RBConfigurationVertexPartition`, `n_iterations=-1`) on the same graph, timed inside Python
//! with `time.perf_counter` (imports excluded). The peer runs `GCRL_BENCH_PEER_SEEDS` (default
//! 20) seeds per resolution and its time per run is scaled; mean qualities (igraph's
//! `modularity` with resolution) of both on those seeds are reported as a sanity check.
//! Also: `gcrl plan` of a `leiden-sweep` node with `runs: 1000` (48 shards) on an empty cache.
//!
//! Run: `flock /tmp/gcrl-build.lock cargo bench --bench leiden`. Goal ≥ 10× leidenalg on 1 core,
//! near 2× more on 2 cores; plan < 0.1 s.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use gcrl::algo::leiden::{Graph, LeidenOptions, leiden};
use rayon::prelude::*;

use common::factories::tf_graph_150;
use common::{Report, median, repeats, temp_dir, time, time_command};

const SEEDS: u64 = 1000;

fn resolutions() -> Vec<f64> {
    (0..12).map(|i| 0.9 + 0.1 * i as f64).collect()
}

/// Seconds for all (γ, seed) runs on a rayon pool of `threads`.
fn sweep(g: &Graph, threads: usize) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("rayon pool");
    let runs: Vec<(f64, u64)> = resolutions().into_iter().flat_map(|r| (0..SEEDS).map(move |s| (r, s))).collect();
    let opts = LeidenOptions::default();
    let (secs, _) = time(|| {
        pool.install(|| runs.par_iter().map(|&(r, s)| leiden(g, r, s, &opts).expect("leiden").quality).sum::<f64>())
    });
    secs
}

fn mean_quality(g: &Graph, seeds: u64) -> f64 {
    let opts = LeidenOptions::default();
    let mut total = 0.0;
    for r in resolutions() {
        for s in 0..seeds {
            total += leiden(g, r, s, &opts).expect("leiden").quality;
        }
    }
    total / (12 * seeds) as f64
}

const PEER: &str = r#"
import sys, time
import igraph as ig, leidenalg as la
path, seeds, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
edges, weights, n = [], [], 0
for line in open(path):
    i, j, w = line.split()
    edges.append((int(i), int(j))); weights.append(float(w)); n = max(n, int(i) + 1, int(j) + 1)
g = ig.Graph(n=n, edges=edges); g.es["weight"] = weights
gammas = [0.9 + 0.1 * k for k in range(12)]
for rep in range(reps):
    parts = []
    t = time.perf_counter()
    for gamma in gammas:
        for s in range(seeds):
            p = la.find_partition(g, la.RBConfigurationVertexPartition, weights="weight",
                                  resolution_parameter=gamma, seed=s, n_iterations=-1)
            parts.append((gamma, p.membership))
    secs = time.perf_counter() - t
    q = sum(g.modularity(m, weights="weight", resolution=gamma) for gamma, m in parts) / len(parts)
    print(f"secs={secs} runs={len(parts)} quality={q}", flush=True)
print(f"version={la.version}" if hasattr(la, "version") else "version=?")
"#;

fn peer(report: &mut Report, dir: &Path, edges: &[(usize, usize, f64)]) {
    let py = match common::python_with(&["igraph", "leidenalg"]) {
        Ok(py) => py,
        Err(why) => {
            report.note(format!("peer skipped: {why}"));
            return;
        }
    };
    let seeds = common::env_usize("GCRL_BENCH_PEER_SEEDS", 20);
    let path = dir.join("tf_graph.tsv");
    let mut text = String::new();
    for (i, j, w) in edges {
        let _ = writeln!(text, "{i}\t{j}\t{w}");
    }
    std::fs::write(&path, text).expect("write graph");
    let n = repeats();
    let out = match common::run_python(&py, PEER, &[path.to_str().unwrap(), &seeds.to_string(), &n.to_string()]) {
        Ok(o) => o,
        Err(e) => {
            report.note(format!("leidenalg peer failed: {e}"));
            return;
        }
    };
    let mut per_run = Vec::new();
    let mut quality = f64::NAN;
    for line in out.lines().filter(|l| l.starts_with("secs=")) {
        let secs = common::parse_kv(line, "secs").unwrap_or(f64::NAN);
        let runs = common::parse_kv(line, "runs").unwrap_or(f64::NAN);
        per_run.push(secs / runs * 1e3);
        quality = common::parse_kv(line, "quality").unwrap_or(f64::NAN);
    }
    let ms = median(&per_run);
    report.add(
        "ms per run, 1 thread",
        "leidenalg",
        ms,
        "ms",
        n,
        &format!("12 x {seeds} seeds, scaled; {}", common::spread(&per_run)),
    );
    report.add("12 x 1000 runs, 1 thread", "leidenalg", ms * 12.0, "s", n, "scaled from ms/run");
    report.add(&format!("mean quality, 12 x {seeds} seeds"), "leidenalg", quality, "Q", 1, "igraph modularity(γ)");
}

fn plan(report: &mut Report, dir: &Path, edges: &[(usize, usize, f64)]) {
    let bin = match common::gcrl_binary() {
        Ok(b) => b,
        Err(e) => {
            report.note(format!("plan skipped: {e}"));
            return;
        }
    };
    let mut tsv = String::from("source\ttarget\tweight\n");
    for (i, j, w) in edges {
        let _ = writeln!(tsv, "TF{i}\tTF{j}\t{w}");
    }
    std::fs::write(dir.join("grn.tsv"), tsv).expect("write grn");
    let wf = dir.join("sweep.yaml");
    std::fs::write(
        &wf,
        "name: bench-leiden\nnodes:\n  communities:\n    kind: leiden-sweep\n    inputs: {grn: {file: grn.tsv}}\n    params:\n      resolution: {from: 0.9, to: 2.0, step: 0.1}\n      runs: 1000\n",
    )
    .expect("write workflow");
    let n = repeats();
    let mut times = Vec::new();
    for r in 0..n {
        let cache = dir.join(format!("cache-{r}"));
        match time_command(Command::new(&bin).arg("plan").arg(&wf).arg("--cache").arg(&cache)) {
            Ok(t) => times.push(t),
            Err(e) => {
                report.note(format!("gcrl plan failed: {e}"));
                return;
            }
        }
        common::remove(&cache);
    }
    report.add("plan leiden-sweep runs 1000 (48 shards)", "gcrl", median(&times), "s", n, "cold cache; goal < 0.1 s");
}

fn main() {
    let mut report = Report::new("leiden");
    let edges = tf_graph_150();
    let g = Graph::from_edges(150, &edges).expect("graph");
    report.note(format!(
        "graph: 150 nodes, {} edges, 6 planted blocks, total weight {:.1}",
        edges.len(),
        g.total_weight()
    ));
    let dir = temp_dir("gcrl-bench-leiden-");
    let n = repeats();
    let total = 12.0 * SEEDS as f64;
    for threads in [1, 2] {
        let secs: Vec<f64> = (0..n).map(|_| sweep(&g, threads)).collect();
        let s = median(&secs);
        report.add(
            &format!("12 x 1000 runs, {threads} thread{}", if threads > 1 { "s" } else { "" }),
            "gcrl",
            s,
            "s",
            n,
            &common::spread(&secs),
        );
        report.add(
            &format!("ms per run, {threads} thread{}", if threads > 1 { "s" } else { "" }),
            "gcrl",
            s / total * 1e3,
            "ms",
            n,
            "wall / runs",
        );
    }
    let seeds = common::env_usize("GCRL_BENCH_PEER_SEEDS", 20) as u64;
    report.add(&format!("mean quality, 12 x {seeds} seeds"), "gcrl", mean_quality(&g, seeds), "Q", 1, "modularity(γ)");
    peer(&mut report, dir.path(), &edges);
    report.ratio(
        "1 thread: leidenalg / gcrl",
        ("ms per run, 1 thread", "leidenalg"),
        ("ms per run, 1 thread", "gcrl"),
        "goal >= 10",
    );
    report.ratio(
        "2 threads: leidenalg(1) / gcrl",
        ("ms per run, 1 thread", "leidenalg"),
        ("ms per run, 2 threads", "gcrl"),
        "",
    );
    report.ratio(
        "gcrl 2 threads speed-up",
        ("12 x 1000 runs, 1 thread", "gcrl"),
        ("12 x 1000 runs, 2 threads", "gcrl"),
        "goal near 2",
    );
    plan(&mut report, dir.path(), &edges);
    report.finish();
}
