//! Pseudobulk profiles: per group of cells, the sum of each gene over the group's cells and the
//! number of cells that express it, from a matrix read a row at a time.
//!
//! Groups run in parallel, each summing its rows in their order (in f64), so the result depends
//! neither on the thread count nor on how the matrix is stored. Memory: one gene vector per
//! running thread, plus the result. Pure: rows in, numbers out; what a group is, is the caller's.

use rayon::prelude::*;

use crate::algo::sparse::Rows;

/// One group's profile over every gene.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupProfile {
    /// Sum of each gene over the group's rows.
    pub sum: Vec<f64>,
    /// Rows in which each gene is non-zero.
    pub expressing: Vec<u32>,
}

/// The profile of each group of rows of `x` (`groups[g]` lists its rows, in the order summed).
///
/// # Panics
/// If a row index is out of range.
///
/// # Complexity
/// O(nnz of the grouped rows + groups × genes).
pub fn group_profiles(x: &impl Rows, groups: &[Vec<usize>]) -> Vec<GroupProfile> {
    groups
        .par_iter()
        .map(|rows| {
            let mut profile = GroupProfile { sum: vec![0.0; x.n_cols()], expressing: vec![0; x.n_cols()] };
            for &i in rows {
                let (cols, values) = x.row(i);
                for (&j, &v) in cols.iter().zip(values) {
                    profile.sum[j as usize] += f64::from(v);
                    profile.expressing[j as usize] += u32::from(v != 0.0);
                }
            }
            profile
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::sparse::Csr;

    #[test]
    fn sums_and_counts_follow_the_groups() {
        // [[1, 0, 2], [0, 0, 0], [0, 3, 4], [5, 0, 0]]
        let x = Csr::new(4, 3, vec![0, 2, 2, 4, 5], vec![0, 2, 1, 2, 0], vec![1., 2., 3., 4., 5.]).unwrap();
        let p = group_profiles(&x, &[vec![0, 3], vec![1, 2], vec![]]);
        assert_eq!(p[0].sum, vec![6.0, 0.0, 2.0]);
        assert_eq!(p[0].expressing, vec![2, 0, 1]);
        assert_eq!(p[1].sum, vec![0.0, 3.0, 4.0]);
        assert_eq!(p[1].expressing, vec![0, 1, 1]);
        assert_eq!(p[2].sum, vec![0.0; 3]);
    }
}
