//! Workflows several test files run, each written once: the smallest ones grow by appending
//! nodes (`concat!` of the macro and more YAML), so a test reads which nodes it adds.

/// Two numbers nodes and their sum: three tasks.
macro_rules! three_tasks {
    () => {
        "\
name: small
nodes:
  a:
    kind: diag-numbers
    params: {n: 5, seed: 1}
  b:
    kind: diag-numbers
    params: {n: 3, seed: 2}
  s:
    kind: diag-sum
    inputs: {values: [a.values, b.values]}
"
    };
}

/// A failing task (`bad`), a sum that needs it, and two nodes that do not.
macro_rules! failing {
    () => {
        "\
name: failing
nodes:
  bad:
    kind: diag-numbers
    params: {fail: true}
  good:
    kind: diag-numbers
    params: {seed: 5, sleep_ms: 50}
  sum:
    kind: diag-sum
    inputs: {values: [bad.values, good.values]}
  alone:
    kind: diag-sweep
    params: {shards: 2}
"
    };
}

/// Three tasks: `a`, `b` and their sum `s`.
pub const THREE_TASKS: &str = three_tasks!();

/// [`THREE_TASKS`] with a sharded node (3 shards and a reduce) and a node swept over two seeds.
pub const SMALL: &str = concat!(
    three_tasks!(),
    "  sw:\n    kind: diag-sweep\n    params: {shards: 3, per_shard: 4}\n",
    "  swept:\n    kind: diag-numbers\n    sweep: {seed: [1, 2]}\n"
);

/// `bad` fails, so `sum` is skipped; `good` and `alone` finish (6 tasks).
pub const FAILING: &str = failing!();

/// [`FAILING`] with a node after `sum`, skipped with it.
pub const FAILING_CHAIN: &str = concat!(failing!(), "  after:\n    kind: diag-numbers\n    inputs: {after: sum.sum}\n");
