//! Engine benchmark (issue 2): plan, full run and no-op run of generated workflows through the
//! release `gcrl` binary, beside Snakemake on the same shapes.
//!
//! Shapes: the Leiden sweep's 12 × 1000 trivial shards → 12 reduces → 1 summary (12,013 tasks),
//! and 100,000 trivial shards in one node (+ its reduce). Goals on 2 cores: plan 12k < 0.1 s,
//! no-op < 50 ms, ≥ 5,000 trivial tasks/s. The peer is `snakemake` run through `GCRL_PYTHON`
//! (`-m snakemake`): `-n` on the 12k shape, and a full run of a small shape for dispatch rate.
//!
//! Run: `flock /tmp/gcrl-build.lock cargo bench --bench engine`. Environment:
//! `GCRL_BENCH_REPEATS` (3), `GCRL_BENCH_JOBS` (2, the `-j` of full runs),
//! `GCRL_BENCH_SMK_SHARDS` (25: Snakemake's dispatch shape is 12 × this),
//! `GCRL_BENCH_SKIP_100K` (set to skip the 100k shape).

mod common;

use std::path::Path;
use std::process::Command;

use common::factories::{flat_workflow, snakefile, sweep_tasks, sweep_workflow};
use common::{Report, median, remove, repeats, spread, temp_dir, time_command};

struct Gcrl<'a> {
    bin: &'a Path,
    jobs: usize,
}

impl Gcrl<'_> {
    fn cmd(&self, sub: &str, workflow: &Path, cache: &Path) -> Command {
        let mut c = Command::new(self.bin);
        c.arg(sub).arg(workflow).arg("--cache").arg(cache);
        if sub == "run" {
            c.arg("-j").arg(self.jobs.to_string());
        }
        c
    }

    /// Seconds of each repeat of `plan` on an empty cache, full `run`, and no-op `run`.
    ///
    /// The caches of full runs are removed only when the bench ends: ext4 without a journal
    /// (this machine's file system) scans every inode freed in the last minute when it allocates
    /// one, so deleting a run's tens of thousands of files just before the next repeat would
    /// time the bench's own clean-up, not gcrl.
    fn measure(&self, dir: &Path, name: &str, yaml: &str, n: usize) -> Result<[Vec<f64>; 3], String> {
        let wf = dir.join(format!("{name}.yaml"));
        std::fs::write(&wf, yaml).map_err(|e| e.to_string())?;
        let (mut plan, mut full, mut noop) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..n {
            let planned = dir.join(format!("plan-{name}-{r}"));
            plan.push(time_command(&mut self.cmd("plan", &wf, &planned))?);
            let cache = dir.join(format!("cache-{name}-{r}"));
            full.push(time_command(&mut self.cmd("run", &wf, &cache))?);
            noop.push(time_command(&mut self.cmd("run", &wf, &cache))?);
        }
        Ok([plan, full, noop])
    }
}

fn gcrl_rows(report: &mut Report, g: &Gcrl, dir: &Path, label: &str, yaml: &str, tasks: usize, goals: bool) {
    let n = repeats();
    match g.measure(dir, label, yaml, n) {
        Ok([plan, full, noop]) => {
            let goal = |g: &str| if goals && !g.is_empty() { format!("; {g}") } else { String::new() };
            let small = label == "12k";
            let plan_note = format!("{}{}", spread(&plan), goal(if small { "goal < 0.1 s" } else { "" }));
            report.add(&format!("plan {label} (cold cache)"), "gcrl", median(&plan), "s", n, &plan_note);
            report.add(
                &format!("full run {label} -j{}", g.jobs),
                "gcrl",
                median(&full),
                "s",
                n,
                &format!("{tasks} tasks; {}", spread(&full)),
            );
            let rate = tasks as f64 / median(&full);
            let rate_note = if goals { "goal >= 5000 tasks/s" } else { "" };
            report.add(&format!("dispatch {label} -j{}", g.jobs), "gcrl", rate, "tasks/s", n, rate_note);
            let noop_note = format!("{}{}", spread(&noop), goal(if small { "goal < 0.05 s" } else { "" }));
            report.add(&format!("no-op run {label}"), "gcrl", median(&noop), "s", n, &noop_note);
        }
        Err(e) => report.note(format!("gcrl {label} failed: {e}")),
    }
}

