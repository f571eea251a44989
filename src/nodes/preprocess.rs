//! `preprocess`: subsample, normalize_total, log1p, highly variable genes (scanpy semantics),
//! keeping perturbed targets and listed TFs in the gene set.

use std::collections::HashSet;

use serde_json::json;

use super::common::{cell_targets, names, outputs};
use crate::algo::preprocess::{Flavor, Hvg, HvgOptions, highly_variable_genes, log1p, normalize_total, subsample};
use crate::engine::{Inputs, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, PortSpec, RunContext};
use crate::table::{SparseMatrix, TableBuilder};

/// The `preprocess` kind.
pub struct Preprocess;

impl NodeKind for Preprocess {
    fn name(&self) -> &str {
        "preprocess"
    }
    fn version(&self) -> u32 {
        2
    }
    fn doc(&self) -> &str {
        "subsample cells, normalize_total, log1p and select highly variable genes as scanpy does"
    }
    fn inputs(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::new("counts", "cells × genes raw counts (sparse or dense table)"),
            PortSpec::optional("cells", "cell table with `targets` (for subsampling and keeping targets)"),
            PortSpec::optional("tfs", "TF names to keep in the gene set"),
        ]
    }
    fn outputs(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::new("expression", "cells × selected genes, log-normalised (sparse)"),
            PortSpec::new("genes", "gene, highly_variable, means, dispersions, dispersions_norm, kept"),
            PortSpec::new("cells", "the kept rows of the cell table"),
        ]
    }
    fn params(&self) -> Vec<ParamSpec> {
        let d = HvgOptions::default();
        let float = |name, v: f64, doc| ParamSpec::new(name, ParamType::Float { min: None, max: None }, json!(v), doc);
        vec![
            ParamSpec::new(
                "input",
                ParamType::Choice(&["auto", "counts", "log1p"]),
                json!("auto"),
                "what `counts` holds: auto = raw counts, refusing non-integer values (already normalised data); \
                 counts = normalise whatever the values (e.g. ambient-corrected counts); log1p = already \
                 log-normalised (GEARS, CPA, scgen files): no normalize_total or log1p, HVGs on the values as given",
            ),
            ParamSpec::new(
                "genes_min_cells",
                ParamType::count(),
                json!(0),
                "drop genes detected (non-zero) in fewer cells than this, as scanpy's filter_genes(min_cells)",
            ),
            ParamSpec::new(
                "genes_min_fraction",
                ParamType::fraction(),
                json!(0.0),
                "drop genes detected in a smaller fraction of the cells than this",
            ),
            ParamSpec::new(
                "target_sum",
                ParamType::optional(ParamType::non_negative()),
                json!(1e4),
                "total per cell after scaling; null = median",
            ),
            ParamSpec::new("log1p", ParamType::Bool, json!(true), "apply ln(1 + x)"),
            ParamSpec::new(
                "flavor",
                ParamType::Choice(&["seurat", "cell_ranger", "seurat_v3"]),
                json!("seurat"),
                "HVG method (seurat_v3 works on counts)",
            ),
            ParamSpec::new(
                "n_top_genes",
                ParamType::optional(ParamType::positive()),
                json!(2000),
                "number of HVGs; null = use the cut-offs",
            ),
            float("min_mean", d.min_mean, "cut-off (without n_top_genes)"),
            float("max_mean", d.max_mean, "cut-off (without n_top_genes)"),
            float("min_disp", d.min_disp, "cut-off (without n_top_genes)"),
            ParamSpec::new("n_bins", ParamType::positive(), json!(d.n_bins), "mean bins for seurat"),
            ParamSpec::new("keep_targets", ParamType::Bool, json!(true), "keep perturbed genes even if not HVG"),
            ParamSpec::new(
                "n_controls",
                ParamType::optional(ParamType::count()),
                json!(null),
                "subsample: control cells to keep",
            ),
            ParamSpec::new(
                "max_per_perturbation",
                ParamType::optional(ParamType::count()),
                json!(null),
                "subsample: cells per perturbation",
            ),
            ParamSpec::new("min_cells", ParamType::count(), json!(0), "drop perturbations with fewer cells"),
            ParamSpec::new("seed", ParamType::count(), json!(0), "subsampling seed"),
        ]
    }
    /// [`BASE`](crate::engine::memory::BASE) plus 5.5× the inputs: a peak of 1491 MiB was measured
    /// for 331 MiB of inputs (README, "Memory").
    fn memory(&self, _params: &Params, inputs: &crate::engine::InputSizes) -> u64 {
        inputs.times(5.5)
    }
    fn run(&self, p: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let counts = SparseMatrix::from_table(&inputs.table("counts")?)?;
        let input = p.str("input")?;
        check_values(&counts, input)?;
        let cells = inputs.opt_table("cells")?;
        let targets = match &cells {
            Some(c) => {
                let t = cell_targets(c)?;
                if t.len() != counts.rows.len() {
                    return Err(NodeError::Input(format!(
                        "input `cells` has {} rows but `counts` has {} cells",
                        t.len(),
                        counts.rows.len()
                    )));
                }
                t
            }
            None => vec![Vec::new(); counts.rows.len()],
        };
        let keep_cells = subsample(
            &targets,
            p.opt_usize("n_controls")?.unwrap_or(usize::MAX),
            p.opt_usize("max_per_perturbation")?.unwrap_or(usize::MAX),
            p.usize("min_cells")?,
            p.seed("seed")?,
        );
        let x = counts.csr.select_rows(&keep_cells)?;
        // scanpy's filter_genes: genes seen in too few of the kept cells leave before HVG selection.
        let detected = x.col_nnz();
        let min_detected =
            p.usize("genes_min_cells")?.max((p.f64("genes_min_fraction")? * x.n_rows as f64).ceil() as usize);
        let passing: Vec<usize> = (0..x.n_cols).filter(|&j| detected[j] >= min_detected).collect();
        let mut x = if passing.len() == x.n_cols { x } else { x.select_cols(&passing)? };
        let flavor = match p.str("flavor")? {
            "cell_ranger" => Flavor::CellRanger,
            "seurat_v3" => Flavor::SeuratV3,
            _ => Flavor::Seurat,
        };
        if input == "log1p" && flavor == Flavor::SeuratV3 {
            return Err(NodeError::Input(
                "`flavor: seurat_v3` needs raw counts, but `input: log1p` says the data are log-normalised; use \
                 `flavor: seurat` or `cell_ranger`, or give the counts"
                    .into(),
            ));
        }
        let options = HvgOptions {
            min_mean: p.f64("min_mean")?,
            max_mean: p.f64("max_mean")?,
            min_disp: p.f64("min_disp")?,
            n_bins: p.usize("n_bins")?,
            ..HvgOptions::default()
        };
        let n_top = p.opt_usize("n_top_genes")?;
        let raw_hvg =
            if flavor == Flavor::SeuratV3 { Some(highly_variable_genes(&x, flavor, n_top, &options)?) } else { None };
        if input != "log1p" {
            normalize_total(&mut x, p.opt_f64("target_sum")?)?;
            if p.bool("log1p")? {
                log1p(&mut x)?;
            }
        }
        let hvg = match raw_hvg {
            Some(h) => h,
            None => highly_variable_genes(&x, flavor, n_top, &options)?,
        };
        let hvg = on_every_gene(hvg, &passing, counts.cols.len());
        let mut position = vec![None; counts.cols.len()];
        for (k, &j) in passing.iter().enumerate() {
            position[j] = Some(k);
        }
        let mut keep: HashSet<&str> = HashSet::new();
        if p.bool("keep_targets")? {
            keep.extend(keep_cells.iter().flat_map(|&i| targets[i].iter().map(String::as_str)));
        }
        let tf_names = match inputs.opt_table("tfs")? {
            Some(t) => names(&t)?,
            None => Vec::new(),
        };
        keep.extend(tf_names.iter().map(String::as_str));
        let kept: Vec<bool> = (0..counts.cols.len())
            .map(|j| position[j].is_some() && (hvg.highly_variable[j] || keep.contains(counts.cols[j].as_str())))
            .collect();
        let gene_idx: Vec<usize> = (0..kept.len()).filter(|&j| kept[j]).collect();
        let mut lost: Vec<&str> = (0..counts.cols.len())
            .filter(|&j| position[j].is_none() && keep.contains(counts.cols[j].as_str()))
            .map(|j| counts.cols[j].as_str())
            .collect();
        if !lost.is_empty() {
            lost.sort_unstable();
            ctx.note(format!(
                "{} perturbed gene(s) or TF(s) are detected in fewer than {min_detected} cells and left the gene set \
                 (`genes_min_cells`): {}",
                lost.len(),
                lost.join(", ")
            ));
        }
        let expression = SparseMatrix {
            rows: keep_cells.iter().map(|&i| counts.rows[i].clone()).collect(),
            cols: gene_idx.iter().map(|&j| counts.cols[j].clone()).collect(),
            csr: x.select_cols(&gene_idx.iter().filter_map(|&j| position[j]).collect::<Vec<_>>())?,
        };
        let genes = TableBuilder::new()
            .str("gene", counts.cols.clone())
            .bool("highly_variable", hvg.highly_variable)
            .f64("means", hvg.means)
            .f64("dispersions", hvg.dispersions)
            .f64("dispersions_norm", hvg.dispersions_norm)
            .i64("n_cells", detected.iter().map(|&d| d as i64).collect())
            .bool("kept", kept)
            .build()?;
        let cells_out = match cells {
            Some(c) => c.take(&keep_cells)?,
            None => TableBuilder::new().str("cell", expression.rows.clone()).build()?,
        };
        Ok(outputs([("expression", expression.to_table()?), ("genes", genes), ("cells", cells_out)]))
    }
}

