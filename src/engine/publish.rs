//! `publish:` (Nextflow's `publishDir`): after a run, each published output of a task that is
//! done (it ran, or was served from the cache) is written to its path, in the format its
//! extension names. Writes are atomic (a temporary file in the same folder, then a rename); a file
//! that already holds those bytes is left alone, so a no-op run changes nothing on disk and a
//! deleted file comes back on the next run.
//!
//! A swept node writes one file per instance: its sweep values go before the extension,
//! `name_k=v.ext` (several swept params joined by `_`, in name order; characters other than
//! letters, digits and `.=+-` become `_`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::error::EngineError;
use super::graph::{TaskGraph, plain};
use crate::cache::{Cache, TaskEntry};
use crate::table::{Table, densified, write_table_file};
use crate::workflow::Workflow;
use crate::workflow::publish::extension;

/// One file to publish: output `output` of the task labelled `task` (of node `node`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// Node id.
    pub node: String,
    /// Output port.
    pub output: String,
    /// Task label (`node` or `node[k=v]`).
    pub task: String,
    /// Where it goes.
    pub path: PathBuf,
}

/// Every file `workflow` publishes for the tasks of `graph`, in topological order.
pub fn targets(workflow: &Workflow, graph: &TaskGraph) -> Vec<Target> {
    let mut out = Vec::new();
    for id in &graph.node_order {
        let Some(spec) = workflow.node(id) else { continue };
        for (output, path) in &spec.publish {
            for &t in &graph.outputs_of[id] {
                let task = &graph.tasks[t];
                out.push(Target {
                    node: id.clone(),
                    output: output.clone(),
                    task: task.label.clone(),
                    path: instance_path(path, &task.instance),
                });
            }
        }
    }
    out
}

fn instance_path(path: &Path, instance: &BTreeMap<String, Value>) -> PathBuf {
    if instance.is_empty() {
        return path.to_path_buf();
    }
    let safe = |c: char| if c.is_ascii_alphanumeric() || ".=+-".contains(c) { c } else { '_' };
    let parts: Vec<String> =
        instance.iter().map(|(k, v)| format!("{k}={}", plain(v)).chars().map(safe).collect()).collect();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}_{}{ext}", parts.join("_")))
}

/// What publishing one target did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The file was written (it was missing or differed).
    Written,
    /// The file already held these bytes.
    Unchanged,
    /// The task is not done (it failed or was skipped): nothing was written.
    NotDone,
}

/// Writes `target` from `done` (the run's finished tasks by label) and `cache`.
pub fn publish(target: &Target, done: &BTreeMap<String, TaskEntry>, cache: &Cache) -> Result<Published, EngineError> {
    let Some(hash) = done.get(&target.task).and_then(|e| e.outputs.get(&target.output)) else {
        return Ok(Published::NotDone);
    };
    let path = &target.path;
    let fail = |message: String| EngineError::Publish { path: path.clone(), message };
    let table = Table::from_ipc(&cache.get_object(hash)?)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = extension(path);
    let tmp = dir.join(format!(".{name}.{}.tmp.{ext}", std::process::id()));
    let written = write(&table, &tmp, &ext, &target.node, &target.output).map_err(fail);
    let result = written.and_then(|()| {
        let new = std::fs::read(&tmp).map_err(|e| fail(e.to_string()))?;
        if std::fs::read(path).is_ok_and(|old| old == new) {
            return Ok(Published::Unchanged);
        }
        std::fs::rename(&tmp, path).map_err(|e| fail(e.to_string()))?;
        Ok(Published::Written)
    });
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Writes `table` to `path` as `ext`: the one string cell as text for `.html`/`.svg`/`.txt`,
/// otherwise as `gcrl export` does.
fn write(table: &Table, path: &Path, ext: &str, node: &str, output: &str) -> Result<(), String> {
    let cell = (table.n_rows() == 1 && table.n_cols() == 1)
        .then(|| table.str_column(&table.column_names()[0]).ok())
        .flatten()
        .and_then(|v| v.into_iter().next());
    match (cell, ext) {
        (Some(text), "html" | "svg" | "txt") => std::fs::write(path, text).map_err(|e| e.to_string()),
        (None, "html" | "svg") => Err(format!(
            "output `{output}` of node `{node}` is a {} × {} table, not one string cell; publish it as .csv, .tsv, \
             .parquet or .arrow",
            table.n_rows(),
            table.n_cols()
        )),
        _ => {
            let table = densified(table.clone()).map_err(|e| e.to_string())?;
            write_table_file(&table, path).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swept_instances_get_their_values_before_the_extension() {
        let p = Path::new("out/pred.arrow");
        assert_eq!(instance_path(p, &BTreeMap::new()), p);
        let inst = BTreeMap::from([("model".to_string(), Value::from("d-vae")), ("lr".into(), Value::from(0.5))]);
        assert_eq!(instance_path(p, &inst), Path::new("out/pred_lr=0.5_model=d-vae.arrow"));
        let odd = BTreeMap::from([("name".to_string(), Value::from("a/b c"))]);
        assert_eq!(instance_path(p, &odd), Path::new("out/pred_name=a_b_c.arrow"));
    }
}
