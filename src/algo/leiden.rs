//! Leiden community detection on undirected weighted graphs (method.md §4.1–4.2).
//!
//! Owns the graph type the algorithm runs on ([`Graph`], compressed sparse rows), the
//! Reichardt–Bornholdt configuration quality ([`modularity`], leidenalg's
//! `RBConfigurationVertexPartition`) and the optimiser ([`leiden`]). It knows nothing about
//! TFs, files or resolution scans: callers build the graph and pick γ and the seeds.
//!
//! # Quality
//! `Q = (1/2m) Σ_ij (A_ij − γ k_i k_j / 2m) δ(c_i, c_j)`, exactly igraph's
//! `Graph.modularity(membership, weights, resolution)`; leidenalg's `quality()` is `2m · Q`.
//! A self-loop of weight `w` adds `2w` to `A_ii` and to `k_i`, as in igraph.
//!
//! # Algorithm
//! Traag, Waltman & van Eck (2019), *From Louvain to Leiden*, with leidenalg's control flow:
//! 1. fast local moving: nodes are visited from a queue in a seeded random order; a node moves
//!    to the neighbouring (or an empty) community with the largest strict gain, and its
//!    neighbours outside that community are queued again;
//! 2. refinement: inside each community every node that is still a singleton and is
//!    well connected (`w(v, S−v) ≥ γ k_v (K_S − k_v) / 2m`) may join a well-connected refined
//!    cluster of the same community with a non-negative gain `ΔH`, or stay alone (`ΔH = 0`),
//!    chosen at random with probability ∝ `exp(ΔH / (θ w̄))`: the paper's randomized merge with
//!    θ in units of the mean edge weight `w̄ = m / E`, so that the partitions do not depend on
//!    the scale of the weights (the paper and igraph take θ = 0.01 in raw weight units). The
//!    default θ = 0.5; θ = 0 takes the best gain (greedy merge). Unlike leidenalg, refinement
//!    also requires the paper's γ-well-connectedness of both the node and the target cluster;
//! 3. aggregation on the refined partition, the aggregate partition initialised from the
//!    unrefined one; levels repeat while the aggregate graph shrinks and has more nodes than
//!    communities.
//!
//! One *iteration* is steps 1–3 down to the last level, started from the current partition
//! (the first from singletons). By default iterations repeat until one changes nothing,
//! leidenalg's `n_iterations = -1`.
//!
//! # Why a randomized merge (issue 16)
//! The greedy merge (the default before `leiden-sweep` v3, after method.md §4.2, which took
//! it for leidenalg's) turns the small communities of a high resolution back into themselves:
//! on the 158-TF CollecTRI graph (`tests/data/leiden_collectri158.tsv`) at γ = 3, seed 0, 47
//! communities refine into 57 clusters and the next level's 45 communities into exactly 45,
//! so aggregation adds nothing and runs stop after 3.7 iterations on average; the mean
//! modularity over 200 seeds was 0.7 % below leidenalg's (gcrl higher in 39 % of run pairs),
//! 0.9 % at γ = 4, while it led by 0.2–0.8 % at γ ≤ 2. leidenalg's default refinement is in
//! fact random (`refine_consider_comms = RAND_NEIGH_COMM`: with probability `k/(k+1)` pick
//! one of the node's `k` neighbours in its community at random and join its cluster if the
//! gain is ≥ 0). With θ = 0.5
//! mean edge weights gcrl leads leidenalg at every γ from 0.9 to 6 on that graph (at γ = 3 by
//! 0.05 %) and from 0.9 to 5 on the planted one (`benches/leiden_quality.rs`, the crosscheck
//! `leiden_matches_leidenalg_on_the_collectri_tf_graph`); θ = 0.25 falls behind at γ = 3
//! and 5, θ = 1 leads by less at γ ≤ 1.4.
//!
//! # Why in-house
//! `single-clustering` 0.7 implements the same method and was measured at 0.63 ms per run on
//! a graph of this size (dependencies.md); this module is as fast, a few hundred lines, keeps
//! to the allowed dependencies and puts the seed, weights, iteration limit, refinement mode and
//! quality read-back under our control. Measured against leidenalg 0.12.0 (see the
//! tests): the same best qualities on Zachary at γ = 1, 1.5, 2, and on a weighted 150-node,
//! 1,297-edge planted-partition graph a mean modularity over 1,000 seeds of 0.32275 (greedy
//! merge 0.32313) against leidenalg's 0.32228 (γ = 1) at 0.5 ms per run (release build, 2-core
//! VM) against 21.6 ms.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::algo::AlgoError;

