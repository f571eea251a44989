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

impl Stability {
    /// The paper's stability score (A.2), mean ARI over mean VI; infinite when every sampled
    /// pair is identical (VI = 0).
    pub fn ari_over_vi(&self) -> f64 {
        if self.vi > 0.0 { self.ari / self.vi } else { f64::INFINITY }
    }
}

/// The agreement of one sampled pair of runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairScore {
    /// Index of the first run.
    pub a: usize,
    /// Index of the second run.
    pub b: usize,
    /// Their adjusted Rand index.
    pub ari: f64,
    /// Their variation of information (natural log).
    pub vi: f64,
}

/// ARI and VI of `pairs` random unordered pairs `i ≠ j` of `partitions`, drawn with a
/// generator seeded by `seed` (all pairs when there are fewer).
///
/// # Complexity
/// `O(pairs · n)` for partitions of `n` items.
pub fn pair_scores(partitions: &[Vec<usize>], pairs: usize, seed: u64) -> Result<Vec<PairScore>, AlgoError> {
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
    chosen
        .into_iter()
        .map(|(a, b)| {
            Ok(PairScore {
                a,
                b,
                ari: adjusted_rand_index(&partitions[a], &partitions[b])?,
                vi: variation_of_information(&partitions[a], &partitions[b])?,
            })
        })
        .collect()
}

/// Mean ARI and VI over the pairs of [`pair_scores`].
///
/// # Complexity
/// `O(pairs · n)` for partitions of `n` items.
pub fn stability(partitions: &[Vec<usize>], pairs: usize, seed: u64) -> Result<Stability, AlgoError> {
    Ok(mean_stability(&pair_scores(partitions, pairs, seed)?))
}

/// Mean ARI and VI of scored pairs (ARI 1, VI 0 for none).
pub fn mean_stability(pairs: &[PairScore]) -> Stability {
    if pairs.is_empty() {
        return Stability { ari: 1.0, vi: 0.0 };
    }
    let n = pairs.len() as f64;
    Stability { ari: pairs.iter().map(|p| p.ari).sum::<f64>() / n, vi: pairs.iter().map(|p| p.vi).sum::<f64>() / n }
}

/// Index of the chosen resolution (A.2: "the one maximizing this stability criterion,
/// prioritizing solutions with a lower number of communities in case of ties").
///
/// 1. Only resolutions whose consensus has at least 2 communities compete (one community is no
///    partition, and every later step needs two); all of them when none has.
/// 2. The score is [`Stability::ari_over_vi`]; scores at least `(1 − tolerance)` times the best
///    are tied, and when the best is infinite (identical runs) every infinite score is.
/// 3. Among the tied: fewest communities, then lower mean VI, then higher mean ARI, then the
///    smaller resolution (earlier index).
pub fn select_resolution(stability: &[Stability], n_communities: &[usize], tolerance: f64) -> Option<usize> {
    let all: Vec<usize> = (0..stability.len()).collect();
    let partitions: Vec<usize> = all.iter().copied().filter(|&i| n_communities[i] >= 2).collect();
    let candidates = if partitions.is_empty() { all } else { partitions };
    let score = |i: usize| stability[i].ari_over_vi();
    let best = candidates.iter().map(|&i| score(i)).fold(f64::NEG_INFINITY, f64::max);
    let tied = |i: &usize| if best.is_infinite() { score(*i) == best } else { score(*i) >= best * (1.0 - tolerance) };
    candidates.into_iter().filter(tied).min_by(|&a, &b| {
        n_communities[a]
            .cmp(&n_communities[b])
            .then(stability[a].vi.total_cmp(&stability[b].vi))
            .then(stability[b].ari.total_cmp(&stability[a].ari))
            .then(a.cmp(&b))
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
    fn the_best_ari_over_vi_wins_and_near_ties_go_to_fewer_communities() {
        let s = [
            Stability { ari: 0.9, vi: 0.1 },   // 9.0
            Stability { ari: 0.895, vi: 0.1 }, // 8.95
            Stability { ari: 0.95, vi: 0.2 },  // 4.75: the best ARI, not the best ratio
        ];
        assert_eq!(select_resolution(&s, &[6, 4, 2], 1e-2), Some(1));
        assert_eq!(select_resolution(&s, &[6, 4, 2], 1e-4), Some(0));
    }

    #[test]
    fn identical_runs_at_several_resolutions_choose_the_fewest_communities_but_at_least_two() {
        // Issue 16: a small graph where every γ gives identical runs (VI = 0, ARI/VI infinite);
        // the one-community γ = 0.9 must not be chosen.
        let perfect = Stability { ari: 1.0, vi: 0.0 };
        let s = [perfect, perfect, Stability { ari: 0.9, vi: 0.05 }, perfect, perfect];
        assert_eq!(select_resolution(&s, &[1, 3, 2, 2, 5], 1e-3), Some(3));
        // Only one-community partitions: the rule falls back to them.
        assert_eq!(select_resolution(&s[..2], &[1, 1], 1e-3), Some(0));
        assert!(select_resolution(&[], &[], 1e-3).is_none());
    }

    #[test]
    fn pair_scores_average_to_the_stability() {
        let runs = vec![vec![0, 0, 1, 1], vec![0, 0, 1, 2], vec![0, 1, 1, 1]];
        let pairs = pair_scores(&runs, 200, 1).unwrap();
        assert_eq!(pairs.iter().map(|p| (p.a, p.b)).collect::<Vec<_>>(), vec![(0, 1), (0, 2), (1, 2)]);
        assert!((pairs[0].ari - 0.5714285714285714).abs() < 1e-15);
        assert_eq!(mean_stability(&pairs), stability(&runs, 200, 1).unwrap());
    }
}
