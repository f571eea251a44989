//! One test per fixed bug, named after what went wrong, each driving the binary with the
//! smallest input that showed it. Bugs of the scheduler's whole runs are pinned beside the
//! property tests that found them, in `tests/scheduler.rs` (`regression_…`).

use std::process::Command;

use crate::cli::fixtures::SMALL;
use crate::cli::test::Test;

/// `gcrl show … | head` panicked with "Broken pipe" once `head` had exited (6b79bb0).
#[test]
fn show_piped_into_a_closed_head_ends_quietly_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let t = Test::new().workflow(SMALL);
    t.run_ok(&[]);
    // `gcrl show … | head` once head has exited: every write meets a pipe with no reader.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_gcrl"))
        .current_dir(t.path())
        .args(["show", "workflow.yaml", "sw.values", "--cache"])
        .arg(t.cache())
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "ended as `cat` does: {:?}", out.status);
}

/// `--set node.port=PATH` on a port the YAML connects to `{file: …}` kept the YAML's file
/// (6006f79): the paper workflows are run with `--set data.file=PATH`.
#[test]
fn set_on_a_file_input_replaces_the_yaml_file() {
    let t = Test::new()
        .workflow("name: f\nnodes:\n  s:\n    kind: diag-sum\n    inputs: {values: {file: one.csv}}\n")
        .write("one.csv", "value\n1\n2\n")
        .write("two.csv", "value\n10\n20\n30\n");
    t.run_ok(&[]);
    t.args(["show", "s.sum"]).run().success().stdout_has(&["| 3.0"]);
    t.run_ok(&["--set", "s.values=two.csv"]);
    t.args(["show", "s.sum", "--set", "s.values=two.csv"]).run().success().stdout_has(&["| 60.0"]);
    t.args(["show", "s.sum"]).run().success().stdout_has(&["| 3.0"]);
}
