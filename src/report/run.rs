//! The provenance section: the DAG, per-node timings and cache hits of the newest run, and each
//! node's kind, version and parameters.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use super::ReportError;
use super::html::{Html, escape, number};
use crate::cache::TaskUsage;

/// Where a task's result stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Computed by the newest run of the workflow.
    Ran,
    /// In the cache from an earlier run (a cache hit for the newest run).
    Cached,
    /// Not in the cache for the current parameters.
    Missing,
}

/// One task and its manifest's provenance.
#[derive(Debug, Clone)]
pub struct TaskRow {
    /// Task label.
    pub label: String,
    /// Node id.
    pub node: String,
    /// Where its result stands.
    pub status: TaskStatus,
    /// Wall time when it was computed.
    pub seconds: Option<f64>,
    /// Host that computed it.
    pub host: String,
    /// gcrl version that computed it.
    pub gcrl_version: String,
    /// Its CPU time and peak memory, when measured.
    pub usage: Option<TaskUsage>,
}

/// One node of the workflow, for the DAG and the parameter table.
#[derive(Debug, Clone)]
pub struct NodeRow {
    /// Node id.
    pub id: String,
    /// Kind name.
    pub kind: String,
    /// Kind version.
    pub version: u32,
    /// The plugin folder, for a plugin kind.
    pub plugin: Option<String>,
    /// Parameters as JSON (defaults filled).
    pub params: String,
    /// Swept parameters as JSON (empty when not swept).
    pub sweep: String,
}

/// The workflow and what the cache knows of its tasks.
#[derive(Debug, Clone)]
pub struct RunData {
    /// Workflow name.
    pub workflow: String,
    /// Workflow file.
    pub path: String,
    /// Nodes in topological order.
    pub nodes: Vec<NodeRow>,
    /// `(producer, consumer)` node pairs.
    pub edges: Vec<(String, String)>,
    /// Every task of the graph.
    pub tasks: Vec<TaskRow>,
}

fn status_color(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Ran => "#f4b183",
        TaskStatus::Cached => "#a9d18e",
        TaskStatus::Missing => "#d9d9d9",
    }
}

/// The worst status of a node's tasks: missing, else ran, else cached.
fn node_status(tasks: &[&TaskRow]) -> TaskStatus {
    if tasks.iter().any(|t| t.status == TaskStatus::Missing) {
        TaskStatus::Missing
    } else if tasks.iter().any(|t| t.status == TaskStatus::Ran) {
        TaskStatus::Ran
    } else {
        TaskStatus::Cached
    }
}

