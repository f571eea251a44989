//! gCRL's continuous T-MEX (method.md §6.3): how well a linear map `A` of learned latents `Ẑ`
//! lines each aligned latent `Z_i = Ẑ a_i` up with its TF community activity `TFA_i`, measured
//! by the partial correlation `ρ(Z_i, TFA_i | TFA_{−i})`, and the alignment `A` maximising it.
//!
//! The objective is separable over the columns of `A` and scale-invariant in each, and each term
//! is maximised in closed form by the OLS direction `a_i* = (R_ZᵀR_Z)⁻¹ R_Zᵀ r_T` on the data
//! residualised on `[1, TFA_{−i}]` ([`fit_alignment`]). [`fit_alignment_gradient`] reaches the
//! same optimum by Adam, as the paper describes; a test checks they agree. Also MCC (§7.6).
//!
//! Every quantity depends on the cells only through the centred cross-products of `[TFA | Ẑ]`.
//! [`Moments`] holds them, so many labellings of the same latents (the permutation test) are
//! scored from one pass over the cells: activities that are an affine map `X W + b` of the TF
//! expression have moments `Wᵀ S_XX W` ([`Moments::project`]), and the residualisation on
//! `[1, TFA_{−i}]` becomes a sweep of the scatter matrix. [`fit_alignment_moments`],
//! [`tmex_moments`] and [`mcc_moments`] agree with the cell-level route to rounding (tests).
//!
//! Pure maths over ndarray in float64; no I/O.

use faer::Mat;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut1, Axis, s};

use crate::algo::AlgoError;
use crate::algo::partition::hungarian_max;
use crate::algo::ridge::solve_ridge;
use crate::algo::stats::pearson;

/// The data of one T-MEX term, residualised on `[1, TFA_{−i}]`, as Gram matrices.
struct Term {
    /// `R_Zᵀ R_Z` (q × q).
    gram: Mat<f64>,
    /// `R_Zᵀ r_T` (q).
    cross: Vec<f64>,
    /// `‖r_T‖`.
    norm_t: f64,
}

impl Term {
    /// `ρ_i(a) = bᵀa / (‖r_T‖ √(aᵀGa))`.
    fn rho(&self, a: &[f64]) -> f64 {
        let ga = gram_times(&self.gram, a);
        let s = dot(a, &ga).max(0.0).sqrt();
        if s == 0.0 || self.norm_t == 0.0 { 0.0 } else { dot(&self.cross, a) / (self.norm_t * s) }
    }

    /// The gradient of [`Term::rho`] with respect to `a`.
    fn gradient(&self, a: &[f64]) -> Vec<f64> {
        let ga = gram_times(&self.gram, a);
        let s2 = dot(a, &ga);
        if s2 <= 0.0 || self.norm_t == 0.0 {
            return vec![0.0; a.len()];
        }
        let s = s2.sqrt();
        let ba = dot(&self.cross, a);
        self.cross.iter().zip(&ga).map(|(b, g)| (b / s - ba * g / (s * s2)) / self.norm_t).collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn gram_times(g: &Mat<f64>, a: &[f64]) -> Vec<f64> {
    (0..g.nrows()).map(|r| (0..g.ncols()).map(|c| g[(r, c)] * a[c]).sum()).collect()
}

fn to_faer(m: ArrayView2<f64>) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |r, c| m[(r, c)])
}

fn check(z_hat: ArrayView2<f64>, tfa: ArrayView2<f64>) -> Result<(), AlgoError> {
    if z_hat.nrows() != tfa.nrows() {
        return Err(AlgoError::Shape {
            what: "T-MEX: rows of the latents".into(),
            expected: tfa.nrows(),
            got: z_hat.nrows(),
        });
    }
    let d = tfa.ncols();
    if d == 0 || z_hat.ncols() == 0 {
        return Err(AlgoError::TooFew("T-MEX needs at least one activity and one latent".into()));
    }
    if tfa.nrows() < d + z_hat.ncols() + 2 {
        return Err(AlgoError::TooFew(format!(
            "T-MEX with {d} activities and {} latents needs more than {} cells, got {}",
            z_hat.ncols(),
            d + z_hat.ncols() + 1,
            tfa.nrows()
        )));
    }
    if let Some(v) = z_hat.iter().chain(tfa.iter()).find(|v| !v.is_finite()) {
        return Err(AlgoError::NonFinite(format!("T-MEX input holds {v}")));
    }
    Ok(())
}

