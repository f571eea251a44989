//! Pseudobulk profiles: per group of cells, the sum of each gene over the group's cells and the
//! number of cells that express it, from a matrix read a row at a time.
//!
//! The matrix is read once, front to back: each of a few workers owns every w-th group and
//! takes, in row order, the rows of its groups, so a matrix bigger than memory streams (rows of
//! one group are spread over the whole screen). Each group sums its rows in ascending order (in
//! f64), so the result depends neither on the worker count nor on how the matrix is stored.
//! Memory: the result. Pure: rows in, numbers out; what a group is, is the caller's.

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

/// The profile of each group of rows of `x` (`groups[g]` lists its rows; each is summed in
/// ascending row order). A row may belong to several groups.
///
/// # Panics
/// If a row index is out of range.
///
/// # Complexity
/// O(nnz of the grouped rows + groups × genes).
pub fn group_profiles(x: &impl Rows, groups: &[Vec<usize>]) -> Vec<GroupProfile> {
    let workers = rayon::current_num_threads().clamp(1, groups.len().max(1));
    let mut owned: Vec<Vec<(usize, usize)>> = vec![Vec::new(); workers];
    for (g, rows) in groups.iter().enumerate() {
        owned[g % workers].extend(rows.iter().map(|&i| (i, g)));
    }
    let done: Vec<(usize, GroupProfile)> = owned
        .into_par_iter()
        .flat_map_iter(|mut pairs| {
            pairs.sort_unstable();
            let mut mine = std::collections::BTreeMap::new();
            for (i, g) in pairs {
                let p = mine.entry(g).or_insert_with(|| empty(x.n_cols()));
                let (cols, values) = x.row(i);
                for (&j, &v) in cols.iter().zip(values) {
                    p.sum[j as usize] += f64::from(v);
                    p.expressing[j as usize] += u32::from(v != 0.0);
                }
            }
            mine
        })
        .collect();
    let mut out: Vec<Option<GroupProfile>> = (0..groups.len()).map(|_| None).collect();
    for (g, p) in done {
        out[g] = Some(p);
    }
    out.into_iter().map(|p| p.unwrap_or_else(|| empty(x.n_cols()))).collect()
}

fn empty(n_cols: usize) -> GroupProfile {
    GroupProfile { sum: vec![0.0; n_cols], expressing: vec![0; n_cols] }
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

    #[test]
    fn any_worker_count_gives_the_bits_of_a_loop_over_each_group() {
        let (n, m) = (500, 40);
        let mut indptr = vec![0u64];
        let (mut indices, mut data) = (Vec::new(), Vec::new());
        for i in 0..n {
            for j in (0..m).filter(|j| (i * 7 + j * 13) % 5 < 2) {
                indices.push(j as u32);
                data.push(0.1 + ((i * 31 + j * 17) % 97) as f32 / 7.0);
            }
            indptr.push(indices.len() as u64);
        }
        let x = Csr::new(n, m, indptr, indices, data).unwrap();
        // 23 groups of rows spread over the matrix; row 0 is in two groups, group 22 is empty.
        let mut groups: Vec<Vec<usize>> = (0..22).map(|g| (0..n).filter(|i| (i * i + 3) % 22 == g).collect()).collect();
        groups[5].insert(0, 0);
        groups.push(vec![]);
        let looped: Vec<GroupProfile> = groups
            .iter()
            .map(|rows| {
                let mut p = empty(m);
                for &i in rows {
                    let (cols, values) = x.row(i);
                    for (&j, &v) in cols.iter().zip(values) {
                        p.sum[j as usize] += f64::from(v);
                        p.expressing[j as usize] += 1;
                    }
                }
                p
            })
            .collect();
        for threads in [1, 2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            assert_eq!(pool.install(|| group_profiles(&x, &groups)), looped, "{threads} threads");
        }
    }
}
