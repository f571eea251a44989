//! Faults from outside: Ctrl-C and SIGTERM mid-run, kill -9 at many moments of one run, a
//! damaged cache (each kind of damage), a cache that cannot be written, odd paths, and several
//! `gcrl run` at once. Each case ends with a run that completes and reuses what survived.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cache::sleepers;
use super::test::{Test, files_under, manifest_record, manifests, object_of, object_path, wait_until};

/// A `gcrl run` whose stderr is read as it is written.
struct Watched {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: JoinHandle<()>,
}

impl Watched {
    fn start(t: &Test, args: &[&str]) -> Watched {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let mut child = t.args(all).spawn().child;
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().expect("piped stderr"), Arc::clone(&stderr));
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Watched { child, stderr, reader }
    }

    fn text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    #[track_caller]
    fn wait_for(&self, needle: &str) {
        wait_until(Duration::from_secs(30), needle, || self.text().contains(needle));
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill has no memory effects; the child is ours and not yet reaped.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, signal) }, 0, "kill({signal})");
    }

    /// Waits for the end: `(exit code or -signal, stderr)`.
    fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().expect("gcrl ends");
        self.reader.join().expect("stderr reader");
        let stderr = self.stderr.lock().unwrap().clone();
        assert!(!stderr.contains("panicked"), "gcrl panicked:\n{stderr}");
        (status.code().unwrap_or_else(|| -status.signal().unwrap_or(0)), stderr)
    }
}

/// Labels of the tasks a run reported as ran (`ran LABEL (…s)` lines; shards are not listed).
fn reported_ran(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("] ran ").map(|(_, rest)| rest.rsplit_once(" (").map_or(rest, |(l, _)| l)))
        .map(String::from)
        .collect()
}

/// The `N of M tasks finished` figure of the line `gcrl run` prints when interrupted.
#[track_caller]
fn finished_when_interrupted(stderr: &str, signal: &str) -> usize {
    let line = stderr.lines().find(|l| l.starts_with(&format!("interrupted by {signal}: "))).unwrap_or_else(|| {
        panic!("no `interrupted by {signal}` line:\n{stderr}");
    });
    let rest = &line[format!("interrupted by {signal}: ").len()..];
    rest.split_once(" of ").and_then(|(n, _)| n.parse().ok()).unwrap_or_else(|| panic!("no count in {line:?}"))
}

/// Interrupts a run of the sleepers once two tasks ran: it must start nothing more, let the two
/// running ones finish and store them, say what did not finish, and exit with `code`.
fn interrupted_run_stops_cleanly(signal: libc::c_int, name: &str, code: i32) {
    let t = Test::new().workflow(&sleepers(700));
    let run = Watched::start(&t, &["-j2"]);
    run.wait_for("ran n1");
    run.signal(signal);
    let (status, stderr) = run.finish();
    assert_eq!(status, code, "exit code after {name}:\n{stderr}");
    assert!(stderr.contains("interrupted: starting no more tasks"), "{stderr}");
    let finished = finished_when_interrupted(&stderr, name);
    let ran = reported_ran(&stderr);
    assert_eq!(finished, ran.len(), "the count names the tasks that ran:\n{stderr}");
    assert!((2..7).contains(&finished), "{finished} of 7 finished:\n{stderr}");
    assert!(stderr.contains("not finished: ") && stderr.contains("total"), "names what did not finish:\n{stderr}");
    assert!(stderr.contains("run again to resume"), "{stderr}");
    let stored = manifests(&t.cache());
    assert_eq!(stored.len(), finished, "every finished task is committed before exit: {:?}", stored.keys());
    for label in &ran {
        assert!(stored.contains_key(label), "{label} was reported ran but is not in the cache");
    }
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt, 0 task results removed"]);
    let s = t.run_ok(&["-j2"]);
    assert_eq!((s.ran, s.cached, s.failed), (7 - finished, finished, 0), "the next run reuses what finished");
}

