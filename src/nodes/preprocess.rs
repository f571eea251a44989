//! `preprocess`: subsample, normalize_total, log1p, highly variable genes (scanpy semantics),
//! keeping perturbed targets and listed TFs in the gene set.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde_json::json;

use super::common::{cell_targets, names, outputs};
use super::declare::{kind_params, ports};
use rayon::prelude::*;

use crate::algo::buffer;
use crate::algo::preprocess::{Flavor, Hvg, HvgOptions, Prepared, Steps, prepare, subsample};
use crate::algo::sparse::Rows;
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{BATCH_ROWS, BlockWriter, SparseRows, Spill, Table, TableBuilder, sparse_genes, sparsified};

/// The `preprocess` kind.
pub struct Preprocess;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "preprocess",
    version: 2,
    doc: "subsample cells, normalize_total, log1p and select highly variable genes as scanpy does",
    inputs: ports![
        counts: "cells × genes raw counts (sparse or dense table)",
        cells?: "cell table with `targets` (for subsampling and keeping targets)",
        tfs?: "TF names to keep in the gene set",
    ],
    outputs: ports![
        expression: "cells × selected genes, log-normalised (sparse)",
        genes: "gene, highly_variable, means, dispersions, dispersions_norm, kept",
        cells: "the kept rows of the cell table",
    ],
    params: PreprocessParams::specs(),
});

/// A seurat HVG cut-off, used without `n_top_genes`.
fn cut_off(name: &'static str, default: f64) -> ParamSpec {
    ParamSpec::new(name, ParamType::Float { min: None, max: None }, json!(default), "cut-off (without n_top_genes)")
}

kind_params! {
    /// Params of `preprocess` (HVG defaults: [`HvgOptions::default`]).
    pub struct PreprocessParams {
        input: String = ParamSpec::new(
            ParamType::Choice(&["auto", "counts", "log1p"]),
            json!("auto"),
            "what `counts` holds: auto = raw counts, refusing non-integer values (already normalised data); \
             counts = normalise whatever the values (e.g. ambient-corrected counts); log1p = already \
             log-normalised (GEARS, CPA, scgen files): no normalize_total or log1p, HVGs on the values as given",
        ),
        genes_min_cells: usize = ParamSpec::new(
            ParamType::count(),
            json!(0),
            "drop genes detected (non-zero) in fewer cells than this, as scanpy's filter_genes(min_cells)",
        ),
        genes_min_fraction: f64 = ParamSpec::new(
            ParamType::fraction(),
            json!(0.0),
            "drop genes detected in a smaller fraction of the cells than this",
        ),
        target_sum: Option<f64> = ParamSpec::new(
            ParamType::optional(ParamType::non_negative()),
            json!(1e4),
            "total per cell after scaling; null = median",
        ),
        log1p: bool = ParamSpec::new(ParamType::Bool, json!(true), "apply ln(1 + x)"),
        flavor: String = ParamSpec::new(
            ParamType::Choice(&["seurat", "cell_ranger", "seurat_v3"]),
            json!("seurat"),
            "HVG method (seurat_v3 works on counts)",
        ),
        n_top_genes: Option<usize> = ParamSpec::new(
            ParamType::optional(ParamType::positive()),
            json!(2000),
            "number of HVGs; null = use the cut-offs",
        ),
        min_mean: f64 = cut_off(HvgOptions::default().min_mean),
        max_mean: f64 = cut_off(HvgOptions::default().max_mean),
        min_disp: f64 = cut_off(HvgOptions::default().min_disp),
        n_bins: usize = ParamSpec::new(
            ParamType::positive(),
            json!(HvgOptions::default().n_bins),
            "mean bins for seurat",
        ),
        keep_targets: bool = ParamSpec::new(ParamType::Bool, json!(true), "keep perturbed genes even if not HVG"),
        n_controls: Option<usize> = ParamSpec::new(
            ParamType::optional(ParamType::count()),
            json!(null),
            "subsample: control cells to keep",
        ),
        max_per_perturbation: Option<usize> = ParamSpec::new(
            ParamType::optional(ParamType::count()),
            json!(null),
            "subsample: cells per perturbation",
        ),
        min_cells: usize = ParamSpec::new(ParamType::count(), json!(0), "drop perturbations with fewer cells"),
        seed: u64 = ParamSpec::new(ParamType::count(), json!(0), "subsampling seed"),
    }
}

