//! `ora`: GO over-representation per TF community (its TFs and their targets) against the GRN's
//! genes, with "background" terms (enriched in at least half the communities) flagged apart,
//! as in the paper's Appendix B.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use serde_json::json;

use super::common::outputs;
use super::declare::{kind_params, ports};
use crate::algo::enrichment::over_representation;
use crate::io::gmt::read_gmt;
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{Communities, Edges, TableBuilder};

/// The `ora` kind.
pub struct Ora;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "ora",
    version: 1,
    doc: "GO over-representation of each TF community's regulon (hypergeometric, BH)",
    inputs: ports![
        communities: "tf, community (e.g. leiden-sweep.consensus)",
        grn: "edge table: source, target (strong edges if `strong`)",
        gene_sets: "GMT file (`{file: go_bp.gmt.gz}`)",
    ],
    outputs: ports![enrichment: "community, term, name, size, overlap, genes, p, q, background (terms with q ≤ fdr)"],
    params: OraParams::specs(),
});

kind_params! {
    /// Params of `ora`.
    pub struct OraParams {
        min_size: usize = ParamSpec::new(
            ParamType::positive(),
            json!(15),
            "smallest gene set tested (within the background)",
        ),
        max_size: usize = ParamSpec::new(ParamType::positive(), json!(500), "largest gene set tested"),
        fdr: f64 = ParamSpec::new(ParamType::fraction(), json!(0.05), "report terms with q at most this"),
        background_fraction: f64 = ParamSpec::new(
            ParamType::fraction(),
            json!(0.5),
            "terms enriched in at least this fraction of communities are flagged `background`",
        ),
    }
}

impl NodeKind for Ora {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn run(&self, params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = OraParams::decode(params)?;
        let comm = Communities::from_table(&inputs.table("communities")?)?;
        let edges = Edges::from_table(&inputs.table("grn")?)?.0;
        let path = inputs.file("gene_sets")?;
        let sets = read_gmt(path).map_err(|e| NodeError::Input(e.to_string()))?;
        let background: Vec<String> =
            edges.iter().flat_map(|(s, t, _)| [s.clone(), t.clone()]).collect::<BTreeSet<_>>().into_iter().collect();
        let mut targets: HashMap<&str, Vec<&str>> = HashMap::new();
        for (s, t, _) in &edges {
            targets.entry(s.as_str()).or_default().push(t.as_str());
        }
        let mut members: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        for (tf, id) in comm.rows() {
            let genes = members.entry(id).or_default();
            genes.insert(tf.to_string());
            genes.extend(targets.get(tf).into_iter().flatten().map(|g| g.to_string()));
        }
        let gene_lists: Vec<Vec<String>> = sets.iter().map(|s| s.genes.clone()).collect();
        let fdr = p.fdr;
        let mut rows = Vec::new();
        for (community, genes) in &members {
            let query: Vec<String> = genes.iter().cloned().collect();
            let tests = over_representation(&query, &background, &gene_lists, p.min_size, p.max_size)?;
            for t in tests.into_iter().filter(|t| t.q <= fdr) {
                let overlap: Vec<&str> =
                    sets[t.set].genes.iter().filter(|g| genes.contains(*g)).map(String::as_str).collect();
                rows.push((*community, t, overlap.join(",")));
            }
        }
        let mut count: HashMap<usize, usize> = HashMap::new();
        for (_, t, _) in &rows {
            *count.entry(t.set).or_default() += 1;
        }
        let needed = (p.background_fraction * members.len() as f64).ceil().max(1.0) as usize;
        let enrichment = TableBuilder::new()
            .i64("community", rows.iter().map(|r| r.0).collect())
            .str("term", rows.iter().map(|r| sets[r.1.set].id.clone()).collect())
            .str("name", rows.iter().map(|r| sets[r.1.set].name.clone()).collect())
            .i64("size", rows.iter().map(|r| r.1.size as i64).collect())
            .i64("overlap", rows.iter().map(|r| r.1.overlap as i64).collect())
            .str("genes", rows.iter().map(|r| r.2.clone()).collect())
            .f64("p", rows.iter().map(|r| r.1.p).collect())
            .f64("q", rows.iter().map(|r| r.1.q).collect())
            .bool("background", rows.iter().map(|r| members.len() > 1 && count[&r.1.set] >= needed).collect())
            .build()?;
        Ok(outputs([("enrichment", enrichment)]))
    }
}
