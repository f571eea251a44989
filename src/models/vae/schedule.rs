//! Per-epoch weights of the loss terms (method.md §7.1, §7.3.7): the discrepancy-VAE's warm-up
//! ramps, `numpy.linspace` semantics, both ends included.

/// When and how far each weight ramps; epochs are counted from 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Number of epochs `T`.
    pub epochs: usize,
    /// α: 0 before `alpha_start`, `linspace(0, alpha_max, alpha_end − alpha_start)` over
    /// `alpha_start..alpha_end`, then `alpha_max`.
    pub alpha_max: f64,
    /// First epoch of the α ramp (reference: 5).
    pub alpha_start: usize,
    /// First epoch at `alpha_max` (reference: `⌊T/2⌋` = 50).
    pub alpha_end: usize,
    /// β_KLD: `beta_max` throughout without a ramp (paper A.6: "β_KLD was set to 2.0"); with
    /// one, 0 before `beta_start`, then `linspace(0, beta_max, T − beta_start)`.
    pub beta_max: f64,
    /// First epoch of the β ramp (reference code: 10); `None`: no ramp.
    pub beta_start: Option<usize>,
    /// Softmax / Sinkhorn temperature: 1 before `temp_start`, then `linspace(1, temp_max, T − temp_start)`.
    pub temp_max: f64,
    /// First epoch of the temperature ramp (reference: 5).
    pub temp_start: usize,
    /// Alignment weight λ_MCC, ramped like α.
    pub align_max: f64,
}

/// The weights at one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Weight of the discrepancy term (centroid MSE or MMD).
    pub alpha: f64,
    /// Weight of the KL term.
    pub beta: f64,
    /// Temperature of the target softmax and of the Sinkhorn relaxation.
    pub temp: f64,
    /// Weight of the alignment term.
    pub align: f64,
}

/// `linspace(from, to, end − start)[t − start]` for `t` in `start..end`, `from` before and `to`
/// from `end` on (a one-point linspace is `from`).
fn ramp(t: usize, start: usize, end: usize, from: f64, to: f64) -> f64 {
    if t < start {
        from
    } else if t >= end {
        to
    } else if end - start == 1 {
        from
    } else {
        from + (to - from) * (t - start) as f64 / (end - start - 1) as f64
    }
}

impl Schedule {
    /// The weights at epoch `t`.
    pub fn at(&self, t: usize) -> Weights {
        Weights {
            alpha: ramp(t, self.alpha_start, self.alpha_end, 0.0, self.alpha_max),
            beta: self.beta_start.map_or(self.beta_max, |start| ramp(t, start, self.epochs, 0.0, self.beta_max)),
            temp: ramp(t, self.temp_start, self.epochs, 1.0, self.temp_max),
            align: ramp(t, self.alpha_start, self.alpha_end, 0.0, self.align_max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Schedule {
        Schedule {
            epochs: 100,
            alpha_max: 10.0,
            alpha_start: 5,
            alpha_end: 50,
            beta_max: 2.0,
            beta_start: Some(10),
            temp_max: 5.0,
            temp_start: 5,
            align_max: 1.0,
        }
    }

    #[test]
    fn without_a_ramp_beta_is_constant() {
        let s = Schedule { beta_start: None, ..reference() };
        assert!((0..100).all(|t| s.at(t).beta == 2.0));
        assert_eq!(s.at(7).alpha, reference().at(7).alpha);
    }

    #[test]
    fn ramps_match_the_reference_linspaces() {
        // discrepancy_vae train.py: alpha = [0]*5 + list(np.linspace(0, 10, 45)) + [10]*50,
        // beta = [0]*10 + list(np.linspace(0, 2, 90)), temp = [1]*5 + list(np.linspace(1, 5, 95)).
        let s = reference();
        let linspace = |a: f64, b: f64, n: usize, i: usize| a + (b - a) * i as f64 / (n - 1) as f64;
        for t in 0..100 {
            let w = s.at(t);
            let alpha = if t < 5 {
                0.0
            } else if t < 50 {
                linspace(0.0, 10.0, 45, t - 5)
            } else {
                10.0
            };
            let beta = if t < 10 { 0.0 } else { linspace(0.0, 2.0, 90, t - 10) };
            let temp = if t < 5 { 1.0 } else { linspace(1.0, 5.0, 95, t - 5) };
            let align = if t < 5 {
                0.0
            } else if t < 50 {
                linspace(0.0, 1.0, 45, t - 5)
            } else {
                1.0
            };
            assert_eq!((w.alpha, w.beta, w.temp, w.align), (alpha, beta, temp, align), "epoch {t}");
        }
        assert_eq!(s.at(5).alpha, 0.0);
        assert_eq!(s.at(49).alpha, 10.0);
        assert_eq!(s.at(27).alpha, 5.0);
        assert_eq!(s.at(99).beta, 2.0);
        assert_eq!(s.at(99).temp, 5.0);
    }

    #[test]
    fn one_point_ramp_starts_at_its_origin() {
        assert_eq!(ramp(3, 3, 4, 1.0, 5.0), 1.0);
        assert_eq!(ramp(4, 3, 4, 1.0, 5.0), 5.0);
    }
}
