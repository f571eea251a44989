//! `gcrl status`: what the Slurm runs of a workflow (or of every workflow) in a cache did on
//! the cluster, read from each run's state file: jobs, their elements, states, times, measured
//! usage and log paths; a table, or one JSON object.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::args::WorkflowArgs;
use super::commands::load;
use super::error::{CliError, Outcome};
use super::usage;
use crate::cache::Cache;
use crate::engine::executor::slurm::files::RunDir;
use crate::engine::executor::slurm::state::RunState;
use crate::kind::Registry;

/// `gcrl status`.
pub fn status(registry: Registry, cache_dir: &Path, workflow: Option<&Path>, json: bool) -> Outcome {
    let name = match workflow {
        Some(path) => Some(load(&WorkflowArgs { workflow: path.to_path_buf(), set: Vec::new() }, &registry)?.name),
        None => None,
    };
    let mut runs = Vec::new();
    for dir in RunDir::all(cache_dir) {
        let state = RunState::load(&dir).map_err(CliError::SlurmFiles)?;
        if let Some(state) = state.filter(|s| name.as_ref().is_none_or(|n| &s.workflow == n)) {
            runs.push((dir, state));
        }
    }
    if runs.is_empty() {
        let which = name.map(|n| format!("workflow `{n}`")).unwrap_or_else(|| "any workflow".into());
        if json {
            println!("{}", json!({ "runs": [] }));
            return Ok(());
        }
        println!("no Slurm runs of {which} in {} (run with `--executor slurm`)", cache_dir.display());
        return Ok(());
    }
    let cache = Cache::open(cache_dir).ok();
    if json {
        let list: Vec<_> = runs
            .iter()
            .map(|(dir, s)| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                v["dir"] = json!(dir.root());
                for (j, job) in s.jobs.iter().enumerate() {
                    for (e, u) in usage::elements(cache.as_ref(), dir, job).iter().enumerate() {
                        v["jobs"][j]["elements"][e]["usage"] = usage::json(u.as_ref());
                    }
                }
                v
            })
            .collect();
        println!("{}", json!({ "runs": list }));
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for (dir, s) in &runs {
        let done = match s.finished_ms {
            Some(f) => format!(
                "ended after {:.1}s{}",
                (f.saturating_sub(s.started_ms)) as f64 / 1000.0,
                if s.outcome.is_empty() { String::new() } else { format!(" ({})", s.outcome) }
            ),
            None => "running (or its head was killed; a new run adopts its jobs)".into(),
        };
        let _ = writeln!(out, "{}: head {}, {done}; {} jobs", s.workflow, s.head, s.jobs.len());
        for j in &s.jobs {
            let kind = if j.array { format!("array of {}", j.elements.len()) } else { "single".into() };
            let gpus = if j.gpus > 0 { format!(" gpus={}", j.gpus) } else { String::new() };
            let _ = writeln!(
                out,
                "  job {:<8} {kind:<14} cpus={} mem={}M time={}m{gpus} attempt {}  {}",
                j.job_id,
                j.cpus,
                j.mem_mb,
                j.minutes,
                j.attempt + 1,
                j.what
            );
            let used = usage::elements(cache.as_ref(), dir, j);
            for (e, el) in j.elements.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    {:<12} {:<11} {:>5} tasks  start {}  end {}  {}  log {}",
                    j.element_id(e),
                    el.state,
                    el.tasks,
                    if el.start.is_empty() { "-" } else { &el.start },
                    if el.end.is_empty() { "-" } else { &el.end },
                    usage::text(used[e].as_ref()),
                    dir.log(&j.token, e).display()
                );
            }
        }
    }
    Ok(())
}
