//! Slurm executor benchmark (issue 7): the 12,000-shard Leiden sweep (12 resolutions × 1000
//! seeds, one seed per shard, on the 150-TF planted graph of the Leiden bench) run by the release
//! `gcrl` with `--executor slurm` on the local single-node cluster (`scripts/slurm-local.sh start`),
//! beside the local executor (`-j` = cores) in the same run, each on a cold cache, alternating.
//! Reports wall times (medians), their ratio (goal ≤ 2×), the submit-to-done overhead per shard and
//! per job (the difference of wall times over the shard and job counts), and checks that both
//! executors stored the same bytes.
//!
//! Run: `/work/bin/cargo-locked bench --bench slurm` (or `cargo bench --bench slurm`). Environment:
//! `GCRL_BENCH_REPEATS` (3), `GCRL_BENCH_SLURM_TARGET` (`--slurm-target-minutes`, 10),
//! `GCRL_BENCH_SHARD_MINUTES` (the shard's declared `minutes`, 0.001), `GCRL_BENCH_SLURM_POLL` (1).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use common::factories::tf_graph_150;
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
    for d in dirs.flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            if let Ok(m) = serde_json::from_slice::<serde_json::Value>(&std::fs::read(f.path()).unwrap_or_default()) {
                out.insert(m["label"].as_str().unwrap_or_default().to_string(), m["outputs"].to_string());
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
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // A shared directory: the compute node (this machine) reads the cache.
    let dir = temp_dir("gcrl-bench-slurm-");
    let mut csv = String::from("source,target,weight\n");
    for (i, j, w) in tf_graph_150() {
        let _ = writeln!(csv, "TF{i},TF{j},{w}");
    }
    std::fs::write(dir.path().join("tf_graph.csv"), csv).expect("write graph");
    let wf = dir.path().join("sweep.yaml");
    std::fs::write(&wf, workflow(shard_minutes)).expect("write workflow");
    let (mut local, mut slurm) = (Vec::new(), Vec::new());
    let mut shape = (0, 0);
    let n = repeats();
    for r in 0..n {
        let lc = dir.path().join(format!("local-{r}"));
        let sc = dir.path().join(format!("slurm-{r}"));
        let mut l = Command::new(&bin);
        l.current_dir(dir.path()).arg("run").arg(&wf).arg("--cache").arg(&lc).args(["-j", &nproc.to_string()]);
        let mut s = Command::new(&bin);
        s.current_dir(dir.path()).arg("run").arg(&wf).arg("--cache").arg(&sc).args([
            "--executor",
            "slurm",
            "--slurm-target-minutes",
            &target.to_string(),
            "--slurm-poll",
            &poll.to_string(),
        ]);
        match (time_command(&mut l), time_command(&mut s)) {
            (Ok(a), Ok(b)) => {
                local.push(a);
                slurm.push(b);
            }
            (a, b) => {
                report.note(format!("repeat {r} failed: local {:?}, slurm {:?}", a.err(), b.err()));
                continue;
            }
        }
        shape = jobs(&bin, &sc);
        if hashes(&lc) != hashes(&sc) {
            report.note(format!("repeat {r}: the Slurm and local runs stored DIFFERENT bytes"));
        } else if r == 0 {
            report.note(format!("repeat 0: both executors stored the same bytes ({} tasks)", hashes(&lc).len()));
        }
        remove(&lc);
        remove(&sc);
    }
    if local.is_empty() {
        report.finish();
        return;
    }
    let (jobs, elements) = shape;
    let sweep = "12,000-shard Leiden sweep, wall";
    report.add(sweep, &format!("local -j{nproc}"), median(&local), "s", local.len(), &spread(&local));
    let note = format!(
        "{jobs} jobs, {elements} elements; target {target} min, shard {shard_minutes} min, poll {poll} s; {}",
        spread(&slurm)
    );
    report.add(sweep, "slurm", median(&slurm), "s", slurm.len(), &note);
    report.ratio("slurm / local wall", (sweep, "slurm"), (sweep, &format!("local -j{nproc}")), "goal <= 2");
    let extra = median(&slurm) - median(&local);
    report.add(
        "overhead per shard",
        "slurm",
        extra / 12_000.0 * 1e3,
        "ms",
        slurm.len(),
        "(slurm - local) / 12,000 shards",
    );
    report.add("overhead per job", "slurm", extra / jobs.max(1) as f64, "s", slurm.len(), "(slurm - local) / jobs");
    report.add(
        "overhead per element",
        "slurm",
        extra / elements.max(1) as f64,
        "s",
        slurm.len(),
        "(slurm - local) / array elements + single jobs",
    );
    report.finish();
}
