//! Per-cell CRISPR guide calls: read from Cell Ranger's `protospacer_calls_per_cell.csv`, or
//! made from the guide UMI counts of a `CRISPR Guide Capture` library by a UMI floor; turned
//! into the obs columns `guide_calls`, `guide_umis`, `n_guides` and `guide_target`.
//!
//! The floor is the whole rule here: a guide is called in a cell when it has at least
//! `min_umis` UMIs. Cell Ranger calls per guide with a two-component Gaussian mixture on the
//! log UMI counts, above its own floor (`min-crispr-umi`, default 3); that mixture is not
//! reimplemented, so for Cell Ranger's exact calls give its `protospacer_calls_per_cell.csv`.

use std::collections::HashMap;
use std::path::Path;

use crate::io::IoError;
use crate::io::cell_table::read_cell_table;
use crate::io::frame::{Column, ColumnValues, DataFrame};
use crate::io::tenx_h5::Guides;

/// The calls of the cells that have any: barcode, then the called guides with their UMIs.
#[derive(Debug, Clone, PartialEq)]
pub struct GuideCalls {
    /// One entry per cell with at least one call.
    pub cells: Vec<(String, Vec<(String, f64)>)>,
}

/// Reads Cell Ranger's `protospacer_calls_per_cell.csv` (`cell_barcode, num_features,
/// feature_call, num_umis`; several guides as `g1|g2` with UMIs `3|5`).
///
/// # Errors
/// [`IoError::Invalid`] for a missing column or a row whose guides and UMIs do not pair up.
pub fn read_protospacer_calls(path: &Path) -> Result<GuideCalls, IoError> {
    let table = read_cell_table(path)?;
    let text = |name: &str| match table.column(name).map(|c| &c.values) {
        Some(ColumnValues::Str(v)) => Ok(v.iter().map(|s| s.clone().unwrap_or_default()).collect::<Vec<_>>()),
        Some(ColumnValues::I64(v)) => Ok(v.iter().map(i64::to_string).collect()),
        Some(ColumnValues::F64(v)) => Ok(v.iter().map(f64::to_string).collect()),
        _ => Err(IoError::invalid(
            path,
            name,
            format!(
                "missing; a protospacer_calls_per_cell.csv has cell_barcode, num_features, feature_call, num_umis \
                 (columns here: {})",
                table.column_names().join(", ")
            ),
        )),
    };
    let (calls, umis) = (text("feature_call")?, text("num_umis")?);
    let mut cells = Vec::with_capacity(table.n_rows());
    for (row, barcode) in table.index.iter().enumerate() {
        let guides: Vec<&str> = calls[row].split('|').filter(|g| !g.is_empty()).collect();
        let counts: Vec<f64> = umis[row].split('|').filter_map(|u| u.trim().parse().ok()).collect();
        if guides.len() != counts.len() {
            return Err(IoError::invalid(
                path,
                &format!("row {}", row + 2),
                format!("{} guides (`{}`) but {} UMI counts (`{}`)", guides.len(), calls[row], counts.len(), umis[row]),
            ));
        }
        if !guides.is_empty() {
            cells.push((barcode.clone(), guides.into_iter().map(String::from).zip(counts).collect()));
        }
    }
    Ok(GuideCalls { cells })
}

/// Calls every guide with at least `min_umis` UMIs in a cell, in feature order.
///
/// # Complexity
/// O(cells + stored guide counts).
pub fn threshold_calls(guides: &Guides, barcodes: &[String], min_umis: f64) -> GuideCalls {
    let cells = guides
        .umis
        .rows()
        .zip(barcodes)
        .filter_map(|((idx, val), barcode)| {
            let called: Vec<(String, f64)> = idx
                .iter()
                .zip(val)
                .filter(|&(_, &v)| f64::from(v) >= min_umis)
                .map(|(&g, &v)| (guides.names[g as usize].clone(), f64::from(v)))
                .collect();
            (!called.is_empty()).then(|| (barcode.clone(), called))
        })
        .collect();
    GuideCalls { cells }
}

