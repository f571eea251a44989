//! The `report` node kind and `publish:`: a workflow that ends in its report, written to a file
//! after every run (also when cached), byte-identical for any `-j`, rerun only when what it shows
//! changes, and opened in headless Chromium like `gcrl report`'s page.

use std::collections::BTreeSet;
use std::path::Path;

use super::report::{FIGURES, PAPER, chromium, gmt, render};
use super::test::Test;

/// The report node appended to the paper workflow: every output of the nodes with figures
/// (bare ids), the ORA table by name, published beside the workflow.
fn with_report(paper: &str, align: &str) -> String {
    format!(
        "{paper}  report:\n    kind: report\n    inputs: {{from: [grn, communities, go.enrichment, {align}, perm]}}\n    \
         params: {{title: paper-small report}}\n    publish: {{html: results/report.html}}\n"
    )
}

/// Every `<figure id="…">` of a page.
fn figure_ids(html: &str) -> BTreeSet<String> {
    html.split("<figure id=\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
#[ignore = "needs chromium on PATH (apt-get install chromium); CI runs it"]
fn a_published_report_renders_in_chromium_with_every_figure() {
    let t = Test::new().write("sets.gmt", gmt()).workflow(&with_report(PAPER, "align"));
    t.run_ok(&["-j", "2"]);
    let shown = render(&chromium(), &t.path().join("results/report.html"));
    assert!(shown.console.is_empty(), "console messages: {:?}", shown.console);
    for id in FIGURES.iter().filter(|f| !["fig-dag", "fig-timings"].contains(*f)) {
        let at = shown.dom.find(&format!("<figure id=\"{id}\"><svg")).unwrap_or_else(|| panic!("{id} not rendered"));
        assert!(shown.dom[at..].contains("</svg>"), "{id}");
    }
}

#[test]
fn a_report_node_draws_what_gcrl_report_draws_republishes_and_reruns_only_for_what_it_shows() {
    let t = Test::new().write("sets.gmt", gmt()).workflow(&with_report(PAPER, "align"));
    let published = t.path().join("results/report.html");
    t.args(["plan"]).run().success().stdout_has(&["publish report.html -> results/report.html"]);
    let first = t.run_ok(&["-j", "2"]);
    assert_eq!(first.failed, 0);
    let page = read(&published);
    t.args(["report", "--out", "full.html"]).run().success();
    let full = read(&t.path().join("full.html"));
    let run_only: BTreeSet<String> = ["fig-dag", "fig-timings"].map(String::from).into();
    let expected: BTreeSet<String> = figure_ids(&full).difference(&run_only).cloned().collect();
    assert_eq!(figure_ids(&page), expected, "the node draws the figures `gcrl report` draws for its inputs");
    for id in FIGURES.iter().filter(|f| !run_only.contains(**f)) {
        assert!(page.contains(&format!("<figure id=\"{id}\"><svg")), "figure {id}");
    }
    assert!(page.contains("<title>paper-small report</title>") && page.contains("id=\"node-go-go-terms\""));
    for (node, output) in [("grn", "edges"), ("communities", "consensus"), ("go", "enrichment"), ("perm", "summary")] {
        assert!(page.contains(&format!("<tr><td>{node}</td><td>{output}</td>")), "provenance row {node}.{output}");
    }
    assert!(!page.contains("id=\"table-tasks\""), "no timings or cache hits in a content-addressed page");

    // A no-op run writes nothing, and brings back a deleted file.
    let again = t.args(["run", "--json"]).run().success();
    assert_eq!((again.summary().ran, again.json()["published"].as_u64()), (0, Some(0)));
    std::fs::remove_file(&published).unwrap();
    let back = t.args(["run", "--json"]).run().success();
    assert_eq!((back.summary().ran, back.json()["published"].as_u64()), (0, Some(1)));
    assert_eq!(read(&published), page, "the same bytes come back");

    // The same workflow with -j1 in a fresh cache: the same bytes.
    let t1 = Test::new().write("sets.gmt", gmt()).workflow(&with_report(PAPER, "align"));
    t1.run_ok(&["-j", "1"]);
    assert!(read(&t1.path().join("results/report.html")) == page, "the page is the same for -j1 and -j2");

    // Renaming an upstream node changes what the report shows: it reruns, nothing else does.
    let renamed = PAPER.replace("  align:\n", "  tmex:\n");
    t.put(super::test::WORKFLOW, with_report(&renamed, "tmex"));
    let after = t.run_ok(&["-j", "2"]);
    assert_eq!((after.ran, after.failed), (1, 0), "only the report reruns");
    let page = read(&published);
    assert!(page.contains("id=\"node-tmex-tmex-tfa_x_zhat\"") && !page.contains("node-align"));
}

#[test]
fn a_bare_node_id_in_a_list_stands_for_every_output_in_declaration_order() {
    let t = Test::new().workflow(
        "name: x\nnodes:\n  data:\n    kind: simulate\n  report:\n    kind: report\n    inputs: {from: [data]}\n",
    );
    let dot = t.args(["dag"]).run().success().stdout;
    let outputs: Vec<&str> = dot
        .lines()
        .filter(|l| l.contains("\"data\" -> \"report\""))
        .map(|l| l.split("label=\"").nth(1).unwrap())
        .collect();
    let kinds = t.args(["kinds", "simulate", "--json"]).run().success().json();
    let declared: Vec<String> = kinds[0]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{} → from\"];", o["name"].as_str().unwrap()))
        .collect();
    assert!(declared.len() > 3, "simulate has several outputs");
    assert_eq!(outputs, declared);
}

#[test]
fn publish_writes_each_instance_in_the_format_of_its_extension_and_reports_what_it_cannot() {
    let t = Test::new().workflow(
        "name: x\nnodes:\n  a:\n    kind: diag-numbers\n    sweep: {seed: [1, 2]}\n    \
         publish: {values: out/values.csv}\n  s:\n    kind: diag-sum\n    inputs: {values: [a]}\n    \
         publish: {sum: out/sum.parquet}\n",
    );
    let out = t.args(["run", "--json"]).run().success();
    assert_eq!(out.json()["published"].as_u64(), Some(3));
    for seed in [1, 2] {
        let csv = read(&t.path().join(format!("out/values_seed={seed}.csv")));
        assert_eq!((csv.lines().next(), csv.lines().count()), (Some("value"), 11), "seed {seed}");
    }
    let parquet = std::fs::read(t.path().join("out/sum.parquet")).unwrap();
    assert!(parquet.starts_with(b"PAR1"));
    assert!(
        std::fs::read_dir(t.path().join("out")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.')),
        "no temporary files are left"
    );
    // A table that is not one string cell cannot be an .html page.
    t.put(super::test::WORKFLOW, "name: x\nnodes:\n  a:\n    kind: diag-numbers\n    publish: {values: v.html}\n");
    t.args(["run"]).run().status(3).stderr_has(&["cannot publish", "v.html", "10 × 1 table", ".csv"]);
}
