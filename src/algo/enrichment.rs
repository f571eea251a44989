//! Over-representation analysis: a one-sided hypergeometric test of each gene set against a
//! background, with Benjamini–Hochberg q-values (as clusterProfiler's `enricher` and
//! scipy.stats.hypergeom compute it).

use std::collections::HashSet;

use super::AlgoError;
use super::stats::{bh_fdr, hypergeom_sf};

/// The test of one gene set.
#[derive(Debug, Clone, PartialEq)]
pub struct SetTest {
    /// Index of the set in the input.
    pub set: usize,
    /// Members of the set in the background.
    pub size: usize,
    /// Members of the set in the query.
    pub overlap: usize,
    /// P(X ≥ overlap) under the hypergeometric null.
    pub p: f64,
    /// BH q-value over the tested sets.
    pub q: f64,
}

/// Tests every set whose size within `background` lies in `min_size..=max_size`.
///
/// # Arguments
/// * `query` — the genes of interest (restricted to the background).
/// * `background` — the universe of genes.
/// * `sets` — candidate gene sets.
///
/// # Returns
/// One [`SetTest`] per tested set, in input order.
///
/// # Complexity
/// `O(Σ |set|)` plus one hypergeometric tail per set.
pub fn over_representation(
    query: &[String],
    background: &[String],
    sets: &[Vec<String>],
    min_size: usize,
    max_size: usize,
) -> Result<Vec<SetTest>, AlgoError> {
    let universe: HashSet<&str> = background.iter().map(String::as_str).collect();
    let hits: HashSet<&str> = query.iter().map(String::as_str).filter(|g| universe.contains(g)).collect();
    let (m, n_draws) = (universe.len() as u64, hits.len() as u64);
    let mut tests = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let members: HashSet<&str> = set.iter().map(String::as_str).filter(|g| universe.contains(g)).collect();
        if members.len() < min_size || members.len() > max_size {
            continue;
        }
        let overlap = members.iter().filter(|g| hits.contains(*g)).count();
        let p = hypergeom_sf(overlap as u64, m, members.len() as u64, n_draws)?;
        tests.push(SetTest { set: i, size: members.len(), overlap, p, q: f64::NAN });
    }
    let q = bh_fdr(&tests.iter().map(|t| t.p).collect::<Vec<_>>())?;
    for (t, q) in tests.iter_mut().zip(q) {
        t.q = q;
    }
    Ok(tests)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genes(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn matches_scipy_hypergeom() {
        // Background of 100 genes; the set holds 20 of them, the query 10, 6 shared.
        // scipy.stats.hypergeom.sf(5, 100, 20, 10) = 0.003933076466791354
        let background = genes("g", 100);
        let set: Vec<String> = background[..20].to_vec();
        let mut query: Vec<String> = background[..6].to_vec();
        query.extend(background[50..54].iter().cloned());
        let t = over_representation(&query, &background, &[set], 1, 500).unwrap();
        assert_eq!((t[0].size, t[0].overlap), (20, 6));
        assert!((t[0].p - 0.003933076466791354).abs() < 1e-12, "{}", t[0].p);
    }

    #[test]
    fn sets_outside_the_size_range_are_not_tested() {
        let background = genes("g", 50);
        let sets = vec![background[..3].to_vec(), background[..30].to_vec()];
        let t = over_representation(&background[..5], &background, &sets, 5, 20).unwrap();
        assert!(t.is_empty());
    }
}