/// An undirected weighted graph in compressed sparse row form.
///
/// Every undirected edge `{i, j}` (`i ≠ j`) appears in the rows of both `i` and `j`;
/// self-loops are kept apart. Only positive weights are stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Row `v` is `targets[offsets[v]..offsets[v + 1]]`.
    offsets: Vec<usize>,
    targets: Vec<usize>,
    weights: Vec<f64>,
    /// Weight of the self-loop of each node (0 if none).
    self_loops: Vec<f64>,
    /// Weighted degree `k_v`, a self-loop counting twice.
    degrees: Vec<f64>,
    /// Total edge weight `m` (each edge once, self-loops once).
    total_weight: f64,
}

impl Graph {
    /// Builds a graph on nodes `0..n` from undirected weighted edges.
    ///
    /// # Arguments
    /// * `n` – number of nodes; nodes without edges are allowed and stay singletons.
    /// * `edges` – `(i, j, w)`; `(i, j)` and `(j, i)` name the same edge and repeated edges
    ///   are summed; `i == j` is a self-loop; zero-weight edges are ignored.
    ///
    /// # Returns
    /// The graph, or an error if a node index is `≥ n`, a weight is negative or not finite,
    /// or the total weight is zero (modularity is undefined then).
    ///
    /// # Complexity
    /// `O(n + E log E)`.
    pub fn from_edges(n: usize, edges: &[(usize, usize, f64)]) -> Result<Self, AlgoError> {
        let mut sorted = Vec::with_capacity(edges.len());
        for (idx, &(i, j, w)) in edges.iter().enumerate() {
            if i >= n || j >= n {
                return Err(AlgoError::Param {
                    name: "edges".into(),
                    why: format!("edge {idx} ({i}, {j}) names a node ≥ n = {n}"),
                });
            }
            if !w.is_finite() {
                return Err(AlgoError::NonFinite(format!("weight {w} of edge {idx} ({i}, {j})")));
            }
            if w < 0.0 {
                return Err(AlgoError::Param {
                    name: "edges".into(),
                    why: format!("edge {idx} ({i}, {j}) has negative weight {w}"),
                });
            }
            if w > 0.0 {
                sorted.push((i.min(j), i.max(j), w));
            }
        }
        sorted.sort_unstable_by_key(|&(i, j, _)| (i, j));
        let mut merged: Vec<(usize, usize, f64)> = Vec::with_capacity(sorted.len());
        for (i, j, w) in sorted {
            match merged.last_mut() {
                Some(last) if (last.0, last.1) == (i, j) => last.2 += w,
                _ => merged.push((i, j, w)),
            }
        }

        let mut self_loops = vec![0.0; n];
        let mut row_len = vec![0usize; n];
        for &(i, j, w) in &merged {
            if i == j {
                self_loops[i] = w;
            } else {
                row_len[i] += 1;
                row_len[j] += 1;
            }
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        for len in &row_len {
            offsets.push(offsets[offsets.len() - 1] + len);
        }
        let mut fill = offsets[..n].to_vec();
        let mut targets = vec![0; offsets[n]];
        let mut weights = vec![0.0; offsets[n]];
        for &(i, j, w) in merged.iter().filter(|e| e.0 != e.1) {
            for (from, to) in [(i, j), (j, i)] {
                targets[fill[from]] = to;
                weights[fill[from]] = w;
                fill[from] += 1;
            }
        }
        let graph = Self::from_parts(offsets, targets, weights, self_loops);
        if graph.total_weight <= 0.0 {
            return Err(AlgoError::TooFew("the graph has no edge with positive weight".into()));
        }
        Ok(graph)
    }

    /// Assembles a graph from CSR arrays, computing degrees and the total weight.
    fn from_parts(offsets: Vec<usize>, targets: Vec<usize>, weights: Vec<f64>, self_loops: Vec<f64>) -> Self {
        let degrees: Vec<f64> = (0..self_loops.len())
            .map(|v| 2.0 * self_loops[v] + weights[offsets[v]..offsets[v + 1]].iter().sum::<f64>())
            .collect();
        let total_weight = degrees.iter().sum::<f64>() / 2.0;
        Self { offsets, targets, weights, self_loops, degrees, total_weight }
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.degrees.len()
    }

    /// Total edge weight `m` (each undirected edge and each self-loop counted once).
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// Weighted degrees `k_v` (a self-loop counts twice).
    pub fn degrees(&self) -> &[f64] {
        &self.degrees
    }

    /// Mean weight `m / E` of the `E` edges, self-loops included.
    pub fn mean_edge_weight(&self) -> f64 {
        let loops = self.self_loops.iter().filter(|&&w| w > 0.0).count();
        self.total_weight / (self.targets.len() / 2 + loops) as f64
    }

    /// Neighbours of `v` other than itself, with edge weights.
    fn neighbours(&self, v: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let row = self.offsets[v]..self.offsets[v + 1];
        self.targets[row.clone()].iter().copied().zip(self.weights[row].iter().copied())
    }
}

/// Settings of [`leiden`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeidenOptions {
    /// Most iterations to run; `None` runs until an iteration changes nothing
    /// (leidenalg's `n_iterations = -1`).
    pub max_iterations: Option<usize>,
    /// Randomness θ of the refinement merge (`≥ 0`), in units of the graph's mean edge weight
    /// `m / E`. Default 0.5 (see the module doc); 0 is the greedy merge.
    pub randomness: f64,
}

