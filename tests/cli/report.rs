//! `gcrl report`: one self-contained HTML file with the figures of the nodes in the workflow and
//! the run's provenance, opened in headless Chromium (no console errors, every figure present,
//! a screenshot kept in `target/tmp/` for CI).
//!
//! Chromium: Debian's `chromium` (`.ci/run` installs it). The checks that open a page in it are
//! `#[ignore]`d, so a machine without it shows them as ignored; CI runs them (`-- --ignored`),
//! and run without Chromium they fail, saying what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::fixtures::THREE_TASKS;
use super::test::Test;

/// The paper's steps on a small simulated screen (seconds, not minutes).
pub const PAPER: &str = "\
name: paper-small
defaults: { seed: 3 }
nodes:
  data:
    kind: simulate
    params: { tfs: 20, communities: 3, targets: 60, control_cells: 300, singles: 10, doubles: 0, cells_per_perturbation: 20 }
  prep:
    kind: preprocess
    inputs: { counts: data.counts, cells: data.cells, tfs: data.tfs }
    params: { n_top_genes: 60 }
  grn:
    kind: grn
    inputs: { expression: prep.expression, tfs: data.tfs, cells: prep.cells }
    params: { bagging: 5 }
  communities:
    kind: leiden-sweep
    inputs: { grn: grn.edges, tfs: data.tfs }
    params: { resolution: { from: 0.9, to: 1.2, step: 0.1 }, runs: 20, block: 10, pairs: 20, cohesion_permutations: 100 }
  go:
    kind: ora
    inputs: { communities: communities.consensus, grn: grn.edges, gene_sets: { file: sets.gmt } }
    params: { min_size: 3, fdr: 1.0 }
  activities:
    kind: eigengene
    inputs: { expression: prep.expression, communities: communities.consensus, cells: prep.cells }
  ae:
    kind: ae-train
    inputs: { expression: prep.expression, communities: communities.consensus, cells: prep.cells }
    params: { epochs: 3, batch: 128 }
  align:
    kind: tmex-align
    inputs: { latent: ae.latent, activities: activities.activities }
  perm:
    kind: permutation-test
    inputs: { expression: prep.expression, communities: communities.consensus, cells: prep.cells }
    params: { epochs: 2, batch: 256, seeds: 2, permutations: 3, bootstrap: 50 }
";

/// Gene sets over the simulated names (TF01…TF20, G01…G60).
pub fn gmt() -> String {
    let tf = |i: usize| format!("TF{i:02}");
    let g = |i: usize| format!("G{i:02}");
    let mut out = String::new();
    for (k, (tfs, genes)) in [(1..8, 1..21), (8..15, 21..41), (15..21, 41..61), (1..21, 1..5)].into_iter().enumerate() {
        let members: Vec<String> = tfs.map(tf).chain(genes.map(g)).collect();
        out.push_str(&format!("SET_{k}\tgene set {k}\t{}\n", members.join("\t")));
    }
    out
}

/// Figure ids the paper workflow's report must hold.
pub const FIGURES: &[&str] = &[
    "node-grn-grn-coef",
    "node-communities-communities-stability",
    "node-communities-communities-ari-vi",
    "node-communities-communities-cohesion",
    "node-communities-communities-cohesion-null",
    "node-communities-communities-network",
    "node-align-align-tfa_x_zhat",
    "node-align-align-tfa_x_z",
    "node-perm-perm-null",
    "fig-dag",
    "fig-timings",
];

/// Chromium on PATH; a test that asks for it fails when it is missing.
pub fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh").args(["-c", &format!("command -v {name}")]).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!("no chromium on PATH: install it (apt-get install chromium), or leave this ignored test out")
}

/// What Chromium made of a page: its DOM after loading, and every console message.
pub struct Rendered {
    /// The DOM as serialised after loading.
    pub dom: String,
    /// Console messages.
    pub console: Vec<String>,
}

fn headless(chromium: &Path, page: &Path, extra: &[String]) -> std::process::Output {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs")
}

/// Loads `page` in headless Chromium.
pub fn render(chromium: &Path, page: &Path) -> Rendered {
    let out = headless(chromium, page, &["--dump-dom".into()]);
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    Rendered {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: stderr.lines().filter(|l| l.contains(":CONSOLE")).map(String::from).collect(),
    }
}

/// The paper workflow run, with `gcrl report`'s page written to `report.html`.
fn paper_report() -> Test {
    let t = Test::new().write("sets.gmt", gmt()).workflow(PAPER);
    t.run_ok(&["-j", "2"]);
    t.args(["report", "--out", "report.html"]).run().success().stderr_has(&["wrote report.html (5 figure sections"]);
    t
}

