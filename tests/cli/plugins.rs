//! Plugins: external node kinds from `./plugins`, `--plugins` or `GCRL_PLUGINS`, run through the
//! protocol of `plugins/README.md`, cached like built-in kinds, rerun when their files change,
//! and refused with a clear message when their `plugin.yaml` is wrong or their program fails.

use std::path::PathBuf;
use std::process::Command;

use super::test::{Test, object_of};

/// A CSV plugin in shell: multiplies the `value` column by the `factor` param.
const SCALE_YAML: &str = "\
name: scale
version: 1
doc: multiply values (test plugin)
command: [sh, scale.sh]
format: csv
inputs:
  values: column `value`
outputs:
  values: column `value`, scaled
params:
  factor: { type: float, default: 2.0, doc: multiplier }
";

const SCALE_SH: &str = "\
set -eu
echo \"scaling by $GCRL_PARAM_FACTOR\" >&2
awk -F, -v f=\"$GCRL_PARAM_FACTOR\" 'NR == 1 { print; next } { printf \"%.17g\\n\", $1 * f }' \
  \"$GCRL_INPUTS/values.csv\" > \"$GCRL_OUTPUTS/values.csv\"
";

const WORKFLOW: &str = "\
name: plugged
nodes:
  numbers:
    kind: diag-numbers
    params: {n: 4, seed: 3}
  scaled:
    kind: scale
    inputs: {values: numbers.values}
    params: {factor: 10}
  total:
    kind: diag-sum
    inputs: {values: scaled.values}
";

fn with_scale_plugin() -> Test {
    Test::new()
        .write("plugins/scale/plugin.yaml", SCALE_YAML)
        .write("plugins/scale/scale.sh", SCALE_SH)
        .workflow(WORKFLOW)
}

fn repo_plugins() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins")
}

