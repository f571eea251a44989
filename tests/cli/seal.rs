//! The sealed no-op: a rerun with nothing to do answers from its last run's seal without
//! expanding the graph, and anything that changes the work, or removes a result, breaks the
//! seal so that exactly what must run runs.

use super::test::{Summary, Test, manifests, object_of, object_path};

/// What the summary line of a run answered from the seal says.
const SEALED: &str = "nothing changed since the last run";

/// `a` feeds `s`; `d` stands alone; `sw` is sharded; `f` reads a file.
const WORKFLOW: &str = "\
name: sealed
nodes:
  a:
    kind: diag-numbers
    params: {n: 5, seed: 1}
  s:
    kind: diag-sum
    inputs: {values: a.values}
  d:
    kind: diag-numbers
    params: {seed: 4}
  sw:
    kind: diag-sweep
    params: {shards: 4, per_shard: 3}
  f:
    kind: diag-numbers
    params: {seed: 5}
    inputs: {after: {file: input.csv}}
";

/// Tasks of [`WORKFLOW`]: a, s, d, 4 shards + reduce, f.
const TASKS: usize = 9;

/// `gcrl run --json ARGS`: the summary, and whether it was answered from the seal.
fn run(t: &Test, extra: &[&str]) -> (Summary, bool) {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(extra);
    let out = t.args(args).run().success();
    (out.summary(), out.stderr.contains(SEALED))
}

fn sealed_test() -> Test {
    let t = Test::new().workflow(WORKFLOW).write("input.csv", "x\n1\n");
    let (s, sealed) = run(&t, &[]);
    assert_eq!((s.tasks, s.ran, sealed), (TASKS, TASKS, false));
    t
}

#[test]
fn a_rerun_with_nothing_to_do_answers_from_the_seal_for_any_j() {
    let t = sealed_test();
    for j in ["-j1", "-j2"] {
        let (s, sealed) = run(&t, &[j]);
        assert!(sealed, "{j}");
        assert_eq!((s.tasks, s.ran, s.cached, s.failed, s.skipped), (TASKS, 0, TASKS, 0, 0), "{j}");
    }
}

#[test]
fn a_removed_object_or_manifest_breaks_the_seal_and_reruns_only_its_task() {
    let t = sealed_test();
    let cache = t.cache();
    let path = object_path(&cache, &object_of(&cache, "sw#2", "values"));
    std::fs::remove_file(&path).unwrap();
    let (s, sealed) = run(&t, &[]);
    assert_eq!((s.ran, sealed), (1, false), "the shard, whose bytes come out the same");
    assert!(path.exists());
    assert!(run(&t, &[]).1, "the run that restored it sealed again");

    let key = manifests(&cache)["d"]["key"].as_str().unwrap().to_string();
    std::fs::remove_file(cache.join("tasks").join(&key[..2]).join(format!("{key}.json"))).unwrap();
    let (s, sealed) = run(&t, &[]);
    assert_eq!((s.ran, sealed), (1, false));
    assert!(run(&t, &[]).1);
}

#[test]
fn a_changed_input_file_breaks_the_seal_and_a_touched_one_does_not() {
    let t = sealed_test();
    // Same size, other bytes: the task that reads it reruns (its output, which ignores it,
    // stays the same, so nothing downstream does).
    t.put("input.csv", "x\n2\n");
    let (s, sealed) = run(&t, &[]);
    assert_eq!((s.ran, sealed), (1, false));
    assert!(run(&t, &[]).1);
    // Rewritten with the same bytes: a new mtime, the same content hash, the same work.
    std::thread::sleep(std::time::Duration::from_millis(20));
    t.put("input.csv", "x\n2\n");
    let (s, sealed) = run(&t, &[]);
    assert_eq!((s.ran, sealed), (0, true));
}

#[test]
fn set_until_and_force_run_what_they_must_after_a_seal() {
    let t = sealed_test();
    let (s, sealed) = run(&t, &["--set", "a.seed=9"]);
    assert_eq!((s.ran, sealed), (2, false), "a and s");
    assert!(run(&t, &["--set", "a.seed=9"]).1, "the same override again is sealed");
    // Back to the defaults: their results are cached, but the newest record is the override's.
    let (s, sealed) = run(&t, &[]);
    assert_eq!((s.ran, s.cached, sealed), (0, TASKS, false));
    assert!(run(&t, &[]).1);

    let (s, sealed) = run(&t, &["--until", "s"]);
    assert_eq!((s.tasks, s.ran, sealed), (2, 0, false), "--until is part of the fingerprint");
    let (s, sealed) = run(&t, &["--force", "d"]);
    assert_eq!((s.tasks, s.ran, sealed), (TASKS, 1, false), "--force always runs");
    let (s, sealed) = run(&t, &[]);
    assert_eq!((s.tasks, s.ran, sealed), (TASKS, 0, false), "the forced run's record is the newest");
    assert!(run(&t, &[]).1);
}

#[test]
fn a_run_with_a_failure_is_not_sealed() {
    let t = Test::new().workflow(
        "name: f\nnodes:\n  bad:\n    kind: diag-numbers\n    params: {fail: true}\n  ok:\n    kind: diag-numbers\n",
    );
    t.args(["run", "--json"]).run().status(1);
    let out = t.args(["run", "--json"]).run().status(1);
    assert_eq!(out.summary().failed, 1);
    assert!(!out.stderr.contains(SEALED));
}
