//! The `permutation-test` section (Figure 1c): T-MEX of the true communities against the
//! size-preserving permutations, all scored on the same autoencoder runs; the permutation p and
//! effect size, and the paper's t-test labelled as what it measures (technical reproducibility).

use std::collections::BTreeMap;

use super::chart::null_and_truth;
use super::html::number;
use super::{Html, Outputs, ReportError, Section};

/// Figures of a `permutation-test` node.
pub struct PermutationSection;

impl Section for PermutationSection {
    fn kind(&self) -> &'static str {
        "permutation-test"
    }
    fn title(&self) -> &'static str {
        "True vs permuted communities (T-MEX)"
    }
    fn ports(&self) -> &'static [&'static str] {
        &["values", "summary"]
    }
    fn render(&self, id: &str, out: &Outputs<'_>, html: &mut Html) -> Result<(), ReportError> {
        let first = |c: &str| -> Result<String, ReportError> {
            Ok(out.f64s("summary", c)?.first().copied().map(number).unwrap_or_default())
        };
        let header = [
            "true mean",
            "true SD (runs)",
            "null mean",
            "null SD",
            "effect size (95 % CI)",
            "p (permutation)",
            "p_t (technical reproducibility)",
        ];
        let effect = format!("{} ({} – {})", first("effect_size")?, first("effect_ci_low")?, first("effect_ci_high")?);
        let row = vec![
            first("true_mean")?,
            first("true_sd")?,
            first("null_mean")?,
            first("null_sd")?,
            effect,
            first("p_perm")?,
            first("p_t")?,
        ];
        html.table(&format!("{id}-summary"), &header, &[row]);
        let (arm, permutation, val) =
            (out.strs("values", "arm")?, out.f64s("values", "permutation")?, out.f64s("values", "tmex_val")?);
        let mut null: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        let mut truth = Vec::new();
        for i in 0..arm.len() {
            if arm[i] == "true" {
                truth.push(val[i]);
            } else {
                null.entry(permutation[i] as i64).or_default().push(val[i]);
            }
        }
        let null: Vec<f64> = null.values().map(|v| v.iter().sum::<f64>() / v.len() as f64).collect();
        let true_mean = truth.iter().sum::<f64>() / truth.len().max(1) as f64;
        let arm = format!("true communities, per run ({} runs; height rescaled)", truth.len());
        let svg = null_and_truth(
            &null,
            Some((&truth, &arm)),
            (!truth.is_empty()).then_some((true_mean, "true mean")),
            "T-MEX: true vs permuted communities",
            "T-MEX (validation cells)",
        )?;
        html.figure(
            &format!("{id}-null"),
            &svg,
            &format!(
                "Blue: validation T-MEX of {} size-preserving permutations of the TF → community labels, each the \
                 mean over the same {} autoencoder runs. Red: the true communities on each run (technical \
                 variability). p = (1 + #permutations ≥ true mean) / (1 + permutations); the effect size is \
                 (true mean − null mean) / null SD, its interval a bootstrap over runs and permutations. p_t is the \
                 paper's one-sample t-test of the runs against the null mean: it measures how reproducible the true \
                 score is across seeds, not whether it beats the permutations.",
                null.len(),
                truth.len()
            ),
        );
        Ok(())
    }
}
