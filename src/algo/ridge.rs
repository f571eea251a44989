//! The reference GRN of method.md §3: CellOracle-style bagging ridge regression of every target
//! gene on its candidate regulators (§3.3), the gCRL edge filter (§3.5: global BH-FDR, then a
//! weak/strong split by a Gaussian mixture, the median or a top fraction of `|coef|`) and plain
//! ridge regression.
//!
//! # The bagging scheme and its shortcut
//!
//! CellOracle fits, per target, `n_estimators` ridge models, each on a bootstrap sample of the
//! `n` cells (scikit-learn's `BaggingRegressor` passes the bootstrap counts `w_i` to `Ridge` as
//! sample weights) and on a random `max(1, ⌊0.8·p⌋)`-subset of the `p` regulators. Each model
//! solves `(XcᵀWXc + αI) w = XcᵀW yc` with `X`, `y` centred by their `W`-weighted means.
//!
//! Here the bootstrap sample of bag `b` is drawn once per bag index and **shared by all targets**,
//! while the regulator subset is drawn per `(target, bag)`. Every estimator still sees a bootstrap
//! sample of the cells and its own random 80 % of the regulators, so the per-edge statistics
//! (mean over the bags that included the regulator, one-sample t-test against 0) keep CellOracle's
//! meaning; only the dependence between *different targets* changes, which no statistic uses.
//! The gain: per bag one weighted cross-product matrix `M_b = X_Rᵀ W X_U` over the union `R` of
//! regulators and the union `U` of regulators and targets serves every target, and a
//! `(target, bag)` fit only gathers a `k × k` sub-block and solves it by Cholesky. For 10,000
//! cells, 2,000 targets, 150 regulators and 20 bags this is ~4·10¹⁰ flops of matrix products
//! instead of ~6·10¹² for forming each estimator's Gram matrix separately.
//!
//! Numerics: columns are centred by their mean over all cells as they are gathered for the
//! products (the weighted centring is shift-invariant), so subtracting `n·m mᵀ` loses no
//! precision worth noting. Memory: the products gather the bootstrap rows of 64 columns at a
//! time, so beside `x` the fit holds only `O(n·|R|)` per bag and the coefficients, never a copy
//! of the matrix.
//! Results are bit-identical for any number of rayon threads: every random stream is keyed by
//! `(seed, bag)` or `(seed, target gene)`, and every matrix product runs sequentially on blocks
//! whose shape does not depend on the thread count.
//!
//! This module owns no I/O and knows genes only as column indices (names serve error messages).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, Par};
use ndarray::{ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::index;
use rand::{Rng, RngExt};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::algo::AlgoError;
use crate::algo::gmm::{Gmm1d, fit_gmm_1d};
use crate::algo::stats::{Alternative, bh_fdr, t_test_one_sample};

/// Width of the column blocks of `M_b` computed by one rayon task (fixed, so the arithmetic does
/// not depend on the thread count).
const GRAM_BLOCK: usize = 64;
/// Random-stream domain of the per-bag bootstrap draws.
const STREAM_BOOTSTRAP: u64 = 1 << 56;
/// Random-stream domain of the per-target regulator subsets.
const STREAM_FEATURES: u64 = 2 << 56;

/// Parameters of [`bagging_ridge`] (CellOracle `get_links` defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrnOptions {
    /// Ridge penalty `α > 0` (default 10).
    pub alpha: f64,
    /// Number of bagged estimators per target (default 20).
    pub bagging: usize,
    /// Fraction of the regulators each estimator sees, in `(0, 1]` (default 0.8).
    pub feature_fraction: f64,
    /// Master seed (default 123).
    pub seed: u64,
}

impl Default for GrnOptions {
    fn default() -> Self {
        Self { alpha: 10.0, bagging: 20, feature_fraction: 0.8, seed: 123 }
    }
}

/// One regulator → target edge of the bagged ridge fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    /// Gene index (column of `x`) of the regulator.
    pub source: usize,
    /// Gene index of the target.
    pub target: usize,
    /// Mean coefficient over the bags that included the regulator (NaN if none did).
    pub coef_mean: f64,
    /// `|coef_mean|`.
    pub coef_abs: f64,
    /// Two-sided one-sample t-test of the bag coefficients against 0; NaN with fewer than two
    /// bags or zero variance.
    pub p: f64,
    /// Number of bags that included the regulator.
    pub n_bags: usize,
}

/// A single ridge fit: `y ≈ X·coef + intercept`.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeFit {
    /// One coefficient per column of `X`.
    pub coef: Vec<f64>,
    /// The fitted intercept.
    pub intercept: f64,
}

