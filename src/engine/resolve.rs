//! Turning a task of the graph into a [`ResolvedTask`] once its producers' outputs are known,
//! and looking its key up in the cache. Shared by the scheduler and by [`super::walk`].

use std::collections::{BTreeMap, HashSet};

use super::files::FileHasher;
use super::graph::{Task, TaskInput};
use super::key::KeyHasher;
use super::memory::Demand;
use super::task::{ResolvedInput, ResolvedTask};
use crate::cache::{Cache, RunRecord};
use crate::kind::InputSizes;
use crate::kind::memory::OnDisk;

/// Output hashes of a finished task, by port.
pub type OutputHashes = BTreeMap<String, String>;

/// Resolves tasks against a cache.
pub struct Resolver<'a> {
    cache: &'a Cache,
    files: FileHasher,
    /// The newest run record and its file name.
    last: Option<(String, RunRecord)>,
    /// Labels of the last run whose manifest or objects are gone, checked up front in one pass
    /// over the cache's directories (a no-op run of 12,000 tasks would otherwise make 24,000
    /// path lookups). Usually empty.
    absent: HashSet<String>,
    /// Fan-out directories of manifests that existed when the run started: a key whose
    /// directory was missing has no manifest, and is not looked up (the first plan of a large
    /// workflow would otherwise try to open one missing file per task). The runner looks again
    /// under the task's lock, so a manifest another run writes meanwhile is still found.
    manifest_dirs: HashSet<String>,
}

impl<'a> Resolver<'a> {
    /// A resolver for the workflow `name` (its newest run record speeds up lookups).
    pub fn new(cache: &'a Cache, workflow: &str) -> Self {
        let last = cache.last_run(workflow);
        let absent = last.as_ref().map(|(_, r)| cache.absent_tasks(r)).unwrap_or_default();
        let manifest_dirs = cache.manifest_dirs();
        Resolver { cache, files: FileHasher::new(cache), last, absent, manifest_dirs }
    }

    /// The newest run record of the workflow, if any.
    pub fn last_run(&self) -> Option<&RunRecord> {
        self.last.as_ref().map(|(_, r)| r)
    }

    /// The file name of the newest run record, if any.
    pub fn last_run_file(&self) -> Option<&str> {
        self.last.as_ref().map(|(f, _)| f.as_str())
    }

    fn input_hash(&self, port: &str, input: &TaskInput, outputs: &[Option<OutputHashes>]) -> Result<String, String> {
        match input {
            TaskInput::File(path) => {
                self.files.hash(path).map_err(|e| format!("input `{port}`: {}: {e}", path.display()))
            }
            TaskInput::Output { task: producer, port: out, source, .. } => outputs[*producer]
                .as_ref()
                .and_then(|o| o.get(out))
                .cloned()
                .ok_or_else(|| format!("input `{port}`: `{source}` was not produced")),
        }
    }

    /// The key of `task`; `outputs[i]` holds the outputs of task `i` once it is done.
    pub fn key(&self, task: &Task, outputs: &[Option<OutputHashes>]) -> Result<String, String> {
        let mut h = KeyHasher::new(task.kind.name(), task.kind.version(), task.role.tag(), &task.params.canonical());
        if let Some(code) = task.kind.fingerprint() {
            h.fingerprint(code);
        }
        for (port, values) in &task.inputs {
            for v in values {
                h.input(port, &self.input_hash(port, v, outputs)?);
                if let TaskInput::Output { origin: Some(o), .. } = v {
                    let instance = serde_json::to_string(&o.instance).unwrap_or_default();
                    h.origin(&o.node, &o.output, &o.kind, &instance);
                }
            }
        }
        for (i, &s) in task.shards.iter().enumerate() {
            let shard = outputs[s].as_ref().ok_or_else(|| "a shard was not produced".to_string())?;
            for (name, hash) in shard {
                h.shard_output(i, name, hash);
            }
        }
        Ok(h.finish())
    }

    /// Everything a worker needs to run `task`, whose key is `key`.
    pub fn resolve(
        &self,
        task: &Task,
        key: String,
        tasks: &[Task],
        outputs: &[Option<OutputHashes>],
        threads: usize,
    ) -> Result<ResolvedTask, String> {
        let mut inputs = BTreeMap::new();
        for (port, values) in &task.inputs {
            let mut resolved = Vec::with_capacity(values.len());
            for v in values {
                let hash = self.input_hash(port, v, outputs)?;
                resolved.push(match v {
                    TaskInput::File(path) => ResolvedInput::File { path: path.clone(), hash },
                    TaskInput::Output { task: producer, origin, .. } => ResolvedInput::Object {
                        hash,
                        instance: tasks[*producer].instance.clone(),
                        origin: origin.clone(),
                    },
                });
            }
            inputs.insert(port.clone(), resolved);
        }
        let shards: Vec<OutputHashes> = task
            .shards
            .iter()
            .map(|&s| outputs[s].clone().ok_or_else(|| "a shard was not produced".to_string()))
            .collect::<Result<_, _>>()?;
        Ok(ResolvedTask {
            key,
            label: task.label.clone(),
            kind: task.kind.name().to_string(),
            kind_version: task.kind.version(),
            role: task.role.tag().to_string(),
            params: task.params.map().clone(),
            inputs,
            shards,
            threads,
            gpus: Vec::new(),
        })
    }

    /// The memory `task` (resolved as `resolved`) asks for: its `resources: {mem_gb}`, else its
    /// kind's estimate from the sizes of its inputs.
    pub fn demand(&self, task: &Task, resolved: &ResolvedTask) -> Demand {
        Demand::of(task.resources.mem_gb, &self.sizes(resolved), |s| task.kind.memory(&task.params, s))
    }

    /// The sizes of `task`'s inputs: its objects and files as they lie on disk (an object is an
    /// uncompressed Arrow IPC file, about the size of the table in memory). One that cannot be
    /// read counts 0; the runner reports it when it loads the input.
    fn sizes(&self, task: &ResolvedTask) -> InputSizes {
        let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let on_disk = |path: std::path::PathBuf| OnDisk { bytes: len(&path), path };
        let ports = task
            .inputs
            .iter()
            .map(|(port, values)| {
                let sizes = values
                    .iter()
                    .map(|v| match v {
                        ResolvedInput::Object { hash, .. } => on_disk(self.cache.object_path(hash)),
                        ResolvedInput::File { path, .. } => on_disk(path.clone()),
                    })
                    .collect();
                (port.clone(), sizes)
            })
            .collect();
        let shards = task.shards.iter().flat_map(|s| s.values()).map(|h| len(&self.cache.object_path(h))).sum();
        InputSizes::new(ports, shards)
    }

    /// The outputs stored for `key`, if the cache holds a complete result.
    pub fn lookup(&self, label: &str, key: &str) -> Option<OutputHashes> {
        if let Some(entry) = self.last_run().and_then(|r| r.tasks.get(label))
            && entry.key == key
            && !self.absent.contains(label)
        {
            return Some(entry.outputs.clone());
        }
        if !key.get(..2).is_some_and(|prefix| self.manifest_dirs.contains(prefix)) {
            return None;
        }
        let manifest = self.cache.result(key).ok().flatten()?;
        Some(manifest.outputs.into_iter().map(|(k, v)| (k, v.hash)).collect())
    }

    /// Saves the file-hash memo.
    pub fn save(&self) {
        self.files.save(self.cache);
    }
}
