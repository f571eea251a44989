//! `load` and `preprocess` on screens laid out as other projects lay them out (issue 15): guide-level
//! labels, a file's own `targets` column, missing guide calls, log-normalised matrices. Every test
//! checks the exact targets (or values) per cell, read back through `gcrl export`.

use std::path::Path;

use gcrl::algo::sparse::Csr;
use gcrl::io::h5ad_write::{Column, H5adContent, XData, write_h5ad};
use ndarray::Array2;

use super::test::{Test, csv_fields};

const GENES: [&str; 5] = ["ZAP70", "TP53", "GATA1", "NKX2-1", "G5"];

/// Writes an h5ad with `x` (cells × 5 genes) and the obs columns `obs`.
fn screen(path: &Path, x: &Array2<f32>, obs: Vec<(&str, Column)>) {
    let cells: Vec<String> = (0..x.nrows()).map(|i| format!("c{i}")).collect();
    let genes: Vec<String> = GENES.iter().map(|g| g.to_string()).collect();
    let csr = Csr::from_dense(&x.view()).unwrap();
    let content = H5adContent {
        obs_names: &cells,
        var_names: &genes,
        x: XData::Csr(&csr),
        obs: obs.into_iter().map(|(n, c)| (n.to_string(), c)).collect(),
        var: Vec::new(),
        obsm: Vec::new(),
        varm: Vec::new(),
        provenance: Vec::new(),
    };
    write_h5ad(path, &content).unwrap();
}

/// Integer counts, every gene detected in every cell.
fn counts(n: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, GENES.len()), |(i, j)| (1 + (i * 7 + j * 3) % 11) as f32)
}

fn text(values: &[&str]) -> Column {
    Column::Str(values.iter().map(|s| s.to_string()).collect())
}

