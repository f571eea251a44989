//! What a rerun runs: nothing when nothing changed, exactly what a `--set` reaches, not what an
//! unchanged output feeds (early cutoff), only new shards, and `--force` / `--until`.

use super::test::Test;

/// `a` and `b` feed `s`; `c` only waits for `s`; `d` stands alone; `sw` is a sharded sweep
/// with a consumer `sws`.
const CHAIN: &str = "\
name: chain
nodes:
  a:
    kind: diag-numbers
    params: {n: 5, seed: 1}
  b:
    kind: diag-numbers
    params: {n: 5, seed: 2}
  s:
    kind: diag-sum
    inputs: {values: [a.values, b.values]}
  c:
    kind: diag-numbers
    params: {seed: 3}
    inputs: {after: s.sum}
  d:
    kind: diag-numbers
    params: {seed: 4}
  sw:
    kind: diag-sweep
    params: {shards: 4, per_shard: 3}
  sws:
    kind: diag-sum
    inputs: {values: sw.values}
";

/// Tasks of [`CHAIN`]: a, b, s, c, d, 4 shards + reduce, sws.
const CHAIN_TASKS: usize = 11;

#[test]
fn first_run_runs_everything_and_reports_json() {
    let t = Test::new().workflow(CHAIN);
    let s = t.run_ok(&[]);
    assert_eq!(s.workflow, "chain");
    assert_eq!((s.tasks, s.ran, s.cached, s.failed), (CHAIN_TASKS, CHAIN_TASKS, 0, 0));
}

#[test]
fn noop_rerun_runs_nothing() {
    let t = Test::new().workflow(CHAIN);
    t.run_ok(&[]);
    let s = t.run_ok(&[]);
    assert_eq!((s.tasks, s.ran, s.cached, s.failed), (CHAIN_TASKS, 0, CHAIN_TASKS, 0));
    assert!(t.to_run(&[]).is_empty(), "plan after a run: {:?}", t.plan(&[]));
    let plan = t.args(["plan"]).run().success();
    assert!(plan.stdout.contains(&format!("{CHAIN_TASKS} tasks: 0 to run")), "{}", plan.stdout);
}

#[test]
fn set_reruns_exactly_what_the_change_reaches() {
    let t = Test::new().workflow(CHAIN);
    t.run_ok(&[]);
    let plan = t.plan(&["--set", "a.seed=9"]);
    assert_eq!(plan["a"], ("run".into(), "param `seed` changed from 1 to 9".into()));
    assert_eq!(t.to_run(&["--set", "a.seed=9"]), ["a", "c", "s"]);
    let s = t.run_ok(&["--set", "a.seed=9"]);
    assert_eq!((s.ran, s.cached), (3, CHAIN_TASKS - 3));
    // The same override again is a no-op, and so is going back: both results are cached.
    assert_eq!(t.run_ok(&["--set", "a.seed=9"]).ran, 0);
    assert_eq!(t.run_ok(&[]).ran, 0);
}

#[test]
fn set_on_a_leaf_reruns_only_the_leaf() {
    let t = Test::new().workflow(CHAIN);
    t.run_ok(&[]);
    assert_eq!(t.to_run(&["--set", "d.n=7"]), ["d"]);
    let s = t.run_ok(&["--set", "d.n=7"]);
    assert_eq!(s.ran, 1);
}

#[test]
fn set_on_a_consumer_param_leaves_producers_cached() {
    let t = Test::new().workflow(CHAIN);
    t.run_ok(&[]);
    // `digits` changes `s`'s key; its output changes too (fewer digits), so `c` reruns.
    assert_eq!(t.to_run(&["--set", "s.digits=1"]), ["c", "s"]);
    assert_eq!(t.run_ok(&["--set", "s.digits=1"]).ran, 2);
}

#[test]
fn early_cutoff_a_producer_that_reruns_to_the_same_bytes_stops_there() {
    let t = Test::new().workflow(CHAIN);
    t.run_ok(&[]);
    let plan = t.plan(&["--set", "a.sleep_ms=5"]);
    assert_eq!(plan["a"], ("run".into(), "param `sleep_ms` changed from 0 to 5".into()));
    let s = t.run_ok(&["--set", "a.sleep_ms=5"]);
    assert_eq!((s.ran, s.cached), (1, CHAIN_TASKS - 1), "only `a` reruns; `s` and `c` see the same input bytes");
    assert!(t.to_run(&["--set", "a.sleep_ms=5"]).is_empty());
}

#[test]
fn growing_a_sharded_sweep_runs_only_the_new_shards_and_the_reduce() {
    let t = Test::new().workflow(CHAIN);
    t.run_ok(&[]);
    let plan = t.plan(&["--set", "sw.shards=6"]);
    let run: Vec<&str> = plan.iter().filter(|(_, (s, _))| s == "run").map(|(l, _)| l.as_str()).collect();
    assert_eq!(run, ["sw", "sw#4", "sw#5", "sws"], "{plan:?}");
    assert_eq!(plan["sw#4"].1, "new");
    for shard in ["sw#0", "sw#1", "sw#2", "sw#3"] {
        assert_eq!(plan[shard].0, "cached", "{shard}");
    }
    let s = t.run_ok(&["--set", "sw.shards=6"]);
    assert_eq!(s.tasks, CHAIN_TASKS + 2);
    assert_eq!(s.ran, 4, "2 new shards + the reduce + its consumer");
    // Shrinking back needs no shard at all: the 4-shard reduce is still cached.
    assert_eq!(t.run_ok(&[]).ran, 0);
}

