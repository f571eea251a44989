//! Screen benchmark (issue 21): a whole `gcrl run` of `load` → `preprocess` (normalize_total 1e4,
//! log1p, 2,000 `seurat` HVGs, the HVG matrix written to the cache) on a fresh cache, beside
//! scanpy doing the same in one Python process (read_h5ad, the three steps, the HVG subset
//! copied). Both are timed as whole processes with their peak resident set (`ru_maxrss`);
//! scanpy's time without its imports is reported too. The file is the h5ad bench's (100,000 ×
//! 5,000 CSR float32, 500 non-zeros per cell, `tests/crosscheck/make_bench_file.py`), made
//! under `GCRL_BENCH_DIR` (default the temp dir) and kept for the next run; the page cache is
//! warmed by reading it once. Goals: ≥ 5× scanpy's wall time, peak RSS ≤ scanpy's.
//!
//! Run: `flock /tmp/gcrl-build.lock cargo bench --bench screen`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Report, median, parse_kv, repeats, time_command_rss};

const PY_PREP: &str = r#"
import sys, time
t0 = time.perf_counter()
import anndata as ad, scanpy as sc
t1 = time.perf_counter()
a = ad.read_h5ad(sys.argv[1])
sc.pp.normalize_total(a, target_sum=1e4)
sc.pp.log1p(a)
sc.pp.highly_variable_genes(a, flavor="seurat", n_top_genes=2000)
b = a[:, a.var["highly_variable"].to_numpy()].copy()
t2 = time.perf_counter()
print(f"imports={t1 - t0} work={t2 - t1} n_hvg={b.n_vars} nnz={b.X.nnz}")
"#;

fn workflow(file: &Path) -> String {
    format!(
        "name: screen\nnodes:\n  data:\n    kind: load\n    inputs: {{ file: {{ file: {} }} }}\n    params: {{ all_controls: true }}\n  prep:\n    kind: preprocess\n    inputs: {{ counts: data.expression }}\n    params: {{ target_sum: 10000, n_top_genes: 2000, flavor: seurat }}\n",
        file.display()
    )
}

fn bench_file(py: &str) -> Result<PathBuf, String> {
    let base = std::env::var_os("GCRL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join("gcrl-bench-h5ad");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("cells100k_genes5k_none.h5ad");
    let done = path.with_extension("h5ad.done");
    if !(path.exists() && done.exists()) {
        println!("  generating {} (about a minute)…", path.display());
        let script = common::root().join("tests/crosscheck/make_bench_file.py");
        let out = Command::new(py).arg(&script).arg(&path).arg("none").output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr)));
        }
        std::fs::write(&done, b"").map_err(|e| e.to_string())?;
    }
    // Warm the page cache: both tools then read from memory.
    std::fs::read(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

fn main() {
    let mut report = Report::new("screen");
    let py = match common::python_with(&["anndata", "scanpy"]) {
        Ok(py) => py,
        Err(e) => {
            report.note(e);
            report.finish();
            return;
        }
    };
    let (gcrl, file) = match (common::gcrl_binary(), bench_file(&py)) {
        (Ok(g), Ok(f)) => (g, f),
        (Err(e), _) | (_, Err(e)) => {
            report.note(e);
            report.finish();
            return;
        }
    };
    let work = common::temp_dir("gcrl-bench-screen");
    let wf = work.path().join("screen.yaml");
    std::fs::write(&wf, workflow(&file)).expect("write the workflow");
    let log = work.path().join("log.txt");
    let (mut g_secs, mut g_rss, mut p_secs, mut p_work, mut p_rss) = (vec![], vec![], vec![], vec![], vec![]);
    for r in 0..repeats() {
        let cache = work.path().join(format!("cache{r}"));
        let mut cmd = Command::new(&gcrl);
        cmd.arg("run").arg(&wf).arg("--cache").arg(&cache).args(["--quiet"]);
        match time_command_rss(&mut cmd, &log) {
            Ok((secs, kib)) => {
                g_secs.push(secs);
                g_rss.push(kib as f64 / 1024.0);
            }
            Err(e) => report.note(format!("gcrl run failed: {e}")),
        }
        common::remove(&cache);
        let mut cmd = Command::new(&py);
        cmd.arg("-c").arg(PY_PREP).arg(&file);
        match time_command_rss(&mut cmd, &log) {
            Ok((secs, kib)) => {
                let out = std::fs::read_to_string(&log).unwrap_or_default();
                p_secs.push(secs);
                p_work.push(parse_kv(&out, "work").unwrap_or(f64::NAN));
                p_rss.push(kib as f64 / 1024.0);
            }
            Err(e) => report.note(format!("scanpy failed: {e}")),
        }
    }
    let case = "load+preprocess 100k x 5k";
    report.add(
        case,
        "gcrl",
        median(&g_secs),
        "s",
        g_secs.len(),
        &format!("whole process; {}", common::spread(&g_secs)),
    );
    report.add(
        case,
        "scanpy",
        median(&p_secs),
        "s",
        p_secs.len(),
        &format!("whole process; {}", common::spread(&p_secs)),
    );
    report.add(
        &format!("{case} without imports"),
        "scanpy",
        median(&p_work),
        "s",
        p_work.len(),
        &common::spread(&p_work),
    );
    report.add(&format!("{case} peak RSS"), "gcrl", median(&g_rss), "MiB", g_rss.len(), "ru_maxrss");
    report.add(&format!("{case} peak RSS"), "scanpy", median(&p_rss), "MiB", p_rss.len(), "ru_maxrss");
    report.ratio(&format!("{case}: scanpy / gcrl time"), (case, "scanpy"), (case, "gcrl"), "goal >= 5");
    report.ratio(
        &format!("{case}: scanpy without imports / gcrl time"),
        (&format!("{case} without imports"), "scanpy"),
        (case, "gcrl"),
        "",
    );
    report.ratio(
        &format!("{case}: gcrl / scanpy peak RSS"),
        (&format!("{case} peak RSS"), "gcrl"),
        (&format!("{case} peak RSS"), "scanpy"),
        "goal <= 1",
    );
    report.finish();
}
