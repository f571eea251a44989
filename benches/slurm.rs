//! Slurm executor benchmark (issue 7): the 12,000-shard Leiden sweep (12 resolutions × 1000
//! seeds, one seed per shard, on the 150-TF planted graph of the Leiden bench) run by the release
//! `gcrl` with `--executor slurm` on the local single-node cluster (`scripts/slurm-local.sh start`),
//! beside the local executor (`-j` = cores) in the same run, each on a cold cache, alternating.
//! Reports wall times (medians), their ratio (goal ≤ 2×), the submit-to-done overhead per shard and
//! per job (the difference of wall times over the shard and job counts), and checks that both
//! executors stored the same bytes. A first case runs the same shape with trivial shards (the
//! engine bench's 12 × 1000 `diag-sweep`), where the difference is the executor's own cost.
//!
//! Run: `/work/bin/cargo-locked bench --bench slurm` (or `cargo bench --bench slurm`). Environment:
//! `GCRL_BENCH_REPEATS` (3), `GCRL_BENCH_SLURM_TARGET` (`--slurm-target-minutes`, 10),
//! `GCRL_BENCH_SHARD_MINUTES` (the shard's declared `minutes`, 0.001), `GCRL_BENCH_SLURM_POLL` (1).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use common::factories::{sweep_workflow, tf_graph_150};
use common::{Report, median, remove, repeats, spread, temp_dir, time_command};

fn workflow(shard_minutes: f64) -> String {
    format!(
        "name: slurm-bench\nnodes:\n  communities:\n    kind: leiden-sweep\n    inputs: {{ grn: {{ file: tf_graph.csv }} }}\n    params: {{ runs: 1000, block: 1, cohesion_permutations: 100 }}\n    resources: {{ minutes: {shard_minutes} }}\n"
    )
}

fn slurm_up() -> Result<(), String> {
    let out = Command::new("timeout")
        .args(["20", "scontrol", "ping"])
        .output()
        .map_err(|e| format!("cannot run scontrol ({e}); start a cluster with scripts/slurm-local.sh start"))?;
    if String::from_utf8_lossy(&out.stdout).contains("is UP") {
        Ok(())
    } else {
        Err("no Slurm controller answers `scontrol ping`; start one with scripts/slurm-local.sh start".into())
    }
}

/// Output hashes by task label of a cache.
fn hashes(cache: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(dirs) = std::fs::read_dir(cache.join("tasks")) else { return out };
    let Ok(store) = gcrl::cache::Cache::open(cache) else { return out };
    for d in dirs.flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            // A manifest file holds its commit batch's manifests; the store finds this key's.
            let key = f.path().file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if let Ok(Some(m)) = store.get_manifest(&key) {
                out.insert(m.label, serde_json::to_string(&m.outputs).unwrap_or_default());
            }
        }
    }
    out
}

/// Jobs and elements of the Slurm run in `cache`.
fn jobs(bin: &Path, cache: &Path) -> (usize, usize) {
    let out = Command::new(bin).arg("--cache").arg(cache).args(["status", "--json"]).output();
    let json: serde_json::Value =
        out.ok().and_then(|o| serde_json::from_slice(&o.stdout).ok()).unwrap_or(serde_json::Value::Null);
    let jobs = json["runs"][0]["jobs"].as_array().cloned().unwrap_or_default();
    let elements = jobs.iter().map(|j| j["elements"].as_array().map(Vec::len).unwrap_or(0)).sum();
    (jobs.len(), elements)
}

/// Wall times of `reps` alternating local and Slurm runs of `yaml` in `dir`, each on a cold cache,
/// and the jobs and elements of the last Slurm run.
struct Measured {
    local: Vec<f64>,
    slurm: Vec<f64>,
    jobs: usize,
    elements: usize,
}

