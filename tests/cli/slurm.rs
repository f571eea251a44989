//! `--executor slurm` against a real Slurm cluster (issue 7): the same bytes as a local run, sweeps
//! as job arrays, a job cancelled with `scancel` is retried (with memory capped, issue 22), a
//! failing task is reported and not retried, a request above the cap is refused, Ctrl-C
//! cancels the run's jobs, and a killed head resumes by adopting the jobs that still run.
//!
//! The cluster is the one `scripts/slurm-local.sh start` brings up (`.ci/run` starts it). The tests
//! that need it are `#[ignore]`d, so a machine without a cluster shows them as ignored; CI runs
//! them (`-- --ignored`), and run where no controller answers they fail, saying how to start
//! one. They never install or start anything themselves.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::fixtures::FAILING;
use super::test::{Output, Test, manifests, wait_until};

/// Fails the calling test unless a Slurm controller answers `scontrol ping` (asked once).
fn slurm() {
    static UP: OnceLock<bool> = OnceLock::new();
    let up = UP.get_or_init(|| {
        Command::new("timeout")
            .args(["20", "scontrol", "ping"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("is UP"))
    });
    assert!(
        *up,
        "no Slurm controller answers `scontrol ping`: start one with `bash scripts/slurm-local.sh start` (root)"
    );
}

/// `run --json --executor slurm` with a short poll interval, and `extra`.
fn slurm_run(t: &Test, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--json", "--executor", "slurm", "--slurm-poll", "0.3"];
    args.extend_from_slice(extra);
    t.args(args).run()
}

/// Output hashes of every task in `cache`, by label.
fn hashes(cache: &Path) -> BTreeMap<String, Value> {
    manifests(cache).into_iter().map(|(label, m)| (label, m["outputs"].clone())).collect()
}

/// The run state of the only Slurm run in the test's cache.
fn run_state(t: &Test) -> Value {
    let status = t.args(["status", "--json"]).raw().run().success().json();
    let runs = status["runs"].as_array().expect("status --json has `runs`");
    assert_eq!(runs.len(), 1, "{status}");
    runs[0].clone()
}

/// The run state as the head last saved it, read directly (while the head runs).
fn saved_state(t: &Test, workflow: &str) -> Option<Value> {
    let bytes = std::fs::read(t.cache().join("slurm").join(workflow).join("run.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn jobs(state: &Value) -> Vec<Value> {
    state["jobs"].as_array().cloned().unwrap_or_default()
}

fn states(job: &Value) -> Vec<String> {
    job["elements"].as_array().into_iter().flatten().map(|e| e["state"].as_str().unwrap_or("").to_string()).collect()
}

/// Waits until the head has an element in state RUNNING; the job's id.
fn wait_running(t: &Test, workflow: &str) -> String {
    let mut id = String::new();
    wait_until(Duration::from_secs(60), "a running Slurm element", || {
        let Some(s) = saved_state(t, workflow) else { return false };
        match jobs(&s).iter().find(|j| states(j).iter().any(|st| st == "RUNNING")) {
            Some(j) => {
                id = j["job_id"].as_str().unwrap_or_default().to_string();
                true
            }
            None => false,
        }
    });
    id
}

const DEMO_LIKE: &str = "\
name: demo-like
defaults: { seed: 3 }
nodes:
  data:
    kind: simulate
    params: { tfs: 20, communities: 3, targets: 80, control_cells: 300, singles: 20, doubles: 2, cells_per_perturbation: 20 }
  prep:
    kind: preprocess
    inputs: { counts: data.counts, cells: data.cells, tfs: data.tfs }
    params: { n_top_genes: 60 }
  grn:
    kind: grn
    inputs: { expression: prep.expression, tfs: data.tfs, cells: prep.cells }
    params: { bagging: 4 }
  communities:
    kind: leiden-sweep
    inputs: { grn: data.edges, tfs: data.tfs }
    params: { runs: 40, block: 10, cohesion_permutations: 50 }
    resources: { minutes: 0.5 }
  activities:
    kind: eigengene
    inputs: { expression: prep.expression, communities: communities.consensus, cells: prep.cells }
";

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn slurm_run_of_a_demo_like_workflow_gives_the_bytes_of_a_local_run() {
    slurm();
    let t = Test::new().workflow(DEMO_LIKE);
    let local = t.path().join("local-cache");
    t.args(["run", "--json", "-j2"]).cache(&local).run().success();
    let s = slurm_run(&t, &["--slurm-target-minutes", "3"]).success().summary();
    assert_eq!((s.failed, s.cached), (0, 0), "{s:?}");
    assert_eq!(s.ran, s.tasks);
    assert_eq!(hashes(&t.cache()), hashes(&local), "every output has the bytes of the local run");
    let state = run_state(&t);
    let arrays: Vec<Value> = jobs(&state).into_iter().filter(|j| j["array"] == true).collect();
    assert_eq!(arrays.len(), 1, "the 48 Leiden shards go out as one array: {state}");
    assert_eq!(arrays[0]["elements"].as_array().map(Vec::len), Some(8), "6 shards of 0.5 min per 3-minute element");
    assert!(jobs(&state).iter().all(|j| states(j).iter().all(|s| s == "COMPLETED")), "{state}");
    // A second run is served from the cache without submitting anything: answered from the
    // seal, it leaves the first run's state as it was; any other way, its state has no jobs.
    let again = slurm_run(&t, &[]).success().summary();
    assert_eq!((again.ran, again.cached), (0, again.tasks));
    let ids = |s: &Value| jobs(s).iter().map(|j| j["job_id"].to_string()).collect::<Vec<_>>();
    let after = run_state(&t);
    assert!(ids(&after) == ids(&state) || jobs(&after).is_empty(), "{after}");
}

const SWEEP: &str = "\
name: sweep
nodes:
  sweep:
    kind: diag-sweep
    params: { shards: 12, per_shard: 3 }
    sweep: { seed: [1, 2] }
    resources: { minutes: 0.5 }
  total:
    kind: diag-sum
    inputs: { values: sweep.values }
";

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn a_sweep_goes_out_as_one_job_array_packed_by_the_target_duration() {
    slurm();
    let t = Test::new().workflow(SWEEP);
    let local = t.path().join("local-cache");
    t.args(["run", "--json"]).cache(&local).run().success();
    let s = slurm_run(&t, &["--slurm-target-minutes", "2"]).success().summary();
    assert_eq!((s.tasks, s.ran, s.failed), (27, 27, 0));
    assert_eq!(hashes(&t.cache()), hashes(&local));
    let state = run_state(&t);
    let all = jobs(&state);
    assert!((3..=4).contains(&all.len()), "shards (one array), the two reduces (one or two jobs), the sum: {state}");
    assert_eq!(all[0]["array"], true);
    let sizes: Vec<u64> = all[0]["elements"].as_array().unwrap().iter().map(|e| e["tasks"].as_u64().unwrap()).collect();
    assert_eq!(sizes, vec![4; 6], "24 shards of 0.5 min in elements of 2 minutes");
    assert_eq!(all[0]["minutes"], 2);
    assert!(all[1..].iter().all(|j| j["array"] == false), "{state}");
    let text = t.args(["status"]).raw().run().success().stdout;
    assert!(text.contains("array of 6") && text.contains("COMPLETED") && text.contains(".log"), "{text}");
}

const SLOW: &str = "\
name: slow
nodes:
  slow:
    kind: diag-numbers
    params: { seed: 4, sleep_ms: 4000 }
    retries: 1
";

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn a_job_cancelled_with_scancel_is_reported_with_its_state_and_log_then_retried() {
    slurm();
    let t = Test::new().workflow(SLOW);
    let head = t.args(["run", "--json", "--executor", "slurm", "--slurm-poll", "0.3"]).spawn();
    let id = wait_running(&t, "slow");
    let cancel = Command::new("scancel").arg(&id).status().expect("scancel runs");
    assert!(cancel.success());
    let out = head.wait().success();
    assert_eq!(out.summary().ran, 1);
    let out = out.stderr_has(&["failed (will retry)", &format!("slurm job {id} ended CANCELLED"), "log: "]);
    assert!(out.stderr.contains(".log"), "{}", out.stderr);
    let state = run_state(&t);
    let all = jobs(&state);
    assert_eq!(all.len(), 2, "{state}");
    assert!(states(&all[0])[0].starts_with("CANCELLED"), "{state}");
    assert_eq!((states(&all[1])[0].as_str(), all[1]["attempt"].as_u64()), ("COMPLETED", Some(1)));
    assert_eq!(all[0]["mem_mb"].as_u64(), Some(1024), "no `mem_gb`: the estimate, at least the 1 GiB floor");
    assert_eq!(all[1]["mem_mb"].as_u64(), Some(2 * all[0]["mem_mb"].as_u64().unwrap()), "a retry asks for more");
}

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn a_task_failing_on_a_compute_node_is_reported_by_name_and_the_rest_finishes() {
    slurm();
    let t = Test::new().workflow(FAILING);
    let out = slurm_run(&t, &[]).status(1);
    let s = out.summary();
    assert_eq!((s.tasks, s.ran, s.failed, s.skipped), (6, 4, 1, 1), "{s:?}");
    out.stderr_has(&["task bad failed", "failing on purpose (param `fail: true`)", "skipped sum"]);
    let state = run_state(&t);
    let bad = jobs(&state).into_iter().find(|j| j["what"] == "bad").expect("a job for `bad`");
    assert_eq!(states(&bad), ["FAILED"], "gcrl exec exits 1 when a task failed");
    let log = Path::new(state["dir"].as_str().unwrap())
        .join("logs")
        .join(format!("{}.0.log", bad["token"].as_str().unwrap()));
    let text = std::fs::read_to_string(&log).expect("the element's log");
    assert!(text.contains("task bad failed: failing on purpose"), "{text}");
}

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn a_partition_slurm_refuses_fails_the_tasks_with_sbatch_s_message() {
    slurm();
    let t = Test::new().workflow(SLOW).write("slurm.yaml", "partition: nosuch\n");
    let out = slurm_run(&t, &["--profile", "slurm.yaml"]).status(1);
    out.stderr_has(&["task slow failed: sbatch refused the job", "--partition=nosuch", "fix the --profile"]);
}

/// SLOW with a 1 GiB request and two retries, for the caps.
fn slow_1g() -> String {
    SLOW.replace("    retries: 1\n", "    resources: { mem_gb: 1 }\n    retries: 2\n")
}

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn a_retry_after_a_killed_job_asks_for_more_memory_up_to_the_cap_and_status_shows_cpu_and_peak_rss() {
    slurm();
    let t = Test::new().workflow(&slow_1g()).write("slurm.yaml", "retry_scale: 4\nmax_mem_gb: 2\n");
    let head =
        t.args(["run", "--json", "--executor", "slurm", "--slurm-poll", "0.3", "--profile", "slurm.yaml"]).spawn();
    let id = wait_running(&t, "slow");
    assert!(Command::new("scancel").arg(&id).status().expect("scancel runs").success());
    let out = head.wait().success();
    out.stderr_has(&["failed (will retry)", &format!("slurm job {id} ended CANCELLED")]);
    let state = run_state(&t);
    assert_eq!(jobs(&state).len(), 2, "a retry after the kill: {state}");
    let mems: Vec<u64> = jobs(&state).iter().map(|j| j["mem_mb"].as_u64().unwrap()).collect();
    assert_eq!(mems, [1024, 2048], "4 × 1 GiB capped at 2 GiB: {state}");
    let usage = &jobs(&state)[1]["elements"][0]["usage"];
    assert!(usage["peak_rss_mb"].as_f64().is_some_and(|p| p > 1.0), "the worker's own rusage: {state}");
    assert_eq!(usage["alone"], true, "a worker runs its tasks one at a time: {usage}");
    let text = t.args(["status"]).raw().run().success().stdout;
    assert!(text.contains("cpu ") && text.contains(" MiB") && text.contains("COMPLETED"), "{text}");
}

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn a_request_above_the_profile_cap_is_refused_before_anything_is_submitted() {
    slurm();
    let two = SLOW.replace("    retries: 1\n", "    resources: { mem_gb: 2 }\n    retries: 1\n");
    let t = Test::new().workflow(&two).write("slurm.yaml", "max_mem_gb: 1\n");
    let out = slurm_run(&t, &["--profile", "slurm.yaml"]).status(1);
    assert!(!out.stderr.contains("will retry"), "{}", out.stderr);
    out.stderr_has(&["node `slow` asks for 2 GiB", "the cap is 1 GiB", "lower `mem_gb` or raise the cap"]);
    let submitted = saved_state(&t, "slow").map(|s| jobs(&s)).unwrap_or_default();
    assert!(submitted.is_empty(), "nothing submitted: {submitted:?}");
}

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn a_task_failing_on_bad_input_on_a_compute_node_is_not_retried() {
    slurm();
    let t = Test::new()
        .workflow("name: bad\nnodes:\n  bad:\n    kind: diag-numbers\n    params: {fail: true}\n    retries: 2\n");
    let out = slurm_run(&t, &[]).status(1);
    assert!(!out.stderr.contains("will retry"), "{}", out.stderr);
    out.stderr_has(&["task bad failed", "failing on purpose"]);
    assert_eq!(jobs(&run_state(&t)).len(), 1, "one job, no retry");
}

const RESUME: &str = "\
name: resume
nodes:
  sweep:
    kind: diag-sweep
    params: { shards: 4, per_shard: 2, sleep_ms: 3000 }
    resources: { minutes: 0.5 }
";

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn a_killed_head_restarted_adopts_the_jobs_that_still_run() {
    slurm();
    let t = Test::new().workflow(RESUME);
    let local = t.path().join("local-cache");
    t.args(["run", "--json", "-j2"]).cache(&local).run().success();
    let mut head =
        t.args(["run", "--json", "--executor", "slurm", "--slurm-poll", "0.3", "--slurm-target-minutes", "1"]).spawn();
    let array = wait_running(&t, "resume");
    head.child.kill().expect("SIGKILL the head");
    assert_eq!(head.wait().status, -1);
    let s = slurm_run(&t, &["--slurm-target-minutes", "1"]).success().summary();
    assert_eq!((s.tasks, s.ran, s.failed), (5, 5, 0), "the adopted shards are reported as they finish");
    assert_eq!(hashes(&t.cache()), hashes(&local));
    let state = run_state(&t);
    let all = jobs(&state);
    let arrays: Vec<&Value> = all.iter().filter(|j| j["array"] == true).collect();
    assert_eq!(arrays.len(), 1, "the shards were not submitted again: {state}");
    assert_eq!(arrays[0]["job_id"].as_str(), Some(array.as_str()));
    assert_eq!(all.len(), 2, "the adopted array and the reduce: {state}");
}

#[test]
#[ignore = "needs a Slurm cluster (bash scripts/slurm-local.sh start); CI runs it"]
fn ctrl_c_on_the_head_cancels_its_jobs() {
    slurm();
    let t = Test::new().workflow(&SLOW.replace("4000", "60000"));
    let head = t.args(["run", "--json", "--executor", "slurm", "--slurm-poll", "0.3"]).spawn();
    let id = wait_running(&t, "slow");
    let sent = Command::new("kill").args(["-INT", &head.child.id().to_string()]).status().expect("kill runs");
    assert!(sent.success());
    let out = head.wait().status(130).stderr_has(&["interrupted", &format!("slurm job {id} was cancelled")]);
    assert!(!out.stderr.contains("will retry"), "an interrupted task is not retried:\n{}", out.stderr);
    let squeue = Command::new("squeue").args(["-h", "-t", "all", "-o", "%T", "-j", &id]).output().expect("squeue");
    let state = String::from_utf8_lossy(&squeue.stdout);
    assert!(state.trim().starts_with("CANCELLED"), "squeue says {state}");
    assert_eq!(run_state(&t)["outcome"], "interrupted");
}

#[test]
fn slurm_without_sbatch_on_path_says_what_to_do() {
    let t = Test::new().workflow(SLOW);
    t.args(["run", "--executor", "slurm"]).env("PATH", t.path()).run().status(4).stderr_has(&[
        "`sbatch` was not found on PATH",
        "install slurm-client",
        "leave out --executor slurm",
    ]);
}

/// Writes fake Slurm client commands into `<dir>/bin` (`sbatch`, `squeue`; `scancel` succeeds)
/// with these shell bodies; the PATH to give gcrl.
fn fake_slurm(t: &Test, sbatch: &str, squeue: &str) -> std::path::PathBuf {
    for (command, body) in [("sbatch", sbatch), ("scancel", "exit 0"), ("squeue", squeue)] {
        t.put(&format!("bin/{command}"), format!("#!/bin/sh\n{body}\n"));
        let path = t.path().join("bin").join(command);
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }
    t.path().join("bin")
}

const UNREACHABLE: &str = "echo 'error: Unable to contact slurm controller (connect failure)' >&2; exit 1";

#[test]
fn an_unreachable_controller_exits_with_the_cluster_code() {
    let t = Test::new().workflow(SLOW);
    let path = fake_slurm(&t, "exit 0", UNREACHABLE);
    let out = t.args(["run", "--executor", "slurm"]).env("PATH", path).run().status(4);
    out.stderr_has(&["the Slurm controller does not answer", "Unable to contact slurm controller"]);
    assert!(!t.cache().join("slurm").exists(), "nothing was submitted");
}

#[test]
fn a_run_folder_that_cannot_be_made_exits_with_the_file_code() {
    let t = Test::new().workflow(SLOW);
    // A file where the runs' folder goes: no run folder can be made under it, even as root.
    std::fs::create_dir_all(t.cache()).unwrap();
    std::fs::write(t.cache().join("slurm"), "not a folder").unwrap();
    let path = fake_slurm(&t, "exit 0", "exit 0");
    let out = t.args(["run", "--executor", "slurm"]).env("PATH", path).run().status(3);
    out.stderr_has(&["slurm/", "jobs"]);
}

#[test]
fn a_controller_lost_during_the_run_exits_with_the_cluster_code_after_retries() {
    let t = Test::new().workflow(SLOW);
    // squeue answers (the start check passes), sbatch cannot reach the controller.
    let path = fake_slurm(&t, UNREACHABLE, "exit 0");
    let out = t.args(["run", "--executor", "slurm", "--slurm-poll", "0.3"]).env("PATH", path).run().status(4);
    out.stderr_has(&["the cluster did not take the job after 4 tries", "Unable to contact slurm controller"]);
}

#[test]
fn a_bad_profile_is_refused_with_its_file_line_column_and_fix() {
    let t = Test::new().workflow(SLOW).write("slurm.yaml", "qos: normal\npartiton: debug\n");
    let wanted = ["unknown key `partiton` in the profile", "slurm.yaml:2:1", "did you mean `partition`?"];
    t.args(["run", "--executor", "slurm", "--profile", "slurm.yaml"]).run().status(2).stderr_has(&wanted);
    // Checked with the local executor too, which ignores the Slurm keys of a good profile.
    t.args(["run", "--profile", "slurm.yaml"]).run().status(2).stderr_has(&wanted);
    t.args(["run", "--executor", "slurm", "--slurm-poll", "0"])
        .run()
        .status(2)
        .stderr_has(&["`--slurm-poll` must be a positive number of seconds"]);
}