/// The DAG as SVG: nodes in columns by longest path from a source, edges as curves.
fn dag_svg(run: &RunData, by_node: &HashMap<&str, Vec<&TaskRow>>) -> String {
    let mut depth: HashMap<&str, usize> = HashMap::new();
    for n in &run.nodes {
        let d = run.edges.iter().filter(|(_, b)| *b == n.id).filter_map(|(a, _)| depth.get(a.as_str())).max();
        depth.insert(&n.id, d.map_or(0, |d| d + 1));
    }
    let mut rows: HashMap<usize, usize> = HashMap::new();
    let mut at: HashMap<&str, (f64, f64)> = HashMap::new();
    let (w, h, gap_x, gap_y) = (170.0, 44.0, 60.0, 18.0);
    for n in &run.nodes {
        let d = depth[n.id.as_str()];
        let r = rows.entry(d).or_insert(0);
        at.insert(&n.id, (10.0 + d as f64 * (w + gap_x), 10.0 + *r as f64 * (h + gap_y)));
        *r += 1;
    }
    let width = 20.0 + (depth.values().max().copied().unwrap_or(0) + 1) as f64 * (w + gap_x) - gap_x;
    let height = 20.0 + rows.values().max().copied().unwrap_or(1) as f64 * (h + gap_y) - gap_y;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         font-family=\"sans-serif\"><defs><marker id=\"gcrl-dag-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>"
    );
    for (a, b) in &run.edges {
        let (Some(&(ax, ay)), Some(&(bx, by))) = (at.get(a.as_str()), at.get(b.as_str())) else { continue };
        let (x1, y1, x2, y2) = (ax + w, ay + h / 2.0, bx, by + h / 2.0);
        let mid = (x1 + x2) / 2.0;
        let _ = write!(
            svg,
            "<path d=\"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}\" fill=\"none\" stroke=\"#555\" \
             marker-end=\"url(#gcrl-dag-arrow)\"/>"
        );
    }
    for n in &run.nodes {
        let (x, y) = at[n.id.as_str()];
        let tasks = by_node.get(n.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let fill = status_color(node_status(tasks));
        let count = if tasks.len() > 1 { format!(" ×{}", tasks.len()) } else { String::new() };
        let _ = write!(
            svg,
            "<g><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"8\" fill=\"{fill}\" stroke=\"#444\"/>\
             <text x=\"{tx}\" y=\"{t1}\" font-size=\"13\" text-anchor=\"middle\">{id}</text>\
             <text x=\"{tx}\" y=\"{t2}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">{kind}{count}</text></g>",
            tx = x + w / 2.0,
            t1 = y + 18.0,
            t2 = y + 34.0,
            id = escape(&n.id),
            kind = escape(&n.kind),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of seconds per node.
fn timing_svg(rows: &[(String, f64)]) -> String {
    let (label_w, bar_w, row_h) = (180.0, 380.0, 22.0);
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9);
    let height = 10.0 + rows.len() as f64 * row_h;
    let width = label_w + bar_w + 90.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    for (i, (node, secs)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let len = (secs / max * bar_w).max(1.0);
        let _ = write!(
            svg,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{len:.1}\" height=\"{bh}\" fill=\"#7f9fc6\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\">{secs:.2} s</text>",
            lx = label_w - 6.0,
            ty = y + 14.0,
            name = escape(node),
            bh = row_h - 6.0,
            vx = label_w + len + 5.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Writes the provenance section and adds it to `toc`.
pub fn render(run: &RunData, html: &mut Html, toc: &mut Vec<(String, String)>) -> Result<(), ReportError> {
    let mut by_node: HashMap<&str, Vec<&TaskRow>> = HashMap::new();
    for t in &run.tasks {
        by_node.entry(t.node.as_str()).or_default().push(t);
    }
    html.section("run", "Run and provenance");
    toc.push(("run".into(), "run".into()));
    html.figure(
        "fig-dag",
        &dag_svg(run, &by_node),
        "The workflow's DAG. Orange: computed by the newest run; green: served from the cache; \
         grey: not in the cache for the current parameters.",
    );
    let mut timing: Vec<(String, f64)> = Vec::new();
    let mut rows = Vec::new();
    for n in &run.nodes {
        let tasks = by_node.get(n.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let count = |s: TaskStatus| tasks.iter().filter(|t| t.status == s).count();
        let seconds: f64 = tasks.iter().filter_map(|t| t.seconds).sum();
        let slowest = tasks.iter().filter_map(|t| t.seconds).fold(0.0, f64::max);
        timing.push((n.id.clone(), seconds));
        let mut versions: Vec<&str> = tasks.iter().map(|t| t.gcrl_version.as_str()).filter(|v| !v.is_empty()).collect();
        versions.sort_unstable();
        versions.dedup();
        let mut hosts: Vec<&str> = tasks.iter().map(|t| t.host.as_str()).filter(|v| !v.is_empty()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        rows.push(vec![
            n.id.clone(),
            tasks.len().to_string(),
            count(TaskStatus::Ran).to_string(),
            count(TaskStatus::Cached).to_string(),
            count(TaskStatus::Missing).to_string(),
            number(seconds),
            number(slowest),
            versions.join(", "),
            hosts.join(", "),
        ]);
    }
    html.heading("Tasks, cache hits and timings");
    html.table(
        "table-tasks",
        &[
            "node",
            "tasks",
            "ran (newest run)",
            "cache hits",
            "not cached",
            "seconds (sum)",
            "slowest task",
            "gcrl",
            "host",
        ],
        &rows,
    );
    html.figure(
        "fig-timings",
        &timing_svg(&timing),
        "Compute time per node, summed over its tasks (from the task manifests).",
    );
    let measured = run.tasks.iter().filter_map(|t| Some((t.node.as_str(), t.usage.as_ref()?, t.seconds?)));
    super::usage::render(run.nodes.iter().map(|n| n.id.as_str()), measured, html);
    html.heading("Kinds, versions and parameters");
    let params: Vec<Vec<String>> = run
        .nodes
        .iter()
        .map(|n| {
            let kind = match &n.plugin {
                Some(dir) => format!("{} (plugin {dir})", n.kind),
                None => n.kind.clone(),
            };
            vec![n.id.clone(), kind, n.version.to_string(), n.params.clone(), n.sweep.clone()]
        })
        .collect();
    html.table("table-params", &["node", "kind", "version", "params", "sweep"], &params);
    html.end_section();
    Ok(())
}

/// Parameters as compact JSON for the table.
pub fn params_json(map: &BTreeMap<String, serde_json::Value>) -> String {
    serde_json::to_string(map).unwrap_or_default()
}
