//! Science checks: the demo workflow, run as a user runs it, recovers the truth planted in
//! the simulator, and the real Papalexi screen runs end to end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use gcrl::algo::partition::adjusted_rand_index;
use gcrl::table::{Table, read_table_file};

fn gcrl(cache: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gcrl"))
        .args(args)
        .arg("--cache")
        .arg(cache)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("gcrl runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "gcrl {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn export(cache: &Path, workflow: &str, output: &str, dir: &Path, extra: &[&str]) -> Table {
    let to: PathBuf = dir.join(format!("{}.arrow", output.replace('.', "_")));
    let mut args = vec!["export", workflow, output, "--to", to.to_str().unwrap()];
    args.extend_from_slice(extra);
    gcrl(cache, &args);
    read_table_file(&to).unwrap()
}

/// Labels of `tfs` in a (tf, community) table, as integers.
fn labels(table: &Table, tfs: &[String]) -> Vec<usize> {
    let names = table.str_column("tf").unwrap();
    let ids = table.f64_column("community").unwrap();
    tfs.iter().map(|tf| ids[names.iter().position(|n| n == tf).expect("tf present")] as usize).collect()
}

/// One run of the demo up to the permutation test, with [`FAST`], shared by the demo's checks
/// (each reads it; one adds a run of its own beside it): the demo's upstream runs once.
fn demo_cache() -> &'static Path {
    static DEMO: OnceLock<tempfile::TempDir> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut run = vec!["run", "workflows/demo.yaml", "-q", "--json", "--until", "permutation"];
        run.extend_from_slice(&FAST);
        let summary: serde_json::Value = serde_json::from_str(gcrl(&dir.path().join("cache"), &run).trim()).unwrap();
        assert_eq!(summary["failed"], 0, "{summary}");
        dir
    })
    .path()
}

#[test]
fn demo_recovers_the_planted_communities() {
    let dir = tempfile::tempdir().unwrap();
    let cache = demo_cache().join("cache");
    let w = "workflows/demo.yaml";
    let fast = FAST;
    let truth = export(&cache, w, "data.communities", dir.path(), &fast);
    // Communities of the GRN inferred from the counts, not of the planted network.
    let found = export(&cache, w, "communities.consensus", dir.path(), &fast);
    let tfs = found.str_column("tf").unwrap();
    let ari = adjusted_rand_index(&labels(&truth, &tfs), &labels(&found, &tfs)).unwrap();
    assert!(ari >= 0.9, "ARI(consensus, planted) = {ari}");
    let cohesion = export(&cache, w, "communities.cohesion", dir.path(), &fast);
    for p in cohesion.f64_column("p_value").unwrap() {
        assert!(p < 0.01, "a planted community is not cohesive: p = {p}");
    }
}

/// The demo with fewer Leiden runs, as the tests run it.
const FAST: [&str; 4] = ["--set", "communities.runs=200", "--set", "communities.block=100"];

fn summary_row(cache: &Path, workflow: &str, dir: &Path, extra: &[&str]) -> (Table, Table) {
    let summary = export(cache, workflow, "permutation.summary", dir, extra);
    let values = export(cache, workflow, "permutation.values", dir, extra);
    (summary, values)
}

/// Per labelling (0 = the true one), the mean validation T-MEX over the autoencoder runs.
fn labelling_means(values: &Table) -> Vec<f64> {
    let (permutation, val) = (values.f64_column("permutation").unwrap(), values.f64_column("tmex_val").unwrap());
    let mut by: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
    for (j, v) in permutation.iter().zip(val) {
        by.entry(*j as i64).or_default().push(v);
    }
    by.values().map(|v| v.iter().sum::<f64>() / v.len() as f64).collect()
}

#[test]
fn true_communities_align_better_than_permuted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cache = demo_cache().join("cache");
    let w = "workflows/demo.yaml";
    let (s, values) = summary_row(&cache, w, dir.path(), &FAST);
    let col = |c: &str| s.f64_column(c).unwrap()[0];
    eprintln!("{}", s.pretty(1, 20).unwrap());
    // Issue 16: 1,000 permutations, all scored on the demo's 10 autoencoder runs.
    assert_eq!(col("permutations"), 1000.0);
    let means = labelling_means(&values);
    assert_eq!(means.len(), 1001);
    let reaching = means[1..].iter().filter(|&&v| v >= means[0]).count();
    assert_eq!(col("p_perm"), (1 + reaching) as f64 / 1001.0, "p_perm is the count of permutations reaching the truth");
    // The truth sits 2.5 null SDs above the permutations (95 % bootstrap interval 2.36–2.65 on
    // 2026-12-03; the paper's Joung figures give 1.8): 6 of 1,000 permutations reach it.
    assert!(col("p_perm") < 0.01, "p_perm = {}", col("p_perm"));
    assert!(col("effect_ci_low") > 2.0 && col("effect_ci_low") < col("effect_size"));
    assert!(col("effect_size") < col("effect_ci_high"));
    // The paper's t-test (technical reproducibility) is reported beside it.
    assert!(col("p_t") < 1e-6, "t-test p = {}", col("p_t"));

    // Negative control: "communities" drawn at random (same sizes, planted structure destroyed)
    // are just one more permutation, so the permutation p is not significant. (The paper's
    // t-test is not a valid control here: it compares seed-to-seed noise of one labelling with
    // the spread across labellings, so any fixed labelling off the null mean looks significant;
    // the summary reports both.)
    let consensus = export(&cache, w, "communities.consensus", dir.path(), &FAST);
    let tfs = consensus.str_column("tf").unwrap();
    let mut ids = consensus.f64_column("community").unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in (1..ids.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ids.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let random: String = std::iter::once("tf\tcommunity\n".to_string())
        .chain(tfs.iter().zip(&ids).map(|(t, c)| format!("{t}\t{c}\n")))
        .collect();
    let random_path = dir.path().join("random_communities.tsv");
    std::fs::write(&random_path, random).unwrap();
    let set_file = format!("permutation.communities={}", random_path.display());
    let mut null_run = vec!["run", w, "-q", "--until", "permutation", "--set", &set_file];
    null_run.extend_from_slice(&FAST);
    gcrl(&cache, &null_run);
    let mut extra = vec!["--set", set_file.as_str()];
    extra.extend_from_slice(&FAST);
    let (s, _) = summary_row(&cache, w, dir.path(), &extra);
    eprintln!("{}", s.pretty(1, 20).unwrap());
    let p_perm = s.f64_column("p_perm").unwrap()[0];
    assert!(p_perm > 0.05, "random communities: permutation p = {p_perm}");
}

