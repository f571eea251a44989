//! `gcrl runs`: the recorded runs of a workflow in a cache, newest first: when each started,
//! how long it took, and how many of its tasks it computed or found cached.

use std::path::Path;

use serde_json::json;

use super::args::WorkflowArgs;
use super::commands::{Failure, Outcome, load};
use super::exit;
use crate::cache::Cache;
use crate::clock::utc_datetime;
use crate::engine::Registry;

/// Prints the run records of `args`' workflow in `cache_dir` (a table, or one JSON object).
pub fn runs(args: &WorkflowArgs, registry: Registry, cache_dir: &Path, json: bool) -> Outcome {
    let workflow = load(args, &registry)?;
    let cache = Cache::open(cache_dir)?;
    let records = cache.runs(&workflow.name)?;
    let rows: Vec<serde_json::Value> = records
        .iter()
        .map(|(path, r)| {
            let ran = r.tasks.values().filter(|t| t.ran).count();
            json!({
                "record": path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                "started": utc_datetime(r.started_ms),
                "seconds": r.seconds,
                "tasks": r.tasks.len(),
                "ran": ran,
                "cached": r.tasks.len() - ran,
            })
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
        println!(
            "{:<24} {:<20} {:>9.2} {:>6} {:>6} {:>6}",
            r["record"].as_str().unwrap_or_default(),
            r["started"].as_str().unwrap_or_default(),
            r["seconds"].as_f64().unwrap_or_default(),
            r["tasks"].as_u64().unwrap_or_default(),
            r["ran"].as_u64().unwrap_or_default(),
            r["cached"].as_u64().unwrap_or_default(),
        );
    }
    println!(
        "recorded runs of `{1}`: {0}; a run counts the tasks it finished (not a failed or interrupted one)",
        rows.len(),
        workflow.name
    );
    Ok(exit::OK)
}