/// Ridge regression with an intercept, as scikit-learn's `Ridge(alpha, fit_intercept=True)`.
///
/// Minimises `Σ wᵢ (yᵢ − xᵢ·β − b)² + α‖β‖²` by centring `X` and `y` with their weighted means
/// and solving `(XcᵀWXc + αI) β = XcᵀW yc` by Cholesky.
///
/// # Arguments
/// * `x` — `n × p` design matrix, finite.
/// * `y` — `n` responses, finite.
/// * `sample_weight` — optional non-negative weights with a positive sum (all 1 if `None`).
/// * `alpha` — penalty, finite and `> 0`.
///
/// # Returns
/// The coefficients and intercept; [`AlgoError`] on shape mismatch, non-finite input or an
/// invalid weight or penalty.
///
/// # Complexity
/// `O(n p² + p³)`.
pub fn ridge(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    sample_weight: Option<&[f64]>,
    alpha: f64,
) -> Result<RidgeFit, AlgoError> {
    check_alpha(alpha)?;
    let (n, p) = x.dim();
    check_len("y", n, y.len())?;
    check_finite_all(x.iter(), "ridge design matrix")?;
    check_finite_all(y.iter(), "ridge response")?;
    let ones = vec![1.0; n];
    let w = sample_weight.unwrap_or(&ones);
    check_len("sample_weight", n, w.len())?;
    if w.iter().any(|v| !v.is_finite() || *v < 0.0) || w.iter().sum::<f64>() <= 0.0 {
        return Err(AlgoError::Param {
            name: "sample_weight".into(),
            why: "weights must be finite, non-negative and not all zero".into(),
        });
    }
    let w_sum: f64 = w.iter().sum();
    let x_mean: Vec<f64> =
        x.axis_iter(Axis(1)).map(|c| c.iter().zip(w).map(|(v, wi)| v * wi).sum::<f64>() / w_sum).collect();
    let y_mean = y.iter().zip(w).map(|(v, wi)| v * wi).sum::<f64>() / w_sum;
    let mut gram = Mat::<f64>::zeros(p, p);
    let mut rhs = vec![0.0; p];
    for (i, row) in x.axis_iter(Axis(0)).enumerate() {
        let yc = y[i] - y_mean;
        for a in 0..p {
            let wa = w[i] * (row[a] - x_mean[a]);
            rhs[a] += wa * yc;
            for b in 0..=a {
                gram[(a, b)] += wa * (row[b] - x_mean[b]);
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            gram[(b, a)] = gram[(a, b)];
        }
    }
    solve_ridge(gram.as_mut(), &mut rhs, alpha)?;
    let intercept = y_mean - rhs.iter().zip(&x_mean).map(|(c, m)| c * m).sum::<f64>();
    Ok(RidgeFit { coef: rhs, intercept })
}

/// CellOracle's bagging ridge GRN (method.md §3.3): per target, `bagging` ridge fits on bootstrap
/// samples of the cells and random regulator subsets, summarised per edge.
///
/// Regressors are divided by their population (ddof 0) standard deviation over all cells,
/// without centring (zero sd → 1); the target stays unscaled. Each estimator draws `n` cells with
/// replacement (shared by all targets for the same bag, see the module doc) and
/// `max(1, ⌊feature_fraction·p⌋)` of the target's `p` regulators without replacement, then fits
/// a ridge model with intercept. A target listed among its own regulators is removed from them;
/// a target left with no regulator produces no edges.
///
/// # Arguments
/// * `x` — cells × genes, log (optionally kNN-smoothed) expression, finite; at least 2 cells.
/// * `genes` — gene names, one per column (used in error messages).
/// * `candidates` — `(target, regulators)` as column indices; each target at most once, no
///   repeated regulator.
/// * `opts` — penalty, number of bags, feature fraction and seed.
///
/// # Returns
/// One [`Edge`] per (target, regulator) pair, in the order of `candidates` and of each regulator
/// list. Deterministic for a seed and independent of the rayon thread count.
///
/// # Complexity
/// With `n` cells, `|R|` distinct regulators, `|U|` distinct regulators and targets, `T` targets
/// and `k` regulators per estimator: `O(bagging · (n·|R|·|U| + T·k³))` time and
/// `O(n·|R| + |R|·|U| + bagging·T·k)` memory beside `x`.
pub fn bagging_ridge(
    x: ArrayView2<f64>,
    genes: &[String],
    candidates: &[(usize, Vec<usize>)],
    opts: &GrnOptions,
) -> Result<Vec<Edge>, AlgoError> {
    check_options(opts)?;
    let (n, g) = x.dim();
    check_len("genes (one name per column of x)", g, genes.len())?;
    if n < 2 {
        return Err(AlgoError::TooFew(format!("bagging ridge needs at least 2 cells, got {n}")));
    }
    check_finite_all(x.iter(), "expression matrix")?;
    let tasks = build_tasks(candidates, genes)?;
    if tasks.is_empty() {
        return Ok(Vec::new());
    }

    // Column layout: U = regulators ∪ targets (sorted), R = regulators (sorted) ⊆ U.
    let mut u_genes: Vec<usize> = tasks.iter().flat_map(|t| t.regulators.iter().copied().chain([t.target])).collect();
    u_genes.sort_unstable();
    u_genes.dedup();
    let mut r_genes: Vec<usize> = tasks.iter().flat_map(|t| t.regulators.clone()).collect();
    r_genes.sort_unstable();
    r_genes.dedup();
    let u_pos = |gene: usize| u_genes.binary_search(&gene).expect("gene is in U");
    let r_in_u: Vec<usize> = r_genes.iter().map(|&r| u_pos(r)).collect();

    // Mean of each U column over all cells (the products centre by it on the fly, so the matrix
    // is never copied) and the population sd of each R column.
    let u_mean: Vec<f64> = u_genes.iter().map(|&gene| x.column(gene).sum() / n as f64).collect();
    let r_scale: Vec<f64> = r_in_u
        .iter()
        .map(|&j| {
            let ss: f64 = x.column(u_genes[j]).iter().map(|v| (v - u_mean[j]) * (v - u_mean[j])).sum();
            let sd = (ss / n as f64).sqrt();
            if sd > 0.0 { sd } else { 1.0 }
        })
        .collect();

    // Per task: the row of each regulator in M (index into R) and of the target (index into U).
    let layouts: Vec<TaskLayout> = tasks
        .iter()
        .map(|t| TaskLayout {
            regulator_rows: t.regulators.iter().map(|r| r_genes.binary_search(r).expect("regulator is in R")).collect(),
            target_col: u_pos(t.target),
        })
        .collect();
    let subsets: Vec<Vec<Vec<usize>>> =
        tasks.par_iter().map(|t| feature_subsets(opts, t.target, t.regulators.len())).collect();

    // coefs[task][bag][j] = coefficient of subsets[task][bag][j] in that bag.
    let mut coefs: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(opts.bagging); tasks.len()];
    for bag in 0..opts.bagging {
        let counts = bootstrap_counts(opts.seed, bag, n);
        let m = weighted_centred_products(x, &u_genes, &u_mean, &r_in_u, &counts);
        coefs.par_iter_mut().zip(&layouts).zip(&subsets).try_for_each(|((task_coefs, layout), subs)| {
            let c = solve_bag(&m, layout, &subs[bag], &r_in_u, &r_scale, opts.alpha)?;
            task_coefs.push(c);
            Ok::<_, AlgoError>(())
        })?;
    }

    let mut edges = Vec::new();
    for ((task, subs), task_coefs) in tasks.iter().zip(&subsets).zip(&coefs) {
        let mut per_reg: Vec<Vec<f64>> = vec![Vec::new(); task.regulators.len()];
        for (sub, c) in subs.iter().zip(task_coefs) {
            for (&j, &v) in sub.iter().zip(c) {
                per_reg[j].push(v);
            }
        }
        for (&source, values) in task.regulators.iter().zip(&per_reg) {
            edges.push(summarise_edge(source, task.target, values)?);
        }
    }
    Ok(edges)
}

