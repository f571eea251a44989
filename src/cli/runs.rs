//! `gcrl runs`: the recorded runs of a workflow in a cache, newest first: when each started,
//! how long it took, and how many of its tasks it computed or found cached.

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use super::args::WorkflowArgs;
use super::commands::{Outcome, load};
use super::exit;
use crate::cache::Cache;
use crate::clock::utc_datetime;
use crate::engine::Registry;

/// One recorded run, as printed.
#[derive(Serialize)]
struct Row {
    record: String,
    started: String,
    seconds: f64,
    tasks: usize,
    ran: usize,
    cached: usize,
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
            }
        })
        .collect();
    if json {
        println!("{}", json!({ "workflow": workflow.name, "runs": rows }));
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("no recorded runs of workflow `{}` in {}", workflow.name, cache_dir.display());
        return Ok(exit::OK);
    }
    println!("{:<24} {:<20} {:>9} {:>6} {:>6} {:>6}", "record", "started (UTC)", "seconds", "tasks", "ran", "cached");
    for r in &rows {
        println!("{:<24} {:<20} {:>9.2} {:>6} {:>6} {:>6}", r.record, r.started, r.seconds, r.tasks, r.ran, r.cached);
    }
    println!(
        "recorded runs of `{}`: {}; a run counts the tasks it finished (not a failed or interrupted one)",
        workflow.name,
        rows.len()
    );
    Ok(exit::OK)
}