impl NodeKind for Preprocess {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    /// The counts are read in place a batch at a time and the output made a batch at a time, so
    /// memory follows the largest batch, not the matrix: a base plus 4 batches, 64 bytes a
    /// cell and 3× the other inputs ([`InputSizes::streamed`](crate::kind::InputSizes::streamed)),
    /// or 2.25× the inputs if less (a peak of 610 MiB was measured for 331 MiB of inputs;
    /// README, "Memory").
    fn memory(&self, _params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        let whole = inputs.times(2.25);
        inputs.streamed("counts", 4, 64, 3.0).map_or(whole, |s| s.min(whole))
    }
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = PreprocessParams::decode(params)?;
        let table = inputs.table("counts")?;
        // A dense table (as `gcrl export` writes) is made sparse first; a sparse one is read in place.
        let table = sparsified(table)?;
        let genes = sparse_genes(&table)?;
        let all = SparseRows::new(&table)?;
        let input = p.input.as_str();
        check_values(&all, &genes, input)?;
        let cells = inputs.opt_table("cells")?;
        let targets = match &cells {
            Some(c) => {
                let t = cell_targets(c)?;
                if t.len() != all.len() {
                    return Err(NodeError::Input(format!(
                        "input `cells` has {} rows but `counts` has {} cells",
                        t.len(),
                        all.len()
                    )));
                }
                t
            }
            None => vec![Vec::new(); all.len()],
        };
        let keep_cells = subsample(
            &targets,
            p.n_controls.unwrap_or(usize::MAX),
            p.max_per_perturbation.unwrap_or(usize::MAX),
            p.min_cells,
            p.seed,
        );
        let x = all.select(&keep_cells);
        let flavor = match p.flavor.as_str() {
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
        // scanpy's filter_genes: genes seen in too few of the kept cells leave before HVG selection.
        let min_detected = p.genes_min_cells.max((p.genes_min_fraction * x.len() as f64).ceil() as usize);
        let steps = Steps {
            min_detected,
            normalise: (input != "log1p").then_some(p.target_sum),
            log1p: p.log1p,
            flavor,
            n_top_genes: p.n_top_genes,
            options: HvgOptions {
                min_mean: p.min_mean,
                max_mean: p.max_mean,
                min_disp: p.min_disp,
                n_bins: p.n_bins,
                ..HvgOptions::default()
            },
        };
        let prepared = prepare(&x, &steps)?;
        let hvg = on_every_gene(prepared.hvg.clone(), &prepared.passing, genes.len());
        let mut passes = vec![false; genes.len()];
        prepared.passing.iter().for_each(|&j| passes[j] = true);
        let mut keep: HashSet<&str> = HashSet::new();
        if p.keep_targets {
            keep.extend(keep_cells.iter().flat_map(|&i| targets[i].iter().map(String::as_str)));
        }
        let tf_names = match inputs.opt_table("tfs")? {
            Some(t) => names(&t)?,
            None => Vec::new(),
        };
        keep.extend(tf_names.iter().map(String::as_str));
        let kept: Vec<bool> = (0..genes.len())
            .map(|j| passes[j] && (hvg.highly_variable[j] || keep.contains(genes[j].as_str())))
            .collect();
        let mut lost: Vec<&str> = (0..genes.len())
            .filter(|&j| !passes[j] && keep.contains(genes[j].as_str()))
            .map(|j| genes[j].as_str())
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
        let gene_idx: Vec<usize> = (0..kept.len()).filter(|&j| kept[j]).collect();
        let expression = normalised(&x, &prepared, &gene_idx, &genes, ctx.spill())?;
        let genes_out = TableBuilder::new()
            .str("gene", genes.clone())
            .bool("highly_variable", hvg.highly_variable)
            .f64("means", hvg.means)
            .f64("dispersions", hvg.dispersions)
            .f64("dispersions_norm", hvg.dispersions_norm)
            .i64("n_cells", prepared.detected.iter().map(|&d| d as i64).collect())
            .bool("kept", kept)
            .build()?;
        let cells_out = match cells {
            Some(c) => c.take(&keep_cells)?,
            None => TableBuilder::new().str("cell", (0..x.len()).map(|i| x.name(i).to_string()).collect()).build()?,
        };
        Ok(outputs([("expression", expression), ("genes", genes_out), ("cells", cells_out)]))
    }
}

