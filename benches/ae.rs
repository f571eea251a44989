//! The gCRL autoencoder, beside PyTorch (or JAX) on the same machine, in the same run:
//!
//! * one training epoch at the paper's Joung size (45,000 cells × 150 TFs → 1,700 genes, latent 8,
//!   batch 1024, Adam) on 1 and 2 threads: cells/s; goal: not slower than the Python framework;
//! * the demo's whole `permutation-test` node (10 autoencoder runs of 50 epochs, the true
//!   communities and 1,000 permutations scored on them) with `-j 1` and `-j 2`: wall time and
//!   speed-up.
//!
//! `cargo bench --bench ae`; the peer runs under `GCRL_PYTHON` (a Python with torch or jax+optax);
//! `GCRL_BENCH_SKIP_PERMUTATION=1` measures the epochs only, `GCRL_BENCH_PERMUTATION_REPEATS`
//! sets the permutation test's repeats (default: `GCRL_BENCH_REPEATS`). `GCRL_BENCH_GPU=N` (a `cuda` build)
//! measures the epoch on GPU N beside the peer on the same GPU, and the permutation test with
//! `--gpus 1` beside 2 pinned CPU cores, into `benches/results/<date>-ae-gpu.csv`
//! (scripts/gpu-check.sh).

mod common;

use std::path::Path;
use std::process::Command;

use common::{Report, median, repeats, time, time_command};
use gcrl::algo::random::normal;
use gcrl::models::ae::{AeConfig, train};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const CELLS: usize = 45_000;
const TFS: usize = 150;
const GENES: usize = 1_700;
const LATENT: usize = 8;

/// TFs and genes driven by `LATENT` factors, the genes through a quadratic map (as the peer).
fn data() -> (Array2<f32>, Array2<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let f = Array2::from_shape_fn((CELLS, LATENT), |_| normal(&mut rng));
    let load = Array2::from_shape_fn((LATENT, TFS), |_| normal(&mut rng));
    let x = (f.dot(&load) + Array2::from_shape_fn((CELLS, TFS), |_| 0.1 * normal(&mut rng))).mapv(|v| v as f32);
    let pairs: Vec<(usize, usize)> = (0..LATENT).flat_map(|i| (i..LATENT).map(move |j| (i, j))).collect();
    let phi = Array2::from_shape_fn((CELLS, LATENT + pairs.len()), |(r, c)| {
        if c < LATENT { f[(r, c)] } else { f[(r, pairs[c - LATENT].0)] * f[(r, pairs[c - LATENT].1)] }
    });
    let w = Array2::from_shape_fn((phi.ncols(), GENES), |_| 0.1 * normal(&mut rng));
    (x, phi.dot(&w).mapv(|v| v as f32))
}

fn epochs(report: &mut Report, x: &Array2<f32>, y: &Array2<f32>) {
    let rows: Vec<usize> = (0..CELLS).collect();
    let n = repeats();
    for setting in common::settings() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(setting.threads).build().expect("pool");
        let secs: Vec<f64> = (0..=n)
            .map(|r| {
                let cfg = AeConfig {
                    latent: LATENT,
                    hidden: 64,
                    epochs: 1,
                    batch: 1024,
                    lr: 1e-3,
                    seed: r as u64,
                    gpu: setting.gpu,
                };
                pool.install(|| time(|| train(x.view(), y.view(), &rows, &[], &cfg).expect("training")).0)
            })
            .skip(1) // the first epoch warms the allocator (and compiles the GPU kernels), as the peer's warm-up epoch
            .collect();
        report.add(
            &format!("epoch, {}", setting.label),
            "gcrl",
            CELLS as f64 / median(&secs),
            "cells/s",
            n,
            &format!("median epoch {:.3} s; {}", median(&secs), common::spread(&secs)),
        );
    }
}

