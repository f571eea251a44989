//! `eigengene`: TF activities: the first principal component of each community's TFs (of the
//! covariance matrix by default, A.3; of the correlation matrix with `pca: correlation`), sign
//! aligned with the community mean, plus a global one across all TFs (the community TFs and,
//! with input `tfs`, every other listed TF in the expression, A.3); fitted once, applied to
//! every cell (method.md §5).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde_json::json;

use super::common::{FIT_CELLS, dense_columns, extra_tf_columns, fitting_rows, outputs, pca_param};
use super::declare::{kind_params, ports};
use crate::algo::eigengene::{Pca, fit_eigengenes};
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{Communities, Matrix, SparseMatrix, TableBuilder};

/// The `eigengene` kind.
pub struct Eigengene;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "eigengene",
    version: 2,
    doc: "TF community activities: PC1 per community and a global one, projected onto every cell",
    inputs: ports![
        expression: "cells × genes, log-normalised",
        communities: "tf, community (e.g. leiden-sweep.consensus)",
        cells?: "cell table (with n_targets) to fit on controls only",
        tfs?: "TF names: the global eigengene spans all of them in the expression (default: the community TFs)",
    ],
    outputs: ports![
        activities: "cell, then one column per community (community_1, …) and global",
        loadings: "eigengene, tf, loading, mean, sd, variance_explained",
    ],
    params: EigengeneParams::specs(),
});

kind_params! {
    /// Params of `eigengene`.
    pub struct EigengeneParams {
        cells: String = ParamSpec::new(
            ParamType::Choice(FIT_CELLS),
            json!("training"),
            "cells to fit on (with `cells`): training = controls + singles",
        ),
        pca: Pca = pca_param(),
    }
}

impl NodeKind for Eigengene {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn run(&self, params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = EigengeneParams::decode(params)?;
        let expr = SparseMatrix::from_table(&inputs.table("expression")?)?;
        let comm = Communities::from_table(&inputs.table("communities")?)?;
        let gene_index: HashMap<&str, usize> = expr.cols.iter().enumerate().map(|(i, g)| (g.as_str(), i)).collect();
        let mut cols: Vec<usize> = Vec::new();
        let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        let mut missing = Vec::new();
        for (tf, id) in comm.rows() {
            match gene_index.get(tf) {
                Some(&g) => {
                    groups.entry(id).or_default().push(cols.len());
                    cols.push(g);
                }
                None => missing.push(tf),
            }
        }
        if !missing.is_empty() {
            return Err(NodeError::Input(format!(
                "{} community TFs are not in the expression matrix (first: {}); keep them in preprocess (input `tfs`)",
                missing.len(),
                missing[0]
            )));
        }
        let extra = extra_tf_columns(&gene_index, inputs.opt_table("tfs")?.as_ref(), &cols)?;
        cols.extend(extra);
        let cells = inputs.opt_table("cells")?;
        let fit_rows = fitting_rows(cells.as_ref(), &expr.rows, &p.cells)?;
        let all_rows: Vec<usize> = (0..expr.rows.len()).collect();
        let x_all = dense_columns(&expr, &all_rows, &cols)?;
        let x_fit = x_all.select(ndarray::Axis(0), &fit_rows);
        let communities: Vec<Vec<usize>> = groups.values().cloned().collect();
        let model = fit_eigengenes(x_fit.view(), &communities, p.pca)?;
        let activities = model.transform(x_all.view())?;
        let mut names: Vec<String> = groups.keys().map(|id| format!("community_{id}")).collect();
        names.push("global".into());
        let table =
            Matrix { rows: expr.rows.clone(), cols: names.clone(), data: activities }.to_table("cell", false)?;
        let (mut eg, mut tf, mut loading, mut mean, mut sd, mut var) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (e, name) in model.eigengenes.iter().zip(&names) {
            for (&t, &l) in e.tfs.iter().zip(&e.loading) {
                eg.push(name.clone());
                tf.push(expr.cols[cols[t]].clone());
                loading.push(l);
                mean.push(model.mean[t]);
                sd.push(model.sd[t]);
                var.push(e.variance_explained);
            }
        }
        let loadings = TableBuilder::new()
            .str("eigengene", eg)
            .str("tf", tf)
            .f64("loading", loading)
            .f64("mean", mean)
            .f64("sd", sd)
            .f64("variance_explained", var)
            .build()?;
        Ok(outputs([("activities", table), ("loadings", loadings)]))
    }
}
