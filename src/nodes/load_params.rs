//! The params of `load`, one typed struct (its own file: `load` and `load_read` both read it).

use serde_json::json;

use super::declare::kind_params;
use crate::kind::{ParamSpec, ParamType};

kind_params! {
    /// Params of `load`.
    pub struct LoadParams {
        layer: Option<String> = ParamSpec::new(
            ParamType::optional(ParamType::Str),
            json!(null),
            "h5ad/h5mu layer to read instead of X; `raw` reads raw/X (with raw/var)",
        ),
        perturbation_column: Option<String> = ParamSpec::new(
            ParamType::optional(ParamType::Str),
            json!(null),
            "obs column with the perturbation label (default: the first of target, targets, target_gene, gene, \
             guide_target, target_top, perturbed_genes, condition, perturbation, guide_ids, guide_identity)",
        ),
        separator: Vec<String> = ParamSpec::new(
            ParamType::StrList,
            json!(["+", ","]),
            "strings that separate the targets of one cell (`_` is a guide suffix unless named here)",
        ),
        control_label: Option<String> = ParamSpec::new(
            ParamType::optional(ParamType::Str),
            json!(null),
            "label(s) of control cells, comma-separated (besides ctrl, control, non-targeting, NTC, \
             safe-targeting, …; case, `-` and `_` ignored)",
        ),
        unassigned: String = ParamSpec::new(
            ParamType::Choice(&["drop", "control"]),
            json!("drop"),
            "cells whose label is missing, empty or NA (no guide call): dropped and counted, or controls",
        ),
        all_controls: bool = ParamSpec::new(
            ParamType::Bool,
            json!(false),
            "the file is not a screen: no perturbation column, every cell is a control",
        ),
        var_names: Option<String> = ParamSpec::new(
            ParamType::optional(ParamType::Str),
            json!(null),
            "var column to use as gene names (e.g. gene_symbols)",
        ),
        filter: Vec<String> = ParamSpec::new(
            ParamType::StrList,
            json!([]),
            "keep cells where every `column op value` holds (op: == != >= <= > <)",
        ),
        transpose: Option<bool> = ParamSpec::new(
            ParamType::optional(ParamType::Bool),
            json!(null),
            "text tables: true if the file is genes × cells; mtx: true if rows are cells (Parse), false if \
             genes (10x); unset: from the features/barcodes lengths",
        ),
        modality: Option<String> = ParamSpec::new(
            ParamType::optional(ParamType::Str),
            json!(null),
            "h5mu: the modality to read (needed when there are several)",
        ),
        genome: Option<String> = ParamSpec::new(
            ParamType::optional(ParamType::Str),
            json!(null),
            "10x h5: keep this genome's features (needed for a Cell Ranger 2 file with several)",
        ),
        guide_umi_threshold: f64 = ParamSpec::new(
            ParamType::positive(),
            json!(3),
            "10x h5 with CRISPR Guide Capture: call a guide in a cell from this many UMIs (Cell Ranger's \
             min-crispr-umi floor; its per-guide mixture is not applied)",
        ),
        max_targets: usize = ParamSpec::new(ParamType::positive(), json!(2), "drop cells with more targets than this"),
    }
}
