//! A one-dimensional two-component Gaussian mixture fitted by EM, used to locate the weak/strong
//! split of GRN edge weights (method.md §3.5 step 3).
//!
//! The EM loop follows scikit-learn's `GaussianMixture(n_components=2, covariance_type='full',
//! tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1)`: initial responsibilities from a hard
//! 2-means partition, parameters from responsibilities with `reg_covar` added to each variance
//! and `10·ε` added to each component mass, stop when the mean log-likelihood changes by less
//! than `tol`. scikit-learn seeds its k-means with random k-means++; here Lloyd's k-means starts
//! deterministically from the 25th and 75th percentiles, so fits agree whenever both reach the
//! same partition (e.g. on well-separated data). Components are reported by ascending mean.
//!
//! Pure computation on a slice; no I/O.

use crate::algo::AlgoError;

/// Convergence threshold on the change of the mean log-likelihood (scikit-learn `tol`).
const TOL: f64 = 1e-3;
/// Added to every variance (scikit-learn `reg_covar`).
const REG_COVAR: f64 = 1e-6;
/// Maximum number of EM iterations (scikit-learn `max_iter`).
const MAX_ITER: usize = 100;
/// Maximum number of Lloyd iterations of the initial k-means (scikit-learn's default).
const KMEANS_MAX_ITER: usize = 300;

/// A fitted two-component 1-D Gaussian mixture; index 0 is the lower-mean component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gmm1d {
    /// Mixing weights (sum 1).
    pub weights: [f64; 2],
    /// Component means, ascending.
    pub means: [f64; 2],
    /// Component standard deviations (square roots of the regularised variances).
    pub sds: [f64; 2],
    /// Mean log-likelihood per sample under the final parameters (scikit-learn `score(X)`).
    pub log_likelihood: f64,
    /// Number of EM iterations run (scikit-learn `n_iter_`).
    pub n_iter: usize,
    /// Whether EM met the tolerance within the iteration limit.
    pub converged: bool,
    /// The point between the two means where both posteriors equal 0.5; `None` if one component
    /// dominates the whole interval (or the means coincide).
    pub boundary: Option<f64>,
}

impl Gmm1d {
    /// Posterior probability that `x` belongs to the higher-mean component (index 1).
    pub fn posterior_high(&self, x: f64) -> f64 {
        let l0 = log_weighted_density(self.weights[0], self.means[0], self.sds[0], x);
        let l1 = log_weighted_density(self.weights[1], self.means[1], self.sds[1], x);
        1.0 / (1.0 + (l0 - l1).exp())
    }
}

/// Fits a two-component Gaussian mixture to `x` by EM with scikit-learn's defaults (see the
/// module doc for the initialisation).
///
/// # Arguments
/// * `x` — at least two finite values.
///
/// # Returns
/// Weights, means, sds, mean log-likelihood, iteration count, convergence flag and the
/// equal-posterior boundary. Errors: [`AlgoError::TooFew`] for fewer than two values,
/// [`AlgoError::NonFinite`] for NaN or infinite input.
///
/// # Complexity
/// `O(n log n)` for the percentiles plus `O(n)` per k-means or EM iteration.
pub fn fit_gmm_1d(x: &[f64]) -> Result<Gmm1d, AlgoError> {
    if x.len() < 2 {
        return Err(AlgoError::TooFew(format!("a 2-component mixture needs at least 2 values, got {}", x.len())));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(AlgoError::NonFinite("mixture input contains NaN or infinity".into()));
    }
    let labels = two_means(x);
    let mut resp: Vec<[f64; 2]> = labels.iter().map(|&l| if l == 0 { [1.0, 0.0] } else { [0.0, 1.0] }).collect();
    let mut params = m_step(x, &resp);
    let mut lower_bound = f64::NEG_INFINITY;
    let mut converged = false;
    let mut n_iter = 0;
    for iter in 1..=MAX_ITER {
        n_iter = iter;
        let previous = lower_bound;
        lower_bound = e_step(x, &params, &mut resp);
        params = m_step(x, &resp);
        if (lower_bound - previous).abs() < TOL {
            converged = true;
            break;
        }
    }
    let log_likelihood = e_step(x, &params, &mut resp);

    let order = if params.means[0] <= params.means[1] { [0, 1] } else { [1, 0] };
    let mut fit = Gmm1d {
        weights: order.map(|k| params.weights[k]),
        means: order.map(|k| params.means[k]),
        sds: order.map(|k| params.vars[k].sqrt()),
        log_likelihood,
        n_iter,
        converged,
        boundary: None,
    };
    fit.boundary = equal_posterior_point(&fit);
    Ok(fit)
}

/// Mixture parameters during EM (variances, unordered components).
struct Params {
    weights: [f64; 2],
    means: [f64; 2],
    vars: [f64; 2],
}

/// Lloyd's 2-means from the 25th/75th percentiles; returns the label (0 or 1) of every value.
fn two_means(x: &[f64]) -> Vec<u8> {
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut centres = [percentile(&sorted, 25.0), percentile(&sorted, 75.0)];
    let mut labels = vec![0u8; x.len()];
    for iter in 0..KMEANS_MAX_ITER {
        let mut changed = false;
        for (l, &v) in labels.iter_mut().zip(x) {
            let new = u8::from((v - centres[1]).abs() < (v - centres[0]).abs());
            changed |= *l != new;
            *l = new;
        }
        if iter > 0 && !changed {
            break;
        }
        for (k, centre) in centres.iter_mut().enumerate() {
            let (sum, count) = x
                .iter()
                .zip(&labels)
                .filter(|(_, l)| usize::from(**l) == k)
                .fold((0.0, 0usize), |(s, c), (v, _)| (s + v, c + 1));
            if count > 0 {
                *centre = sum / count as f64;
            }
        }
    }
    labels
}

