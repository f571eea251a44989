//! The label half of `load`: which obs column holds the perturbation, how each cell's label
//! reads (through [`LabelRules`]), which cells are kept, and the account of what was decided
//! (the `summary` and `targets` outputs and the run-log note).

use std::collections::{BTreeMap, HashSet};

use crate::algo::labels::{Label, LabelRules};
use crate::io::frame::{ColumnValues, DataFrame};
use crate::kind::NodeError;
use crate::table::{Table, TableBuilder};
use crate::workflow::suggest::hint;

/// obs columns that hold the perturbation, tried in order when none is named: target-level
/// columns before guide-level ones (`perturbation`, `guide_identity`), whose guide suffixes the
/// label rules then strip.
pub const PERTURBATION_COLUMNS: &[&str] = &[
    "target",
    "targets",
    "target_gene",
    "gene",
    "guide_target",
    "target_top",
    "perturbed_genes",
    "condition",
    "perturbation",
    "guide_ids",
    "guide_identity",
];

/// What to do with cells that have no guide call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unassigned {
    /// Drop them (the default).
    Drop,
    /// Count them as controls (only when the user says so).
    Control,
}

/// The cells `load` keeps and the account of how they were chosen.
#[derive(Debug)]
pub struct Assigned {
    /// Rows of the file kept, in file order.
    pub keep: Vec<usize>,
    /// The targets of each kept row.
    pub targets: Vec<Vec<String>>,
    /// The account.
    pub summary: Summary,
}

/// What `load` decided about the labels, for the `summary` output and the run log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// The obs column read (empty with `all_controls`).
    pub column: String,
    /// The target separators.
    pub separators: Vec<String>,
    /// Rows in the file.
    pub cells_read: usize,
    /// Rows dropped by `filter`.
    pub dropped_filter: usize,
    /// Rows without a guide call (dropped unless `unassigned: control`).
    pub unassigned: usize,
    /// Whether unassigned rows were kept as controls.
    pub unassigned_as_control: bool,
    /// Rows with more targets than `max_targets`, dropped.
    pub dropped_max_targets: usize,
    /// Kept rows by number of targets: controls, singles, doubles, more.
    pub controls: usize,
    /// Kept single-target rows.
    pub singles: usize,
    /// Kept two-target rows.
    pub doubles: usize,
    /// Kept rows with more than two targets.
    pub more: usize,
    /// Distinct targets of the kept rows that are genes of the matrix.
    pub targets_in_matrix: usize,
    /// Distinct targets of the kept rows that are not genes of the matrix (sorted).
    pub targets_not_in_matrix: Vec<String>,
    /// Warnings about the result.
    pub warnings: Vec<String>,
}

/// The obs column to read: the one named, else the first of [`PERTURBATION_COLUMNS`] present.
///
/// # Errors
/// The named column is missing (with the columns and a "did you mean"), or none is found (listing
/// the obs columns and naming `perturbation_column` and `all_controls`).
pub fn choose_column(obs: &DataFrame, named: Option<&str>, file: &str) -> Result<String, NodeError> {
    let names = obs.column_names();
    if let Some(name) = named {
        if obs.column(name).is_some() {
            return Ok(name.to_string());
        }
        let h = hint(name, names.iter().copied());
        return Err(NodeError::Input(format!(
            "{file}: `perturbation_column: {name}`: obs has no such column (columns: {}) {h}",
            listing(&names)
        )));
    }
    PERTURBATION_COLUMNS.iter().find(|c| obs.column(c).is_some()).map(|c| c.to_string()).ok_or_else(|| {
        NodeError::Input(format!(
            "{file}: no perturbation column found among the obs columns ({}); name the column that holds each \
             cell's target(s) with `perturbation_column`, or set `all_controls: true` if the file is not a screen",
            listing(&names)
        ))
    })
}