impl GuideCalls {
    /// The calls as a cell table (index: barcodes of cells with calls): `guide_calls` (`g1|g2`),
    /// `guide_umis` (`3|5`), `n_guides`, and `guide_target`, the distinct targets of the called
    /// guides joined by `+` in call order. `target_of` maps a guide to its target; a guide it
    /// does not know is its own target.
    pub fn frame(&self, target_of: &HashMap<String, String>) -> DataFrame {
        let join = |cell: &[(String, f64)], f: &dyn Fn(&(String, f64)) -> String, sep: &str| {
            cell.iter().map(f).collect::<Vec<_>>().join(sep)
        };
        let mut targets = Vec::with_capacity(self.cells.len());
        for (_, called) in &self.cells {
            let mut seen: Vec<&str> = Vec::new();
            for (guide, _) in called {
                let t = target_of.get(guide).map_or(guide.as_str(), String::as_str);
                if !seen.contains(&t) {
                    seen.push(t);
                }
            }
            targets.push(Some(seen.join("+")));
        }
        let text = |name: &str, v: Vec<Option<String>>| Column { name: name.into(), values: ColumnValues::Str(v) };
        DataFrame {
            index: self.cells.iter().map(|c| c.0.clone()).collect(),
            columns: vec![
                text("guide_calls", self.cells.iter().map(|c| Some(join(&c.1, &|g| g.0.clone(), "|"))).collect()),
                text("guide_umis", self.cells.iter().map(|c| Some(join(&c.1, &|g| g.1.to_string(), "|"))).collect()),
                Column {
                    name: "n_guides".into(),
                    values: ColumnValues::I64(self.cells.iter().map(|c| c.1.len() as i64).collect()),
                },
                text("guide_target", targets),
            ],
        }
    }
}

/// After a join of [`GuideCalls::frame`]: the guide count (column `name`) of cells without
/// calls is 0, not missing.
pub fn zero_missing_guide_counts(obs: &mut DataFrame, name: &str) {
    let Some(col) = obs.columns.iter_mut().find(|c| c.name == name) else { return };
    if let ColumnValues::F64(v) = &col.values {
        col.values = ColumnValues::I64(v.iter().map(|&x| if x.is_nan() { 0 } else { x as i64 }).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::sparse::Csr;

    fn strs(v: &[Option<&str>]) -> ColumnValues {
        ColumnValues::Str(v.iter().map(|s| s.map(String::from)).collect())
    }

    #[test]
    fn a_floor_calls_guides_and_targets_join_with_plus() {
        // 3 cells × 3 guides: cell 0 has g1 (7 UMIs) and g2 (3); cell 1 only ambient (2); cell 2 has nt (4).
        let umis = Csr::new(3, 3, vec![0, 2, 3, 4], vec![0, 1, 1, 2], vec![7.0, 3.0, 2.0, 4.0]).unwrap();
        let guides = Guides {
            umis,
            names: vec!["TP53_g1".into(), "MYC_g2".into(), "NT_1".into()],
            targets: vec!["TP53".into(), "MYC".into(), "Non-Targeting".into()],
        };
        let barcodes: Vec<String> = ["c0", "c1", "c2"].map(String::from).to_vec();
        let calls = threshold_calls(&guides, &barcodes, 3.0);
        let target_of = guides.names.iter().cloned().zip(guides.targets.iter().cloned()).collect();
        let f = calls.frame(&target_of);
        assert_eq!(f.index, ["c0", "c2"]);
        assert_eq!(f.column("guide_calls").unwrap().values, strs(&[Some("TP53_g1|MYC_g2"), Some("NT_1")]));
        assert_eq!(f.column("guide_umis").unwrap().values, strs(&[Some("7|3"), Some("4")]));
        assert_eq!(f.column("n_guides").unwrap().values, ColumnValues::I64(vec![2, 1]));
        assert_eq!(f.column("guide_target").unwrap().values, strs(&[Some("TP53+MYC"), Some("Non-Targeting")]));
        assert_eq!(threshold_calls(&guides, &barcodes, 8.0).cells, Vec::new());
    }

    #[test]
    fn protospacer_calls_are_read_as_cell_ranger_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protospacer_calls_per_cell.csv");
        std::fs::write(
            &path,
            "cell_barcode,num_features,feature_call,num_umis\nAAAC-1,2,TP53_g1|NT_1,12|3\nAAAG-1,1,MYC_g2,40\n",
        )
        .unwrap();
        let calls = read_protospacer_calls(&path).unwrap();
        assert_eq!(
            calls.cells,
            vec![
                ("AAAC-1".to_string(), vec![("TP53_g1".to_string(), 12.0), ("NT_1".to_string(), 3.0)]),
                ("AAAG-1".to_string(), vec![("MYC_g2".to_string(), 40.0)]),
            ]
        );
        std::fs::write(&path, "cell_barcode,num_features,feature_call,num_umis\nA-1,2,g1|g2,4\n").unwrap();
        let err = read_protospacer_calls(&path).unwrap_err().to_string();
        assert!(err.contains("`row 2`") && err.contains("2 guides (`g1|g2`) but 1 UMI counts"), "{err}");
    }
}