fn peer(report: &mut Report) {
    let script = common::root().join("benches/peers/ae_epoch.py");
    let py = common::python();
    let framework = ["torch", "jax"].into_iter().find(|m| common::python_with(&[m]).is_ok());
    let Some(framework) = framework else {
        report.note(format!("peer skipped: `{py}` has neither torch nor jax; set GCRL_PYTHON"));
        return;
    };
    let n = repeats();
    let settings = common::settings();
    for setting in &settings {
        let out = Command::new(&py)
            .arg(&script)
            .args([framework, &CELLS.to_string(), &TFS.to_string(), &GENES.to_string(), &LATENT.to_string()])
            .args([setting.threads.to_string(), n.to_string(), setting.peer_device()])
            .output();
        let out = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            Ok(o) => {
                report.note(format!(
                    "peer {framework} failed: {}",
                    String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
                ));
                return;
            }
            Err(e) => {
                report.note(format!("peer skipped: cannot start `{py}`: {e}"));
                return;
            }
        };
        let secs: Vec<f64> = out.lines().filter_map(|l| common::parse_kv(l, "secs")).collect();
        report.add(
            &format!("epoch, {}", setting.label),
            framework,
            CELLS as f64 / median(&secs),
            "cells/s",
            secs.len(),
            &format!("median epoch {:.3} s; {}", median(&secs), common::spread(&secs)),
        );
    }
    for setting in &settings {
        let case = format!("epoch, {}", setting.label);
        report.ratio(
            &format!("epoch {}: gcrl / {framework}", setting.label),
            (&case, "gcrl"),
            (&case, framework),
            "cells/s ratio; goal >= 1",
        );
    }
}

/// The demo's permutation test, upstream nodes cached first, then the node alone with `-j`.
fn permutation_test(report: &mut Report, dir: &Path) {
    let bin = match common::gcrl_binary() {
        Ok(b) => b,
        Err(e) => {
            report.note(format!("permutation test skipped: {e}"));
            return;
        }
    };
    let demo = common::root().join("workflows/demo.yaml");
    let cache = dir.join("cache");
    let upstream =
        Command::new(&bin).arg("run").arg(&demo).args(["-q", "--until", "activities", "--cache"]).arg(&cache).status();
    if !upstream.is_ok_and(|s| s.success()) {
        report.note("permutation test skipped: the demo's upstream nodes failed");
        return;
    }
    let n = common::env_usize("GCRL_BENCH_PERMUTATION_REPEATS", repeats()).max(1);
    // On a GPU: the node on 2 CPU cores (pinned) beside the same with its shards on GPU slots.
    let runs: Vec<(String, Vec<String>, bool)> = match common::bench_gpu() {
        None => [1, 2].map(|j| (format!("demo permutation-test, -j {j}"), vec![format!("-j{j}")], false)).into(),
        Some(_) => vec![
            ("demo permutation-test, 2 CPU cores".into(), vec!["-j2".into()], true),
            ("demo permutation-test, --gpus 1".into(), vec!["-j2".into(), "--gpus".into(), "1".into()], false),
        ],
    };
    for (case, flags, pinned) in &runs {
        let gpu = flags.iter().any(|f| f == "--gpus");
        let secs: Vec<f64> = (0..n)
            .filter_map(|_| {
                let mut cmd = if *pinned { Command::new("taskset") } else { Command::new(&bin) };
                if *pinned {
                    cmd.args(["-c", "0,1"]).arg(&bin);
                }
                cmd.arg("run").arg(&demo).args(["-q", "--until", "permutation", "--force", "permutation"]);
                cmd.args(flags).arg("--cache").arg(&cache);
                if gpu {
                    cmd.args(["--set", "permutation.gpu=true"]);
                }
                time_command(&mut cmd).map_err(|e| report.note(format!("permutation run failed: {e}"))).ok()
            })
            .collect();
        report.add(case, "gcrl", median(&secs), "s", secs.len(), &common::spread(&secs));
    }
    let (slow, fast) = (&runs[0].0, &runs[1].0);
    let (name, note) = match common::bench_gpu() {
        None => ("permutation-test speed-up 1 -> 2 cores", "wall -j1 / wall -j2"),
        Some(_) => ("permutation-test speed-up 2 CPU cores -> GPU", "wall 2 cores / wall --gpus 1; goal >= 20"),
    };
    report.ratio(name, (slow, "gcrl"), (fast, "gcrl"), note);
}

fn main() {
    // As the `gcrl` binary does.
    gcrl::models::reuse_freed_memory();
    let mut report = Report::new(if common::bench_gpu().is_some() { "ae-gpu" } else { "ae" });
    report.note(format!(
        "epoch: {CELLS} cells x {TFS} TFs -> {GENES} genes, latent {LATENT}, hidden 64, batch 1024, Adam"
    ));
    let (x, y) = data();
    epochs(&mut report, &x, &y);
    peer(&mut report);
    if std::env::var_os("GCRL_BENCH_SKIP_PERMUTATION").is_some() {
        report.note("permutation test skipped: GCRL_BENCH_SKIP_PERMUTATION is set");
    } else {
        let dir = common::temp_dir("gcrl-bench-ae-");
        permutation_test(&mut report, dir.path());
    }
    report.finish();
}
