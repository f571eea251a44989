//! Partitions of `n` items given as label vectors (`labels[i]` = community of item `i`):
//! agreement metrics (adjusted Rand index, variation of information; method.md §4.3), maximum
//! weight assignment (Hungarian algorithm), consensus by label alignment and majority vote
//! (§4.4, option 1) and community cohesion with its size-preserving permutation test (§4.5).
//!
//! Label values carry no meaning beyond equality: `[0, 0, 1]` and `[5, 5, 2]` are the same
//! partition. Everything here is pure and deterministic for a given seed, whatever the number of
//! rayon threads.

use std::collections::HashMap;

use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::algo::AlgoError;

/// Most alignment-and-vote rounds [`consensus_majority`] performs (method.md §4.4).
const MAX_CONSENSUS_ROUNDS: usize = 10;

/// Relative tolerance under which a permuted cohesion counts as equal to the observed one, so
/// that summation order cannot turn a tie into a miss.
const COHESION_TIE_RTOL: f64 = 1e-12;

/// Relabels a partition by order of first appearance: the first item's community becomes 0, the
/// next new community 1, and so on. Two label vectors describe the same partition exactly when
/// their canonical forms are equal.
///
/// # Complexity
/// `O(n)` expected.
pub fn canonical_labels(labels: &[usize]) -> Vec<usize> {
    let mut ids: HashMap<usize, usize> = HashMap::new();
    labels
        .iter()
        .map(|&l| {
            let next = ids.len();
            *ids.entry(l).or_insert(next)
        })
        .collect()
}

/// The non-zero cells of the contingency table of two canonical label vectors with its margins.
struct Contingency {
    /// `(row, column, count)` for every non-empty cell.
    cells: Vec<(usize, usize, usize)>,
    /// Community sizes of the first partition.
    rows: Vec<usize>,
    /// Community sizes of the second partition.
    cols: Vec<usize>,
}

impl Contingency {
    fn new(a: &[usize], b: &[usize]) -> Result<Self, AlgoError> {
        check_same_length(a, b)?;
        let (a, b) = (canonical_labels(a), canonical_labels(b));
        let mut pairs: Vec<(usize, usize)> = a.iter().copied().zip(b.iter().copied()).collect();
        pairs.sort_unstable();
        let cells = pairs.chunk_by(|x, y| x == y).map(|run| (run[0].0, run[0].1, run.len())).collect();
        Ok(Self { cells, rows: community_sizes(&a), cols: community_sizes(&b) })
    }
}

/// Adjusted Rand index of two partitions (scikit-learn `adjusted_rand_score`).
///
/// Computed from the pair-confusion counts in exact integer arithmetic; returns 1.0 when neither
/// partition splits a pair the other joins (both trivial in the same way, or `n ≤ 1`), as
/// scikit-learn does. Symmetric; 1 for identical partitions, about 0 for independent ones.
///
/// # Returns
/// The index, or [`AlgoError::Shape`] if the lengths differ.
///
/// # Complexity
/// `O(n log n)`.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> Result<f64, AlgoError> {
    let table = Contingency::new(a, b)?;
    let sum_sq = |v: &[usize]| v.iter().map(|&x| (x as i128).pow(2)).sum::<i128>();
    let n = a.len() as i128;
    let cells = sum_sq(&table.cells.iter().map(|c| c.2).collect::<Vec<_>>());
    let rows = sum_sq(&table.rows);
    let cols = sum_sq(&table.cols);
    // Ordered pairs of distinct items: together in both, only in b, only in a, in neither.
    let together = cells - n;
    let only_b = cols - cells;
    let only_a = rows - cells;
    let neither = n * n - only_a - only_b - cells;
    if only_a == 0 && only_b == 0 {
        return Ok(1.0);
    }
    let numerator = 2 * (together * neither - only_a * only_b);
    let denominator = (together + only_a) * (only_a + neither) + (together + only_b) * (only_b + neither);
    Ok(numerator as f64 / denominator as f64)
}

/// Variation of information `H(U) + H(V) − 2 I(U; V)` of two partitions, natural log.
///
/// Evaluated as the sum of the two conditional entropies,
/// `−Σ_ij (n_ij/n) [ln(n_ij/a_i) + ln(n_ij/b_j)]`, which is never negative and equals
/// scikit-learn's `entropy(a) + entropy(b) − 2·mutual_info_score(a, b)` to rounding. Range
/// `[0, ln n]`; 0 for identical partitions and for `n = 0`.
///
/// # Returns
/// The distance, or [`AlgoError::Shape`] if the lengths differ.
///
/// # Complexity
/// `O(n log n)`.
pub fn variation_of_information(a: &[usize], b: &[usize]) -> Result<f64, AlgoError> {
    let table = Contingency::new(a, b)?;
    let n = a.len() as f64;
    Ok(table
        .cells
        .iter()
        .map(|&(i, j, nij)| {
            let nij = nij as f64;
            let (ai, bj) = (table.rows[i] as f64, table.cols[j] as f64);
            nij / n * ((ai / nij).ln() + (bj / nij).ln())
        })
        .sum())
}

