//! The page of a `report` node: the figure sections of its inputs' nodes, then a provenance
//! section that depends on those inputs only (origin, sweep instance, content hash, size, the
//! gcrl version), so the same inputs give the same bytes. Timings and cache hits belong to a run,
//! not to a content-addressed output: they stay in `gcrl report`.

use super::html::{Html, number};
use super::{NodeData, ReportError, render_sections};

/// One input table of a report node.
#[derive(Debug, Clone)]
pub struct InputRow {
    /// Producing node id.
    pub node: String,
    /// Its output port.
    pub output: String,
    /// The producer's kind.
    pub kind: String,
    /// The producer's sweep values as `k=v, …` (empty when not swept).
    pub instance: String,
    /// The table's content hash (blake3 of its Arrow IPC bytes).
    pub hash: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

/// The page titled `title`: a section per node of `nodes` whose kind has one (in that order),
/// then the provenance of `inputs`.
pub fn render_inputs(title: &str, nodes: &[NodeData], inputs: &[InputRow]) -> Result<String, ReportError> {
    let mut html = Html::new();
    let mut toc = Vec::new();
    render_sections(nodes, &mut html, &mut toc)?;
    html.section("provenance", "Inputs and provenance");
    toc.push(("provenance".into(), "provenance".into()));
    let version = env!("CARGO_PKG_VERSION");
    html.para(&format!(
        "Rendered by gcrl {version} from the {} input tables below; the same inputs give the same page. \
         Task timings and cache hits belong to a run: `gcrl report WORKFLOW` shows them.",
        inputs.len()
    ));
    let rows: Vec<Vec<String>> = inputs
        .iter()
        .map(|i| {
            vec![
                i.node.clone(),
                i.output.clone(),
                i.kind.clone(),
                i.instance.clone(),
                format!("{} × {}", number(i.rows as f64), number(i.cols as f64)),
                i.hash.clone(),
            ]
        })
        .collect();
    html.table("table-inputs", &["node", "output", "kind", "sweep instance", "rows × cols", "blake3"], &rows);
    html.end_section();
    let producers = inputs.iter().map(|i| i.node.as_str()).collect::<std::collections::BTreeSet<_>>().len();
    let subtitle = format!("{} input tables from {producers} nodes; gcrl {version}", inputs.len());
    Ok(html.page(title, &subtitle, &toc))
}