/// Residuals of the columns of `y` after least squares on `[1, c]` (an intercept and `c`).
///
/// The conditioners are orthonormalised by modified Gram–Schmidt, twice (columns that add no
/// new direction are dropped, so collinear conditioners are fine), and their span is projected
/// out of `y`, twice. Sequential on purpose: the arithmetic must not depend on the thread count
/// (faer's high-level QR follows the global rayon parallelism).
///
/// # Complexity
/// `O(n · p · (p + q))` for `n` rows, `p` conditioners and `q` columns of `y`.
pub fn residualise(c: ArrayView2<f64>, y: ArrayView2<f64>) -> Array2<f64> {
    let n = y.nrows();
    let mut basis: Vec<Array1<f64>> = Vec::with_capacity(c.ncols() + 1);
    for column in std::iter::once(Array1::ones(n)).chain(c.columns().into_iter().map(|v| v.to_owned())) {
        let scale = column.dot(&column).sqrt();
        let mut v = column;
        project_out(&basis, v.view_mut());
        let norm = v.dot(&v).sqrt();
        if norm > 1e-10 * scale {
            basis.push(v / norm);
        }
    }
    let mut r = y.to_owned();
    for col in r.columns_mut() {
        project_out(&basis, col);
    }
    r
}

/// Removes from `v` its components along the orthonormal `basis`, in two passes.
fn project_out(basis: &[Array1<f64>], mut v: ArrayViewMut1<f64>) {
    for _ in 0..2 {
        for q in basis {
            let p = q.dot(&v.view());
            v.scaled_add(-p, q);
        }
    }
}

/// The terms of T-MEX: for each activity `i`, the data residualised on `[1, TFA_{−i}]`.
fn terms(z_hat: ArrayView2<f64>, tfa: ArrayView2<f64>) -> Vec<Term> {
    let d = tfa.ncols();
    (0..d)
        .map(|i| {
            let others: Vec<usize> = (0..d).filter(|&j| j != i).collect();
            let c = tfa.select(Axis(1), &others);
            let r_t = residualise(c.view(), tfa.slice(s![.., i..i + 1]));
            let r_z = residualise(c.view(), z_hat);
            let r_t = r_t.column(0);
            let gram = to_faer(r_z.t().dot(&r_z).view());
            let cross = r_z.t().dot(&r_t).to_vec();
            Term { gram, cross, norm_t: r_t.dot(&r_t).sqrt() }
        })
        .collect()
}

/// T-MEX of the aligned latents `Z = Ẑ A`: `(1/d) Σ_i ρ(Z_i, TFA_i | TFA_{−i})`.
///
/// # Arguments
/// * `z_hat` — `n × q` learned latents; `tfa` — `n × d` activities; `a` — `q × d` alignment.
///
/// # Returns
/// The mean partial correlation in `[−1, 1]` (higher is better) and the `d` terms.
pub fn tmex(z_hat: ArrayView2<f64>, tfa: ArrayView2<f64>, a: ArrayView2<f64>) -> Result<(f64, Vec<f64>), AlgoError> {
    check(z_hat, tfa)?;
    if a.dim() != (z_hat.ncols(), tfa.ncols()) {
        return Err(AlgoError::Shape { what: "T-MEX: rows of A".into(), expected: z_hat.ncols(), got: a.nrows() });
    }
    Ok(score_terms(&terms(z_hat, tfa), a))
}

/// The mean of the terms' partial correlations under `a`, and the terms.
fn score_terms(terms: &[Term], a: ArrayView2<f64>) -> (f64, Vec<f64>) {
    let rho: Vec<f64> = terms.iter().enumerate().map(|(i, t)| t.rho(&a.column(i).to_vec())).collect();
    (rho.iter().sum::<f64>() / rho.len() as f64, rho)
}