/// Maximum-weight assignment of rows to columns (scipy
/// `linear_sum_assignment(weights, maximize=True)`).
///
/// Exactly `min(rows, cols)` pairs are formed, each row and column used at most once, so as to
/// maximise the summed weight (negative weights included). Uses the shortest-augmenting-path
/// Hungarian algorithm with dual potentials on the smaller side.
///
/// # Arguments
/// * `weights` — `rows × cols` matrix of finite weights; rectangular is allowed.
///
/// # Returns
/// For each row, the column assigned to it (`None` for the `rows − cols` rows left over when
/// there are more rows than columns). [`AlgoError::NonFinite`] for NaN/infinite weights. Among
/// optimal assignments the one returned may differ from scipy's; the total does not.
///
/// # Complexity
/// `O(s² · l)` time and `O(s · l)` memory with `s`/`l` the smaller/larger dimension.
pub fn hungarian_max(weights: ArrayView2<f64>) -> Result<Vec<Option<usize>>, AlgoError> {
    if weights.iter().any(|w| !w.is_finite()) {
        return Err(AlgoError::NonFinite("assignment weights contain NaN or infinity".into()));
    }
    let (rows, cols) = weights.dim();
    if rows <= cols {
        return Ok(min_cost_assignment(weights.mapv(|w| -w).view()).into_iter().map(Some).collect());
    }
    let by_col = min_cost_assignment(weights.t().mapv(|w| -w).view());
    let mut by_row = vec![None; rows];
    for (col, row) in by_col.into_iter().enumerate() {
        by_row[row] = Some(col);
    }
    Ok(by_row)
}

/// Minimum-cost assignment for `rows ≤ cols`: returns the column of each row.
///
/// Rows are inserted one at a time; each insertion grows a Dijkstra-like tree over columns with
/// reduced costs `cost − u_row − v_col` and augments along the cheapest path to a free column,
/// updating the potentials so reduced costs stay non-negative.
fn min_cost_assignment(cost: ArrayView2<f64>) -> Vec<usize> {
    let (rows, cols) = cost.dim();
    // Index 0 is a virtual column/row used as the root of each search; real ones are 1-based.
    let mut u = vec![0.0; rows + 1];
    let mut v = vec![0.0; cols + 1];
    let mut row_of_col = vec![0_usize; cols + 1];
    let mut prev_col = vec![0_usize; cols + 1];
    for row in 1..=rows {
        row_of_col[0] = row;
        let mut col = 0;
        let mut slack = vec![f64::INFINITY; cols + 1];
        let mut in_tree = vec![false; cols + 1];
        loop {
            in_tree[col] = true;
            let r = row_of_col[col];
            let mut delta = f64::INFINITY;
            let mut next = 0;
            for j in 1..=cols {
                if in_tree[j] {
                    continue;
                }
                let reduced = cost[[r - 1, j - 1]] - u[r] - v[j];
                if reduced < slack[j] {
                    slack[j] = reduced;
                    prev_col[j] = col;
                }
                if slack[j] < delta {
                    delta = slack[j];
                    next = j;
                }
            }
            for j in 0..=cols {
                if in_tree[j] {
                    u[row_of_col[j]] += delta;
                    v[j] -= delta;
                } else {
                    slack[j] -= delta;
                }
            }
            col = next;
            if row_of_col[col] == 0 {
                break;
            }
        }
        // Augment: shift assignments back along the path to the root.
        while col != 0 {
            let back = prev_col[col];
            row_of_col[col] = row_of_col[back];
            col = back;
        }
    }
    let mut col_of_row = vec![0; rows];
    for j in 1..=cols {
        if row_of_col[j] != 0 {
            col_of_row[row_of_col[j] - 1] = j - 1;
        }
    }
    col_of_row
}

/// Consensus of many partitions of the same items, from [`consensus_majority`].
#[derive(Debug, Clone, PartialEq)]
pub struct Consensus {
    /// Community of each item, numbered by decreasing size, ties by smallest item index.
    pub labels: Vec<usize>,
    /// Number of communities in `labels`.
    pub n_communities: usize,
    /// Fraction of input partitions identical to the consensus (up to relabelling).
    pub fraction_identical: f64,
    /// Mean adjusted Rand index between each input partition and the consensus.
    pub mean_ari: f64,
    /// Alignment-and-vote rounds performed.
    pub rounds: usize,
    /// Whether the last round left the partition unchanged (false: stopped after 10 rounds).
    pub converged: bool,
}

