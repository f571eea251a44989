//! GRN benchmark (issue 4): the bagging-ridge fit of `grn` on 10,000 cells × 2,000 genes × 150
//! TFs (every TF a candidate regulator of every gene: 299,850 edges; α = 10, 20 bags, as
//! CellOracle's `get_links`) beside CellOracle's own fit of the same matrix, with time, peak RSS
//! and agreement of the edges. Goal: ≥ 50× faster than CellOracle, Spearman of coef ≥ 0.9 on
//! shared edges.
//!
//! The input is the control cells of a simulated screen with a planted GRN, normalised and
//! log-transformed (`factories::log_screen`), stored as the sparse Arrow table `preprocess`
//! writes. Measurements:
//! * gcrl: `bagging_ridge` + `filter_edges` (FDR 0.05, GMM split) on 1 and 2 threads, each repeat
//!   in a fresh child process (this program re-invoked with `--child DIR THREADS`) that loads the
//!   table as the `grn` node does (sparse table → CSR → dense f64); the time excludes the load;
//!   peak RSS is the child's `VmHWM`, beside its RSS once the input is loaded.
//! * `gcrl run` of a one-node `grn` workflow on that file: wall time and peak RSS (`wait4`).
//! * CellOracle (`benches/peers/celloracle_grn.py`, interpreter `GCRL_CELLORACLE_PYTHON`, default
//!   `GCRL_PYTHON`): `standard` + `Net` + `fit_genes(bagging_number=20, alpha=10)` +
//!   `updateLinkList`, with `n_jobs` 1 and −1 (the default), on `GCRL_BENCH_PEER_TARGETS` (16)
//!   targets spread over the genes; its time for all 2,000 targets is setup + fit × 2,000 / 16
//!   (the fit is a loop over targets). It also compares its edges with gcrl's (scipy `spearmanr`).
//!
//! Run: `flock /work/.build.lock cargo bench --bench grn` (about 8 minutes on 2 cores).

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use gcrl::algo::ridge::{GrnOptions, Keep, bagging_ridge, filter_edges};
use gcrl::table::{SparseMatrix, read_table_file, write_table_file};

use common::factories::log_screen;
use common::{Report, median, parse_kv, repeats};

const CELLS: usize = 10_000;
const GENES: usize = 2_000;
const TFS: usize = 150;
const MIB: f64 = 1024.0 * 1024.0;

/// Every gene regressed on every TF but itself (the TFs are the first `TFS` columns).
fn candidates() -> Vec<(usize, Vec<usize>)> {
    (0..GENES).map(|t| (t, (0..TFS).filter(|&r| r != t).collect())).collect()
}

/// The child: load as the node does, fit, print `secs= hwm_kib= base_kib= edges= kept=`; with
/// `edges.tsv` absent, write the edges there for the comparison with CellOracle.
fn child(dir: &Path, threads: usize) {
    let table = read_table_file(&dir.join("expression.arrow")).expect("read the expression table");
    let m = SparseMatrix::from_table(&table).expect("sparse expression");
    drop(table);
    let x = m.csr.to_dense().mapv(f64::from);
    let candidates = candidates();
    let base = common::rss_kib().unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("rayon pool");
    let (secs, (edges, kept)) = common::time(|| {
        pool.install(|| {
            let edges = bagging_ridge(x.view(), &m.cols, &candidates, &GrnOptions::default()).expect("bagging_ridge");
            let filtered = filter_edges(&edges, 0.05, Keep::Gmm).expect("filter_edges");
            (edges, filtered.kept.iter().filter(|&&k| k).count())
        })
    });
    let hwm = common::peak_rss_kib().unwrap_or(0);
    println!("secs={secs} hwm_kib={hwm} base_kib={base} edges={} kept={kept}", edges.len());
    let path = dir.join("edges.tsv");
    if !path.exists() {
        let mut tsv = String::from("source\ttarget\tcoef_mean\tp\n");
        for e in &edges {
            let _ = writeln!(tsv, "{}\t{}\t{}\t{}", m.cols[e.source], m.cols[e.target], e.coef_mean, e.p);
        }
        std::fs::write(path, tsv).expect("write edges");
    }
}

/// Writes the bench inputs to `dir`; the byte sizes of the dense f64 matrix and of the CSR.
fn write_inputs(dir: &Path) -> (usize, usize) {
    let (screen, tfs) = log_screen(CELLS, TFS, GENES, 7);
    write_table_file(&screen.to_table().expect("table"), &dir.join("expression.arrow")).expect("write table");
    std::fs::write(dir.join("tfs.txt"), tfs.join("\n") + "\n").expect("write tfs");
    std::fs::write(dir.join("genes.txt"), screen.cols.join("\n") + "\n").expect("write genes");
    let dense: Vec<u8> = screen.csr.to_dense().iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("expression.f32"), dense).expect("write dense matrix");
    std::fs::write(
        dir.join("grn.yaml"),
        "name: bench-grn\nnodes:\n  grn:\n    kind: grn\n    inputs: {expression: {file: expression.arrow}, tfs: {file: tfs.txt}}\n    params: {alpha: 10, bagging: 20, fdr: 0.05, keep: gmm}\n",
    )
    .expect("write workflow");
    let nnz = screen.csr.nnz();
    (CELLS * GENES * 8, nnz * 8 + (CELLS + 1) * 8)
}