/// The output matrix: the rows of `x` normalised as `prepared` says, over the input genes
/// `gene_idx` (increasing, all passing), made a batch at a time (pieces of it on every thread)
/// and written in row order, so only the batch being made and the one being written are in
/// memory; the rest spills.
fn normalised(
    x: &SparseRows,
    prepared: &Prepared,
    gene_idx: &[usize],
    genes: &[String],
    spill: Option<Spill>,
) -> Result<Table, NodeError> {
    /// Rows per piece: enough work per rayon task, and pieces enough to keep every thread busy.
    const PIECE: usize = 2048;
    let mut out = vec![None; prepared.passing.len()];
    let mut position = vec![None; genes.len()];
    prepared.passing.iter().enumerate().for_each(|(k, &j)| position[j] = Some(k));
    for (o, &j) in gene_idx.iter().enumerate() {
        let k = position[j].ok_or_else(|| NodeError::Internal(format!("kept gene {} did not pass", genes[j])))?;
        out[k] = Some(o as u32);
    }
    let out = prepared.output_genes(&out);
    let names: Vec<String> = gene_idx.iter().map(|&j| genes[j].clone()).collect();
    let mut writer = BlockWriter::for_genes(&names, spill);
    for r0 in (0..x.len().max(1)).step_by(BATCH_ROWS) {
        let rows = r0..(r0 + BATCH_ROWS).min(x.len());
        // The lengths first, so that each piece of rows is made straight into its place.
        let lens: Vec<usize> =
            rows.clone().into_par_iter().with_min_len(PIECE).map(|i| prepared.row_len(x, i, &out)).collect();
        let mut indptr = Vec::with_capacity(lens.len() + 1);
        indptr.push(0u64);
        indptr.extend(lens.iter().scan(0u64, |end, &n| {
            *end += n as u64;
            Some(*end)
        }));
        let nnz = indptr.last().map_or(0, |&n| n as usize);
        let (mut idx, mut val) = (buffer::zeroed::<u32>(nnz), buffer::zeroed::<f32>(nnz));
        let mut pieces = Vec::new();
        let (mut idx_rest, mut val_rest) = (idx.as_mut_slice(), val.as_mut_slice());
        for p0 in rows.clone().step_by(PIECE) {
            let p1 = (p0 + PIECE).min(rows.end);
            let n = (indptr[p1 - r0] - indptr[p0 - r0]) as usize;
            let (i_here, i_tail) = std::mem::take(&mut idx_rest).split_at_mut(n);
            let (v_here, v_tail) = std::mem::take(&mut val_rest).split_at_mut(n);
            (idx_rest, val_rest) = (i_tail, v_tail);
            pieces.push((p0..p1, i_here, v_here));
        }
        pieces.into_par_iter().for_each(|(piece, idx, val)| {
            let (mut at, base) = (0, indptr[piece.start - r0] as usize);
            for i in piece {
                let end = indptr[i - r0 + 1] as usize - base;
                prepared.write_row(x, i, &out, &mut idx[at..end], &mut val[at..end]);
                at = end;
            }
        });
        writer.push(rows.map(|i| x.name(i).to_string()).collect(), &indptr, idx, val)?;
    }
    Ok(writer.finish()?)
}