#[test]
fn ctrl_c_lets_running_tasks_finish_and_exits_130() {
    interrupted_run_stops_cleanly(libc::SIGINT, "Ctrl-C (SIGINT)", 130);
}

#[test]
fn sigterm_lets_running_tasks_finish_and_exits_143() {
    interrupted_run_stops_cleanly(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn a_second_ctrl_c_stops_at_once() {
    let t = Test::new().workflow(
        "name: slow\nnodes:\n  fast:\n    kind: diag-numbers\n  slow:\n    kind: diag-sum\n    \
         inputs: {values: fast.values}\n    params: {sleep_ms: 60000}\n",
    );
    let run = Watched::start(&t, &["-j2"]);
    run.wait_for("ran fast");
    std::thread::sleep(Duration::from_millis(200));
    run.signal(libc::SIGINT);
    run.wait_for("waiting for 1 running to end (slow); interrupt again to stop at once");
    std::thread::sleep(Duration::from_millis(300));
    assert!(run.text().lines().all(|l| !l.starts_with("interrupted by")), "the first Ctrl-C waits for `slow`");
    let sent = Instant::now();
    run.signal(libc::SIGINT);
    let (status, stderr) = run.finish();
    assert_eq!(status, -libc::SIGINT, "killed by the second SIGINT:\n{stderr}");
    assert!(sent.elapsed() < Duration::from_secs(10), "not after `slow` ended");
    assert!(stderr.contains("interrupted again, stopping at once"), "{stderr}");
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt"]);
    assert_eq!(t.to_run(&[]), ["slow"], "`fast` was committed before the kill");
}

/// Swept tasks, a sharded sweep and sums over both, each task sleeping a little.
const SWEPT: &str = "\
name: swept
nodes:
  a:
    kind: diag-numbers
    params: {n: 40, sleep_ms: 30}
    sweep: {seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}
  s:
    kind: diag-sum
    inputs: {values: a.values}
    params: {sleep_ms: 30}
  sw:
    kind: diag-sweep
    params: {shards: 16, per_shard: 20, seed: 11, sleep_ms: 20}
  t:
    kind: diag-sum
    inputs: {values: [sw.values, a.values]}
";

/// Every task key with its output hashes.
fn results(cache: &Path) -> Vec<(String, String)> {
    manifests(cache).into_iter().map(|(label, m)| (label, format!("{} {}", m["key"], m["outputs"]))).collect()
}

/// The most tasks reported finished that a kill may lose: two commit batches (see
/// `src/cache/commit.rs` and the README).
const COMMIT_BOUND: usize = 2 * 256;

#[test]
fn kill_9_at_ten_moments_of_one_run_loses_no_committed_result_and_resumes_to_the_same_bytes() {
    let t = Test::new().workflow(SWEPT);
    let reference = t.path().join("reference");
    let started = Instant::now();
    let full = t.args(["run", "--json", "-j2"]).cache(&reference).run().success().summary();
    let duration = started.elapsed();
    assert_eq!(full.tasks, 31);
    let cache = t.cache();
    // Moments spread over the run's length, in a fixed pseudo-random order (xorshift). A run
    // that completes before its kill starts a new round on an empty cache, until 10 kills.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let (mut tries, mut kills, mut rounds, mut lost_total, mut lost_max) = (0, 0, 1, 0, 0);
    while kills < 10 {
        assert!(tries < 60, "{kills} kills in {tries} tries: the runs end too fast to be killed");
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = duration.mul_f64((state % 1000) as f64 / 1000.0);
        let run = Watched::start(&t, &["-j2"]);
        std::thread::sleep(at);
        run.signal(libc::SIGKILL);
        let (status, stderr) = run.finish();
        tries += 1;
        if status == 0 {
            assert_eq!(results(&cache), results(&reference), "a resumed round ends with the same results");
            std::fs::remove_dir_all(&cache).unwrap();
            rounds += 1;
            continue;
        }
        kills += 1;
        assert_eq!(status, -libc::SIGKILL, "{stderr}");
        let stored = manifests(&cache);
        let lost = reported_ran(&stderr).iter().filter(|l| !stored.contains_key(*l)).count();
        assert!(lost <= COMMIT_BOUND, "{lost} reported tasks lost, more than the commit bound");
        lost_total += lost;
        lost_max = lost_max.max(lost);
        t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt, 0 task results removed"]);
    }
    eprintln!(
        "kill -9: {tries} runs, {kills} killed, {rounds} rounds; reported-finished tasks lost: {lost_total} in all, \
         at most {lost_max} per kill"
    );
    let last = t.run_ok(&["-j2"]);
    assert_eq!(last.failed, 0);
    assert_eq!(results(&cache), results(&reference), "same keys and output hashes as the uninterrupted run");
    assert!(files_under(&cache.join("objects")) == files_under(&reference.join("objects")), "same object bytes");
    assert!(files_under(&cache.join("tmp")).is_empty(), "no temp file of a killed run is left");
}

/// The MIXED workflow of `cache.rs`, smaller.
const SMALL: &str = "\
name: small
nodes:
  a:
    kind: diag-numbers
    params: {n: 50, scale: 3.5}
    sweep: {seed: [1, 2]}
  s:
    kind: diag-sum
    inputs: {values: a.values}
";

/// One kind of damage to a finished cache, and what `cache verify` must print about it.
struct Damage {
    name: &'static str,
    apply: fn(&Path),
    verify_says: fn(&Path) -> String,
    /// What a run straight after the damage computes: `a[seed=2]` when a file it needs is
    /// gone; nothing when the files are there but damaged, as a run reads neither the manifest
    /// (the run record names the outputs) nor the object (`s` is cached): objects are checked
    /// when read (`show`, a consumer) and `verify` checks both.
    run_computes: usize,
}

fn key_of(cache: &Path, label: &str) -> String {
    manifests(cache)[label]["key"].as_str().unwrap().to_string()
}

fn manifest_path(cache: &Path, key: &str) -> std::path::PathBuf {
    cache.join("tasks").join(&key[..2]).join(format!("{key}.json"))
}

const DAMAGES: &[Damage] = &[
    Damage {
        name: "truncated object",
        apply: |c| {
            let p = object_path(c, &object_of(c, "a[seed=2]", "values"));
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        },
        verify_says: |c| format!("corrupt object {}", object_of(c, "a[seed=2]", "values")),
        run_computes: 0,
    },
    Damage {
        name: "deleted object",
        apply: |c| std::fs::remove_file(object_path(c, &object_of(c, "a[seed=2]", "values"))).unwrap(),
        verify_says: |c| format!("task {}: its result is incomplete", key_of(c, "a[seed=2]")),
        run_computes: 1,
    },
    Damage {
        name: "deleted manifest",
        apply: |c| std::fs::remove_file(manifest_path(c, &key_of(c, "a[seed=2]"))).unwrap(),
        verify_says: |_| "workflow `small`: the newest run lists 1 task whose result is gone (a[seed=2])".into(),
        run_computes: 1,
    },
    Damage {
        name: "garbage manifest",
        apply: |c| {
            let p = manifest_path(c, &key_of(c, "a[seed=2]"));
            std::fs::remove_file(&p).unwrap();
            std::fs::write(&p, b"\x00\xffnot json at all{{{").unwrap();
        },
        verify_says: |c| format!("task {}: its record is unreadable", key_of(c, "a[seed=2]")),
        run_computes: 0,
    },
];

/// A finished run of [`SMALL`] with `damage` done to it, `a[seed=2]`'s table as `show` printed
/// it before (and as `export` wrote it, in `good.csv`), and what `verify` must say.
fn damaged(damage: &Damage) -> (Test, String, String) {
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    let good = t.args(["show", "a.values", "--set", "a.seed=2"]).run().success().stdout;
    t.args(["export", "a.values", "--set", "a.seed=2", "--to", "good.csv"]).run().success();
    let says = (damage.verify_says)(&t.cache());
    (damage.apply)(&t.cache());
    (t, good, says)
}

/// `cache verify` exits 1 when it found a corrupt object, 0 when it only removed records.
fn verify_code(damage: &Damage) -> i32 {
    i32::from(damage.name == "truncated object")
}

/// The next run recomputes `a[seed=2]` alone (its consumer `s` gets the same bytes), and the
/// cache is whole again.
#[track_caller]
fn repaired_by_one_run(t: &Test, good: &str, what: &str) {
    let s = t.run_ok(&[]);
    assert_eq!((s.ran, s.cached, s.failed), (1, 2, 0), "{what}: only `a[seed=2]` is recomputed");
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt, 0 task results removed"]);
    assert_eq!(t.args(["show", "a.values", "--set", "a.seed=2"]).run().success().stdout, good, "{what}");
}

#[test]
fn each_kind_of_damage_is_reported_by_verify_and_then_recomputed_alone() {
    for damage in DAMAGES {
        let (t, good, says) = damaged(damage);
        t.args(["cache", "verify"]).raw().run().status(verify_code(damage)).stdout_has(&[&says]);
        repaired_by_one_run(&t, &good, damage.name);
    }
}

#[test]
fn a_run_straight_after_each_damage_recomputes_what_is_lost_and_verify_then_finds_the_rest() {
    for damage in DAMAGES {
        let (t, good, says) = damaged(damage);
        let s = t.run_ok(&[]);
        assert_eq!((s.ran, s.failed), (damage.run_computes, 0), "{}", damage.name);
        if damage.run_computes == 0 {
            t.args(["cache", "verify"]).raw().run().status(verify_code(damage)).stdout_has(&[&says]);
            repaired_by_one_run(&t, &good, damage.name);
        } else {
            t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt, 0 task results removed"]);
            assert_eq!(
                t.args(["show", "a.values", "--set", "a.seed=2"]).run().success().stdout,
                good,
                "{}",
                damage.name
            );
        }
    }
}

#[test]
fn show_and_export_of_a_damaged_result_give_the_right_table_or_a_clear_error() {
    for damage in DAMAGES {
        let (t, good, _) = damaged(damage);
        let shown = t.args(["show", "a.values", "--set", "a.seed=2"]).run();
        let exported = t.args(["export", "a.values", "--set", "a.seed=2", "--to", "a.csv"]).run();
        for out in [&shown, &exported] {
            match out.status {
                0 => {}
                2 | 3 => assert!(out.stderr.starts_with("error: "), "{}: {}", damage.name, out.stderr),
                other => panic!("{}: exited {other}: {}", damage.name, out.stderr),
            }
        }
        if shown.status == 0 {
            assert_eq!(shown.stdout, good, "{}: show returned other data", damage.name);
        }
        if exported.status == 0 {
            let read = |name: &str| std::fs::read(t.path().join(name)).unwrap();
            assert!(read("a.csv") == read("good.csv"), "{}: export wrote other data", damage.name);
        } else {
            assert!(!t.path().join("a.csv").exists(), "{}: a failed export leaves no file", damage.name);
        }
    }
}

#[test]
fn a_removed_lock_file_is_made_again() {
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    let lock = t.cache().join("locks").join("tasks.lock");
    std::fs::remove_file(&lock).unwrap();
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt, 0 task results removed"]);
    let s = t.run_ok(&["--force", "s"]);
    assert_eq!((s.ran, s.cached), (1, 2));
    assert!(lock.exists());
}

#[test]
fn a_torn_manifest_shared_by_a_batch_damages_only_its_own_key() {
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    let cache = t.cache();
    let key = key_of(&cache, "a[seed=1]");
    let path = manifest_path(&cache, &key);
    let record = manifest_record(&path, &std::fs::read(&path).unwrap()).unwrap().to_string();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &record[..record.len() - 10]).unwrap();
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[&key, " 0 corrupt, 1 task results removed"]);
    assert_eq!(t.run_ok(&[]).ran, 1);
}