fn gcrl_fit(report: &mut Report, dir: &Path) {
    let exe = std::env::current_exe().expect("own path");
    let n = repeats();
    for threads in [1, 2] {
        let (mut secs, mut hwm, mut base) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let out = Command::new(&exe).arg("--child").arg(dir).arg(threads.to_string()).output().expect("child");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
            secs.push(parse_kv(&stdout, "secs").unwrap_or(f64::NAN));
            hwm.push(parse_kv(&stdout, "hwm_kib").unwrap_or(f64::NAN) / 1024.0);
            base.push(parse_kv(&stdout, "base_kib").unwrap_or(f64::NAN) / 1024.0);
        }
        let plural = if threads > 1 { "s" } else { "" };
        report.add(&format!("fit, {threads} thread{plural}"), "gcrl", median(&secs), "s", n, &common::spread(&secs));
        report.add(
            &format!("fit peak RSS, {threads} thread{plural}"),
            "gcrl",
            median(&hwm),
            "MiB",
            n,
            &format!("VmHWM of the child; {:.0} MiB once the input is loaded", median(&base)),
        );
    }
}

fn gcrl_run(report: &mut Report, dir: &Path) {
    let bin = match common::gcrl_binary() {
        Ok(b) => b,
        Err(e) => return report.note(format!("gcrl run skipped: {e}")),
    };
    let n = repeats();
    let (mut secs, mut rss) = (Vec::new(), Vec::new());
    for r in 0..n {
        let cache = dir.join(format!("cache-{r}"));
        let mut cmd = Command::new(&bin);
        cmd.arg("run").arg(dir.join("grn.yaml")).arg("--cache").arg(&cache).arg("-q");
        match common::time_command_rss(&mut cmd, &dir.join("run.log")) {
            Ok((s, kib)) => {
                secs.push(s);
                rss.push(kib as f64 / 1024.0);
            }
            Err(e) => return report.note(format!("gcrl run failed: {e}")),
        }
        common::remove(&cache);
    }
    report.add("gcrl run grn (node, cold cache)", "gcrl", median(&secs), "s", n, &common::spread(&secs));
    report.add("gcrl run grn peak RSS", "gcrl", median(&rss), "MiB", n, "ru_maxrss of the process");
}

fn peer(report: &mut Report, dir: &Path) {
    let py = std::env::var("GCRL_CELLORACLE_PYTHON").unwrap_or_else(|_| common::python());
    let py = match common::interpreter_with(py, &["celloracle", "scipy"]) {
        Ok(py) => py,
        Err(why) => return report.note(format!("peer skipped: {why} (GCRL_CELLORACLE_PYTHON)")),
    };
    let targets = common::env_usize("GCRL_BENCH_PEER_TARGETS", 16);
    let n = repeats();
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let args = [
        path("expression.f32"),
        path("genes.txt"),
        TFS.to_string(),
        targets.to_string(),
        n.to_string(),
        "1,-1".into(),
        path("edges.tsv"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match common::run_python(&py, include_str!("peers/celloracle_grn.py"), &args) {
        Ok(o) => o,
        Err(e) => return report.note(format!("CellOracle peer failed: {e}")),
    };
    for jobs in [1, -1] {
        let full: Vec<f64> = out
            .lines()
            .filter(|l| parse_kv(l, "n_jobs") == Some(jobs as f64))
            .map(|l| {
                let (setup, fit) = (parse_kv(l, "setup").unwrap_or(f64::NAN), parse_kv(l, "fit").unwrap_or(f64::NAN));
                setup + fit * GENES as f64 / parse_kv(l, "targets").unwrap_or(f64::NAN)
            })
            .collect();
        report.add(
            &format!("fit, CellOracle n_jobs={jobs}"),
            "celloracle",
            median(&full),
            "s",
            full.len(),
            &format!("setup + fit of {targets} targets × {GENES}/{targets}; {}", common::spread(&full)),
        );
    }
    let last = out.lines().last().unwrap_or("");
    let version = last.rsplit("version=").next().unwrap_or("?");
    report.note(format!("CellOracle {version}, peak RSS {:.0} MiB (fitting {targets} targets)", {
        parse_kv(last, "maxrss_kib").unwrap_or(f64::NAN) / 1024.0
    }));
    let shared = parse_kv(last, "shared").unwrap_or(f64::NAN);
    for (key, what) in [
        ("spearman_all", "Spearman coef, all shared edges"),
        ("spearman_top", "Spearman coef, top 10% edges"),
        ("top_overlap", "top 10% edges in common"),
    ] {
        let v = parse_kv(last, key).unwrap_or(f64::NAN);
        report.add(what, "gcrl~celloracle", v, "", 1, &format!("{shared} edges of {targets} targets; goal >= 0.9"));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(Path::new(&args[i + 1]), args[i + 2].parse().expect("thread count"));
        return;
    }
    let mut report = Report::new("grn");
    let dir = common::temp_dir("gcrl-bench-grn-");
    let (dense, csr) = write_inputs(dir.path());
    let file = std::fs::metadata(dir.path().join("expression.arrow")).map(|m| m.len()).unwrap_or(0);
    report.note(format!(
        "input: {CELLS} cells × {GENES} genes × {TFS} TFs; dense f64 {:.0} MiB, CSR f32 {:.0} MiB, Arrow file {:.0} MiB",
        dense as f64 / MIB,
        csr as f64 / MIB,
        file as f64 / MIB
    ));
    gcrl_fit(&mut report, dir.path());
    gcrl_run(&mut report, dir.path());
    peer(&mut report, dir.path());
    for (threads, plural) in [(1, ""), (2, "s")] {
        report.ratio(
            &format!("CellOracle n_jobs=1 / gcrl {threads} thread{plural}"),
            ("fit, CellOracle n_jobs=1", "celloracle"),
            (&format!("fit, {threads} thread{plural}"), "gcrl"),
            "goal >= 50",
        );
    }
    report.ratio(
        "CellOracle n_jobs=-1 / gcrl 2 threads",
        ("fit, CellOracle n_jobs=-1", "celloracle"),
        ("fit, 2 threads", "gcrl"),
        "goal >= 50",
    );
    report.finish();
}
