//! The cache under stress: same bytes for any `-j`, a SIGKILL mid-run, a flipped byte, and two
//! `gcrl run` at once on one cache.

use std::time::Duration;

use super::test::{Test, files_under, manifest_record, manifests, object_of, object_path, wait_until};

/// A swept producer, a sharded sweep and sums over both.
const MIXED: &str = "\
name: mixed
nodes:
  a:
    kind: diag-numbers
    params: {n: 50, scale: 3.5}
    sweep: {seed: [1, 2, 3]}
  s:
    kind: diag-sum
    inputs: {values: a.values}
  sw:
    kind: diag-sweep
    params: {shards: 5, per_shard: 20, seed: 11}
  t:
    kind: diag-sum
    inputs: {values: [sw.values, a.values]}
";

#[test]
fn j1_and_j2_give_identical_bytes() {
    let t = Test::new().workflow(MIXED);
    let (c1, c2) = (t.path().join("cache-j1"), t.path().join("cache-j2"));
    let s1 = t.args(["run", "--json", "-j1"]).cache(&c1).run().success().summary();
    let s2 = t.args(["run", "--json", "-j2"]).cache(&c2).run().success().summary();
    assert_eq!((s1.tasks, s1.ran), (11, 11));
    assert_eq!((s2.tasks, s2.ran), (11, 11));
    let (o1, o2) = (files_under(&c1.join("objects")), files_under(&c2.join("objects")));
    assert!(!o1.is_empty());
    assert_eq!(o1.keys().collect::<Vec<_>>(), o2.keys().collect::<Vec<_>>(), "same object names");
    assert!(o1 == o2, "same object bytes");
    let keys = |c: &std::path::Path| manifests(c).into_iter().map(|(l, m)| (l, m["key"].clone())).collect::<Vec<_>>();
    assert_eq!(keys(&c1), keys(&c2), "same task keys");
    for target in ["s.sum", "sw.values", "t.sum"] {
        let (f1, f2) = (format!("{target}-j1.arrow"), format!("{target}-j2.arrow"));
        t.args(["export", target, "--to", &f1]).cache(&c1).run().success();
        t.args(["export", target, "--to", &f2]).cache(&c2).run().success();
        let (b1, b2) = (std::fs::read(t.path().join(&f1)).unwrap(), std::fs::read(t.path().join(&f2)).unwrap());
        assert!(b1.starts_with(b"ARROW1"));
        assert!(b1 == b2, "{target}: -j1 and -j2 exports differ");
    }
}

/// Six independent tasks that sleep, and a sum over them.
pub(super) fn sleepers(ms: u64) -> String {
    let mut y = String::from("name: sleepers\nnodes:\n");
    for i in 0..6 {
        y.push_str(&format!("  n{i}:\n    kind: diag-numbers\n    params: {{seed: {i}, sleep_ms: {ms}}}\n"));
    }
    y.push_str("  total:\n    kind: diag-sum\n    inputs: {values: [n0.values, n1.values, n2.values, n3.values, n4.values, n5.values]}\n");
    y
}

#[test]
fn sigkill_mid_run_leaves_no_corrupt_object_and_the_next_run_resumes() {
    let t = Test::new().workflow(&sleepers(400));
    let mut running = t.args(["run", "--json", "-j2"]).spawn();
    let cache = t.cache();
    wait_until(Duration::from_secs(30), "two tasks to finish", || manifests(&cache).len() >= 2);
    running.child.kill().expect("SIGKILL");
    let killed = running.wait();
    assert_eq!(killed.status, -1, "killed by a signal");
    let done = manifests(&cache).len();
    assert!((2..7).contains(&done), "{done} tasks finished before the kill");

    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt"]);
    assert_eq!(manifests(&cache).len(), done, "verify keeps every complete result");
    let s = t.run_ok(&["-j2"]);
    assert_eq!((s.tasks, s.ran, s.cached, s.failed), (7, 7 - done, done, 0), "resumes where it was killed");
    assert!(files_under(&cache.join("tmp")).is_empty(), "temp files of the killed run are cleaned up");
    assert_eq!(t.run_ok(&[]).ran, 0);
}

