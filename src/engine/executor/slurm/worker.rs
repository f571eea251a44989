//! `gcrl exec`: the worker side. A job element reads its tasks from the job spec in the shared
//! cache (no workflow is parsed on the compute node), runs them one after another, each with the
//! element's threads (its `--cpus-per-task`, what one task declared; so its `--mem` is one task's)
//! and GPUs, with the same [`execute`] as the local executor, makes the results durable, and writes its report.

use std::path::Path;

use super::error::{SlurmError, io};
use super::files::{ElementReport, JobSpec, TaskResult, now_ms, read_json, write_json};
use crate::cache::Cache;
use crate::cache::hostname;
use crate::engine::runner::execute;
use crate::engine::task::{Outcome, ResolvedTask};
use crate::kind::Registry;

/// Runs element `element` of the job spec at `spec_path` (written by the head into
/// `cache/slurm/<workflow>/jobs/`) and writes its report beside it, in `../done/`. Returns the
/// report and each task's label with its result, for the element's log.
pub fn run_element(
    spec_path: &Path,
    element: usize,
    registry: &Registry,
    cache: &Cache,
) -> Result<(ElementReport, Vec<(String, TaskResult)>), SlurmError> {
    let spec: JobSpec =
        read_json(spec_path)?.ok_or_else(|| io(spec_path)(std::io::Error::from(std::io::ErrorKind::NotFound)))?;
    let tasks = spec.elements.get(element).ok_or_else(|| SlurmError::NoElement {
        path: spec_path.into(),
        elements: spec.elements.len(),
        element,
    })?;
    let started_ms = now_ms();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.threads.max(1))
        .thread_name(|i| format!("gcrl-exec-{i}"))
        .build()
        .map_err(|e| io(spec_path)(std::io::Error::other(e)))?;
    let results: Vec<(String, String, TaskResult)> = pool.install(|| {
        tasks
            .iter()
            .map(|t| {
                // A job sees the GPUs Slurm granted it as 0, 1, … (its CUDA_VISIBLE_DEVICES); the
                // head's ordinals only kept its GPU tasks apart.
                let task = ResolvedTask { gpus: (0..t.task.gpus.len()).collect(), ..t.task.clone() };
                let result = match execute(&task, registry, cache, t.force, &|| {}) {
                    Ok(Outcome::Ran(_)) => TaskResult::Ran,
                    Ok(Outcome::Cached(_)) => TaskResult::Cached,
                    Err(f) => TaskResult::failed(&f),
                };
                (t.task.key.clone(), t.task.label.clone(), result)
            })
            .collect()
    });
    cache.flush().map_err(|e| io(cache.root())(std::io::Error::other(e.to_string())))?;
    let report = ElementReport {
        host: hostname().to_string(),
        started_ms,
        finished_ms: now_ms(),
        results: results.iter().map(|(k, _, r)| (k.clone(), r.clone())).collect(),
    };
    let done = spec_path
        .parent()
        .and_then(Path::parent)
        .map(|run| run.join("done").join(format!("{}.{element}.json", spec.token)))
        .ok_or_else(|| io(spec_path)(std::io::Error::other("the job spec is not in a run directory")))?;
    write_json(&done, &report)?;
    Ok((report, results.into_iter().map(|(_, label, r)| (label, r)).collect()))
}