/// Refuses values that `input` says cannot be there: negative values always, and (with `auto`)
/// non-integer ones, which mean the data were normalised already (scanpy's
/// `check_nonnegative_integers`); normalising and logging them again would shrink every effect.
/// The first offending value in storage order is named.
fn check_values(counts: &SparseRows, genes: &[String], input: &str) -> Result<(), NodeError> {
    let integers = input == "auto";
    let found = match first_where(counts, genes, |v| v < 0.0 || (integers && !is_integer(v))) {
        // A negative value anywhere is the first thing to say.
        Some(f) if f.0 >= 0.0 => first_where(counts, genes, |v| v < 0.0).or(Some(f)),
        other => other,
    };
    match found {
        Some((v, cell, gene)) if v < 0.0 => Err(NodeError::Input(format!(
            "input `counts` has a negative value ({v}) in cell `{cell}`, gene `{gene}`: scaled data cannot be \
             normalised; give raw counts (the `layer` of load that holds counts, e.g. `counts`, or `layer: raw`)"
        ))),
        Some((v, cell, gene)) => Err(NodeError::Input(format!(
            "input `counts` holds non-integer values (e.g. {v} in cell `{cell}`, gene `{gene}`): it looks normalised \
             already, and normalising and logging it again would shrink every effect; give the raw counts (a \
             `layer` of load, e.g. `counts` or `raw`), or say what the values are: `input: log1p` for \
             log-normalised data, `input: counts` for non-integer counts to normalise anyway"
        ))),
        None => Ok(()),
    }
}

/// Whether `v` is a whole number (±∞ count as whole, NaN does not), as `v.trunc() == v` says,
/// in arithmetic the compiler vectorises (`trunc` is a libm call on x86-64 without SSE4.1): a
/// magnitude under 2²³ is rounded to an integer by adding and subtracting 2²³; every `f32` from
/// 2²³ up is whole.
#[inline(always)]
fn is_integer(v: f32) -> bool {
    const TWO_23: f32 = 8_388_608.0;
    let a = v.abs();
    a >= TWO_23 || (a + TWO_23) - TWO_23 == a
}

/// The first value (in storage order) for which `bad` holds, with its cell and gene. Each row is
/// tested in one vectorised pass; only a row that fails is searched.
fn first_where<'a>(
    counts: &'a SparseRows,
    genes: &'a [String],
    bad: impl Fn(f32) -> bool + Sync,
) -> Option<(f32, &'a str, &'a str)> {
    (0..counts.len()).into_par_iter().with_min_len(1024).find_map_first(|i| {
        let (cols, values) = counts.row(i);
        if !values.iter().fold(false, |any, &v| any | bad(v)) {
            return None;
        }
        values.iter().position(|&v| bad(v)).map(|k| (values[k], counts.name(i), genes[cols[k] as usize].as_str()))
    })
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

#[cfg(test)]
mod tests {
    use super::is_integer;

    #[test]
    fn is_integer_says_what_trunc_says_for_every_kind_of_f32() {
        let special = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, 1e-45, 8_388_607.5, 8_388_608.0, 16_777_217.0, 3e38];
        let edges = special.into_iter().chain([f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MAX, f32::MIN]);
        // Every 9,973rd bit pattern: all exponents, signs and fractions.
        let spread = (0..=u32::MAX).step_by(9973).map(f32::from_bits);
        let near = (0..200_000).map(|i| i as f32 * 0.25);
        for v in edges.chain(spread).chain(near) {
            assert_eq!(is_integer(v), v.trunc() == v, "{v:e} ({:#x})", v.to_bits());
        }
    }
}
