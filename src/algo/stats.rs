//! Classical hypothesis tests and p-value adjustment used by the GRN filter (method.md §3.3,
//! §3.5) and the evaluation step (§8.2–8.4): Benjamini–Hochberg q-values, the one-sample
//! Student t-test, the Wilcoxon signed-rank test with scipy's `method='auto'` semantics, the
//! hypergeometric upper tail and Pearson's correlation.
//!
//! Every function is pure, works in `f64` and rejects NaN or infinite input with
//! [`AlgoError::NonFinite`] (the one exception, [`bh_fdr`], passes NaN p-values through because
//! a failed regression legitimately has no p-value). Results match scipy 1.17 / statsmodels 0.15
//! to about 1e-12 relative; the tests pin the golden values of method.md §10.

use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::gamma::{gamma_lr, gamma_ur};

use crate::algo::AlgoError;

/// Which tail a test's p-value covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// Either direction: the location differs from the null value.
    TwoSided,
    /// The location is larger than the null value.
    Greater,
    /// The location is smaller than the null value.
    Less,
}

/// Result of [`t_test_one_sample`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    /// `t = (mean − μ₀) / (s / √n)`, `s` the sample standard deviation (ddof 1).
    pub t: f64,
    /// Degrees of freedom, `n − 1`.
    pub df: f64,
    /// p-value for the requested alternative.
    pub p: f64,
}

/// How [`wilcoxon_signed_rank`] computed its p-value (scipy `method='auto'` decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WilcoxonMethod {
    /// Exact null distribution of `W⁺` (no ties, no zeros, `n ≤ 50`).
    Exact,
    /// Exact enumeration of all `2ⁿ` sign flips (ties or zeros present, `n ≤ 13`);
    /// scipy runs this as a deterministic `permutation_test`.
    SignFlip,
    /// Normal approximation with tie correction and no continuity correction.
    Normal,
}

/// Result of [`wilcoxon_signed_rank`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wilcoxon {
    /// `min(W⁺, W⁻)` for [`Alternative::TwoSided`], `W⁺` otherwise (scipy's `statistic`).
    pub statistic: f64,
    /// Sum of the ranks of the positive differences.
    pub w_plus: f64,
    /// Sum of the ranks of the negative differences.
    pub w_minus: f64,
    /// Number of non-zero differences that were ranked.
    pub n: usize,
    /// `(W⁺ − n(n+1)/4) / sd` under the null, with the tie-corrected variance; reported for
    /// every method (scipy reports it only for the normal approximation).
    pub z: f64,
    /// p-value for the requested alternative.
    pub p: f64,
    /// Which null distribution produced `p`.
    pub method: WilcoxonMethod,
}

/// Largest sample (zeros included) for which scipy's `auto` uses an exact null distribution.
const WILCOXON_EXACT_MAX_N: usize = 50;
/// Largest sample (zeros included) for which scipy enumerates all sign flips when there are ties
/// or zeros (`2¹³` is below its default of 9,999 resamples).
const WILCOXON_SIGN_FLIP_MAX_N: usize = 13;

/// Benjamini–Hochberg false-discovery-rate q-values (statsmodels `multipletests(method='fdr_bh')`).
///
/// Sorting the `m` non-NaN p-values ascending, `q_(i) = min_{j ≥ i} min(1, m·p_(j)/j)`; the
/// q-values are returned in the input order. NaN p-values are treated as statsmodels would see
/// them after the caller drops them: they are not counted in `m` and their q-value is NaN.
///
/// # Arguments
/// * `p` — p-values in `[0, 1]`, NaN allowed.
///
/// # Returns
/// One q-value per input p-value. Errors with [`AlgoError::Param`] if a p-value lies outside
/// `[0, 1]` (infinities included).
///
/// # Complexity
/// `O(m log m)`.
pub fn bh_fdr(p: &[f64]) -> Result<Vec<f64>, AlgoError> {
    if let Some(bad) = p.iter().find(|v| !v.is_nan() && !(0.0..=1.0).contains(*v)) {
        return Err(AlgoError::Param { name: "p".into(), why: format!("p-value {bad} is outside [0, 1]") });
    }
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len() as f64;
    let mut q = vec![f64::NAN; p.len()];
    let mut running_min = 1.0_f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running_min = running_min.min(p[i] * m / (rank + 1) as f64);
        q[i] = running_min;
    }
    Ok(q)
}