#[test]
fn a_cache_path_that_is_a_file_is_refused_with_its_name() {
    let t = Test::new().workflow(SMALL).write("not-a-dir", "x");
    let file = t.path().join("not-a-dir");
    for args in [&["run"][..], &["plan"], &["show", "s.sum"]] {
        t.args(args.to_vec()).cache(&file).run().status(3).stderr_has(&["not-a-dir", "is a file, not a directory"]);
    }
    t.args(["cache", "verify"]).raw().cache(&file).run().status(3).stderr_has(&["is a file, not a directory"]);
}

/// Makes `dir` (holding a finished cache) unwritable: a read-only remount of a tmpfs where the
/// tests run as root (root writes through permission bits), permission bits otherwise. Returns
/// a guard that undoes it; `None` when neither works here.
fn read_only(dir: &Path) -> Option<impl Drop> {
    struct Undo(std::path::PathBuf, bool);
    impl Drop for Undo {
        fn drop(&mut self) {
            if self.1 {
                let _ = std::process::Command::new("umount").arg(&self.0).status();
            } else {
                let _ = std::process::Command::new("chmod").arg("-R").arg("u+w").arg(&self.0).status();
            }
        }
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ok = |cmd: &mut std::process::Command| cmd.status().is_ok_and(|s| s.success());
    if root {
        let copy = dir.with_extension("copy");
        let moved = ok(std::process::Command::new("cp").arg("-a").arg(dir).arg(&copy));
        let mounted = moved && ok(std::process::Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(dir));
        if !mounted {
            return None;
        }
        let filled = ok(std::process::Command::new("sh").arg("-c").arg(format!(
            "cp -a '{}'/. '{}' && mount -o remount,ro '{}'",
            copy.display(),
            dir.display(),
            dir.display()
        )));
        let undo = Undo(dir.to_path_buf(), true);
        return filled.then_some(undo);
    }
    ok(std::process::Command::new("chmod").arg("-R").arg("a-w").arg(dir)).then(|| Undo(dir.to_path_buf(), false))
}

#[test]
fn a_read_only_cache_serves_reads_and_refuses_runs_by_name() {
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    let cache = t.cache();
    let good = t.args(["show", "s.sum"]).run().success().stdout;
    let Some(_guard) = read_only(&cache) else { panic!("cannot make a read-only directory here") };
    assert!(std::fs::write(cache.join("probe"), b"x").is_err(), "the cache must really be read-only");
    let out = t.args(["run", "--set", "a.n=51"]).run().status(3);
    assert!(out.stderr.contains(&*cache.to_string_lossy()) && out.stderr.contains("Read-only"), "{}", out.stderr);
    assert_eq!(t.args(["show", "s.sum"]).run().success().stdout, good, "reads still work");
}

#[test]
fn paths_with_spaces_and_non_ascii_characters_work_end_to_end() {
    let t = Test::new();
    let dir = "dossier à espaces/ünïcødé 試験";
    t.put(
        &format!("{dir}/flux de travail.yaml"),
        "name: épreuve\nnodes:\n  a:\n    kind: diag-numbers\n    publish: {values: \"résultats/valeurs ∑.csv\"}\n  s:\n    \
         kind: diag-sum\n    inputs: {values: a.values}\n",
    );
    let workflow = format!("{dir}/flux de travail.yaml");
    let cache = t.path().join("cache à part ✓");
    let s = t.args(["run", "--json"]).file(&workflow).cache(&cache).run().success().summary();
    assert_eq!((s.workflow.as_str(), s.ran), ("épreuve", 2));
    assert!(t.path().join(dir).join("résultats/valeurs ∑.csv").exists());
    t.args(["export", "s.sum", "--to", "sortie ü.csv"]).file(&workflow).cache(&cache).run().success();
    assert!(std::fs::read_to_string(t.path().join("sortie ü.csv")).unwrap().starts_with("n,sum\n"));
    t.args(["cache", "verify"]).raw().cache(&cache).run().success().stdout_has(&[" 0 corrupt"]);
    assert_eq!(t.args(["run", "--json"]).file(&workflow).cache(&cache).run().success().summary().ran, 0);
}

#[test]
fn three_concurrent_runs_and_a_second_workflow_sharing_nodes_compute_each_task_once() {
    let t = Test::new()
        .workflow(&sleepers(300))
        .write("other.yaml", sleepers(300).replace("name: sleepers", "name: other"));
    let runs: Vec<_> = (0..3).map(|_| t.args(["run", "--json", "-j2"]).spawn()).collect();
    let other = t.args(["run", "--json", "-j2"]).file("other.yaml").spawn();
    let mut summaries: Vec<_> = runs.into_iter().map(|r| r.wait().success().summary()).collect();
    summaries.push(other.wait().success().summary());
    for s in &summaries {
        assert_eq!((s.tasks, s.failed, s.ran + s.cached), (7, 0, 7), "{s:?}");
    }
    assert_eq!(summaries.iter().map(|s| s.ran).sum::<usize>(), 7, "each task computed once: {summaries:?}");
    t.args(["cache", "verify"]).raw().run().success().stdout_has(&[" 0 corrupt, 0 task results removed"]);
    let alone = t.path().join("alone");
    t.args(["run", "--json"]).cache(&alone).run().success();
    assert_eq!(results(&t.cache()), results(&alone), "the same results as a run alone");
}

#[test]
#[ignore = "needs root: mounts a 2 MiB tmpfs as the cache (run with --ignored as root)"]
fn a_full_disk_is_a_clear_error_leaves_nothing_partial_and_the_next_run_succeeds() {
    let t = Test::new().workflow(
        "name: big\nnodes:\n  a:\n    kind: diag-numbers\n    params: {n: 20000}\n    sweep: {seed: [1, 2, 3, 4, 5, 6, 7, 8]}\n",
    );
    let cache = t.path().join("small-disk");
    std::fs::create_dir(&cache).unwrap();
    let mount = |size: &str| {
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&cache)
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(mount("1m"), "mounting a tmpfs failed: this test needs root");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&cache);
    let out = t.args(["run", "-j2"]).cache(&cache).run();
    assert_ne!(out.status, 0, "8 × 20,000 numbers do not fit in 1 MiB");
    assert!(out.stderr.contains("No space left on device"), "names the cause:\n{}", out.stderr);
    t.args(["cache", "verify"]).raw().cache(&cache).run().success().stdout_has(&[" 0 corrupt"]);
    assert!(files_under(&cache.join("tmp")).is_empty(), "no partial file is left");
    let stored = manifests(&cache).len();
    let remount = std::process::Command::new("mount").args(["-o", "remount,size=64m"]).arg(&cache).status();
    assert!(remount.is_ok_and(|s| s.success()));
    let s = t.args(["run", "--json", "-j2"]).cache(&cache).run().success().summary();
    assert_eq!((s.ran, s.cached), (8 - stored, stored), "once there is space, the rest runs");
    t.args(["cache", "verify"]).raw().cache(&cache).run().success().stdout_has(&[" 0 corrupt"]);
}

#[test]
fn a_screen_of_a_billion_cells_is_refused_before_it_allocates() {
    let t = Test::new().workflow(
        "name: huge\nnodes:\n  data:\n    kind: simulate\n  prep:\n    kind: preprocess\n    \
         inputs: {counts: data.counts, cells: data.cells}\n",
    );
    t.args(["run", "--set", "data.control_cells=1000000000"]).run().status(1).stderr_has(&[
        "task data failed: a screen of 1000007000 cells × 460 genes needs up to",
        "lower control_cells",
        "1 failed, 1 skipped",
    ]);
}
