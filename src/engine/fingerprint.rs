//! The fingerprint of a whole run: everything its tasks' keys and results depend on, known
//! before the graph is expanded.
//!
//! A run that finishes every task seals its run record under it (`Cache::seal`); a rerun with
//! the same fingerprint whose seal still holds has nothing to do, and says so without expanding
//! the graph, computing keys or reading the record (most of a no-op's time at 12,000 tasks).
//!
//! It covers the gcrl binary itself (its file's identity: kinds' code, defaults and shard plans
//! live there), the workflow as loaded, after `--set` (each node's id, kind name, version and
//! code fingerprint, parameters, sweep and inputs), the content hash of every input file (through
//! the size/mtime/inode memo), and `--until`. What does not change results stays out: `-j`,
//! the executor, resources, retries.

use std::os::unix::fs::MetadataExt;

use serde_json::{Value, json};

use super::files::FileHasher;
use crate::cache::Cache;
use crate::workflow::{Source, Workflow};

/// The fingerprint of running `workflow` (up to `until`) against `cache`; `None` when some
/// ingredient cannot be read (the run then goes the long way and reports it) or when the
/// workflow publishes files (a rerun writes back a deleted one, which takes the graph).
pub fn fingerprint(workflow: &Workflow, until: &[String], cache: &Cache) -> Option<String> {
    if workflow.nodes.iter().any(|n| !n.publish.is_empty()) {
        return None;
    }
    let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let files = FileHasher::new(cache);
    let mut nodes = Vec::with_capacity(workflow.nodes.len());
    for node in &workflow.nodes {
        let mut inputs = serde_json::Map::new();
        for (port, sources) in &node.inputs {
            let values = sources
                .iter()
                .map(|s| match s {
                    Source::Output { .. } => Some(Value::from(s.to_string())),
                    Source::File(path) => {
                        let canonical = std::fs::canonicalize(path).ok()?;
                        Some(json!([canonical, files.hash(path).ok()?]))
                    }
                })
                .collect::<Option<Vec<Value>>>()?;
            inputs.insert(port.clone(), Value::from(values));
        }
        let kind = &node.kind;
        let mut doc = json!({
            "id": node.id,
            "kind": [kind.name(), kind.version(), kind.fingerprint(), kind.origin()],
            "params": node.params.canonical(),
            "sweep": node.sweep,
            "inputs": inputs,
        });
        // Only where there is one, so that the fingerprints of workflows without zips stay.
        if !node.zip.is_empty() {
            doc["zip"] = json!(node.zip);
        }
        nodes.push(doc);
    }
    // Hashes computed here are kept, so that a run that goes the long way does not read the
    // files again.
    files.save(cache);
    let mut until: Vec<&String> = until.iter().collect();
    until.sort();
    until.dedup();
    let doc = json!({
        "gcrl": [env!("CARGO_PKG_VERSION"), exe.dev(), exe.ino(), exe.len(), exe.mtime(), exe.mtime_nsec()],
        "workflow": workflow.name,
        "nodes": nodes,
        "until": until,
    });
    Some(blake3::hash(doc.to_string().as_bytes()).to_hex().to_string())
}
