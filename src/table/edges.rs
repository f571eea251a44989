//! Edge lists `(source, target, weight)`: a GRN (`grn.edges`), a TF–TF graph, a learned DAG or
//! simulate's true edges, read and written here only.

use super::{Table, TableBuilder, TableError};

/// One directed edge: source, target, weight.
pub type Edge = (String, String, f64);

/// A directed, weighted edge list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Edges(pub Vec<Edge>);

impl Edges {
    /// Reads columns `source` and `target`; the weight is `coef_mean`, else `weight`, else 1;
    /// when a boolean `strong` column exists, only the strong edges are kept.
    pub fn from_table(table: &Table) -> Result<Self, TableError> {
        let source = table.str_column("source")?;
        let target = table.str_column("target")?;
        let weight = if table.has_column("coef_mean") {
            table.f64_column("coef_mean")?
        } else if table.has_column("weight") {
            table.f64_column("weight")?
        } else {
            vec![1.0; source.len()]
        };
        let strong = if table.has_column("strong") { table.bool_column("strong")? } else { vec![true; source.len()] };
        let edges = source.into_iter().zip(target).zip(weight).zip(strong).filter(|(_, s)| *s);
        Ok(Edges(edges.map(|(((s, t), w), _)| (s, t, w)).collect()))
    }

    /// The table `source, target, weight`.
    pub fn to_table(&self) -> Result<Table, TableError> {
        TableBuilder::new()
            .str("source", self.0.iter().map(|e| e.0.clone()).collect())
            .str("target", self.0.iter().map(|e| e.1.clone()).collect())
            .f64("weight", self.0.iter().map(|e| e.2).collect())
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_take_coef_mean_over_weight_keep_strong_ones_and_round_trip() {
        let t = TableBuilder::new()
            .str("source", vec!["A".into(), "A".into()])
            .str("target", vec!["B".into(), "C".into()])
            .f64("weight", vec![9.0, 9.0])
            .f64("coef_mean", vec![0.5, -0.25])
            .bool("strong", vec![false, true])
            .build()
            .unwrap();
        let e = Edges::from_table(&t).unwrap();
        assert_eq!(e, Edges(vec![("A".into(), "C".into(), -0.25)]));
        assert_eq!(Edges::from_table(&e.to_table().unwrap()).unwrap(), e);
        let bare = TableBuilder::new().str("source", vec!["A".into()]).str("target", vec!["B".into()]).build().unwrap();
        assert_eq!(Edges::from_table(&bare).unwrap().0[0].2, 1.0);
        let e = Edges::from_table(&TableBuilder::new().str("source", vec![]).build().unwrap()).unwrap_err();
        assert!(e.to_string().contains("no column `target`"), "{e}");
    }
}
