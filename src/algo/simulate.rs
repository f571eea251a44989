//! A Perturb-seq simulator with a planted gene regulatory network, for demos and for testing
//! the pipeline against known truth.
//!
//! Model (all choices documented on [`SimParams`]):
//! * TFs fall into `communities` contiguous blocks; TF→TF edges are dense inside a block
//!   (activating) and sparse between blocks (either sign). The TF matrix `W` is scaled so that
//!   the spectral radius of `|W|` — an upper bound on that of `W` — equals `spectral_radius < 1`,
//!   so the steady state of `x = W x + d` exists: `x = (I − W)⁻¹ d`.
//! * Each target gene is regulated by a few TFs: `y = c + B x + noise`.
//! * Or, with [`Model::Saturating`], regulators act through a bounded response
//!   `σ(x) = s · tanh(x / s)`: `x = W σ(x) + d` and `y = c + B σ(x) + noise`.
//! * A cell's TF drive is `d = b + shift + ε`, ε ~ N(0, `drive_noise`²) (cell-to-cell noise);
//!   a perturbation shifts the drive of its TF by ±`effect_size`.
//! * Counts are negative binomial (gamma–Poisson) with mean `L · softmax([x; y])` and inverse
//!   dispersion `dispersion`; the library size `L` is log-normal around `library_size`.
//! * [`SimParams::community_effect`] `c ∈ [0, 1]` moves the model towards what gCRL assumes
//!   (paper §2.2–2.3): a perturbation also shifts the drives of the other TFs of its community,
//!   by `c ×` its shift in total, spread evenly (the community's dense activating edges then
//!   carry it further); each target's regulation is `(1 − c) ×` its own regulators plus `c ×` a
//!   program of one community (the mean response of its TFs, weight ±U(0.5, 1) like a
//!   regulator's); each TF→TF edge from a later to an earlier community is removed
//!   with probability `c` (at 1 the communities form a DAG in index order). Its draws come from a
//!   stream of their own, so `c = 0` is the model above bit for bit.
//!
//! Every cell draws from its own ChaCha8 stream (stream = 1 + cell index of the master seed),
//! so the output is identical for any number of rayon threads. Owns no I/O.

use ndarray::Array2;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::algo::AlgoError;
use crate::algo::random::normal;
use crate::algo::sparse::Csr;

/// Direction of the simulated CRISPR perturbation of a TF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perturbation {
    /// CRISPRa / ORF: the TF's drive goes up by `effect_size`.
    OverExpression,
    /// CRISPRi / knock-out: the TF's drive goes down by `effect_size`.
    KnockDown,
}

/// How a TF's level `x` acts on the genes it regulates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// Regulators act through their level: TFs sit at `x = (I − W)⁻¹ d`, targets at
    /// `y = c + B x + noise`, so a perturbation's downstream effect grows without bound with
    /// its size.
    Linear,
    /// Regulators act through `σ(x) = s · tanh(x / s)`: slope 1 at 0 (so the planted weights
    /// are the response slopes around 0 and small perturbations behave as in `Linear`) and
    /// bounded by ±`s`. TFs sit at the fixed point of `x = W σ(x) + d` and targets at
    /// `y = c + B σ(x) + noise`, so whatever a perturbation's size, a gene moves by at most
    /// `s · Σ |weights of its regulators|`. The fixed point is unique and fixed-point iteration
    /// converges to it because `|σ'| ≤ 1` and ρ(|W|) < 1.
    Saturating {
        /// The saturation level `s` > 0 (`s → ∞` gives `Linear`).
        scale: f64,
    },
}

/// Parameters of [`simulate`]; `Default` gives a demo size (60 TFs, 460 genes, 9,000 cells).
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    /// Number of transcription factors.
    pub tfs: usize,
    /// Number of TF communities (contiguous blocks of TFs).
    pub communities: usize,
    /// Number of non-TF target genes.
    pub targets: usize,
    /// Probability of a TF→TF edge inside a community.
    pub p_intra: f64,
    /// Probability of a TF→TF edge between communities.
    pub p_inter: f64,
    /// Number of regulating TFs per target gene.
    pub regulators_per_target: usize,
    /// Spectral radius of `|W|` after scaling, in (0, 1).
    pub spectral_radius: f64,
    /// Number of unperturbed cells.
    pub control_cells: usize,
    /// Number of TFs perturbed singly (the first ones after a seeded shuffle).
    pub singles: usize,
    /// Number of double perturbations (distinct pairs of singly perturbed TFs).
    pub doubles: usize,
    /// Cells per single or double perturbation.
    pub cells_per_perturbation: usize,
    /// Direction of every perturbation.
    pub perturbation: Perturbation,
    /// Size of the drive shift of a perturbed TF.
    pub effect_size: f64,
    /// Extra shift (same direction) of each TF's drive in a double perturbation only; 0 makes
    /// doubles exactly additive in the drive.
    pub interaction: f64,
    /// Standard deviation of the cell-to-cell noise of the TF drive.
    pub drive_noise: f64,
    /// Standard deviation of the noise of each target's state.
    pub target_noise: f64,
    /// Median library size (total expected counts per cell).
    pub library_size: f64,
    /// Standard deviation of the log library size.
    pub library_log_sd: f64,
    /// Negative-binomial inverse dispersion θ: variance = μ + μ²/θ.
    pub dispersion: f64,
    /// The regulatory response (default [`Model::Linear`]).
    pub model: Model,
    /// How much communities act as units, in `[0, 1]` (see the module docs); 0 = TF-level
    /// regulation only.
    pub community_effect: f64,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            tfs: 60,
            communities: 5,
            targets: 400,
            p_intra: 0.3,
            p_inter: 0.02,
            regulators_per_target: 3,
            spectral_radius: 0.8,
            control_cells: 2000,
            singles: 60,
            doubles: 10,
            cells_per_perturbation: 100,
            perturbation: Perturbation::OverExpression,
            effect_size: 2.0,
            interaction: 0.0,
            drive_noise: 0.3,
            target_noise: 0.2,
            library_size: 5000.0,
            library_log_sd: 0.2,
            dispersion: 5.0,
            model: Model::Linear,
            community_effect: 0.0,
        }
    }
}

