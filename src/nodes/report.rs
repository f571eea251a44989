//! `report`: the HTML report as a node, so a workflow can end in one. Its input tables are grouped
//! by producer node; each node gets the section of its producer's kind (the same figures as
//! `gcrl report`, drawn by `report/`), then a provenance section of the inputs alone. The kind
//! reads its inputs' origins, so renaming an upstream node reruns it (and only it).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::json;

use super::declare::{kind_params, ports};
use crate::engine::graph::{label, plain};
use crate::kind::{Input, Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::report::{InputRow, InstanceData, NodeData, render_inputs};
use crate::table::TableBuilder;

/// `report`: one self-contained HTML page from the tables on `from`.
pub struct Report;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "report",
    version: 1,
    doc: "HTML report (figures per producer kind, provenance of the inputs) of the tables on `from`",
    inputs: ports![from: "node outputs to report on; a bare node id in the list means all its outputs"],
    outputs: ports![html: "one row, string column `html`: the page (publish it to a .html file)"],
    params: ReportParams::specs(),
});

kind_params! {
    /// Params of `report`.
    pub struct ReportParams {
        title: String = ParamSpec::new(ParamType::Str, json!("gcrl report"), "the page's title"),
    }
}

impl NodeKind for Report {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn reads_origins(&self) -> bool {
        true
    }
    fn run(&self, params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let mut nodes: Vec<NodeData> = Vec::new();
        let mut rows = Vec::new();
        for input in inputs.all("from") {
            let Input::Table { table, instance, hash, origin } = input else {
                return Err(NodeError::Input(
                    "input `from` of a report takes node outputs (e.g. `from: [grn, communities]`), not files".into(),
                ));
            };
            let Some(origin) = origin else {
                return Err(NodeError::Internal("the engine gave the report an input without its origin".into()));
            };
            rows.push(InputRow {
                node: origin.node.clone(),
                output: origin.output.clone(),
                kind: origin.kind.clone(),
                instance: instance.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect::<Vec<_>>().join(", "),
                hash: hash.clone(),
                rows: table.n_rows(),
                cols: table.n_cols(),
            });
            let at = match nodes.iter().position(|n| n.id == origin.node) {
                Some(at) => at,
                None => {
                    nodes.push(NodeData { id: origin.node.clone(), kind: origin.kind.clone(), instances: Vec::new() });
                    nodes.len() - 1
                }
            };
            let task = label(&origin.node, instance);
            let instances = &mut nodes[at].instances;
            let at = match instances.iter().position(|i| i.label == task) {
                Some(at) => at,
                None => {
                    instances.push(InstanceData { label: task, tables: BTreeMap::new() });
                    instances.len() - 1
                }
            };
            instances[at].tables.insert(origin.output.clone(), table.clone());
        }
        let page = render_inputs(&ReportParams::decode(params)?.title, &nodes, &rows)
            .map_err(|e| NodeError::Input(e.to_string()))?;
        let table = TableBuilder::new().str("html", vec![page]).build()?;
        Ok(Outputs::from([("html".to_string(), table)]))
    }
}
