//! Perturbation labels: every public convention to one canonical set of targets per cell.
//!
//! Norman 2019 writes `KLF1`, `KLF1,MAP2K6` (CPA `guide_ids`) or `ctrl`, `KLF1+ctrl`,
//! `ctrl+KLF1`, `KLF1+MAP2K6` (GEARS `condition`); Papalexi writes `non-targeting`; guide-level
//! columns write `ZAP70_1`, `TP53_sg_172` or `NonTargeting_sg_179`. All become a sorted,
//! de-duplicated list of target genes: empty for a control, one name for a single, two for a double.
//!
//! Nothing is guessed silently. Only `+` and `,` separate targets unless the caller names others
//! (`_` is a guide suffix far more often than a separator); a missing, empty or `NA` label is
//! [`Label::Unassigned`], not a control; a guide suffix is stripped only when what is left is a gene
//! of the matrix or a control; and a label that joins genes of the matrix with a character that is
//! not a separator (`KLF1_MAP2K6`) is an error ([`LabelError::JoinedGenes`]), since it is either a
//! double or a guide name the rules cannot tell apart.

use std::collections::HashSet;

/// Control labels recognised in every screen. They are compared after [`normalise_control`]
/// (lower case, without `-`, `_`, `.` and spaces), so `Non-Targeting`, `NonTargeting` and
/// `non_targeting` are all `nontargeting`.
pub const DEFAULT_CONTROLS: &[&str] = &[
    "ctrl",
    "control",
    "nontargeting",
    "nontarget",
    "nt",
    "ntc",
    "negctrl",
    "negativecontrol",
    "safetargeting",
    "scrambled",
];

/// Labels that mean "no guide was assigned to this cell" (compared case-insensitively).
pub const UNASSIGNED_LABELS: &[&str] = &["", "nan", "na", "n/a", "<na>", "none", "null", "unassigned"];

/// Characters after which a guide suffix may start (`ZAP70_1`, `TP53-2`, `GATA1.g3`).
const SUFFIX_STARTS: &[char] = &['_', '-', '.'];

/// A control label in its compared form: lower case without `-`, `_`, `.` or spaces.
pub fn normalise_control(label: &str) -> String {
    label.chars().filter(|c| !matches!(c, '-' | '_' | '.' | ' ')).flat_map(char::to_lowercase).collect()
}

/// What one label says about its cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    /// No guide call: missing, empty or `NA`.
    Unassigned,
    /// An explicit control (non-targeting, safe-targeting, `ctrl`, …).
    Control,
    /// The sorted, distinct target genes.
    Targets(Vec<String>),
}

/// A label the rules refuse to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The label joins genes of the matrix with a character that is not a separator.
    #[error(
        "label `{label}` joins genes of the matrix ({genes}) with `{joiner}`, which is not a separator here; \
         if `{joiner}` separates targets, add it to `separator` (e.g. `separator: [\"+\", \"{joiner}\"]`)"
    )]
    JoinedGenes {
        /// The label.
        label: String,
        /// The character between the genes.
        joiner: char,
        /// The genes found, comma-separated.
        genes: String,
    },
}

/// How labels are read.
#[derive(Debug, Clone)]
pub struct LabelRules<'a> {
    /// Strings that separate targets of one cell (default `+` and `,`).
    pub separators: Vec<String>,
    /// Control labels in [`normalise_control`] form.
    pub controls: HashSet<String>,
    /// The genes of the matrix; a guide suffix is stripped only down to one of them (or to a
    /// control). Empty: no suffix is ever stripped.
    pub genes: &'a HashSet<String>,
}

impl<'a> LabelRules<'a> {
    /// The default separators (`+`, `,`) and controls ([`DEFAULT_CONTROLS`] plus `extra_controls`).
    pub fn new(genes: &'a HashSet<String>, extra_controls: &[String]) -> Self {
        let controls = DEFAULT_CONTROLS
            .iter()
            .map(|c| c.to_string())
            .chain(extra_controls.iter().map(|c| normalise_control(c)))
            .filter(|c| !c.is_empty())
            .collect();
        LabelRules { separators: vec!["+".into(), ",".into()], controls, genes }
    }

    fn is_control(&self, text: &str) -> bool {
        self.controls.contains(&normalise_control(text))
    }