impl Default for LeidenOptions {
    fn default() -> Self {
        Self { max_iterations: None, randomness: 0.5 }
    }
}

/// A partition found by [`leiden`].
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// Community of each node, `0..n_communities`, numbered by decreasing size
    /// (ties: the community holding the smaller node first).
    pub labels: Vec<usize>,
    /// Number of communities.
    pub n_communities: usize,
    /// [`modularity`] of `labels` at the resolution used.
    pub quality: f64,
    /// Iterations run, the last one included.
    pub iterations: usize,
}

/// Runs Leiden with the RB configuration quality from singletons.
///
/// # Arguments
/// * `g` – the graph.
/// * `resolution` – γ `≥ 0`; larger values give more, smaller communities.
/// * `seed` – seeds the ChaCha8 generator behind node orders and refinement choices;
///   the same seed gives the same partition.
/// * `opts` – iteration limit and refinement randomness.
///
/// # Returns
/// The partition and its [`modularity`], or an error if `resolution` or
/// `opts.randomness` is negative or not finite.
///
/// # Complexity
/// Roughly `O(E)` per level and iteration, usually 3–5 iterations; about 0.6 ms for
/// 150 nodes and 1,300 edges.
pub fn leiden(g: &Graph, resolution: f64, seed: u64, opts: &LeidenOptions) -> Result<Partition, AlgoError> {
    check_non_negative("resolution", resolution)?;
    check_non_negative("randomness", opts.randomness)?;
    let n = g.n_nodes();
    let mut optimiser = Optimiser {
        scale: resolution / (2.0 * g.total_weight),
        randomness: opts.randomness * g.mean_edge_weight(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        acc: Accumulator::new(n),
    };
    let mut labels: Vec<usize> = (0..n).collect();
    let mut iterations = 0;
    while opts.max_iterations.is_none_or(|max| iterations < max) {
        iterations += 1;
        if !optimiser.iterate(g, &mut labels) {
            break;
        }
    }
    let n_communities = renumber_by_size(&mut labels);
    let quality = quality(g, &labels, n_communities, resolution);
    Ok(Partition { labels, n_communities, quality, iterations })
}

/// Modularity with resolution of a partition, as igraph's
/// `Graph.modularity(membership, weights, resolution)`.
///
/// # Arguments
/// * `g` – the graph.
/// * `labels` – community of each node; any values, only equality matters.
/// * `resolution` – γ.
///
/// # Returns
/// `Q = (1/2m) Σ_ij (A_ij − γ k_i k_j / 2m) δ(c_i, c_j)`, or an error if `labels` does not
/// have one entry per node or `resolution` is not finite.
///
/// # Complexity
/// `O(n + E)`.
pub fn modularity(g: &Graph, labels: &[usize], resolution: f64) -> Result<f64, AlgoError> {
    if labels.len() != g.n_nodes() {
        return Err(AlgoError::Shape { what: "labels per node".into(), expected: g.n_nodes(), got: labels.len() });
    }
    if !resolution.is_finite() {
        return Err(AlgoError::NonFinite(format!("resolution {resolution}")));
    }
    let mut dense = HashMap::new();
    let compact: Vec<usize> = labels
        .iter()
        .map(|&l| {
            let next = dense.len();
            *dense.entry(l).or_insert(next)
        })
        .collect();
    Ok(quality(g, &compact, dense.len(), resolution))
}

fn check_non_negative(name: &str, value: f64) -> Result<(), AlgoError> {
    if !value.is_finite() {
        return Err(AlgoError::NonFinite(format!("{name} {value}")));
    }
    if value < 0.0 {
        return Err(AlgoError::Param { name: name.into(), why: format!("{value} is negative") });
    }
    Ok(())
}

/// [`modularity`] for labels already in `0..k`.
fn quality(g: &Graph, labels: &[usize], k: usize, resolution: f64) -> f64 {
    let mut internal = vec![0.0; k];
    let mut total = vec![0.0; k];
    for v in 0..g.n_nodes() {
        let c = labels[v];
        total[c] += g.degrees[v];
        internal[c] +=
            2.0 * g.self_loops[v] + g.neighbours(v).filter(|&(u, _)| labels[u] == c).map(|(_, w)| w).sum::<f64>();
    }
    let two_m = 2.0 * g.total_weight;
    let sum: f64 = internal.iter().zip(&total).map(|(a, t)| a - resolution * t * t / two_m).sum();
    sum / two_m
}

/// Sums edge weights per community over one node's neighbours.
///
/// Relies on stored weights being positive: a zero entry means "not touched yet".
struct Accumulator {
    weight: Vec<f64>,
    touched: Vec<usize>,
}

impl Accumulator {
    fn new(n: usize) -> Self {
        Self { weight: vec![0.0; n], touched: Vec::new() }
    }

    fn add(&mut self, community: usize, w: f64) {
        if self.weight[community] == 0.0 {
            self.touched.push(community);
        }
        self.weight[community] += w;
    }

    fn clear(&mut self) {
        for c in self.touched.drain(..) {
            self.weight[c] = 0.0;
        }
    }
}

/// State shared by the phases of one [`leiden`] run.
struct Optimiser {
    /// γ / 2m: the gain of `v` joining `C` is `w(v, C) − scale · k_v · K_C`.
    scale: f64,
    /// θ in edge-weight units (`LeidenOptions::randomness` times the mean edge weight).
    randomness: f64,
    rng: ChaCha8Rng,
    acc: Accumulator,
}

/// Smallest gain over staying put that counts as an improvement for a node of degree `k`,
/// so that rounding noise cannot make nodes cycle.
fn tolerance(k: f64) -> f64 {
    1e-12 * k
}

impl Optimiser {
    /// One Leiden iteration from `labels` (node → community, values `< n`); updates
    /// `labels` and says whether any node changed community.
    fn iterate(&mut self, g0: &Graph, labels: &mut [usize]) -> bool {
        let mut graph = Cow::Borrowed(g0);
        let mut membership = labels.to_vec();
        let mut node_of: Vec<usize> = (0..g0.n_nodes()).collect();
        let mut changed = false;
        loop {
            changed |= self.move_nodes(&graph, &mut membership);
            let n_communities = renumber(&mut membership);
            if n_communities == graph.n_nodes() {
                break;
            }
            let mut refined = self.refine(&graph, &membership);
            let n_refined = renumber(&mut refined);
            if n_refined == graph.n_nodes() {
                break;
            }
            let mut aggregate_membership = vec![0; n_refined];
            for (v, &r) in refined.iter().enumerate() {
                aggregate_membership[r] = membership[v];
            }
            for node in &mut node_of {
                *node = refined[*node];
            }
            graph = Cow::Owned(self.aggregate(&graph, &refined, n_refined));
            membership = aggregate_membership;
        }
        for (label, &node) in labels.iter_mut().zip(&node_of) {
            *label = membership[node];
        }
        changed
    }

    /// Fast local moving (the paper's `MoveNodesFast`); returns whether any node moved.
    fn move_nodes(&mut self, g: &Graph, membership: &mut [usize]) -> bool {
        let n = g.n_nodes();
        let mut community_degree = vec![0.0; n];
        let mut community_size = vec![0usize; n];
        for (v, &c) in membership.iter().enumerate() {
            community_degree[c] += g.degrees[v];
            community_size[c] += 1;
        }
        let mut empty: Vec<usize> = (0..n).filter(|&c| community_size[c] == 0).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut self.rng);
        let mut queue = VecDeque::from(order);
        let mut queued = vec![true; n];
        let mut moved = false;
        while let Some(v) = queue.pop_front() {
            queued[v] = false;
            let current = membership[v];
            let k = g.degrees[v];
            for (u, w) in g.neighbours(v) {
                self.acc.add(membership[u], w);
            }
            community_degree[current] -= k;
            community_size[current] -= 1;
            let tol = tolerance(k);
            let mut best = current;
            let mut best_gain = self.acc.weight[current] - self.scale * k * community_degree[current];
            for &c in &self.acc.touched {
                let gain = self.acc.weight[c] - self.scale * k * community_degree[c];
                if gain > best_gain + tol {
                    best = c;
                    best_gain = gain;
                }
            }
            // Alone in an empty community the gain is 0; when `current` is now empty that is
            // staying put, otherwise some label is free since fewer than n are in use.
            if community_size[current] > 0
                && 0.0 > best_gain + tol
                && let Some(free) = empty.pop()
            {
                best = free;
            }
            self.acc.clear();
            membership[v] = best;
            community_degree[best] += k;
            community_size[best] += 1;
            if best != current {
                moved = true;
                if community_size[current] == 0 {
                    empty.push(current);
                }
                for (u, _) in g.neighbours(v) {
                    if !queued[u] && membership[u] != best {
                        queued[u] = true;
                        queue.push_back(u);
                    }
                }
            }
        }
        moved
    }

    /// Refinement (the paper's `RefinePartition`/`MergeNodesSubset`): returns the refined
    /// cluster of each node, a sub-partition of `membership`.
    fn refine(&mut self, g: &Graph, membership: &[usize]) -> Vec<usize> {
        let n = g.n_nodes();
        let mut community_degree = vec![0.0; n];
        for (v, &c) in membership.iter().enumerate() {
            community_degree[c] += g.degrees[v];
        }
        // Refined clusters start as singletons: cluster `v` is {v}.
        let mut refined: Vec<usize> = (0..n).collect();
        let mut cluster_degree = g.degrees.clone();
        let mut cluster_size = vec![1usize; n];
        // w(C, S − C): weight from cluster C to the rest of its community S.
        let mut cluster_external: Vec<f64> = (0..n)
            .map(|v| g.neighbours(v).filter(|&(u, _)| membership[u] == membership[v]).map(|(_, w)| w).sum())
            .collect();
        let well_connected =
            |external: f64, degree: f64, community: f64, scale: f64| external >= scale * degree * (community - degree);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut self.rng);
        let mut candidates: Vec<(usize, f64)> = Vec::new();
        for v in order {
            let s = membership[v];
            let k = g.degrees[v];
            // Only nodes still alone in their cluster move.
            if cluster_size[v] != 1 || !well_connected(cluster_external[v], k, community_degree[s], self.scale) {
                continue;
            }
            for (u, w) in g.neighbours(v) {
                if membership[u] == s {
                    self.acc.add(refined[u], w);
                }
            }
            candidates.clear();
            candidates.push((v, 0.0));
            for &c in &self.acc.touched {
                let gain = self.acc.weight[c] - self.scale * k * cluster_degree[c];
                if gain >= 0.0
                    && well_connected(cluster_external[c], cluster_degree[c], community_degree[s], self.scale)
                {
                    candidates.push((c, gain));
                }
            }
            let target = self.choose(&mut candidates, tolerance(k));
            if target != v {
                refined[v] = target;
                cluster_size[v] = 0;
                cluster_size[target] += 1;
                cluster_degree[target] += k;
                cluster_external[target] += cluster_external[v] - 2.0 * self.acc.weight[target];
            }
            self.acc.clear();
        }
        refined
    }

    /// Picks a refinement target among `(cluster, gain)` candidates, the first being
    /// "stay" with gain 0: with probability ∝ exp(gain/θ), or the best gain if θ = 0.
    /// Overwrites the gains with the unnormalised probabilities.
    fn choose(&mut self, candidates: &mut [(usize, f64)], tol: f64) -> usize {
        let (mut best, mut best_gain) = candidates[0];
        for &(c, gain) in &candidates[1..] {
            if gain > best_gain + tol {
                best = c;
                best_gain = gain;
            }
        }
        if self.randomness == 0.0 || candidates.len() == 1 {
            return best;
        }
        let mut total = 0.0;
        for (c, gain) in candidates.iter_mut() {
            // exp(0) = 1 for the best: one exp fewer per call (most calls have two candidates).
            *gain = if *c == best { 1.0 } else { ((*gain - best_gain) / self.randomness).exp() };
            total += *gain;
        }
        let mut draw = self.rng.random::<f64>() * total;
        for &(c, p) in candidates.iter() {
            draw -= p;
            if draw < 0.0 {
                return c;
            }
        }
        best
    }

    /// The graph whose nodes are the clusters of `refined` (values `0..n_refined`); edges
    /// between clusters are summed and edges inside a cluster become its self-loop.
    fn aggregate(&mut self, g: &Graph, refined: &[usize], n_refined: usize) -> Graph {
        let mut members_start = vec![0usize; n_refined + 1];
        for &r in refined {
            members_start[r + 1] += 1;
        }
        for r in 0..n_refined {
            members_start[r + 1] += members_start[r];
        }
        let mut fill = members_start[..n_refined].to_vec();
        let mut members = vec![0; refined.len()];
        for (v, &r) in refined.iter().enumerate() {
            members[fill[r]] = v;
            fill[r] += 1;
        }

        let mut offsets = Vec::with_capacity(n_refined + 1);
        offsets.push(0);
        let mut targets = Vec::new();
        let mut weights = Vec::new();
        let mut self_loops = vec![0.0; n_refined];
        for r in 0..n_refined {
            let mut inside = 0.0;
            for &v in &members[members_start[r]..members_start[r + 1]] {
                self_loops[r] += g.self_loops[v];
                for (u, w) in g.neighbours(v) {
                    if refined[u] == r {
                        inside += w;
                    } else {
                        self.acc.add(refined[u], w);
                    }
                }
            }
            // Each inside edge was seen from both of its ends.
            self_loops[r] += inside / 2.0;
            for &t in &self.acc.touched {
                targets.push(t);
                weights.push(self.acc.weight[t]);
            }
            offsets.push(targets.len());
            self.acc.clear();
        }
        Graph::from_parts(offsets, targets, weights, self_loops)
    }
}

