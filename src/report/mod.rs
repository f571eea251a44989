//! The HTML report (`gcrl report`): one self-contained file (inline SVG and CSS, no script, no
//! network) with the figures of the paper drawn from cached outputs, and the run's provenance.
//!
//! Flow: [`gather`] reads what the cache holds for a workflow into [`ReportData`]; [`render`]
//! writes the page. Figures are pluggable per node kind: a [`Section`] names the kind it draws
//! and the outputs it reads, and appears once per node of that kind whose outputs are cached.
//! Adding a kind's figures = one file with one `Section` and a line in [`sections`].
//!
//! The `report` node kind draws the same sections from its input tables instead of the cache
//! ([`render_inputs`]), with a provenance section that depends only on those inputs.

mod baseline;
mod chart;
mod error;
pub mod gather;
mod grn;
mod html;
mod inputs;
mod leiden;
mod ora;
mod permutation;
mod run;
mod sweeps;
mod tmex;
mod usage;
mod vae;

use std::collections::BTreeMap;

pub use error::ReportError;
pub use gather::gather;
pub use html::Html;
pub use inputs::{InputRow, render_inputs};
pub use run::{RunData, TaskRow, TaskStatus};
pub use sweeps::SweepTable;

use crate::table::{Table, TableError};

/// The cached outputs of one task of a node (one sweep instance).
#[derive(Debug, Clone)]
pub struct InstanceData {
    /// Task label (`node` or `node[k=v]`).
    pub label: String,
    /// The outputs the node's section reads, by port.
    pub tables: BTreeMap<String, Table>,
}

/// A node with a section, and its cached instances.
#[derive(Debug, Clone)]
pub struct NodeData {
    /// Node id.
    pub id: String,
    /// Kind name.
    pub kind: String,
    /// Instances whose outputs are cached.
    pub instances: Vec<InstanceData>,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The run: graph, tasks, timings, params, versions.
    pub run: RunData,
    /// Nodes that have a section, in workflow order.
    pub nodes: Vec<NodeData>,
    /// The one-row outputs of swept nodes across their cached points.
    pub sweeps: Vec<SweepTable>,
}

/// Typed access to one instance's outputs, with errors that name node and output.
pub struct Outputs<'a> {
    node: &'a str,
    tables: &'a BTreeMap<String, Table>,
}

impl<'a> Outputs<'a> {
    fn table(&self, port: &str) -> Result<&'a Table, ReportError> {
        self.tables.get(port).ok_or_else(|| {
            self.wrong(
                port,
                TableError::Column {
                    name: port.into(),
                    available: self.tables.keys().cloned().collect::<Vec<_>>().join(", "),
                },
            )
        })
    }

    fn wrong(&self, port: &str, source: TableError) -> ReportError {
        ReportError::Output { node: self.node.to_string(), output: port.to_string(), source }
    }

    /// A numeric column of output `port`.
    pub fn f64s(&self, port: &str, column: &str) -> Result<Vec<f64>, ReportError> {
        self.table(port)?.f64_column(column).map_err(|e| self.wrong(port, e))
    }

    /// A string column of output `port`.
    pub fn strs(&self, port: &str, column: &str) -> Result<Vec<String>, ReportError> {
        self.table(port)?.str_column(column).map_err(|e| self.wrong(port, e))
    }

    /// Output `port` as text cells (header, then at most `max_rows` rows), for a plain table.
    pub fn cells(&self, port: &str, max_rows: usize) -> Result<(Vec<String>, Vec<Vec<String>>), ReportError> {
        let table = self.table(port)?;
        let header = table.column_names();
        let rows = table.n_rows().min(max_rows);
        let mut columns = Vec::with_capacity(header.len());
        for name in &header {
            let col: Vec<String> = if let Ok(v) = table.f64_column(name) {
                v.into_iter().map(html::number).collect()
            } else {
                table.str_column(name).map_err(|e| self.wrong(port, e))?
            };
            columns.push(col);
        }
        let body = (0..rows).map(|r| columns.iter().map(|c| c[r].clone()).collect()).collect();
        Ok((header, body))
    }

    /// A boolean column of output `port`.
    pub fn bools(&self, port: &str, column: &str) -> Result<Vec<bool>, ReportError> {
        self.table(port)?.bool_column(column).map_err(|e| self.wrong(port, e))
    }
}

/// The figures and tables of one node kind.
pub trait Section: Send + Sync {
    /// The node kind it draws.
    fn kind(&self) -> &'static str;
    /// Heading of the section.
    fn title(&self) -> &'static str;
    /// Outputs of the kind it reads (only these are loaded from the cache).
    fn ports(&self) -> &'static [&'static str];
    /// Writes figures and tables for one instance; `id` is unique in the page (prefix of figure ids).
    fn render(&self, id: &str, outputs: &Outputs<'_>, html: &mut Html) -> Result<(), ReportError>;
}

/// Every section, one per kind with figures.
pub fn sections() -> Vec<Box<dyn Section>> {
    vec![
        Box::new(grn::GrnSection),
        Box::new(leiden::LeidenSection),
        Box::new(ora::OraSection),
        Box::new(tmex::TmexSection),
        Box::new(permutation::PermutationSection),
        Box::new(baseline::BaselineSection),
        Box::new(vae::VaeSection),
    ]
}

