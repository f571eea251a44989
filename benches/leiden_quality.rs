//! Leiden quality beside leidenalg on a real TF–TF graph (issue 16): the 158-TF CollecTRI graph
//! (`tests/crosscheck/collectri.rs`, built as the `leiden-sweep` node builds its graph), γ =
//! 0.9..2.0 by 0.1, `GCRL_BENCH_QUALITY_SEEDS` (default 200) seeds each of
//! `gcrl::algo::leiden::leiden` (defaults) and of `leidenalg.find_partition`
//! (`RBConfigurationVertexPartition`, weights, `n_iterations = -1` and its default 2). Every
//! partition is scored by one evaluator, igraph's `Graph.modularity(membership, weights,
//! resolution)`, inside `tests/crosscheck/leiden.py`. Per γ: the mean qualities, the fraction of
//! (gcrl run, leidenalg run) pairs where gcrl's is higher (and equal), and the time per run of
//! each side.
//!
//! Run: `/work/gcargo bench --bench leiden_quality` (about 2 minutes, mostly leidenalg). Goal:
//! gcrl's mean ≥ leidenalg's (`n_iterations = -1`) at every γ.

mod common;

#[path = "../tests/crosscheck/collectri.rs"]
mod collectri;

use std::io::Write as _;
use std::process::{Command, Stdio};

use gcrl::algo::leiden::{Graph, LeidenOptions, leiden};
use serde_json::{Value, json};

use common::{Report, time};

/// Runs `tests/crosscheck/leiden.py` on one request; its JSON answer.
fn leidenalg(py: &str, request: &Value) -> Result<Value, String> {
    let script = common::root().join("tests/crosscheck/leiden.py");
    let mut child = Command::new(py)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{py}`: {e}"))?;
    let bytes = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    writer.join().map_err(|_| "stdin writer panicked")?.map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("leiden.py failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("leiden.py printed invalid JSON: {e}"))
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Fractions of pairs `(a, b)` with `a > b` and with `a == b` (within 1e-12).
fn wins(ours: &[f64], theirs: &[f64]) -> (f64, f64) {
    let (mut higher, mut equal) = (0usize, 0usize);
    for a in ours {
        for b in theirs {
            if (a - b).abs() <= 1e-12 {
                equal += 1;
            } else if a > b {
                higher += 1;
            }
        }
    }
    let pairs = (ours.len() * theirs.len()) as f64;
    (higher as f64 / pairs, equal as f64 / pairs)
}

fn main() {
    let mut report = Report::new("leiden-quality");
    let (nodes, edges) = collectri::collectri_tf_graph();
    let g = Graph::from_edges(nodes.len(), &edges).expect("graph");
    report.note(format!(
        "graph: CollecTRI TF–TF, {} TFs, {} edges, total weight {}",
        nodes.len(),
        edges.len(),
        g.total_weight()
    ));
    let py = match common::python_with(&["igraph", "leidenalg"]) {
        Ok(py) => py,
        Err(why) => {
            report.note(format!("peer skipped: {why}"));
            report.finish();
            return;
        }
    };
    let seeds = common::env_usize("GCRL_BENCH_QUALITY_SEEDS", 200) as u64;
    let opts = LeidenOptions::default();
    let mut table = vec![format!(
        "{:>4} {:>10} {:>10} {:>8} {:>7} {:>7} {:>10} {:>7}",
        "γ", "gcrl", "la(-1)", "Δ %", "win", "tie", "la(2)", "win(2)"
    )];
    for step in 0..12 {
        let gamma = (9 + step) as f64 / 10.0;
        let (secs, ours) =
            time(|| (0..seeds).map(|s| leiden(&g, gamma, s, &opts).expect("leiden")).collect::<Vec<_>>());
        let mut request = json!({
            "n": nodes.len(),
            "edges": edges.iter().map(|&(i, j, w)| json!([i, j, w])).collect::<Vec<_>>(),
            "resolution": gamma,
            "seeds": (0..seeds).collect::<Vec<_>>(),
            "partitions": ours.iter().map(|p| &p.labels).collect::<Vec<_>>(),
        });
        let mut answers = Vec::new();
        for n_iterations in [-1, 2] {
            request["n_iterations"] = json!(n_iterations);
            match leidenalg(&py, &request) {
                Ok(a) => answers.push(a),
                Err(e) => {
                    report.note(format!("leidenalg peer failed: {e}"));
                    report.finish();
                    return;
                }
            }
        }
        let q_ours = numbers(&answers[0]["modularity"]);
        let (q_until, q_two) = (numbers(&answers[0]["quality"]), numbers(&answers[1]["quality"]));
        let (win, tie) = wins(&q_ours, &q_until);
        let (win_two, _) = wins(&q_ours, &q_two);
        let (m_ours, m_until, m_two) = (mean(&q_ours), mean(&q_until), mean(&q_two));
        let case = |what: &str| format!("γ={gamma:.1} {what}");
        report.add(&case("mean quality"), "gcrl", m_ours, "Q", seeds as usize, "igraph modularity");
        report.add(&case("mean quality"), "leidenalg", m_until, "Q", seeds as usize, "n_iterations=-1");
        report.add(&case("mean quality"), "leidenalg-2", m_two, "Q", seeds as usize, "n_iterations=2");
        report.add(&case("pairs gcrl higher"), "gcrl", win, "frac", seeds as usize, &format!("equal {tie:.3}"));
        report.add(&case("ms per run"), "gcrl", secs / seeds as f64 * 1e3, "ms", 1, "1 thread");
        report.add(
            &case("ms per run"),
            "leidenalg",
            answers[0]["seconds_per_run"].as_f64().unwrap_or(f64::NAN) * 1e3,
            "ms",
            1,
            "n_iterations=-1",
        );
        table.push(format!(
            "{gamma:>4.1} {m_ours:>10.6} {m_until:>10.6} {:>+8.3} {win:>7.3} {tie:>7.3} {m_two:>10.6} {win_two:>7.3}",
            100.0 * (m_ours - m_until) / m_until.abs()
        ));
    }
    println!("\nmean igraph modularity over {seeds} seeds; win = share of (gcrl, leidenalg) run pairs gcrl higher");
    for line in &table {
        println!("{line}");
    }
    report.finish();
}
