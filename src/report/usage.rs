//! The resources section: per node, what its tasks measured (highest peak RSS, CPU time, the
//! slowest task) and a `resources:` suggestion from them, for the cluster profile.

use std::collections::BTreeMap;

use super::html::{Html, number};
use super::run::RunData;
use crate::engine::usage::{HEADROOM, NodeUsage};

/// Writes the table (nothing when no task of the run has a measurement).
pub fn render(run: &RunData, html: &mut Html) {
    let mut by_node: BTreeMap<&str, NodeUsage> = BTreeMap::new();
    for t in &run.tasks {
        if let (Some(u), Some(s)) = (&t.usage, t.seconds) {
            by_node.entry(t.node.as_str()).or_default().add(u, s);
        }
    }
    if by_node.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = run
        .nodes
        .iter()
        .filter_map(|n| {
            let u = by_node.get(n.id.as_str())?;
            let (mem_gb, minutes) = u.suggest();
            Some(vec![
                n.id.clone(),
                u.tasks.to_string(),
                format!("{:.0}{}", u.peak_rss_mb, if u.alone { "" } else { " (≤)" }),
                number(u.cpu_seconds),
                number(u.slowest_seconds),
                format!("{{mem_gb: {mem_gb}, minutes: {minutes}}}"),
            ])
        })
        .collect();
    html.heading("Resources measured and suggested");
    html.table(
        "table-resources",
        &["node", "tasks measured", "peak RSS (MiB)", "CPU seconds (sum)", "slowest task (s)", "suggested resources"],
        &rows,
    );
    html.para(&format!(
        "Peak RSS is the highest of one task; CPU time is summed over the node's tasks. The suggestion is \
         {HEADROOM}× the highest peak and the slowest task. (≤): some tasks ran beside others in one process \
         (local -j > 1), so the figure is an upper bound."
    ));
}