/// The centred cross-products of the columns of `[L | Ẑ]` over a set of cells: `lead` leading
/// columns (activities, or the TF expression they are an affine map of), then the latents.
///
/// Scale does not matter to any statistic here, so it is the scatter (no division by `n`).
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// Cells the moments are over.
    pub cells: usize,
    /// Number of leading columns.
    pub lead: usize,
    /// `Σ (x − x̄)(x − x̄)ᵀ`, symmetric, `(lead + q)²`.
    pub scatter: Array2<f64>,
}

impl Moments {
    /// The moments of `[lead | z_hat]` over the rows `rows`.
    ///
    /// # Complexity
    /// `O(|rows| · (p + q)²)` for `p` leading columns and `q` latents.
    pub fn of(lead: ArrayView2<f64>, z_hat: ArrayView2<f64>, rows: &[usize]) -> Result<Moments, AlgoError> {
        if lead.nrows() != z_hat.nrows() {
            return Err(AlgoError::Shape {
                what: "moments: rows of the latents".into(),
                expected: lead.nrows(),
                got: z_hat.nrows(),
            });
        }
        if let Some(&r) = rows.iter().find(|&&r| r >= lead.nrows()) {
            return Err(AlgoError::Shape { what: "moments: a row index".into(), expected: lead.nrows(), got: r });
        }
        let (p, q) = (lead.ncols(), z_hat.ncols());
        let mut x = Array2::zeros((rows.len(), p + q));
        for (k, &r) in rows.iter().enumerate() {
            x.slice_mut(s![k, ..p]).assign(&lead.row(r));
            x.slice_mut(s![k, p..]).assign(&z_hat.row(r));
        }
        if let Some(v) = x.iter().find(|v| !v.is_finite()) {
            return Err(AlgoError::NonFinite(format!("moments input holds {v}")));
        }
        if let Some(mean) = x.mean_axis(Axis(0)) {
            x -= &mean;
        }
        Ok(Moments { cells: rows.len(), lead: p, scatter: x.t().dot(&x) })
    }

    /// The moments of `[L W | Ẑ]`: leading columns mapped by `w` (`lead × d`), as for activities
    /// that are an affine map `X W + b` of the leading columns (the offset drops out).
    ///
    /// # Complexity
    /// `O(p² d + p q d)`.
    pub fn project(&self, w: ArrayView2<f64>) -> Result<Moments, AlgoError> {
        if w.nrows() != self.lead {
            return Err(AlgoError::Shape {
                what: "moments: rows of the map".into(),
                expected: self.lead,
                got: w.nrows(),
            });
        }
        let (p, d) = (self.lead, w.ncols());
        let q = self.scatter.nrows() - p;
        let s_xx = self.scatter.slice(s![..p, ..p]);
        let s_xz = self.scatter.slice(s![..p, p..]);
        let mut out = Array2::zeros((d + q, d + q));
        out.slice_mut(s![..d, ..d]).assign(&w.t().dot(&s_xx.dot(&w)));
        let cross = w.t().dot(&s_xz);
        out.slice_mut(s![..d, d..]).assign(&cross);
        out.slice_mut(s![d.., ..d]).assign(&cross.t());
        out.slice_mut(s![d.., d..]).assign(&self.scatter.slice(s![p.., p..]));
        Ok(Moments { cells: self.cells, lead: d, scatter: out })
    }

    /// Number of latents `q`.
    fn latents(&self) -> usize {
        self.scatter.nrows() - self.lead
    }

    /// Checks that the moments hold activities and latents over enough cells for T-MEX.
    fn check(&self) -> Result<(), AlgoError> {
        let (d, q) = (self.lead, self.latents());
        if d == 0 || q == 0 {
            return Err(AlgoError::TooFew("T-MEX needs at least one activity and one latent".into()));
        }
        if self.cells < d + q + 2 {
            return Err(AlgoError::TooFew(format!(
                "T-MEX with {d} activities and {q} latents needs more than {} cells, got {}",
                d + q + 1,
                self.cells
            )));
        }
        if let Some(v) = self.scatter.iter().find(|v| !v.is_finite()) {
            return Err(AlgoError::NonFinite(format!("T-MEX moments hold {v}")));
        }
        Ok(())
    }