impl SimParams {
    /// The number of cells: controls, then `cells_per_perturbation` per single and double
    /// (saturating, for sizes that could never be simulated).
    pub fn cells(&self) -> usize {
        let perturbed = self.singles.saturating_add(self.doubles).saturating_mul(self.cells_per_perturbation);
        self.control_cells.saturating_add(perturbed)
    }

    /// An upper bound on the bytes [`simulate`] holds at its peak: three T × T matrices, each
    /// cell's name and condition, and its stored counts (8 bytes each), at most one per gene
    /// and one per read of a library three SDs above the median (a stored count is at least 1).
    pub fn peak_bytes(&self) -> f64 {
        let (t, cells) = (self.tfs as f64, self.cells() as f64);
        let genes = t + self.targets as f64;
        let library = self.library_size * (3.0 * self.library_log_sd).exp();
        3.0 * 8.0 * t * t + cells * (64.0 + 8.0 * genes.min(library.ceil()))
    }
}

/// The output of [`simulate`]: counts and the planted truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    /// Cells × genes raw counts; genes are the TFs first, then the targets.
    pub counts: Csr,
    /// Perturbed TFs of each cell (empty for controls, one or two names otherwise).
    pub cell_targets: Vec<Vec<String>>,
    /// Names of all genes (columns of `counts`).
    pub gene_names: Vec<String>,
    /// Names of the TFs (the first `tfs` genes).
    pub tf_names: Vec<String>,
    /// Planted regulation `(source TF, target gene, weight)`: TF→TF edges (scaled `W`) and
    /// TF→target edges.
    pub edges: Vec<(String, String, f64)>,
    /// Planted community of each TF.
    pub communities: Vec<(String, usize)>,
}

/// Stream of the community-structure draws of [`SimParams::community_effect`] (the cells use
/// streams `1 + cell`, far below).
const COMMUNITY_STREAM: u64 = u64::MAX;

/// The fixed network drawn from the seed.
struct Network {
    /// TF → TF weights `W` (scaled), `w[(i, j)]` = effect of TF j on TF i.
    w: Array2<f64>,
    /// `(I − W)⁻¹`, TFs × TFs.
    propagate: Array2<f64>,
    /// Baseline TF drive `b`.
    tf_base: Vec<f64>,
    /// Baseline target state `c`.
    target_base: Vec<f64>,
    /// Regulators `(tf, weight)` of each target.
    regulators: Vec<Vec<(usize, f64)>>,
}