#[test]
fn papalexi_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let w = "workflows/papalexi.yaml";
    let summary: serde_json::Value = serde_json::from_str(gcrl(&cache, &["run", w, "-q", "--json"]).trim()).unwrap();
    assert_eq!(summary["failed"], 0, "{summary}");
    let cells = export(&cache, w, "data.cells", dir.path(), &[]);
    // 16,192 cells have grna_top_frac ≥ 0.8 (anndata: (a.obs.grna_top_frac >= 0.8).sum()).
    assert_eq!(cells.n_rows(), 16_192);
    let targets = cells.str_column("targets").unwrap();
    assert!(targets.iter().any(String::is_empty), "non-targeting cells are controls");
    assert!(!targets.iter().any(|t| t == "non-targeting"));
}

/// Issue 6: Table 1 on a simulated screen (30 singly perturbed TFs, 25 held-out doubles, 40
/// epochs, one training seed instead of the demo's five). Every learned model predicts the
/// held-out doubles (never trained on) better than the control centroid, condition by condition,
/// and never better than the observed cells' own sampling noise. Issue 17: the baselines sit
/// beside them; additive and linear compose exactly, and the additive prediction from observed
/// singles beats the control centroid on every double (the simulator's doubles are additive in
/// the TF drive).
#[test]
fn vae_models_beat_worst_case_and_stay_above_perfect() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let w = "workflows/vae-demo.yaml";
    let fast = ["--set", "data.singles=30", "--set", "vae.epochs=40", "--set", "vae.seed=1"];
    let mut run = vec!["run", w, "-q", "--json"];
    run.extend_from_slice(&fast);
    let summary: serde_json::Value = serde_json::from_str(gcrl(&cache, &run).trim()).unwrap();
    assert_eq!(summary["failed"], 0, "{summary}");
    let table = export(&cache, w, "table.table", dir.path(), &fast);
    eprintln!("{}", table.pretty(10, 14).unwrap());
    let models = table.str_column("model").unwrap();
    assert_eq!(
        models,
        ["perfect", "additive", "mean", "best-single", "linear", "gcrl-vae", "id-vae", "d-vae", "worst-case"]
    );
    let col = |c: &str| table.f64_column(c).unwrap();
    let aecd = col("aecd");
    assert!(col("n_conditions").iter().all(|&n| n == 25.0));
    assert_eq!(col("n_seeds"), [1.0; 9]);
    let gap = col("additivity_gap");
    assert!(gap[1] < 1e-4 && gap[4] < 1e-4, "additive and linear compose exactly: {gap:?}");
    assert!(table.str_column("note").unwrap()[3].contains("oracle"));
    let distances = export(&cache, w, "table.distances", dir.path(), &fast);
    let of = |m: &str| -> Vec<f64> {
        let names = distances.str_column("model").unwrap();
        let d = distances.f64_column("distance").unwrap();
        names.iter().zip(d).filter(|(n, _)| *n == m).map(|(_, v)| v).collect()
    };
    let (perfect, worst) = (of("perfect"), of("worst-case"));
    assert!(of("additive").iter().zip(&worst).all(|(a, w)| a < w), "additive vs the control centroid");
    for (m, a) in models[5..8].iter().zip(&aecd[5..8]) {
        let d = of(m);
        let better = d.iter().zip(&worst).filter(|(x, w)| x < w).count();
        assert!(better >= 23, "{m}: beats the control centroid on only {better} of 25 doubles");
        let p = gcrl::algo::aecd::paired_wilcoxon(&d, &worst).unwrap().p;
        assert!(p < 1e-3 && *a < 0.9 * aecd[8], "{m}: AECD {a} vs worst-case {} (p = {p})", aecd[8]);
        assert!(d.iter().zip(&perfect).all(|(x, p)| x > p), "{m} beats the half-vs-half noise");
    }
    let per = export(&cache, w, "table.per_condition", dir.path(), &fast);
    assert_eq!(per.n_rows(), 9 * 25);
}
