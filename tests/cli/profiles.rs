//! Profiles (issue 22): `--profile NAME` finds `$XDG_CONFIG_HOME/gcrl/NAME.yaml` (else
//! `~/.config/gcrl/NAME.yaml`) when NAME is not a file, `GCRL_PROFILE` names one when no flag
//! does, and each setting follows flag > environment > profile > built-in default. The config
//! folders are temp folders set in each command's environment.

use super::test::{Invocation, Test};

/// A shell plugin whose one output is the number of threads its task was given: `-j` caps a
/// task's threads, so with `cpus: 64` it reports the run's `jobs`.
const THREADS_YAML: &str = "\
name: threads
version: 1
doc: the threads this task got (test plugin)
command: [sh, threads.sh]
format: csv
outputs:
  values: column `value`
resources: { cpus: 64 }
";

const THREADS_SH: &str = "printf 'value\\n%s\\n' \"$GCRL_THREADS\" > \"$GCRL_OUTPUTS/values.csv\"\n";

const NUMBERS: &str = "name: numbers\nnodes:\n  a:\n    kind: diag-numbers\n    params: {n: 3, seed: 1}\n";

fn with_threads_plugin() -> Test {
    Test::new()
        .write("plugins/threads/plugin.yaml", THREADS_YAML)
        .write("plugins/threads/threads.sh", THREADS_SH)
        .workflow("name: threads\nnodes:\n  t:\n    kind: threads\n")
}

/// `XDG_CONFIG_HOME` of the test: `<dir>/config`.
fn xdg(t: &Test) -> String {
    t.path().join("config").display().to_string()
}

/// Writes profile `name` into the test's `XDG_CONFIG_HOME`.
fn profile(t: &Test, name: &str, yaml: &str) {
    t.put(&format!("config/gcrl/{name}.yaml"), yaml);
}

/// `i` with the environment variables `env`.
fn with_env<'t>(mut i: Invocation<'t>, env: &[(&str, &str)]) -> Invocation<'t> {
    for (k, v) in env {
        i = i.env(k, v);
    }
    i
}

/// The threads the task got when run (forced) with `extra` and `env`.
fn threads(t: &Test, extra: &[&str], env: &[(&str, &str)]) -> usize {
    let mut args = vec!["run", "-R", "t"];
    args.extend_from_slice(extra);
    with_env(t.args(args), env).run().success();
    with_env(t.args(["export", "t.values", "--to", "v.csv"]), env).run().success();
    let csv = std::fs::read_to_string(t.path().join("v.csv")).unwrap();
    csv.lines().nth(1).and_then(|l| l.rsplit(',').next()).unwrap().parse().expect("a thread count")
}

#[test]
fn a_profile_name_is_looked_up_in_xdg_config_home_then_home_config() {
    let t = with_threads_plugin();
    profile(&t, "lab", "jobs: 3\n");
    t.put("home/.config/gcrl/lab.yaml", "jobs: 2\n");
    let home = t.path().join("home").display().to_string();
    assert_eq!(threads(&t, &["--profile", "lab"], &[("XDG_CONFIG_HOME", &xdg(&t)), ("HOME", &home)]), 3);
    // No (or a relative, so invalid) XDG_CONFIG_HOME: ~/.config.
    assert_eq!(threads(&t, &["--profile", "lab"], &[("XDG_CONFIG_HOME", ""), ("HOME", &home)]), 2);
    assert_eq!(threads(&t, &["--profile", "lab.yaml"], &[("XDG_CONFIG_HOME", "rel"), ("HOME", &home)]), 2);
    // A path to an existing file is that file, before any name lookup.
    t.put("lab", "jobs: 1\n");
    assert_eq!(threads(&t, &["--profile", "lab"], &[("XDG_CONFIG_HOME", &xdg(&t))]), 1);
}

#[test]
fn jobs_follow_flag_then_profile_then_the_number_of_cores() {
    let t = with_threads_plugin();
    profile(&t, "lab", "jobs: 3\n");
    profile(&t, "big", "jobs: 5\n");
    let x = xdg(&t);
    let cores = std::thread::available_parallelism().unwrap().get().min(64);
    assert_eq!(threads(&t, &[], &[("XDG_CONFIG_HOME", &x)]), cores, "no profile: the cores");
    assert_eq!(threads(&t, &[], &[("XDG_CONFIG_HOME", &x), ("GCRL_PROFILE", "lab")]), 3, "GCRL_PROFILE");
    assert_eq!(threads(&t, &["--profile", "big"], &[("XDG_CONFIG_HOME", &x), ("GCRL_PROFILE", "lab")]), 5);
    assert_eq!(threads(&t, &["--profile", "lab", "-j", "2"], &[("XDG_CONFIG_HOME", &x)]), 2, "-j beats the profile");
}