/// Consensus partition by label alignment and majority vote (method.md §4.4, option 1).
///
/// 1. Reference = the most frequent exact partition (ties: the highest quality of any run
///    producing it, then the earliest run).
/// 2. Each run's communities are matched to the reference's by a maximum-weight assignment on
///    their overlap counts; unmatched communities (or matches with no overlap) get labels of
///    their own.
/// 3. Each item takes the label most runs give it (a majority when one exists); a tie goes to
///    the item's current label if tied, else to the smallest tied label.
/// 4. The voted partition becomes the reference; steps 2–3 repeat until it stops changing, at
///    most 10 rounds.
///
/// # Arguments
/// * `partitions` — one label vector per run, all of the same length.
/// * `qualities` — one finite quality per run (e.g. the Leiden objective), used to break ties.
///
/// # Returns
/// The consensus with its agreement statistics. Errors: [`AlgoError::TooFew`] for no runs,
/// [`AlgoError::Shape`] for ragged input, [`AlgoError::NonFinite`] for a NaN quality.
///
/// # Complexity
/// Per round `O(R · (n + k³))` for `R` runs with up to `k` communities; parallel over runs.
pub fn consensus_majority(partitions: &[Vec<usize>], qualities: &[f64]) -> Result<Consensus, AlgoError> {
    let Some(first) = partitions.first() else {
        return Err(AlgoError::TooFew("consensus needs at least one partition".into()));
    };
    if qualities.len() != partitions.len() {
        return Err(AlgoError::Shape {
            what: "consensus: number of qualities".into(),
            expected: partitions.len(),
            got: qualities.len(),
        });
    }
    for p in partitions {
        check_same_length(first, p)?;
    }
    if let Some(q) = qualities.iter().find(|q| !q.is_finite()) {
        return Err(AlgoError::NonFinite(format!("consensus: quality {q}")));
    }
    let runs: Vec<Vec<usize>> = partitions.par_iter().map(|p| canonical_labels(p)).collect();

    let mut current = renumber_by_size(&runs[most_frequent(&runs, qualities)]);
    let mut rounds = 0;
    let mut converged = false;
    while rounds < MAX_CONSENSUS_ROUNDS && !converged {
        rounds += 1;
        let aligned: Vec<Vec<usize>> = runs.par_iter().enumerate().map(|(r, run)| align_to(run, &current, r)).collect();
        let voted = renumber_by_size(&vote(&aligned, &current));
        converged = voted == current;
        current = voted;
    }

    let canonical = canonical_labels(&current);
    let identical = runs.iter().filter(|run| **run == canonical).count();
    let aris = runs.par_iter().map(|run| adjusted_rand_index(run, &current)).collect::<Result<Vec<f64>, _>>()?;
    let n_runs = runs.len() as f64;
    Ok(Consensus {
        n_communities: label_count(&current),
        labels: current,
        fraction_identical: identical as f64 / n_runs,
        mean_ari: aris.iter().sum::<f64>() / n_runs,
        rounds,
        converged,
    })
}

/// Index of a run holding the most frequent canonical partition (ties: highest quality among
/// its runs, then earliest first occurrence).
fn most_frequent(runs: &[Vec<usize>], qualities: &[f64]) -> usize {
    // partition -> (count, best quality, first run index)
    let mut groups: HashMap<&[usize], (usize, f64, usize)> = HashMap::new();
    for (r, (run, &q)) in runs.iter().zip(qualities).enumerate() {
        let entry = groups.entry(run).or_insert((0, q, r));
        entry.0 += 1;
        entry.1 = entry.1.max(q);
    }
    groups
        .into_values()
        .max_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)).then(y.2.cmp(&x.2)))
        .map(|(_, _, first)| first)
        .expect("at least one run")
}

/// Relabels `run` (canonical) onto the labels of `reference` (labels `0..k`) by a maximum
/// overlap matching; a community without a matched overlap gets a label `≥ k` unique to this
/// run (`k + run_index · n + community`).
fn align_to(run: &[usize], reference: &[usize], run_index: usize) -> Vec<usize> {
    let k_run = label_count(run);
    let k_ref = label_count(reference);
    let mut overlap = Array2::<f64>::zeros((k_run, k_ref));
    for (&a, &b) in run.iter().zip(reference) {
        overlap[[a, b]] += 1.0;
    }
    let matching = hungarian_max(overlap.view()).expect("overlap counts are finite");
    let fresh_base = k_ref + run_index * run.len();
    let mapping: Vec<usize> = matching
        .iter()
        .enumerate()
        .map(|(c, m)| match m {
            Some(target) if overlap[[c, *target]] > 0.0 => *target,
            _ => fresh_base + c,
        })
        .collect();
    run.iter().map(|&c| mapping[c]).collect()
}

/// Per item, the label given by most aligned runs; ties go to `current[item]` when it is among
/// the most frequent, else to the smallest tied label.
fn vote(aligned: &[Vec<usize>], current: &[usize]) -> Vec<usize> {
    (0..current.len())
        .into_par_iter()
        .map(|item| {
            let mut labels: Vec<usize> = aligned.iter().map(|run| run[item]).collect();
            labels.sort_unstable();
            labels
                .chunk_by(|a, b| a == b)
                .map(|group| (group.len(), group[0] == current[item], group[0]))
                .max_by(|x, y| x.0.cmp(&y.0).then(x.1.cmp(&y.1)).then(y.2.cmp(&x.2)))
                .map(|(_, _, label)| label)
                .expect("at least one run")
        })
        .collect()
}

/// Renumbers communities `0..k` by decreasing size, ties by smallest item index.
fn renumber_by_size(labels: &[usize]) -> Vec<usize> {
    let canonical = canonical_labels(labels);
    let sizes = community_sizes(&canonical);
    let k = sizes.len();
    // Canonical ids already increase with the smallest item index.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&x, &y| sizes[y].cmp(&sizes[x]).then(x.cmp(&y)));
    let mut new_id = vec![0; k];
    for (rank, &c) in order.iter().enumerate() {
        new_id[c] = rank;
    }
    canonical.iter().map(|&c| new_id[c]).collect()
}

