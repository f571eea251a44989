//! One failed task does not hide the others (house rule 9): it is reported by name, what is
//! independent finishes, what depends on it is skipped, and the exit code is 1.

use super::fixtures::FAILING_CHAIN;
use super::test::Test;

#[test]
fn a_failing_task_exits_1_names_itself_finishes_the_independent_and_skips_dependents() {
    let t = Test::new().workflow(FAILING_CHAIN);
    let out = t.args(["run", "--json", "-j2"]).run().status(1);
    let s = out.summary();
    assert_eq!((s.tasks, s.failed, s.skipped), (7, 1, 2), "{s:?}");
    assert_eq!(s.ran, 4, "good and the 3 sweep tasks still run");
    let out = out.stderr_has(&["task bad failed", "failing on purpose", "skipped sum", "skipped after"]);
    assert!(!out.stderr.contains("task good failed"));
    // The independent results are cached: fixing the failure runs only it and its dependents.
    let s = t.run_ok(&["--set", "bad.fail=false"]);
    assert_eq!((s.ran, s.cached, s.failed, s.skipped), (3, 4, 0, 0));
}

#[test]
fn a_failure_is_not_cached() {
    let t = Test::new().workflow(FAILING_CHAIN);
    t.args(["run", "--json"]).run().status(1);
    let out = t.args(["run", "--json"]).run().status(1);
    assert_eq!(out.summary().failed, 1, "the failing task is tried again, not served from the cache");
    let plan = t.plan(&[]);
    assert_eq!(plan["bad"].0, "run");
    assert_eq!(plan["good"].0, "cached");
}

#[test]
fn quiet_still_reports_the_failure() {
    let t = Test::new().workflow(FAILING_CHAIN);
    t.args(["run", "-q"]).run().status(1).stderr_has(&["task bad failed"]);
}

#[test]
fn a_task_failing_on_bad_input_is_not_retried_even_with_retries() {
    // The same inputs give the same error: `retries` cover lost jobs, killed jobs and failed
    // writes, not the node's own error.
    let t = Test::new()
        .workflow("name: r\nnodes:\n  bad:\n    kind: diag-numbers\n    params: {fail: true}\n    retries: 2\n");
    let out = t.args(["run", "--json"]).run().status(1);
    assert_eq!(out.summary().failed, 1);
    assert_eq!(out.stderr.matches("will retry").count(), 0, "{}", out.stderr);
    out.stderr_has(&["task bad failed", "failing on purpose"]);
}