/// Simulates a Perturb-seq experiment from a planted TF network.
///
/// # Arguments
/// * `params` – sizes and model constants (see [`SimParams`]).
/// * `seed` – master seed; the result is bit-identical for a seed whatever the thread count.
///
/// # Returns
/// [`Simulated`] with cells ordered controls, singles (in perturbation order), doubles.
///
/// # Errors
/// [`AlgoError::Param`] for inconsistent sizes or out-of-range constants;
/// [`AlgoError::Numerical`] if `I − W` cannot be inverted or a saturating steady state is not
/// reached (which ρ(|W|) < 1 rules out).
///
/// # Complexity
/// O(T³ + n_cells · (T² + G)) time with T TFs and G genes (times the number of fixed-point
/// iterations, typically tens, for the TF part of a saturating model), parallel over cells;
/// memory O(nnz of the counts).
pub fn simulate(params: &SimParams, seed: u64) -> Result<Simulated, AlgoError> {
    validate(params)?;
    let t = params.tfs;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let width = |n: usize| n.max(2).to_string().len();
    let tf_names: Vec<String> = (1..=t).map(|i| format!("TF{i:0w$}", w = width(t))).collect();
    let target_names: Vec<String> =
        (1..=params.targets).map(|i| format!("G{i:0w$}", w = width(params.targets))).collect();
    let community: Vec<usize> = (0..t).map(|i| i * params.communities / t).collect();

    // TF → TF weights, w[(i, j)] = effect of TF j on TF i.
    let mut w = Array2::<f64>::zeros((t, t));
    for i in 0..t {
        for j in (0..t).filter(|&j| j != i) {
            let same = community[i] == community[j];
            let p = if same { params.p_intra } else { params.p_inter };
            if rng.random_bool(p) {
                let magnitude = rng.random_range(0.5..1.0);
                let positive = same || rng.random_bool(0.5);
                w[(i, j)] = if positive { magnitude } else { -magnitude };
            }
        }
    }
    let effect = params.community_effect;
    // The community structure's own draws, on a stream apart from the network's.
    let mut community_rng = ChaCha8Rng::seed_from_u64(seed);
    community_rng.set_stream(COMMUNITY_STREAM);
    if effect > 0.0 {
        for ((i, j), v) in w.indexed_iter_mut() {
            if *v != 0.0 && community[j] > community[i] && community_rng.random_bool(effect) {
                *v = 0.0;
            }
        }
    }
    let rho = abs_spectral_radius(&w);
    if rho > 0.0 {
        w *= params.spectral_radius / rho;
    }
    let mut i_minus_w = -&w;
    i_minus_w.diag_mut().iter_mut().for_each(|v| *v += 1.0);
    let propagate = invert(i_minus_w)?;

    let tf_base: Vec<f64> = (0..t).map(|_| 0.5 * normal(&mut rng)).collect();
    let target_base: Vec<f64> = (0..params.targets).map(|_| normal(&mut rng)).collect();
    let mut regulators: Vec<Vec<(usize, f64)>> = (0..params.targets)
        .map(|_| {
            rand::seq::index::sample(&mut rng, t, params.regulators_per_target)
                .into_iter()
                .map(|j| {
                    let magnitude = rng.random_range(0.5..1.0);
                    (j, if rng.random_bool(0.5) { magnitude } else { -magnitude })
                })
                .collect()
        })
        .collect();
    if effect > 0.0 {
        let members: Vec<Vec<usize>> =
            (0..params.communities).map(|k| (0..t).filter(|&j| community[j] == k).collect()).collect();
        for regs in &mut regulators {
            let k = community_rng.random_range(0..params.communities);
            let magnitude = community_rng.random_range(0.5..1.0);
            let weight = if community_rng.random_bool(0.5) { magnitude } else { -magnitude };
            regs.iter_mut().for_each(|r| r.1 *= 1.0 - effect);
            for &j in &members[k] {
                let share = effect * weight / members[k].len() as f64;
                match regs.iter_mut().find(|r| r.0 == j) {
                    Some(r) => r.1 += share,
                    None => regs.push((j, share)),
                }
            }
            regs.retain(|r| r.1 != 0.0);
        }
    }

    // Perturbations: a seeded choice of singly perturbed TFs and of distinct pairs of them.
    let singles: Vec<usize> = rand::seq::index::sample(&mut rng, t, params.singles).into_vec();
    let mut pairs: Vec<(usize, usize)> =
        (0..singles.len()).flat_map(|a| (a + 1..singles.len()).map(move |b| (a, b))).collect();
    let chosen = rand::seq::index::sample(&mut rng, pairs.len(), params.doubles).into_vec();
    pairs = chosen.into_iter().map(|k| pairs[k]).collect();
    let sign = match params.perturbation {
        Perturbation::OverExpression => 1.0,
        Perturbation::KnockDown => -1.0,
    };
    // A perturbed TF's shift, and `effect ×` it spread evenly over the other TFs of its community.
    let shifted = |tf: usize, shift: f64| -> Vec<(usize, f64)> {
        let mut out = vec![(tf, shift)];
        let mates: Vec<usize> = (0..t).filter(|&j| j != tf && community[j] == community[tf]).collect();
        if effect > 0.0 {
            out.extend(mates.iter().map(|&j| (j, effect * shift / mates.len() as f64)));
        }
        out
    };
    let mut conditions: Vec<Vec<(usize, f64)>> = vec![Vec::new()];
    conditions.extend(singles.iter().map(|&s| shifted(s, sign * params.effect_size)));
    let double_shift = sign * (params.effect_size + params.interaction);
    conditions.extend(pairs.iter().map(|&(a, b)| {
        let mut both = shifted(singles[a], double_shift);
        both.extend(shifted(singles[b], double_shift));
        both
    }));
    let mut cell_condition = vec![0usize; params.control_cells];
    for c in 1..conditions.len() {
        cell_condition.extend(std::iter::repeat_n(c, params.cells_per_perturbation));
    }

    let network = Network { w, propagate, tf_base, target_base, regulators };
    let rows: Vec<(Vec<u32>, Vec<f32>)> = cell_condition
        .par_iter()
        .enumerate()
        .map(|(cell, &c)| simulate_cell(params, &network, &conditions[c], seed, cell))
        .collect::<Result<_, _>>()?;

    let n_genes = t + params.targets;
    let mut indptr = Vec::with_capacity(rows.len() + 1);
    indptr.push(0u64);
    let nnz: usize = rows.iter().map(|r| r.0.len()).sum();
    let (mut indices, mut data) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
    for (idx, val) in rows {
        indices.extend(idx);
        data.extend(val);
        indptr.push(indices.len() as u64);
    }
    let counts = Csr::new(cell_condition.len(), n_genes, indptr, indices, data)?;

    let mut perturbed: Vec<Vec<usize>> = vec![Vec::new()];
    perturbed.extend(singles.iter().map(|&s| vec![s]));
    perturbed.extend(pairs.iter().map(|&(a, b)| vec![singles[a], singles[b]]));
    let cell_targets =
        cell_condition.iter().map(|&c| perturbed[c].iter().map(|&tf| tf_names[tf].clone()).collect()).collect();
    let mut edges = Vec::new();
    for ((i, j), &v) in network.w.indexed_iter().filter(|(_, v)| **v != 0.0) {
        edges.push((tf_names[j].clone(), tf_names[i].clone(), v));
    }
    for (g, regs) in network.regulators.iter().enumerate() {
        for &(j, v) in regs {
            edges.push((tf_names[j].clone(), target_names[g].clone(), v));
        }
    }
    let communities = tf_names.iter().cloned().zip(community).collect();
    let mut gene_names = tf_names.clone();
    gene_names.extend(target_names);
    Ok(Simulated { counts, cell_targets, gene_names, tf_names, edges, communities })
}

