//! The report's "Sweep points compared" section: for each swept node, each one-row output
//! (a summary, a score) of every cached sweep point side by side, the point's swept params
//! first, as `gcrl compare` shows it for the recorded runs.

use std::collections::BTreeMap;

use serde_json::Value;

use super::html::{self, Html};
use super::{ReportError, slug};
use crate::engine::graph::plain;
use crate::table::Table;

/// Outputs with at most this many columns are compared (wider ones are not summaries).
pub const MAX_COLUMNS: usize = 24;

/// One output of a swept node across its cached sweep points.
#[derive(Debug, Clone)]
pub struct SweepTable {
    /// Node id.
    pub node: String,
    /// Output port.
    pub output: String,
    /// Each point's sweep assignment and its one-row output table.
    pub points: Vec<(BTreeMap<String, Value>, Table)>,
}

impl SweepTable {
    /// Header and text rows: the swept params (`node.param`), then the output's columns.
    pub fn cells(&self) -> Result<(Vec<String>, Vec<Vec<String>>), ReportError> {
        let params: Vec<&String> = self.points.first().map(|(p, _)| p.keys().collect()).unwrap_or_default();
        let columns = self.points.first().map(|(_, t)| t.column_names()).unwrap_or_default();
        let mut header: Vec<String> = params.iter().map(|p| format!("{}.{p}", self.node)).collect();
        header.extend(columns.iter().cloned());
        let mut rows = Vec::new();
        for (instance, table) in &self.points {
            let mut row: Vec<String> = params.iter().map(|p| instance.get(*p).map(plain).unwrap_or_default()).collect();
            for name in &columns {
                let cell = match table.f64_column(name) {
                    Ok(v) => v.first().map(|x| html::number(*x)),
                    Err(_) => table.str_column(name).ok().and_then(|v| v.into_iter().next()),
                };
                row.push(cell.unwrap_or_default());
            }
            rows.push(row);
        }
        Ok((header, rows))
    }
}

/// Writes the section (nothing when no swept node has a one-row output in the cache).
pub fn render(tables: &[SweepTable], html: &mut Html, toc: &mut Vec<(String, String)>) -> Result<(), ReportError> {
    if tables.is_empty() {
        return Ok(());
    }
    html.section("sweeps", "Sweep points compared");
    toc.push(("sweeps".into(), "sweeps".into()));
    html.para(
        "Each swept node's one-row outputs at every cached sweep point; `gcrl compare WORKFLOW NODE.OUTPUT` \
         adds the recorded runs and writes the table to a file.",
    );
    for t in tables {
        let (header, rows) = t.cells()?;
        html.heading(&format!("{}.{}", t.node, t.output));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        html.table(&format!("sweeps-{}-{}", slug(&t.node), slug(&t.output)), &header, &rows);
    }
    html.end_section();
    Ok(())
}
