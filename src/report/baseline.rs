//! The `baseline-eval` section (Table 1): AECD ± S.E. on the held-out double perturbations per
//! model, beside the perfect and worst-case baselines, with the Wilcoxon p against gCRL-VAE.

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
        let rows: Vec<Vec<String>> = (0..model.len())
            .map(|i| {
                vec![model[i].clone(), format!("{} ± {}", number(aecd[i]), number(se[i])), number(p[i]), number(n[i])]
            })
            .collect();
        html.table(&format!("{id}-table"), &["model", "AECD ± S.E.", "p (Wilcoxon vs gcrl-vae)", "conditions"], &rows);
        let svg = bars(&aecd, &model, "AECD per model (lower is better)", "model", "AECD")?;
        html.figure(
            &format!("{id}-aecd"),
            &svg,
            "Average distance between predicted and observed centroids of the held-out doubles, in the order of the table.",
        );
        Ok(())
    }
}