/// Cohesion of one community and its permutation p-value, from [`cohesion`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cohesion {
    /// The community's label as given.
    pub label: usize,
    /// Number of items in the community.
    pub size: usize,
    /// Total weight of edges with both ends in the community.
    pub w_int: f64,
    /// Total weight of edges with exactly one end in the community.
    pub w_bnd: f64,
    /// `w_int / (w_int + w_bnd)`, 0 when both are 0.
    pub cohesion: f64,
    /// One-sided empirical p-value `(1 + #{perm: cohesion ≥ observed}) / (1 + n_permutations)`.
    pub p_perm: f64,
}

/// Cohesion of every community of a weighted undirected graph and its size-preserving
/// permutation test (method.md §4.5).
///
/// The null distribution permutes the label vector over the items (community sizes preserved)
/// and recomputes each label's cohesion. Permutation `i` shuffles with a ChaCha8 generator
/// seeded by `seed` on stream `i`, so results depend only on `seed`, not on the thread count.
/// A permuted cohesion within a relative 1e-12 of the observed one counts as `≥`.
///
/// # Arguments
/// * `edges` — `(i, j, weight)` with `i, j < labels.len()`, each undirected edge once, weight
///   finite and non-negative; a self-loop counts as internal.
/// * `labels` — community of each item.
/// * `n_permutations` — number of shuffles (0 gives p = 1).
/// * `seed` — seed of the permutations.
///
/// # Returns
/// One row per community, by increasing label. [`AlgoError::Param`] for an edge endpoint out of
/// range or a negative weight, [`AlgoError::NonFinite`] for a NaN/infinite weight.
///
/// # Complexity
/// `O(P · (n + E))` for `P` permutations and `E` edges, parallel over permutations.
pub fn cohesion(
    edges: &[(usize, usize, f64)],
    labels: &[usize],
    n_permutations: usize,
    seed: u64,
) -> Result<Vec<Cohesion>, AlgoError> {
    let (distinct, dense) = cohesion_labels(edges, labels)?;
    let k = distinct.len();

    let (w_int, w_bnd) = edge_weights(edges, &dense, k);
    let observed: Vec<f64> = w_int.iter().zip(&w_bnd).map(|(&i, &b)| ratio(i, b)).collect();
    let at_least = (0..n_permutations)
        .into_par_iter()
        .map(|perm| {
            let (int, bnd) = edge_weights(edges, &shuffled(&dense, seed, perm), k);
            observed
                .iter()
                .enumerate()
                .map(|(c, &obs)| u64::from(ratio(int[c], bnd[c]) >= obs - COHESION_TIE_RTOL * obs.abs()))
                .collect::<Vec<u64>>()
        })
        .reduce(
            || vec![0; k],
            |mut acc, hits| {
                acc.iter_mut().zip(hits).for_each(|(a, h)| *a += h);
                acc
            },
        );

    let sizes = community_sizes(&dense);
    Ok((0..k)
        .map(|c| Cohesion {
            label: distinct[c],
            size: sizes[c],
            w_int: w_int[c],
            w_bnd: w_bnd[c],
            cohesion: observed[c],
            p_perm: (1 + at_least[c]) as f64 / (1 + n_permutations) as f64,
        })
        .collect())
}

/// The paper's cohesion statistic (A.2) and its null: the mean cohesion over communities.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanCohesion {
    /// Mean of the communities' `w_int / (w_int + w_bnd)`.
    pub observed: f64,
    /// The mean under each size-preserving permutation, in permutation order.
    pub null: Vec<f64>,
    /// `(1 + #{null ≥ observed}) / (1 + permutations)` (ties within a relative 1e-12 count).
    pub p_perm: f64,
}

/// The mean cohesion over communities against its size-preserving permutation null (A.2: "we
/// perform a permutation test by randomly reassigning TFs to communities (while preserving
/// community sizes) and recomputing the mean w_ratio across communities").
///
/// Uses the same shuffles as [`cohesion`] for the same `seed`; arguments and errors as there.
///
/// # Complexity
/// `O(P · (n + E))`, parallel over permutations.
pub fn mean_cohesion(
    edges: &[(usize, usize, f64)],
    labels: &[usize],
    n_permutations: usize,
    seed: u64,
) -> Result<MeanCohesion, AlgoError> {
    let (distinct, dense) = cohesion_labels(edges, labels)?;
    let k = distinct.len();
    let mean = |labels: &[usize]| {
        let (int, bnd) = edge_weights(edges, labels, k);
        int.iter().zip(&bnd).map(|(&i, &b)| ratio(i, b)).sum::<f64>() / k.max(1) as f64
    };
    let observed = mean(&dense);
    let null: Vec<f64> = (0..n_permutations).into_par_iter().map(|perm| mean(&shuffled(&dense, seed, perm))).collect();
    let at_least = null.iter().filter(|&&v| v >= observed - COHESION_TIE_RTOL * observed.abs()).count();
    Ok(MeanCohesion { observed, null, p_perm: (1 + at_least) as f64 / (1 + n_permutations) as f64 })
}