    /// The T-MEX terms: for each activity `i`, the scatter of `[TFA_i | Ẑ]` with `TFA_{−i}`
    /// swept out (the residuals' Gram matrices on `[1, TFA_{−i}]`). A conditioner whose
    /// remaining variance is below `1e-20` of its own is skipped, as [`residualise`] drops a
    /// column that adds no new direction.
    fn terms(&self) -> Vec<Term> {
        let (d, q) = (self.lead, self.latents());
        (0..d)
            .map(|i| {
                let mut m = self.scatter.clone();
                for c in (0..d).filter(|&c| c != i) {
                    let pivot = m[(c, c)];
                    if !(pivot > 0.0 && pivot > 1e-20 * self.scatter[(c, c)]) {
                        continue;
                    }
                    let col = m.column(c).to_owned();
                    for r in 0..d + q {
                        for k in 0..d + q {
                            m[(r, k)] -= col[r] * col[k] / pivot;
                        }
                    }
                }
                let gram = Mat::from_fn(q, q, |r, k| m[(d + r, d + k)]);
                let cross = (0..q).map(|r| m[(d + r, i)]).collect();
                Term { gram, cross, norm_t: m[(i, i)].max(0.0).sqrt() }
            })
            .collect()
    }
}

/// [`fit_alignment`] from the moments of `[TFA | Ẑ]` over the fitting cells.
///
/// # Complexity
/// `O(d² (d + q)²)`, independent of the number of cells.
pub fn fit_alignment_moments(m: &Moments) -> Result<Array2<f64>, AlgoError> {
    m.check()?;
    align(m.terms(), m.latents())
}

/// [`tmex`] from the moments of `[TFA | Ẑ]` over the scored cells.
///
/// # Complexity
/// `O(d² (d + q)²)`.
pub fn tmex_moments(m: &Moments, a: ArrayView2<f64>) -> Result<(f64, Vec<f64>), AlgoError> {
    m.check()?;
    if a.dim() != (m.latents(), m.lead) {
        return Err(AlgoError::Shape { what: "T-MEX: rows of A".into(), expected: m.latents(), got: a.nrows() });
    }
    Ok(score_terms(&m.terms(), a))
}

/// [`mcc`] of the activities and the aligned latents `Ẑ A`, from the moments of `[TFA | Ẑ]`.
pub fn mcc_moments(m: &Moments, a: ArrayView2<f64>) -> Result<f64, AlgoError> {
    let (d, q) = (m.lead, m.latents());
    if a.nrows() != q {
        return Err(AlgoError::Shape { what: "MCC: rows of A".into(), expected: q, got: a.nrows() });
    }
    let s_tt = m.scatter.slice(s![..d, ..d]);
    let s_tz = m.scatter.slice(s![..d, d..]).dot(&a);
    let s_zz = a.t().dot(&m.scatter.slice(s![d.., d..]).dot(&a));
    let corr = Array2::from_shape_fn((d, a.ncols()), |(i, j)| {
        let denominator = (s_tt[(i, i)] * s_zz[(j, j)]).sqrt();
        if denominator > 0.0 { s_tz[(i, j)] / denominator } else { 0.0 }
    });
    matched_mean(corr.view())
}

/// The alignment `A` (`q × d`, unit-norm columns) maximising T-MEX, in closed form.
///
/// Column `i` is the OLS direction of the residualised activity on the residualised latents;
/// a tiny ridge (`1e-8 · trace/q`) keeps a singular `R_ZᵀR_Z` solvable.
///
/// # Complexity
/// `O(d · n · (d + q)²)`.
pub fn fit_alignment(z_hat: ArrayView2<f64>, tfa: ArrayView2<f64>) -> Result<Array2<f64>, AlgoError> {
    check(z_hat, tfa)?;
    align(terms(z_hat, tfa), z_hat.ncols())
}

