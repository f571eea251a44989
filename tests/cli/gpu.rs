//! CPU and GPU training give the same models within float tolerance (issue 18): the autoencoder
//! and the discrepancy-VAE on a small simulated screen, one seed, trained on `flex` and on
//! burn-cuda GPU 0. Compiled only with the `cuda` feature, and ignored unless asked for, as it
//! needs a CUDA GPU: `cargo test --release --features cuda --test main -- --ignored gpu::` (or the
//! carried test binary with `GCRL_BIN` naming the carried `gcrl`, as scripts/gpu-check.sh does).
//!
//! The GPU sums in another order (parallel reductions, other matmul kernels), so the per-epoch
//! losses drift apart by float rounding that the next epochs carry on; the tolerances bound that
//! drift over these few epochs, far below what a wrong kernel or a wrong device would give.

use std::collections::BTreeMap;
use std::path::Path;

use gcrl::algo::tmex::{fit_alignment, tmex};
use ndarray::Array2;

use super::models::SCREEN;
use super::test::{Test, csv_fields};

/// The autoencoder kinds' screen, and a d-VAE on it.
fn workflow() -> String {
    let vae = "  vae:
    kind: vae-train
    inputs: {expression: prep.expression, cells: prep.cells}
    params: {model: d-vae, epochs: 6, batch_size: 16, hidden: 32}
";
    format!("{SCREEN}{vae}")
}

/// Relative tolerance of each epoch's loss terms (with an absolute floor for terms near 0).
const LOSS_RTOL: f64 = 2e-3;
const LOSS_ATOL: f64 = 1e-5;
/// Absolute tolerance of a T-MEX (a mean partial correlation, in [−1, 1]).
const TMEX_ATOL: f64 = 0.01;

/// One training's cache and the `--set` flags it ran with.
struct Run<'a> {
    cache: &'a Path,
    sets: &'a [&'a str],
}

/// A CSV export as its header and rows of fields.
fn export(t: &Test, run: &Run, output: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let file = run.cache.with_extension(format!("{output}.csv"));
    let args = ["export", output, "--to", file.to_str().unwrap()];
    t.args(args.iter().chain(run.sets)).cache(run.cache).run().success();
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines().map(csv_fields);
    let header = lines.next().unwrap_or_default();
    (header, lines.collect())
}

/// The numeric loss columns of a history export, one row per epoch (`epoch` and `kept` left out).
fn losses(t: &Test, run: &Run, output: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let (header, rows) = export(t, run, output);
    let keep: Vec<usize> = (0..header.len()).filter(|&i| !["epoch", "kept"].contains(&header[i].as_str())).collect();
    let values = rows.iter().map(|r| keep.iter().map(|&i| r[i].parse::<f64>().unwrap()).collect()).collect();
    (keep.iter().map(|&i| header[i].clone()).collect(), values)
}

/// Cell → the columns named `prefix…` (but `cell`) of a table export.
fn by_cell(t: &Test, run: &Run, output: &str, prefix: &str) -> BTreeMap<String, Vec<f64>> {
    let (header, rows) = export(t, run, output);
    let cell = header.iter().position(|h| h == "cell").unwrap();
    let cols: Vec<usize> =
        (0..header.len()).filter(|&i| header[i] != "cell" && header[i].starts_with(prefix)).collect();
    assert!(!cols.is_empty(), "{output}: no `{prefix}` columns in {header:?}");
    rows.iter().map(|r| (r[cell].clone(), cols.iter().map(|&i| r[i].parse().unwrap()).collect())).collect()
}

/// T-MEX of the VAE's latent against the eigengene activities, over the cells both have.
fn vae_tmex(t: &Test, run: &Run) -> f64 {
    let latent = by_cell(t, run, "vae.latent", "z_");
    let activities = by_cell(t, run, "activities.activities", "");
    let activities: BTreeMap<_, Vec<f64>> = activities.into_iter().filter(|(c, _)| latent.contains_key(c)).collect();
    let matrix = |rows: Vec<&Vec<f64>>| {
        let cols = rows[0].len();
        Array2::from_shape_vec((rows.len(), cols), rows.into_iter().flatten().copied().collect()).unwrap()
    };
    let z = matrix(activities.keys().map(|c| &latent[c]).collect());
    let tfa = matrix(activities.values().collect());
    let a = fit_alignment(z.view(), tfa.view()).unwrap();
    tmex(z.view(), tfa.view(), a.view()).unwrap().0
}

#[track_caller]
fn assert_losses_agree(what: &str, cpu: &(Vec<String>, Vec<Vec<f64>>), gpu: &(Vec<String>, Vec<Vec<f64>>)) {
    assert_eq!(cpu.0, gpu.0, "{what}: history columns");
    assert_eq!(cpu.1.len(), gpu.1.len(), "{what}: epochs");
    for (epoch, (c, g)) in cpu.1.iter().zip(&gpu.1).enumerate() {
        for ((name, a), b) in cpu.0.iter().zip(c).zip(g) {
            let ok = (a.is_nan() && b.is_nan()) || (a - b).abs() <= LOSS_ATOL + LOSS_RTOL * a.abs();
            assert!(ok, "{what} epoch {epoch} {name}: CPU {a}, GPU {b}");
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn cpu_and_gpu_trainings_agree_within_float_tolerance() {
    let t = Test::new().workflow(&workflow());
    let (cpu_cache, gpu_cache) = (t.path().join("cpu"), t.path().join("gpu"));
    let cpu = Run { cache: &cpu_cache, sets: &[] };
    let gpu = Run { cache: &gpu_cache, sets: &["--set", "ae.gpu=true", "--set", "vae.gpu=true"] };
    t.args(["run", "--json"]).cache(cpu.cache).run().success();
    t.args(["run", "--json", "--gpus", "1"].iter().chain(gpu.sets)).cache(gpu.cache).run().success();

    assert_losses_agree("ae", &losses(&t, &cpu, "ae.history"), &losses(&t, &gpu, "ae.history"));
    let (header, c) = export(&t, &cpu, "align.score");
    let (_, g) = export(&t, &gpu, "align.score");
    for name in ["tmex_train", "tmex_val"] {
        let i = header.iter().position(|h| h == name).unwrap();
        let (a, b): (f64, f64) = (c[0][i].parse().unwrap(), g[0][i].parse().unwrap());
        assert!((a - b).abs() <= TMEX_ATOL, "ae {name}: CPU {a}, GPU {b}");
    }

    assert_losses_agree("d-vae", &losses(&t, &cpu, "vae.history"), &losses(&t, &gpu, "vae.history"));
    let (a, b) = (vae_tmex(&t, &cpu), vae_tmex(&t, &gpu));
    assert!((a - b).abs() <= TMEX_ATOL, "d-vae T-MEX: CPU {a}, GPU {b}");
}