/// How [`filter_edges`] splits the FDR survivors into weak and strong edges (method.md §3.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Keep {
    /// Strong = posterior of the higher-mean component of a 2-component Gaussian mixture on
    /// `ln(coef_abs)` is at least 0.5.
    Gmm,
    /// Strong = `coef_abs` at least the median `coef_abs` of the kept edges.
    Median,
    /// Strong = among the `⌈f·m⌉` largest `coef_abs` of the `m` kept edges (ties with the last
    /// one kept); `f` in `(0, 1]`.
    TopFraction(f64),
}

/// Result of [`filter_edges`], aligned with the input edges.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered {
    /// BH q-value of each edge over all edges with a finite p (NaN where p is NaN).
    pub q: Vec<f64>,
    /// `q ≤ fdr`.
    pub kept: Vec<bool>,
    /// Kept and strong under the [`Keep`] rule.
    pub strong: Vec<bool>,
    /// The mixture fitted on `ln(coef_abs)` of the kept edges with `coef_abs > 0`; `None` with
    /// fewer than two such edges.
    pub gmm: Option<Gmm1d>,
}

/// gCRL's edge filter (method.md §3.5): global BH-FDR, then a weak/strong split of the survivors.
///
/// # Arguments
/// * `edges` — all fitted edges of the network (the FDR family).
/// * `fdr` — FDR level in `(0, 1]`; an edge is kept when its q-value is `≤ fdr`.
/// * `keep` — the rule that marks kept edges as strong.
///
/// # Returns
/// q-values, kept and strong masks and the mixture fit. Errors on an invalid level or fraction, on
/// a p-value outside `[0, 1]`, and for [`Keep::Gmm`] when the mixture cannot be fitted (fewer
/// than two kept edges with `coef_abs > 0`).
///
/// # Complexity
/// `O(m log m)` plus the mixture's EM, `O(100·m)`.
pub fn filter_edges(edges: &[Edge], fdr: f64, keep: Keep) -> Result<Filtered, AlgoError> {
    if !(fdr > 0.0 && fdr <= 1.0) {
        return Err(AlgoError::Param { name: "fdr".into(), why: format!("must lie in (0, 1], got {fdr}") });
    }
    let p: Vec<f64> = edges.iter().map(|e| e.p).collect();
    let q = bh_fdr(&p)?;
    let kept: Vec<bool> = q.iter().map(|&v| v <= fdr).collect();
    let kept_idx: Vec<usize> = (0..edges.len()).filter(|&i| kept[i]).collect();
    let positive: Vec<usize> = kept_idx.iter().copied().filter(|&i| edges[i].coef_abs > 0.0).collect();
    let log_abs: Vec<f64> = positive.iter().map(|&i| edges[i].coef_abs.ln()).collect();
    let gmm = if log_abs.len() >= 2 { Some(fit_gmm_1d(&log_abs)?) } else { None };

    let mut strong = vec![false; edges.len()];
    match keep {
        Keep::Gmm => match &gmm {
            Some(fit) => {
                for (&i, &v) in positive.iter().zip(&log_abs) {
                    strong[i] = fit.posterior_high(v) >= 0.5;
                }
            }
            None if kept_idx.is_empty() => {}
            None => {
                return Err(AlgoError::TooFew(format!(
                    "the mixture needs at least 2 kept edges with coef_abs > 0, got {}",
                    log_abs.len()
                )));
            }
        },
        Keep::Median | Keep::TopFraction(_) if kept_idx.is_empty() => {}
        Keep::Median => {
            let mut abs: Vec<f64> = kept_idx.iter().map(|&i| edges[i].coef_abs).collect();
            abs.sort_by(f64::total_cmp);
            let mid = abs.len() / 2;
            let median = if abs.len() % 2 == 1 { abs[mid] } else { 0.5 * (abs[mid - 1] + abs[mid]) };
            for &i in &kept_idx {
                strong[i] = edges[i].coef_abs >= median;
            }
        }
        Keep::TopFraction(f) => {
            if !(f > 0.0 && f <= 1.0) {
                return Err(AlgoError::Param {
                    name: "keep fraction".into(),
                    why: format!("must lie in (0, 1], got {f}"),
                });
            }
            let mut abs: Vec<f64> = kept_idx.iter().map(|&i| edges[i].coef_abs).collect();
            abs.sort_by(|a, b| b.total_cmp(a));
            let count = ((f * abs.len() as f64).ceil() as usize).clamp(1, abs.len());
            let threshold = abs[count - 1];
            for &i in &kept_idx {
                strong[i] = edges[i].coef_abs >= threshold;
            }
        }
    }
    Ok(Filtered { q, kept, strong, gmm })
}