#[test]
fn force_reruns_the_node_even_when_cached_like_snakemake_forcerun() {
    let t = Test::new().workflow(CHAIN);
    t.run_ok(&[]);
    let plan = t.plan(&["--force", "a"]);
    assert_eq!(plan["a"], ("run".into(), "forced".into()));
    assert_eq!(plan["b"].0, "cached");
    let s = t.run_ok(&["--force", "a"]);
    // `a` is deterministic: its consumers see the same bytes and stay cached.
    assert_eq!((s.ran, s.cached), (1, CHAIN_TASKS - 1));
    // Forcing a sharded node reruns its shards and reduce.
    let s = t.run_ok(&["--force", "sw"]);
    assert_eq!(s.ran, 5);
    // The force is not sticky.
    assert_eq!(t.run_ok(&[]).ran, 0);
}

#[test]
fn run_dash_n_is_plan_and_dash_r_is_force_as_snakemake_users_type_them() {
    let t = Test::new().workflow(CHAIN);
    let fresh = t.args(["run", "-n"]).run().success();
    let plan = t.args(["plan"]).run().success();
    assert_eq!(fresh.stdout, plan.stdout, "`run -n` prints the plan");
    assert!(fresh.stdout.contains("to run, 0 cached"), "{}", fresh.stdout);
    assert_eq!(t.to_run(&[]).len(), CHAIN_TASKS, "and runs nothing");
    let dry = t.args(["run", "--dry-run", "--json"]).run().success().json();
    assert_eq!(dry, t.args(["plan", "--json"]).run().success().json());
    t.run_ok(&[]);
    assert_eq!(t.plan(&["-R", "a"])["a"], ("run".into(), "forced".into()));
    let s = t.run_ok(&["-R", "a"]);
    assert_eq!((s.ran, s.cached), (1, CHAIN_TASKS - 1));
}

#[test]
fn force_an_unknown_node_is_a_usage_error_with_a_suggestion() {
    let t = Test::new().workflow(CHAIN);
    t.args(["run", "--force", "sww"]).run().status(2).stderr_has(&["unknown node `sww`", "did you mean `sw`?"]);
    t.args(["plan", "--force", "sww"]).run().status(2).stderr_has(&["unknown node `sww`"]);
    assert!(!t.cache().join("runs").join("chain").exists(), "nothing ran");
}

#[test]
fn until_runs_the_target_and_what_it_needs_only() {
    let t = Test::new().workflow(CHAIN);
    let s = t.run_ok(&["--until", "s"]);
    assert_eq!((s.tasks, s.ran), (3, 3), "a, b and s");
    let plan = t.plan(&[]);
    assert_eq!(t.to_run(&[]), ["c", "d", "sw", "sw#0", "sw#1", "sw#2", "sw#3", "sws"], "{plan:?}");
    assert_eq!(plan["c"].1, "new");
    // --force within --until.
    let s = t.run_ok(&["--until", "s", "--force", "a"]);
    assert_eq!((s.tasks, s.ran), (3, 1));
    // Two targets: the union of what they need.
    let s = t.run_ok(&["--until", "c", "--until", "sw"]);
    assert_eq!((s.tasks, s.ran, s.cached), (9, 6, 3));
    assert_eq!(t.run_ok(&[]).ran, 2, "d and sws are left");
}

#[test]
fn until_an_unknown_node_is_a_usage_error_with_a_suggestion() {
    let t = Test::new().workflow(CHAIN);
    t.args(["run", "--until", "ss"]).run().status(2).stderr_has(&["unknown node `ss`", "did you mean"]);
}

#[test]
fn a_swept_producer_feeds_all_its_instances_and_one_new_value_runs_one_instance() {
    let t = Test::new().workflow(
        "name: swept
nodes:
  a:
    kind: diag-numbers
    sweep: {seed: [1, 2, 3]}
  s:
    kind: diag-sum
    inputs: {values: a.values}
",
    );
    let s = t.run_ok(&[]);
    assert_eq!((s.tasks, s.ran), (4, 4));
    t.args(["show", "s.sum"]).run().success().stdout_has(&["| 3 "]);
    t.put(
        "workflow.yaml",
        "name: swept
nodes:
  a:
    kind: diag-numbers
    sweep: {seed: [1, 2, 3, 4]}
  s:
    kind: diag-sum
    inputs: {values: a.values}
",
    );
    assert_eq!(t.to_run(&[]), ["a[seed=4]", "s"]);
    assert_eq!(t.run_ok(&[]).ran, 2);
}

#[test]
fn runs_lists_the_recorded_runs_newest_first_with_what_each_ran() {
    let t = Test::new().workflow(CHAIN);
    t.args(["runs"]).run().success().stdout_has(&["no recorded runs of workflow `chain`"]);
    t.run_ok(&[]);
    t.run_ok(&["--set", "d.seed=9"]);
    let json = t.args(["runs", "--json"]).run().success().json();
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{json}");
    let counts = |r: &serde_json::Value| (r["tasks"].as_u64(), r["ran"].as_u64(), r["cached"].as_u64());
    let n = CHAIN_TASKS as u64;
    assert_eq!(counts(&runs[0]), (Some(n), Some(1), Some(n - 1)), "newest first: only d ran");
    assert_eq!(counts(&runs[1]), (Some(n), Some(n), Some(0)));
    assert!(runs[0]["record"].as_str() > runs[1]["record"].as_str(), "{json}");
    assert!(runs[0]["started"].as_str().unwrap().starts_with("20"), "{json}");
    let text = t.args(["runs"]).run().success().stdout;
    assert!(text.starts_with("record") && text.lines().count() == 4, "{text}");
}
