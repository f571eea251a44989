//! The `leiden-sweep` section (S1/S2 b–d): stability (ARI, VI, ARI/VI) per resolution, cohesion
//! of the consensus communities against their permutation null, and the TF–TF network grouped by
//! community.

use std::collections::HashMap;

use super::chart::{bars, grouped_network, lines, null_and_truth};
use super::html::number;
use super::{Html, Outputs, ReportError, Section};

/// Figures of a `leiden-sweep` node.
pub struct LeidenSection;

impl Section for LeidenSection {
    fn kind(&self) -> &'static str {
        "leiden-sweep"
    }
    fn title(&self) -> &'static str {
        "TF communities"
    }
    fn ports(&self) -> &'static [&'static str] {
        &["stability", "cohesion", "cohesion_mean", "cohesion_null", "tf_graph", "consensus"]
    }
    fn render(&self, id: &str, out: &Outputs<'_>, html: &mut Html) -> Result<(), ReportError> {
        let gamma = out.f64s("stability", "resolution")?;
        let (ari, vi) = (out.f64s("stability", "ari")?, out.f64s("stability", "vi")?);
        let ratio = out.f64s("stability", "ari_over_vi")?;
        let selected = out.bools("stability", "selected")?;
        let chosen = gamma.iter().zip(&selected).find(|(_, s)| **s).map(|(g, _)| *g);
        let svg = lines(&gamma, &[("ARI", ari), ("VI", vi)], chosen, "stability across seeds", "resolution γ", "")?;
        let at = chosen.map(|g| format!("; the selected resolution is γ = {g}")).unwrap_or_default();
        html.figure(&format!("{id}-stability"), &svg, &format!("Mean ARI and VI between random pairs of runs{at}."));
        let infinite = ratio.iter().filter(|r| r.is_infinite()).count();
        let svg = lines(&gamma, &[("ARI/VI", ratio)], chosen, "ARI/VI (the selection score)", "resolution γ", "")?;
        let note = if infinite > 0 {
            format!(" {infinite} resolutions with VI = 0 (identical runs) are off the scale.")
        } else {
            String::new()
        };
        html.figure(&format!("{id}-ari-vi"), &svg, &format!("ARI/VI per resolution.{note}"));

        let community = out.f64s("cohesion", "community")?;
        let (size, cohesion, p) =
            (out.f64s("cohesion", "size")?, out.f64s("cohesion", "ratio")?, out.f64s("cohesion", "p_value")?);
        let notes: Vec<String> = p.iter().map(|p| format!("p={}", number(*p))).collect();
        let svg = bars(
            &cohesion,
            &notes,
            "cohesion of the consensus communities",
            "community",
            "w_internal / (w_internal + w_boundary)",
        )?;
        html.figure(
            &format!("{id}-cohesion"),
            &svg,
            "Observed cohesion (internal over boundary weight) per community; p is the fraction of \
             size-preserving random TF sets at least as cohesive (the permutation null).",
        );
        let rows: Vec<Vec<String>> = (0..community.len())
            .map(|i| vec![number(community[i]), number(size[i]), number(cohesion[i]), number(p[i])])
            .collect();
        html.table(&format!("{id}-cohesion-table"), &["community", "TFs", "cohesion", "p (permutation)"], &rows);

        let observed = out.f64s("cohesion_mean", "mean_ratio")?.first().copied().unwrap_or(f64::NAN);
        let p_mean = out.f64s("cohesion_mean", "p_value")?.first().copied().unwrap_or(f64::NAN);
        let null = out.f64s("cohesion_null", "mean_ratio")?;
        let svg = null_and_truth(
            &null,
            None,
            Some((observed, "observed mean")),
            "mean cohesion: consensus vs size-preserving permutations",
            "mean w_internal / (w_internal + w_boundary) over communities",
        )?;
        html.figure(
            &format!("{id}-cohesion-null"),
            &svg,
            &format!(
                "The paper's cohesion test (Figure S1c): the mean cohesion over the consensus communities against \
                 {} size-preserving reassignments of TFs to communities; p = {}.",
                null.len(),
                number(p_mean)
            ),
        );

        let (tfs, labels) = (out.strs("consensus", "tf")?, out.f64s("consensus", "community")?);
        let index: HashMap<&str, usize> = tfs.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
        let (src, dst, w) =
            (out.strs("tf_graph", "source")?, out.strs("tf_graph", "target")?, out.f64s("tf_graph", "weight")?);
        let edges: Vec<(usize, usize, f64)> = (0..src.len())
            .filter_map(|i| Some((*index.get(src[i].as_str())?, *index.get(dst[i].as_str())?, w[i])))
            .collect();
        let groups: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let svg = grouped_network(&tfs, &groups, &edges, "TF–TF network by consensus community")?;
        html.figure(
            &format!("{id}-network"),
            &svg,
            &format!("{} TFs and {} TF–TF edges; line opacity follows |weight|.", tfs.len(), edges.len()),
        );
        Ok(())
    }
}