/// `np.percentile(sorted, q)` with linear interpolation, using numpy's two-sided lerp.
///
/// # Arguments
/// * `sorted` — ascending values, at least one; `q` — the percentile in `[0, 100]`.
///
/// # Panics
/// On an empty slice.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let h = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = h - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    let diff = b - a;
    if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t }
}

/// One-sample Student t-test of `H0: mean(x) = mu0` (scipy `ttest_1samp`).
///
/// # Arguments
/// * `x` — the sample, at least two finite values that are not all equal.
/// * `mu0` — the null mean.
/// * `alt` — the alternative; `Greater` gives `p = 1 − F_t(t)`, `Less` gives `F_t(t)`,
///   `TwoSided` gives `2·(1 − F_t(|t|))`.
///
/// # Returns
/// `t`, `df = n − 1` and the p-value. Errors: [`AlgoError::TooFew`] for `n < 2`,
/// [`AlgoError::NonFinite`] for NaN/infinite input, [`AlgoError::Numerical`] when the sample has
/// zero variance (scipy returns NaN or ±inf there; CellOracle reports NaN).
///
/// # Complexity
/// `O(n)`.
pub fn t_test_one_sample(x: &[f64], mu0: f64, alt: Alternative) -> Result<TTest, AlgoError> {
    check_finite(x, "t-test sample")?;
    check_finite(&[mu0], "t-test null mean")?;
    if x.len() < 2 {
        return Err(AlgoError::TooFew(format!("t-test needs at least 2 values, got {}", x.len())));
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    if var == 0.0 {
        return Err(AlgoError::Numerical("t-test sample has zero variance".into()));
    }
    let t = (mean - mu0) / (var / n).sqrt();
    let df = n - 1.0;
    let dist =
        StudentsT::new(0.0, 1.0, df).map_err(|e| AlgoError::Numerical(format!("Student t distribution: {e}")))?;
    let p = match alt {
        Alternative::Greater => dist.sf(t),
        Alternative::Less => dist.cdf(t),
        Alternative::TwoSided => (2.0 * dist.sf(t.abs())).min(1.0),
    };
    Ok(TTest { t, df, p })
}

/// Wilcoxon signed-rank test on paired differences `d = x − y` (scipy `wilcoxon(d)` with its
/// defaults `zero_method='wilcox'`, `correction=False`, `method='auto'`).
///
/// Zero differences are dropped; the absolute values of the rest get average ranks and
/// `W⁺`/`W⁻` are the rank sums of the positive/negative differences. Ties are exact float
/// equality, as in scipy: round `d` (e.g. to 12 significant digits) before calling if it comes
/// from a subtraction that should produce ties. The p-value comes from (decided on the length of
/// `d`, zeros included, like scipy):
/// * `n ≤ 50`, no ties and no zeros — the exact null distribution of `W⁺`;
/// * `n ≤ 13` with ties or zeros — exact enumeration of all sign flips;
/// * otherwise — the normal approximation with variance
///   `n(n+1)(2n+1)/24 − Σ(t³ − t)/48` over tie groups of size `t`.
///
/// # Arguments
/// * `d` — paired differences, finite.
/// * `alt` — `Greater` tests whether the differences tend to be positive.
///
/// # Returns
/// The statistic, both rank sums, `z`, the p-value and the method used. Errors:
/// [`AlgoError::NonFinite`] for NaN/infinite input, [`AlgoError::TooFew`] when no difference is
/// non-zero.
///
/// # Complexity
/// `O(n log n)`, plus `O(n³)` for the exact methods (sign flips are counted with a subset-sum
/// table over doubled ranks, never enumerated).
pub fn wilcoxon_signed_rank(d: &[f64], alt: Alternative) -> Result<Wilcoxon, AlgoError> {
    check_finite(d, "Wilcoxon differences")?;
    let nonzero: Vec<f64> = d.iter().copied().filter(|&v| v != 0.0).collect();
    if nonzero.is_empty() {
        return Err(AlgoError::TooFew("Wilcoxon test needs at least one non-zero difference".into()));
    }
    let has_zeros = nonzero.len() < d.len();
    let abs: Vec<f64> = nonzero.iter().map(|v| v.abs()).collect();
    let ranks = average_ranks(&abs);
    let (w_plus, w_minus) = nonzero
        .iter()
        .zip(&ranks)
        .fold((0.0, 0.0), |(plus, minus), (&v, &r)| if v > 0.0 { (plus + r, minus) } else { (plus, minus + r) });

    let n = nonzero.len() as f64;
    let mean = n * (n + 1.0) / 4.0;
    let tie_term: f64 = tie_sizes(&abs)
        .into_iter()
        .map(|t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum();
    let sd = ((n * (n + 1.0) * (2.0 * n + 1.0) - tie_term / 2.0) / 24.0).sqrt();
    let z = (w_plus - mean) / sd;
    let has_ties = tie_term > 0.0;

    let method = if d.len() <= WILCOXON_EXACT_MAX_N && !has_ties && !has_zeros {
        WilcoxonMethod::Exact
    } else if d.len() <= WILCOXON_SIGN_FLIP_MAX_N {
        WilcoxonMethod::SignFlip
    } else {
        WilcoxonMethod::Normal
    };
    let p = match method {
        WilcoxonMethod::Exact | WilcoxonMethod::SignFlip => sign_flip_p_value(&ranks, w_plus, alt),
        WilcoxonMethod::Normal => match alt {
            Alternative::Greater => normal_sf(z),
            Alternative::Less => normal_sf(-z),
            Alternative::TwoSided => (2.0 * normal_sf(z.abs())).min(1.0),
        },
    };
    let statistic = match alt {
        Alternative::TwoSided => w_plus.min(w_minus),
        Alternative::Greater | Alternative::Less => w_plus,
    };
    Ok(Wilcoxon { statistic, w_plus, w_minus, n: nonzero.len(), z, p, method })
}

/// Standard normal upper tail `1 − Φ(z)` for finite `z`.
///
/// Evaluated through the regularised incomplete gamma function, `1 − Φ(z) = Q(½, z²/2)/2` for
/// `z > 0`: statrs' `erfc` is only accurate to about 1e-10 relative, the gamma route to about
/// 1e-15, matching scipy's `ndtr`.
fn normal_sf(z: f64) -> f64 {
    if z == 0.0 {
        0.5
    } else if z > 0.0 {
        0.5 * gamma_ur(0.5, 0.5 * z * z)
    } else {
        0.5 + 0.5 * gamma_lr(0.5, 0.5 * z * z)
    }
}

/// Exact p-value of `W⁺` under random sign flips of the ranked differences.
///
/// Ranks are averages, hence multiples of ½; doubling them gives integers and the number of sign
/// vectors reaching each doubled sum is a subset-sum count. Without ties this is the classical
/// exact Wilcoxon distribution; with ties it equals scipy's exhaustive permutation test. Counts
/// stay below `2⁵⁰` and are exact in `u64`.
fn sign_flip_p_value(ranks: &[f64], w_plus: f64, alt: Alternative) -> f64 {
    let doubled: Vec<usize> = ranks.iter().map(|r| (2.0 * r).round() as usize).collect();
    let max_sum: usize = doubled.iter().sum();
    let mut counts = vec![0_u64; max_sum + 1];
    counts[0] = 1;
    let mut reach = 0;
    for &r in &doubled {
        reach += r;
        for s in (r..=reach).rev() {
            counts[s] += counts[s - r];
        }
    }
    let total = counts.iter().sum::<u64>() as f64;
    // Observed doubled sum; W⁺ is a multiple of ½ so this is exact.
    let observed = (2.0 * w_plus).round() as usize;
    let at_most = counts[..=observed].iter().sum::<u64>() as f64 / total;
    let at_least = counts[observed..].iter().sum::<u64>() as f64 / total;
    match alt {
        Alternative::Less => at_most,
        Alternative::Greater => at_least,
        Alternative::TwoSided => (2.0 * at_most.min(at_least)).min(1.0),
    }
}

/// Average ranks (1-based) of `values`, ties sharing the mean of their positions.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start+1 ..= end share their average rank.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Sizes of the groups of equal values (every group, singletons included).
fn tie_sizes(values: &[f64]) -> Vec<usize> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.chunk_by(|a, b| a == b).map(<[f64]>::len).collect()
}

/// Upper tail `P(X ≥ k)` of the hypergeometric distribution: `X` successes among `draws` items
/// drawn without replacement from `population` items of which `successes` are successes
/// (scipy `hypergeom.sf(k − 1, M=population, n=successes, N=draws)`).
///
/// The probability mass is evaluated with Loader's saddle-point expansion (the Stirling-error
/// and deviance terms of R's `dhyper`), which keeps about 1e-14 relative accuracy for
/// populations in the millions; the tail is summed outwards from its largest term using the
/// ratio of consecutive masses.
///
/// # Arguments
/// * `k` — the observed overlap; `k = 0` gives 1.
/// * `population`, `successes`, `draws` — `successes ≤ population`, `draws ≤ population`.
///
/// # Returns
/// The tail probability in `[0, 1]`; [`AlgoError::Param`] if a count exceeds the population.
///
/// # Complexity
/// `O(min(successes, draws))` in the worst case; the sum stops once terms no longer change it.
pub fn hypergeom_sf(k: u64, population: u64, successes: u64, draws: u64) -> Result<f64, AlgoError> {
    for (name, value) in [("successes", successes), ("draws", draws)] {
        if value > population {
            return Err(AlgoError::Param {
                name: name.into(),
                why: format!("{value} exceeds the population size {population}"),
            });
        }
    }
    let lo = draws.saturating_sub(population - successes);
    let hi = successes.min(draws);
    if k <= lo {
        return Ok(1.0);
    }
    if k > hi {
        return Ok(0.0);
    }
    // Mode of the distribution; the tail's largest term is at max(k, mode).
    let mode = ((draws + 1) as f64 * (successes + 1) as f64 / (population + 2) as f64).floor() as u64;
    let anchor = mode.clamp(k, hi);
    let (m, n, nn) = (population as f64, successes as f64, draws as f64);
    // pmf(x + 1) / pmf(x)
    let ratio = |x: f64| (n - x) * (nn - x) / ((x + 1.0) * (m - n - nn + x + 1.0));
    let mut sum = 1.0;
    let mut term = 1.0;
    for x in anchor..hi {
        term *= ratio(x as f64);
        if term < sum * f64::EPSILON * 1e-3 {
            break;
        }
        sum += term;
    }
    term = 1.0;
    for x in (k..anchor).rev() {
        term /= ratio(x as f64);
        if term < sum * f64::EPSILON * 1e-3 {
            break;
        }
        sum += term;
    }
    Ok((ln_hypergeom_pmf(anchor, population, successes, draws) + sum.ln()).exp().min(1.0))
}

/// `ln P(X = x)` for the hypergeometric distribution, as a ratio of three binomial masses with
/// the common success probability `draws / population` (Loader 2000).
fn ln_hypergeom_pmf(x: u64, population: u64, successes: u64, draws: u64) -> f64 {
    let p = draws as f64 / population as f64;
    let q = (population - draws) as f64 / population as f64;
    ln_binomial_pmf(x, successes, p, q) + ln_binomial_pmf(draws - x, population - successes, p, q)
        - ln_binomial_pmf(draws, population, p, q)
}

/// `ln` of the binomial mass `C(n, x) pˣ qⁿ⁻ˣ` via Stirling errors and deviances, accurate
/// without cancellation for large `n` (`q = 1 − p` is passed to avoid rounding; `0 < p < 1`).
fn ln_binomial_pmf(x: u64, n: u64, p: f64, q: f64) -> f64 {
    let (xf, nf) = (x as f64, n as f64);
    if x == 0 {
        return nf * q.ln();
    }
    if x == n {
        return nf * p.ln();
    }
    let lc = stirling_error(n)
        - stirling_error(x)
        - stirling_error(n - x)
        - deviance(xf, nf * p)
        - deviance(nf - xf, nf * q);
    let lf = (2.0 * std::f64::consts::PI).ln() + xf.ln() + (-xf / nf).ln_1p();
    lc - 0.5 * lf
}

/// Stirling error `ln(n!) − ln(√(2πn) (n/e)ⁿ)` for `n ≥ 1`.
fn stirling_error(n: u64) -> f64 {
    const SMALL: u64 = 15;
    let nf = n as f64;
    if n <= SMALL {
        // n! ≤ 15! < 2⁵³ is exact, so the direct formula loses only ~1e-15 absolute.
        let factorial: f64 = (1..=n).map(|i| i as f64).product();
        return factorial.ln() - (nf + 0.5) * nf.ln() + nf - 0.5 * (2.0 * std::f64::consts::PI).ln();
    }
    // Asymptotic Stirling series 1/(12n) − 1/(360n³) + 1/(1260n⁵) − 1/(1680n⁷) + 1/(1188n⁹),
    // truncated where the next term is below double precision.
    const COEFS: [f64; 5] = [1.0 / 12.0, 1.0 / 360.0, 1.0 / 1260.0, 1.0 / 1680.0, 1.0 / 1188.0];
    let terms = match n {
        0..=35 => 5,
        36..=80 => 4,
        81..=500 => 3,
        _ => 2,
    };
    let inv2 = 1.0 / (nf * nf);
    let series = COEFS[..terms].iter().rev().fold(0.0, |acc, &c| c - acc * inv2);
    series / nf
}

/// Binomial deviance `x ln(x/μ) + μ − x`, computed without cancellation when `x ≈ μ`.
fn deviance(x: f64, mu: f64) -> f64 {
    if (x - mu).abs() < 0.1 * (x + mu) {
        let v = (x - mu) / (x + mu);
        let mut sum = (x - mu) * v;
        let mut odd_power = 2.0 * x * v;
        let v2 = v * v;
        for j in 1.. {
            odd_power *= v2;
            let next = sum + odd_power / (2 * j + 1) as f64;
            if next == sum {
                break;
            }
            sum = next;
        }
        sum
    } else {
        x * (x / mu).ln() + mu - x
    }
}

/// Pearson correlation coefficient of two equally long samples (scipy `pearsonr(x, y).statistic`).
///
/// # Returns
/// `r ∈ [−1, 1]`. Errors: [`AlgoError::Shape`] for unequal lengths, [`AlgoError::TooFew`] for
/// fewer than 2 pairs, [`AlgoError::NonFinite`] for NaN/infinite input, [`AlgoError::Numerical`]
/// when either sample is constant.
///
/// # Complexity
/// `O(n)`, two passes.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64, AlgoError> {
    if x.len() != y.len() {
        return Err(AlgoError::Shape { what: "pearson: length of y".into(), expected: x.len(), got: y.len() });
    }
    check_finite(x, "pearson x")?;
    check_finite(y, "pearson y")?;
    if x.len() < 2 {
        return Err(AlgoError::TooFew(format!("pearson needs at least 2 pairs, got {}", x.len())));
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (sxy, sxx, syy) = x.iter().zip(y).fold((0.0, 0.0, 0.0), |(sxy, sxx, syy), (&a, &b)| {
        let (da, db) = (a - mx, b - my);
        (sxy + da * db, sxx + da * da, syy + db * db)
    });
    if sxx == 0.0 || syy == 0.0 {
        return Err(AlgoError::Numerical("pearson correlation of a constant sample".into()));
    }
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Errors with [`AlgoError::NonFinite`] naming `what` if any value is NaN or infinite.
fn check_finite(values: &[f64], what: &str) -> Result<(), AlgoError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(AlgoError::NonFinite(format!("{what}: value {} at index {i}", values[i]))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative (or, near zero, absolute) agreement to `tol`.
    fn assert_close(actual: f64, expected: f64, tol: f64) {
        let scale = expected.abs().max(f64::MIN_POSITIVE);
        assert!(
            (actual - expected).abs() <= tol * scale || (actual - expected).abs() <= 1e-300,
            "got {actual}, expected {expected}"
        );
    }

    fn assert_all_close(actual: &[f64], expected: &[f64], tol: f64) {
        assert_eq!(actual.len(), expected.len());
        for (&a, &e) in actual.iter().zip(expected) {
            assert_close(a, e, tol);
        }
    }

    const ALTS: [Alternative; 3] = [Alternative::TwoSided, Alternative::Greater, Alternative::Less];

    /// Checks statistic and p for the three alternatives against scipy values
    /// `[(stat, p) for two-sided, greater, less]`.
    fn check_wilcoxon(d: &[f64], expected: [(f64, f64); 3], method: WilcoxonMethod) {
        for (alt, (stat, p)) in ALTS.into_iter().zip(expected) {
            let w = wilcoxon_signed_rank(d, alt).unwrap();
            assert_eq!(w.method, method, "{alt:?}");
            assert_close(w.statistic, stat, 1e-15);
            assert_close(w.p, p, 1e-12);
        }
    }

    #[test]
    fn bh_matches_method_golden_values() {
        // method.md §10; statsmodels multipletests(p, method='fdr_bh')[1]
        let p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216];
        let expected = [0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.10571428571428572, 0.216, 0.216, 0.216];
        let q = bh_fdr(&p).unwrap();
        assert_all_close(&q, &expected, 1e-14);
        assert_eq!(q.iter().filter(|&&v| v <= 0.05).count(), 2);
    }

    #[test]
    fn bh_unsorted_ties_and_nan_match_statsmodels() {
        // statsmodels multipletests([0.04, 0.01, 0.04, 0.9, 0.03, 0.5], method='fdr_bh')[1];
        // the NaNs are dropped before calling statsmodels.
        let p = [0.04, 0.01, f64::NAN, 0.04, 0.9, 0.03, 0.5, f64::NAN];
        let q = bh_fdr(&p).unwrap();
        let s = 0.060000000000000005;
        let expected = [s, s, f64::NAN, s, 0.9, s, 0.6, f64::NAN];
        for (a, e) in q.iter().zip(expected) {
            if e.is_nan() {
                assert!(a.is_nan());
            } else {
                assert_close(*a, e, 1e-15);
            }
        }
        assert!(bh_fdr(&[]).unwrap().is_empty());
    }

    #[test]
    fn bh_rejects_p_outside_unit_interval() {
        assert!(matches!(bh_fdr(&[0.1, 1.5]), Err(AlgoError::Param { .. })));
        assert!(matches!(bh_fdr(&[f64::INFINITY]), Err(AlgoError::Param { .. })));
    }

    #[test]
    fn t_test_matches_method_golden_and_scipy() {
        let x = [0.52, 0.61, 0.48, 0.55, 0.70, 0.58, 0.49, 0.66, 0.53, 0.60];
        // method.md §10 (greater); scipy.stats.ttest_1samp(x, 0.5, alternative=alt)
        let expected_p = [0.011447843861340868, 0.005723921930670434, 0.9942760780693296];
        for (alt, p) in ALTS.into_iter().zip(expected_p) {
            let t = t_test_one_sample(&x, 0.5, alt).unwrap();
            assert_close(t.t, 3.165536061506964, 1e-13);
            assert_eq!(t.df, 9.0);
            assert_close(t.p, p, 1e-12);
        }
        // scipy.stats.ttest_1samp([-1.3,0.2,-0.7,-2.1,0.4,-1.1,-0.9,-3.4], 0.0, alternative=alt)
        let y = [-1.3, 0.2, -0.7, -2.1, 0.4, -1.1, -0.9, -3.4];
        let expected_p = [0.03684419028141699, 0.9815779048592915, 0.018422095140708496];
        for (alt, p) in ALTS.into_iter().zip(expected_p) {
            let t = t_test_one_sample(&y, 0.0, alt).unwrap();
            assert_close(t.t, -2.573040480333109, 1e-13);
            assert_close(t.p, p, 1e-12);
        }
        // scipy.stats.ttest_1samp([10.0 + 0.01*i for i in range(30)], 9.0): deep tail
        let big: Vec<f64> = (0..30).map(|i| 10.0 + 0.01 * f64::from(i)).collect();
        let t = t_test_one_sample(&big, 9.0, Alternative::TwoSided).unwrap();
        assert_close(t.t, 71.23858142798021, 1e-12);
        assert_close(t.p, 4.057897812302372e-34, 1e-10);
    }

    #[test]
    fn t_test_rejects_degenerate_input() {
        let alt = Alternative::TwoSided;
        assert!(matches!(t_test_one_sample(&[1.0], 0.0, alt), Err(AlgoError::TooFew(_))));
        assert!(matches!(t_test_one_sample(&[2.0, 2.0, 2.0], 0.0, alt), Err(AlgoError::Numerical(_))));
        assert!(matches!(t_test_one_sample(&[1.0, f64::NAN], 0.0, alt), Err(AlgoError::NonFinite(_))));
    }

    #[test]
    fn wilcoxon_exact_matches_method_golden_values() {
        // method.md §10; scipy.stats.wilcoxon(d, alternative=alt)
        let d = [6.0, 8.0, 14.0, 16.0, 23.0, 24.0, 28.0, 29.0, 41.0, -48.0, 49.0, 56.0, 60.0, -67.0, 75.0];
        check_wilcoxon(
            &d,
            [(24.0, 0.041259765625), (96.0, 0.0206298828125), (96.0, 0.982330322265625)],
            WilcoxonMethod::Exact,
        );
        let w = wilcoxon_signed_rank(&d, Alternative::TwoSided).unwrap();
        assert_eq!((w.w_plus, w.w_minus, w.n), (96.0, 24.0, 15));
    }

    #[test]
    fn wilcoxon_n25_exact_and_asymptotic_match_method_golden_values() {
        // method.md §10: d_i = ±i, negative when (i − 1) mod 3 = 0;
        // scipy.stats.wilcoxon(d) -> exact; scipy.stats.wilcoxon(d, method='asymptotic')
        let d: Vec<f64> = (1..=25).map(|i| if (i - 1) % 3 == 0 { -f64::from(i) } else { f64::from(i) }).collect();
        let w = wilcoxon_signed_rank(&d, Alternative::TwoSided).unwrap();
        assert_eq!(w.method, WilcoxonMethod::Exact);
        assert_eq!(w.statistic, 117.0);
        assert_close(w.p, 0.23036134243011475, 1e-12);
        let asymptotic = 2.0 * normal_sf(w.z.abs());
        assert_close(asymptotic, 0.22085246989634644, 1e-12);
    }

    #[test]
    fn wilcoxon_ties_small_n_uses_sign_flips_like_scipy() {
        // scipy.stats.wilcoxon([1.5,-2.0,2.0,3.0,3.0,-0.5,4.0,4.0,4.0,-1.5,6.0], alternative=alt)
        let d = [1.5, -2.0, 2.0, 3.0, 3.0, -0.5, 4.0, 4.0, 4.0, -1.5, 6.0];
        check_wilcoxon(&d, [(8.0, 0.0234375), (58.0, 0.01171875), (58.0, 0.990234375)], WilcoxonMethod::SignFlip);
    }

    #[test]
    fn wilcoxon_zeros_small_n_uses_sign_flips_like_scipy() {
        // scipy.stats.wilcoxon([0.0,1.2,-0.4,2.5,0.0,3.1,1.7,-0.9,2.2,0.8], alternative=alt)
        let d = [0.0, 1.2, -0.4, 2.5, 0.0, 3.1, 1.7, -0.9, 2.2, 0.8];
        check_wilcoxon(&d, [(4.0, 0.0546875), (32.0, 0.02734375), (32.0, 0.98046875)], WilcoxonMethod::SignFlip);
        assert_eq!(wilcoxon_signed_rank(&d, Alternative::Less).unwrap().n, 8);
    }

    #[test]
    fn wilcoxon_ties_n20_uses_tie_corrected_normal() {
        // scipy.stats.wilcoxon([1,-2,3,3,4,-4,5,6,6,6,7,-8,9,10,10,11,-12,13,14,0], alternative=alt)
        let d = [
            1.0, -2.0, 3.0, 3.0, 4.0, -4.0, 5.0, 6.0, 6.0, 6.0, 7.0, -8.0, 9.0, 10.0, 10.0, 11.0, -12.0, 13.0, 14.0,
            0.0,
        ];
        check_wilcoxon(
            &d,
            [(36.5, 0.01848100801673795), (153.5, 0.009240504008368976), (153.5, 0.990759495991631)],
            WilcoxonMethod::Normal,
        );
    }

    /// 40 draws of `np.round(np.random.default_rng(3).normal(...), 6)` (after 60 others).
    const D40: [f64; 40] = [
        -1.438857, 0.261354, -0.7641, 0.957221, -1.834167, -0.714495, 0.90958, 1.356401, -1.958005, -0.29804, 0.52802,
        -0.409216, 1.79064, -0.991227, 0.554532, -0.848406, 1.605963, 0.178349, -0.172251, -1.518185, 1.881826,
        0.952779, 0.953564, 1.337881, 0.549227, -0.439247, -0.600241, -0.6002, 1.570072, -1.260381, -0.39637,
        -0.121244, 0.424619, 0.775349, -1.049097, -1.530013, 0.195586, 1.413564, 0.957058, 0.415651,
    ];

    /// `np.round(np.random.default_rng(3).normal(0.3, 1, 60), 6)`.
    const D60: [f64; 60] = [
        2.340919, -2.255665, 0.718099, -0.26777, -0.152649, 0.084403, -1.719986, 0.068068, -0.565213, 3.623, 0.525787,
        -0.052631, 0.018713, -0.368046, -0.755151, -0.090801, 0.781945, 0.061446, 1.257759, 0.100198, 0.32426,
        1.845821, 0.845106, -0.205229, 0.117161, 0.840525, 2.235088, 0.03038, 0.056441, 1.302314, -0.58646, 0.00828,
        1.182539, 0.88035, 0.391517, 0.970104, -2.528162, 1.321307, -0.659645, -1.36862, 0.576446, 1.000545, -0.144767,
        -0.776406, 0.326125, 0.247253, 1.705598, 1.047408, 0.493816, 1.411633, 0.094477, -0.6259, 0.884058, 0.882538,
        0.085171, -0.482809, 0.529154, -2.193894, 0.990125, 0.791368,
    ];

    #[test]
    fn wilcoxon_n40_exact_matches_scipy() {
        // scipy.stats.wilcoxon(D40, alternative=alt)
        check_wilcoxon(
            &D40,
            [(379.0, 0.6850159026034817), (441.0, 0.34250795130174083), (441.0, 0.6623715955583975)],
            WilcoxonMethod::Exact,
        );
    }

    #[test]
    fn wilcoxon_n60_uses_normal_approximation_like_scipy() {
        // scipy.stats.wilcoxon(D60, alternative=alt)
        check_wilcoxon(
            &D60,
            [(579.0, 0.013379732514095138), (1251.0, 0.006689866257047569), (1251.0, 0.9933101337429524)],
            WilcoxonMethod::Normal,
        );
    }

    #[test]
    fn wilcoxon_rejects_all_zero_and_nan() {
        let alt = Alternative::TwoSided;
        assert!(matches!(wilcoxon_signed_rank(&[0.0, 0.0], alt), Err(AlgoError::TooFew(_))));
        assert!(matches!(wilcoxon_signed_rank(&[], alt), Err(AlgoError::TooFew(_))));
        assert!(matches!(wilcoxon_signed_rank(&[1.0, f64::NAN], alt), Err(AlgoError::NonFinite(_))));
    }

    #[test]
    fn hypergeom_sf_matches_scipy() {
        // scipy.stats.hypergeom.sf(k - 1, M, n, N) for (k, M, n, N)
        let cases: [((u64, u64, u64, u64), f64); 10] = [
            ((5, 50, 10, 12), 0.0460249264258388),
            ((1, 50, 10, 12), 0.9539796578542226),
            ((30, 20000, 200, 500), 2.953910721433053e-15),
            ((8, 20000, 200, 500), 0.12965233675415633),
            ((3, 1000, 50, 40), 0.3229433643061544),
            ((0, 10, 3, 4), 1.0),
            ((4, 10, 3, 4), 0.0),
            ((60, 2000, 100, 120), 6.726465643156795e-54),
            ((2, 5, 3, 4), 1.0),
            ((100, 100000, 1000, 800), 3.9545643258152345e-76),
        ];
        for ((k, m, n, draws), expected) in cases {
            let got = hypergeom_sf(k, m, n, draws).unwrap();
            assert_close(got, expected, 1e-10);
        }
    }

    #[test]
    fn hypergeom_rejects_counts_above_population() {
        assert!(matches!(hypergeom_sf(1, 10, 11, 2), Err(AlgoError::Param { .. })));
        assert!(matches!(hypergeom_sf(1, 10, 2, 11), Err(AlgoError::Param { .. })));
    }

    #[test]
    fn normal_tail_matches_scipy() {
        // scipy.special.ndtr(-z) for z in [-3, -0.4, 0, 0.4, 1.2242644850732887, 5, 20]
        let cases = [
            (-3.0, 0.9986501019683699),
            (-0.4, 0.6554217416103242),
            (0.0, 0.5),
            (0.4, 0.3445782583896758),
            (1.2242644850732887, 0.11042623494817322),
            (5.0, 2.866515718791933e-07),
            (20.0, 2.7536241186061556e-89),
        ];
        for (z, expected) in cases {
            assert_close(normal_sf(z), expected, 1e-13);
        }
    }

    #[test]
    fn pearson_matches_scipy() {
        // scipy.stats.pearsonr([1.0,2.0,3.5,4.0,2.2,7.1], [2.0,1.5,3.9,5.5,2.0,6.0]).statistic
        let a = [1.0, 2.0, 3.5, 4.0, 2.2, 7.1];
        let b = [2.0, 1.5, 3.9, 5.5, 2.0, 6.0];
        assert_close(pearson(&a, &b).unwrap(), 0.8926495069650539, 1e-14);
        assert!(matches!(pearson(&a, &b[..5]), Err(AlgoError::Shape { .. })));
        assert!(matches!(pearson(&a, &[1.0; 6]), Err(AlgoError::Numerical(_))));
    }
}
