//! Scale benchmark (issue 21): how wall time and peak memory grow with the screen. For each size
//! (`GCRL_SCALE_CELLS`, default 10k, 100k, 1M and 2.5M cells × 8,000 genes, ≈ 1,500 non-zeros
//! per cell, 2,000 perturbations, gzip; made by `benches/peers/make_screen.py` with anndata a
//! block at a time and kept under `GCRL_BENCH_DIR`), two whole `gcrl run`s on a fresh cache:
//! `load` → `pseudobulk` (mean and fraction per target) and `load` → `preprocess`
//! (normalize_total 1e4, log1p, 2,000 `seurat` HVGs, the HVG matrix written), each beside its
//! scanpy equivalent for screens larger than memory: `read_h5ad(backed="r")` processed 65,536
//! cells at a time (`benches/peers/scale_peer.py`). Wall time and peak RSS (`ru_maxrss`, which
//! counts mapped file pages) of each whole process; median of `GCRL_BENCH_REPEATS` (default 3)
//! runs below 1M cells, one run from 1M up. Writes the CSV and `benches/results/<date>-scale.svg`.
//!
//! Run: `GCRL_BENCH_DIR=/big/disk flock /tmp/gcrl-build.lock cargo bench --bench scale` (2.5M
//! cells need ≈ 9 GB for the file and ≈ 35 GB for one cache).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Report, median, parse_kv, repeats, time_command_rss};
use plotters::prelude::*;

const STEPS: [(&str, &str); 2] = [("pseudobulk", "load+pseudobulk"), ("preprocess", "load+preprocess")];

fn workflow(file: &Path, step: &str) -> String {
    let node = match step {
        "pseudobulk" => {
            "  bulk:\n    kind: pseudobulk\n    inputs: { expression: data.expression, cells: data.cells }\n"
        }
        _ => {
            "  prep:\n    kind: preprocess\n    inputs: { counts: data.expression }\n    params: { target_sum: 10000, n_top_genes: 2000, flavor: seurat }\n"
        }
    };
    format!(
        "name: scale\nnodes:\n  data:\n    kind: load\n    inputs: {{ file: {{ file: {} }} }}\n    params: {{ perturbation_column: target }}\n{node}",
        file.display()
    )
}

fn screen(py: &str, dir: &Path, cells: usize) -> Result<PathBuf, String> {
    let path = dir.join(format!("cells{cells}.h5ad"));
    let done = path.with_extension("h5ad.done");
    if !(path.exists() && done.exists()) {
        println!("  generating {} …", path.display());
        let script = common::root().join("benches/peers/make_screen.py");
        let out =
            Command::new(py).arg(&script).arg(&path).arg(cells.to_string()).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr)));
        }
        std::fs::write(&done, b"").map_err(|e| e.to_string())?;
    }
    Ok(path)
}

/// One measured point: (cells, seconds, MiB) per tool and step.
struct Point {
    cells: usize,
    step: &'static str,
    tool: &'static str,
    secs: f64,
    mib: f64,
}

