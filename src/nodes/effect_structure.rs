//! `effect-structure`: a diagnostic of whether gCRL's prior fits a screen. Each single
//! perturbation's effect is its centroid minus the control centroid; per community of perturbed
//! TFs, the share of the effects' energy that one shared direction explains (rank-1 SVD, see
//! [`crate::algo::effect_structure`]), and overall. Near 1: perturbing any TF of a community
//! moves one program, as gCRL assumes; near 1/n: the TFs act on their own.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use ndarray::Array2;

use super::common::{cell_targets, dense_columns, outputs};
use super::declare::ports;
use crate::algo::aecd::centroid;
use crate::algo::effect_structure::rank1_shares;
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, Params, RunContext};
use crate::table::{Communities, SparseMatrix, TableBuilder};

/// The `effect-structure` kind.
pub struct EffectStructure;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "effect-structure",
    version: 1,
    doc: "share of single-perturbation effect energy explained by one direction per TF community",
    inputs: ports![
        expression: "cells × genes, log-normalised",
        cells: "cell, targets, n_targets (same cells as expression)",
        communities: "tf, community",
    ],
    outputs: ports![table: "community (or `all`), n_tfs, energy, rank1_energy, share"],
    params: vec![],
});

impl NodeKind for EffectStructure {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn run(&self, _p: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let expr = SparseMatrix::from_table(&inputs.table("expression")?)?;
        let cells = inputs.table("cells")?;
        if cells.str_column("cell")? != expr.rows {
            return Err(NodeError::Input(
                "input `cells` does not list the cells of `expression` in the same order".into(),
            ));
        }
        let comm = Communities::from_table(&inputs.table("communities")?)?;
        let of_tf: HashMap<String, i64> = comm.rows().map(|(tf, c)| (tf.to_string(), c)).collect();
        let mut controls = Vec::new();
        let mut singles: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (row, t) in cell_targets(&cells)?.iter().enumerate() {
            match t.as_slice() {
                [] => controls.push(row),
                [one] if of_tf.contains_key(one) => singles.entry(one.clone()).or_default().push(row),
                _ => {}
            }
        }
        if controls.is_empty() || singles.is_empty() {
            return Err(NodeError::Input(format!(
                "`cells` needs control cells and single perturbations of community TFs: it has {} controls and \
                 single perturbations of {} of the {} community TFs",
                controls.len(),
                singles.len(),
                of_tf.len()
            )));
        }
        let all: Vec<usize> = (0..expr.cols.len()).collect();
        let control = centroid(dense_columns(&expr, &controls, &all)?.view())?;
        let mut effects = Array2::<f64>::zeros((singles.len(), all.len()));
        let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, (tf, rows)) in singles.iter().enumerate() {
            effects.row_mut(i).assign(&(centroid(dense_columns(&expr, rows, &all)?.view())? - &control));
            groups.entry(of_tf[tf]).or_default().push(i);
        }
        let lists: Vec<Vec<usize>> = groups.values().cloned().collect();
        let shares = rank1_shares(effects.view(), &lists)?;
        let mut name: Vec<String> = groups.keys().map(|k| k.to_string()).collect();
        name.push("all".into());
        let mut n: Vec<i64> = shares.iter().map(|s| s.n as i64).collect();
        let mut energy: Vec<f64> = shares.iter().map(|s| s.energy).collect();
        let mut rank1: Vec<f64> = shares.iter().map(|s| s.rank1).collect();
        n.push(n.iter().sum());
        energy.push(energy.iter().sum());
        rank1.push(rank1.iter().sum());
        let lone = shares.iter().filter(|s| s.n == 1).count();
        if lone > 0 {
            let (e, r) = shares.iter().filter(|s| s.n > 1).fold((0.0, 0.0), |(e, r), s| (e + s.energy, r + s.rank1));
            ctx.note(format!(
                "{lone} of {} communities have one perturbed TF, whose share is 1 by construction (one vector is rank \
                 1); over the communities with at least 2 the share is {}",
                shares.len(),
                if e > 0.0 { format!("{:.3}", r / e) } else { "undefined (none)".into() }
            ));
        }
        let share = rank1.iter().zip(&energy).map(|(r, e)| if *e > 0.0 { r / e } else { f64::NAN }).collect();
        let table = TableBuilder::new()
            .str("community", name)
            .i64("n_tfs", n)
            .f64("energy", energy)
            .f64("rank1_energy", rank1)
            .f64("share", share)
            .build()?;
        Ok(outputs([("table", table)]))
    }
}
