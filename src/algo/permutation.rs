//! Paired permutation statistics (method.md §6.4, issue 16): the true labelling and every
//! permuted labelling are scored on the same runs, so each labelling's score is its mean over
//! those runs and the runs' own noise is shared by both arms.
//!
//! [`paired_permutation`] gives the permutation p-value `(1 + #{null ≥ true}) / (1 + N)`, the
//! effect size `(true − mean null) / sd null` with a two-way bootstrap confidence interval, and
//! the paper's one-sample t-test of the per-run true scores against the null mean, which
//! measures technical reproducibility (seed-to-seed noise), not significance.
//!
//! Pure, seeded; no I/O.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::algo::AlgoError;
use crate::algo::random::derive_seed;
use crate::algo::stats::{Alternative, percentile, t_test_one_sample};

/// What [`paired_permutation`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedPermutation {
    /// Mean of the true labelling's scores over the runs.
    pub true_mean: f64,
    /// Their standard deviation (ddof 1): the technical variability.
    pub true_sd: f64,
    /// Mean over permutations of each permutation's run-mean score.
    pub null_mean: f64,
    /// Standard deviation (ddof 1) of the permutations' run-mean scores.
    pub null_sd: f64,
    /// `(1 + #{permutation mean ≥ true mean}) / (1 + N)`.
    pub p_perm: f64,
    /// `(true_mean − null_mean) / null_sd` (NaN when `null_sd` is 0).
    pub effect_size: f64,
    /// Bootstrap percentile interval of the effect size (`level` coverage).
    pub effect_ci: (f64, f64),
    /// The paper's test: t statistic of the per-run true scores against `null_mean`.
    pub t: f64,
    /// Its one-tailed p-value (technical reproducibility, not significance).
    pub p_t: f64,
}

/// Options of the effect-size bootstrap.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    /// Number of bootstrap replicates.
    pub replicates: usize,
    /// Coverage of the interval, e.g. 0.95.
    pub level: f64,
    /// Seed; replicate `b` draws from `derive_seed(seed, [b])`.
    pub seed: u64,
}

/// The paired permutation test of a true labelling against `N` permuted ones.
///
/// # Arguments
/// * `truth` — the true labelling's score on each of `R ≥ 2` runs.
/// * `null` — `null[j][r]`: permutation `j`'s score on run `r` (the same runs, same order).
/// * `bootstrap` — each replicate resamples the runs (R with replacement, the same draw for
///   both arms) and the permutations (N with replacement) and recomputes the effect size;
///   the interval is the percentile interval of the finite replicates.
///
/// # Returns
/// [`PairedPermutation`]. Errors: [`AlgoError::TooFew`] for fewer than 2 runs or 2
/// permutations, [`AlgoError::Shape`] when a permutation has another number of runs,
/// [`AlgoError::NonFinite`] for NaN scores.
///
/// # Complexity
/// `O(N · R)` plus `O(B · N · R)` for `B` replicates (spread over rayon threads; the result does
/// not depend on their number).
pub fn paired_permutation(
    truth: &[f64],
    null: &[Vec<f64>],
    bootstrap: Bootstrap,
) -> Result<PairedPermutation, AlgoError> {
    let runs = truth.len();
    if runs < 2 || null.len() < 2 {
        return Err(AlgoError::TooFew(format!(
            "a paired permutation test needs at least 2 runs and 2 permutations, got {runs} and {}",
            null.len()
        )));
    }
    if let Some(bad) = null.iter().find(|v| v.len() != runs) {
        return Err(AlgoError::Shape { what: "runs of a permutation".into(), expected: runs, got: bad.len() });
    }
    if truth.iter().chain(null.iter().flatten()).any(|v| !v.is_finite()) {
        return Err(AlgoError::NonFinite("a permutation-test score is NaN or infinite".into()));
    }
    let (true_mean, true_sd) = mean_sd(truth);
    let per_perm: Vec<f64> = null.iter().map(|v| mean_sd(v).0).collect();
    let (null_mean, null_sd) = mean_sd(&per_perm);
    let at_least = per_perm.iter().filter(|&&v| v >= true_mean).count();
    let test = t_test_one_sample(truth, null_mean, Alternative::Greater);
    let (t, p_t) = test.map(|t| (t.t, t.p)).unwrap_or((f64::NAN, f64::NAN));
    Ok(PairedPermutation {
        true_mean,
        true_sd,
        null_mean,
        null_sd,
        p_perm: (1 + at_least) as f64 / (1 + null.len()) as f64,
        effect_size: effect(true_mean, null_mean, null_sd),
        effect_ci: effect_interval(truth, null, bootstrap),
        t,
        p_t,
    })
}

fn effect(true_mean: f64, null_mean: f64, null_sd: f64) -> f64 {
    if null_sd > 0.0 { (true_mean - null_mean) / null_sd } else { f64::NAN }
}