fn listing(names: &[&str]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

/// The labels of column `name` (which must exist), `None` where missing: a null string, a
/// categorical code −1, a NaN.
pub fn column_labels(obs: &DataFrame, name: &str) -> Vec<Option<String>> {
    let Some(col) = obs.column(name) else { return vec![None; obs.n_rows()] };
    match &col.values {
        ColumnValues::Str(v) => v.clone(),
        ColumnValues::Categorical { codes, categories } => {
            codes.iter().map(|&c| usize::try_from(c).ok().and_then(|c| categories.get(c)).cloned()).collect()
        }
        ColumnValues::F64(v) => v.iter().map(|x| (!x.is_nan()).then(|| x.to_string())).collect(),
        ColumnValues::I64(v) => v.iter().map(|x| Some(x.to_string())).collect(),
        ColumnValues::Bool(v) => v.iter().map(|b| b.map(|b| b.to_string())).collect(),
    }
}

/// gcrl's own `cells` table written by an earlier run (`targets` beside an integer `n_targets`):
/// an empty label with `n_targets == 0` is an explicit control there, not a missing call.
fn own_controls(obs: &DataFrame, column: &str) -> Option<Vec<bool>> {
    if column != "targets" {
        return None;
    }
    match &obs.column("n_targets")?.values {
        ColumnValues::I64(n) => Some(n.iter().map(|&n| n == 0).collect()),
        _ => None,
    }
}

/// Reads the label of every row in `rows` and keeps the cells that have a usable one.
///
/// # Arguments
/// * `obs` – the file's cell table; `column` the perturbation column (from [`choose_column`]).
/// * `rows` – the rows left after `filter`; `cells_read` the rows in the file.
/// * `rules` – separators, controls and the genes of the matrix.
///
/// # Errors
/// Labels that join genes of the matrix with a non-separator character: the first, and how many.
pub fn assign(
    obs: &DataFrame,
    column: &str,
    rows: Vec<usize>,
    rules: &LabelRules,
    unassigned: Unassigned,
    max_targets: usize,
    file: &str,
) -> Result<Assigned, NodeError> {
    let labels = column_labels(obs, column);
    let own = own_controls(obs, column);
    let mut summary = Summary {
        column: column.to_string(),
        separators: rules.separators.clone(),
        cells_read: obs.n_rows(),
        dropped_filter: obs.n_rows() - rows.len(),
        unassigned_as_control: unassigned == Unassigned::Control,
        ..Summary::default()
    };
    let (mut keep, mut targets) = (Vec::new(), Vec::new());
    let (mut refused, mut first_refusal) = (0usize, None);
    for i in rows {
        let label = match rules.parse(labels[i].as_deref()) {
            Ok(Label::Unassigned) if own.as_ref().is_some_and(|o| o[i]) => Label::Control,
            Ok(l) => l,
            Err(e) => {
                refused += 1;
                first_refusal.get_or_insert(e);
                continue;
            }
        };
        let t = match label {
            Label::Unassigned => {
                summary.unassigned += 1;
                match unassigned {
                    Unassigned::Drop => continue,
                    Unassigned::Control => Vec::new(),
                }
            }
            Label::Control => Vec::new(),
            Label::Targets(t) => t,
        };
        if t.len() > max_targets {
            summary.dropped_max_targets += 1;
            continue;
        }
        keep.push(i);
        targets.push(t);
    }
    if let Some(e) = first_refusal {
        return Err(NodeError::Input(format!(
            "{file}: obs column `{column}`: {e} ({refused} cell(s) have such labels)"
        )));
    }
    summary.count(&targets, rules.genes);
    Ok(Assigned { keep, targets, summary })
}

impl Summary {
    /// The account for a file that is not a screen (`all_controls: true`): every kept row a control.
    pub fn all_controls(cells_read: usize, kept: usize) -> Self {
        let mut s = Summary { cells_read, dropped_filter: cells_read - kept, ..Summary::default() };
        s.count(&vec![Vec::new(); kept], &HashSet::new());
        s
    }

    /// Counts the kept cells and targets and sets the warnings.
    fn count(&mut self, targets: &[Vec<String>], genes: &HashSet<String>) {
        for t in targets {
            match t.len() {
                0 => self.controls += 1,
                1 => self.singles += 1,
                2 => self.doubles += 1,
                _ => self.more += 1,
            }
        }
        let distinct: std::collections::BTreeSet<&String> = targets.iter().flatten().collect();
        self.targets_not_in_matrix = distinct.iter().filter(|t| !genes.contains(**t)).map(|t| t.to_string()).collect();
        self.targets_in_matrix = distinct.len() - self.targets_not_in_matrix.len();
        let kept = targets.len();
        if kept == 0 {
            self.warnings.push("no cell is left".into());
        } else if self.controls == 0 && !self.column.is_empty() {
            self.warnings.push(
                "0 % of cells are controls: if the screen has them, name their label with `control_label`".into(),
            );
        } else if self.controls == kept && !self.column.is_empty() {
            self.warnings.push(format!(
                "100 % of cells are controls: column `{}` holds no target that the rules read; check \
                 `perturbation_column` and `control_label`",
                self.column
            ));
        }
        if !distinct.is_empty() && self.targets_not_in_matrix.len() * 2 > distinct.len() {
            self.warnings.push(format!(
                "{} of {} targets are not genes of the matrix (e.g. {}): if the genes are named otherwise, pick \
                 the var column with `var_names`",
                self.targets_not_in_matrix.len(),
                distinct.len(),
                examples(&self.targets_not_in_matrix)
            ));
        }
    }

    /// The one-line account for the run log.
    pub fn line(&self) -> String {
        let kept = self.controls + self.singles + self.doubles + self.more;
        let source = if self.column.is_empty() {
            "all cells are controls (`all_controls`)".to_string()
        } else {
            format!("column `{}`, separators {}", self.column, self.separators.join(" "))
        };
        let unassigned = if self.unassigned_as_control { "kept as controls" } else { "dropped" };
        format!(
            "{source}: {} cells read, {kept} kept ({} controls, {} singles, {} doubles{}); dropped: {} by filter, {} \
             over max_targets; {} unassigned {unassigned}; {} targets, {} not genes of the matrix",
            self.cells_read,
            self.controls,
            self.singles,
            self.doubles,
            if self.more > 0 { format!(", {} with more targets", self.more) } else { String::new() },
            self.dropped_filter,
            self.dropped_max_targets,
            self.unassigned,
            self.targets_in_matrix + self.targets_not_in_matrix.len(),
            self.targets_not_in_matrix.len(),
        )
    }

    /// The `summary` output: one row.
    pub fn table(&self) -> Result<Table, NodeError> {
        let n = |v: usize| vec![v as i64];
        Ok(TableBuilder::new()
            .str("column", vec![self.column.clone()])
            .str("separators", vec![self.separators.join(" ")])
            .i64("cells_read", n(self.cells_read))
            .i64("dropped_filter", n(self.dropped_filter))
            .i64("unassigned", n(self.unassigned))
            .bool("unassigned_as_control", vec![self.unassigned_as_control])
            .i64("dropped_max_targets", n(self.dropped_max_targets))
            .i64("cells", n(self.controls + self.singles + self.doubles + self.more))
            .i64("controls", n(self.controls))
            .i64("singles", n(self.singles))
            .i64("doubles", n(self.doubles))
            .i64("more", n(self.more))
            .i64("targets", n(self.targets_in_matrix + self.targets_not_in_matrix.len()))
            .i64("targets_not_in_matrix", n(self.targets_not_in_matrix.len()))
            .str("targets_not_in_matrix_list", vec![self.targets_not_in_matrix.join(",")])
            .str("warnings", vec![self.warnings.join("; ")])
            .build()?)
    }
}

fn examples(names: &[String]) -> String {
    let mut shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    if names.len() > 3 {
        shown.push("…");
    }
    shown.join(", ")
}

/// The `targets` output: per target, the kept cells that carry it alone and within a
/// combination, and whether it is a gene of the matrix; sorted by target.
pub fn targets_table(targets: &[Vec<String>], genes: &HashSet<String>) -> Result<Table, NodeError> {
    let mut counts: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for t in targets {
        for g in t {
            let c = counts.entry(g).or_default();
            if t.len() == 1 { c.0 += 1 } else { c.1 += 1 }
        }
    }
    Ok(TableBuilder::new()
        .str("target", counts.keys().map(|s| s.to_string()).collect())
        .i64("single_cells", counts.values().map(|c| c.0).collect())
        .i64("combination_cells", counts.values().map(|c| c.1).collect())
        .bool("in_matrix", counts.keys().map(|g| genes.contains(*g)).collect())
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::frame::Column;

    fn obs(columns: Vec<(&str, ColumnValues)>) -> DataFrame {
        let n = columns.first().map_or(0, |c| c.1.len());
        DataFrame {
            index: (0..n).map(|i| format!("c{i}")).collect(),
            columns: columns.into_iter().map(|(name, values)| Column { name: name.into(), values }).collect(),
        }
    }

    fn text(v: &[Option<&str>]) -> ColumnValues {
        ColumnValues::Str(v.iter().map(|s| s.map(String::from)).collect())
    }

    #[test]
    fn target_columns_are_preferred_over_guide_columns() {
        let o = obs(vec![("perturbation", text(&[Some("A_1")])), ("gene", text(&[Some("A")]))]);
        assert_eq!(choose_column(&o, None, "f").unwrap(), "gene");
        assert_eq!(choose_column(&o, Some("perturbation"), "f").unwrap(), "perturbation");
        let e = choose_column(&o, Some("perturbaton"), "f").unwrap_err().to_string();
        assert!(e.contains("did you mean `perturbation`"), "{e}");
        let none = obs(vec![("n_genes", ColumnValues::I64(vec![3]))]);
        let e = choose_column(&none, None, "f").unwrap_err().to_string();
        assert!(e.contains("(n_genes)") && e.contains("`perturbation_column`"), "{e}");
    }

    #[test]
    fn unassigned_cells_are_dropped_and_counted_unless_named_controls() {
        let genes: HashSet<String> = ["A", "B"].map(String::from).into();
        let rules = LabelRules::new(&genes, &[]);
        let o = obs(vec![(
            "target",
            text(&[Some("A"), None, Some(""), Some("non-targeting"), Some("A+B"), Some("A+B+X"), Some("NA")]),
        )]);
        let a = assign(&o, "target", (0..7).collect(), &rules, Unassigned::Drop, 2, "f").unwrap();
        assert_eq!(a.keep, vec![0, 3, 4]);
        assert_eq!(a.targets, vec![vec!["A".to_string()], vec![], vec!["A".into(), "B".into()]]);
        let s = &a.summary;
        assert_eq!((s.unassigned, s.dropped_max_targets, s.controls, s.singles, s.doubles), (3, 1, 1, 1, 1));
        let a = assign(&o, "target", (0..7).collect(), &rules, Unassigned::Control, 2, "f").unwrap();
        assert_eq!(a.keep, vec![0, 1, 2, 3, 4, 6]);
        assert_eq!(a.summary.controls, 4);
    }

    #[test]
    fn missing_values_of_every_column_type_are_missing_labels() {
        let o = obs(vec![
            ("cat", ColumnValues::Categorical { codes: vec![0, -1, 1], categories: vec!["A".into(), "ctrl".into()] }),
            ("num", ColumnValues::F64(vec![1.0, f64::NAN, 2.0])),
            ("str", text(&[Some("A"), None, Some("")])),
        ]);
        assert_eq!(column_labels(&o, "cat"), vec![Some("A".into()), None, Some("ctrl".into())]);
        assert_eq!(column_labels(&o, "num"), vec![Some("1".into()), None, Some("2".into())]);
        assert_eq!(column_labels(&o, "str"), vec![Some("A".into()), None, Some(String::new())]);
        let genes: HashSet<String> = ["A"].map(String::from).into();
        let rules = LabelRules::new(&genes, &[]);
        let a = assign(&o, "cat", vec![0, 1, 2], &rules, Unassigned::Drop, 2, "f").unwrap();
        assert_eq!((a.keep, a.summary.unassigned, a.summary.controls), (vec![0, 2], 1, 1));
    }

    #[test]
    fn gcrl_own_targets_column_reads_empty_as_control() {
        let genes: HashSet<String> = ["A"].map(String::from).into();
        let rules = LabelRules::new(&genes, &[]);
        let o = obs(vec![("targets", text(&[Some(""), Some("A")])), ("n_targets", ColumnValues::I64(vec![0, 1]))]);
        let a = assign(&o, "targets", vec![0, 1], &rules, Unassigned::Drop, 2, "f").unwrap();
        assert_eq!(a.keep, vec![0, 1]);
        assert_eq!(a.summary.controls, 1);
    }

    #[test]
    fn the_summary_warns_when_controls_are_missing_or_targets_are_not_genes() {
        let genes: HashSet<String> = ["A"].map(String::from).into();
        let rules = LabelRules::new(&genes, &[]);
        let o = obs(vec![("target", text(&[Some("ENSG1"), Some("ENSG2"), Some("A")]))]);
        let a = assign(&o, "target", vec![0, 1, 2], &rules, Unassigned::Drop, 2, "f").unwrap();
        let w = a.summary.warnings.join("\n");
        assert!(w.contains("0 % of cells are controls") && w.contains("2 of 3 targets are not genes"), "{w}");
        assert_eq!(a.summary.targets_not_in_matrix, vec!["ENSG1", "ENSG2"]);
        let t = targets_table(&a.targets, &genes).unwrap();
        assert_eq!(t.str_column("target").unwrap(), vec!["A", "ENSG1", "ENSG2"]);
        assert_eq!(t.bool_column("in_matrix").unwrap(), vec![true, false, false]);
    }

    #[test]
    fn joined_genes_fail_naming_the_column_and_the_count() {
        let genes: HashSet<String> = ["A", "B"].map(String::from).into();
        let rules = LabelRules::new(&genes, &[]);
        let o = obs(vec![("perturbation", text(&[Some("A_B"), Some("A"), Some("B_A")]))]);
        let e = assign(&o, "perturbation", vec![0, 1, 2], &rules, Unassigned::Drop, 2, "f.h5ad").unwrap_err();
        let e = e.to_string();
        assert!(e.contains("obs column `perturbation`") && e.contains("A_B") && e.contains("2 cell(s)"), "{e}");
    }
}