/// A string safe in an HTML id.
fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}

/// Writes the page.
pub fn render(data: &ReportData) -> Result<String, ReportError> {
    let mut html = Html::new();
    let mut toc = Vec::new();
    render_sections(&data.nodes, &mut html, &mut toc)?;
    sweeps::render(&data.sweeps, &mut html, &mut toc)?;
    run::render(&data.run, &mut html, &mut toc)?;
    let cached = data.run.tasks.iter().filter(|t| t.status != TaskStatus::Missing).count();
    let subtitle = format!(
        "workflow {} ({}), {} of {} tasks in the cache; gcrl {}",
        data.run.workflow,
        data.run.path,
        cached,
        data.run.tasks.len(),
        env!("CARGO_PKG_VERSION")
    );
    Ok(html.page(&format!("gcrl report: {}", data.run.workflow), &subtitle, &toc))
}

/// Writes the section of each node whose kind has one, in the order given, adding it to `toc`.
fn render_sections(nodes: &[NodeData], html: &mut Html, toc: &mut Vec<(String, String)>) -> Result<(), ReportError> {
    let sections = sections();
    for node in nodes {
        let Some(section) = sections.iter().find(|s| s.kind() == node.kind) else { continue };
        let id = format!("node-{}", slug(&node.id));
        let title = format!("{}: {} ({})", node.id, section.title(), node.kind);
        html.section(&id, &title);
        toc.push((id.clone(), node.id.clone()));
        for inst in &node.instances {
            if node.instances.len() > 1 {
                html.heading(&inst.label);
            }
            let outputs = Outputs { node: &node.id, tables: &inst.tables };
            section.render(&format!("{id}-{}", slug(&inst.label)), &outputs, html)?;
        }
        html.end_section();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableBuilder;

    fn data(kind: &str, port: &str, table: Table) -> ReportData {
        let tables = BTreeMap::from([(port.to_string(), table)]);
        let node = NodeData {
            id: "net".into(),
            kind: kind.into(),
            instances: vec![InstanceData { label: "net".into(), tables }],
        };
        let run = RunData { workflow: "w".into(), path: "w.yaml".into(), nodes: vec![], edges: vec![], tasks: vec![] };
        ReportData { run, nodes: vec![node], sweeps: vec![] }
    }

    #[test]
    fn an_output_without_its_contract_columns_is_an_error_naming_node_and_output() {
        let edges = TableBuilder::new().str("source", vec!["A".into()]).build().unwrap();
        let e = render(&data("grn", "edges", edges)).unwrap_err().to_string();
        assert!(e.contains("output `edges` of node `net`") && e.contains("coef_abs"), "{e}");
    }

    #[test]
    fn table_one_shows_every_model_with_its_error_and_p() {
        let models = ["perfect", "gcrl-vae", "id-vae", "d-vae", "worst-case"];
        let t = TableBuilder::new()
            .str("model", models.iter().map(|m| m.to_string()).collect())
            .f64("aecd", vec![1.0, 2.0, 2.5, 2.25, 4.0])
            .f64("se", vec![0.1; 5])
            .f64("p_value", vec![f64::NAN, f64::NAN, 0.0123, 0.5, 1e-6])
            .i64("n_conditions", vec![25; 5])
            .i64("n_seeds", vec![1, 5, 5, 5, 1])
            .f64("pearson_delta", vec![0.9; 5])
            .f64("pearson_delta_top20", vec![0.8; 5])
            .f64("mse_top20", vec![0.1; 5])
            .f64("edistance", vec![3.0; 5])
            .f64("seed_sd", vec![f64::NAN, 0.2, 0.2, 0.2, f64::NAN])
            .f64("singles_error", vec![f64::NAN, 1.0, 1.0, 1.0, 2.0])
            .f64("additivity_gap", vec![f64::NAN, 0.5, 0.5, 0.5, 0.0])
            .str("note", vec!["half vs half".into(), "".into(), "".into(), "same <model>".into(), "".into()])
            .build()
            .unwrap();
        let page = render(&data("baseline-eval", "table", t)).unwrap();
        assert!(page.contains("id=\"node-net-net-table\"") && page.contains("id=\"node-net-net-aecd\""));
        for m in models {
            assert!(page.contains(&format!("<td>{m}</td>")), "{m}");
        }
        assert!(page.contains("2.5000 ± 0.1000"), "AECD ± S.E.");
        assert!(page.contains("0.0123"), "the Wilcoxon p");
        assert!(page.contains("25 × 5"), "the n behind the ±");
        assert!(page.contains("same &lt;model&gt;"), "the note, escaped");
    }

    #[test]
    fn kinds_without_a_section_add_nothing_but_the_run() {
        let t = TableBuilder::new().f64("value", vec![1.0]).build().unwrap();
        let page = render(&data("diag-numbers", "values", t)).unwrap();
        assert!(page.contains("id=\"run\"") && !page.contains("id=\"node-net\""));
        assert_eq!(
            sections().iter().map(|s| s.kind()).collect::<Vec<_>>(),
            ["grn", "leiden-sweep", "ora", "tmex-align", "permutation-test", "baseline-eval", "vae-train"]
        );
    }
}
