//! What `gcrl status` shows of each Slurm element's tasks: their CPU time and peak memory, read
//! from the task manifests the element's job spec names.

use crate::cache::Cache;
use crate::engine::executor::slurm::files::{JobSpec, RunDir, read_json};
use crate::engine::executor::slurm::state::JobRecord;
use crate::engine::usage::NodeUsage;

/// The measured usage of each element of `job`, folded over its tasks (`None` for an element
/// none of whose tasks has a measured manifest yet).
pub fn elements(cache: Option<&Cache>, dir: &RunDir, job: &JobRecord) -> Vec<Option<NodeUsage>> {
    let spec = cache.and_then(|_| read_json::<JobSpec>(&dir.spec(&job.token)).ok().flatten());
    (0..job.elements.len())
        .map(|e| {
            let (cache, spec) = (cache?, spec.as_ref()?);
            let mut usage = NodeUsage::default();
            for t in spec.elements.get(e)? {
                if let Ok(Some(m)) = cache.get_manifest(&t.task.key)
                    && let Some(u) = &m.usage
                {
                    usage.add(u, m.seconds);
                }
            }
            (usage.tasks > 0).then_some(usage)
        })
        .collect()
}

/// `cpu 12.3s  peak 450 MiB` for the status line, or `-`.
pub fn text(usage: Option<&NodeUsage>) -> String {
    match usage {
        Some(u) => format!("cpu {:.1}s  peak {:.0} MiB", u.cpu_seconds, u.peak_rss_mb),
        None => "-".into(),
    }
}

/// The usage for `status --json`.
pub fn json(usage: Option<&NodeUsage>) -> serde_json::Value {
    match usage {
        Some(u) => serde_json::json!({
            "tasks": u.tasks,
            "cpu_seconds": u.cpu_seconds,
            "peak_rss_mb": u.peak_rss_mb,
            "alone": u.alone,
        }),
        None => serde_json::Value::Null,
    }
}