/// The bootstrap percentile interval of the effect size (see [`paired_permutation`]).
fn effect_interval(truth: &[f64], null: &[Vec<f64>], opts: Bootstrap) -> (f64, f64) {
    let (runs, perms) = (truth.len(), null.len());
    let mut replicates: Vec<f64> = (0..opts.replicates)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(opts.seed, &[b as u64]));
            let drawn: Vec<usize> = (0..runs).map(|_| rng.random_range(0..runs)).collect();
            let over_runs = |v: &[f64]| drawn.iter().map(|&r| v[r]).sum::<f64>() / runs as f64;
            let null_means: Vec<f64> = (0..perms).map(|_| over_runs(&null[rng.random_range(0..perms)])).collect();
            let (null_mean, null_sd) = mean_sd(&null_means);
            effect(over_runs(truth), null_mean, null_sd)
        })
        .filter(|v| v.is_finite())
        .collect();
    if replicates.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    replicates.sort_by(f64::total_cmp);
    let tail = 50.0 * (1.0 - opts.level);
    (percentile(&replicates, tail), percentile(&replicates, 100.0 - tail))
}

/// Mean and standard deviation (ddof 1; 0 for one value).
fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (mean, (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::random::normal;

    const BOOT: Bootstrap = Bootstrap { replicates: 2000, level: 0.95, seed: 3 };

    /// Scores with a shared run effect `u_r`, a labelling effect (`true_effect` for the truth,
    /// standard normal for the permutations) and noise.
    fn scores(runs: usize, perms: usize, true_effect: f64, seed: u64) -> (Vec<f64>, Vec<Vec<f64>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let run_effect: Vec<f64> = (0..runs).map(|_| 0.05 * normal(&mut rng)).collect();
        let arm = |m: f64, rng: &mut ChaCha8Rng| -> Vec<f64> {
            run_effect.iter().map(|u| 0.3 + 0.1 * m + u + 0.01 * normal(rng)).collect()
        };
        let truth = arm(true_effect, &mut rng);
        let null = (0..perms)
            .map(|_| {
                let m = normal(&mut rng);
                arm(m, &mut rng)
            })
            .collect();
        (truth, null)
    }

    #[test]
    fn p_perm_is_a_count_of_permutations_at_least_the_truth() {
        let truth = vec![0.5, 0.7]; // mean 0.6
        let null = vec![vec![0.6, 0.6], vec![0.2, 0.3], vec![0.9, 0.5], vec![0.1, 0.1]];
        let r = paired_permutation(&truth, &null, BOOT).unwrap();
        // Two of four permutations reach 0.6 (one ties it): (1 + 2) / (1 + 4).
        assert_eq!(r.p_perm, 3.0 / 5.0);
        let means = [0.6, 0.25, 0.7, 0.1];
        let m = means.iter().sum::<f64>() / 4.0;
        let sd = (means.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 3.0).sqrt();
        assert!((r.null_mean - m).abs() < 1e-15 && (r.null_sd - sd).abs() < 1e-15);
        assert!((r.effect_size - (0.6 - m) / sd).abs() < 1e-12);
    }

    #[test]
    fn a_real_effect_is_significant_and_its_interval_covers_it() {
        let (truth, null) = scores(20, 999, 4.0, 1);
        let r = paired_permutation(&truth, &null, BOOT).unwrap();
        assert!(r.p_perm <= 0.01, "p_perm {}", r.p_perm);
        assert!(r.effect_ci.0 < r.effect_size && r.effect_size < r.effect_ci.1, "{r:?}");
        assert!(r.effect_ci.0 > 2.0, "{r:?}");
    }

    #[test]
    fn a_labelling_like_the_others_is_not_significant_but_its_t_test_is() {
        // One null SD above the null mean: a permutation p near 0.16. The paper's t-test
        // compares the run-to-run noise of this one labelling with the null mean, so it
        // "passes" all the same.
        let (truth, null) = scores(50, 999, 1.0, 2);
        let r = paired_permutation(&truth, &null, BOOT).unwrap();
        assert!(r.p_perm > 0.05, "p_perm {}", r.p_perm);
        assert!(r.p_t < 1e-6, "p_t {}", r.p_t);
        assert!(r.effect_ci.0 < 2.0, "{r:?}");
    }

    #[test]
    fn the_bootstrap_is_seeded_and_independent_of_threads() {
        let (truth, null) = scores(10, 200, 2.0, 4);
        let a = paired_permutation(&truth, &null, BOOT).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let b = pool.install(|| paired_permutation(&truth, &null, BOOT)).unwrap();
        assert_eq!(a, b);
        let c = paired_permutation(&truth, &null, Bootstrap { seed: 4, ..BOOT }).unwrap();
        assert_ne!(a.effect_ci, c.effect_ci);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(paired_permutation(&[0.1], &[vec![0.1], vec![0.2]], BOOT), Err(AlgoError::TooFew(_))));
        let ragged = vec![vec![0.1, 0.2], vec![0.3]];
        assert!(matches!(paired_permutation(&[0.1, 0.2], &ragged, BOOT), Err(AlgoError::Shape { .. })));
        let nan = vec![vec![0.1, f64::NAN], vec![0.3, 0.2]];
        assert!(matches!(paired_permutation(&[0.1, 0.2], &nan, BOOT), Err(AlgoError::NonFinite(_))));
    }
}
