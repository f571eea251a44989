//! The communities table `(tf, community)`: which community each TF is in (leiden-sweep's
//! `consensus`, simulate's `communities`), read and written here only.

use super::{Table, TableBuilder, TableError};

/// TF communities, one row per TF: community numbers are whole (1, 2, …), unordered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Communities {
    /// TF names (column `tf`).
    pub tf: Vec<String>,
    /// The community of each TF (column `community`).
    pub community: Vec<i64>,
}

impl Communities {
    /// Reads columns `tf` and `community` (integers, or floats that are whole).
    pub fn from_table(table: &Table) -> Result<Self, TableError> {
        let tf = table.str_column("tf")?;
        let community = table
            .f64_column("community")?
            .into_iter()
            .map(|c| {
                if c.fract() == 0.0 {
                    Ok(c as i64)
                } else {
                    Err(TableError::Type { name: "community".into(), expected: "whole numbers", found: c.to_string() })
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Communities { tf, community })
    }

    /// The table, with `community` as int64.
    pub fn to_table(&self) -> Result<Table, TableError> {
        TableBuilder::new().str("tf", self.tf.clone()).i64("community", self.community.clone()).build()
    }

    /// The community numbers, sorted, without repeats.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids = self.community.clone();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The rows as `(tf, community)`.
    pub fn rows(&self) -> impl Iterator<Item = (&str, i64)> {
        self.tf.iter().map(String::as_str).zip(self.community.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_round_trip_and_fractional_ones_are_refused_naming_the_column() {
        let c = Communities { tf: vec!["A".into(), "B".into(), "C".into()], community: vec![2, 1, 2] };
        let back = Communities::from_table(&c.to_table().unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.ids(), vec![1, 2]);
        let floats = TableBuilder::new().str("tf", vec!["A".into()]).f64("community", vec![1.5]).build().unwrap();
        let e = Communities::from_table(&floats).unwrap_err().to_string();
        assert!(e.contains("column `community` should hold whole numbers"), "{e}");
        let none = TableBuilder::new().str("tf", vec!["A".into()]).build().unwrap();
        assert!(Communities::from_table(&none).unwrap_err().to_string().contains("no column `community`"));
    }
}
