//! Running one task from its fully resolved description, on any executor.
//!
//! A [`ResolvedTask`] (see [`super::task`]) names its kind, parameters and the content hashes of its inputs; it is
//! all a worker needs (locally, or `gcrl exec` on a cluster node, without the workflow file).
//! [`execute`] takes the task's lock, re-checks the cache (another process may have finished
//! it meanwhile), loads inputs, runs the kind (measuring its CPU time and memory peak), stores
//! objects, then the manifest.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::task::{Outcome, ResolvedInput, ResolvedTask, TaskFailure};
use super::usage::Meter;
use crate::cache::{Cache, CacheError, Manifest, ObjectWriter, OutputRecord, hostname};
use crate::kind::NodeError;
use crate::kind::params::Params;
use crate::kind::registry::Registry;
use crate::kind::{Input, Inputs, RunContext};
use crate::table::{SPILL_BYTES, Spill, SpillFile, Table, TableError};

/// An input object as a table: checked against its hash, then mapped (its columns are views
/// into the file; see `table::ipc`).
fn load(cache: &Cache, hash: &str) -> Result<Table, TaskFailure> {
    let path = cache.checked_object_path(hash).map_err(|e| match e {
        CacheError::BadObject { .. } | CacheError::MissingObject(_) => TaskFailure::InputLost(hash.to_string()),
        other => TaskFailure::Cache(other.to_string()),
    })?;
    Table::map_ipc(&path).map_err(|_| TaskFailure::InputLost(hash.to_string()))
}

/// Stores `table` as an object and returns its hash. A table that spilled to a cache object as
/// it was made is that object already; one of [`SPILL_BYTES`] or more is written a batch at a
/// time, never as one buffer.
fn store(cache: &Cache, table: &Table) -> Result<String, TaskFailure> {
    let cache_err = |e: CacheError| TaskFailure::Cache(e.to_string());
    let node_err = |e: crate::table::TableError| TaskFailure::Node(e.to_string());
    if let Some(hash) = table.stored_as().filter(|h| cache.has_object(h)) {
        return Ok(hash.to_string());
    }
    if table.batches().iter().map(|b| b.get_array_memory_size()).sum::<usize>() < SPILL_BYTES {
        return cache.put_object(&table.to_ipc().map_err(node_err)?).map_err(cache_err);
    }
    let mut writer = cache.object_writer().map_err(cache_err)?;
    table.write_ipc(&mut writer).map_err(node_err)?;
    writer.finish().map_err(cache_err)
}

/// New objects of `cache` as the spill files of a task's outputs.
fn spill_to(cache: &Cache) -> Spill {
    let cache = cache.clone();
    Arc::new(move || {
        let writer = cache.object_writer().map_err(spill_error)?;
        Ok(Box::new(CacheSpill { writer, cache: cache.clone() }) as Box<dyn SpillFile>)
    })
}

struct CacheSpill {
    writer: ObjectWriter,
    cache: Cache,
}

impl std::io::Write for CacheSpill {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

impl SpillFile for CacheSpill {
    fn finish(self: Box<Self>) -> Result<(PathBuf, String), TableError> {
        let hash = self.writer.finish().map_err(spill_error)?;
        Ok((self.cache.object_path(&hash), hash))
    }
}

fn spill_error(e: CacheError) -> TableError {
    TableError::Spill(e.to_string())
}

/// Runs `task` unless the cache already holds its result. `on_wait` is called once if another
/// process holds the task's lock and we must wait for it.
pub fn execute(
    task: &ResolvedTask,
    registry: &Registry,
    cache: &Cache,
    force: bool,
    on_wait: &dyn Fn(),
) -> Result<Outcome, TaskFailure> {
    let cache_err = |e: CacheError| TaskFailure::Cache(e.to_string());
    let lock = match cache.try_lock(&task.key).map_err(cache_err)? {
        Some(lock) => lock,
        None => {
            on_wait();
            cache.lock(&task.key).map_err(cache_err)?
        }
    };
    if !force && let Some(m) = cache.result(&task.key).ok().flatten() {
        return Ok(Outcome::Cached(m));
    }
    let kind = registry
        .get(&task.kind)
        .ok_or_else(|| TaskFailure::Node(format!("kind `{}` is not available in this gcrl", task.kind)))?;
    let mut ports = BTreeMap::new();
    for (port, values) in &task.inputs {
        let mut loaded = Vec::with_capacity(values.len());
        for v in values {
            loaded.push(match v {
                ResolvedInput::Object { hash, instance, origin } => Input::Table {
                    table: load(cache, hash)?,
                    instance: instance.clone(),
                    hash: hash.clone(),
                    origin: origin.clone(),
                },
                ResolvedInput::File { path, .. } => Input::File(path.clone()),
            });
        }
        ports.insert(port.clone(), loaded);
    }
    // A reduce step may read a hundred thousand small objects: on every thread of the pool
    // (which is idle but for it at the end of a sweep), in shard order.
    let shards = task
        .shards
        .par_iter()
        .map(|outputs| outputs.iter().map(|(name, hash)| Ok((name.clone(), load(cache, hash)?))).collect())
        .collect::<Result<Vec<BTreeMap<String, Table>>, TaskFailure>>()?;
    let inputs = Inputs::new(ports, shards);
    let params = Params::from_map(task.params.clone());
    let ctx = RunContext::new(task.label.clone(), task.threads, task.gpus.clone()).with_spill(spill_to(cache));
    let started = Instant::now();
    let meter = Meter::start();
    let result = catch_unwind(AssertUnwindSafe(|| {
        if task.role == "shard" { kind.run_shard(&params, &inputs, &ctx) } else { kind.run(&params, &inputs, &ctx) }
    }));
    let usage = meter.finish();
    let outputs = match result {
        Ok(Ok(outputs)) => outputs,
        Ok(Err(e @ (NodeError::File { .. } | NodeError::External(_)))) => {
            return Err(TaskFailure::Environment(e.to_string()));
        }
        Ok(Err(e)) => return Err(TaskFailure::Node(e.to_string())),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            return Err(TaskFailure::Node(format!("internal error (panic): {msg}")));
        }
    };
    if task.role != "shard" {
        let mut declared: Vec<String> = kind.outputs().iter().map(|p| p.name.to_string()).collect();
        declared.sort();
        let produced: Vec<String> = outputs.keys().cloned().collect();
        if declared != produced {
            return Err(TaskFailure::Node(format!(
                "internal error: kind `{}` produced outputs {produced:?}, but declares {declared:?}",
                task.kind
            )));
        }
    }
    let mut records = BTreeMap::new();
    for (name, table) in &outputs {
        let hash = store(cache, table)?;
        records.insert(name.clone(), OutputRecord { hash, rows: table.n_rows(), cols: table.n_cols() });
    }
    let manifest = Manifest {
        key: task.key.clone(),
        kind: task.kind.clone(),
        kind_version: task.kind_version,
        label: task.label.clone(),
        params: task.params.clone(),
        inputs: task
            .inputs
            .iter()
            .map(|(p, v)| (p.clone(), v.iter().map(|i| i.hash().to_string()).collect()))
            .collect(),
        outputs: records,
        seconds: started.elapsed().as_secs_f64(),
        finished: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        host: hostname().to_string(),
        gcrl_version: env!("CARGO_PKG_VERSION").to_string(),
        notes: ctx.take_notes(),
        usage: Some(usage),
    };
    cache.put_manifest(&manifest, Some(lock)).map_err(cache_err)?;
    Ok(Outcome::Ran(manifest))
}
