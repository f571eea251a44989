//! Malformed workflows: each is refused by `plan` and by `run` with exit code 2, a message that
//! names `file:line:col` (where a position exists), the offending name and a did-you-mean where
//! one makes sense, and never a panic (house rule 4). Nothing runs and no summary is printed.
//! The whole message is an insta snapshot (`tests/cli/snapshots/`), so any change of wording,
//! position or caret shows in review; `INSTA_UPDATE=always` rewrites them.

use super::test::{Test, WORKFLOW};

/// Writes `contents` as the workflow and checks both `plan` and `run --json` on it; `plan`'s
/// message is snapshot `name`, and `run` must print the same.
#[track_caller]
fn check(name: &str, contents: &[u8], args: &[&str], needles: &[&str]) {
    let t = Test::new().write(WORKFLOW, contents);
    let mut messages = Vec::new();
    for cmd in [&["plan"][..], &["run", "--json"][..]] {
        let mut all: Vec<&str> = cmd.to_vec();
        all.extend_from_slice(args);
        let out = t.args(all).run().status(2);
        assert!(out.stdout.trim().is_empty(), "{cmd:?}: nothing on stdout for a refused workflow:\n{}", out.stdout);
        assert!(out.stderr.contains("error"), "{cmd:?}: says `error`:\n{}", out.stderr);
        for jargon in ["<input>", "DuplicateKeyPolicy", "from_str", "configured policy"] {
            assert!(
                !out.stderr.contains(jargon),
                "{cmd:?}: parser jargon {jargon:?} reaches the user:\n{}",
                out.stderr
            );
        }
        let out = out.stderr_has(needles);
        messages.push(out.stderr.replace(&t.path().display().to_string(), "[dir]"));
    }
    assert_eq!(messages[0], messages[1], "plan and run refuse with the same message");
    insta::assert_snapshot!(name, messages[0]);
    assert!(!t.cache().join("runs").exists() || super::test::files_under(&t.cache().join("runs")).is_empty());
}

/// `name: x` and one block-style node `a` of kind `diag-numbers` (lines 1-4); append to it.
const A: &str = "name: x\nnodes:\n  a:\n    kind: diag-numbers\n";

macro_rules! malformed {
    ($($name:ident: $contents:expr $(, args $args:expr)? => [$($needle:expr),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                let contents = $contents;
                #[allow(unused_mut)]
                let mut args: Vec<&str> = Vec::new();
                $(args.extend_from_slice(&$args);)?
                check(stringify!($name), AsRef::<[u8]>::as_ref(&contents), &args, &[$($needle),*]);
            }
        )*
    };
}