/// Checks the edges of a cohesion test and renumbers `labels` densely: the distinct labels in
/// increasing order and each item's index among them.
fn cohesion_labels(edges: &[(usize, usize, f64)], labels: &[usize]) -> Result<(Vec<usize>, Vec<usize>), AlgoError> {
    let n = labels.len();
    for &(i, j, w) in edges {
        if i >= n || j >= n {
            return Err(AlgoError::Param {
                name: "edges".into(),
                why: format!("edge ({i}, {j}) has an endpoint outside 0..{n}"),
            });
        }
        if !w.is_finite() {
            return Err(AlgoError::NonFinite(format!("weight {w} of edge ({i}, {j})")));
        }
        if w < 0.0 {
            return Err(AlgoError::Param {
                name: "edges".into(),
                why: format!("edge ({i}, {j}) has negative weight {w}"),
            });
        }
    }
    let mut distinct: Vec<usize> = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let dense = labels.iter().map(|l| distinct.binary_search(l).expect("label is in its own set")).collect();
    Ok((distinct, dense))
}

/// Permutation `perm` of a cohesion test: `labels` shuffled by ChaCha8 seeded by `seed` on
/// stream `perm`.
fn shuffled(labels: &[usize], seed: u64, perm: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(perm as u64);
    let mut out = labels.to_vec();
    out.shuffle(&mut rng);
    out
}

/// Number of labels `k` of a labelling numbered `0..k` (largest label + 1, 0 when empty).
fn label_count(labels: &[usize]) -> usize {
    labels.iter().max().map_or(0, |m| m + 1)
}

/// Size of each community of labels numbered `0..k` (`k` = largest label + 1).
fn community_sizes(labels: &[usize]) -> Vec<usize> {
    let mut sizes = vec![0; label_count(labels)];
    for &l in labels {
        sizes[l] += 1;
    }
    sizes
}

/// Internal and boundary edge weight of each of the `k` communities of `labels`.
fn edge_weights(edges: &[(usize, usize, f64)], labels: &[usize], k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut int = vec![0.0; k];
    let mut bnd = vec![0.0; k];
    for &(i, j, w) in edges {
        let (a, b) = (labels[i], labels[j]);
        if a == b {
            int[a] += w;
        } else {
            bnd[a] += w;
            bnd[b] += w;
        }
    }
    (int, bnd)
}

/// `int / (int + bnd)`, 0 for a community without edges.
fn ratio(int: f64, bnd: f64) -> f64 {
    let total = int + bnd;
    if total > 0.0 { int / total } else { 0.0 }
}