    /// Reads one label (`None` for a missing value).
    ///
    /// # Example
    /// ```
    /// use std::collections::HashSet;
    /// use gcrl::algo::labels::{Label, LabelRules};
    /// let genes: HashSet<String> = ["KLF1", "MAP2K6", "ZAP70"].map(String::from).into();
    /// let rules = LabelRules::new(&genes, &[]);
    /// let t = |l| rules.parse(Some(l)).unwrap();
    /// assert_eq!(t("ctrl+KLF1"), Label::Targets(vec!["KLF1".into()]));
    /// assert_eq!(t("MAP2K6,KLF1"), Label::Targets(vec!["KLF1".into(), "MAP2K6".into()]));
    /// assert_eq!(t("ZAP70_1"), Label::Targets(vec!["ZAP70".into()]));
    /// assert_eq!(t("NonTargeting_sg_179"), Label::Control);
    /// assert_eq!(t("NA"), Label::Unassigned);
    /// assert!(rules.parse(Some("KLF1_MAP2K6")).is_err());
    /// ```
    pub fn parse(&self, label: Option<&str>) -> Result<Label, LabelError> {
        let Some(label) = label.map(str::trim) else { return Ok(Label::Unassigned) };
        if UNASSIGNED_LABELS.iter().any(|u| u.eq_ignore_ascii_case(label)) {
            return Ok(Label::Unassigned);
        }
        if self.is_control(label) {
            return Ok(Label::Control);
        }
        let mut targets = Vec::new();
        for part in split_all(label, &self.separators) {
            let part = part.trim();
            if part.is_empty() || self.is_control(part) {
                continue;
            }
            match self.guide_target(label, part)? {
                Some(target) => targets.push(target),
                None => continue, // a control guide (`NonTargeting_sg_179`)
            }
        }
        if targets.is_empty() {
            return Ok(Label::Control);
        }
        targets.sort();
        targets.dedup();
        Ok(Label::Targets(targets))
    }

    /// The target of one part of a label: the part itself when it is a gene of the matrix, else
    /// the longest prefix before a suffix start that is a gene (`ZAP70_1` → `ZAP70`); `None` when
    /// that prefix is a control; the part unchanged when no prefix matches.
    fn guide_target(&self, label: &str, part: &str) -> Result<Option<String>, LabelError> {
        if self.genes.is_empty() || self.genes.contains(part) {
            return Ok(Some(part.to_string()));
        }
        let cuts = part
            .char_indices()
            .filter(|&(_, c)| SUFFIX_STARTS.contains(&c) && !self.separators.iter().any(|s| s == &c.to_string()));
        for (at, joiner) in cuts.collect::<Vec<_>>().into_iter().rev() {
            let (prefix, rest) = (&part[..at], &part[at + 1..]);
            if self.is_control(prefix) {
                return Ok(None);
            }
            if self.genes.contains(prefix) {
                let rest_genes: Vec<&str> = rest.split(joiner).collect();
                if rest_genes.iter().all(|g| self.genes.contains(*g)) {
                    let mut genes = vec![prefix];
                    genes.extend(rest_genes);
                    return Err(LabelError::JoinedGenes { label: label.to_string(), joiner, genes: genes.join(", ") });
                }
                return Ok(Some(prefix.to_string()));
            }
        }
        Ok(Some(part.to_string()))
    }
}

/// Splits `text` at every occurrence of any of `separators`.
fn split_all<'t>(text: &'t str, separators: &[String]) -> Vec<&'t str> {
    let mut parts = vec![text];
    for sep in separators.iter().filter(|s| !s.is_empty()) {
        parts = parts.into_iter().flat_map(|p| p.split(sep.as_str())).collect();
    }
    parts
}

