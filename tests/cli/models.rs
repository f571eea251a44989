//! The gCRL-AE kinds from the command line: a small simulated screen through `ae-train`,
//! `tmex-align` and `permutation-test`; the same bytes for any `-j`; GPU requests without a GPU
//! (or without the `cuda` build) end with a clear error.

use super::test::{Test, files_under, object_of};

/// The small simulated screen through the autoencoder kinds (also `gpu`'s).
pub(super) const SCREEN: &str = "\
name: models
defaults: {seed: 3}
nodes:
  data:
    kind: simulate
    params: {tfs: 12, communities: 2, targets: 30, control_cells: 300, singles: 12, doubles: 2, cells_per_perturbation: 25}
  prep:
    kind: preprocess
    inputs: {counts: data.counts, cells: data.cells, tfs: data.tfs}
    params: {n_top_genes: 30}
  activities:
    kind: eigengene
    inputs: {expression: prep.expression, communities: data.communities, cells: prep.cells}
  ae:
    kind: ae-train
    inputs: {expression: prep.expression, communities: data.communities, cells: prep.cells}
    params: {epochs: 4, batch: 64, lr: 0.01}
  align:
    kind: tmex-align
    inputs: {latent: ae.latent, activities: activities.activities}
  perm:
    kind: permutation-test
    inputs: {expression: prep.expression, communities: data.communities, cells: prep.cells}
    params: {epochs: 2, batch: 128, seeds: 2, permutations: 2, bootstrap: 50}
";

#[test]
fn the_autoencoder_kinds_run_and_give_the_same_bytes_for_any_j() {
    let t = Test::new().workflow(SCREEN);
    let (c1, c2) = (t.path().join("cache-j1"), t.path().join("cache-j2"));
    let s1 = t.args(["run", "--json", "-j1"]).cache(&c1).run().success().summary();
    let s2 = t.args(["run", "--json", "-j2"]).cache(&c2).run().success().summary();
    // 4 nodes + ae, align, 2 autoencoder-run shards and their reduce.
    assert_eq!((s1.ran, s1.failed, s2.failed), (s1.tasks, 0, 0));
    assert!(files_under(&c1.join("objects")) == files_under(&c2.join("objects")), "-j1 and -j2 objects differ");
    for port in ["latent", "history", "weights"] {
        assert_eq!(object_of(&c1, "ae", port), object_of(&c2, "ae", port));
    }
    let score = t.args(["show", "align.score"]).cache(&c1).run().success();
    let out = score.stdout_has(&["tmex_train", "tmex_val", "mcc", "exact"]);
    assert!(out.stdout.contains("1 rows"), "{}", out.stdout);
    let summary = t.args(["show", "perm.summary"]).cache(&c1).run().success();
    summary.stdout_has(&["true_mean", "p_t", "p_perm", "effect_size", "effect_ci_low", "effect_ci_high"]);
    // Issue 16: permutations are scored on the same runs, so more of them train nothing (only
    // the reduce reruns); one more run trains only that run.
    let s = t.args(["run", "--json", "--set", "perm.permutations=30"]).cache(&c1).run().success().summary();
    assert_eq!(s.ran, 1, "{s:?}");
    let s = t.args(["run", "--json", "--set", "perm.permutations=30", "--set", "perm.seeds=3"]).cache(&c1);
    assert_eq!(s.run().success().summary().ran, 2);
}

#[test]
fn the_gradient_alignment_reaches_the_closed_form() {
    let t = Test::new().workflow(SCREEN);
    t.run_ok(&["--until", "align"]);
    let exact = t.args(["export", "align.score", "--to", "exact.csv"]).run().success();
    drop(exact);
    t.run_ok(&["--until", "align", "--set", "align.method=gradient"]);
    t.args(["export", "align.score", "--to", "gradient.csv", "--set", "align.method=gradient"]).run().success();
    let value = |f: &str| -> f64 {
        let text = std::fs::read_to_string(t.path().join(f)).unwrap();
        let row: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
        row[0].parse().unwrap()
    };
    let (a, b) = (value("exact.csv"), value("gradient.csv"));
    assert!((a - b).abs() < 1e-5, "tmex_train: closed form {a}, gradient {b}");
}

#[test]
fn a_gpu_training_without_a_gpu_is_refused_with_the_fix() {
    let t = Test::new().workflow(SCREEN);
    let out = t.args(["run", "--until", "ae", "--set", "ae.gpu=true", "--gpus", "0"]).run().status(1);
    out.stderr_has(&["ae", "needs a GPU", "CUDA_VISIBLE_DEVICES or --gpus"]);
    let out = t.args(["run", "--until", "ae", "--set", "ae.gpu=true", "--gpus", "1"]);
    if cfg!(feature = "cuda") {
        // A GPU slot the CUDA driver cannot back (no driver here, or none of its devices visible).
        out.env("CUDA_VISIBLE_DEVICES", "").run().status(1).stderr_has(&["GPU 0 is not usable", "--gpus"]);
    } else {
        out.run().status(1).stderr_has(&["GPU 0 is not usable", "--features cuda"]);
    }
}

#[test]
fn tmex_align_names_the_missing_columns() {
    let t = Test::new().workflow(&SCREEN.replace("latent: ae.latent", "latent: activities.activities"));
    let out = t.args(["run", "--until", "align"]).run().status(1);
    out.stderr_has(&["input `latent` needs columns cell, split and z_1", "ae-train.latent"]);
}