/// Checks the parameters once before simulating.
fn validate(p: &SimParams) -> Result<(), AlgoError> {
    let bad = |name: &str, why: String| Err(AlgoError::Param { name: name.into(), why });
    let max_pairs = p.singles * p.singles.saturating_sub(1) / 2;
    let positive = [("effect_size", p.effect_size), ("library_size", p.library_size), ("dispersion", p.dispersion)];
    let non_negative =
        [("drive_noise", p.drive_noise), ("target_noise", p.target_noise), ("library_log_sd", p.library_log_sd)];
    if p.tfs == 0 || p.communities == 0 || p.communities > p.tfs {
        return bad("communities", format!("need 1 ≤ communities ≤ tfs = {}", p.tfs));
    }
    if p.regulators_per_target > p.tfs {
        return bad("regulators_per_target", format!("exceeds tfs = {}", p.tfs));
    }
    if p.singles > p.tfs {
        return bad("singles", format!("exceeds tfs = {}", p.tfs));
    }
    if p.doubles > max_pairs {
        return bad("doubles", format!("only {max_pairs} pairs of single TFs exist"));
    }
    for (name, v) in [("p_intra", p.p_intra), ("p_inter", p.p_inter)] {
        if !(0.0..=1.0).contains(&v) {
            return bad(name, format!("must be a probability, got {v}"));
        }
    }
    if !(p.spectral_radius > 0.0 && p.spectral_radius < 1.0) {
        return bad("spectral_radius", format!("must be in (0, 1), got {}", p.spectral_radius));
    }
    if let Some((name, v)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
        return bad(name, format!("must be finite and positive, got {v}"));
    }
    if let Some((name, v)) = non_negative.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
        return bad(name, format!("must be finite and non-negative, got {v}"));
    }
    if !(0.0..=1.0).contains(&p.community_effect) {
        return bad("community_effect", format!("must be in [0, 1], got {}", p.community_effect));
    }
    if !p.interaction.is_finite() {
        return bad("interaction", "must be finite".into());
    }
    if let Model::Saturating { scale } = p.model
        && !(scale.is_finite() && scale > 0.0)
    {
        return bad("saturation", format!("must be finite and positive, got {scale}"));
    }
    Ok(())
}