/// Joins targets as the canonical condition name: `""` for controls, `A`, `A+B`.
pub fn condition_name(targets: &[String]) -> String {
    targets.join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genes(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn targets(l: Label) -> Vec<String> {
        match l {
            Label::Targets(t) => t,
            other => panic!("expected targets, got {other:?}"),
        }
    }

    #[test]
    fn every_public_convention_parses() {
        let g = genes(&["KLF1", "MAP2K6", "A", "B", "C"]);
        let r = LabelRules::new(&g, &[]);
        let p = |l: &str| r.parse(Some(l)).unwrap();
        for control in ["ctrl", "control", "non-targeting", "CTRL", "NonTargeting", "Non_Targeting", "ctrl+ctrl"] {
            assert_eq!(p(control), Label::Control, "{control}");
        }
        assert_eq!(targets(p("KLF1")), vec!["KLF1"]);
        assert_eq!(targets(p("KLF1+ctrl")), vec!["KLF1"]);
        assert_eq!(targets(p("ctrl+KLF1")), vec!["KLF1"]);
        assert_eq!(targets(p("KLF1+MAP2K6")), vec!["KLF1", "MAP2K6"]);
        assert_eq!(targets(p("MAP2K6,KLF1")), vec!["KLF1", "MAP2K6"]);
        assert_eq!(targets(p("A+B+C")).len(), 3);
        assert_eq!(targets(p("A+A")), vec!["A"]);
    }

    #[test]
    fn missing_empty_and_na_labels_are_unassigned_not_controls() {
        let g = genes(&["KLF1"]);
        let r = LabelRules::new(&g, &[]);
        assert_eq!(r.parse(None).unwrap(), Label::Unassigned);
        for l in ["", "  ", "NA", "nan", "None", "<NA>", "unassigned"] {
            assert_eq!(r.parse(Some(l)).unwrap(), Label::Unassigned, "{l:?}");
        }
    }

    #[test]
    fn guide_suffixes_are_stripped_down_to_genes_of_the_matrix_only() {
        let g = genes(&["ZAP70", "TP53", "NKX2-1", "HLA-A"]);
        let r = LabelRules::new(&g, &[]);
        let p = |l: &str| r.parse(Some(l)).unwrap();
        assert_eq!(targets(p("ZAP70_1")), vec!["ZAP70"]);
        assert_eq!(targets(p("TP53_sg_172")), vec!["TP53"]);
        assert_eq!(targets(p("TP53-2")), vec!["TP53"]);
        assert_eq!(p("NonTargeting_sg_179"), Label::Control);
        assert_eq!(p("non-targeting_03"), Label::Control);
        // A gene whose own name has a suffix character is kept whole, with or without a guide suffix.
        assert_eq!(targets(p("NKX2-1")), vec!["NKX2-1"]);
        assert_eq!(targets(p("NKX2-1_2")), vec!["NKX2-1"]);
        assert_eq!(targets(p("HLA-A_g1+TP53_g2")), vec!["HLA-A", "TP53"]);
        // No gene prefix: the label is kept as it is (and will be counted as not a gene).
        assert_eq!(targets(p("GFP_1")), vec!["GFP_1"]);
        // `_` is not a separator by default.
        assert_eq!(targets(p("FOO_BAR")), vec!["FOO_BAR"]);
    }

    #[test]
    fn genes_joined_by_a_non_separator_are_refused_and_a_named_separator_reads_them() {
        let g = genes(&["KLF1", "MAP2K6"]);
        let r = LabelRules::new(&g, &[]);
        let err = r.parse(Some("KLF1_MAP2K6")).unwrap_err();
        assert!(err.to_string().contains("separator: [\"+\", \"_\"]"), "{err}");
        let mut r = LabelRules::new(&g, &[]);
        r.separators.push("_".into());
        assert_eq!(targets(r.parse(Some("KLF1_MAP2K6")).unwrap()), vec!["KLF1", "MAP2K6"]);
        assert_eq!(r.parse(Some("control")).unwrap(), Label::Control);
    }

    #[test]
    fn without_genes_nothing_is_stripped() {
        let g = HashSet::new();
        let r = LabelRules::new(&g, &[]);
        assert_eq!(targets(r.parse(Some("ZAP70_1")).unwrap()), vec!["ZAP70_1"]);
    }

    #[test]
    fn a_custom_control_label_is_honoured() {
        let g = genes(&["GFP"]);
        let r = LabelRules::new(&g, &["GFP".into(), "mCherry".into()]);
        assert_eq!(r.parse(Some("GFP")).unwrap(), Label::Control);
        assert_eq!(r.parse(Some("mCherry_2")).unwrap(), Label::Control);
        let plain = LabelRules::new(&g, &[]);
        assert_eq!(targets(plain.parse(Some("GFP")).unwrap()), vec!["GFP"]);
    }
}
