//! `gcrl run`: checks the executor flags, hands the run to the library [`session`](crate::session),
//! and prints what it did: progress ([`Console`]), the `publish:` files, the summary line, the
//! failures, the interrupt; every line also goes to the run's log ([`RunLog`]), which ends
//! with the exit code.

use serde_json::json;

use super::args::{ExecutorArgs, ExecutorKind, WorkflowArgs};
use super::error::{CliError, Outcome};
use super::exit;
use super::profile::Profile;
use super::report::Console;
use super::runlog::RunLog;
use super::signal::Signal;
use crate::engine::executor::slurm::options::SlurmFlags;
use crate::engine::memory::Budget;
use crate::engine::publish::Published;
use crate::engine::scheduler::RunSummary;
use crate::kind::Registry;
use crate::session::{Backend, Finished, Options, Session};

/// Where `gcrl run` sends tasks: the flag, else the profile's `executor`, else local.
fn executor_kind(e: &ExecutorArgs, profile: &Profile) -> ExecutorKind {
    e.executor.or(profile.executor).unwrap_or(ExecutorKind::Local)
}

/// The executor of `gcrl run` with its settings, checked (the local executor ignores the
/// profile's Slurm keys).
fn backend(e: &ExecutorArgs, profile: &Profile, jobs: Option<usize>, gpus: Option<usize>) -> Result<Backend, CliError> {
    let flags = SlurmFlags { target_minutes: e.slurm_target_minutes, max_array: e.slurm_max_array, poll: e.slurm_poll };
    let kind = executor_kind(e, profile);
    let slurm = match kind {
        ExecutorKind::Local => flags.unused().map(|()| None),
        ExecutorKind::Slurm => flags.checked(profile.slurm.clone()).map(Some),
    }?;
    let memory = memory_budget(kind, e.mem_limit)?;
    Ok(match slurm {
        None => Backend::Local { jobs, gpus, memory },
        Some(options) => Backend::Slurm(options),
    })
}

/// The memory budget of a local run: `--mem-limit`, else what the machine has available now.
/// A Slurm run counts none: each job asks for its task's memory.
fn memory_budget(kind: ExecutorKind, mem_limit: Option<f64>) -> Result<Option<Budget>, CliError> {
    match (kind, mem_limit) {
        (_, Some(gb)) if !(gb > 0.0 && gb.is_finite()) => {
            Err(CliError::Usage(format!("`--mem-limit` must be a positive number of GiB, got {gb}")))
        }
        (ExecutorKind::Local, Some(gb)) => Ok(Some(Budget::limit(gb))),
        (ExecutorKind::Local, None) => Ok(Budget::available()),
        (_, Some(_)) => Err(CliError::Usage(
            "`--mem-limit` applies to the local executor; on Slurm each job asks for its task's memory \
             (cap it with `max_mem_gb` in the --profile)"
                .to_string(),
        )),
        (_, None) => Ok(None),
    }
}