/// A target with its validated regulators (self removed).
struct Task {
    target: usize,
    regulators: Vec<usize>,
}

/// Where a task's numbers live in the shared product matrix `M_b`.
struct TaskLayout {
    /// Row of `M_b` (index into `R`) of each regulator, in the task's regulator order.
    regulator_rows: Vec<usize>,
    /// Column of `M_b` (index into `U`) of the target.
    target_col: usize,
}

fn build_tasks(candidates: &[(usize, Vec<usize>)], genes: &[String]) -> Result<Vec<Task>, AlgoError> {
    let g = genes.len();
    let mut seen_target = vec![false; g];
    let mut tasks = Vec::with_capacity(candidates.len());
    for (target, regulators) in candidates {
        let target = *target;
        check_index(target, g)?;
        if std::mem::replace(&mut seen_target[target], true) {
            return Err(AlgoError::Param {
                name: "candidates".into(),
                why: format!("target `{}` is listed twice", genes[target]),
            });
        }
        let mut sorted = regulators.clone();
        sorted.sort_unstable();
        if let Some(&r) = sorted.last() {
            check_index(r, g)?;
        }
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(AlgoError::Param {
                name: "candidates".into(),
                why: format!("regulator `{}` is listed twice for target `{}`", genes[w[0]], genes[target]),
            });
        }
        let regs: Vec<usize> = regulators.iter().copied().filter(|&r| r != target).collect();
        if !regs.is_empty() {
            tasks.push(Task { target, regulators: regs });
        }
    }
    Ok(tasks)
}

/// A random stream keyed by the master seed and a `(domain, index)` pair.
fn stream(seed: u64, domain: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(domain | index as u64);
    rng
}

