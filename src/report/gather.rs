//! Reading what the cache holds for a workflow: each task's key (for the current parameters),
//! its manifest (timings, host, version), whether the newest run computed it, and the outputs
//! that the sections draw.

use std::collections::BTreeMap;

use super::run::{NodeRow, RunData, TaskRow, TaskStatus, params_json};
use super::{InstanceData, NodeData, ReportData, ReportError, SweepTable, sections};
use crate::cache::Cache;
use crate::engine::graph::TaskGraph;
use crate::engine::resolve::{OutputHashes, Resolver};
use crate::engine::walk::walk;
use crate::table::Table;
use crate::workflow::{Source, Workflow};

/// Everything the report shows about `workflow` (at its current parameters) from `cache`.
pub fn gather(workflow: &Workflow, cache: &Cache) -> Result<ReportData, ReportError> {
    let graph = TaskGraph::expand(workflow, &[])?;
    let resolver = Resolver::new(cache, &workflow.name);
    let newest = resolver.last_run();
    let standings = walk(&graph, &resolver, &[]);
    let mut outputs: Vec<Option<OutputHashes>> = vec![None; graph.tasks.len()];
    let mut tasks = Vec::with_capacity(graph.tasks.len());
    let mut manifests = vec![None; graph.tasks.len()];
    for (task, standing) in graph.tasks.iter().zip(&standings) {
        let (key, found) = (standing.key(), standing.outputs().cloned());
        let manifest = match (&found, key) {
            (Some(_), Some(k)) => cache.get_manifest(k)?,
            _ => None,
        };
        let status = match (&found, newest.and_then(|r| r.tasks.get(&task.label))) {
            (None, _) => TaskStatus::Missing,
            (Some(_), Some(entry)) if entry.ran && Some(entry.key.as_str()) == key => TaskStatus::Ran,
            (Some(_), _) => TaskStatus::Cached,
        };
        tasks.push(TaskRow {
            label: task.label.clone(),
            node: task.node.clone(),
            status,
            seconds: manifest.as_ref().map(|m| m.seconds),
            host: manifest.as_ref().map(|m| m.host.clone()).unwrap_or_default(),
            gcrl_version: manifest.as_ref().map(|m| m.gcrl_version.clone()).unwrap_or_default(),
            usage: manifest.as_ref().and_then(|m| m.usage),
        });
        outputs[task.id] = found;
        manifests[task.id] = manifest;
    }
    let all = sections();
    let mut nodes = Vec::new();
    for id in &graph.node_order {
        let spec = workflow.node(id).expect("graph nodes come from the workflow");
        let Some(section) = all.iter().find(|s| s.kind() == spec.kind.name()) else { continue };
        let mut instances = Vec::new();
        for &t in &graph.outputs_of[id] {
            let (task, Some(hashes)) = (&graph.tasks[t], &outputs[t]) else { continue };
            let mut tables = BTreeMap::new();
            for port in section.ports() {
                if let Some(hash) = hashes.get(*port) {
                    let table = Table::from_ipc(&cache.get_object(hash)?).map_err(|source| ReportError::Output {
                        node: id.clone(),
                        output: port.to_string(),
                        source,
                    })?;
                    tables.insert(port.to_string(), table);
                }
            }
            instances.push(InstanceData { label: task.label.clone(), tables });
        }
        if !instances.is_empty() {
            nodes.push(NodeData { id: id.clone(), kind: spec.kind.name().to_string(), instances });
        }
    }
    let mut edges = Vec::new();
    for n in &workflow.nodes {
        for source in n.inputs.values().flatten() {
            if let Source::Output { node, .. } = source
                && !edges.contains(&(node.clone(), n.id.clone()))
            {
                edges.push((node.clone(), n.id.clone()));
            }
        }
    }
    let node_rows = graph
        .node_order
        .iter()
        .map(|id| {
            let n = workflow.node(id).expect("graph nodes come from the workflow");
            let mut sweep: BTreeMap<String, serde_json::Value> =
                n.sweep.iter().map(|(k, v)| (k.clone(), serde_json::Value::Array(v.clone()))).collect();
            if !n.zip.is_empty() {
                let zip = n.zip.iter().map(|(k, v)| (k.clone(), serde_json::Value::Array(v.clone())));
                sweep.insert("zip".into(), serde_json::Value::Object(zip.collect()));
            }
            NodeRow {
                id: id.clone(),
                kind: n.kind.name().to_string(),
                version: n.kind.version(),
                plugin: n.kind.origin().map(|p| p.display().to_string()),
                params: params_json(n.params.map()),
                sweep: if sweep.is_empty() { String::new() } else { params_json(&sweep) },
            }
        })
        .collect();
    let run = RunData {
        workflow: workflow.name.clone(),
        path: workflow.path.display().to_string(),
        nodes: node_rows,
        edges,
        tasks,
    };
    let sweeps = sweep_tables(workflow, &graph, &manifests, cache)?;
    Ok(ReportData { run, nodes, sweeps })
}

/// For each swept node whose every point is cached, its outputs of one row (and at most
/// [`super::sweeps::MAX_COLUMNS`] columns, by the manifests, before any is read).
fn sweep_tables(
    workflow: &Workflow,
    graph: &TaskGraph,
    manifests: &[Option<crate::cache::Manifest>],
    cache: &Cache,
) -> Result<Vec<SweepTable>, ReportError> {
    let mut tables = Vec::new();
    for id in &graph.node_order {
        let points = &graph.outputs_of[id];
        let found: Option<Vec<&crate::cache::Manifest>> = points.iter().map(|&t| manifests[t].as_ref()).collect();
        let (true, Some(found)) = (points.len() > 1, found) else { continue };
        let spec = workflow.node(id).expect("graph nodes come from the workflow");
        for port in spec.kind.outputs() {
            let small = found
                .iter()
                .all(|m| m.outputs.get(port.name).is_some_and(|o| o.rows == 1 && o.cols <= super::sweeps::MAX_COLUMNS));
            if !small {
                continue;
            }
            let mut rows = Vec::new();
            for (&t, m) in points.iter().zip(&found) {
                let wrong = |source| ReportError::Output { node: id.clone(), output: port.name.to_string(), source };
                let table = Table::from_ipc(&cache.get_object(&m.outputs[port.name].hash)?).map_err(wrong)?;
                rows.push((graph.tasks[t].instance.clone(), table));
            }
            tables.push(SweepTable { node: id.clone(), output: port.name.to_string(), points: rows });
        }
    }
    Ok(tables)
}