/// Draws one cell: its TF drive, steady state, target states and counts (sparse row).
fn simulate_cell(
    params: &SimParams,
    net: &Network,
    shifts: &[(usize, f64)],
    seed: u64,
    cell: usize,
) -> Result<(Vec<u32>, Vec<f32>), AlgoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1 + cell as u64);
    let mut drive: Vec<f64> = net.tf_base.iter().map(|b| b + params.drive_noise * normal(&mut rng)).collect();
    for &(tf, s) in shifts {
        drive[tf] += s;
    }
    let (tf_state, response) = steady_state(params.model, net, &drive)?;
    let mut state = tf_state;
    state.extend(net.target_base.iter().zip(&net.regulators).map(|(c, regs)| {
        let signal: f64 = regs.iter().map(|&(j, w)| w * response[j]).sum();
        c + signal + params.target_noise * normal(&mut rng)
    }));
    // Expected counts: library size × softmax(state).
    let max = state.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let weights: Vec<f64> = state.iter().map(|v| (v - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let library = params.library_size * (params.library_log_sd * normal(&mut rng)).exp();
    let (mut idx, mut val) = (Vec::new(), Vec::new());
    for (g, w) in weights.iter().enumerate() {
        let k = negative_binomial(&mut rng, library * w / total, params.dispersion);
        if k > 0 {
            idx.push(g as u32);
            val.push(k as f32);
        }
    }
    Ok((idx, val))
}

/// The TF levels `x` for the drive `d` and the responses through which they regulate:
/// `x = (I − W)⁻¹ d` and `x` itself for [`Model::Linear`]; the fixed point of
/// `x = W σ(x) + d` and `σ(x)` for [`Model::Saturating`], iterated from the linear solution
/// until no level moves by more than 1e-12 (relative to the largest level, at least 1).
fn steady_state(model: Model, net: &Network, drive: &[f64]) -> Result<(Vec<f64>, Vec<f64>), AlgoError> {
    /// More than enough: the error shrinks at least as fast as ρ(|W|)ᵏ ≤ 0.99ᵏ.
    const MAX_ITERATIONS: usize = 100_000;
    let mat_vec = |m: &Array2<f64>, v: &[f64]| -> Vec<f64> {
        m.rows().into_iter().map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum()).collect()
    };
    let mut x = mat_vec(&net.propagate, drive);
    let Model::Saturating { scale } = model else {
        return Ok((x.clone(), x));
    };
    let sigma = |x: &[f64]| -> Vec<f64> { x.iter().map(|v| scale * (v / scale).tanh()).collect() };
    for _ in 0..MAX_ITERATIONS {
        let next: Vec<f64> = mat_vec(&net.w, &sigma(&x)).iter().zip(drive).map(|(a, d)| a + d).collect();
        let size = next.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let moved = next.iter().zip(&x).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        x = next;
        if moved <= 1e-12 * size {
            let response = sigma(&x);
            return Ok((x, response));
        }
    }
    Err(AlgoError::Numerical("the saturating steady state did not converge".into()))
}

/// Spectral radius of `|w|` by power iteration on `|w| + I` (primitive, so it converges);
/// `ρ(|w|) ≥ ρ(w)` by Perron–Frobenius.
fn abs_spectral_radius(w: &Array2<f64>) -> f64 {
    let n = w.nrows();
    let a = w.mapv(f64::abs);
    let mut v = vec![1.0 / (n as f64).sqrt(); n];
    let mut lambda = 0.0;
    for _ in 0..10_000 {
        let mut next: Vec<f64> = a.dot(&ndarray::ArrayView1::from(&v)).to_vec();
        next.iter_mut().zip(&v).for_each(|(x, y)| *x += y);
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        next.iter_mut().for_each(|x| *x /= norm);
        let converged = (norm - lambda).abs() <= 1e-13 * norm;
        lambda = norm;
        v = next;
        if converged {
            break;
        }
    }
    lambda - 1.0
}

/// Inverse of a square matrix by Gauss–Jordan elimination with partial pivoting.
fn invert(mut a: Array2<f64>) -> Result<Array2<f64>, AlgoError> {
    let n = a.nrows();
    let mut inv = Array2::<f64>::eye(n);
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[(i, col)].abs().total_cmp(&a[(j, col)].abs())).unwrap_or(col);
        if a[(pivot, col)].abs() < 1e-12 {
            return Err(AlgoError::Numerical("I − W is singular".into()));
        }
        for k in 0..n {
            a.swap((col, k), (pivot, k));
            inv.swap((col, k), (pivot, k));
        }
        let p = a[(col, col)];
        a.row_mut(col).mapv_inplace(|v| v / p);
        inv.row_mut(col).mapv_inplace(|v| v / p);
        for r in (0..n).filter(|&r| r != col) {
            let f = a[(r, col)];
            if f != 0.0 {
                for k in 0..n {
                    a[(r, k)] -= f * a[(col, k)];
                    inv[(r, k)] -= f * inv[(col, k)];
                }
            }
        }
    }
    Ok(inv)
}

/// A Gamma(shape, scale 1) draw: Marsaglia–Tsang squeeze, boosted for shape < 1.
fn gamma<R: Rng + ?Sized>(rng: &mut R, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.random::<f64>();
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = normal(rng);
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A Poisson(λ) draw: multiplication of uniforms for λ < 30, Hörmann's transformed rejection
/// (PTRS) above.
fn poisson<R: Rng + ?Sized>(rng: &mut R, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut product = rng.random::<f64>();
        let mut k = 0;
        while product > limit {
            product *= rng.random::<f64>();
            k += 1;
        }
        return k;
    }
    let sqrt_l = lambda.sqrt();
    let log_l = lambda.ln();
    let b = 0.931 + 2.53 * sqrt_l;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let v_r = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.random::<f64>() - 0.5;
        let v = rng.random::<f64>();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
        if us >= 0.07 && v <= v_r {
            return k as u64;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        let accept = v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln();
        if accept <= -lambda + k * log_l - ln_factorial(k) {
            return k as u64;
        }
    }
}

/// ln(k!) for a non-negative integer-valued `k` (exact sum below 20, Stirling series above).
fn ln_factorial(k: f64) -> f64 {
    if k < 20.0 {
        return (2..=k as u64).map(|i| (i as f64).ln()).sum();
    }
    let inv = 1.0 / k;
    let inv2 = inv * inv;
    k * k.ln() - k + 0.5 * (std::f64::consts::TAU * k).ln() + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 / 1260.0))
}

