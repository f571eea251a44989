//! Zipped sweeps (`sweep: {zip: {…}}`), grid × zip, and sweeping from the command line with
//! `--set node.param=[…]`: which tasks the plan holds, and that a run computes each once.

use super::test::Test;

const ZIPPED: &str = "\
name: zipped
nodes:
  a:
    kind: diag-numbers
    sweep: {zip: {seed: [1, 2, 3], n: [4, 5, 6]}}
  s:
    kind: diag-sum
    inputs: {values: a.values}
";

const GRID_AND_ZIP: &str = "\
name: gridzip
nodes:
  a:
    kind: diag-numbers
    sweep: {scale: [1, 2], zip: {seed: [1, 2], n: [4, 5]}}
";

const PLAIN: &str = "\
name: plain
nodes:
  a:
    kind: diag-numbers
    params: {n: 4}
  s:
    kind: diag-sum
    inputs: {values: a.values}
";

#[test]
fn a_zipped_sweep_pairs_its_lists_by_position() {
    let t = Test::new().workflow(ZIPPED);
    assert_eq!(t.to_run(&[]), ["a[n=4,seed=1]", "a[n=5,seed=2]", "a[n=6,seed=3]", "s"]);
    let run = t.run_ok(&[]);
    assert_eq!((run.tasks, run.ran), (4, 4));
    assert!(t.to_run(&[]).is_empty(), "a second plan finds every zipped point cached");
}

#[test]
fn a_grid_beside_a_zip_takes_every_grid_value_with_every_zip_point() {
    let t = Test::new().workflow(GRID_AND_ZIP);
    assert_eq!(
        t.to_run(&[]),
        ["a[n=4,scale=1.0,seed=1]", "a[n=4,scale=2.0,seed=1]", "a[n=5,scale=1.0,seed=2]", "a[n=5,scale=2.0,seed=2]"]
    );
}

#[test]
fn set_with_a_list_sweeps_a_param_from_the_command_line() {
    let t = Test::new().workflow(PLAIN);
    assert_eq!(t.to_run(&["--set", "a.seed=[1,2,3]"]), ["a[seed=1]", "a[seed=2]", "a[seed=3]", "s"]);
    // A list replaces the param's value: `n` was 4 in the file, now it is swept.
    assert_eq!(t.to_run(&["--set", "a.n=[2,3]"]), ["a[n=2]", "a[n=3]", "s"]);
    assert_eq!(t.run_ok(&["--set", "a.seed=[1,2]"]).ran, 3);
    // The points swept from `--set` are the tasks the same sweep in the file has.
    t.put("workflow.yaml", PLAIN.replace("params: {n: 4}", "params: {n: 4}\n    sweep: {seed: [1, 2]}"));
    assert!(t.to_run(&[]).is_empty(), "{:?}", t.plan(&[]));
}

#[test]
fn set_replaces_a_sweep_with_a_value_or_another_list() {
    let t = Test::new().workflow(ZIPPED);
    // A scalar takes `seed` out of the zip; `n` stays swept alone.
    assert_eq!(t.to_run(&["--set", "a.seed=7"]), ["a[n=4]", "a[n=5]", "a[n=6]", "s"]);
    // A list of the zip's length replaces `seed`'s list in it.
    assert_eq!(t.to_run(&["--set", "a.seed=[7,8,9]"]), ["a[n=4,seed=7]", "a[n=5,seed=8]", "a[n=6,seed=9]", "s"]);
    let g = Test::new().workflow(GRID_AND_ZIP);
    assert_eq!(g.to_run(&["--set", "a.scale=3"]), ["a[n=4,seed=1]", "a[n=5,seed=2]"]);
    assert_eq!(g.to_run(&["--set", "a.scale=[5]"]).len(), 2);
}

#[test]
fn a_set_list_that_cannot_be_a_sweep_is_refused_naming_it() {
    let t = Test::new().workflow(ZIPPED);
    t.args(["plan", "--set", "a.seed=[7,8]"]).run().status(2).stderr_has(&[
        "--set a.seed=[7,8]",
        "`seed` is zipped with `n`, which has 3 values, not 2",
        "give 3 values",
    ]);
    t.args(["plan", "--set", "a.seed=[]"]).run().status(2).stderr_has(&["--set a.seed=[]: the sweep is empty"]);
    t.args(["plan", "--set", "a.seed=[1,1]"]).run().status(2).stderr_has(&["the sweep repeats 1"]);
    t.args(["plan", "--set", "a.seed=[1,-2]"]).run().status(2).stderr_has(&["--set a.seed=[1,-2]"]);
}