fn snakemake(report: &mut Report, dir: &Path, jobs: usize) {
    let py = match common::python_with(&["snakemake"]) {
        Ok(py) => py,
        Err(why) => {
            report.note(format!("peer skipped: {why}"));
            return;
        }
    };
    if let Ok(v) = Command::new(&py).args(["-m", "snakemake", "--version"]).output() {
        report.note(format!("snakemake {}", String::from_utf8_lossy(&v.stdout).trim()));
    }
    let n = repeats();
    let smk = |workdir: &Path, extra: &[&str]| {
        let mut c = Command::new(&py);
        c.args(["-m", "snakemake", "--snakefile"]).arg(workdir.join("Snakefile"));
        c.arg("--directory").arg(workdir).args(["--quiet", "all"]).args(extra);
        c
    };
    // Dry-run plan of the 12k shape: fresh directory (no outputs, no .snakemake) each time.
    let mut plan = Vec::new();
    for r in 0..n {
        let w = dir.join(format!("smk-plan-{r}"));
        let _ = std::fs::create_dir_all(&w);
        let _ = std::fs::write(w.join("Snakefile"), snakefile(12, 1000));
        match time_command(&mut smk(&w, &["-n", "--cores", "1"])) {
            Ok(t) => plan.push(t),
            Err(e) => {
                report.note(format!("snakemake -n failed: {e}"));
                return;
            }
        }
        remove(&w);
    }
    report.add(
        "plan 12k (cold cache)",
        "snakemake",
        median(&plan),
        "s",
        n,
        &format!("snakemake -n; {}", spread(&plan)),
    );
    // Dispatch rate on a small shape, whole process timed as for gcrl.
    let shards = common::env_usize("GCRL_BENCH_SMK_SHARDS", 25);
    let tasks = sweep_tasks(12, shards);
    let mut full = Vec::new();
    let mut noop = Vec::new();
    for r in 0..n {
        let w = dir.join(format!("smk-run-{r}"));
        let _ = std::fs::create_dir_all(&w);
        let _ = std::fs::write(w.join("Snakefile"), snakefile(12, shards));
        match time_command(&mut smk(&w, &["--cores", &jobs.to_string()])) {
            Ok(t) => full.push(t),
            Err(e) => {
                report.note(format!("snakemake run failed: {e}"));
                return;
            }
        }
        if let Ok(t) = time_command(&mut smk(&w, &["--cores", &jobs.to_string()])) {
            noop.push(t);
        }
        remove(&w);
    }
    let label = format!("{tasks}");
    report.add(
        &format!("full run {label} -j{jobs}"),
        "snakemake",
        median(&full),
        "s",
        n,
        &format!("--cores {jobs}, 12x{shards} shape; {}", spread(&full)),
    );
    report.add(&format!("dispatch {label} -j{jobs}"), "snakemake", tasks as f64 / median(&full), "tasks/s", n, "");
    report.add(&format!("no-op run {label}"), "snakemake", median(&noop), "s", n, "");
}

fn main() {
    let mut report = Report::new("engine");
    let jobs = common::env_usize("GCRL_BENCH_JOBS", 2);
    let bin = match common::gcrl_binary() {
        Ok(b) => b,
        Err(e) => {
            report.note(format!("cannot build gcrl: {e}"));
            report.finish();
            return;
        }
    };
    let g = Gcrl { bin: &bin, jobs };
    let dir = temp_dir("gcrl-bench-engine-");
    let dir = dir.path();

    // (a) the Leiden sweep's shape, 12 × 1000.
    gcrl_rows(&mut report, &g, dir, "12k", &sweep_workflow(12, 1000), sweep_tasks(12, 1000), true);
    // The small shape Snakemake runs, so dispatch rates compare on equal terms too.
    let shards = common::env_usize("GCRL_BENCH_SMK_SHARDS", 25);
    let small = sweep_tasks(12, shards);
    gcrl_rows(&mut report, &g, dir, &format!("{small}"), &sweep_workflow(12, shards), small, false);
    // (b) 100,000 trivial tasks.
    if std::env::var_os("GCRL_BENCH_SKIP_100K").is_none() {
        gcrl_rows(&mut report, &g, dir, "100k", &flat_workflow(100_000), 100_001, true);
    }
    // (c) the peer.
    snakemake(&mut report, dir, jobs);

    report.ratio(
        "plan 12k: snakemake / gcrl",
        ("plan 12k (cold cache)", "snakemake"),
        ("plan 12k (cold cache)", "gcrl"),
        "",
    );
    let disp = format!("dispatch {small} -j{jobs}");
    report.ratio(&format!("dispatch {small}: gcrl / snakemake"), (&disp, "gcrl"), (&disp, "snakemake"), "same shape");
    report.ratio(
        "dispatch 12k gcrl / small snakemake",
        (&format!("dispatch 12k -j{jobs}"), "gcrl"),
        (&disp, "snakemake"),
        "each at its measured shape",
    );
    report.finish();
}
