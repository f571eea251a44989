//! Resource measurement and caps (issue 22): each task's manifest records its CPU time and peak
//! memory, `gcrl report` shows them per node with a `resources:` suggestion, and a node whose cap
//! is below its own request is refused at load, naming the key.

use super::test::{Test, manifests};

const TWO: &str = "\
name: two
nodes:
  a:
    kind: diag-numbers
    params: {seed: 1}
  b:
    kind: diag-numbers
    params: {seed: 2, sleep_ms: 50}
";

#[test]
fn each_manifest_records_cpu_time_and_peak_rss_and_the_report_suggests_resources_from_them() {
    let t = Test::new().workflow(TWO);
    t.run_ok(&["-j", "1"]);
    let all = manifests(&t.cache());
    let mut peaks = Vec::new();
    for label in ["a", "b"] {
        let usage = &all[label]["usage"];
        let peak = usage["peak_rss_mb"].as_f64().unwrap_or_else(|| panic!("{label}: {usage}"));
        assert!(peak > 1.0 && peak < 64.0 * 1024.0, "{label}: a process of gcrl's size: {usage}");
        assert!(usage["cpu_seconds"].as_f64().is_some_and(|c| c >= 0.0), "{usage}");
        assert_eq!(usage["alone"], true, "-j 1 runs one task at a time: {usage}");
        peaks.push((peak, all[label]["seconds"].as_f64().unwrap()));
    }
    t.args(["report", "--out", "r.html"]).run().success();
    let html = std::fs::read_to_string(t.path().join("r.html")).unwrap();
    let table = &html[html.find("id=\"table-resources\"").expect("a resources table")..];
    let table = &table[..table.find("</table>").unwrap()];
    for (node, (peak, seconds)) in ["a", "b"].iter().zip(&peaks) {
        // 1.5 × the peak rounded up to a quarter GiB, 1.5 × the task's time up to a minute.
        let mem_gb = (1.5 * peak / 1024.0 * 4.0).ceil().max(1.0) / 4.0;
        let minutes = (1.5 * seconds / 60.0).ceil().max(1.0);
        let row = format!("<td>{node}</td><td>1</td><td>{peak:.0}</td>");
        assert!(table.contains(&row), "{row} in {table}");
        assert!(table.contains(&format!("{{mem_gb: {mem_gb}, minutes: {minutes}}}")), "{table}");
    }
}

#[test]
fn tasks_beside_others_say_their_figures_are_upper_bounds() {
    let t = Test::new().workflow(
        "name: side\nnodes:\n  a:\n    kind: diag-numbers\n    params: {seed: 1, sleep_ms: 400}\n  b:\n    kind: \
         diag-numbers\n    params: {seed: 2, sleep_ms: 400}\n",
    );
    t.run_ok(&["-j", "2"]);
    let all = manifests(&t.cache());
    let alone: Vec<bool> = ["a", "b"].iter().map(|l| all[*l]["usage"]["alone"].as_bool().unwrap()).collect();
    assert!(alone.contains(&false), "two 400 ms tasks on two threads overlap: {alone:?}");
    t.args(["report", "--out", "r.html"]).run().success();
    let html = std::fs::read_to_string(t.path().join("r.html")).unwrap();
    assert!(html.contains(" (≤)</td>"), "an upper bound is marked");
}

#[test]
fn a_node_cap_below_its_own_request_is_refused_at_load_naming_the_key() {
    let t = Test::new()
        .workflow("name: capped\nnodes:\n  a:\n    kind: diag-numbers\n    resources: {mem_gb: 4, max_mem_gb: 2}\n");
    t.args(["run"]).run().status(2).stderr_has(&[
        "workflow.yaml:5:",
        "`max_mem_gb` of node `a` (2) is below its `mem_gb` (4); raise the cap or lower `mem_gb`",
    ]);
    let t =
        Test::new().workflow("name: capped\nnodes:\n  a:\n    kind: diag-numbers\n    resources: {max_minutes: x}\n");
    t.args(["run"]).run().status(2).stderr_has(&["resource `max_minutes` of node `a` must be a non-negative number"]);
}

