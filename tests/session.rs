//! The library without the CLI: `gcrl::run` on a small workflow (two seeded number nodes, their
//! sum published to a CSV, a sharded node), then the cache read back as any caller would.

use gcrl::cache::Cache;
use gcrl::engine::events::Silent;
use gcrl::session::{Backend, Options};
use gcrl::table::Table;

use crate::cli::fixtures::THREE_TASKS;

/// The fixtures' three tasks, `s` published, and a node of three shards and their reduce.
fn workflow() -> String {
    let sharded = "  sw:\n    kind: diag-sweep\n    params: {shards: 3, per_shard: 4}\n";
    format!("{THREE_TASKS}    publish: {{sum: out/sum.csv}}\n{sharded}")
}

/// The cached table of `label`'s `output` in the newest run of `small`.
fn cached(cache: &Cache, label: &str, output: &str) -> Table {
    let (_, record) = cache.last_run("small").expect("a run record");
    let hash = &record.tasks[label].outputs[output];
    assert!(cache.object_path(hash).is_file(), "{label}.{output} is in the cache");
    Table::from_ipc(&cache.get_object(hash).unwrap()).unwrap()
}

#[test]
fn a_workflow_runs_through_the_library_and_its_outputs_are_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.yaml");
    std::fs::write(&path, workflow()).unwrap();
    let cache_dir = dir.path().join("cache");
    let options =
        Options { backend: Backend::Local { jobs: Some(2), gpus: Some(0), memory: None }, ..Options::default() };

    let done = gcrl::run(&path, gcrl::nodes::builtin(), &cache_dir, &options, &mut Silent).unwrap();
    // a, b, s, and sw's three shards and reduce.
    assert_eq!((done.summary.tasks, done.summary.ran, done.summary.failed), (7, 7, 0));
    assert!(!done.sealed);
    assert_eq!((done.written(), done.publish_failed()), (1, false));

    let cache = Cache::open(&cache_dir).unwrap();
    let values = |label| cached(&cache, label, "values").f64_column("value").unwrap();
    let (a, b) = (values("a"), values("b"));
    assert_eq!((a.len(), b.len()), (5, 3));
    let sum = cached(&cache, "s", "sum");
    let expected = a.iter().chain(&b).sum::<f64>();
    assert!((sum.f64_column("sum").unwrap()[0] - expected).abs() < 1e-6, "the sum is of a's and b's values");
    assert_eq!(cached(&cache, "sw", "values").n_rows(), 12);
    let published = std::fs::read_to_string(dir.path().join("out/sum.csv")).unwrap();
    assert!(published.starts_with("n,sum\n2,"), "the published sum: {published}");

    // Nothing changed: every task is cached and the published file is left as it is (a
    // workflow that publishes takes the full check, not the seal).
    let again = gcrl::run(&path, gcrl::nodes::builtin(), &cache_dir, &options, &mut Silent).unwrap();
    assert_eq!((again.summary.tasks, again.summary.ran, again.summary.cached), (7, 0, 7));
    assert_eq!((again.sealed, again.written(), again.publish_failed()), (false, 0, false));
}

#[test]
fn a_rerun_with_nothing_changed_is_sealed_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.yaml");
    std::fs::write(&path, workflow().replace("    publish: {sum: out/sum.csv}\n", "")).unwrap();
    let cache_dir = dir.path().join("cache");
    let run = || gcrl::run(&path, gcrl::nodes::builtin(), &cache_dir, &Options::default(), &mut Silent).unwrap();
    let first = run();
    assert_eq!((first.sealed, first.summary.ran, first.published.len()), (false, 7, 0));
    let again = run();
    assert!(again.sealed, "the seal holds");
    assert_eq!((again.summary.tasks, again.summary.ran, again.summary.cached), (7, 0, 7));
}