/// The closed-form alignment of each term (see [`fit_alignment`]).
fn align(terms: Vec<Term>, q: usize) -> Result<Array2<f64>, AlgoError> {
    let mut a = Array2::zeros((q, terms.len()));
    for (i, term) in terms.into_iter().enumerate() {
        let mut g = term.gram.clone();
        let ridge = 1e-8 * (0..q).map(|j| g[(j, j)]).sum::<f64>().max(f64::MIN_POSITIVE) / q as f64;
        let mut col = term.cross.clone();
        solve_ridge(g.as_mut(), &mut col, ridge)
            .map_err(|e| AlgoError::Numerical(format!("T-MEX alignment for activity {i}: {e}")))?;
        a.column_mut(i).assign(&Array1::from(unit(col)));
    }
    Ok(a)
}

fn unit(v: Vec<f64>) -> Vec<f64> {
    let norm = dot(&v, &v).sqrt();
    if norm > 0.0 { v.into_iter().map(|x| x / norm).collect() } else { v }
}

/// Options of the gradient solver.
#[derive(Debug, Clone, Copy)]
pub struct GradientOptions {
    /// Adam step size.
    pub lr: f64,
    /// Maximum number of full-batch steps.
    pub steps: usize,
    /// Stop when no term improves by more than this over one step.
    pub tolerance: f64,
}

impl Default for GradientOptions {
    fn default() -> Self {
        GradientOptions { lr: 1e-2, steps: 2000, tolerance: 1e-12 }
    }
}

/// The alignment maximising T-MEX by gradient ascent (Adam, `A₀ = I` padded with zeros), as the
/// paper describes; columns are renormalised to unit norm after every step.
///
/// # Complexity
/// `O(d · n · (d + q)²)` to residualise, then `O(steps · d · q²)`.
pub fn fit_alignment_gradient(
    z_hat: ArrayView2<f64>,
    tfa: ArrayView2<f64>,
    opts: GradientOptions,
) -> Result<Array2<f64>, AlgoError> {
    check(z_hat, tfa)?;
    let (q, d) = (z_hat.ncols(), tfa.ncols());
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    let mut a = Array2::zeros((q, d));
    for (i, term) in terms(z_hat, tfa).into_iter().enumerate() {
        let mut col: Vec<f64> = (0..q).map(|r| if r == i % q { 1.0 } else { 0.0 }).collect();
        let (mut m, mut v) = (vec![0.0; q], vec![0.0; q]);
        let mut last = term.rho(&col);
        for step in 1..=opts.steps {
            let g = term.gradient(&col);
            for j in 0..q {
                m[j] = b1 * m[j] + (1.0 - b1) * g[j];
                v[j] = b2 * v[j] + (1.0 - b2) * g[j] * g[j];
                let (mh, vh) = (m[j] / (1.0 - b1_pow(b1, step)), v[j] / (1.0 - b1_pow(b2, step)));
                col[j] += opts.lr * mh / (vh.sqrt() + eps);
            }
            col = unit(col);
            let now = term.rho(&col);
            if (now - last).abs() < opts.tolerance && step > 10 {
                break;
            }
            last = now;
        }
        a.column_mut(i).assign(&Array1::from(col));
    }
    Ok(a)
}

fn b1_pow(b: f64, step: usize) -> f64 {
    b.powi(step.min(i32::MAX as usize) as i32)
}

/// Pearson correlations between every column of `x` (rows of the result) and of `y`.
pub fn correlation_matrix(x: ArrayView2<f64>, y: ArrayView2<f64>) -> Result<Array2<f64>, AlgoError> {
    let mut out = Array2::zeros((x.ncols(), y.ncols()));
    for i in 0..x.ncols() {
        let xi = x.column(i).to_vec();
        for j in 0..y.ncols() {
            out[(i, j)] = match pearson(&xi, &y.column(j).to_vec()) {
                Ok(r) => r,
                Err(AlgoError::Numerical(_)) => 0.0,
                Err(e) => return Err(e),
            };
        }
    }
    Ok(out)
}

/// Mean correlation coefficient (method.md §7.6): `|corr|` between reference factors (columns of
/// `reference`) and latents, optimal one-to-one matching by the Hungarian algorithm, mean of the
/// matched `|corr|` over the smaller side.
pub fn mcc(reference: ArrayView2<f64>, latents: ArrayView2<f64>) -> Result<f64, AlgoError> {
    matched_mean(correlation_matrix(reference, latents)?.view())
}

