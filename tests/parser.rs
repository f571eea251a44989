//! Property tests of the workflow loader on generated input: YAML built from the language's own
//! keys, kinds, params and hostile values (NaN, huge numbers, anchors and aliases, tags, odd
//! unicode), valid workflows with bytes flipped, cut or spliced, and arbitrary `--set`
//! overrides. Loading, rendering the error and, for a workflow that loads, expanding its task
//! graph must end without a panic; a refusal is an error that names the file.
//! `GCRL_FUZZ_CASES` sets the cases per property (default 400, which CI runs).

use std::path::Path;

use gcrl::engine::graph::TaskGraph;
use gcrl::workflow::{Override, load_workflow};
use proptest::prelude::*;

/// Keys the language knows, and a few it does not.
const KEYS: &[&str] = &[
    "name",
    "nodes",
    "defaults",
    "kind",
    "params",
    "inputs",
    "sweep",
    "resources",
    "retries",
    "publish",
    "file",
    "cpus",
    "gpus",
    "mem_gb",
    "minutes",
    "seed",
    "n",
    "scale",
    "shards",
    "per_shard",
    "sleep_ms",
    "values",
    "fail",
    "tfs",
    "control_cells",
    "resolution",
    "from",
    "to",
    "step",
    "a",
    "b",
    "x",
    "ü",
    "<<",
];

/// Kinds that need no input file, and names that are no kind.
const KINDS: &[&str] =
    &["diag-numbers", "diag-sum", "diag-sweep", "simulate", "preprocess", "leiden-sweep", "report", "nope", ""];

/// A scalar: numbers at the edges, special floats, strings that look like references.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just(".nan".to_string()),
        Just("-.inf".to_string()),
        Just("1e400".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("~".to_string()),
        Just("''".to_string()),
        Just("yes".to_string()),
        Just("!!binary aGVsbG8=".to_string()),
        Just("!custom x".to_string()),
        "[a-z]{1,8}\\.[a-z]{1,8}",
        "\"[^\"\\\\]{0,12}\"",
        "[\\PC]{0,6}",
        prop::sample::select(KINDS).prop_map(String::from),
    ]
}

/// A YAML value of depth at most `depth`, in flow style, with anchors and aliases to `a0`.
fn value(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![scalar(), Just("*a0".to_string()), Just("&a0 [1, 2]".to_string())].boxed();
    if depth == 0 {
        return leaf;
    }
    let inner = value(depth - 1);
    prop_oneof![
        3 => leaf,
        1 => prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        1 => prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|kv| {
            let items: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{{}}}", items.join(", "))
        }),
    ]
    .boxed()
}

/// A workflow-shaped document: a name, defaults and nodes whose fields are generated.
fn workflow() -> impl Strategy<Value = String> {
    let node = (
        "[a-z][a-z0-9_]{0,5}",
        prop::sample::select(KINDS),
        prop::collection::vec((prop::sample::select(KEYS), value(2)), 0..5),
    )
        .prop_map(|(id, kind, fields)| {
            let mut text = format!("  {id}:\n    kind: {kind}\n");
            for (k, v) in fields {
                text.push_str(&format!("    {k}: {v}\n"));
            }
            text
        });
    (value(1), value(2), prop::collection::vec(node, 0..5))
        .prop_map(|(name, defaults, nodes)| format!("name: {name}\ndefaults: {defaults}\nnodes:\n{}", nodes.concat()))
}

/// A valid workflow with every kind of field, to be damaged.
const VALID: &str = "\
name: demo
defaults: {seed: 7}
nodes:
  a:
    kind: diag-numbers
    params: {n: 5, scale: 2.5}
    sweep: {seed: [1, 2]}
    resources: {cpus: 1, minutes: 1}
    retries: 1
  s:
    kind: diag-sum
    inputs: {values: [a.values]}
    publish: {sum: out/sum.csv}
  w:
    kind: diag-sweep
    params: {shards: 3}
";

/// Byte damage to [`VALID`]: flips, cuts and splices of generated text.
fn damaged() -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8, value(1)), 1..3);
    edits.prop_map(|edits| {
        let mut bytes = VALID.as_bytes().to_vec();
        for (at, byte, how, text) in edits {
            let i = at.index(bytes.len().max(1));
            match how {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.truncate(i),
                _ => {
                    let i = i.min(bytes.len());
                    bytes.splice(i..i, text.into_bytes());
                }
            }
        }
        bytes
    })
}

/// Loads `bytes` as a workflow file with `overrides`: an error must name the file and render;
/// a workflow that loads must expand to a task graph or refuse with an error.
fn load(bytes: &[u8], overrides: &[String]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("w.yaml");
    std::fs::write(&path, bytes).expect("write");
    let registry = gcrl::nodes::builtin();
    let Ok(overrides) = overrides.iter().map(|o| o.parse::<Override>()).collect::<Result<Vec<_>, _>>() else {
        return Ok(());
    };
    match load_workflow(&path, &registry, &overrides) {
        Ok(workflow) => {
            let _ = TaskGraph::expand(&workflow, &[]);
        }
        Err(e) => {
            let text = e.to_string();
            prop_assert!(text.contains(Path::new("w.yaml").to_str().unwrap()), "the error names the file: {text}");
        }
    }
    Ok(())
}

/// Params of [`VALID`]'s kinds, and one they lack.
const PARAMS: &[&str] = &["n", "scale", "seed", "sleep_ms", "fail", "digits", "shards", "per_shard", "sede"];

proptest! {
    // A failing case is kept in tests/parser.proptest-regressions and tried first from then on.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("GCRL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_workflows_load_or_are_refused_without_a_panic(text in workflow()) {
        load(text.as_bytes(), &[])?;
    }

    #[test]
    fn damaged_workflows_load_or_are_refused_without_a_panic(bytes in damaged()) {
        load(&bytes, &[])?;
    }

    #[test]
    fn any_set_override_is_applied_or_refused_without_a_panic(
        sets in prop::collection::vec(
            (prop::sample::select(&["a", "s", "w", "x"][..]), prop::sample::select(PARAMS), prop_oneof![3 => scalar(), 1 => value(1)]),
            1..4,
        )
    ) {
        let sets: Vec<String> = sets.into_iter().map(|(n, k, v)| format!("{n}.{k}={v}")).collect();
        load(VALID.as_bytes(), &sets)?;
    }
}
