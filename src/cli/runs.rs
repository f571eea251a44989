//! `gcrl runs` (also `gcrl log`): the recorded runs of a workflow in a cache, newest first: when
//! each started, how long it took, how many of its tasks it computed or found cached, how it
//! ended (exit code), the workflow fingerprint it ran under and the path of its log file.

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use super::args::WorkflowArgs;
use super::commands::load;
use super::error::Outcome;
use super::exit;
use crate::cache::Cache;
use crate::clock::utc_datetime;
use crate::kind::Registry;

/// One recorded run, as printed.
#[derive(Serialize)]
struct Row {
    record: String,
    started: String,
    seconds: f64,
    tasks: usize,
    ran: usize,
    cached: usize,
    /// `gcrl run`'s exit code; `None` for records older than the field.
    exit: Option<i32>,
    /// What the exit code means.
    status: &'static str,
    fingerprint: Option<String>,
    /// The log file's path.
    log: Option<String>,
}

/// What exit code `code` of `gcrl run` means, in a word.
fn status(code: Option<i32>) -> &'static str {
    match code {
        None => "-",
        Some(exit::OK) => "ok",
        Some(exit::TASK_FAILED) => "failed",
        Some(exit::INTERRUPTED | exit::TERMINATED) => "interrupted",
        Some(exit::IO) => "io-error",
        Some(_) => "error",
    }
}

/// Prints the run records of `args`' workflow in `cache_dir` (a table, or one JSON object).
pub fn runs(args: &WorkflowArgs, registry: Registry, cache_dir: &Path, json: bool) -> Outcome {
    let workflow = load(args, &registry)?;
    let cache = Cache::open(cache_dir)?;
    let rows: Vec<Row> = cache
        .runs(&workflow.name)?
        .into_iter()
        .map(|(path, r)| {
            let ran = r.tasks.values().filter(|t| t.ran).count();
            Row {
                record: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                started: utc_datetime(r.started_ms),
                seconds: r.seconds,
                tasks: r.tasks.len(),
                ran,
                cached: r.tasks.len() - ran,
                exit: r.exit,
                status: status(r.exit),
                fingerprint: r.fingerprint.clone(),
                log: r.log.as_ref().map(|name| path.with_file_name(name).display().to_string()),
            }
        })
        .collect();
    if json {
        println!("{}", json!({ "workflow": workflow.name, "runs": rows }));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no recorded runs of workflow `{}` in {}", workflow.name, cache_dir.display());
        return Ok(());
    }
    println!(
        "{:<24} {:<20} {:>9} {:>6} {:>6} {:>6}  {:<14} {:<12} log",
        "record", "started (UTC)", "seconds", "tasks", "ran", "cached", "exit", "fingerprint"
    );
    for r in &rows {
        let exit = r.exit.map(|c| format!("{c} {}", r.status)).unwrap_or_else(|| "-".into());
        let fingerprint = r.fingerprint.as_deref().map(|f| &f[..f.len().min(12)]).unwrap_or("-");
        println!(
            "{:<24} {:<20} {:>9.2} {:>6} {:>6} {:>6}  {exit:<14} {fingerprint:<12} {}",
            r.record,
            r.started,
            r.seconds,
            r.tasks,
            r.ran,
            r.cached,
            r.log.as_deref().unwrap_or("-")
        );
    }
    println!(
        "recorded runs of `{}`: {}; a run counts the tasks it finished (not a failed or interrupted one)",
        workflow.name,
        rows.len()
    );
    Ok(())
}