/// Bootstrap multiplicities of the `n` cells for bag `bag`: `n` draws with replacement.
fn bootstrap_counts(seed: u64, bag: usize, n: usize) -> Vec<f64> {
    let mut rng = stream(seed, STREAM_BOOTSTRAP, bag);
    let mut counts = vec![0.0; n];
    for _ in 0..n {
        counts[rng.random_range(0..n)] += 1.0;
    }
    counts
}

/// The regulator subsets (sorted positions into the task's regulator list) of every bag.
fn feature_subsets(opts: &GrnOptions, target: usize, p: usize) -> Vec<Vec<usize>> {
    let k = ((opts.feature_fraction * p as f64).floor() as usize).clamp(1, p);
    let mut rng = stream(opts.seed, STREAM_FEATURES, target);
    (0..opts.bagging).map(|_| draw_subset(&mut rng, p, k)).collect()
}

fn draw_subset(rng: &mut impl Rng, p: usize, k: usize) -> Vec<usize> {
    let mut s = index::sample(rng, p, k).into_vec();
    s.sort_unstable();
    s
}

/// `M = Σᵢ cᵢ (xᵢ,R − m_R)(xᵢ,U − m_U)ᵀ` with `m` the `c`-weighted means of the U columns of `x`
/// (genes `u_genes`) centred by `u_mean`; `r_in_u` gives the positions of the R columns in U.
///
/// The drawn rows of the U columns are gathered, centred, `GRAM_BLOCK` columns at a time inside
/// each rayon task, so the memory beyond `x` is `O(n·(|R| + threads·GRAM_BLOCK))`, not a copy of
/// the matrix.
fn weighted_centred_products(
    x: ArrayView2<f64>,
    u_genes: &[usize],
    u_mean: &[f64],
    r_in_u: &[usize],
    counts: &[f64],
) -> Mat<f64> {
    let drawn: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0.0).collect();
    let total: f64 = counts.iter().sum();
    let centred = |i: usize, j: usize| x[(drawn[i], u_genes[j])] - u_mean[j];
    let weighted_mean = |col: &dyn Fn(usize) -> f64| -> f64 {
        (0..drawn.len()).map(|i| counts[drawn[i]] * col(i)).sum::<f64>() / total
    };
    let a = Mat::<f64>::from_fn(drawn.len(), r_in_u.len(), |i, r| counts[drawn[i]] * centred(i, r_in_u[r]));
    let mean_r: Vec<f64> = r_in_u.iter().map(|&ru| weighted_mean(&|i| centred(i, ru))).collect();
    let mut m = Mat::<f64>::zeros(r_in_u.len(), u_genes.len());
    m.as_mut().par_col_chunks_mut(GRAM_BLOCK).enumerate().for_each(|(chunk, mut dst)| {
        let start = chunk * GRAM_BLOCK;
        let b = Mat::<f64>::from_fn(drawn.len(), dst.ncols(), |i, j| centred(i, start + j));
        let mean_u: Vec<f64> = (0..b.ncols()).map(|j| weighted_mean(&|i| b[(i, j)])).collect();
        matmul(dst.as_mut(), Accum::Replace, a.as_ref().transpose(), b.as_ref(), 1.0, Par::Seq);
        for j in 0..dst.ncols() {
            for (r, &mr) in mean_r.iter().enumerate() {
                dst[(r, j)] -= total * mr * mean_u[j];
            }
        }
    });
    m
}

/// One `(target, bag)` fit from the shared products: gather the scaled sub-block, solve.
fn solve_bag(
    m: &Mat<f64>,
    layout: &TaskLayout,
    subset: &[usize],
    r_in_u: &[usize],
    r_scale: &[f64],
    alpha: f64,
) -> Result<Vec<f64>, AlgoError> {
    let rows: Vec<usize> = subset.iter().map(|&j| layout.regulator_rows[j]).collect();
    let mut gram = Mat::<f64>::from_fn(rows.len(), rows.len(), |a, b| {
        m[(rows[a], r_in_u[rows[b]])] / (r_scale[rows[a]] * r_scale[rows[b]])
    });
    let mut rhs: Vec<f64> = rows.iter().map(|&r| m[(r, layout.target_col)] / r_scale[r]).collect();
    solve_ridge(gram.as_mut(), &mut rhs, alpha)?;
    Ok(rhs)
}

/// Solves `(gram + αI) w = rhs` in place (`rhs` becomes `w`) by a sequential Cholesky.
pub(crate) fn solve_ridge(mut gram: MatMut<f64>, rhs: &mut [f64], alpha: f64) -> Result<(), AlgoError> {
    let k = rhs.len();
    for i in 0..k {
        gram[(i, i)] += alpha;
    }
    let mut buf = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(k, Par::Seq, Default::default()));
    llt::factor::cholesky_in_place(
        gram.as_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut buf),
        Default::default(),
    )
    .map_err(|e| AlgoError::Numerical(format!("ridge system is not positive definite: {e:?}")))?;
    let rhs_mat = MatMut::from_column_major_slice_mut(rhs, k, 1);
    llt::solve::solve_in_place(
        gram.as_ref(),
        rhs_mat,
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(llt::solve::solve_in_place_scratch::<f64>(k, 1, Par::Seq))),
    );
    Ok(())
}