#[test]
fn a_flipped_byte_is_found_by_verify_and_the_next_run_recomputes_it() {
    let t = Test::new().workflow(MIXED);
    t.run_ok(&[]);
    let cache = t.cache();
    let hash = object_of(&cache, "a[seed=2]", "values");
    let path = object_path(&cache, &hash);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    std::fs::write(&path, &bad).unwrap();

    t.args(["cache", "verify"]).raw().run().status(1).stdout_has(&[&hash, "1 corrupt"]);
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt"]);
    // Plan cannot know that `a[seed=2]` will make the same bytes again, so its consumers show
    // as "run"; the run itself stops at the producer.
    assert_eq!(t.to_run(&[]), ["a[seed=2]", "s", "t"]);
    let s = t.run_ok(&[]);
    assert_eq!(s.ran, 1, "only the task whose object was corrupt; its consumers see the same bytes");
    assert_eq!(std::fs::read(&path).unwrap(), good, "recomputed to the same bytes");
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt"]);
}

#[test]
fn a_flipped_byte_read_by_a_consumer_reruns_its_producer_without_verify() {
    let t = Test::new().workflow(MIXED);
    t.run_ok(&[]);
    let cache = t.cache();
    let hash = object_of(&cache, "a[seed=1]", "values");
    let path = object_path(&cache, &hash);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 20;
    bad[last] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    // `s` must read `a[seed=1]`'s object: it finds the corruption and has its producer rerun.
    let s = t.run_ok(&["--force", "s"]);
    assert_eq!(s.failed, 0);
    assert_eq!(s.ran, 2, "the producer of the corrupt object, then `s`");
    assert_eq!(std::fs::read(&path).unwrap(), good);
}

#[test]
fn a_corrupt_leaf_object_found_by_show_is_recomputed_by_the_next_run() {
    let t = Test::new().workflow(MIXED);
    t.run_ok(&[]);
    let cache = t.cache();
    let hash = object_of(&cache, "t", "sum");
    let path = object_path(&cache, &hash);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x10;
    std::fs::write(&path, &bad).unwrap();
    // Nothing reads `t` during a run; `show` does, finds the corruption and says it will be recomputed.
    t.args(["show", "t.sum"]).run().status(3).stderr_has(&["corrupt", "will be recomputed"]);
    assert_eq!(t.to_run(&[]), ["t"], "plan knows `t`'s object is gone");
    let s = t.run_ok(&[]);
    assert_eq!(s.ran, 1, "the next run recomputes what `show` found corrupt");
    t.args(["show", "t.sum"]).run().success();
    assert_eq!(std::fs::read(&path).unwrap(), good);
}

#[test]
fn a_truncated_manifest_is_removed_by_verify_and_recomputed() {
    let t = Test::new().workflow(MIXED);
    t.run_ok(&[]);
    let cache = t.cache();
    let key = manifests(&cache)["sw#3"]["key"].as_str().unwrap().to_string();
    let path = cache.join("tasks").join(&key[..2]).join(format!("{key}.json"));
    // The file is shared by the manifests of its commit batch: tear only this key's copy.
    let text = manifest_record(&path, &std::fs::read(&path).unwrap()).unwrap().to_string();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 3]).unwrap();
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[&key, " 0 corrupt, 1 task results removed"]);
    assert_eq!(t.run_ok(&[]).ran, 1);
}

#[test]
fn two_concurrent_runs_on_one_cache_agree_and_compute_each_task_once() {
    let t = Test::new().workflow(&sleepers(150));
    let first = t.args(["run", "--json", "-j2"]).spawn();
    let second = t.args(["run", "--json", "-j2"]).spawn();
    let (a, b) = (first.wait().success().summary(), second.wait().success().summary());
    assert_eq!((a.tasks, b.tasks), (7, 7));
    assert_eq!((a.failed, b.failed), (0, 0));
    assert_eq!(a.ran + a.cached, 7);
    assert_eq!(b.ran + b.cached, 7);
    assert_eq!(a.ran + b.ran, 7, "every task computed once in total: {a:?} {b:?}");
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt"]);
    assert_eq!(t.run_ok(&[]).ran, 0);
}

#[test]
fn gc_keeps_what_the_newest_run_uses() {
    let t = Test::new().workflow(MIXED);
    t.run_ok(&[]);
    t.run_ok(&["--set", "sw.seed=12"]);
    let before = files_under(&t.cache().join("objects")).len();
    t.args(["cache", "gc"]).raw().run().success().stdout_has(&["removed"]);
    let after = files_under(&t.cache().join("objects")).len();
    assert!(after < before, "gc removed the old sweep's objects ({before} -> {after})");
    assert_eq!(t.run_ok(&["--set", "sw.seed=12"]).ran, 0, "the newest run's results survive gc");
    t.args(["cache", "du"]).raw().run().success().stdout_has(&["objects", "diag-sweep"]);
}
