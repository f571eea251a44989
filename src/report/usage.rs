//! The resources section: per node, what its tasks measured (highest peak RSS, CPU time, the
//! slowest task) and a `resources:` suggestion from them, for the cluster profile.

use std::collections::BTreeMap;

use super::html::{Html, number};
use crate::cache::TaskUsage;
use crate::engine::usage::{HEADROOM, NodeUsage};

/// Writes the table of the nodes `nodes`, in that order, from `tasks`: the node, measurement and
/// seconds of each task measured (nothing when no task was).
pub fn render<'a>(
    nodes: impl Iterator<Item = &'a str>,
    tasks: impl Iterator<Item = (&'a str, &'a TaskUsage, f64)>,
    html: &mut Html,
) {
    let mut by_node: BTreeMap<&str, NodeUsage> = BTreeMap::new();
    for (node, u, s) in tasks {
        by_node.entry(node).or_default().add(u, s);
    }
    if by_node.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = nodes
        .filter_map(|n| {
            let u = by_node.get(n)?;
            let (mem_gb, minutes) = u.suggest();
            Some(vec![
                n.to_string(),
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
