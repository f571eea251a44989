//! `gcrl diff RUN_A RUN_B`: what differs between two recorded runs, task by task: the params,
//! the inputs (by content) and the kind versions behind each task whose key changed, read from
//! the task manifests the cache keeps under those keys; and the tasks only one run has.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use super::error::{CliError, Outcome};
use crate::cache::{Cache, Manifest, RunRecord};
use crate::clock::utc_datetime;

/// How one task differs between the two runs.
#[derive(Serialize)]
struct TaskDiff {
    task: String,
    /// `changed`, `only_a` or `only_b`.
    change: &'static str,
    /// `[a, b]` of each kind name and version that differs (`kind@version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<[String; 2]>,
    /// `name: [a, b]` of each differing param (`null` where a run lacks it).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    params: serde_json::Map<String, Value>,
    /// Input ports whose contents differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    inputs: Vec<String>,
    /// What else explains a changed key (a manifest gone, or the same params and inputs).
    #[serde(skip_serializing_if = "String::is_empty")]
    note: String,
}

/// Finds run `id` in the cache, or says what to give instead.
fn find(cache: &Cache, cache_dir: &Path, id: &str) -> Result<(String, RunRecord), CliError> {
    match cache.find_run(id) {
        Ok((path, record)) => Ok((path.file_stem().unwrap_or_default().to_string_lossy().into_owned(), record)),
        Err(matches) if matches.is_empty() => Err(CliError::Usage(format!(
            "no recorded run `{id}` in {}; `gcrl log WORKFLOW` lists the runs and their ids",
            cache_dir.display()
        ))),
        Err(matches) => Err(CliError::Usage(format!(
            "`{id}` is the start of {} run ids ({}); give more of it",
            matches.len(),
            super::report::names(matches.iter().map(String::as_str), 4)
        ))),
    }
}

/// The differences between the manifests of one task in run A and run B.
fn compare(label: &str, a: &Manifest, b: &Manifest) -> TaskDiff {
    let mut d = TaskDiff {
        task: label.to_string(),
        change: "changed",
        kind: None,
        params: serde_json::Map::new(),
        inputs: Vec::new(),
        note: String::new(),
    };
    if (&a.kind, a.kind_version) != (&b.kind, b.kind_version) {
        d.kind = Some([format!("{}@{}", a.kind, a.kind_version), format!("{}@{}", b.kind, b.kind_version)]);
    }
    let names: BTreeSet<&String> = a.params.keys().chain(b.params.keys()).collect();
    for name in names {
        let (x, y) = (a.params.get(name), b.params.get(name));
        if x != y {
            d.params.insert(name.clone(), json!([x, y]));
        }
    }
    let ports: BTreeSet<&String> = a.inputs.keys().chain(b.inputs.keys()).collect();
    d.inputs = ports.into_iter().filter(|p| a.inputs.get(*p) != b.inputs.get(*p)).cloned().collect();
    if d.kind.is_none() && d.params.is_empty() && d.inputs.is_empty() {
        d.note = format!(
            "same kind version, params and inputs: the kind's code changed (gcrl {} → {})",
            a.gcrl_version, b.gcrl_version
        );
    }
    d
}

/// The task diffs of two records, in label order, and how many tasks are the same.
fn task_diffs(cache: &Cache, a: &RunRecord, b: &RunRecord) -> Result<(Vec<TaskDiff>, usize), CliError> {
    let labels: BTreeSet<&String> = a.tasks.keys().chain(b.tasks.keys()).collect();
    let (mut diffs, mut same) = (Vec::new(), 0);
    let bare = |task: &str, change| TaskDiff {
        task: task.to_string(),
        change,
        kind: None,
        params: serde_json::Map::new(),
        inputs: Vec::new(),
        note: String::new(),
    };
    for label in labels {
        match (a.tasks.get(label), b.tasks.get(label)) {
            (Some(x), Some(y)) if x.key == y.key => same += 1,
            (Some(x), Some(y)) => match (cache.get_manifest(&x.key)?, cache.get_manifest(&y.key)?) {
                (Some(mx), Some(my)) => diffs.push(compare(label, &mx, &my)),
                _ => {
                    let mut d = bare(label, "changed");
                    d.note = "its key changed; a manifest is gone from the cache (`cache gc`), so not why".into();
                    diffs.push(d);
                }
            },
            (Some(_), None) => diffs.push(bare(label, "only_a")),
            (None, _) => diffs.push(bare(label, "only_b")),
        }
    }
    Ok((diffs, same))
}

/// A param value as the text shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "(unset)".into(),
        other => crate::engine::graph::plain(other),
    }
}

/// Prints what differs between runs `a` and `b` (ids or unique prefixes of them).
pub fn diff(cache_dir: &Path, a: &str, b: &str, json: bool) -> Outcome {
    let cache = Cache::open(cache_dir)?;
    let (id_a, ra) = find(&cache, cache_dir, a)?;
    let (id_b, rb) = find(&cache, cache_dir, b)?;
    let (diffs, same) = task_diffs(&cache, &ra, &rb)?;
    let fingerprint_same = match (&ra.fingerprint, &rb.fingerprint) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    };
    if json {
        let doc = json!({
            "a": { "run": id_a, "workflow": ra.workflow, "fingerprint": ra.fingerprint },
            "b": { "run": id_b, "workflow": rb.workflow, "fingerprint": rb.fingerprint },
            "fingerprint_same": fingerprint_same,
            "tasks": diffs,
            "same": same,
        });
        println!("{doc}");
        return Ok(());
    }
    for (tag, id, r) in [("A", &id_a, &ra), ("B", &id_b, &rb)] {
        let fp = r.fingerprint.as_deref().map(|f| &f[..f.len().min(12)]).unwrap_or("-");
        println!("{tag} {id}: workflow `{}`, started {} UTC, fingerprint {fp}", r.workflow, utc_datetime(r.started_ms));
    }
    match fingerprint_same {
        Some(true) => println!("same workflow fingerprint"),
        Some(false) => println!("the workflow fingerprints differ"),
        None => println!("workflow fingerprint not recorded for both runs"),
    }
    for d in &diffs {
        match d.change {
            "only_a" => println!("{}: only in A", d.task),
            "only_b" => println!("{}: only in B", d.task),
            _ => {
                let mut parts = Vec::new();
                if let Some([x, y]) = &d.kind {
                    parts.push(format!("kind {x} → {y}"));
                }
                for (name, v) in &d.params {
                    parts.push(format!("param {name}: {} → {}", shown(&v[0]), shown(&v[1])));
                }
                if !d.inputs.is_empty() {
                    parts.push(format!("inputs differ: {}", d.inputs.join(", ")));
                }
                if !d.note.is_empty() {
                    parts.push(d.note.clone());
                }
                println!("{}: {}", d.task, parts.join("; "));
            }
        }
    }
    println!("{} tasks differ, {same} the same", diffs.len());
    Ok(())
}