malformed! {
    // --- the file itself ---
    yaml_syntax_error: "name: x\nnodes:\n  a: {kind: diag-numbers\n"
        => ["workflow.yaml:3:6", "unclosed"];
    yaml_tabs_for_indentation: "name: x\nnodes:\n\ta:\n\t\tkind: diag-numbers\n"
        => ["workflow.yaml:3:", "tab"];
    yaml_bad_indentation: format!("{A}   params: {{}}\n")
        => ["workflow.yaml:5:4"];
    yaml_unterminated_quote: "name: \"x\nnodes: {}\n"
        => ["workflow.yaml:1:", "quote"];
    yaml_multiple_documents: "name: x\nnodes:\n  a: {kind: diag-numbers}\n---\nname: y\n"
        => ["workflow.yaml:5:1", "document"];
    yaml_duplicate_node_ids: format!("{A}  a:\n    kind: diag-sum\n")
        => ["workflow.yaml:5:3", "duplicate", "`a`"];
    empty_file: "" => ["workflow.yaml", "empty", "name:"];
    only_comments_and_blank_lines: "# nothing here\n\n   \n" => ["empty"];
    binary_file: b"name: x\x00\x01\x02\xff\nnodes:\n" => ["workflow.yaml", "binary"];
    not_utf8: b"name: caf\xe9\nnodes:\n  a: {kind: diag-numbers}\n" => ["workflow.yaml", "UTF-8"];
    list_at_root: "- a\n- b\n" => ["workflow.yaml:1:1", "mapping", "found a list"];
    scalar_at_root: "just some words\n" => ["workflow.yaml:1:1", "found a string"];

    // --- the top level ---
    unknown_top_level_key: "name: x\nnodez:\n  a: {kind: diag-numbers}\n"
        => ["workflow.yaml:2:1", "unknown key `nodez`", "did you mean `nodes`?"];
    missing_name: "nodes:\n  a: {kind: diag-numbers}\n" => ["workflow.yaml:1:1", "no `name`"];
    name_not_a_string: "name: [1, 2]\nnodes:\n  a: {kind: diag-numbers}\n"
        => ["workflow.yaml:1:1", "`name` must be a non-empty string"];
    missing_nodes: "name: x\n" => ["no `nodes`"];
    empty_nodes: "name: x\nnodes: {}\n" => ["workflow.yaml:2:1", "`nodes` is empty"];
    null_nodes: "name: x\nnodes:\n" => ["workflow.yaml:2:1", "`nodes` is empty"];
    nodes_is_a_list: "name: x\nnodes: [a, b]\n" => ["workflow.yaml:2:8", "`nodes` must be a mapping"];

    // --- nodes ---
    invalid_node_id: "name: x\nnodes:\n  a b:\n    kind: diag-numbers\n"
        => ["workflow.yaml:3:3", "invalid node id `a b`"];
    dotted_node_id: "name: x\nnodes:\n  a.b:\n    kind: diag-numbers\n"
        => ["workflow.yaml:3:3", "invalid node id `a.b`"];
    unknown_node_key: format!("{A}    parms: {{n: 1}}\n")
        => ["workflow.yaml:5:5", "unknown key `parms`", "did you mean `params`?"];
    missing_kind: "name: x\nnodes:\n  a:\n    params: {n: 1}\n"
        => ["workflow.yaml:3:3", "node `a` has no `kind`", "gcrl kinds"];
    kind_not_a_string: "name: x\nnodes:\n  a:\n    kind: 3\n"
        => ["workflow.yaml:4:11", "`kind` of node `a` must be a string"];
    unknown_kind_typo: "name: x\nnodes:\n  a:\n    kind: diag-numbrs\n"
        => ["workflow.yaml:4:11", "unknown kind `diag-numbrs`", "did you mean `diag-numbers`?"];
    unknown_kind_far_from_any: "name: x\nnodes:\n  a:\n    kind: banana\n"
        => ["workflow.yaml:4:11", "unknown kind `banana`", "gcrl kinds"];

    // --- params ---
    unknown_param_typo: format!("{A}    params: {{sede: 3}}\n")
        => ["workflow.yaml:5:14", "unknown param `sede`", "did you mean `seed`?"];
    params_not_a_mapping: format!("{A}    params: [1]\n")
        => ["workflow.yaml:5:13", "`params` of node `a` must be a mapping"];
    string_for_int: format!("{A}    params: {{n: ten}}\n")
        => ["workflow.yaml:5:17", "param `n`", "\"ten\""];
    float_for_int: format!("{A}    params: {{n: 2.5}}\n")
        => ["workflow.yaml:5:17", "param `n`", "expected an integer"];
    int_below_minimum: format!("{A}    params: {{n: -3}}\n")
        => ["workflow.yaml:5:17", "param `n`", "minimum 0"];
    int_too_large: format!("{A}    params: {{n: 99999999999999999999}}\n")
        => ["workflow.yaml:5:17", "param `n`"];
    string_for_bool: format!("{A}    params: {{fail: yes}}\n")
        => ["workflow.yaml:5:20", "param `fail`", "boolean"];
    non_finite_float: format!("{A}    params: {{scale: .nan}}\n")
        => ["workflow.yaml:5:21", "scale"];
    zero_shards: "name: x\nnodes:\n  s:\n    kind: diag-sweep\n    params: {shards: 0}\n"
        => ["workflow.yaml:5:22", "param `shards`", "minimum 1"];

    // --- inputs ---
    unknown_input_port: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{valuse: a.values}}\n")
        => ["workflow.yaml:7:14", "unknown input `valuse`", "did you mean `values`?"];
    input_from_unknown_node: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{values: aa.values}}\n")
        => ["workflow.yaml:7:22", "unknown node `aa`", "did you mean `a`?"];
    input_from_unknown_output: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{values: a.value}}\n")
        => ["workflow.yaml:7:22", "no output `value`", "did you mean `values`?"];
    input_not_node_dot_output: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{values: avalues}}\n")
        => ["workflow.yaml:7:22", "`avalues` is not `node.output`", "{file: avalues}"];
    bare_node_id_outside_a_list: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{values: a}}\n")
        => ["workflow.yaml:7:22", "`a` is not `node.output`", "for every output of node `a` write a list: `values: [a]`"];
    bare_unknown_node_id_in_a_list: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{values: [b]}}\n")
        => ["workflow.yaml:7:23", "refers to unknown node `b`", "did you mean `a`?"];
    publish_unknown_output: format!("{A}    publish: {{valeus: out.csv}}\n")
        => ["workflow.yaml:5:15", "`publish` of node `a` names unknown output `valeus`", "did you mean `values`?"];
    publish_unknown_format: format!("{A}    publish: {{values: out.xlsx}}\n")
        => ["workflow.yaml:5:23", "`out.xlsx` has no known format", ".parquet"];
    publish_not_a_path: format!("{A}    publish: {{values: [x]}}\n")
        => ["workflow.yaml:5:23", "must be a file path, found a list"];
    input_of_wrong_type: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{values: 3}}\n")
        => ["workflow.yaml:7:22", "input `values` of node `s`"];
    missing_required_input: format!("{A}  s:\n    kind: diag-sum\n")
        => ["workflow.yaml:5:3", "node `s` needs input `values`"];
    file_input_not_found: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{values: {{file: nope.csv}}}}\n")
        => ["workflow.yaml:7:29", "nope.csv", "not found"];
    file_input_unknown_key: format!("{A}  s:\n    kind: diag-sum\n    inputs: {{values: {{file: workflow.yaml, mode: r}}}}\n")
        => ["workflow.yaml:7:44", "unknown key `mode`"];
    cycle_of_two: "name: x\nnodes:\n  a:\n    kind: diag-numbers\n    inputs: {after: b.values}\n  b:\n    kind: diag-numbers\n    inputs: {after: a.values}\n"
        => ["workflow.yaml:3:3", "cycle: a -> b -> a"];
    cycle_of_three: "name: x\nnodes:\n  a:\n    kind: diag-numbers\n    inputs: {after: c.values}\n  b:\n    kind: diag-numbers\n    inputs: {after: a.values}\n  c:\n    kind: diag-numbers\n    inputs: {after: b.values}\n"
        => ["workflow.yaml:3:3", "cycle: a -> b -> c -> a"];
    self_loop: format!("{A}    inputs: {{after: a.values}}\n")
        => ["workflow.yaml:3:3", "cycle: a -> a"];

    // --- sweeps ---
    sweep_not_a_list: format!("{A}    sweep: {{seed: 3}}\n")
        => ["workflow.yaml:5:19", "sweep `seed` of node `a` must be a list"];
    empty_sweep: format!("{A}    sweep: {{seed: []}}\n")
        => ["workflow.yaml:5:19", "sweep `seed` of node `a` is empty"];
    sweep_of_unknown_param: format!("{A}    sweep: {{sed: [1, 2]}}\n")
        => ["workflow.yaml:5:13", "unknown param `sed`", "did you mean `seed`?"];
    sweep_value_of_wrong_type: format!("{A}    sweep: {{seed: [1, x]}}\n")
        => ["workflow.yaml:5:23", "sweep `seed`", "\"x\""];
    sweep_repeats_a_value: format!("{A}    sweep: {{seed: [1, 2, 1]}}\n")
        => ["workflow.yaml:5:26", "repeats 1"];
    zip_lists_of_unequal_length: format!("{A}    sweep: {{zip: {{seed: [1, 2, 3], n: [4, 5]}}}}\n")
        => ["workflow.yaml:5:", "zipped sweep `n` of node `a` has 2 values, but `seed` has 3", "one length"];
    zip_param_also_in_the_grid: format!("{A}    sweep: {{seed: [1, 2], zip: {{seed: [3, 4], n: [4, 5]}}}}\n")
        => ["workflow.yaml:5:13", "`seed`", "swept both on its own and in `zip`"];
    zip_not_a_mapping: format!("{A}    sweep: {{zip: [1, 2]}}\n")
        => ["workflow.yaml:5:", "`sweep.zip` of node `a` must be a mapping"];
    param_in_params_and_sweep: format!("{A}    params: {{seed: 1}}\n    sweep: {{seed: [1, 2]}}\n")
        => ["workflow.yaml:6:13", "`seed`", "both `params` and `sweep`"];

    // --- defaults, resources, retries ---
    defaults_key_used_by_no_node: "name: x\ndefaults: {sed: 3}\nnodes:\n  a:\n    kind: diag-numbers\n"
        => ["workflow.yaml:2:12", "default `sed` is not a param of any node", "did you mean `seed`?"];
    defaults_of_wrong_type: "name: x\ndefaults: {seed: x}\nnodes:\n  a:\n    kind: diag-numbers\n"
        => ["workflow.yaml:2:18", "default `seed`"];
    negative_resource: format!("{A}    resources: {{cpus: -1}}\n")
        => ["workflow.yaml:5:23", "resource `cpus`"];
    zero_float_resource: format!("{A}    resources: {{mem_gb: 0.0}}\n")
        => ["workflow.yaml:5:25", "resource `mem_gb` of node `a` must be above 0"];
    unknown_resource: format!("{A}    resources: {{cpu: 2}}\n")
        => ["workflow.yaml:5:17", "unknown key `cpu`", "did you mean `cpus`?"];
    resources_not_a_mapping: format!("{A}    resources: 4\n")
        => ["workflow.yaml:5:16", "`resources` of node `a` must be a mapping"];
    bad_retries: format!("{A}    retries: -1\n")
        => ["workflow.yaml:5:14", "`retries` of node `a`"];

    // --- the command line ---
    set_on_unknown_node: A, args ["--set", "aa.seed=3"]
        => ["--set aa.seed", "no node `aa`", "did you mean `a`?"];
    set_unknown_param: A, args ["--set", "a.sed=3"]
        => ["--set a.sed=3", "`sed`", "did you mean `seed`?"];
    set_with_wrong_type: A, args ["--set", "a.seed=abc"]
        => ["--set a.seed=abc", "\"abc\""];
    set_float_for_int: A, args ["--set", "a.n=1.5"]
        => ["--set a.n=1.5", "expected an integer"];
    set_without_a_dot: A, args ["--set", "aseed=3"]
        => ["aseed=3", "node.param=value"];
    set_missing_input_file: A, args ["--set", "a.after=nope.csv"]
        => ["--set a.after=nope.csv", "not found"];
    set_negative_count: A, args ["--set", "a.n=-5"]
        => ["--set a.n=-5", "-5 is below the minimum 0"];
    set_nan: A, args ["--set", "a.scale=.nan"]
        => ["--set a.scale=.nan", "expected a finite number, found .nan"];
    set_infinity: A, args ["--set", "a.scale=-.inf"]
        => ["--set a.scale=-.inf", "expected a finite number, found -.inf"];
    set_infinity_in_the_file: format!("{A}    params: {{scale: .inf}}\n")
        => ["workflow.yaml:5:21", "non-finite float `.inf` is not allowed"];
    set_a_count_beyond_integers: A, args ["--set", "a.n=99999999999999999999"]
        => ["--set a.n=99999999999999999999", "expected an integer"];
    set_a_trillion_shards: "name: x\nnodes:\n  s:\n    kind: diag-sweep\n", args ["--set", "s.shards=1000000000000"]
        => ["--set s.shards=1000000000000", "above the maximum 1000000"];
    set_an_empty_choice: "name: x\nnodes:\n  d:\n    kind: simulate\n", args ["--set", "d.perturbation="]
        => ["--set d.perturbation=", "expected one of `overexpression`, `knockdown`"];
    range_of_a_billion_values: "name: x\nnodes:\n  l:\n    kind: leiden-sweep\n    inputs: {grn: {file: e.csv}}\n", args ["--set", "l.resolution={from: 0, to: 1000, step: 0.000001}"]
        => ["--set l.resolution", "a range of 1000000001 values; at most 10000"];
    yaml_alias_bomb: billion_laughs()
        => ["aliases (`*name`) expand to too much", "at most 100000"];

    // --- several problems are reported together ---
    every_problem_is_reported: format!("{A}    params: {{sede: 3, n: x}}\n  b:\n    kind: diag-sumz\n")
        => ["workflow.yaml:5:14", "workflow.yaml:5:26", "workflow.yaml:7:11", "did you mean `diag-sum`?"];
}

/// "Billion laughs": nine levels of nine aliases to the level below, 9⁹ strings if expanded.
fn billion_laughs() -> String {
    let mut y = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        y.push_str(&format!("l{i}: &l{i} [{}]\n", vec![format!("*l{}", i - 1); 9].join(", ")));
    }
    y + "name: x\nnodes:\n  a:\n    kind: diag-numbers\n"
}

#[test]
fn a_missing_workflow_file_is_a_usage_error() {
    let t = Test::new();
    t.args(["run"]).file("nope.yaml").run().status(2).stderr_has(&["nope.yaml", "cannot read the workflow"]);
}

#[test]
fn a_positioned_error_shows_the_line_and_a_caret() {
    let t = Test::new().workflow("name: x\nnodes:\n  a:\n    kind: diag-numbrs\n");
    let out = t.args(["plan"]).run().status(2);
    out.stderr_has(&["4 |     kind: diag-numbrs", "|           ^^^^^^^^^^^"]);
}