/// Linear-interpolation percentile of sorted data (numpy's default method).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Parameters from responsibilities (scikit-learn `_estimate_gaussian_parameters` + `_m_step`).
fn m_step(x: &[f64], resp: &[[f64; 2]]) -> Params {
    let mut nk = [10.0 * f64::EPSILON; 2];
    let mut sum = [0.0; 2];
    for (r, &v) in resp.iter().zip(x) {
        for k in 0..2 {
            nk[k] += r[k];
            sum[k] += r[k] * v;
        }
    }
    let means = [sum[0] / nk[0], sum[1] / nk[1]];
    let mut ss = [0.0; 2];
    for (r, &v) in resp.iter().zip(x) {
        for k in 0..2 {
            ss[k] += r[k] * (v - means[k]).powi(2);
        }
    }
    let total = nk[0] + nk[1];
    Params {
        weights: [nk[0] / total, nk[1] / total],
        means,
        vars: [ss[0] / nk[0] + REG_COVAR, ss[1] / nk[1] + REG_COVAR],
    }
}

/// Fills `resp` with posterior probabilities and returns the mean log-likelihood.
fn e_step(x: &[f64], p: &Params, resp: &mut [[f64; 2]]) -> f64 {
    let sds = [p.vars[0].sqrt(), p.vars[1].sqrt()];
    let mut total = 0.0;
    for (r, &v) in resp.iter_mut().zip(x) {
        let l = [0, 1].map(|k| log_weighted_density(p.weights[k], p.means[k], sds[k], v));
        let top = l[0].max(l[1]);
        let norm = top + ((l[0] - top).exp() + (l[1] - top).exp()).ln();
        *r = [(l[0] - norm).exp(), (l[1] - norm).exp()];
        total += norm;
    }
    total / x.len() as f64
}

/// `ln(w · N(x; μ, σ²))`.
fn log_weighted_density(w: f64, mean: f64, sd: f64, x: f64) -> f64 {
    let z = (x - mean) / sd;
    w.ln() - 0.5 * (std::f64::consts::TAU.ln() + z * z) - sd.ln()
}

/// Bisection for the point in `[μ₀, μ₁]` where the weighted log densities are equal.
fn equal_posterior_point(fit: &Gmm1d) -> Option<f64> {
    let diff = |x: f64| {
        log_weighted_density(fit.weights[1], fit.means[1], fit.sds[1], x)
            - log_weighted_density(fit.weights[0], fit.means[0], fit.sds[0], x)
    };
    let (mut lo, mut hi) = (fit.means[0], fit.means[1]);
    let (d_lo, d_hi) = (diff(lo), diff(hi));
    if d_lo == 0.0 {
        return Some(lo);
    }
    if d_hi == 0.0 {
        return Some(hi);
    }
    if lo >= hi || d_lo.signum() == d_hi.signum() {
        return None;
    }
    loop {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            return Some(mid);
        }
        if diff(mid).signum() == d_lo.signum() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 60 values `−2 + 0.4·sin(1.7i)` and 40 values `3 + 0.7·cos(0.9i)`.
    fn two_clusters() -> Vec<f64> {
        (0..60)
            .map(|i| -2.0 + 0.4 * (1.7 * i as f64).sin())
            .chain((0..40).map(|i| 3.0 + 0.7 * (0.9 * i as f64).cos()))
            .collect()
    }

    #[test]
    fn gmm_matches_sklearn() {
        // GaussianMixture(n_components=2, covariance_type='full', tol=1e-3, reg_covar=1e-6,
        // max_iter=100, n_init=1, random_state=0).fit(x), scikit-learn 1.9.1; components sorted
        // by mean, sds = sqrt(covariances_), log_likelihood = gm.score(x).
        let fit = fit_gmm_1d(&two_clusters()).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(fit.weights[0], 0.6) && close(fit.weights[1], 0.4));
        assert!(close(fit.means[0], -2.00068529930244));
        assert!(close(fit.means[1], 2.9919047222096564));
        assert!(close(fit.sds[0], 0.28053246495841544));
        assert!(close(fit.sds[1], 0.5015745465337105));
        assert!(close(fit.log_likelihood, -1.053304886341182));
        assert!(fit.converged);
        assert_eq!(fit.n_iter, 2);
        // gm.predict_proba([[-1], [0], [0.5], [1]])[:, high-mean component]
        let proba = [3.802825991464905e-12, 0.9987122700490296, 0.9999999999965841, 1.0];
        for (x, want) in [-1.0, 0.0, 0.5, 1.0].into_iter().zip(proba) {
            assert!((fit.posterior_high(x) - want).abs() < 1e-9);
        }
        // scipy.optimize.brentq on predict_proba − 0.5 between the means.
        assert!((fit.boundary.unwrap() - -0.1821935605612598).abs() < 1e-9);
    }

    #[test]
    fn gmm_component_order_does_not_depend_on_input_order() {
        let mut x = two_clusters();
        x.reverse();
        let fit = fit_gmm_1d(&x).unwrap();
        assert!(fit.means[0] < fit.means[1]);
        assert!((fit.means[1] - 2.9919047222096564).abs() < 1e-9);
    }

    #[test]
    fn gmm_degenerate_and_bad_input() {
        let fit = fit_gmm_1d(&[1.0, 1.0, 1.0]).unwrap();
        assert!(fit.means.iter().chain(&fit.sds).all(|v| v.is_finite()));
        assert!(matches!(fit_gmm_1d(&[1.0]), Err(AlgoError::TooFew(_))));
        assert!(matches!(fit_gmm_1d(&[1.0, f64::NAN]), Err(AlgoError::NonFinite(_))));
    }
}