fn sum_of(t: &Test, extra: &[&str]) -> f64 {
    let mut args = vec!["export", "total.sum", "--to", "sum.csv"];
    args.extend_from_slice(extra);
    t.args(args).run().success();
    let csv = std::fs::read_to_string(t.path().join("sum.csv")).unwrap();
    let row = csv.lines().nth(1).unwrap();
    row.split(',').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_shell_plugin_runs_is_cached_and_reruns_when_its_files_change() {
    let t = with_scale_plugin();
    let s = t.run_ok(&[]);
    assert_eq!((s.ran, s.cached, s.failed), (3, 0, 0), "{s:?}");
    let first = sum_of(&t, &[]);
    let s = t.run_ok(&[]);
    assert_eq!((s.ran, s.cached), (0, 3), "a plugin's result is cached like a built-in's");
    // Its output is an ordinary cached Arrow object: ten times the input.
    let numbers = object_of(&t.cache(), "numbers", "values");
    let scaled = object_of(&t.cache(), "scaled", "values");
    assert_ne!(numbers, scaled);
    t.args(["run", "--json", "--set", "scaled.factor=1"]).run().success();
    let second = sum_of(&t, &["--set", "scaled.factor=1"]);
    assert!((second * 10.0 - first).abs() < 1e-4 * first.abs(), "factor 10 vs 1: {first} vs {second}");
    t.run_ok(&["--set", "scaled.factor=10"]);
    // A hidden folder (the plugin's environment) is not part of its code.
    t.put("plugins/scale/.venv/marker", "x");
    assert!(t.to_run(&["--set", "scaled.factor=10"]).is_empty());
    // Editing the program reruns the plugin; identical output bytes stop there (early cutoff).
    t.put("plugins/scale/scale.sh", format!("# edited\n{SCALE_SH}"));
    let plan = t.plan(&[]);
    assert_eq!(plan["scaled"], ("run".to_string(), "the files of plugin `scale` changed".to_string()), "{plan:?}");
    let s = t.run_ok(&[]);
    assert_eq!((s.ran, s.cached), (1, 2), "{s:?}");
}

#[test]
fn kinds_lists_plugins_beside_builtins() {
    let t = with_scale_plugin();
    let json = t.args(["kinds", "--json"]).run().success().json();
    let kinds = json.as_array().unwrap();
    let scale = kinds.iter().find(|k| k["name"] == "scale").expect("the plugin is listed");
    assert!(scale["plugin"].as_str().unwrap().ends_with("plugins/scale"), "{scale}");
    assert_eq!(scale["params"][0]["name"], "factor");
    let grn = kinds.iter().find(|k| k["name"] == "grn").expect("built-ins too");
    assert!(grn["plugin"].is_null());
    t.args(["kinds", "scale"]).run().success().stdout_has(&[
        "scale (v1): multiply values",
        "  plugin ",
        "param factor",
    ]);
}

#[test]
fn plugins_come_from_the_flag_and_the_environment_too() {
    let t = Test::new()
        .write("elsewhere/scale/plugin.yaml", SCALE_YAML)
        .write("elsewhere/scale/scale.sh", SCALE_SH)
        .workflow(WORKFLOW);
    t.args(["plan"]).run().status(2).stderr_has(&["unknown kind `scale`"]);
    t.args(["plan", "--plugins", "elsewhere"]).run().success();
    let out = Command::new(env!("CARGO_BIN_EXE_gcrl"))
        .current_dir(t.path())
        .env("GCRL_PLUGINS", "nowhere:elsewhere/scale")
        .args(["kinds", "scale"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read plugin folder nowhere"), "a missing folder is named: {stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_gcrl"))
        .current_dir(t.path())
        .env("GCRL_PLUGINS", "elsewhere/scale")
        .args(["kinds", "scale"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_failing_plugin_shows_its_exit_code_and_the_tail_of_its_stderr() {
    let script = "for i in $(seq 1 30); do echo \"complaint $i\" >&2; done\nexit 3\n";
    let t = with_scale_plugin().write("plugins/scale/scale.sh", script);
    let out = t.args(["run", "--json"]).run().status(1);
    assert_eq!((out.summary().failed, out.summary().skipped), (1, 1));
    let out =
        out.stderr_has(&["task scaled failed", "plugin `scale`", "exited with code 3", "complaint 30", "complaint 11"]);
    assert!(!out.stderr.contains("complaint 10\n"), "only the last 20 lines:\n{}", out.stderr);
}

#[test]
fn a_plugin_that_writes_no_output_or_cannot_start_fails_naming_why() {
    let t = with_scale_plugin().write("plugins/scale/scale.sh", "echo forgot >&2\n");
    t.args(["run"]).run().status(1).stderr_has(&["wrote no output `values`", "$GCRL_OUTPUTS/values.csv", "forgot"]);
    t.put("plugins/scale/plugin.yaml", SCALE_YAML.replace("[sh, scale.sh]", "[./missing-program]"));
    t.args(["run"]).run().status(1).stderr_has(&["cannot start `./missing-program`"]);
    t.put("plugins/scale/plugin.yaml", SCALE_YAML);
    t.put("plugins/scale/scale.sh", "printf 'value\\n1,2,3\\n' > \"$GCRL_OUTPUTS/values.csv\"\n");
    t.args(["run"]).run().status(1).stderr_has(&["cannot read output `values`"]);
}

#[test]
fn a_malformed_plugin_yaml_is_refused_with_file_line_and_column() {
    let bad = SCALE_YAML.replace("format: csv", "formatt: csv");
    let t = with_scale_plugin().write("plugins/scale/plugin.yaml", bad);
    t.args(["kinds"]).run().status(2).stderr_has(&[
        "unknown key `formatt`",
        "plugins/scale/plugin.yaml:5:1",
        "5 | formatt: csv",
        "did you mean `format`?",
    ]);
    t.put("plugins/scale/plugin.yaml", SCALE_YAML.replace("default: 2.0", "default: two"));
    t.args(["run"]).run().status(2).stderr_has(&["default of param `factor`", "plugins/scale/plugin.yaml:11:35"]);
}

#[test]
fn a_plugin_yaml_that_is_not_text_is_refused_as_a_workflow_would_be() {
    let t = with_scale_plugin().write("plugins/scale/plugin.yaml", b"name: \xff\xfe\n");
    t.args(["kinds"])
        .run()
        .status(2)
        .stderr_has(&["the plugin manifest is not UTF-8 text (invalid byte at offset 6)", "plugins/scale/plugin.yaml"]);
}

#[test]
fn plugin_names_must_be_unique_and_not_built_in() {
    let t = with_scale_plugin().write("more/scale/plugin.yaml", SCALE_YAML).write("more/scale/scale.sh", SCALE_SH);
    t.args(["kinds", "--plugins", "more"]).run().status(2).stderr_has(&["plugin `scale` is defined twice"]);
    // The same folder reached twice is one plugin.
    t.args(["kinds", "--plugins", "plugins"]).run().success();
    let t = Test::new().write("plugins/grn/plugin.yaml", SCALE_YAML.replace("name: scale", "name: grn"));
    t.args(["kinds"]).run().status(2).stderr_has(&["plugin `grn`", "name of a built-in kind"]);
}

const EDGES: &str = "source,target,coef_mean,coef_abs,strong\n\
TF1,G1,0.5,0.5,true\nTF1,G2,-2.0,2.0,true\nTF2,G1,0.1,0.1,false\nTF2,G3,-0.9,0.9,true\nTF3,G2,1.5,1.5,true\n";

#[test]
fn the_shipped_top_edges_plugin_keeps_the_strongest_edges() {
    let plugins = repo_plugins();
    let t = Test::new().write("edges.csv", EDGES).workflow(
        "name: top\nnodes:\n  top:\n    kind: top-edges\n    inputs: {edges: {file: edges.csv}}\n    params: {n: 3}\n",
    );
    t.args(["run", "--plugins", plugins.to_str().unwrap()]).run().success();
    let out =
        t.args(["export", "top.edges", "--to", "top.csv", "--plugins", plugins.to_str().unwrap()]).run().success();
    drop(out);
    let csv = std::fs::read_to_string(t.path().join("top.csv")).unwrap();
    let targets: Vec<String> =
        csv.lines().skip(1).map(|l| l.split(',').take(2).collect::<Vec<_>>().join("→")).collect();
    assert_eq!(targets, ["TF1→G2", "TF3→G2", "TF2→G3"], "{csv}");
    assert!(csv.starts_with("source,target,coef_mean,coef_abs,strong\n"), "columns and types survive: {csv}");
    // Ranking by a signed column uses |value|; a column that is not there is the plugin's error.
    t.args(["run", "--plugins", plugins.to_str().unwrap(), "--set", "top.by=nope"])
        .run()
        .status(1)
        .stderr_has(&["exited with code 2", "no column `nope` in edges"]);
}

#[test]
#[ignore = "needs GCRL_PYTHON with pyarrow; CI runs it"]
fn the_shipped_regulon_stats_plugin_summarises_regulons_in_python() {
    let python = std::env::var("GCRL_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_pyarrow = Command::new(&python).args(["-c", "import pyarrow"]).output().is_ok_and(|o| o.status.success());
    assert!(has_pyarrow, "`{python}` cannot import pyarrow: set GCRL_PYTHON to an interpreter that has it");
    let plugins = repo_plugins();
    let t = Test::new()
        .write("edges.csv", EDGES)
        .workflow("name: reg\nnodes:\n  reg:\n    kind: regulon-stats\n    inputs: {edges: {file: edges.csv}}\n");
    let p = plugins.to_str().unwrap();
    assert_eq!(t.run_ok(&["--plugins", p]).ran, 1);
    t.args(["export", "reg.regulons", "--to", "reg.csv", "--plugins", p]).run().success();
    let csv = std::fs::read_to_string(t.path().join("reg.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("tf,n_targets,n_strong,mean_abs_weight,max_abs_weight"));
    let rows: Vec<Vec<f64>> = lines.map(|l| l.split(',').skip(1).map(|x| x.parse().unwrap()).collect()).collect();
    assert!(csv.contains("\nTF1,") && csv.find("TF1") < csv.find("TF2") && csv.find("TF2") < csv.find("TF3"));
    assert_eq!(rows, [vec![2.0, 2.0, 1.25, 2.0], vec![2.0, 1.0, 0.5, 0.9], vec![1.0, 1.0, 1.5, 1.5]], "{csv}");
    assert_eq!(t.run_ok(&["--plugins", p]).cached, 1, "cached on the second run");
}