/// Refuses values that `input` says cannot be there: negative values always, and (with `auto`)
/// non-integer ones, which mean the data were normalised already (scanpy's
/// `check_nonnegative_integers`); normalising and logging them again would shrink every effect.
fn check_values(counts: &SparseMatrix, input: &str) -> Result<(), NodeError> {
    let data = &counts.csr.data;
    let at = |pos: usize| {
        let row = counts.csr.indptr.partition_point(|&p| p <= pos as u64) - 1;
        (counts.rows[row].as_str(), counts.cols[counts.csr.indices[pos] as usize].as_str())
    };
    if let Some(pos) = data.iter().position(|&v| v < 0.0) {
        let (cell, gene) = at(pos);
        return Err(NodeError::Input(format!(
            "input `counts` has a negative value ({}) in cell `{cell}`, gene `{gene}`: scaled data cannot be \
             normalised; give raw counts (the `layer` of load that holds counts, e.g. `counts`, or `layer: raw`)",
            data[pos]
        )));
    }
    if input == "auto"
        && let Some(pos) = data.iter().position(|&v| v.fract() != 0.0)
    {
        let (cell, gene) = at(pos);
        return Err(NodeError::Input(format!(
            "input `counts` holds non-integer values (e.g. {} in cell `{cell}`, gene `{gene}`): it looks normalised \
             already, and normalising and logging it again would shrink every effect; give the raw counts (a \
             `layer` of load, e.g. `counts` or `raw`), or say what the values are: `input: log1p` for \
             log-normalised data, `input: counts` for non-integer counts to normalise anyway",
            data[pos]
        )));
    }
    Ok(())
}

/// HVG results of the genes that passed the detection filter (`passing`, indices into the `n`
/// input genes) spread back over every input gene: a filtered gene is not variable, its
/// statistics NaN.
fn on_every_gene(hvg: Hvg, passing: &[usize], n: usize) -> Hvg {
    let mut all = Hvg {
        highly_variable: vec![false; n],
        means: vec![f64::NAN; n],
        dispersions: vec![f64::NAN; n],
        dispersions_norm: vec![f64::NAN; n],
    };
    for (k, &j) in passing.iter().enumerate() {
        all.highly_variable[j] = hvg.highly_variable[k];
        all.means[j] = hvg.means[k];
        all.dispersions[j] = hvg.dispersions[k];
        all.dispersions_norm[j] = hvg.dispersions_norm[k];
    }
    all
}
