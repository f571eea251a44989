//! Resolution sweeps: the TF–TF graph, the stability of repeated Leiden runs, and the choice
//! of resolution (method.md §4.1, §4.3).

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::AlgoError;
use super::partition::{adjusted_rand_index, variation_of_information};

/// The undirected TF–TF graph of a directed GRN: `w_ab = |w_a→b| + |w_b→a|` over edges whose
/// ends are both in `tfs`, without self-loops or zero weights. Returns the TFs that have at
/// least one edge (sorted) and the edges over their indices.
///
/// # Example
/// ```
/// use gcrl::algo::stability::tf_graph;
/// let edges = [("A".to_string(), "B".to_string(), -0.5), ("B".to_string(), "A".to_string(), 0.25)];
/// let (nodes, g) = tf_graph(&edges, &["A".into(), "B".into(), "C".into()]);
/// assert_eq!(nodes, vec!["A", "B"]);
/// assert_eq!(g, vec![(0, 1, 0.75)]);
/// ```
pub fn tf_graph(edges: &[(String, String, f64)], tfs: &[String]) -> (Vec<String>, Vec<(usize, usize, f64)>) {
    let tf_set: std::collections::HashSet<&str> = tfs.iter().map(String::as_str).collect();
    let mut pairs: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for (s, t, w) in edges {
        if s == t || !tf_set.contains(s.as_str()) || !tf_set.contains(t.as_str()) || !w.is_finite() {
            continue;
        }
        let key = if s < t { (s.as_str(), t.as_str()) } else { (t.as_str(), s.as_str()) };
        *pairs.entry(key).or_insert(0.0) += w.abs();
    }
    pairs.retain(|_, w| *w > 0.0);
    let mut nodes: Vec<String> = pairs.keys().flat_map(|(a, b)| [a.to_string(), b.to_string()]).collect();
    nodes.sort();
    nodes.dedup();
    let index: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let g = pairs.iter().map(|((a, b), w)| (index[a], index[b], *w)).collect();
    (nodes, g)
}

/// Agreement among repeated runs at one resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stability {
    /// Mean adjusted Rand index over the sampled pairs.
    pub ari: f64,
    /// Mean variation of information (natural log) over the sampled pairs.
    pub vi: f64,
}

/// Mean ARI and VI over `pairs` random unordered pairs `i ≠ j` of `partitions`, drawn with a
/// generator seeded by `seed` (all pairs when there are fewer).
///
/// # Complexity
/// `O(pairs · n)` for partitions of `n` items.
pub fn stability(partitions: &[Vec<usize>], pairs: usize, seed: u64) -> Result<Stability, AlgoError> {
    let r = partitions.len();
    if r < 2 {
        return Err(AlgoError::TooFew(format!("stability needs at least 2 runs, got {r}")));
    }
    let all = r * (r - 1) / 2;
    let chosen: Vec<(usize, usize)> = if all <= pairs {
        (0..r).flat_map(|i| (i + 1..r).map(move |j| (i, j))).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..pairs)
            .map(|_| {
                let i = rng.random_range(0..r);
                let mut j = rng.random_range(0..r - 1);
                if j >= i {
                    j += 1;
                }
                (i, j)
            })
            .collect()
    };
    let (mut ari, mut vi) = (0.0, 0.0);
    for &(i, j) in &chosen {
        ari += adjusted_rand_index(&partitions[i], &partitions[j])?;
        vi += variation_of_information(&partitions[i], &partitions[j])?;
    }
    let n = chosen.len() as f64;
    Ok(Stability { ari: ari / n, vi: vi / n })
}

/// Index of the chosen resolution: highest mean ARI; values within `tolerance` of the best are
/// tied and the one with the fewest communities wins, then the lower VI, then the earlier one.
pub fn select_resolution(stability: &[Stability], n_communities: &[usize], tolerance: f64) -> Option<usize> {
    let best = stability.iter().map(|s| s.ari).fold(f64::NEG_INFINITY, f64::max);
    (0..stability.len()).filter(|&i| stability[i].ari >= best - tolerance).min_by(|&a, &b| {
        n_communities[a].cmp(&n_communities[b]).then(stability[a].vi.total_cmp(&stability[b].vi)).then(a.cmp(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_runs_are_perfectly_stable() {
        let runs = vec![vec![0, 0, 1, 1]; 5];
        let s = stability(&runs, 200, 1).unwrap();
        assert_eq!(s, Stability { ari: 1.0, vi: 0.0 });
    }

    #[test]
    fn stability_averages_the_reference_ari() {
        // ARI([0,0,1,1],[0,0,1,2]) = 0.5714285714285714 (method.md §10); two runs → one pair.
        let s = stability(&[vec![0, 0, 1, 1], vec![0, 0, 1, 2]], 200, 1).unwrap();
        assert!((s.ari - 0.5714285714285714).abs() < 1e-15);
        assert!((s.vi - std::f64::consts::LN_2 / 2.0).abs() < 1e-15);
    }

    #[test]
    fn ties_go_to_fewer_communities() {
        let s = [Stability { ari: 0.9, vi: 0.1 }, Stability { ari: 0.8995, vi: 0.2 }, Stability { ari: 0.5, vi: 1.0 }];
        assert_eq!(select_resolution(&s, &[6, 4, 2], 1e-3), Some(1));
        assert_eq!(select_resolution(&s, &[6, 4, 2], 1e-6), Some(0));
    }
}