/// Mean, |mean| and the two-sided t-test p of one edge's bag coefficients.
fn summarise_edge(source: usize, target: usize, values: &[f64]) -> Result<Edge, AlgoError> {
    let coef_mean = values.iter().sum::<f64>() / values.len() as f64;
    let p = match t_test_one_sample(values, 0.0, Alternative::TwoSided) {
        Ok(t) => t.p,
        Err(AlgoError::TooFew(_) | AlgoError::Numerical(_)) => f64::NAN,
        Err(e) => return Err(e),
    };
    Ok(Edge { source, target, coef_mean, coef_abs: coef_mean.abs(), p, n_bags: values.len() })
}

fn check_options(opts: &GrnOptions) -> Result<(), AlgoError> {
    check_alpha(opts.alpha)?;
    if opts.bagging == 0 {
        return Err(AlgoError::Param { name: "bagging".into(), why: "needs at least one estimator".into() });
    }
    if !(opts.feature_fraction > 0.0 && opts.feature_fraction <= 1.0) {
        return Err(AlgoError::Param {
            name: "feature_fraction".into(),
            why: format!("must lie in (0, 1], got {}", opts.feature_fraction),
        });
    }
    Ok(())
}

fn check_alpha(alpha: f64) -> Result<(), AlgoError> {
    if alpha.is_finite() && alpha > 0.0 {
        Ok(())
    } else {
        Err(AlgoError::Param { name: "alpha".into(), why: format!("must be finite and > 0, got {alpha}") })
    }
}

fn check_len(what: &str, expected: usize, got: usize) -> Result<(), AlgoError> {
    if expected == got { Ok(()) } else { Err(AlgoError::Shape { what: what.into(), expected, got }) }
}

fn check_index(i: usize, g: usize) -> Result<(), AlgoError> {
    if i < g {
        Ok(())
    } else {
        Err(AlgoError::Param {
            name: "candidates".into(),
            why: format!("gene index {i} is out of range for {g} genes"),
        })
    }
}