/// `gcrl run`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    args: &WorkflowArgs,
    registry: Registry,
    cache_dir: &std::path::Path,
    jobs: Option<usize>,
    gpus: Option<usize>,
    force: &[String],
    until: &[String],
    json: bool,
    quiet: bool,
    executor: &ExecutorArgs,
    profile: &Profile,
) -> Outcome {
    let backend = backend(executor, profile, jobs, gpus)?;
    let options = Options { overrides: args.set.clone(), force: force.to_vec(), until: until.to_vec(), backend };
    let session = Session::open(&args.workflow, registry, cache_dir, &options)?;
    let (workflow, cache) = (&session.workflow().name, session.cache());
    let mut log = None;
    let finished = match session.sealed() {
        Some(finished) => finished,
        None => {
            let started = session.start(Some(super::signal::install()))?;
            let mut reporter = Console::new(quiet, Some(RunLog::create(cache, workflow)));
            let finished = started.run(&mut reporter);
            log = reporter.into_log();
            let finished = finished.inspect_err(|_| {
                // No record: the log goes too.
                if let Some(log) = log.take() {
                    log.finish(cache, workflow, None, exit::IO, None);
                }
            })?;
            show_published(&finished, quiet);
            finished
        }
    };
    let summary = &finished.summary;
    if json {
        let out = json!({
            "workflow": workflow,
            "tasks": summary.tasks,
            "ran": summary.ran,
            "cached": summary.cached,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "published": finished.written(),
            "seconds": summary.seconds,
            "interrupted": summary.interrupted,
        });
        println!("{out}");
    }
    let mut say = |line: String, shown: bool| {
        if let Some(log) = &mut log {
            log.line(&line);
        }
        if shown {
            eprintln!("{line}");
        }
    };
    let note = if finished.sealed { "; nothing changed since the last run" } else { "" };
    say(
        format!(
            "{workflow}: {} tasks, {} ran, {} cached, {} failed, {} skipped in {:.2}s{note}",
            summary.tasks, summary.ran, summary.cached, summary.failed, summary.skipped, summary.seconds
        ),
        !quiet,
    );
    for line in failure_lines(&summary.failures) {
        say(line, true);
    }
    let outcome = if let Some(signal) = super::signal::received() {
        say(interrupted_line(signal, summary, executor_kind(executor, profile) == ExecutorKind::Slurm), true);
        Err(CliError::Signal(signal))
    } else if summary.failed > 0 && finished.cluster_lost {
        Err(CliError::ClusterLost)
    } else if summary.failed > 0 {
        Err(CliError::TasksFailed)
    } else if finished.publish_failed() {
        Err(CliError::PublishFailed)
    } else {
        Ok(())
    };
    if let Some(log) = log {
        let record = cache.own_run_file(workflow, log.started_ms);
        let code = outcome.as_ref().err().map_or(exit::OK, CliError::exit_code);
        log.finish(cache, workflow, record.as_deref(), code, session.fingerprint());
    }
    outcome
}

/// Says which `publish:` files the run wrote (unless `quiet`) and which it could not.
fn show_published(finished: &Finished, quiet: bool) {
    for (t, result) in &finished.published {
        match result {
            Ok(Published::Written) if !quiet => eprintln!("published {}.{} to {}", t.task, t.output, t.path.display()),
            Ok(_) => {}
            Err(e) => eprintln!("error: {e}"),
        }
    }
}

/// What `gcrl run` says when a signal stopped it: what finished, what did not, how to go on.
fn interrupted_line(signal: Signal, s: &RunSummary, slurm: bool) -> String {
    let finished = s.ran + s.cached;
    let mut line = format!(
        "interrupted by {}: {finished} of {} tasks finished ({} ran, {} cached)",
        signal.name(),
        s.tasks,
        s.ran,
        s.cached
    );
    if s.unfinished.is_empty() {
        line.push_str(", none left to do");
    } else {
        let nodes = s.unfinished.iter().map(|(node, open, all)| match all {
            1 => node.clone(),
            _ => format!("{node} ({open} of {all} tasks)"),
        });
        let nodes: Vec<String> = nodes.collect();
        line.push_str(&format!("; not finished: {}", super::report::names(nodes.iter().map(String::as_str), 8)));
    }
    if slurm {
        line.push_str("; the run's Slurm jobs were cancelled (`gcrl status` shows them)");
    }
    line.push_str("; finished results are in the cache: run again to resume");
    line
}

/// The failures of a run, one error line per distinct message: shards of one node that fail for
/// the same reason (an empty TF–TF graph fails every Leiden shard) are named once, with a count.
fn failure_lines(failures: &[(String, String)]) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (label, error) in failures {
        match groups.iter_mut().find(|(e, _)| *e == error.as_str()) {
            Some((_, labels)) => labels.push(label),
            None => groups.push((error, vec![label])),
        }
    }
    groups
        .into_iter()
        .map(|(error, labels)| match labels.as_slice() {
            [one] => format!("error: task {one} failed: {error}"),
            [first, rest @ ..] => format!(
                "error: task {first} failed: {error}\n  (and {} more task(s) with the same error: {})",
                rest.len(),
                super::report::names(rest.iter().copied(), 3)
            ),
            [] => String::new(),
        })
        .collect()
}

#[cfg(test)]
mod failure_tests {
    use super::failure_lines;

    #[test]
    fn failures_with_the_same_message_are_reported_once_with_a_count() {
        let f = |l: &str, e: &str| (l.to_string(), e.to_string());
        let lines = failure_lines(&[f("c[γ=0.9]", "empty graph"), f("g", "other"), f("c[γ=1]", "empty graph")]);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "error: task c[γ=0.9] failed: empty graph\n  (and 1 more task(s) with the same error: c[γ=1])"
        );
        assert_eq!(lines[1], "error: task g failed: other");
    }
}
