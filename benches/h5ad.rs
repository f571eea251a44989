//! h5ad benchmark (issue 3): read a generated 100,000 cells × 5,000 genes CSR float32 `.h5ad`
//! (500 non-zeros per cell, 10%) with `gcrl::io::h5ad::read_h5ad` beside `anndata.read_h5ad`,
//! time and peak RSS (`VmHWM`); then preprocess it (normalize_total 1e4, log1p, HVG `seurat`
//! with 2,000 genes) with `gcrl::algo::preprocess` beside scanpy. Goals: faster than anndata,
//! peak RSS ≤ 1.5× the CSR bytes, preprocessing ≥ 5× faster than scanpy.
//!
//! Every measurement runs in a fresh child process (this program re-invokes itself with
//! `--child read|prep FILE`; the peer is a Python child), so peak RSS is per read. Times exclude
//! process start and imports; scanpy's numba kernels are warmed up on a small matrix first.
//! The file is made by `tests/crosscheck/make_bench_file.py` (needs anndata) under
//! `GCRL_BENCH_DIR` (default the temp dir) and kept there for the next run; it is never
//! committed. `GCRL_BENCH_H5AD_COMPRESSION` = `none` (default), `gzip`, or `none,gzip`.
//!
//! Run: `flock /tmp/gcrl-build.lock cargo bench --bench h5ad`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use gcrl::algo::preprocess::{Flavor, HvgOptions, highly_variable_genes, log1p, normalize_total};
use gcrl::io::h5ad::{Matrix, ReadOptions, read_h5ad};

use common::{Report, median, parse_kv, repeats};

const CELLS: usize = 100_000;
const GENES: usize = 5_000;
const PER_ROW: usize = 500;

/// Child process: read (and maybe preprocess) `path`, print `key=value` results.
fn child(mode: &str, path: &Path) {
    let base = common::rss_kib().unwrap_or(0);
    let t = Instant::now();
    let data = read_h5ad(path, &ReadOptions::default()).expect("read_h5ad");
    let read_secs = t.elapsed().as_secs_f64();
    let mut x = match data.x {
        Matrix::Csr(c) => c,
        Matrix::Dense(_) => panic!("expected a sparse X"),
    };
    if mode == "read" {
        println!("secs={read_secs} hwm_kib={} base_kib={base} nnz={}", common::peak_rss_kib().unwrap_or(0), x.nnz());
        return;
    }
    let t = Instant::now();
    normalize_total(&mut x, Some(1e4)).expect("normalize_total");
    let norm = t.elapsed().as_secs_f64();
    log1p(&mut x).expect("log1p");
    let log = t.elapsed().as_secs_f64() - norm;
    let hvg = highly_variable_genes(&x, Flavor::Seurat, Some(2000), &HvgOptions::default()).expect("hvg");
    let secs = t.elapsed().as_secs_f64();
    let chosen: Vec<usize> = hvg.highly_variable.iter().enumerate().filter(|(_, h)| **h).map(|(i, _)| i).collect();
    println!(
        "secs={secs} norm={norm} log1p={log} hvg={} n_hvg={} idxsum={}",
        secs - norm - log,
        chosen.len(),
        chosen.iter().sum::<usize>()
    );
}

const PY_READ: &str = r#"
import sys, time
import anndata as ad
def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
base = kib("VmRSS")
t = time.perf_counter()
a = ad.read_h5ad(sys.argv[1])
secs = time.perf_counter() - t
print(f"secs={secs} hwm_kib={kib('VmHWM')} base_kib={base} nnz={a.X.nnz}")
"#;

const PY_PREP: &str = r#"
import sys, time
import numpy as np, scipy.sparse as sp, anndata as ad, scanpy as sc
def steps(a):
    t = [time.perf_counter()]
    sc.pp.normalize_total(a, target_sum=1e4); t.append(time.perf_counter())
    sc.pp.log1p(a); t.append(time.perf_counter())
    sc.pp.highly_variable_genes(a, flavor="seurat", n_top_genes=2000); t.append(time.perf_counter())
    return [b - a for a, b in zip(t, t[1:])]
