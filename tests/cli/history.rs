//! A cache's history: `gcrl log` (the recorded runs with exit code, fingerprint and log file),
//! each run's log under `runs/`, and `gcrl diff RUN_A RUN_B`.

use std::path::PathBuf;

use serde_json::Value;

use super::test::Test;

const PAIR: &str = "\
name: pair
nodes:
  a:
    kind: diag-numbers
    params: {n: 4, seed: 1}
  b:
    kind: diag-numbers
    params: {n: 3, seed: 2}
  s:
    kind: diag-sum
    inputs: {values: [a.values, b.values]}
";

/// `gcrl log --json`'s runs, newest first.
fn runs(t: &Test) -> Vec<Value> {
    t.args(["log", "--json"]).run().success().json()["runs"].as_array().expect("log --json has `runs`").clone()
}

#[test]
fn log_lists_each_run_with_its_exit_code_fingerprint_and_log_file() {
    let t = Test::new().workflow(PAIR);
    t.run_ok(&[]);
    t.args(["run", "-q", "--set", "b.fail=true"]).run().status(1);
    let runs = runs(&t);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!((runs[0]["exit"].as_i64(), runs[0]["status"].as_str()), (Some(1), Some("failed")), "{runs:?}");
    assert_eq!((runs[1]["exit"].as_i64(), runs[1]["status"].as_str()), (Some(0), Some("ok")));
    let fp = |r: &Value| r["fingerprint"].as_str().unwrap_or_default().to_string();
    assert!(fp(&runs[0]).len() == 64 && fp(&runs[1]).len() == 64 && fp(&runs[0]) != fp(&runs[1]), "{runs:?}");
    // Each log is named by its record and holds what the run printed, `-q` or not.
    for r in &runs {
        let log = PathBuf::from(r["log"].as_str().expect("a log path"));
        assert_eq!(log.file_stem().unwrap().to_str(), r["record"].as_str());
        assert_eq!(log.parent(), Some(t.cache().join("runs").join("pair").as_path()));
    }
    let failed = std::fs::read_to_string(runs[0]["log"].as_str().unwrap()).unwrap();
    assert!(
        failed.contains("b FAILED: ") && failed.contains("skipped s: needs b") && failed.contains("exit 1"),
        "{failed}"
    );
    let ok = std::fs::read_to_string(runs[1]["log"].as_str().unwrap()).unwrap();
    for line in ["ran a (", "ran b (", "ran s (", "pair: 3 tasks, 3 ran, 0 cached", "exit 0"] {
        assert!(ok.contains(line), "{line:?} in\n{ok}");
    }
    let text = t.args(["log"]).run().success().stdout;
    assert!(
        text.contains("1 failed") && text.contains("0 ok") && text.contains(runs[0]["log"].as_str().unwrap()),
        "{text}"
    );
    // `gcrl runs` is the same listing.
    assert_eq!(t.args(["runs"]).run().success().stdout, text);
}

#[test]
fn a_record_from_before_the_new_fields_is_listed_without_them() {
    let t = Test::new().workflow(PAIR);
    let dir = t.cache().join("runs").join("pair");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1700000000000-1.json"),
        r#"{"workflow":"pair","started_ms":1700000000000,"seconds":1.5,"tasks":{}}"#,
    )
    .unwrap();
    let runs = runs(&t);
    assert_eq!(runs.len(), 1);
    assert!(runs[0]["exit"].is_null() && runs[0]["log"].is_null() && runs[0]["fingerprint"].is_null(), "{runs:?}");
    assert_eq!(runs[0]["status"], "-");
    t.args(["log"]).run().success().stdout_has(&["1700000000000-1", "1.50"]);
}

#[test]
fn gc_removes_the_logs_of_the_records_it_removes() {
    let t = Test::new().workflow(PAIR);
    t.run_ok(&[]);
    t.run_ok(&["--set", "a.seed=5"]);
    let before = runs(&t);
    t.args(["cache", "gc", "workflow.yaml", "--keep-last", "1"]).raw().run().success();
    let after = runs(&t);
    assert_eq!(after.len(), 1);
    assert!(PathBuf::from(after[0]["log"].as_str().unwrap()).exists());
    assert!(!PathBuf::from(before[1]["log"].as_str().unwrap()).exists(), "the older run's log went with it");
}

#[test]
fn diff_names_the_params_and_inputs_that_differ_between_two_runs() {
    let t = Test::new().workflow(PAIR);
    t.run_ok(&[]);
    t.run_ok(&["--set", "a.seed=9", "--set", "a.n=6"]);
    let runs = runs(&t);
    let (new, old) = (runs[0]["record"].as_str().unwrap(), runs[1]["record"].as_str().unwrap());
    let json = t.args(["diff", old, new, "--json"]).raw().run().success().json();
    assert_eq!(json["fingerprint_same"], false, "{json}");
    assert_eq!(json["same"], 1, "b is the same task in both: {json}");
    let tasks = json["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{json}");
    assert_eq!(tasks[0]["task"], "a");
    assert_eq!(tasks[0]["params"]["seed"], serde_json::json!([1, 9]), "{json}");
    assert_eq!(tasks[0]["params"]["n"], serde_json::json!([4, 6]), "{json}");
    assert!(tasks[0]["inputs"].is_null() && tasks[0]["kind"].is_null(), "{json}");
    assert_eq!(tasks[1]["task"], "s");
    assert_eq!(tasks[1]["inputs"], serde_json::json!(["values"]), "s's params are the same, its input changed");
    assert!(tasks[1]["params"].is_null(), "{json}");
    // Text, with the ids shortened to a prefix only they have (the process id differs).
    let text = t.args(["diff", old, new]).raw().run().success().stdout;
    for line in ["a: param n: 4 → 6; param seed: 1 → 9", "s: inputs differ: values", "2 tasks differ, 1 the same"] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[test]
fn diff_lists_the_tasks_only_one_run_has_and_refuses_unknown_ids() {
    let t = Test::new().workflow(PAIR);
    t.run_ok(&[]);
    t.run_ok(&["--set", "b.seed=[2,3]"]);
    let runs = runs(&t);
    let (new, old) = (runs[0]["record"].as_str().unwrap(), runs[1]["record"].as_str().unwrap());
    let text = t.args(["diff", old, new]).raw().run().success().stdout;
    for line in ["b: only in A", "b[seed=2]: only in B", "b[seed=3]: only in B", "s: inputs differ: values"] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    t.args(["diff", "nosuchrun", new])
        .raw()
        .run()
        .status(2)
        .stderr_has(&["no recorded run `nosuchrun`", "`gcrl log WORKFLOW` lists the runs"]);
    t.args(["diff", "1", new]).raw().run().status(2).stderr_has(&["`1` is the start of 2 run ids", "give more of it"]);
}
