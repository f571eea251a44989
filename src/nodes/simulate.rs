//! `simulate`: a Perturb-seq screen from a planted GRN (see [`crate::algo::simulate`]).

use serde_json::json;
use std::sync::LazyLock;

use super::common::{cells_table, check_memory, outputs};
use super::declare::ports;
use crate::algo::simulate::{Model, Perturbation, SimParams, simulate};
use crate::engine::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{Communities, Edges, SparseMatrix, TableBuilder};

/// The `simulate` kind.
pub struct Simulate;

fn float(name: &'static str, default: f64, doc: &'static str) -> ParamSpec {
    ParamSpec::new(name, ParamType::non_negative(), json!(default), doc)
}

fn count(name: &'static str, default: usize, doc: &'static str) -> ParamSpec {
    ParamSpec::new(name, ParamType::count(), json!(default), doc)
}

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
    params: {
        let d = SimParams::default();
        vec![
            count("seed", 0, "random seed"),
            count("tfs", d.tfs, "number of TFs"),
            count("communities", d.communities, "number of planted TF communities"),
            count("targets", d.targets, "number of non-TF target genes"),
            ParamSpec::new(
                "p_intra",
                ParamType::fraction(),
                json!(d.p_intra),
                "TF→TF edge probability inside a community",
            ),
            ParamSpec::new(
                "p_inter",
                ParamType::fraction(),
                json!(d.p_inter),
                "TF→TF edge probability between communities",
            ),
            count("regulators_per_target", d.regulators_per_target, "TFs regulating each target"),
            ParamSpec::new(
                "spectral_radius",
                ParamType::Float { min: Some(0.0), max: Some(0.99) },
                json!(d.spectral_radius),
                "spectral radius of |W| (< 1 so the steady state exists)",
            ),
            count("control_cells", d.control_cells, "unperturbed cells"),
            count("singles", d.singles, "TFs perturbed one at a time"),
            count("doubles", d.doubles, "pairs of TFs perturbed together"),
            count("cells_per_perturbation", d.cells_per_perturbation, "cells per single or double"),
            ParamSpec::new(
                "perturbation",
                ParamType::Choice(&["overexpression", "knockdown"]),
                json!("overexpression"),
                "direction of every perturbation",
            ),
            float("effect_size", d.effect_size, "shift of a perturbed TF's drive"),
            ParamSpec::new(
                "interaction",
                ParamType::Float { min: None, max: None },
                json!(d.interaction),
                "extra shift in doubles (0 = additive)",
            ),
            float("drive_noise", d.drive_noise, "sd of cell-to-cell noise of TF drives"),
            float("target_noise", d.target_noise, "sd of target-state noise"),
            float("library_size", d.library_size, "median total counts per cell"),
            float("library_log_sd", d.library_log_sd, "sd of log library size"),
            float("dispersion", d.dispersion, "negative-binomial θ (variance = μ + μ²/θ)"),
            ParamSpec::new(
                "model",
                ParamType::Choice(&["linear", "saturating"]),
                json!("linear"),
                "regulatory response: linear, or saturating s·tanh(x/s) (bounded downstream effects)",
            ),
            ParamSpec::new(
                "community_effect",
                ParamType::fraction(),
                json!(d.community_effect),
                "0 = TF-level regulation; 1 = communities act as units (a perturbation moves its whole community, \
                 targets follow community programs, inter-community edges acyclic), as gCRL assumes",
            ),
            ParamSpec::new(
                "saturation",
                ParamType::Float { min: Some(0.0), max: None },
                json!(1.0),
                "saturating model: the bound s of each regulator's response (> 0)",
            ),
        ]
    },
});

impl NodeKind for Simulate {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    /// [`BASE`](crate::engine::memory::BASE) plus 2× the algorithm's own peak bound (it holds the
    /// counts, then their table): 795 MiB was measured for 44,000 cells × 1,560 genes, 88 MiB for
    /// 11,000 × 460 (README, "Memory").
    fn memory(&self, p: &Params, inputs: &crate::engine::InputSizes) -> u64 {
        sim_params(p)
            .map_or_else(|_| inputs.default_estimate(), |s| crate::engine::memory::BASE + (2.0 * s.peak_bytes()) as u64)
    }
    fn run(&self, p: &Params, _inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let params = sim_params(p)?;
        check_memory(
            &format!("a screen of {} cells × {} genes", params.cells(), params.tfs.saturating_add(params.targets)),
            params.peak_bytes(),
            "control_cells, cells_per_perturbation, tfs or targets",
        )?;
        let sim = simulate(&params, p.seed("seed")?)?;
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
fn sim_params(p: &Params) -> Result<SimParams, NodeError> {
    Ok(SimParams {
        tfs: p.usize("tfs")?,
        communities: p.usize("communities")?,
        targets: p.usize("targets")?,
        p_intra: p.f64("p_intra")?,
        p_inter: p.f64("p_inter")?,
        regulators_per_target: p.usize("regulators_per_target")?,
        spectral_radius: p.f64("spectral_radius")?,
        control_cells: p.usize("control_cells")?,
        singles: p.usize("singles")?,
        doubles: p.usize("doubles")?,
        cells_per_perturbation: p.usize("cells_per_perturbation")?,
        perturbation: match p.str("perturbation")? {
            "knockdown" => Perturbation::KnockDown,
            _ => Perturbation::OverExpression,
        },
        effect_size: p.f64("effect_size")?,
        interaction: p.f64("interaction")?,
        drive_noise: p.f64("drive_noise")?,
        target_noise: p.f64("target_noise")?,
        library_size: p.f64("library_size")?,
        library_log_sd: p.f64("library_log_sd")?,
        dispersion: p.f64("dispersion")?,
        model: match p.str("model")? {
            "saturating" => Model::Saturating { scale: p.f64("saturation")? },
            _ => Model::Linear,
        },
        community_effect: p.f64("community_effect")?,
    })
}
