//! The `grn` section (S1/S2 a): the histogram of ln|coef| of the kept edges with the two
//! Gaussian components and the boundary that splits weak from strong, and the GRN's counts.

use super::chart::{Component, histogram_with_components};
use super::{Html, Outputs, ReportError, Section};

/// Figures of a `grn` node.
pub struct GrnSection;

impl Section for GrnSection {
    fn kind(&self) -> &'static str {
        "grn"
    }
    fn title(&self) -> &'static str {
        "gene regulatory network"
    }
    fn ports(&self) -> &'static [&'static str] {
        &["edges", "gmm", "summary"]
    }
    fn render(&self, id: &str, out: &Outputs<'_>, html: &mut Html) -> Result<(), ReportError> {
        let log_coef: Vec<f64> = out.f64s("edges", "coef_abs")?.into_iter().map(f64::ln).collect();
        let strong = out.bools("edges", "strong")?.iter().filter(|&&s| s).count();
        let (names, weights) = (out.strs("gmm", "component")?, out.f64s("gmm", "weight")?);
        let (means, sds) = (out.f64s("gmm", "mean")?, out.f64s("gmm", "sd")?);
        let components: Vec<Component> = (0..names.len())
            .map(|i| Component { label: names[i].clone(), weight: weights[i], mean: means[i], sd: sds[i] })
            .collect();
        let boundary = out.f64s("gmm", "boundary")?.first().copied();
        let svg = histogram_with_components(&log_coef, &components, boundary, "ln|coef| of kept edges", "ln|coef|")?;
        let caption = format!(
            "{} edges kept at the FDR threshold, {strong} strong (right of the boundary). Curves: the two \
             components of the Gaussian mixture on ln|coef|, scaled to counts.",
            log_coef.len()
        );
        html.figure(&format!("{id}-coef"), &svg, &caption);
        let (header, rows) = out.cells("summary", 1)?;
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        html.table(&format!("{id}-summary"), &header, &rows);
        Ok(())
    }
}
