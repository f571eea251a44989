//! `simulate`: a Perturb-seq screen from a planted GRN (see [`crate::algo::simulate`]).

use serde_json::json;
use std::sync::LazyLock;

use super::common::{cells_table, check_memory, outputs};
use super::declare::{count, kind_params, non_negative, ports};
use crate::algo::simulate::{Model, Perturbation, SimParams, simulate};
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{Communities, Edges, SparseMatrix, TableBuilder};

/// The `simulate` kind.
pub struct Simulate;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "simulate",
    version: 1,
    doc: "simulate a Perturb-seq screen (NB counts) from a planted GRN with TF communities",
    inputs: Vec::new(),
    outputs: ports![
        counts: "cells × genes raw counts (sparse)",
        cells: "cell, targets (A or A+B; empty for controls), n_targets",
        genes: "gene, is_tf",
        tfs: "tf",
        edges: "true regulatory edges: source, target, weight",
        communities: "true community of each TF: tf, community",
    ],
    params: SimulateParams::specs(),
});

kind_params! {
    /// Params of `simulate` (defaults: [`SimParams::default`]).
    pub struct SimulateParams {
        seed: u64 = count(0, "random seed"),
        tfs: usize = count(SimParams::default().tfs, "number of TFs"),
        communities: usize = count(SimParams::default().communities, "number of planted TF communities"),
        targets: usize = count(SimParams::default().targets, "number of non-TF target genes"),
        p_intra: f64 = ParamSpec::new(
            ParamType::fraction(),
            json!(SimParams::default().p_intra),
            "TF→TF edge probability inside a community",
        ),
        p_inter: f64 = ParamSpec::new(
            ParamType::fraction(),
            json!(SimParams::default().p_inter),
            "TF→TF edge probability between communities",
        ),
        regulators_per_target: usize = count(SimParams::default().regulators_per_target, "TFs regulating each target"),
        spectral_radius: f64 = ParamSpec::new(
            ParamType::Float { min: Some(0.0), max: Some(0.99) },
            json!(SimParams::default().spectral_radius),
            "spectral radius of |W| (< 1 so the steady state exists)",
        ),
        control_cells: usize = count(SimParams::default().control_cells, "unperturbed cells"),
        singles: usize = count(SimParams::default().singles, "TFs perturbed one at a time"),
        doubles: usize = count(SimParams::default().doubles, "pairs of TFs perturbed together"),
        cells_per_perturbation: usize = count(
            SimParams::default().cells_per_perturbation,
            "cells per single or double",
        ),
        perturbation: String = ParamSpec::new(
            ParamType::Choice(&["overexpression", "knockdown"]),
            json!("overexpression"),
            "direction of every perturbation",
        ),
        effect_size: f64 = non_negative(SimParams::default().effect_size, "shift of a perturbed TF's drive"),
        interaction: f64 = ParamSpec::new(
            ParamType::Float { min: None, max: None },
            json!(SimParams::default().interaction),
            "extra shift in doubles (0 = additive)",
        ),
        drive_noise: f64 = non_negative(SimParams::default().drive_noise, "sd of cell-to-cell noise of TF drives"),
        target_noise: f64 = non_negative(SimParams::default().target_noise, "sd of target-state noise"),
        library_size: f64 = non_negative(SimParams::default().library_size, "median total counts per cell"),
        library_log_sd: f64 = non_negative(SimParams::default().library_log_sd, "sd of log library size"),
        dispersion: f64 = non_negative(SimParams::default().dispersion, "negative-binomial θ (variance = μ + μ²/θ)"),
        model: String = ParamSpec::new(
            ParamType::Choice(&["linear", "saturating"]),
            json!("linear"),
            "regulatory response: linear, or saturating s·tanh(x/s) (bounded downstream effects)",
        ),
        community_effect: f64 = ParamSpec::new(
            ParamType::fraction(),
            json!(SimParams::default().community_effect),
            "0 = TF-level regulation; 1 = communities act as units (a perturbation moves its whole community, \
             targets follow community programs, inter-community edges acyclic), as gCRL assumes",
        ),
        saturation: f64 = ParamSpec::new(
            ParamType::Float { min: Some(0.0), max: None },
            json!(1.0),
            "saturating model: the bound s of each regulator's response (> 0)",
        ),
    }
}

impl NodeKind for Simulate {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    /// [`BASE`](crate::kind::memory::BASE) plus 2× the algorithm's own peak bound (it holds the
    /// counts, then their table): 795 MiB was measured for 44,000 cells × 1,560 genes, 88 MiB for
    /// 11,000 × 460 (README, "Memory").
    fn memory(&self, p: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        sim_params(p)
            .map_or_else(|_| inputs.default_estimate(), |s| crate::kind::memory::BASE + (2.0 * s.peak_bytes()) as u64)
    }
    fn run(&self, p: &Params, _inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let params = sim_params(p)?;
        check_memory(
            &format!("a screen of {} cells × {} genes", params.cells(), params.tfs.saturating_add(params.targets)),
            params.peak_bytes(),
            "control_cells, cells_per_perturbation, tfs or targets",
        )?;
        let sim = simulate(&params, SimulateParams::decode(p)?.seed)?;
        let n = sim.counts.n_rows;
        let width = n.to_string().len();
        let cell_names: Vec<String> = (0..n).map(|i| format!("cell{i:0width$}")).collect();
        let tf_set: std::collections::HashSet<&String> = sim.tf_names.iter().collect();
        let is_tf = sim.gene_names.iter().map(|g| tf_set.contains(g)).collect();
        let counts = SparseMatrix { rows: cell_names.clone(), cols: sim.gene_names.clone(), csr: sim.counts };
        let (tf, community) = sim.communities.into_iter().map(|(t, c)| (t, c as i64)).unzip();
        Ok(outputs([
            ("counts", counts.into_table()?),
            ("cells", cells_table(cell_names, &sim.cell_targets)?),
            ("genes", TableBuilder::new().str("gene", sim.gene_names).bool("is_tf", is_tf).build()?),
            ("tfs", TableBuilder::new().str("tf", sim.tf_names).build()?),
            ("edges", Edges(sim.edges).to_table()?),
            ("communities", Communities { tf, community }.to_table()?),
        ]))
    }
}

/// The algorithm's parameters from the node's.
fn sim_params(params: &Params) -> Result<SimParams, NodeError> {
    let p = SimulateParams::decode(params)?;
    Ok(SimParams {
        tfs: p.tfs,
        communities: p.communities,
        targets: p.targets,
        p_intra: p.p_intra,
        p_inter: p.p_inter,
        regulators_per_target: p.regulators_per_target,
        spectral_radius: p.spectral_radius,
        control_cells: p.control_cells,
        singles: p.singles,
        doubles: p.doubles,
        cells_per_perturbation: p.cells_per_perturbation,
        perturbation: match p.perturbation.as_str() {
            "knockdown" => Perturbation::KnockDown,
            _ => Perturbation::OverExpression,
        },
        effect_size: p.effect_size,
        interaction: p.interaction,
        drive_noise: p.drive_noise,
        target_noise: p.target_noise,
        library_size: p.library_size,
        library_log_sd: p.library_log_sd,
        dispersion: p.dispersion,
        model: match p.model.as_str() {
            "saturating" => Model::Saturating { scale: p.saturation },
            _ => Model::Linear,
        },
        community_effect: p.community_effect,
    })
}