#[test]
fn the_report_of_the_paper_steps_holds_every_figure_and_nothing_external() {
    let t = paper_report();
    let html = std::fs::read_to_string(t.path().join("report.html")).unwrap();
    for id in FIGURES {
        let at = html.find(&format!("<figure id=\"{id}\"><svg")).unwrap_or_else(|| panic!("figure {id} is missing"));
        assert!(html[at..].contains("</svg><figcaption>"), "figure {id} holds one SVG");
    }
    for needle in
        ["id=\"node-go\"", "id=\"node-go-go-terms\"", "SET_", "id=\"table-tasks\"", "id=\"table-params\"", "boundary"]
    {
        assert!(html.contains(needle), "the report has {needle}");
    }
    for forbidden in ["<script", "http://", "https://", "<link", "<img"] {
        let allowed = forbidden == "http://"
            && html.matches("http://").count() == html.matches("xmlns=\"http://www.w3.org/").count();
        assert!(allowed || !html.contains(forbidden), "self-contained: no {forbidden}");
    }
}

#[test]
#[ignore = "needs chromium on PATH (apt-get install chromium); CI runs it"]
fn the_report_of_the_paper_steps_renders_in_chromium_with_every_figure() {
    let t = paper_report();
    let chromium = chromium();
    // The check can fail: a page that logs an error is caught.
    t.put("probe.html", "<!DOCTYPE html><html><body><script>console.error('gcrl-probe')</script></body></html>");
    let probe = render(&chromium, &t.path().join("probe.html"));
    assert!(probe.console.iter().any(|l| l.contains("gcrl-probe")), "console errors are seen: {:?}", probe.console);
    let page = render(&chromium, &t.path().join("report.html"));
    assert!(page.console.is_empty(), "console messages: {:?}", page.console);
    for id in FIGURES {
        let at = page.dom.find(&format!("<figure id=\"{id}\"><svg")).unwrap_or_else(|| panic!("{id} not rendered"));
        assert!(page.dom[at..].contains("</svg>"), "{id}");
    }
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let out = headless(
        &chromium,
        &t.path().join("report.html"),
        &[format!("--screenshot={}", shot.display()), "--window-size=1280,5000".into()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a real screenshot ({} bytes)", png.len());
    eprintln!("report screenshot: {}", shot.display());
}

fn task_row(html: &str, node: &str) -> Vec<String> {
    let start = html.find("id=\"table-tasks\"").expect("task table");
    let row = html[start..].split("<tr>").find(|r| r.starts_with(&format!("<td>{node}</td>"))).expect("row");
    row.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap().to_string()).collect()
}

#[test]
fn the_report_counts_what_ran_what_was_cached_and_what_is_missing() {
    let t = Test::new().workflow(THREE_TASKS);
    let out = t.args(["report", "--out", "r.html"]).run().success();
    out.stderr_has(&["3 of 3 tasks are not in the cache", "gcrl run"]);
    let html = std::fs::read_to_string(t.path().join("r.html")).unwrap();
    assert_eq!(task_row(&html, "a")[1..5], ["1", "0", "0", "1"], "tasks, ran, hits, missing");
    assert!(html.contains("<figure id=\"fig-dag\"><svg") && html.contains(">diag-sum</text>"), "the DAG names kinds");
    t.run_ok(&[]);
    t.run_ok(&["--set", "b.seed=5"]);
    t.args(["report", "--out", "r.html", "--set", "b.seed=5"]).run().success();
    let html = std::fs::read_to_string(t.path().join("r.html")).unwrap();
    assert_eq!(task_row(&html, "a")[1..5], ["1", "0", "1", "0"], "a was a cache hit");
    assert_eq!(task_row(&html, "b")[1..5], ["1", "1", "0", "0"], "b ran");
    assert_eq!(task_row(&html, "s")[1..5], ["1", "1", "0", "0"], "s ran");
    assert!(html.contains("&quot;n&quot;:3,&quot;scale&quot;:1.0,&quot;seed&quot;:5,"), "params are shown");
    // The report of other parameters is a report of what is missing.
    let out = t.args(["report", "--out", "r.html", "--set", "b.seed=6"]).run().success();
    out.stderr_has(&["2 of 3 tasks are not in the cache"]);
}

#[test]
fn a_report_that_cannot_be_written_says_where() {
    let t = Test::new().workflow(THREE_TASKS);
    t.args(["report", "--out", "no/such/dir/r.html"]).run().status(3).stderr_has(&["cannot write no/such/dir/r.html"]);
}
