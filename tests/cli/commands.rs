//! The read-only commands: `kinds`, `dag`, `show`, `export` (tables and `.h5ad`).

use std::process::Command;

use super::fixtures::SMALL;
use super::test::Test;

/// What a user reads from `kinds`, `plan` (before and after a run), `run --json` and `status`,
/// pinned as insta snapshots (`tests/cli/snapshots/`): a change of any wording, column or
/// count shows in review. Run time and the temp directory are redacted.
#[test]
fn the_text_of_kinds_plan_run_and_status_is_pinned() {
    let t = Test::new().workflow(SMALL);
    let dir = t.path().display().to_string();
    let text = |args: &[&str]| {
        let out = t.args(args.to_vec()).run().success();
        format!("{}{}", out.stdout, out.stderr).replace(&dir, "[dir]")
    };
    insta::assert_snapshot!("kinds", text(&["kinds"]));
    insta::assert_snapshot!("plan_before_a_run", text(&["plan"]));
    let mut run = t.args(["run", "--json"]).run().success().json();
    assert!(run["seconds"].as_f64().is_some_and(|s| s >= 0.0), "{run}");
    run["seconds"] = "[seconds]".into();
    insta::assert_snapshot!("run_json", serde_json::to_string_pretty(&run).unwrap());
    insta::assert_snapshot!("plan_after_a_run", text(&["plan"]));
    insta::assert_snapshot!("status_without_slurm_runs", text(&["status"]));
}

#[test]
fn kinds_lists_every_kind_with_its_ports_and_params() {
    let t = Test::new();
    let json = t.args(["kinds", "--json"]).run().success().json();
    let kinds = json.as_array().expect("kinds --json is a list");
    let names: Vec<&str> = kinds.iter().map(|k| k["name"].as_str().unwrap()).collect();
    for diag in ["diag-numbers", "diag-sum", "diag-sweep"] {
        assert!(names.contains(&diag), "{names:?}");
    }
    for k in kinds {
        assert!(!k["doc"].as_str().unwrap_or_default().is_empty(), "{} has a doc line", k["name"]);
        assert!(!k["outputs"].as_array().unwrap().is_empty(), "{} has outputs", k["name"]);
    }
    let text = t.args(["kinds"]).run().success();
    for name in &names {
        assert!(text.stdout.contains(&format!("{name} (v")), "`kinds` lists {name}:\n{}", text.stdout);
    }
    text.stdout_has(&["in   after", "out  values", "param n", "= 10", "param shards"]);
}

#[test]
fn kinds_of_one_kind_and_of_a_misspelt_one() {
    let t = Test::new();
    let out = t.args(["kinds", "diag-sum"]).run().success();
    assert!(out.stdout.contains("diag-sum (v1)") && !out.stdout.contains("diag-numbers"), "{}", out.stdout);
    t.args(["kinds", "diag-summ"])
        .run()
        .status(2)
        .stderr_has(&["unknown kind `diag-summ`", "did you mean `diag-sum`?"]);
}

#[test]
fn dag_dot_has_every_node_and_edge() {
    let t = Test::new().workflow(SMALL);
    let out = t.args(["dag", "--format", "dot"]).run().success();
    let out = out.stdout_has(&[
        "digraph \"small\"",
        "\"a\" [label=",
        "\"b\" [label=",
        "\"s\" [label=",
        "\"sw\" [label=",
        "(diag-sum)",
        "\"a\" -> \"s\"",
        "\"b\" -> \"s\"",
        "×2",
    ]);
    assert!(out.stdout.trim_end().ends_with('}'));
    // dot is the default.
    assert_eq!(t.args(["dag"]).run().success().stdout, out.stdout);
}

#[test]
fn dag_mermaid_has_every_node_and_edge() {
    let t = Test::new().workflow(SMALL);
    let out = t.args(["dag", "--format", "mermaid"]).run().success();
    out.stdout_has(&["flowchart LR", "  a[\"a", "  b[\"b", "  s[\"s", "  sw[\"sw", "a -->|", "| s", "b -->|"]);
}

#[test]
fn dag_shows_file_inputs() {
    let t = Test::new()
        .write("numbers.csv", "value\n1.5\n2.5\n")
        .workflow("name: f\nnodes:\n  s:\n    kind: diag-sum\n    inputs: {values: {file: numbers.csv}}\n");
    t.args(["dag"]).run().success().stdout_has(&["numbers.csv", "-> \"s\""]);
    // And the file is read: its sum is 4.
    t.run_ok(&[]);
    t.args(["show", "s.sum"]).run().success().stdout_has(&["| 4.0", "1 rows × 2 columns"]);
}

#[test]
fn show_prints_shape_and_head() {
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    let out = t.args(["show", "sw.values", "--rows", "2"]).run().success();
    out.stdout_has(&["sw.values: 12 rows × 2 columns", "shard", "value"]);
    t.args(["show", "s.sum"]).run().success().stdout_has(&["s.sum: 1 rows × 2 columns", "| 2 "]);
}

#[test]
fn show_refuses_what_is_not_cached_or_ambiguous_or_unknown() {
    let t = Test::new().workflow(SMALL);
    t.args(["show", "a.values"]).run().status(2).stderr_has(&["not in the cache", "gcrl run"]);
    t.run_ok(&[]);
    t.args(["show", "swept.values"]).run().status(2).stderr_has(&["swept", "--set swept.seed="]);
    t.args(["show", "swept.values", "--set", "swept.seed=2"]).run().success().stdout_has(&["10 rows × 1 columns"]);
    t.args(["show", "a.valeus"]).run().status(2).stderr_has(&["no output `valeus`", "did you mean `values`?"]);
    t.args(["show", "aa.values"]).run().status(2).stderr_has(&["unknown node `aa`"]);
    t.args(["show", "avalues"]).run().status(2).stderr_has(&["not `node.output`"]);
}

