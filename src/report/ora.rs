//! The `ora` section: GO terms over-represented in each TF community's regulon.

use super::html::number;
use super::{Html, Outputs, ReportError, Section};

/// Terms shown per community.
const PER_COMMUNITY: usize = 10;

/// Tables of an `ora` node.
pub struct OraSection;

impl Section for OraSection {
    fn kind(&self) -> &'static str {
        "ora"
    }
    fn title(&self) -> &'static str {
        "GO over-representation per community"
    }
    fn ports(&self) -> &'static [&'static str] {
        &["enrichment"]
    }
    fn render(&self, id: &str, out: &Outputs<'_>, html: &mut Html) -> Result<(), ReportError> {
        let community = out.f64s("enrichment", "community")?;
        let (term, name) = (out.strs("enrichment", "term")?, out.strs("enrichment", "name")?);
        let (size, overlap) = (out.f64s("enrichment", "size")?, out.f64s("enrichment", "overlap")?);
        let (p, q) = (out.f64s("enrichment", "p")?, out.f64s("enrichment", "q")?);
        let background = out.bools("enrichment", "background")?;
        if community.is_empty() {
            html.para("No term passes the FDR threshold in any community.");
            return Ok(());
        }
        let mut order: Vec<usize> = (0..community.len()).collect();
        order.sort_by(|&a, &b| community[a].total_cmp(&community[b]).then(q[a].total_cmp(&q[b])));
        let mut rows = Vec::new();
        let mut shown = 0;
        for (k, &i) in order.iter().enumerate() {
            shown = if k > 0 && community[order[k - 1]] == community[i] { shown + 1 } else { 0 };
            if shown < PER_COMMUNITY {
                rows.push(vec![
                    number(community[i]),
                    term[i].clone(),
                    name[i].clone(),
                    format!("{}/{}", number(overlap[i]), number(size[i])),
                    number(p[i]),
                    number(q[i]),
                    if background[i] { "background".into() } else { String::new() },
                ]);
            }
        }
        html.para(&format!(
            "{} enriched terms; up to {PER_COMMUNITY} per community, smallest q first. \
             Background terms are enriched in at least the configured fraction of communities.",
            community.len()
        ));
        html.table(&format!("{id}-terms"), &["community", "term", "name", "overlap/size", "p", "q", ""], &rows);
        Ok(())
    }
}