fn check_finite_all<'a>(mut values: impl Iterator<Item = &'a f64>, what: &str) -> Result<(), AlgoError> {
    if values.all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(AlgoError::NonFinite(format!("{what} contains NaN or infinity")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
        }
    }

    /// The fixture of crosscheck/ridge.py used below.
    fn ridge_fixture() -> (Array2<f64>, Array1<f64>, Vec<f64>) {
        let x = Array2::from_shape_fn((12, 4), |(i, j)| {
            let (i, j) = (i as f64, j as f64);
            (0.7 * i + 1.3 * j + 0.1 * i * j).sin() + 0.5 * j
        });
        let y = Array1::from_shape_fn(12, |i| 1.5 * x[(i, 0)] - 2.0 * x[(i, 2)] + 0.3 * (i as f64).cos() + 2.0);
        let w = (0..12).map(|i| (i * 7 % 4) as f64).collect();
        (x, y, w)
    }

    #[test]
    fn ridge_matches_sklearn() {
        // x[i][j] = sin(0.7i + 1.3j + 0.1ij) + 0.5j, y[i] = 1.5x[i][0] − 2x[i][2] + 0.3cos(i) + 2,
        // w[i] = (7i mod 4), i < 12, j < 4:
        // Ridge(alpha=10, fit_intercept=True).fit(x, y, sample_weight=w), scikit-learn 1.9.1.
        let (x, y, w) = ridge_fixture();
        let fit = ridge(x.view(), y.view(), Some(&w), 10.0).unwrap();
        let coef = [0.9431306801106827, 0.3376023577794267, -0.9838510234597001, 0.10679347529677045];
        assert_close(&fit.coef, &coef, 1e-10);
        assert_close(&[fit.intercept], &[0.9058162480780139], 1e-10);
        // Ridge(alpha=0.5, fit_intercept=True).fit(x, y)
        let fit = ridge(x.view(), y.view(), None, 0.5).unwrap();
        let coef = [1.5388375759665336, 0.18844946313951966, -1.5111636720098849, 0.04082543722790841];
        assert_close(&fit.coef, &coef, 1e-10);
        assert_close(&[fit.intercept], &[1.3870041853690935], 1e-10);
    }

    #[test]
    fn ridge_rejects_bad_input() {
        let (mut x, y, w) = ridge_fixture();
        assert!(matches!(ridge(x.view(), y.view(), Some(&w), 0.0), Err(AlgoError::Param { .. })));
        assert!(matches!(ridge(x.view(), y.view(), Some(&[0.0; 12]), 1.0), Err(AlgoError::Param { .. })));
        assert!(matches!(ridge(x.view(), y.view(), Some(&w[..3]), 1.0), Err(AlgoError::Shape { .. })));
        x[(3, 1)] = f64::NAN;
        assert!(matches!(ridge(x.view(), y.view(), None, 1.0), Err(AlgoError::NonFinite(_))));
    }

    /// Uniform(−1, 1) expression for `n` cells and `g` genes, with targets planted as
    /// `x[t] = Σ β·x[r] + 0.1·noise + 3` for every `(t, [(r, β)])` in `model`.
    fn planted(n: usize, g: usize, model: &[(usize, &[(usize, f64)])], seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::from_shape_fn((n, g), |_| rng.random_range(-1.0..1.0));
        for &(t, terms) in model {
            for i in 0..n {
                let noise: f64 = rng.random_range(-1.0..1.0);
                x[(i, t)] = terms.iter().map(|&(r, b)| b * x[(i, r)]).sum::<f64>() + 0.1 * noise + 3.0;
            }
        }
        x
    }

    fn names(g: usize) -> Vec<String> {
        (0..g).map(|i| format!("g{i}")).collect()
    }

    #[test]
    fn bagging_recovers_planted_regulators() {
        let model: [(usize, &[(usize, f64)]); 2] = [(8, &[(0, 2.0), (3, -1.0)]), (9, &[(5, 1.5)])];
        let x = planted(600, 10, &model, 7);
        // Every gene 0..8 is a candidate of both targets; 9 also lists itself (dropped).
        let candidates = vec![(8, (0..8).collect::<Vec<_>>()), (9, (0..10).filter(|&r| r != 8).collect())];
        let edges = bagging_ridge(x.view(), &names(10), &candidates, &GrnOptions::default()).unwrap();
        assert_eq!(edges.len(), 16);
        assert!(edges.iter().all(|e| e.source != e.target));
        for e in &edges {
            let beta = model
                .iter()
                .find(|(t, _)| *t == e.target)
                .and_then(|(_, terms)| terms.iter().find(|(r, _)| *r == e.source))
                .map_or(0.0, |&(_, b)| b);
            // Regressors are divided by their sd (uniform(−1, 1): sd ≈ 1/√3), so the fitted
            // coefficient is ≈ β·sd, slightly shrunk by α = 10 against n = 600 cells.
            let sd = x.column(e.source).std(0.0);
            if beta != 0.0 {
                assert!(e.p < 1e-10, "true edge {e:?}");
                assert!((e.coef_mean / (beta * sd) - 1.0).abs() < 0.05, "true edge {e:?}");
            } else {
                // Feature bagging leaves out a true regulator in some bags, so null edges pick
                // up omitted-variable bias of order β·sd/√n: small, and far less significant.
                assert!(e.coef_abs < 0.1 && e.p > 1e-4, "null edge {e:?}");
            }
            assert!(e.n_bags >= 8 && e.n_bags <= 20);
        }
    }

    #[test]
    fn shared_products_equal_a_direct_weighted_fit() {
        // One bag with every regulator: the shortcut must reproduce `ridge` on the scaled
        // regressors with the bag's bootstrap counts as sample weights.
        let x = planted(200, 6, &[(5, &[(0, 1.0), (2, 0.5)])], 3);
        let opts = GrnOptions { bagging: 1, feature_fraction: 1.0, alpha: 2.5, seed: 11 };
        let regs = vec![0, 1, 2, 3];
        let edges = bagging_ridge(x.view(), &names(6), &[(5, regs.clone())], &opts).unwrap();
        let scaled = Array2::from_shape_fn((200, 4), |(i, j)| x[(i, regs[j])] / x.column(regs[j]).std(0.0));
        let counts = bootstrap_counts(opts.seed, 0, 200);
        let fit = ridge(scaled.view(), x.column(5), Some(&counts), opts.alpha).unwrap();
        let got: Vec<f64> = edges.iter().map(|e| e.coef_mean).collect();
        assert_close(&got, &fit.coef, 1e-10);
        assert!(edges.iter().all(|e| e.p.is_nan() && e.n_bags == 1));
    }

    #[test]
    fn same_edges_for_any_thread_count() {
        let x = planted(300, 12, &[(10, &[(1, 1.0)]), (11, &[(2, -1.0)])], 5);
        let candidates: Vec<(usize, Vec<usize>)> = (6..12).map(|t| (t, (0..6).collect())).collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| bagging_ridge(x.view(), &names(12), &candidates, &GrnOptions::default()).unwrap())
        };
        let one = run(1);
        let two = run(2);
        assert_eq!(one.len(), 36);
        for (a, b) in one.iter().zip(&two) {
            assert_eq!(a.coef_mean.to_bits(), b.coef_mean.to_bits());
            assert_eq!(a.p.to_bits(), b.p.to_bits());
        }
    }

    #[test]
    fn constant_regulator_gets_zero_coefficient_and_no_p() {
        let mut x = planted(100, 4, &[(3, &[(0, 1.0)])], 9);
        x.column_mut(1).fill(2.0);
        let edges = bagging_ridge(x.view(), &names(4), &[(3, vec![0, 1, 2])], &GrnOptions::default()).unwrap();
        let e = edges.iter().find(|e| e.source == 1).unwrap();
        assert_eq!(e.coef_mean, 0.0);
        assert!(e.p.is_nan());
    }

    #[test]
    fn bagging_rejects_bad_input() {
        let x = planted(50, 4, &[], 1);
        let g = names(4);
        let opts = GrnOptions::default();
        let err = |c: &[(usize, Vec<usize>)], o: &GrnOptions| bagging_ridge(x.view(), &g, c, o);
        assert!(matches!(err(&[(0, vec![1]), (0, vec![2])], &opts), Err(AlgoError::Param { .. })));
        assert!(matches!(err(&[(0, vec![1, 1])], &opts), Err(AlgoError::Param { .. })));
        assert!(matches!(err(&[(0, vec![4])], &opts), Err(AlgoError::Param { .. })));
        let bad = GrnOptions { feature_fraction: 0.0, ..opts };
        assert!(matches!(err(&[(0, vec![1])], &bad), Err(AlgoError::Param { .. })));
        // A target whose only candidate is itself fails silently: no edges.
        assert!(err(&[(0, vec![0])], &opts).unwrap().is_empty());
        let mut y = x.clone();
        y[(0, 0)] = f64::INFINITY;
        assert!(matches!(bagging_ridge(y.view(), &g, &[(0, vec![1])], &opts), Err(AlgoError::NonFinite(_))));
    }

    fn edge(p: f64, coef_abs: f64) -> Edge {
        Edge { source: 0, target: 1, coef_mean: -coef_abs, coef_abs, p, n_bags: 16 }
    }

    #[test]
    fn filter_uses_global_bh_and_median() {
        // method.md §10: statsmodels multipletests(p, method='fdr_bh') for these p-values gives
        // q = [0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.105714, 0.216, 0.216, 0.216].
        let p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216];
        let abs = [0.5, 0.1, 0.3, 0.2, 0.4, 0.9, 0.9, 0.9, 0.9, 0.9];
        let mut edges: Vec<Edge> = p.iter().zip(abs).map(|(&p, a)| edge(p, a)).collect();
        edges.push(edge(f64::NAN, 1.0));
        let f = filter_edges(&edges, 0.1, Keep::Median).unwrap();
        let q = [0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.105714, 0.216, 0.216, 0.216];
        assert_close(&f.q[..10], &q, 1e-6);
        assert!(f.q[10].is_nan());
        let kept = [true, true, true, true, true, true, false, false, false, false, false];
        assert_eq!(f.kept, kept);
        // Kept |coef| = [0.5, 0.1, 0.3, 0.2, 0.4, 0.9]: median 0.35.
        let strong = [true, false, false, false, true, true, false, false, false, false, false];
        assert_eq!(f.strong, strong);
        // Top third of six kept edges: the two largest |coef|.
        let f = filter_edges(&edges, 0.1, Keep::TopFraction(1.0 / 3.0)).unwrap();
        let strong = [true, false, false, false, false, true, false, false, false, false, false];
        assert_eq!(f.strong, strong);
    }

    #[test]
    fn filter_gmm_marks_the_high_component() {
        // ln|coef| in two tight clusters around ln 0.01 and ln 1; all p tiny.
        let edges: Vec<Edge> = (0..40)
            .map(|i| {
                let base: f64 = if i % 4 == 0 { 1.0 } else { 0.01 };
                edge(1e-6, base * (1.0 + 0.05 * (i as f64).sin()))
            })
            .collect();
        let f = filter_edges(&edges, 0.05, Keep::Gmm).unwrap();
        let gmm = f.gmm.unwrap();
        assert!((gmm.weights[1] - 0.25).abs() < 1e-9);
        let want: Vec<bool> = (0..40).map(|i| i % 4 == 0).collect();
        assert_eq!(f.strong, want);
        // No survivors: nothing strong, no mixture, no error.
        let none = filter_edges(&[edge(0.9, 1.0)], 0.05, Keep::Gmm).unwrap();
        assert_eq!((none.kept, none.strong, none.gmm), (vec![false], vec![false], None));
        assert!(filter_edges(&edges, 0.0, Keep::Median).is_err());
        assert!(filter_edges(&edges, 0.05, Keep::TopFraction(1.5)).is_err());
    }
}