/// [`AlgoError::Shape`] unless the two label vectors have the same length.
fn check_same_length(a: &[usize], b: &[usize]) -> Result<(), AlgoError> {
    if a.len() == b.len() {
        Ok(())
    } else {
        Err(AlgoError::Shape { what: "partition length".into(), expected: a.len(), got: b.len() })
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    fn assert_close(actual: f64, expected: f64, tol: f64) {
        assert!((actual - expected).abs() <= tol, "got {actual}, expected {expected}");
    }

    #[test]
    fn ari_and_vi_match_method_golden_values() {
        // method.md §10 (scikit-learn adjusted_rand_score; VI = H(a) + H(b) − 2·MI(a, b))
        let ari = |a: &[usize], b: &[usize]| adjusted_rand_index(a, b).unwrap();
        let vi = |a: &[usize], b: &[usize]| variation_of_information(a, b).unwrap();
        assert_close(ari(&[0, 0, 1, 1], &[0, 0, 1, 2]), 0.5714285714285714, 1e-15);
        assert_eq!(ari(&[0, 0, 0, 0], &[0, 1, 2, 3]), 0.0);
        assert_eq!(ari(&[0, 1, 2, 3], &[3, 2, 1, 0]), 1.0);
        assert_close(vi(&[0, 0, 1, 1], &[0, 0, 1, 2]), 0.3465735902799727, 1e-15);
        assert_close(vi(&[0, 0, 0, 0], &[0, 1, 2, 3]), 1.3862943611198906, 1e-15);
        assert_eq!(vi(&[4, 4, 9], &[1, 1, 0]), 0.0);
    }

    #[test]
    fn ari_special_cases_match_sklearn() {
        // adjusted_rand_score returns 1.0 when no pair is split differently, including n ≤ 1.
        assert_eq!(adjusted_rand_index(&[], &[]).unwrap(), 1.0);
        assert_eq!(adjusted_rand_index(&[3], &[8]).unwrap(), 1.0);
        assert_eq!(adjusted_rand_index(&[1, 1, 1], &[0, 0, 0]).unwrap(), 1.0);
        assert_eq!(variation_of_information(&[], &[]).unwrap(), 0.0);
        assert!(matches!(adjusted_rand_index(&[0, 1], &[0]), Err(AlgoError::Shape { .. })));
        assert!(matches!(variation_of_information(&[0], &[0, 1]), Err(AlgoError::Shape { .. })));
    }

    #[test]
    fn ari_and_vi_match_sklearn_on_random_labelings() {
        // a = rng.integers(0, ka, n), b = rng.integers(0, kb, n) with rng = default_rng(11), for
        // (n, ka, kb) in (30,3,4), (40,6,2), (25,5,5), (50,10,3); expected values are
        // adjusted_rand_score(a, b) and
        // mutual_info_score(a, a) + mutual_info_score(b, b) − 2·mutual_info_score(a, b).
        let cases: [(&[usize], &[usize], f64, f64); 4] = [
            (
                &[0, 0, 2, 1, 1, 1, 2, 0, 1, 0, 1, 2, 1, 0, 1, 0, 2, 2, 2, 1, 2, 1, 0, 1, 1, 1, 2, 0, 2, 0],
                &[1, 3, 0, 2, 1, 2, 3, 3, 3, 2, 3, 3, 0, 0, 1, 2, 3, 1, 3, 1, 3, 2, 2, 0, 2, 3, 3, 3, 3, 0],
                0.03579435345974085,
                2.072801488532947,
            ),
            (
                &[
                    4, 2, 4, 1, 0, 0, 5, 5, 1, 2, 1, 0, 5, 4, 0, 1, 3, 5, 5, 1, 3, 0, 1, 1, 2, 2, 4, 2, 2, 5, 3, 4, 4,
                    2, 5, 0, 1, 0, 0, 5,
                ],
                &[
                    0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1,
                    0, 0, 1, 1, 1, 1, 0,
                ],
                0.007885388609126753,
                2.2868278866735277,
            ),
            (
                &[2, 4, 2, 0, 3, 0, 3, 0, 1, 1, 4, 3, 3, 2, 1, 4, 4, 1, 1, 1, 2, 1, 2, 4, 1],
                &[4, 2, 1, 4, 2, 3, 1, 4, 3, 4, 0, 0, 0, 2, 2, 4, 1, 0, 4, 1, 3, 1, 2, 0, 3],
                -0.060708643647032275,
                2.504004306357781,
            ),
            (
                &[
                    9, 6, 8, 7, 5, 9, 4, 1, 5, 6, 1, 1, 6, 4, 4, 7, 6, 8, 1, 7, 5, 0, 0, 3, 6, 1, 5, 9, 1, 1, 9, 2, 8,
                    3, 7, 0, 6, 8, 3, 6, 2, 1, 0, 4, 5, 0, 2, 6, 3, 2,
                ],
                &[
                    0, 0, 1, 0, 2, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 2, 1, 0, 2, 1, 0, 0, 0, 2, 1, 2, 2, 1, 2, 1,
                    2, 2, 0, 2, 2, 2, 2, 1, 0, 2, 1, 2, 0, 1, 2, 1, 2,
                ],
                -0.00010534355165784415,
                2.8779471247338737,
            ),
        ];
        for (a, b, ari, vi) in cases {
            assert_close(adjusted_rand_index(a, b).unwrap(), ari, 1e-12);
            assert_close(adjusted_rand_index(b, a).unwrap(), ari, 1e-12);
            assert_close(variation_of_information(a, b).unwrap(), vi, 1e-12);
        }
    }

    /// Checks that `assignment` is a valid matching and returns its total weight.
    fn total(weights: ArrayView2<f64>, assignment: &[Option<usize>]) -> f64 {
        let (rows, cols) = weights.dim();
        assert_eq!(assignment.len(), rows);
        let mut used: Vec<usize> = assignment.iter().flatten().copied().collect();
        assert_eq!(used.len(), rows.min(cols));
        used.sort_unstable();
        used.dedup();
        assert_eq!(used.len(), rows.min(cols), "a column is used twice");
        assignment.iter().enumerate().filter_map(|(r, c)| c.map(|c| weights[[r, c]])).sum()
    }

    #[test]
    fn hungarian_totals_match_scipy() {
        // W[r, c].sum() for r, c = scipy.optimize.linear_sum_assignment(W, maximize=True),
        // W = np.round(default_rng(11).normal(0, 1, shape), 3) (drawn after the labelings above)
        let cases = [
            (
                array![
                    [-0.547, -0.093, 0.252, -0.339, -1.924],
                    [-0.072, 0.225, 1.084, 0.578, -0.644],
                    [-0.724, 2.011, 0.757, 1.831, 2.129]
                ],
                3.12,
            ),
            (
                array![
                    [-0.818, 0.385, 0.458],
                    [0.56, 0.542, 0.202],
                    [0.174, -1.502, -0.165],
                    [-0.748, 0.126, -0.468],
                    [0.619, 0.819, 0.309]
                ],
                1.837,
            ),
            (
                array![
                    [0.316, 0.093, -0.448, -0.165, -0.496, 0.388],
                    [0.014, 0.581, -1.329, 0.888, -0.763, -0.734],
                    [-0.197, -0.563, 0.291, -0.574, -1.069, -0.846],
                    [1.312, 0.044, -1.168, 0.008, -1.556, 1.79],
                    [-1.524, 0.479, 0.544, -1.45, 0.3, 0.997],
                    [0.468, 0.261, 0.949, 0.161, 0.336, -0.127]
                ],
                4.1000000000000005,
            ),
            (array![[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], 3.0),
        ];
        for (w, expected) in cases {
            let assignment = hungarian_max(w.view()).unwrap();
            assert_close(total(w.view(), &assignment), expected, 1e-12);
        }
        let tall = array![[1.0], [5.0], [2.0]];
        assert_eq!(hungarian_max(tall.view()).unwrap(), vec![None, Some(0), None]);
    }

    #[test]
    fn hungarian_matches_brute_force() {
        // Every permutation of 5 columns on a pseudo-random 5×7 matrix (first 5 of 7 columns
        // chosen in all ordered ways).
        let w = Array2::from_shape_fn((5, 7), |(i, j)| ((i * 7 + j) * 37 % 23) as f64 - 11.0);
        let mut best = f64::NEG_INFINITY;
        let mut cols = [0_usize; 5];
        fn search(w: &Array2<f64>, row: usize, cols: &mut [usize; 5], best: &mut f64) {
            if row == 5 {
                let s: f64 = (0..5).map(|r| w[[r, cols[r]]]).sum();
                *best = best.max(s);
                return;
            }
            for c in 0..7 {
                if !cols[..row].contains(&c) {
                    cols[row] = c;
                    search(w, row + 1, cols, best);
                }
            }
        }
        search(&w, 0, &mut cols, &mut best);
        let assignment = hungarian_max(w.view()).unwrap();
        assert_eq!(total(w.view(), &assignment), best);
        let transposed = w.t().to_owned();
        let assignment = hungarian_max(transposed.view()).unwrap();
        assert_eq!(total(transposed.view(), &assignment), best);
    }

    #[test]
    fn hungarian_rejects_nan_and_handles_empty() {
        assert!(matches!(hungarian_max(array![[1.0, f64::NAN]].view()), Err(AlgoError::NonFinite(_))));
        assert_eq!(hungarian_max(Array2::zeros((2, 0)).view()).unwrap(), vec![None, None]);
    }

    #[test]
    fn canonical_labels_number_by_first_appearance() {
        assert_eq!(canonical_labels(&[7, 7, 3, 9, 3]), vec![0, 0, 1, 2, 1]);
        assert!(canonical_labels(&[]).is_empty());
    }

    /// Relabels a partition with `map[label]`.
    fn relabel(p: &[usize], map: &[usize]) -> Vec<usize> {
        p.iter().map(|&l| map[l]).collect()
    }

    #[test]
    fn consensus_recovers_truth_never_seen_exactly() {
        // Truth T = three blocks of 4. Three runs give P (item 0 moved to block 1), the most
        // frequent exact partition; seven runs each move a different other item. Voting must
        // return T although no run equals it.
        let truth = vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
        let moved = |item: usize| {
            let mut p = truth.clone();
            p[item] = (truth[item] + 1) % 3;
            p
        };
        let maps = [[5, 1, 9], [2, 0, 1], [0, 2, 1], [1, 2, 0], [7, 8, 6]];
        let mut runs: Vec<Vec<usize>> = (0..3).map(|r| relabel(&moved(0), &maps[r])).collect();
        for (r, item) in [2, 3, 5, 6, 9, 10, 11].into_iter().enumerate() {
            runs.push(relabel(&moved(item), &maps[(r + 3) % maps.len()]));
        }
        let qualities = vec![1.0; runs.len()];
        let c = consensus_majority(&runs, &qualities).unwrap();
        assert_eq!(c.labels, truth);
        assert_eq!(c.n_communities, 3);
        assert_eq!(c.fraction_identical, 0.0);
        // mean of adjusted_rand_score(run, T) over the runs (all equal 0.7372013651877133)
        assert_close(c.mean_ari, 0.7372013651877134, 1e-12);
        assert!(c.converged);
        assert_eq!(c.rounds, 2);
    }

    #[test]
    fn consensus_of_identical_runs_is_that_partition_renumbered() {
        // Sizes 2, 3, 1 → renumbered by decreasing size, ties by smallest item.
        let run = vec![4, 9, 9, 4, 9, 2];
        let runs = vec![run.clone(), relabel(&[0, 1, 1, 0, 1, 2], &[3, 1, 0])];
        let c = consensus_majority(&runs, &[0.0, 0.0]).unwrap();
        assert_eq!(c.labels, vec![1, 0, 0, 1, 0, 2]);
        assert_eq!(c.fraction_identical, 1.0);
        assert_eq!(c.mean_ari, 1.0);
        assert_eq!(c.rounds, 1);
    }

    #[test]
    fn consensus_tie_goes_to_higher_quality_reference() {
        // Two runs disagreeing on item 2: every vote ties, so the reference (higher quality) wins.
        let a = vec![0, 0, 0, 1, 1, 1];
        let b = vec![0, 0, 1, 1, 1, 1];
        let runs = vec![a.clone(), b.clone()];
        assert_eq!(consensus_majority(&runs, &[1.0, 2.0]).unwrap().labels, vec![1, 1, 0, 0, 0, 0]);
        assert_eq!(consensus_majority(&runs, &[2.0, 1.0]).unwrap().labels, vec![0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn consensus_rejects_bad_input() {
        assert!(matches!(consensus_majority(&[], &[]), Err(AlgoError::TooFew(_))));
        let runs = vec![vec![0, 1], vec![0]];
        assert!(matches!(consensus_majority(&runs, &[0.0, 0.0]), Err(AlgoError::Shape { .. })));
        let runs = vec![vec![0, 1]];
        assert!(matches!(consensus_majority(&runs, &[]), Err(AlgoError::Shape { .. })));
        assert!(matches!(consensus_majority(&runs, &[f64::NAN]), Err(AlgoError::NonFinite(_))));
    }

    /// Two 8-cliques of unit weight joined by one edge of weight 0.5.
    fn two_cliques() -> Vec<(usize, usize, f64)> {
        let mut edges = Vec::new();
        for offset in [0, 8] {
            for i in 0..8 {
                for j in i + 1..8 {
                    edges.push((offset + i, offset + j, 1.0));
                }
            }
        }
        edges.push((7, 8, 0.5));
        edges
    }

    #[test]
    fn cohesion_of_cliques_is_significant() {
        let labels: Vec<usize> = (0..16).map(|i| if i < 8 { 3 } else { 5 }).collect();
        let rows = cohesion(&two_cliques(), &labels, 999, 42).unwrap();
        assert_eq!(rows.len(), 2);
        for (row, label) in rows.iter().zip([3, 5]) {
            assert_eq!((row.label, row.size), (label, 8));
            assert_eq!((row.w_int, row.w_bnd), (28.0, 0.5));
            assert_close(row.cohesion, 28.0 / 28.5, 1e-15);
            // Only the two clique-exact shuffles (probability 2 / C(16, 8) each) reach it.
            assert!(row.p_perm < 0.01, "p = {}", row.p_perm);
        }
    }

    #[test]
    fn mean_cohesion_of_cliques_is_significant_and_its_null_is_the_shuffles() {
        let labels: Vec<usize> = (0..16).map(|i| if i < 8 { 3 } else { 5 }).collect();
        let edges = two_cliques();
        let m = mean_cohesion(&edges, &labels, 999, 42).unwrap();
        assert_close(m.observed, 28.0 / 28.5, 1e-15);
        assert_eq!(m.null.len(), 999);
        assert!(m.p_perm < 0.01, "p = {}", m.p_perm);
        // Each null value is the mean cohesion of the shuffle `cohesion` uses for its p-values.
        let dense: Vec<usize> = labels.iter().map(|&l| usize::from(l == 5)).collect();
        for perm in [0, 17, 998] {
            let (int, bnd) = edge_weights(&edges, &shuffled(&dense, 42, perm), 2);
            let want = (ratio(int[0], bnd[0]) + ratio(int[1], bnd[1])) / 2.0;
            assert_eq!(m.null[perm], want);
        }
        let at_least = m.null.iter().filter(|&&v| v >= m.observed * (1.0 - 1e-12)).count();
        assert_eq!(m.p_perm, (1 + at_least) as f64 / 1000.0);
        assert!(matches!(mean_cohesion(&[(0, 3, 1.0)], &[0, 0, 1], 10, 1), Err(AlgoError::Param { .. })));
    }

    #[test]
    fn cohesion_p_values_of_random_labelings_are_not_small() {
        // Over random balanced labelings the permutation p-value is (conservatively) uniform.
        let edges = two_cliques();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut ps = Vec::new();
        for trial in 0..40 {
            let mut labels: Vec<usize> = (0..16).map(|i| i % 2).collect();
            labels.shuffle(&mut rng);
            ps.extend(cohesion(&edges, &labels, 199, trial).unwrap().iter().map(|r| r.p_perm));
        }
        let mean = ps.iter().sum::<f64>() / ps.len() as f64;
        assert!((0.4..0.8).contains(&mean), "mean p = {mean}");
        let small = ps.iter().filter(|&&p| p < 0.05).count() as f64 / ps.len() as f64;
        assert!(small < 0.15, "fraction below 0.05 = {small}");
    }

    #[test]
    fn cohesion_is_deterministic_for_any_thread_count() {
        let edges = two_cliques();
        let labels: Vec<usize> = (0..16).map(|i| (i * 5) % 3).collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| cohesion(&edges, &labels, 500, 9).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(4));
        assert_ne!(one, cohesion(&edges, &labels, 500, 10).unwrap());
    }

    #[test]
    fn cohesion_edge_cases() {
        // An isolated singleton has cohesion 0 and p = 1; zero permutations give p = 1.
        let rows = cohesion(&[(0, 1, 2.0)], &[0, 0, 1], 0, 1).unwrap();
        assert_eq!(rows[0].cohesion, 1.0);
        assert_eq!((rows[1].cohesion, rows[1].p_perm), (0.0, 1.0));
        assert!(matches!(cohesion(&[(0, 3, 1.0)], &[0, 0, 1], 10, 1), Err(AlgoError::Param { .. })));
        assert!(matches!(cohesion(&[(0, 1, -1.0)], &[0, 0], 10, 1), Err(AlgoError::Param { .. })));
        assert!(matches!(cohesion(&[(0, 1, f64::NAN)], &[0, 0], 10, 1), Err(AlgoError::NonFinite(_))));
    }
}