/// Relabels `labels` (values `< labels.len()`) to `0..k` in order of first appearance;
/// returns `k`.
fn renumber(labels: &mut [usize]) -> usize {
    let mut new_label = vec![usize::MAX; labels.len()];
    let mut k = 0;
    for label in labels.iter_mut() {
        if new_label[*label] == usize::MAX {
            new_label[*label] = k;
            k += 1;
        }
        *label = new_label[*label];
    }
    k
}

/// Relabels `labels` (values `< labels.len()`) to `0..k` by decreasing community size, ties
/// by first appearance; returns `k`.
fn renumber_by_size(labels: &mut [usize]) -> usize {
    let k = renumber(labels);
    let mut size = vec![0usize; k];
    for &l in labels.iter() {
        size[l] += 1;
    }
    let mut by_size: Vec<usize> = (0..k).collect();
    by_size.sort_by_key(|&c| std::cmp::Reverse(size[c]));
    let mut rank = vec![0; k];
    for (r, &c) in by_size.iter().enumerate() {
        rank[c] = r;
    }
    for l in labels.iter_mut() {
        *l = rank[*l];
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zachary's karate club: `igraph.Graph.Famous("Zachary").get_edgelist()`.
    #[rustfmt::skip]
    const KARATE: [(usize, usize); 78] = [
        (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (0, 8), (0, 10), (0, 11),
        (0, 12), (0, 13), (0, 17), (0, 19), (0, 21), (0, 31), (1, 2), (1, 3), (1, 7), (1, 13),
        (1, 17), (1, 19), (1, 21), (1, 30), (2, 3), (2, 7), (2, 27), (2, 28), (2, 32), (2, 9),
        (2, 8), (2, 13), (3, 7), (3, 12), (3, 13), (4, 6), (4, 10), (5, 6), (5, 10), (5, 16),
        (6, 16), (8, 30), (8, 32), (8, 33), (9, 33), (13, 33), (14, 32), (14, 33), (15, 32),
        (15, 33), (18, 32), (18, 33), (19, 33), (20, 32), (20, 33), (22, 32), (22, 33),
        (23, 25), (23, 27), (23, 32), (23, 33), (23, 29), (24, 25), (24, 27), (24, 31),
        (25, 31), (26, 29), (26, 33), (27, 33), (28, 31), (28, 33), (29, 32), (29, 33),
        (30, 32), (30, 33), (31, 32), (31, 33), (32, 33),
    ];

    fn karate() -> Graph {
        let edges: Vec<_> = KARATE.iter().map(|&(i, j)| (i, j, 1.0)).collect();
        Graph::from_edges(34, &edges).unwrap()
    }

    /// The weighted planted-partition graph written by `crosscheck/leiden_planted_graph.py`
    /// (150 nodes, 6 blocks of 25, 1,297 edges).
    fn planted() -> Graph {
        let text = include_str!("../../tests/data/leiden_planted150.tsv");
        let edges: Vec<(usize, usize, f64)> = text
            .lines()
            .map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect();
        Graph::from_edges(150, &edges).unwrap()
    }

    fn runs(g: &Graph, resolution: f64, seeds: u64, opts: &LeidenOptions) -> Vec<Partition> {
        (0..seeds).map(|s| leiden(g, resolution, s, opts).unwrap()).collect()
    }

    fn best(parts: &[Partition]) -> &Partition {
        parts.iter().max_by(|a, b| a.quality.total_cmp(&b.quality)).unwrap()
    }

    fn mean_quality(parts: &[Partition]) -> f64 {
        parts.iter().map(|p| p.quality).sum::<f64>() / parts.len() as f64
    }

    #[test]
    fn modularity_matches_igraph() {
        // igraph 1.0.0: g = ig.Graph.Famous("Zachary"); g.modularity(labels, resolution=γ)
        let g = karate();
        let club =
            [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        let mod3: Vec<usize> = (0..34).map(|i| i % 3).collect();
        let cases = [
            (&club[..], 1.0, 0.37146614069691),
            (&club[..], 1.5, 0.12130177514792917),
            (&mod3[..], 1.0, -0.009615384615384595),
            (&[7; 34][..], 2.0, -1.0),
        ];
        for (labels, gamma, expected) in cases {
            let q = modularity(&g, labels, gamma).unwrap();
            assert!((q - expected).abs() < 1e-12, "γ = {gamma}: {q} vs {expected}");
        }
    }

    #[test]
    fn duplicate_edges_and_self_loops_match_igraph() {
        // igraph 1.0.0: h = ig.Graph(n=5, edges=[(0,1),(1,2),(0,2),(2,3),(3,4),(4,4),(1,0),(3,4)]);
        // w = [1.5,0.5,2.0,0.25,1.0,0.75,0.5,2.0]
        // h.modularity([0,0,0,1,1], weights=w, resolution=1.0) = 0.46669550173010377
        // h.modularity([0,1,0,1,2], weights=w, resolution=0.7) = 0.08403979238754328
        let edges =
            [(0, 1, 1.5), (1, 2, 0.5), (0, 2, 2.0), (2, 3, 0.25), (3, 4, 1.0), (4, 4, 0.75), (1, 0, 0.5), (3, 4, 2.0)];
        let g = Graph::from_edges(5, &edges).unwrap();
        assert_eq!(g.total_weight(), 8.5);
        // Five edges between different nodes after summing duplicates, and one self-loop.
        assert_eq!(g.mean_edge_weight(), 8.5 / 6.0);
        let q = modularity(&g, &[0, 0, 0, 1, 1], 1.0).unwrap();
        assert!((q - 0.46669550173010377).abs() < 1e-12, "{q}");
        let q = modularity(&g, &[0, 1, 0, 1, 2], 0.7).unwrap();
        assert!((q - 0.08403979238754328).abs() < 1e-12, "{q}");
    }

    #[test]
    fn karate_best_quality_matches_leidenalg() {
        // method.md §10, leidenalg 0.12.0 over seeds 0..200:
        // la.find_partition(g, la.RBConfigurationVertexPartition, resolution_parameter=γ,
        //                   n_iterations=-1, seed=s).quality(), divided by 2m = 156.
        let g = karate();
        let opts = LeidenOptions::default();
        for (gamma, leidenalg_quality) in [(1.0, 65.487179), (1.5, 43.057692), (2.0, 25.666667)] {
            let parts = runs(&g, gamma, 200, &opts);
            let top = best(&parts);
            let expected = leidenalg_quality / 156.0;
            assert!((top.quality - expected).abs() < 1e-7, "γ = {gamma}: {} vs {expected}", top.quality);
            if gamma == 1.0 {
                assert_eq!(top.n_communities, 4);
                assert!((top.quality - 0.4197896).abs() < 1e-7);
                // leidenalg's mean normalised quality over the same 200 seeds.
                assert!(mean_quality(&parts) >= 0.41913872452333967 * 0.995);
            }
        }
    }

    #[test]
    fn planted_mean_quality_is_within_half_a_percent_of_leidenalg() {
        // leidenalg 0.12.0 on crosscheck/data/leiden_planted150.tsv, seeds 0..1000:
        // mean of g.modularity(la.find_partition(g, la.RBConfigurationVertexPartition,
        //   weights="weight", resolution_parameter=γ, n_iterations=-1, seed=s).membership,
        //   weights="weight", resolution=γ):
        // γ = 1: mean 0.32228189803666435, best 0.32402249860408056;
        // γ = 1.5: mean 0.2361150493276734, best 0.24197447095155747.
        let g = planted();
        let reference =
            [(1.0, 0.32228189803666435, 0.32402249860408056), (1.5, 0.2361150493276734, 0.24197447095155747)];
        for (gamma, leidenalg_mean, leidenalg_best) in reference {
            for randomness in [0.0, 0.5] {
                let opts = LeidenOptions { randomness, ..LeidenOptions::default() };
                let parts = runs(&g, gamma, 1000, &opts);
                let mean = mean_quality(&parts);
                assert!(mean >= leidenalg_mean * 0.995, "γ = {gamma}, θ = {randomness}: mean {mean}");
                assert!(best(&parts).quality <= leidenalg_best + 1e-3);
            }
        }
    }

    /// Modularity ignores the scale of the weights; so does the optimiser, greedy or with θ in
    /// mean edge weights. Scaling by a power of two is exact in floating point, so the
    /// partitions must be identical.
    #[test]
    fn partition_ignores_weight_scale() {
        let g = planted();
        let mut edges = Vec::new();
        for v in 0..g.n_nodes() {
            let row = g.neighbours(v).filter(|&(u, _)| u > v);
            edges.extend(row.map(|(u, w)| (v, u, w / 128.0)));
        }
        let small = Graph::from_edges(g.n_nodes(), &edges).unwrap();
        for randomness in [0.0, 0.5] {
            let opts = LeidenOptions { randomness, ..LeidenOptions::default() };
            for seed in 0..20 {
                let a = leiden(&g, 1.0, seed, &opts).unwrap();
                let b = leiden(&small, 1.0, seed, &opts).unwrap();
                assert_eq!(a.labels, b.labels, "θ = {randomness}, seed {seed}");
                assert!((a.quality - b.quality).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn partition_is_consistent() {
        let g = planted();
        for seed in 0..20 {
            let p = leiden(&g, 1.0, seed, &LeidenOptions::default()).unwrap();
            assert!((p.quality - modularity(&g, &p.labels, 1.0).unwrap()).abs() < 1e-12);
            let mut size = vec![0; p.n_communities];
            for &l in &p.labels {
                size[l] += 1;
            }
            assert!(size.windows(2).all(|w| w[0] >= w[1]), "{size:?}");
            assert!(size.iter().all(|&s| s > 0));
        }
    }

    /// Leiden's guarantee: every community induces a connected subgraph (checked by BFS).
    #[test]
    fn communities_are_connected() {
        let g = planted();
        for (seed, gamma) in (0..30).zip([0.8, 1.0, 1.5, 3.0].into_iter().cycle()) {
            let p = leiden(&g, gamma, seed, &LeidenOptions::default()).unwrap();
            let mut seen = vec![false; g.n_nodes()];
            for c in 0..p.n_communities {
                let start = p.labels.iter().position(|&l| l == c).unwrap();
                let mut stack = vec![start];
                seen[start] = true;
                let mut reached = 0;
                while let Some(v) = stack.pop() {
                    reached += 1;
                    for (u, _) in g.neighbours(v) {
                        if p.labels[u] == c && !seen[u] {
                            seen[u] = true;
                            stack.push(u);
                        }
                    }
                }
                assert_eq!(reached, p.labels.iter().filter(|&&l| l == c).count());
            }
        }
    }

    #[test]
    fn same_seed_same_partition() {
        let g = planted();
        let opts = LeidenOptions::default();
        for seed in [0, 1, 12345] {
            assert_eq!(leiden(&g, 1.2, seed, &opts).unwrap(), leiden(&g, 1.2, seed, &opts).unwrap());
        }
    }

    #[test]
    fn iteration_limit_is_respected() {
        let g = planted();
        let one = LeidenOptions { max_iterations: Some(1), ..LeidenOptions::default() };
        let p = leiden(&g, 1.0, 3, &one).unwrap();
        assert_eq!(p.iterations, 1);
        let full = leiden(&g, 1.0, 3, &LeidenOptions::default()).unwrap();
        assert!(full.iterations >= 2, "the last iteration must change nothing");
        assert!(full.quality >= p.quality - 1e-12);
    }

    #[test]
    fn isolated_nodes_stay_alone() {
        let g = Graph::from_edges(5, &[(0, 1, 1.0), (1, 2, 1.0), (0, 2, 1.0)]).unwrap();
        let p = leiden(&g, 1.0, 0, &LeidenOptions::default()).unwrap();
        assert_eq!(p.labels, vec![0, 0, 0, 1, 2]);
        assert_eq!(p.n_communities, 3);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(Graph::from_edges(2, &[(0, 2, 1.0)]), Err(AlgoError::Param { .. })));
        assert!(matches!(Graph::from_edges(2, &[(0, 1, f64::NAN)]), Err(AlgoError::NonFinite(_))));
        assert!(matches!(Graph::from_edges(2, &[(0, 1, -1.0)]), Err(AlgoError::Param { .. })));
        assert!(matches!(Graph::from_edges(2, &[(0, 1, 0.0)]), Err(AlgoError::TooFew(_))));
        let g = karate();
        let opts = LeidenOptions::default();
        assert!(matches!(leiden(&g, -1.0, 0, &opts), Err(AlgoError::Param { .. })));
        assert!(matches!(leiden(&g, f64::NAN, 0, &opts), Err(AlgoError::NonFinite(_))));
        let noisy = LeidenOptions { randomness: f64::INFINITY, ..opts };
        assert!(matches!(leiden(&g, 1.0, 0, &noisy), Err(AlgoError::NonFinite(_))));
        assert!(matches!(modularity(&g, &[0; 3], 1.0), Err(AlgoError::Shape { .. })));
    }
}