#[test]
fn export_writes_csv_tsv_parquet_and_arrow() {
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    for ext in ["csv", "tsv", "parquet", "arrow"] {
        let file = format!("out.{ext}");
        t.args(["export", "sw.values", "--to", &file]).run().success().stderr_has(&["12 rows × 2 columns"]);
    }
    let read = |f: &str| std::fs::read(t.path().join(f)).unwrap();
    let csv = String::from_utf8(read("out.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("shard,value"));
    assert_eq!(csv.lines().count(), 13);
    let tsv = String::from_utf8(read("out.tsv")).unwrap();
    assert_eq!(tsv.lines().next(), Some("shard\tvalue"));
    assert_eq!(tsv.lines().count(), 13);
    let parquet = read("out.parquet");
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"), "parquet magic");
    let arrow = read("out.arrow");
    assert!(arrow.starts_with(b"ARROW1") && arrow.ends_with(b"ARROW1"), "Arrow IPC file magic");
    // The exported Arrow file is a valid input to another workflow.
    t.put("w2.yaml", "name: w2\nnodes:\n  s:\n    kind: diag-sum\n    inputs: {values: {file: out.arrow}}\n");
    t.args(["run"]).file("w2.yaml").run().success();
}

#[test]
#[ignore = "needs GCRL_PYTHON with pyarrow; CI runs it"]
fn exported_arrow_and_parquet_files_read_back_equal_in_pyarrow() {
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    for file in ["out.arrow", "out.parquet"] {
        t.args(["export", "sw.values", "--to", file]).run().success();
    }
    let script = "import sys, pyarrow.parquet as pq, pyarrow.feather as f\n\
                  a = f.read_table(sys.argv[1]); p = pq.read_table(sys.argv[2])\n\
                  assert a.num_rows == 12 and p.num_rows == 12, (a.num_rows, p.num_rows)\n\
                  assert a.column_names == ['shard', 'value'] == p.column_names\n\
                  assert a.equals(p)\n";
    let python = std::env::var("GCRL_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(["-c", script, "out.arrow", "out.parquet"])
        .current_dir(t.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{python}` ({e}): set GCRL_PYTHON to a Python with pyarrow"));
    assert!(out.status.success(), "pyarrow: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn export_to_an_unknown_extension_fails_cleanly() {
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    // Exit 2 (usage: the command line is wrong), naming the file and the formats there are.
    t.args(["export", "a.values", "--to", "out.xlsx"]).run().status(2).stderr_has(&[
        "out.xlsx: unknown table format",
        ".csv, .tsv, .txt (optionally .gz), .arrow, .feather, .parquet",
        ".h5ad",
    ]);
    assert!(!t.path().join("out.xlsx").exists(), "nothing is written");
    t.args(["export", "a.values", "--to", "out.arrow.gz"]).run().status(2).stderr_has(&["only text tables"]);
}

#[test]
fn export_to_h5ad_round_trips_through_load_and_refuses_what_it_cannot_write() {
    let t = Test::new().workflow(
        "name: x\nnodes:\n  data:\n    kind: simulate\n    params: {tfs: 6, communities: 2, targets: 10, \
         control_cells: 20, singles: 2, doubles: 0, cells_per_perturbation: 5}\n  n:\n    kind: diag-numbers\n",
    );
    t.run_ok(&[]);
    t.args(["export", "data.counts", "--to", "x.h5ad"])
        .run()
        .success()
        .stderr_has(&["wrote x.h5ad (30 cells × 16 genes)"]);
    t.put(
        "w2.yaml",
        "name: w2\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: x.h5ad}}\n    params: {all_controls: true}\n",
    );
    t.args(["run"]).file("w2.yaml").run().success();
    // Every value, cell and gene name survives: the two CSVs are the same bytes.
    t.args(["export", "l.expression", "--to", "back.csv"]).file("w2.yaml").run().success();
    t.args(["export", "data.counts", "--to", "here.csv"]).run().success();
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    let (back, here) = (read("back.csv"), read("here.csv"));
    assert!(here.starts_with("cell,TF1,") && here.lines().count() == 31, "{here}");
    assert!(back == here, "the h5ad round trip changed the matrix:\n{back}\nvs\n{here}");
    t.args(["export", "data.counts", "--to", "x2.h5ad", "--obs", "data.cells"]).run().success();
    t.args(["export", "data.counts", "--to", "x.csv", "--obsm", "X_tfa=n.values"])
        .run()
        .status(2)
        .stderr_has(&["--obs, --var, --obsm and --varm go with an .h5ad destination"]);
    t.args(["export", "n.values", "--to", "y.h5ad"]).run().status(3).stderr_has(&["X must be a cells × genes table"]);
    t.args(["export", "data.counts", "--to", "x.h5ad", "--obsm", "X_tfa=n.values"])
        .run()
        .status(3)
        .stderr_has(&["--obsm X_tfa=n.values"]);
    t.args(["export", "data.counts", "--to", "x.h5ad", "--obsm", "X_tfa"])
        .run()
        .status(2)
        .stderr_has(&["KEY=node.output"]);
    t.args(["export", "data.counts", "--to", "no/dir/x.h5ad"]).run().status(3).stderr_has(&["cannot write the file"]);
}