/// A negative-binomial draw with the given mean and inverse dispersion θ (gamma–Poisson).
fn negative_binomial<R: Rng + ?Sized>(rng: &mut R, mean: f64, theta: f64) -> u64 {
    let rate = gamma(rng, theta) * mean / theta;
    poisson(rng, rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::preprocess::{log1p, normalize_total};

    /// [`fingerprint`] of `simulate(&small(), 11)` at `community_effect = 0` (the simulate node's
    /// demo output was checked byte-identical to the code before the knob existed: rerunning it
    /// added no object to the cache).
    const GOLDEN_SMALL_11: (usize, f64, u64) = (93747, 6_190_099.0, 14_791_329);

    fn small() -> SimParams {
        SimParams {
            tfs: 20,
            communities: 4,
            targets: 60,
            control_cells: 300,
            singles: 20,
            doubles: 3,
            cells_per_perturbation: 40,
            ..SimParams::default()
        }
    }

    /// Log-normalised dense expression of the given cells.
    fn log_expression(sim: &Simulated, cells: &[usize]) -> Array2<f32> {
        let mut x = sim.counts.select_rows(cells).unwrap();
        normalize_total(&mut x, Some(1e4)).unwrap();
        log1p(&mut x).unwrap();
        x.to_dense()
    }

    #[test]
    fn identical_for_any_thread_count() {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| simulate(&small(), 11).unwrap())
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one.counts.indptr, two.counts.indptr);
        assert_eq!(one.counts.indices, two.counts.indices);
        let bits = |s: &Simulated| s.counts.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one), bits(&two));
        assert_eq!(one, two);
        assert_ne!(one.counts, simulate(&small(), 12).unwrap().counts);
    }

    #[test]
    fn saturating_model_is_deterministic_and_differs_from_linear() {
        let params = SimParams { model: Model::Saturating { scale: 1.0 }, ..small() };
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| simulate(&params, 11).unwrap())
        };
        let (one, two) = (run(1), run(2));
        let bits = |s: &Simulated| s.counts.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one), bits(&two));
        assert_eq!(one, two);
        let linear = simulate(&small(), 11).unwrap();
        // Same planted truth, different counts.
        assert_eq!((&one.edges, &one.communities), (&linear.edges, &linear.communities));
        assert_ne!(one.counts, linear.counts);
        let bad = SimParams { model: Model::Saturating { scale: 0.0 }, ..small() };
        assert!(matches!(simulate(&bad, 1), Err(AlgoError::Param { .. })));
    }

    /// A 3-TF chain 0 → 1 → 2 (weights 0.8, 0.6) plus 2 → 0 (−0.5), and one target regulated by
    /// TF 1 (weight 0.9) and TF 2 (−0.7).
    fn chain() -> Network {
        let w = ndarray::array![[0.0, 0.0, -0.5], [0.8, 0.0, 0.0], [0.0, 0.6, 0.0]];
        let propagate = invert(Array2::eye(3) - &w).unwrap();
        let regulators = vec![vec![(1, 0.9), (2, -0.7)]];
        Network { w, propagate, tf_base: vec![0.0; 3], target_base: vec![0.0], regulators }
    }

    /// The target's regulatory signal `B · response`.
    fn target_signal(net: &Network, response: &[f64]) -> f64 {
        net.regulators[0].iter().map(|&(j, w)| w * response[j]).sum()
    }

    #[test]
    fn saturating_response_to_strong_overexpression_is_bounded() {
        let net = chain();
        let s = 1.0;
        let saturating = Model::Saturating { scale: s };
        let mut linear_signal = Vec::new();
        for effect in [10.0, 100.0, 1000.0] {
            let drive = [effect, 0.1, -0.2];
            let (x, response) = steady_state(saturating, &net, &drive).unwrap();
            // A fixed point of x = W σ(x) + d …
            let sigma: Vec<f64> = x.iter().map(|v| s * (v / s).tanh()).collect();
            assert_eq!(sigma, response);
            for i in 0..3 {
                let wx: f64 = (0..3).map(|j| net.w[(i, j)] * sigma[j]).sum();
                assert!((x[i] - wx - drive[i]).abs() < 1e-8, "TF {i}: {} vs {}", x[i], wx + drive[i]);
            }
            // … whose downstream TFs and target stay within s · Σ|weights| of their drive.
            assert!((x[1] - drive[1]).abs() <= 0.8 * s + 1e-12 && (x[2] - drive[2]).abs() <= 0.6 * s + 1e-12);
            assert!(target_signal(&net, &response).abs() <= (0.9 + 0.7) * s);
            let (xl, rl) = steady_state(Model::Linear, &net, &drive).unwrap();
            assert_eq!(xl, rl);
            linear_signal.push(target_signal(&net, &rl));
            // The over-expressed TF itself still rises with the effect size.
            assert!(x[0] > effect - 0.5 * s - 1e-9);
        }
        // Linear: the signal is affine in the effect (steps of 90 and 900 differ tenfold) and
        // far beyond the saturating bound.
        let (a, b, c) = (linear_signal[0], linear_signal[1], linear_signal[2]);
        assert!(((c - b) / (b - a) - 10.0).abs() < 1e-9, "{linear_signal:?}");
        assert!(c.abs() > 100.0 * (0.9 + 0.7) * s, "{linear_signal:?}");
    }

    #[test]
    fn saturating_model_is_linear_near_zero() {
        // σ has slope 1 at 0: small drives give the linear steady state to second order.
        let net = chain();
        let drive = [1e-4, -2e-4, 5e-5];
        let (x, _) = steady_state(Model::Saturating { scale: 1.0 }, &net, &drive).unwrap();
        let (xl, _) = steady_state(Model::Linear, &net, &drive).unwrap();
        for (a, b) in x.iter().zip(&xl) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
    }

    #[test]
    fn negative_binomial_moments_match_theory() {
        // Theory: E = μ, Var = μ + μ²/θ. Checked on 400,000 draws for small and large means
        // (the latter exercises the PTRS branch of the Poisson sampler).
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (mu, theta) in [(0.3, 0.5), (3.0, 2.0), (80.0, 5.0), (200.0, 1e9)] {
            let n = 400_000;
            let draws: Vec<f64> = (0..n).map(|_| negative_binomial(&mut rng, mu, theta) as f64).collect();
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let want_var = mu + mu * mu / theta;
            let se = (want_var / n as f64).sqrt();
            assert!((mean - mu).abs() < 5.0 * se, "mean {mean} vs {mu}");
            assert!((var / want_var - 1.0).abs() < 0.03, "var {var} vs {want_var}");
        }
    }

    #[test]
    fn spectral_radius_is_scaled_below_one() {
        // A 2-cycle with weights 2 and 8 has eigenvalues ±4; |W| has the same spectrum.
        let w = ndarray::array![[0.0, 2.0], [8.0, 0.0]];
        assert!((abs_spectral_radius(&w) - 4.0).abs() < 1e-9);
        // In a simulated network, (I − W)⁻¹ equals the Neumann series Σ Wᵏ, which only
        // converges when ρ(W) < 1.
        let t = 4;
        let w =
            ndarray::array![[0.0, 0.9, 0.0, 0.3], [0.7, 0.0, -0.8, 0.0], [0.0, 0.6, 0.0, 0.9], [0.5, 0.0, 0.4, 0.0]];
        let w = &w * (0.8 / abs_spectral_radius(&w));
        let inv = invert(Array2::eye(t) - &w).unwrap();
        let (mut sum, mut power) = (Array2::<f64>::eye(t), Array2::<f64>::eye(t));
        for _ in 0..400 {
            power = power.dot(&w);
            sum += &power;
        }
        assert!((&sum - &inv).iter().all(|d| d.abs() < 1e-9));
    }

    #[test]
    fn planted_communities_are_recoverable_from_controls() {
        let params = SimParams { control_cells: 2000, doubles: 0, singles: 0, ..small() };
        let sim = simulate(&params, 5).unwrap();
        let x = log_expression(&sim, &(0..2000).collect::<Vec<_>>());
        let t = params.tfs;
        let column = |j: usize| {
            let c = x.column(j).mapv(f64::from);
            let m = c.mean().unwrap();
            let centred = c - m;
            let norm = centred.dot(&centred).sqrt();
            centred / norm
        };
        let cols: Vec<_> = (0..t).map(column).collect();
        let (mut within, mut between) = (Vec::new(), Vec::new());
        for i in 0..t {
            for j in i + 1..t {
                let r = cols[i].dot(&cols[j]);
                if sim.communities[i].1 == sim.communities[j].1 {
                    within.push(r);
                } else {
                    between.push(r);
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (w, b) = (mean(&within), mean(&between));
        assert!(w > b + 0.1, "within {w} vs between {b}");
    }

    #[test]
    fn perturbed_tfs_move_in_the_perturbation_direction() {
        // Raw counts: with only 80 genes, the softmax makes a strong community-wide response
        // shrink a TF's *share* of the library even when its own count rises, so the test looks
        // at the mean count of the perturbed TF itself.
        for (direction, sign) in [(Perturbation::OverExpression, 1.0), (Perturbation::KnockDown, -1.0)] {
            let params = SimParams { perturbation: direction, ..small() };
            let sim = simulate(&params, 9).unwrap();
            let x = sim.counts.to_dense();
            let mean_count = |cells: &[usize], k: usize| {
                cells.iter().map(|&c| f64::from(x[(c, k)])).sum::<f64>() / cells.len() as f64
            };
            let controls: Vec<usize> = (0..params.control_cells).collect();
            for (k, tf) in sim.tf_names.iter().enumerate() {
                let cells: Vec<usize> =
                    (0..sim.cell_targets.len()).filter(|&c| sim.cell_targets[c] == [tf.clone()]).collect();
                assert_eq!(cells.len(), params.cells_per_perturbation);
                let ratio = mean_count(&cells, k) / mean_count(&controls, k);
                assert!(sign * ratio.ln() > 0.3, "{tf}: ratio {ratio} for {direction:?}");
            }
        }
    }

    #[test]
    fn output_shapes_and_labels_are_consistent() {
        let p = small();
        let sim = simulate(&p, 1).unwrap();
        let n = p.control_cells + (p.singles + p.doubles) * p.cells_per_perturbation;
        assert_eq!((sim.counts.n_rows, sim.counts.n_cols), (n, p.tfs + p.targets));
        assert_eq!(sim.cell_targets.len(), n);
        assert_eq!(sim.cell_targets.iter().filter(|t| t.len() == 2).count(), p.doubles * p.cells_per_perturbation);
        assert_eq!(sim.edges.iter().filter(|e| e.1.starts_with('G')).count(), p.targets * p.regulators_per_target);
        assert!(sim.counts.data.iter().all(|&v| v >= 1.0 && v.fract() == 0.0));
        let bad = SimParams { spectral_radius: 1.0, ..p };
        assert!(matches!(simulate(&bad, 1), Err(AlgoError::Param { .. })));
    }

    /// A fingerprint of the counts: (nnz, Σ values, Σ column indices weighted by position).
    fn fingerprint(sim: &Simulated) -> (usize, f64, u64) {
        let sum = sim.counts.data.iter().map(|&v| f64::from(v)).sum();
        let idx = sim.counts.indices.iter().enumerate().map(|(i, &j)| (i as u64 % 7 + 1) * u64::from(j)).sum();
        (sim.counts.nnz(), sum, idx)
    }

    #[test]
    fn community_effect_zero_is_the_model_before_it_existed() {
        // The fingerprint of `simulate(&small(), 11)` computed before `community_effect` was added.
        let sim = simulate(&SimParams { community_effect: 0.0, ..small() }, 11).unwrap();
        assert_eq!(fingerprint(&sim), GOLDEN_SMALL_11);
        let bad = SimParams { community_effect: 1.5, ..small() };
        assert!(matches!(simulate(&bad, 1), Err(AlgoError::Param { .. })));
    }

    #[test]
    fn community_effect_one_plants_what_gcrl_assumes() {
        // Many targets, so that the softmax's compositional shrinkage stays small.
        let params = SimParams { community_effect: 1.0, targets: 600, ..small() };
        let sim = simulate(&params, 11).unwrap();
        let community: std::collections::HashMap<&str, usize> =
            sim.communities.iter().map(|(t, c)| (t.as_str(), *c)).collect();
        // Inter-community TF→TF edges only run from an earlier to a later community.
        for (src, dst, _) in sim.edges.iter().filter(|e| community.contains_key(e.1.as_str())) {
            assert!(community[src.as_str()] <= community[dst.as_str()], "{src} → {dst} runs backwards");
        }
        // Every target follows all TFs of exactly one community, with one weight.
        let mut by_target: std::collections::BTreeMap<&str, Vec<(&str, f64)>> = Default::default();
        for (src, dst, w) in sim.edges.iter().filter(|e| !community.contains_key(e.1.as_str())) {
            by_target.entry(dst.as_str()).or_default().push((src.as_str(), *w));
        }
        let size = params.tfs / params.communities;
        for (g, regs) in &by_target {
            let ks: std::collections::BTreeSet<usize> = regs.iter().map(|r| community[r.0]).collect();
            assert_eq!((ks.len(), regs.len()), (1, size), "{g}: {regs:?}");
            assert!(regs.iter().all(|r| r.1 == regs[0].1));
        }
        // A single perturbation moves the other TFs of its community up with it, beyond the TFs
        // of other communities (the difference cancels the softmax's shared shrinkage).
        let mates_move = |sim: &Simulated| -> f64 {
            let x = log_expression(sim, &(0..sim.cell_targets.len()).collect::<Vec<_>>());
            let controls: Vec<usize> = (0..params.control_cells).collect();
            let mean = |cells: &[usize], j: usize| {
                cells.iter().map(|&c| f64::from(x[(c, j)])).sum::<f64>() / cells.len() as f64
            };
            let mut total = 0.0;
            for (k, tf) in sim.tf_names.iter().enumerate() {
                let cells: Vec<usize> =
                    (0..sim.cell_targets.len()).filter(|&c| sim.cell_targets[c] == [tf.clone()]).collect();
                let change = |j: usize| mean(&cells, j) - mean(&controls, j);
                let same = |j: usize| sim.communities[j].1 == sim.communities[k].1;
                let mates: Vec<f64> = (0..params.tfs).filter(|&j| j != k && same(j)).map(change).collect();
                let others: Vec<f64> = (0..params.tfs).filter(|&j| !same(j)).map(change).collect();
                total +=
                    mates.iter().sum::<f64>() / mates.len() as f64 - others.iter().sum::<f64>() / others.len() as f64;
            }
            total / params.tfs as f64
        };
        let default = simulate(&SimParams { community_effect: 0.0, ..params.clone() }, 11).unwrap();
        let (moved, moved_default) = (mates_move(&sim), mates_move(&default));
        assert!(moved > 0.2 && moved > 2.0 * moved_default, "community mates move {moved} (default {moved_default})");
    }
}