fn measure(report: &mut Report, bin: &Path, dir: &Path, name: &str, yaml: &str, slurm_flags: &[String]) -> Measured {
    let wf = dir.join(format!("{name}.yaml"));
    std::fs::write(&wf, yaml).expect("write workflow");
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut m = Measured { local: Vec::new(), slurm: Vec::new(), jobs: 0, elements: 0 };
    for r in 0..repeats() {
        let lc = dir.join(format!("{name}-local-{r}"));
        let sc = dir.join(format!("{name}-slurm-{r}"));
        let mut l = Command::new(bin);
        l.current_dir(dir).arg("run").arg(&wf).arg("--cache").arg(&lc).args(["-j", &nproc.to_string()]);
        let mut s = Command::new(bin);
        s.current_dir(dir).arg("run").arg(&wf).arg("--cache").arg(&sc).args(["--executor", "slurm"]).args(slurm_flags);
        match (time_command(&mut l), time_command(&mut s)) {
            (Ok(a), Ok(b)) => {
                m.local.push(a);
                m.slurm.push(b);
            }
            (a, b) => {
                report.note(format!("{name} repeat {r} failed: local {:?}, slurm {:?}", a.err(), b.err()));
                continue;
            }
        }
        (m.jobs, m.elements) = jobs(bin, &sc);
        let (hl, hs) = (hashes(&lc), hashes(&sc));
        if hl != hs {
            report.note(format!("{name} repeat {r}: the Slurm and local runs stored DIFFERENT bytes"));
        } else if r == 0 {
            report.note(format!("{name}: both executors stored the same bytes ({} tasks)", hl.len()));
        }
        remove(&lc);
        remove(&sc);
    }
    m
}

fn rows(report: &mut Report, case: &str, m: &Measured, shards: usize, setting: &str) {
    if m.local.is_empty() {
        return;
    }
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let local = format!("local -j{nproc}");
    report.add(case, &local, median(&m.local), "s", m.local.len(), &spread(&m.local));
    let note = format!("{} jobs, {} elements; {setting}; {}", m.jobs, m.elements, spread(&m.slurm));
    report.add(case, "slurm", median(&m.slurm), "s", m.slurm.len(), &note);
    report.ratio(&format!("{case}: slurm / local"), (case, "slurm"), (case, &local), "goal <= 2");
    let extra = median(&m.slurm) - median(&m.local);
    let n = m.slurm.len();
    report.add(
        &format!("{case}: overhead per shard"),
        "slurm",
        extra / shards as f64 * 1e3,
        "ms",
        n,
        "(slurm - local) / shards",
    );
    report.add(
        &format!("{case}: overhead per job"),
        "slurm",
        extra / m.jobs.max(1) as f64,
        "s",
        n,
        "(slurm - local) / jobs",
    );
    report.add(
        &format!("{case}: overhead per element"),
        "slurm",
        extra / m.elements.max(1) as f64,
        "s",
        n,
        "(slurm - local) / (array elements + single jobs)",
    );
}

fn main() {
    let mut report = Report::new("slurm");
    if let Err(why) = slurm_up() {
        report.note(format!("skipped: {why}"));
        report.finish();
        return;
    }
    let bin = match common::gcrl_binary() {
        Ok(b) => b,
        Err(e) => {
            report.note(format!("cannot build gcrl: {e}"));
            report.finish();
            return;
        }
    };
    let env_f64 = |k: &str, d: f64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let target = env_f64("GCRL_BENCH_SLURM_TARGET", 10.0);
    let shard_minutes = env_f64("GCRL_BENCH_SHARD_MINUTES", 0.001);
    let poll = env_f64("GCRL_BENCH_SLURM_POLL", 1.0);
    let flags =
        vec!["--slurm-target-minutes".to_string(), target.to_string(), "--slurm-poll".to_string(), poll.to_string()];
    let setting = format!("target {target} min, shard {shard_minutes} min, poll {poll} s");
    // A shared directory: the compute node (this machine) reads the cache.
    let dir = temp_dir("gcrl-bench-slurm-");
    let mut csv = String::from("source,target,weight\n");
    for (i, j, w) in tf_graph_150() {
        let _ = writeln!(csv, "TF{i},TF{j},{w}");
    }
    std::fs::write(dir.path().join("tf_graph.csv"), csv).expect("write graph");
    // The engine bench's shape with trivial shards: what remains is the executor's own cost.
    let trivial = sweep_workflow(12, 1000)
        .replace("per_shard: 1}\n", &format!("per_shard: 1}}\n    resources: {{ minutes: {shard_minutes} }}\n"));
    let m = measure(&mut report, &bin, dir.path(), "trivial", &trivial, &flags);
    rows(&mut report, "12 x 1000 trivial shards, wall", &m, 12_000, &setting);
    let m = measure(&mut report, &bin, dir.path(), "leiden", &workflow(shard_minutes), &flags);
    rows(&mut report, "12,000-shard Leiden sweep, wall", &m, 12_000, &setting);
    report.finish();
}