/// The mean `|corr|` of the best one-to-one matching of the rows and columns of `corr`.
fn matched_mean(corr: ArrayView2<f64>) -> Result<f64, AlgoError> {
    let abs = corr.mapv(f64::abs);
    let assignment = hungarian_max(abs.view())?;
    let matched: Vec<f64> = assignment.iter().enumerate().filter_map(|(r, c)| c.map(|c| abs[(r, c)])).collect();
    if matched.is_empty() {
        return Err(AlgoError::TooFew("MCC needs at least one factor and one latent".into()));
    }
    Ok(matched.iter().sum::<f64>() / matched.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn normal(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, d), |_| crate::algo::random::normal(rng))
    }

    /// A synthetic case (method.md §10): activities with correlated columns; latents that are an
    /// unknown mixing of the activities plus noise.
    fn synthetic(n: usize, d: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let base = normal(&mut rng, n, d);
        let shared = normal(&mut rng, n, 1);
        let tfa = &base + &(&shared * 0.5);
        let mix = normal(&mut rng, d, d);
        let z_hat = tfa.dot(&mix) + normal(&mut rng, n, d) * 0.7;
        (z_hat, tfa)
    }

    /// Partial correlation by the textbook route: correlation of the two residual vectors.
    fn partial_corr_naive(x: &[f64], y: &[f64], c: ArrayView2<f64>) -> f64 {
        let xy = Array2::from_shape_fn((x.len(), 2), |(r, j)| if j == 0 { x[r] } else { y[r] });
        let res = residualise(c, xy.view());
        pearson(&res.column(0).to_vec(), &res.column(1).to_vec()).unwrap()
    }

    #[test]
    fn residuals_are_orthogonal_to_the_conditioners_and_the_intercept() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = normal(&mut rng, 200, 3) + 2.0;
        let y = normal(&mut rng, 200, 2) + c.slice(s![.., 0..2]).to_owned() * 3.0;
        let r = residualise(c.view(), y.view());
        for j in 0..2 {
            assert!(r.column(j).sum().abs() < 1e-9);
            for k in 0..3 {
                assert!(r.column(j).dot(&c.column(k)).abs() < 1e-8);
            }
        }
    }

    #[test]
    fn tmex_terms_equal_partial_correlations_computed_naively() {
        let (z_hat, tfa) = synthetic(500, 4, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let a = normal(&mut rng, 4, 4);
        let (score, rho) = tmex(z_hat.view(), tfa.view(), a.view()).unwrap();
        let z = z_hat.dot(&a);
        for (i, &r) in rho.iter().enumerate() {
            let others: Vec<usize> = (0..4).filter(|&j| j != i).collect();
            let c = tfa.select(Axis(1), &others);
            let naive = partial_corr_naive(&z.column(i).to_vec(), &tfa.column(i).to_vec(), c.view());
            assert!((r - naive).abs() < 1e-10, "term {i}: {r} vs {naive}");
        }
        assert!((score - rho.iter().sum::<f64>() / 4.0).abs() < 1e-15);
    }

    #[test]
    fn closed_form_equals_gradient_ascent_and_beats_random_directions() {
        // method.md §10: n = 2000, d = 4.
        let (z_hat, tfa) = synthetic(2000, 4, 4);
        let exact = fit_alignment(z_hat.view(), tfa.view()).unwrap();
        let grad = fit_alignment_gradient(z_hat.view(), tfa.view(), GradientOptions::default()).unwrap();
        let (best, _) = tmex(z_hat.view(), tfa.view(), exact.view()).unwrap();
        let (by_grad, _) = tmex(z_hat.view(), tfa.view(), grad.view()).unwrap();
        assert!((best - by_grad).abs() < 1e-5, "closed form {best} vs gradient {by_grad}");
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..2000 {
            let a = normal(&mut rng, 4, 4);
            let (random, _) = tmex(z_hat.view(), tfa.view(), a.view()).unwrap();
            assert!(random <= best + 1e-12, "a random A scored {random} > optimum {best}");
        }
        for i in 0..4 {
            assert!((exact.column(i).dot(&exact.column(i)) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn the_moments_route_equals_the_cell_route() {
        // Activities that are an affine map of 9 "TFs", latents a noisy mixing of them; scored
        // on a subset of the cells, as the permutation test scores its training cells.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let x = normal(&mut rng, 400, 9) + 1.5;
        let w = normal(&mut rng, 9, 4);
        let tfa = x.dot(&w) + 3.0;
        let z_hat = tfa.dot(&normal(&mut rng, 4, 5)) + normal(&mut rng, 400, 5) * 0.8;
        let rows: Vec<usize> = (0..400).filter(|r| r % 3 != 0).collect();
        let direct = Moments::of(tfa.view(), z_hat.view(), &rows).unwrap();
        let projected = Moments::of(x.view(), z_hat.view(), &rows).unwrap().project(w.view()).unwrap();
        let scale = direct.scatter.iter().fold(0f64, |m, v| m.max(v.abs()));
        for (a, b) in direct.scatter.iter().zip(&projected.scatter) {
            assert!((a - b).abs() < 1e-10 * scale, "{a} vs {b}");
        }
        let (z_rows, t_rows) = (z_hat.select(Axis(0), &rows), tfa.select(Axis(0), &rows));
        let a_cells = fit_alignment(z_rows.view(), t_rows.view()).unwrap();
        let a_moments = fit_alignment_moments(&projected).unwrap();
        for (a, b) in a_cells.iter().zip(&a_moments) {
            assert!((a - b).abs() < 1e-8, "alignment {a} vs {b}");
        }
        let (by_cells, terms_cells) = tmex(z_rows.view(), t_rows.view(), a_cells.view()).unwrap();
        let (by_moments, terms_moments) = tmex_moments(&projected, a_cells.view()).unwrap();
        assert!((by_cells - by_moments).abs() < 1e-10, "{by_cells} vs {by_moments}");
        for (a, b) in terms_cells.iter().zip(&terms_moments) {
            assert!((a - b).abs() < 1e-10);
        }
        let mcc_cells = mcc(t_rows.view(), z_rows.dot(&a_cells).view()).unwrap();
        let mcc_by_moments = mcc_moments(&projected, a_cells.view()).unwrap();
        assert!((mcc_cells - mcc_by_moments).abs() < 1e-10, "{mcc_cells} vs {mcc_by_moments}");
        let too_few = Moments::of(tfa.view(), z_hat.view(), &rows[..10]).unwrap();
        assert!(matches!(fit_alignment_moments(&too_few), Err(AlgoError::TooFew(_))));
        assert!(matches!(Moments::of(tfa.view(), z_hat.view(), &[400]), Err(AlgoError::Shape { .. })));
    }

    #[test]
    fn latents_that_are_the_activities_score_one() {
        let (_, tfa) = synthetic(300, 3, 6);
        let a = fit_alignment(tfa.view(), tfa.view()).unwrap();
        let (score, _) = tmex(tfa.view(), tfa.view(), a.view()).unwrap();
        assert!((score - 1.0).abs() < 1e-9, "{score}");
    }

    #[test]
    fn mcc_of_a_permuted_copy_is_one_and_of_noise_is_small() {
        let (_, tfa) = synthetic(1000, 4, 7);
        let permuted = tfa.select(Axis(1), &[2, 0, 3, 1]) * -2.0;
        assert!((mcc(tfa.view(), permuted.view()).unwrap() - 1.0).abs() < 1e-12);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let noise = normal(&mut rng, 1000, 4);
        assert!(mcc(tfa.view(), noise.view()).unwrap() < 0.15);
    }

    #[test]
    fn too_few_cells_or_mismatched_rows_are_errors() {
        let (z_hat, tfa) = synthetic(8, 4, 9);
        assert!(matches!(fit_alignment(z_hat.view(), tfa.view()), Err(AlgoError::TooFew(_))));
        let (z_hat, tfa) = synthetic(50, 2, 9);
        let short = z_hat.slice(s![..40, ..]);
        assert!(matches!(fit_alignment(short, tfa.view()), Err(AlgoError::Shape { .. })));
    }
}
