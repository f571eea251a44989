//! Seeded draws shared by the simulator, the models and the permutation tests.

use rand::seq::SliceRandom;
use rand::{Rng, RngExt};

/// A standard normal draw (Box–Muller).
pub fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Splits rows `0..n` into (kept, held out) by a seeded shuffle, holding out `round(n · fraction)`;
/// both ascending.
pub fn split_rows<R: Rng + ?Sized>(n: usize, fraction: f64, rng: &mut R) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let held = ((n as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
    let (mut out, mut kept) = (order[..held].to_vec(), order[held..].to_vec());
    out.sort_unstable();
    kept.sort_unstable();
    (kept, out)
}

/// A seed for one independent piece of work, mixed from a base seed and the piece's coordinates
/// (SplitMix64 finaliser over each part), so results never depend on execution order.
pub fn derive_seed(base: u64, parts: &[u64]) -> u64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    parts.iter().fold(mix(base.wrapping_add(0x9e37_79b9_7f4a_7c15)), |h, &p| {
        mix(h ^ mix(p.wrapping_add(0x9e37_79b9_7f4a_7c15)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn split_rows_is_a_seeded_partition() {
        let (kept, out) = split_rows(100, 0.1, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!((kept.len(), out.len()), (90, 10));
        let mut all: Vec<usize> = kept.iter().chain(&out).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(split_rows(100, 0.1, &mut ChaCha8Rng::seed_from_u64(1)).1, out);
        assert_ne!(split_rows(100, 0.1, &mut ChaCha8Rng::seed_from_u64(2)).1, out);
    }

    #[test]
    fn derived_seeds_differ_by_every_coordinate() {
        let seeds =
            [derive_seed(0, &[0, 1]), derive_seed(0, &[1, 0]), derive_seed(1, &[0, 1]), derive_seed(0, &[0, 2])];
        for i in 0..seeds.len() {
            for j in 0..i {
                assert_ne!(seeds[i], seeds[j]);
            }
        }
        assert_eq!(derive_seed(7, &[3]), derive_seed(7, &[3]));
    }
}
