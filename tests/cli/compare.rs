//! `gcrl compare WORKFLOW NODE.OUTPUT`: one row per sweep instance and recorded run, the params
//! that differ as columns, values equal to what `gcrl export` gives for each point; and the
//! report's section comparing a swept node's one-row outputs.

use super::test::{Test, csv_fields};

const SWEPT: &str = "\
name: cmp
nodes:
  a:
    kind: diag-numbers
    params: {n: 3, seed: 4}
  t:
    kind: diag-sum
    inputs: {values: a.values}
    sweep: {digits: [0, 2]}
";

/// `t.sum` as `gcrl export` writes it for one point (`--set` args).
fn exported_sum(t: &Test, set: &[&str]) -> f64 {
    let mut args = vec!["export", "t.sum", "--to", "one.csv"];
    args.extend_from_slice(set);
    t.args(args).run().success();
    let text = std::fs::read_to_string(t.path().join("one.csv")).unwrap();
    let header = csv_fields(text.lines().next().unwrap());
    let at = header.iter().position(|h| h == "sum").expect("a `sum` column");
    csv_fields(text.lines().nth(1).unwrap())[at].parse().unwrap()
}

#[test]
fn compare_puts_each_sweep_point_and_run_side_by_side_with_the_params_that_differ() {
    let t = Test::new().workflow(SWEPT);
    t.args(["compare", "t.sum"]).run().status(2).stderr_has(&["no recorded run of `cmp` holds `t.sum`", "gcrl run"]);
    t.run_ok(&[]);
    t.run_ok(&[]); // a no-op adds no rows
    let json = t.args(["compare", "t.sum", "--json"]).run().success().json();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{json}");
    assert_eq!((rows[0]["t.digits"].as_i64(), rows[1]["t.digits"].as_i64()), (Some(0), Some(2)), "{json}");
    assert!(rows[0].get("inputs").is_none(), "the inputs are the same: no column: {json}");
    for row in rows {
        let digits = row["t.digits"].as_i64().unwrap().to_string();
        let truth = exported_sum(&t, &["--set", &format!("t.digits={digits}")]);
        assert_eq!(row["sum"].as_f64(), Some(truth), "{json}");
    }
    // Another run upstream: two more rows, an `inputs` column tells the runs apart.
    t.run_ok(&["--set", "a.n=5"]);
    let json = t.args(["compare", "t.sum", "--json"]).run().success().json();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{json}");
    assert_eq!(rows[0]["run"], rows[1]["run"]);
    assert_ne!(rows[0]["run"], rows[2]["run"], "newest run first: {json}");
    assert_ne!(rows[0]["inputs"], rows[2]["inputs"], "{json}");
    let n: Vec<i64> = rows.iter().map(|r| r["a.n"].as_i64().unwrap()).collect();
    assert_eq!(n, [5, 5, 3, 3], "the upstream param that differs is a column: {json}");
    assert!(rows[0].get("a.seed").is_none(), "one that does not differ is not: {json}");
    assert_eq!(rows[0]["sum"].as_f64(), Some(exported_sum(&t, &["--set", "t.digits=0", "--set", "a.n=5"])));
    assert_eq!(rows[2]["sum"].as_f64(), Some(exported_sum(&t, &["--set", "t.digits=0"])));
    // --to writes the same table; the text shows it.
    t.args(["compare", "t.sum", "--to", "cmp.csv"]).run().success();
    let csv = std::fs::read_to_string(t.path().join("cmp.csv")).unwrap();
    let header = csv_fields(csv.lines().next().unwrap());
    assert_eq!(header[..4], ["run", "a.n", "t.digits", "inputs"], "{csv}");
    assert!(header.contains(&"sum".to_string()), "{csv}");
    assert_eq!(csv.lines().count(), 5, "{csv}");
    t.args(["compare", "t.sum"]).run().success().stdout_has(&["t.sum: 4 recorded results, 4 rows", "t.digits"]);
    t.args(["compare", "t.sum", "--to", "x.xlsx"]).run().status(2).stderr_has(&["x.xlsx"]);
}

#[test]
fn compare_of_a_table_output_repeats_the_params_on_each_of_its_rows() {
    let t = Test::new()
        .workflow("name: tab\nnodes:\n  a:\n    kind: diag-numbers\n    params: {n: 3}\n    sweep: {seed: [1, 2]}\n");
    t.run_ok(&[]);
    let json = t.args(["compare", "a.values", "--json"]).run().success().json();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "{json}");
    let seeds: Vec<i64> = rows.iter().map(|r| r["a.seed"].as_i64().unwrap()).collect();
    assert_eq!(seeds, [1, 1, 1, 2, 2, 2]);
    assert!(rows.iter().all(|r| r["value"].is_number()), "{json}");
}

#[test]
fn compare_refuses_a_large_output_and_an_unknown_one() {
    let t = Test::new().workflow("name: big\nnodes:\n  a:\n    kind: diag-numbers\n    params: {n: 150}\n");
    t.run_ok(&[]);
    t.args(["compare", "a.values"]).run().status(2).stderr_has(&["`a.values` of a has 150 rows", "gcrl export"]);
    t.args(["compare", "a.valuez"]).run().status(2).stderr_has(&["node `a` has no output `valuez`", "`values`"]);
}

#[test]
fn the_report_compares_the_one_row_outputs_of_a_swept_node_across_its_points() {
    let t = Test::new().workflow(SWEPT);
    t.run_ok(&[]);
    t.args(["report", "--out", "r.html"]).run().success();
    let page = std::fs::read_to_string(t.path().join("r.html")).unwrap();
    assert!(page.contains("id=\"sweeps\"") && page.contains("<table id=\"sweeps-t-sum\">"), "a sweeps section");
    assert!(page.contains("<th>t.digits</th><th>n</th><th>sum</th>"), "{page}");
    assert!(!page.contains("sweeps-a-values"), "a is not swept");
    for digits in [0, 2] {
        let sum = exported_sum(&t, &["--set", &format!("t.digits={digits}")]);
        let cell = if sum.fract() == 0.0 { format!("{sum:.0}") } else { format!("{sum:.4}") };
        let row = format!("<tr><td>{digits}</td><td>1</td><td>{cell}</td></tr>");
        assert!(page.contains(&row), "{row} in the sweeps table");
    }
}
