//! The `permutation-test` section (Figure 1c): T-MEX of the true communities against the
//! size-preserving permutations, with the t-test and the permutation p.

use std::collections::BTreeMap;

use super::chart::histogram_with_components;
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
        let columns = ["true_mean", "true_sd", "null_mean", "null_sd", "t", "p_t", "p_empirical"];
        let mut row = Vec::new();
        for c in columns {
            row.push(out.f64s("summary", c)?.first().copied().map(number).unwrap_or_default());
        }
        html.table(&format!("{id}-summary"), &columns, &[row]);
        let (arm, index, val) =
            (out.strs("values", "arm")?, out.f64s("values", "index")?, out.f64s("values", "tmex_val")?);
        let mut null: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        let mut truth = Vec::new();
        for i in 0..arm.len() {
            if arm[i] == "true" {
                truth.push(val[i]);
            } else {
                null.entry(index[i] as i64).or_default().push(val[i]);
            }
        }
        let null: Vec<f64> = null.values().map(|v| v.iter().sum::<f64>() / v.len() as f64).collect();
        let true_mean = (!truth.is_empty()).then(|| truth.iter().sum::<f64>() / truth.len() as f64);
        let svg =
            histogram_with_components(&null, &[], true_mean, "T-MEX of permuted communities", "T-MEX (validation)")?;
        html.figure(
            &format!("{id}-null"),
            &svg,
            &format!(
                "Validation T-MEX of {} size-preserving permutations (mean over repeats); the line is the mean of {} \
                 runs with the true communities.",
                null.len(),
                truth.len()
            ),
        );
        Ok(())
    }
}
