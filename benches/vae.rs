//! VAE benchmark (issue 6): training throughput of gCRL-VAE, id-VAE and the discrepancy-VAE at
//! Norman size (5,000 genes, 105 targets, batch 32; d = 105 for d-VAE, d = k + 1 = 12 for the
//! others, 400 TFs for gCRL-VAE's encoder), in perturbed cells per second, on 1 and 2 threads,
//! beside the reference discrepancy-VAE in PyTorch (eager, as the reference runs;
//! `benches/peers/vae_torch.py`) and its port to JAX (`benches/peers/vae_jax.py`, jit-compiled),
//! both in float32 on the same threads.
//!
//! A full epoch is ≈ 28,000 training cells (875 batches); every side runs `GCRL_BENCH_VAE_BATCHES`
//! batches (default 100) and the epoch time is extrapolated from the rate. The Rust side is one
//! `train` call of one epoch (its setup — initialisation, pairing — included); the peers exclude
//! a warm-up step (JAX: the jit compile).
//!
//! Run: `cargo bench --bench vae` (the peers run under `GCRL_PYTHON`, a Python with torch and/or
//! jax; a missing one is noted and skipped). `GCRL_BENCH_GPU=N` (a `cuda` build) trains on GPU N
//! beside the PyTorch peer on the same GPU, into `benches/results/<date>-vae-gpu.csv`
//! (scripts/gpu-check.sh).

mod common;

use gcrl::algo::sparse::Csr;
use gcrl::models::train_device;
use gcrl::models::vae::{Matching, Routing, Schedule, Sparsity, VaeConfig, VaeData, VaeModel, train};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use common::{Report, Setting, median, repeats, spread, time};

const GENES: usize = 5000;
const TARGETS: usize = 105;
const TFS: usize = 400;
const COMMUNITIES: usize = 11;
const BATCH: usize = 32;
const EPOCH_CELLS: f64 = 28_000.0;

struct Screen {
    genes: Csr,
    tf_input: Array2<f32>,
    tfa: Array2<f32>,
    routes: Vec<usize>,
    controls: Vec<usize>,
    singles: Vec<(usize, usize)>,
}

/// `batches` full single-target batches plus as many controls; ~40 % non-zero values in [0, 3).
fn screen(batches: usize) -> Screen {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let n_controls = batches * BATCH;
    let n = n_controls + batches * BATCH;
    let mut dense = Array2::<f32>::zeros((n, GENES));
    dense.iter_mut().for_each(|v| {
        if rng.random_bool(0.4) {
            *v = 3.0 * rng.random::<f32>();
        }
    });
    let singles = (0..batches * BATCH).map(|i| (n_controls + i, (i / BATCH) % TARGETS)).collect();
    let tf_input = dense.slice(ndarray::s![.., ..TFS]).to_owned();
    let tfa = Array2::from_shape_fn((n, COMMUNITIES + 1), |(i, j)| dense[[i, j * 3]]);
    Screen {
        genes: Csr::from_dense(&dense.view()).expect("csr"),
        tf_input,
        tfa,
        routes: (0..TARGETS).map(|t| t % (COMMUNITIES + 1)).collect(),
        controls: (0..n_controls).collect(),
        singles,
    }
}

fn config(model: VaeModel, matching: Matching) -> VaeConfig {
    VaeConfig {
        model,
        latent: if model == VaeModel::Discrepancy { TARGETS } else { COMMUNITIES + 1 },
        hidden: 128,
        batch_size: BATCH,
        learning_rate: 1e-3,
        schedule: Schedule {
            epochs: 1,
            alpha_max: 20.0,
            alpha_start: 0,
            alpha_end: 1,
            beta_max: 2.0,
            beta_start: Some(0),
            temp_max: 5.0,
            temp_start: 0,
            align_max: 1.0,
        },
        matching,
        l1: 1e-3,
        sparsity: Sparsity::Dag,
        sinkhorn_iterations: 20,
        routing: Routing::Hard,
        keep_best: false,
        seed: 0,
    }
}