/// An output exported as CSV (with the run's `--set`s) and read back as (header, rows of fields).
fn exported(t: &Test, workflow: &str, output: &str, sets: &[&str]) -> (Vec<String>, Vec<Vec<String>>) {
    let to = format!("{}.csv", output.replace('.', "_"));
    let mut args = vec!["export", output, "--to", to.as_str()];
    args.extend(sets);
    t.args(args).file(workflow).run().success();
    let body = std::fs::read_to_string(t.path().join(&to)).unwrap();
    let mut lines = body.lines().map(csv_fields);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

fn column(table: &(Vec<String>, Vec<Vec<String>>), name: &str) -> Vec<String> {
    let at = table.0.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {:?}", table.0));
    table.1.iter().map(|r| r[at].clone()).collect()
}

const GUIDES: [&str; 8] = [
    "ZAP70_1",
    "TP53_sg_172",
    "NonTargeting_sg_179",
    "",
    "NA",
    "ZAP70_2+TP53_1",
    "GATA1_g3+ZAP70_4+TP53_2",
    "NKX2-1_2",
];

fn guide_screen(t: &Test) {
    screen(
        &t.path().join("screen.h5ad"),
        &counts(GUIDES.len()),
        vec![
            ("perturbation", text(&GUIDES)),
            ("targets", text(&["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"])),
            ("n_guides", Column::I64(vec![1, 1, 1, 0, 0, 2, 3, 1])),
        ],
    );
}

#[test]
fn guide_level_labels_become_their_targets_and_missing_calls_are_dropped_not_controls() {
    let t = Test::new();
    guide_screen(&t);
    t.put(
        "w.yaml",
        "name: w\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: screen.h5ad}}\n    params: {perturbation_column: perturbation}\n",
    );
    let run = t.args(["run"]).file("w.yaml").run().success();
    let cells = exported(&t, "w.yaml", "l.cells", &[]);
    assert_eq!(column(&cells, "cell"), ["c0", "c1", "c2", "c5", "c7"]);
    assert_eq!(column(&cells, "targets"), ["ZAP70", "TP53", "", "TP53+ZAP70", "NKX2-1"]);
    assert_eq!(column(&cells, "n_targets"), ["1", "1", "0", "2", "1"]);
    // The file's own `targets` column is kept, under a name that cannot collide.
    assert_eq!(column(&cells, "targets_orig"), ["g1", "g2", "g3", "g6", "g8"]);
    let summary = exported(&t, "w.yaml", "l.summary", &[]);
    let field = |name: &str| column(&summary, name)[0].clone();
    assert_eq!(field("column"), "perturbation");
    assert_eq!(field("cells_read"), "8");
    assert_eq!(field("unassigned"), "2");
    assert_eq!(field("dropped_max_targets"), "1");
    assert_eq!((field("controls"), field("singles"), field("doubles")), ("1".into(), "3".into(), "1".into()));
    assert_eq!(field("targets_not_in_matrix"), "0");
    // The decision is in the run log too.
    assert!(
        run.stderr
            .contains("column `perturbation`, separators + ,: 8 cells read, 5 kept (1 controls, 3 singles, 1 doubles)"),
        "{}",
        run.stderr
    );
    let targets = exported(&t, "w.yaml", "l.targets", &[]);
    assert_eq!(column(&targets, "target"), ["NKX2-1", "TP53", "ZAP70"]);
    assert_eq!(column(&targets, "single_cells"), ["1", "1", "1"]);
    assert_eq!(column(&targets, "combination_cells"), ["0", "1", "1"]);

    // Only when the user says so are missing calls controls.
    let set = ["--set", "l.unassigned=control"];
    t.args(["run", set[0], set[1]]).file("w.yaml").run().success();
    let cells = exported(&t, "w.yaml", "l.cells", &set);
    assert_eq!(column(&cells, "cell"), ["c0", "c1", "c2", "c3", "c4", "c5", "c7"]);
    assert_eq!(column(&cells, "targets")[3..5], ["", ""]);
}

#[test]
fn a_target_column_is_preferred_over_the_guide_column_and_a_missing_one_is_named() {
    let t = Test::new();
    screen(
        &t.path().join("s.h5ad"),
        &counts(3),
        vec![("perturbation", text(&["ZAP70_1", "TP53_2", "x"])), ("gene", text(&["ZAP70", "TP53", "control"]))],
    );
    t.put("w.yaml", "name: w\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: s.h5ad}}\n");
    t.args(["run"]).file("w.yaml").run().success();
    assert_eq!(column(&exported(&t, "w.yaml", "l.cells", &[]), "targets"), ["ZAP70", "TP53", ""]);

    screen(&t.path().join("s.h5ad"), &counts(3), vec![("n_genes", Column::I64(vec![5, 5, 5]))]);
    t.args(["run"]).file("w.yaml").run().status(1).stderr_has(&[
        "no perturbation column found among the obs columns (n_genes)",
        "`perturbation_column`",
        "`all_controls: true`",
    ]);
}

#[test]
fn underscore_joined_genes_are_refused_until_the_separator_is_named() {
    let t = Test::new();
    screen(&t.path().join("s.h5ad"), &counts(3), vec![("perturbation", text(&["control", "ZAP70_TP53", "TP53"]))]);
    t.put("w.yaml", "name: w\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: s.h5ad}}\n");
    t.args(["run"]).file("w.yaml").run().status(1).stderr_has(&[
        "label `ZAP70_TP53` joins genes of the matrix (ZAP70, TP53) with `_`",
        "separator: [\"+\", \"_\"]",
    ]);
    let set = ["--set", "l.separator=[\"+\", \"_\"]"];
    t.args(["run", set[0], set[1]]).file("w.yaml").run().success();
    assert_eq!(column(&exported(&t, "w.yaml", "l.cells", &set), "targets"), ["", "TP53+ZAP70", "TP53"]);
}

#[test]
fn a_filter_value_of_the_wrong_type_fails_instead_of_keeping_no_cell() {
    let t = Test::new();
    guide_screen(&t);
    t.put(
        "w.yaml",
        "name: w\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: screen.h5ad}}\n    \
         params: {perturbation_column: perturbation, filter: [\"n_guides >= one\"]}\n",
    );
    t.args(["run"])
        .file("w.yaml")
        .run()
        .status(1)
        .stderr_has(&["filter `n_guides >= one`", "column `n_guides` holds numbers but `one` is not a number"]);
}

#[test]
fn log_normalised_input_is_refused_by_default_and_used_as_given_with_input_log1p() {
    let t = Test::new();
    let logged = counts(6).mapv(|v| (1.0 + v).ln());
    screen(
        &t.path().join("s.h5ad"),
        &logged,
        vec![("gene", text(&["ZAP70", "TP53", "ctrl", "ctrl", "ZAP70", "ctrl"]))],
    );
    let yaml = "name: w\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: s.h5ad}}\n  p:\n    kind: preprocess\n    \
                inputs: {counts: l.expression, cells: l.cells}\n    params: {n_top_genes: 2}\n";
    t.put("w.yaml", yaml);
    t.args(["run"])
        .file("w.yaml")
        .run()
        .status(1)
        .stderr_has(&["holds non-integer values (e.g. 0.6931", "`input: log1p`"]);
    let set = ["--set", "p.input=log1p"];
    t.args(["run", set[0], set[1]]).file("w.yaml").run().success();
    let out = exported(&t, "w.yaml", "p.expression", &set);
    // Not normalised or logged a second time: the values are the file's.
    let zap70 = column(&out, "ZAP70");
    for (i, v) in zap70.iter().enumerate() {
        let v: f64 = v.parse().unwrap();
        assert!((v - f64::from(logged[[i, 0]])).abs() < 1e-6, "cell {i}: {v} vs {}", logged[[i, 0]]);
    }
    t.args(["run", "--set", "p.input=log1p", "--set", "p.flavor=seurat_v3"])
        .file("w.yaml")
        .run()
        .status(1)
        .stderr_has(&["`flavor: seurat_v3` needs raw counts"]);
}

#[test]
fn genes_seen_in_too_few_cells_leave_before_hvg_selection() {
    let t = Test::new();
    let mut x = counts(8);
    for i in 1..8 {
        x[[i, 4]] = 0.0; // G5 is detected in 1 of 8 cells
    }
    screen(&t.path().join("s.h5ad"), &x, vec![("gene", text(&["ctrl"; 8]))]);
    let yaml = "name: w\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: s.h5ad}}\n  p:\n    kind: preprocess\n    \
                inputs: {counts: l.expression, cells: l.cells}\n    params: {n_top_genes: null, min_disp: -100, \
                min_mean: 0, max_mean: 100, genes_min_cells: 2}\n";
    t.put("w.yaml", yaml);
    t.args(["run"]).file("w.yaml").run().success();
    let genes = exported(&t, "w.yaml", "p.genes", &[]);
    assert_eq!(column(&genes, "gene"), GENES);
    assert_eq!(column(&genes, "n_cells"), ["8", "8", "8", "8", "1"]);
    assert_eq!(column(&genes, "kept")[4], "false");
    let expression = exported(&t, "w.yaml", "p.expression", &[]);
    assert!(!expression.0.contains(&"G5".to_string()), "{:?}", expression.0);
}

#[test]
fn contradictory_or_empty_label_params_are_refused() {
    let t = Test::new();
    guide_screen(&t);
    let yaml = |params: &str| {
        format!(
            "name: w\nnodes:\n  l:\n    kind: load\n    inputs: {{file: {{file: screen.h5ad}}}}\n    params: {params}\n"
        )
    };
    t.put("w.yaml", &yaml("{all_controls: true, perturbation_column: perturbation}"));
    t.args(["run"])
        .file("w.yaml")
        .run()
        .status(1)
        .stderr_has(&["`all_controls: true` and `perturbation_column` contradict"]);
    t.put("w.yaml", &yaml("{perturbation_column: perturbation, separator: [\"+\", \"\"]}"));
    t.args(["run"])
        .file("w.yaml")
        .run()
        .status(1)
        .stderr_has(&["`separator`: an empty string cannot separate targets"]);
}