/// `a` and `d` ask for 10 MiB each; `b` declares nothing, so it asks for its kind's estimate
/// (at least 32 MiB); `c` needs `b`.
const MEM: &str = "\
name: mem
nodes:
  a:
    kind: diag-numbers
    resources: {mem_gb: 0.01}
  b:
    kind: diag-sum
    inputs: {values: a.values}
  c:
    kind: diag-numbers
    params: {seed: 3}
    inputs: {after: [b]}
  d:
    kind: diag-numbers
    params: {seed: 2}
    resources: {mem_gb: 0.01}
";

#[test]
fn a_task_whose_estimate_is_above_mem_limit_fails_before_it_starts_naming_node_estimate_limit_and_fix() {
    let t = Test::new().workflow(MEM);
    let out = t.args(["run", "--json", "--mem-limit", "0.02"]).run().status(1);
    let s = out.summary();
    assert_eq!((s.ran, s.failed, s.skipped), (2, 1, 1), "a and d run, b fails, c is skipped: {s:?}");
    out.stderr_has(&[
        "node `b` needs an estimated ",
        "of memory (from 1 MiB of inputs), more than --mem-limit 21 MiB",
        "raise --mem-limit, set `resources: {mem_gb: …}` on `b` if the estimate is too high, or subsample its input",
    ]);
    assert!(!manifests(&t.cache()).contains_key("b"), "b never ran");
}

#[test]
fn an_explicit_mem_gb_overrides_the_estimate_for_the_limit_and_the_plan() {
    let t = Test::new().workflow(&MEM.replace(
        "    inputs: {values: a.values}\n",
        "    inputs: {values: a.values}\n    resources: {mem_gb: 0.01}\n",
    ));
    t.run_ok(&["--until", "b", "--mem-limit", "0.02"]);
    let plan = t.args(["plan", "--json"]).run().success().json();
    let mem =
        |task: &str| plan["tasks"].as_array().unwrap().iter().find(|e| e["task"] == task).unwrap()["mem_mb"].clone();
    assert_eq!(mem("b"), 11, "0.01 GiB, rounded up to whole MiB: {plan}");
    assert!(mem("c").as_u64().is_some_and(|m| m >= 32), "c's inputs are known: its estimate: {plan}");
    assert!(mem("d").as_u64() == Some(11));
    t.args(["plan"]).run().success().stdout_has(&["run     c  new (memory ≈ "]);
    // Above the limit by its own request: the message names `mem_gb`.
    let t = Test::new().workflow("name: big\nnodes:\n  a:\n    kind: diag-numbers\n    resources: {mem_gb: 0.5}\n");
    t.args(["run", "--mem-limit", "0.25"]).run().status(1).stderr_has(&[
        "node `a` asks for 512 MiB of memory (`resources: {mem_gb}`), more than --mem-limit 256 MiB; raise --mem-limit or lower `mem_gb`",
    ]);
}

#[test]
fn tasks_whose_memory_does_not_fit_together_run_one_after_the_other() {
    let two = "name: two\nnodes:\n  a:\n    kind: diag-numbers\n    params: {seed: 1, sleep_ms: 400}\n    \
               resources: {mem_gb: 0.3}\n  b:\n    kind: diag-numbers\n    params: {seed: 2, sleep_ms: 400}\n    \
               resources: {mem_gb: 0.3}\n";
    let t = Test::new().workflow(two);
    t.run_ok(&["-j", "2", "--mem-limit", "0.5"]);
    let all = manifests(&t.cache());
    for label in ["a", "b"] {
        assert_eq!(all[label]["usage"]["alone"], true, "0.3 + 0.3 GiB > 0.5: {label} ran alone: {}", all[label]);
    }
}

#[test]
fn a_mem_limit_that_is_not_a_positive_number_or_given_to_slurm_is_a_usage_error() {
    let t = Test::new().workflow(MEM);
    t.args(["run", "--mem-limit", "0"]).run().status(2).stderr_has(&["`--mem-limit` must be a positive number of GiB"]);
    t.args(["run", "--mem-limit", "4", "--executor", "slurm"])
        .run()
        .status(2)
        .stderr_has(&["`--mem-limit` applies to the local executor"]);
}