/// Perturbed cells per second of one training epoch over the screen, in `setting`.
fn rate(s: &Screen, model: VaeModel, matching: Matching, setting: &Setting) -> f64 {
    let gcrl = model == VaeModel::Gcrl;
    let data = VaeData {
        genes: &s.genes,
        tf_input: gcrl.then(|| s.tf_input.view()),
        tfa: gcrl.then(|| s.tfa.view()),
        targets: TARGETS,
        routes: gcrl.then_some(s.routes.as_slice()),
        controls: &s.controls,
        singles: &s.singles,
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(setting.threads).build().expect("pool");
    let device = train_device(setting.gpu).expect("training device");
    let (secs, _) = pool.install(|| time(|| train(&config(model, matching), &data, &device).expect("train")));
    s.singles.len() as f64 / secs
}

/// The peers: Python module and script.
const PEERS: [(&str, &str); 2] =
    [("torch", include_str!("peers/vae_torch.py")), ("jax", include_str!("peers/vae_jax.py"))];

fn peer(report: &mut Report, (framework, script): (&str, &str), batches: usize, matching: &str, setting: &Setting) {
    let py = match common::python_with(&[framework]) {
        Ok(py) => py,
        Err(why) => {
            report.note(format!("peer skipped: {why}"));
            return;
        }
    };
    let n = repeats();
    let args = [GENES, TARGETS, TARGETS, batches, n].map(|v| v.to_string());
    let (threads, device) = (setting.threads.to_string(), setting.peer_device());
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend([matching, threads.as_str(), device.as_str()]);
    let out = match common::run_python(&py, script, &all) {
        Ok(o) => o,
        Err(e) => {
            report.note(format!("{framework} peer failed: {e}"));
            return;
        }
    };
    let rates: Vec<f64> =
        out.lines().filter(|l| l.starts_with("secs=")).filter_map(|l| common::parse_kv(l, "cells_per_s")).collect();
    let label = format!("d-vae {matching}, {}", setting.label);
    let r = median(&rates);
    report.add(&label, framework, r, "cells/s", n, &format!("{batches} batches; {}", spread(&rates)));
    report.add(&format!("epoch {label}"), framework, EPOCH_CELLS / r, "s", n, "28,000 cells / rate");
}

fn main() {
    // As the `gcrl` binary does.
    gcrl::models::reuse_freed_memory();
    let gpu = common::bench_gpu().is_some();
    let mut report = Report::new(if gpu { "vae-gpu" } else { "vae" });
    // On a GPU, the PyTorch peer only: the JAX port is a CPU comparison.
    let peers = if gpu { &PEERS[..1] } else { &PEERS[..] };
    let settings = common::settings();
    let batches = common::env_usize("GCRL_BENCH_VAE_BATCHES", 100);
    report.note(format!(
        "{GENES} genes, {TARGETS} targets, batch {BATCH}, {batches} batches per measurement; \
         epoch = {EPOCH_CELLS} cells extrapolated from the rate"
    ));
    let s = screen(batches);
    let n = repeats();
    let cases = [
        ("gcrl-vae centroid", VaeModel::Gcrl, Matching::Centroid),
        ("id-vae centroid", VaeModel::Informed, Matching::Centroid),
        ("d-vae centroid", VaeModel::Discrepancy, Matching::Centroid),
        ("d-vae mmd", VaeModel::Discrepancy, Matching::Mmd { sigma: 1000.0, kernels: 10 }),
    ];
    for setting in &settings {
        // On a GPU, a first run compiles the kernels and is not counted.
        let warm = usize::from(setting.gpu.is_some());
        for (name, model, matching) in cases {
            let rates: Vec<f64> = (0..n + warm).map(|_| rate(&s, model, matching, setting)).skip(warm).collect();
            let label = format!("{name}, {}", setting.label);
            let r = median(&rates);
            report.add(&label, "gcrl", r, "cells/s", n, &spread(&rates));
            report.add(&format!("epoch {label}"), "gcrl", EPOCH_CELLS / r, "s", n, "28,000 cells / rate");
        }
        for matching in ["centroid", "mmd"] {
            for &p in peers {
                peer(&mut report, p, batches, matching, setting);
            }
        }
    }
    for setting in &settings {
        for m in ["centroid", "mmd"] {
            let case = format!("d-vae {m}, {}", setting.label);
            for (framework, _) in peers {
                let name = format!("{case}: gcrl / {framework}");
                report.ratio(&name, (&case, "gcrl"), (&case, framework), "goal >= 1 (not slower)");
            }
        }
    }
    report.finish();
}
