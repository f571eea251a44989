//! Perturbation labels: every public convention to one canonical set of targets per cell.
//!
//! Norman 2019 writes `''`, `KLF1`, `KLF1,MAP2K6` (CPA `guide_ids`) or `ctrl`, `KLF1+ctrl`,
//! `ctrl+KLF1`, `KLF1+MAP2K6` (GEARS `condition`); scPerturb writes `control` and `A_B`;
//! Papalexi writes `non-targeting`. All become a sorted, de-duplicated list of target genes:
//! empty for a control, one name for a single, two for a double.

/// Control labels recognised in every screen (compared case-insensitively).
pub const DEFAULT_CONTROLS: &[&str] = &["", "ctrl", "control", "non-targeting", "nontargeting", "nt", "negctrl"];

/// Parses one label into its sorted targets. `controls` are the labels (and label parts) that
/// mean "no target"; comparison ignores case.
///
/// # Example
/// ```
/// use gcrl::algo::labels::{parse_targets, DEFAULT_CONTROLS};
/// assert_eq!(parse_targets("ctrl+KLF1", DEFAULT_CONTROLS), vec!["KLF1"]);
/// assert_eq!(parse_targets("MAP2K6,KLF1", DEFAULT_CONTROLS), vec!["KLF1", "MAP2K6"]);
/// assert!(parse_targets("non-targeting", DEFAULT_CONTROLS).is_empty());
/// ```
pub fn parse_targets(label: &str, controls: &[&str]) -> Vec<String> {
    let is_control = |s: &str| controls.iter().any(|c| c.eq_ignore_ascii_case(s.trim()));
    if is_control(label) {
        return Vec::new();
    }
    let separator = ['+', ',', '_', ';', '|'].into_iter().find(|&c| label.contains(c));
    let parts: Vec<&str> = match separator {
        Some(sep) => label.split(sep).collect(),
        None => vec![label],
    };
    let mut targets: Vec<String> =
        parts.into_iter().map(str::trim).filter(|p| !p.is_empty() && !is_control(p)).map(String::from).collect();
    targets.sort();
    targets.dedup();
    targets
}

/// Joins targets as the canonical condition name: `""` for controls, `A`, `A+B`.
pub fn condition_name(targets: &[String]) -> String {
    targets.join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_convention_parses() {
        let c = DEFAULT_CONTROLS;
        for control in ["", "ctrl", "control", "non-targeting", "CTRL"] {
            assert!(parse_targets(control, c).is_empty(), "{control}");
        }
        assert_eq!(parse_targets("KLF1", c), vec!["KLF1"]);
        assert_eq!(parse_targets("KLF1+ctrl", c), vec!["KLF1"]);
        assert_eq!(parse_targets("ctrl+KLF1", c), vec!["KLF1"]);
        assert_eq!(parse_targets("KLF1+MAP2K6", c), vec!["KLF1", "MAP2K6"]);
        assert_eq!(parse_targets("MAP2K6,KLF1", c), vec!["KLF1", "MAP2K6"]);
        assert_eq!(parse_targets("KLF1_MAP2K6", c), vec!["KLF1", "MAP2K6"]);
        assert_eq!(parse_targets("A+B+C", c).len(), 3);
        assert_eq!(parse_targets("A+A", c), vec!["A"]);
    }

    #[test]
    fn a_custom_control_label_is_honoured() {
        assert!(parse_targets("GFP", &["GFP", "mCherry"]).is_empty());
        assert_eq!(parse_targets("GFP", DEFAULT_CONTROLS), vec!["GFP"]);
    }
}
