//! The `tmex-align` section (Figure 1b): correlations of the TF activities with the learned
//! latents Ẑ and with the aligned latents Z = ẐA, the best match of each activity ringed, and
//! the T-MEX scores.

use super::chart::heatmap;
use super::html::number;
use super::{Html, Outputs, ReportError, Section};

/// Figures of a `tmex-align` node.
pub struct TmexSection;

impl Section for TmexSection {
    fn kind(&self) -> &'static str {
        "tmex-align"
    }
    fn title(&self) -> &'static str {
        "Alignment of the latents with the TF activities (T-MEX)"
    }
    fn ports(&self) -> &'static [&'static str] {
        &["score", "correlations"]
    }
    fn render(&self, id: &str, out: &Outputs<'_>, html: &mut Html) -> Result<(), ReportError> {
        let (train, val, mcc) =
            (out.f64s("score", "tmex_train")?, out.f64s("score", "tmex_val")?, out.f64s("score", "mcc")?);
        let rows: Vec<Vec<String>> =
            (0..train.len()).map(|i| vec![number(train[i]), number(val[i]), number(mcc[i])]).collect();
        html.table(&format!("{id}-score"), &["T-MEX (training cells)", "T-MEX (validation cells)", "MCC"], &rows);
        let matrix = out.strs("correlations", "matrix")?;
        let (activity, latent) = (out.strs("correlations", "activity")?, out.strs("correlations", "latent")?);
        let (r, best) = (out.f64s("correlations", "r")?, out.bools("correlations", "best")?);
        for (which, title, caption) in [
            (
                "tfa_x_zhat",
                "TFA × Ẑ (learned latents)",
                "Pearson correlation of each TF activity with each learned latent.",
            ),
            ("tfa_x_z", "TFA × Z = ẐA (aligned)", "Pearson correlation of each TF activity with each aligned latent."),
        ] {
            let picked: Vec<usize> = (0..matrix.len()).filter(|&i| matrix[i] == which).collect();
            let mut rows_: Vec<String> = Vec::new();
            let mut cols: Vec<String> = Vec::new();
            for &i in &picked {
                if !rows_.contains(&activity[i]) {
                    rows_.push(activity[i].clone());
                }
                if !cols.contains(&latent[i]) {
                    cols.push(latent[i].clone());
                }
            }
            let mut values = vec![vec![0.0; cols.len()]; rows_.len()];
            let mut marked = Vec::new();
            for &i in &picked {
                let (a, l) = (
                    rows_.iter().position(|x| *x == activity[i]).unwrap_or_default(),
                    cols.iter().position(|x| *x == latent[i]).unwrap_or_default(),
                );
                values[a][l] = r[i];
                if best[i] {
                    marked.push((a, l));
                }
            }
            let svg = heatmap(&values, &rows_, &cols, &marked, title)?;
            html.figure(&format!("{id}-{which}"), &svg, &format!("{caption} The largest |r| of each row is ringed."));
        }
        Ok(())
    }
}