warm = ad.AnnData(sp.random(500, 300, density=0.1, format="csr", dtype=np.float32, random_state=0) * 10)
steps(warm)  # compile numba kernels outside the timing
a = ad.read_h5ad(sys.argv[1])
norm, log, hvg = steps(a)
hv = np.flatnonzero(a.var["highly_variable"].to_numpy())
print(f"secs={norm + log + hvg} norm={norm} log1p={log} hvg={hvg} n_hvg={len(hv)} idxsum={int(hv.sum())} scanpy={sc.__version__}")
"#;

fn bench_file(py: &str, compression: &str) -> Result<PathBuf, String> {
    let base = std::env::var_os("GCRL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join("gcrl-bench-h5ad");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("cells100k_genes5k_{compression}.h5ad"));
    let done = path.with_extension("h5ad.done");
    if path.exists() && done.exists() {
        println!("  reusing {}", path.display());
        return Ok(path);
    }
    println!("  generating {} (about a minute)…", path.display());
    let script = common::root().join("tests/crosscheck/make_bench_file.py");
    let out = Command::new(py)
        .arg(&script)
        .arg(&path)
        .arg(compression)
        .output()
        .map_err(|e| format!("cannot start {py}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr)));
    }
    std::fs::write(&done, b"").map_err(|e| e.to_string())?;
    Ok(path)
}

fn run_child(mode: &str, path: &Path) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe).args(["--child", mode]).arg(path).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("child {mode} failed: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

fn measure(report: &mut Report, py: &str, compression: &str, prep: bool) {
    let path = match bench_file(py, compression) {
        Ok(p) => p,
        Err(e) => {
            report.note(format!("cannot make the {compression} file: {e}"));
            return;
        }
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64;
    let nnz = (CELLS * PER_ROW) as f64;
    let csr_mib = (nnz * 8.0 + (CELLS + 1) as f64 * 8.0) / 1048576.0;
    report.note(format!(
        "{compression}: {CELLS} x {GENES} CSR f32, nnz {nnz:.0}, file {:.0} MiB, CSR bytes {csr_mib:.0} MiB (f32 data + u32 indices + u64 indptr)",
        size / 1048576.0
    ));
    let n = repeats();
    let (mut g_secs, mut g_hwm, mut p_secs, mut p_hwm, mut p_base) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        match run_child("read", &path) {
            Ok(o) => {
                g_secs.push(parse_kv(&o, "secs").unwrap_or(f64::NAN));
                g_hwm.push(mib(parse_kv(&o, "hwm_kib").unwrap_or(f64::NAN)));
            }
            Err(e) => report.note(e),
        }
        match common::run_python(py, PY_READ, &[path.to_str().unwrap()]) {
            Ok(o) => {
                p_secs.push(parse_kv(&o, "secs").unwrap_or(f64::NAN));
                p_hwm.push(mib(parse_kv(&o, "hwm_kib").unwrap_or(f64::NAN)));
                p_base.push(mib(parse_kv(&o, "base_kib").unwrap_or(f64::NAN)));
            }
            Err(e) => report.note(format!("anndata read failed: {e}")),
        }
    }
    let c = compression;
    report.add(
        &format!("read {c}"),
        "gcrl",
        median(&g_secs),
        "s",
        g_secs.len(),
        &format!("{}; goal < anndata", common::spread(&g_secs)),
    );
    report.add(&format!("read {c}"), "anndata", median(&p_secs), "s", p_secs.len(), &common::spread(&p_secs));
    report.add(&format!("read {c} peak RSS"), "gcrl", median(&g_hwm), "MiB", g_hwm.len(), "VmHWM of the whole process");
    report.add(
        &format!("read {c} peak RSS / CSR bytes"),
        "gcrl",
        median(&g_hwm) / csr_mib,
        "x",
        g_hwm.len(),
        "goal <= 1.5",
    );
    report.add(
        &format!("read {c} peak RSS"),
        "anndata",
        median(&p_hwm),
        "MiB",
        p_hwm.len(),
        "VmHWM incl. interpreter + imports",
    );
    report.add(&format!("read {c} RSS before read"), "anndata", median(&p_base), "MiB", p_base.len(), "after imports");
    report.ratio(
        &format!("read {c}: anndata / gcrl time"),
        (&format!("read {c}"), "anndata"),
        (&format!("read {c}"), "gcrl"),
        "",
    );
    report.ratio(
        &format!("read {c}: anndata / gcrl peak RSS"),
        (&format!("read {c} peak RSS"), "anndata"),
        (&format!("read {c} peak RSS"), "gcrl"),
        "",
    );
    if !prep {
        return;
    }
    let (mut gp, mut pp) = (vec![], vec![]);
    let steps = ["norm", "log1p", "hvg"];
    let (mut g_steps, mut p_steps) = (vec![vec![]; 3], vec![vec![]; 3]);
    let (mut g_sel, mut p_sel) = (String::new(), String::new());
    for _ in 0..n {
        match run_child("prep", &path) {
            Ok(o) => {
                gp.push(parse_kv(&o, "secs").unwrap_or(f64::NAN));
                for (k, v) in steps.iter().zip(g_steps.iter_mut()) {
                    v.push(parse_kv(&o, k).unwrap_or(f64::NAN));
                }
                g_sel = format!(
                    "n_hvg={} idxsum={}",
                    parse_kv(&o, "n_hvg").unwrap_or(f64::NAN),
                    parse_kv(&o, "idxsum").unwrap_or(f64::NAN)
                );
            }
            Err(e) => report.note(e),
        }
        match common::run_python(py, PY_PREP, &[path.to_str().unwrap()]) {
            Ok(o) => {
                pp.push(parse_kv(&o, "secs").unwrap_or(f64::NAN));
                for (k, v) in steps.iter().zip(p_steps.iter_mut()) {
                    v.push(parse_kv(&o, k).unwrap_or(f64::NAN));
                }
                p_sel = format!(
                    "n_hvg={} idxsum={}",
                    parse_kv(&o, "n_hvg").unwrap_or(f64::NAN),
                    parse_kv(&o, "idxsum").unwrap_or(f64::NAN)
                );
                if let Some(v) = o.split_whitespace().find(|w| w.starts_with("scanpy=")) {
                    p_sel = format!("{p_sel} {v}");
                }
            }
            Err(e) => report.note(format!("scanpy preprocess failed: {e}")),
        }
    }
    report.add(
        "preprocess (norm+log1p+HVG seurat 2000)",
        "gcrl",
        median(&gp),
        "s",
        gp.len(),
        &format!("{g_sel}; {}", common::spread(&gp)),
    );
    report.add(
        "preprocess (norm+log1p+HVG seurat 2000)",
        "scanpy",
        median(&pp),
        "s",
        pp.len(),
        &format!("{p_sel}; {}", common::spread(&pp)),
    );
    for (i, k) in steps.iter().enumerate() {
        report.add(&format!("  step {k}"), "gcrl", median(&g_steps[i]), "s", g_steps[i].len(), "");
        report.add(&format!("  step {k}"), "scanpy", median(&p_steps[i]), "s", p_steps[i].len(), "");
    }
    report.ratio(
        "preprocess: scanpy / gcrl",
        ("preprocess (norm+log1p+HVG seurat 2000)", "scanpy"),
        ("preprocess (norm+log1p+HVG seurat 2000)", "gcrl"),
        "goal >= 5",
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], Path::new(&args[i + 2]));
        return;
    }
    let mut report = Report::new("h5ad");
    let py = match common::python_with(&["anndata", "scanpy"]) {
        Ok(py) => py,
        Err(why) => {
            // The file is generated with anndata, so without it there is nothing to read.
            report.note(format!("peer skipped: {why}; the bench file cannot be generated either"));
            report.finish();
            return;
        }
    };
    let which = std::env::var("GCRL_BENCH_H5AD_COMPRESSION").unwrap_or_else(|_| "none".into());
    // Preprocessing is timed on the first file only (its input is in memory either way).
    for (i, c) in which.split(',').map(str::trim).filter(|c| !c.is_empty()).enumerate() {
        measure(&mut report, &py, c, i == 0);
    }
    report.finish();
}
