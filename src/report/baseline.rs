//! The `baseline-eval` section (Table 1): per row (the perfect reference, the additive, mean,
//! best-single and linear baselines, the models, the worst-case reference) AECD ± S.E. on the
//! held-out double perturbations with the n behind every ±, the Wilcoxon p against the
//! reference model, the field's other metrics and each row's note.

use super::chart::bars;
use super::html::number;
use super::{Html, Outputs, ReportError, Section};

/// Table 1 of a `baseline-eval` node.
pub struct BaselineSection;

impl Section for BaselineSection {
    fn kind(&self) -> &'static str {
        "baseline-eval"
    }
    fn title(&self) -> &'static str {
        "Held-out double perturbations (Table 1)"
    }
    fn ports(&self) -> &'static [&'static str] {
        &["table"]
    }
    fn render(&self, id: &str, out: &Outputs<'_>, html: &mut Html) -> Result<(), ReportError> {
        let model = out.strs("table", "model")?;
        let (aecd, se) = (out.f64s("table", "aecd")?, out.f64s("table", "se")?);
        let (p, n) = (out.f64s("table", "p_value")?, out.f64s("table", "n_conditions")?);
        let seeds = out.f64s("table", "n_seeds")?;
        let metric = |c: &str| out.f64s("table", c);
        let (r, r20, mse, e) =
            (metric("pearson_delta")?, metric("pearson_delta_top20")?, metric("mse_top20")?, metric("edistance")?);
        let (sd, singles, gap) = (metric("seed_sd")?, metric("singles_error")?, metric("additivity_gap")?);
        let note = out.strs("table", "note")?;
        let rows: Vec<Vec<String>> = (0..model.len())
            .map(|i| {
                vec![
                    model[i].clone(),
                    format!("{} ± {}", number(aecd[i]), number(se[i])),
                    format!("{} × {}", number(n[i]), number(seeds[i])),
                    number(sd[i]),
                    number(p[i]),
                    number(r[i]),
                    number(r20[i]),
                    number(mse[i]),
                    number(e[i]),
                    number(singles[i]),
                    number(gap[i]),
                    note[i].clone(),
                ]
            })
            .collect();
        html.table(
            &format!("{id}-table"),
            &[
                "model",
                "AECD ± S.E.",
                "n (conditions × seeds)",
                "sd across seeds",
                "p (Wilcoxon vs reference)",
                "Pearson Δ",
                "Pearson Δ top-20 DE",
                "MSE top-20 DE",
                "E-distance",
                "singles error (in sample)",
                "additivity gap",
                "note",
            ],
            &rows,
        );
        html.para(
            "AECD is the mean over held-out doubles of the seed-averaged centroid distance; S.E. = sd / √n over the \
             n conditions (ddof 1). The p-value is a paired two-sided Wilcoxon over conditions of the seed-averaged \
             distances; every pair of rows is tested in the `pairs` output. Pearson Δ correlates predicted and \
             observed change against control (all genes; the 20 genes of largest |Welch t| against control). The \
             E-distance (scPerturb, squared Euclidean, on principal components) scores each prediction as the same \
             control cells shifted by its predicted change.",
        );
        let svg = bars(&aecd, &model, "AECD per model (lower is better)", "model", "AECD")?;
        html.figure(
            &format!("{id}-aecd"),
            &svg,
            "Average distance between predicted and observed centroids of the held-out doubles, in the order of the table.",
        );
        Ok(())
    }
}