#[test]
fn the_cache_follows_flag_then_gcrl_cache_then_profile_then_dot_cache() {
    let t = Test::new().workflow(NUMBERS);
    profile(&t, "lab", "cache: profcache\n");
    let x = xdg(&t);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        with_env(t.args([&["run"][..], args].concat()).no_cache().env("XDG_CONFIG_HOME", &x), env).run().success();
    };
    let made = |dir: &str| t.path().join(dir).join("objects").is_dir();
    run(&["--profile", "lab"], &[]);
    assert!(made("profcache") && !made("cache"), "the profile's cache");
    run(&["--profile", "lab"], &[("GCRL_CACHE", "envcache")]);
    assert!(made("envcache"), "GCRL_CACHE beats the profile");
    run(&["--profile", "lab", "--cache", "flagcache"], &[("GCRL_CACHE", "envcache2")]);
    assert!(made("flagcache") && !made("envcache2"), "--cache beats GCRL_CACHE");
    run(&[], &[]);
    assert!(made("cache"), "nothing set: ./cache");
    // Every command reads the profile's cache: plan finds the profile run's results.
    let out = t.args(["plan", "--json"]).no_cache().env("XDG_CONFIG_HOME", &x).env("GCRL_PROFILE", "lab").run();
    let plan = out.success().json();
    assert!(plan["tasks"].as_array().unwrap().iter().all(|t| t["status"] == "cached"), "{plan}");
}

#[test]
fn the_executor_follows_the_flag_then_the_profile_and_slurm_keys_wait_for_slurm() {
    let t = Test::new().workflow(NUMBERS).write("empty/.keep", "");
    profile(&t, "cluster", "executor: slurm\npartition: gpu\njobs: 2\n");
    profile(&t, "laptop", "jobs: 2\npartition: gpu\naccount: lab\nmax_mem_gb: 8\n");
    let (x, path) = (xdg(&t), t.path().join("empty").display().to_string());
    let run = |args: &[&str]| {
        t.args([&["run", "--json"][..], args].concat()).env("XDG_CONFIG_HOME", &x).env("PATH", &path).run()
    };
    run(&["--profile", "cluster"]).status(4).stderr_has(&["`sbatch` was not found on PATH"]);
    assert_eq!(run(&["--profile", "cluster", "--executor", "local"]).success().summary().ran, 1);
    // Slurm keys in a profile run locally: ignored, as the local executor has no use for them.
    assert_eq!(run(&["--profile", "laptop", "-R", "a"]).success().summary().ran, 1);
}

#[test]
fn an_unknown_profile_says_where_it_looked() {
    let t = Test::new().workflow(NUMBERS);
    let x = xdg(&t);
    let wanted = format!("{x}/gcrl/nosuch.yaml");
    let out = t.args(["run", "--profile", "nosuch"]).env("XDG_CONFIG_HOME", &x).run().status(2);
    out.stderr_has(&["no profile `nosuch` (from --profile); looked for:\n  nosuch\n", &wanted, "help:"]);
    let out = t.args(["plan"]).env("XDG_CONFIG_HOME", &x).env("GCRL_PROFILE", "nosuch").run().status(2);
    out.stderr_has(&["no profile `nosuch` (from GCRL_PROFILE)", &wanted]);
    // `gcrl exec` (on a compute node, where GCRL_PROFILE is exported) does not read profiles.
    let out = t.args(["exec", "nothere.json"]).env("GCRL_PROFILE", "nosuch").run();
    assert!(!out.stderr.contains("no profile"), "{}", out.stderr);
}

#[test]
fn every_mistake_in_a_profile_is_shown_with_line_column_caret_and_suggestion() {
    let t = Test::new().workflow(NUMBERS);
    profile(&t, "lab", "jbos: 2\nexecutor: slurmm\nqos: normal\npartiton: debug\n");
    let file = format!("{}/gcrl/lab.yaml", xdg(&t));
    let out = t.args(["run", "--profile", "lab"]).env("XDG_CONFIG_HOME", xdg(&t)).run().status(2);
    out.stderr_has(&[
        &format!("error: unknown key `jbos` in the profile\n  --> {file}:1:1\n  |\n1 | jbos: 2\n  | ^^^^\n  = help: did you mean `jobs`?"),
        &format!("`executor` must be `local` or `slurm`, found `slurmm`\n  --> {file}:2:11"),
        "did you mean `slurm`?",
        &format!("unknown key `partiton` in the profile\n  --> {file}:4:1"),
        "did you mean `partition`?",
    ]);
}