fn main() {
    let mut report = Report::new("scale");
    let py = match common::python_with(&["anndata", "scanpy", "h5py"]) {
        Ok(py) => py,
        Err(e) => {
            report.note(e);
            report.finish();
            return;
        }
    };
    let gcrl = match common::gcrl_binary() {
        Ok(g) => g,
        Err(e) => {
            report.note(e);
            report.finish();
            return;
        }
    };
    let base = std::env::var_os("GCRL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join("gcrl-bench-scale");
    std::fs::create_dir_all(&dir).expect("make the bench directory");
    let sizes: Vec<usize> = std::env::var("GCRL_SCALE_CELLS")
        .unwrap_or_else(|_| "10000,100000,1000000,2500000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let peer = common::root().join("benches/peers/scale_peer.py");
    let mut points = Vec::new();
    for &cells in &sizes {
        let file = match screen(&py, &dir, cells) {
            Ok(f) => f,
            Err(e) => {
                report.note(format!("{cells} cells: {e}"));
                continue;
            }
        };
        let runs = if cells >= 1_000_000 { 1 } else { repeats() };
        for (step, name) in STEPS {
            let work = common::temp_dir("gcrl-bench-scale-run");
            let wf = work.path().join("scale.yaml");
            std::fs::write(&wf, workflow(&file, step)).expect("write the workflow");
            let log = work.path().join("log.txt");
            let mut measured: [(Vec<f64>, Vec<f64>); 2] = Default::default();
            for r in 0..runs {
                let cache = work.path().join(format!("cache{r}"));
                let mut cmd = Command::new(&gcrl);
                cmd.arg("run").arg(&wf).arg("--cache").arg(&cache).arg("--quiet");
                match time_command_rss(&mut cmd, &log) {
                    Ok((secs, kib)) => {
                        measured[0].0.push(secs);
                        measured[0].1.push(kib as f64 / 1024.0);
                    }
                    Err(e) => report.note(format!("gcrl {name} {cells}: {e}")),
                }
                common::remove(&cache);
                let out = work.path().join("peer");
                std::fs::create_dir_all(&out).expect("make the peer's directory");
                let mut cmd = Command::new(&py);
                cmd.arg(&peer).arg(step).arg(&file).arg(&out);
                match time_command_rss(&mut cmd, &log) {
                    Ok((secs, kib)) => {
                        measured[1].0.push(secs);
                        measured[1].1.push(kib as f64 / 1024.0);
                        let text = std::fs::read_to_string(&log).unwrap_or_default();
                        if let Some(w) = parse_kv(&text, "work") {
                            report.note(format!("scanpy {name} {cells}: {w:.1} s without imports"));
                        }
                    }
                    Err(e) => report.note(format!("scanpy backed {name} {cells}: {e}")),
                }
                common::remove(&out);
            }
            let case = format!("{name} {cells}");
            for (k, tool) in ["gcrl", "scanpy-backed"].into_iter().enumerate() {
                let (secs, mib) = &measured[k];
                if secs.is_empty() {
                    continue;
                }
                report.add(
                    &case,
                    tool,
                    median(secs),
                    "s",
                    secs.len(),
                    &format!("whole process; {}", common::spread(secs)),
                );
                report.add(&format!("{case} peak RSS"), tool, median(mib), "MiB", mib.len(), "ru_maxrss");
                points.push(Point { cells, step, tool, secs: median(secs), mib: median(mib) });
            }
            report.ratio(&format!("{case}: scanpy / gcrl time"), (&case, "scanpy-backed"), (&case, "gcrl"), "");
            report.ratio(
                &format!("{case}: gcrl / scanpy peak RSS"),
                (&format!("{case} peak RSS"), "gcrl"),
                (&format!("{case} peak RSS"), "scanpy-backed"),
                "goal at 2.5M: gcrl <= 6 GiB",
            );
        }
    }
    let svg = common::root().join(format!("benches/results/{}-scale.svg", common::today()));
    match plot(&points, &svg) {
        Ok(()) => report.note(format!("plot: {}", svg.display())),
        Err(e) => report.note(format!("no plot: {e}")),
    }
    report.finish();
}

/// Wall time and peak RSS against cells, log–log, one line per tool and step.
fn plot(points: &[Point], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if points.is_empty() {
        return Err("nothing measured".into());
    }
    let root = SVGBackend::new(path, (1100, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let (x0, x1) = (
        points.iter().map(|p| p.cells).min().unwrap_or(1) as f64 / 1.5,
        points.iter().map(|p| p.cells).max().unwrap_or(1) as f64 * 1.5,
    );
    let metrics: [(&str, fn(&Point) -> f64); 2] = [("wall time (s)", |p| p.secs), ("peak RSS (MiB)", |p| p.mib)];
    for (panel, (label, value)) in panels.iter().zip(metrics) {
        let y0 = points.iter().map(value).fold(f64::INFINITY, f64::min) / 1.5;
        let y1 = points.iter().map(value).fold(0.0, f64::max) * 1.5;
        let mut chart = ChartBuilder::on(panel)
            .caption(label, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d((x0..x1).log_scale(), (y0.max(1e-3)..y1).log_scale())?;
        chart.configure_mesh().x_desc("cells").draw()?;
        for (i, (tool, step)) in [
            ("gcrl", "pseudobulk"),
            ("gcrl", "preprocess"),
            ("scanpy-backed", "pseudobulk"),
            ("scanpy-backed", "preprocess"),
        ]
        .into_iter()
        .enumerate()
        {
            let line: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.tool == tool && p.step == step)
                .map(|p| (p.cells as f64, value(p)))
                .collect();
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
                .label(format!("{tool} load+{step}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    }
    root.present()?;
    Ok(())
}
