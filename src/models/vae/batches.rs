//! The reference's data pipeline (method.md §7.1): each perturbed cell is paired once with a
//! control drawn uniformly with replacement; every epoch, each target's cells are shuffled and
//! cut into full batches (the incomplete last one is dropped) and all batches are shuffled.

use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// One control (an index into `controls`' values) per perturbed cell, uniformly with replacement.
pub fn pair_controls(perturbed: usize, controls: &[usize], rng: &mut ChaCha8Rng) -> Vec<usize> {
    (0..perturbed).map(|_| controls[rng.random_range(0..controls.len())]).collect()
}

/// One epoch of single-target batches: `(target, positions)` where positions index the
/// perturbed cells; `groups[t]` lists the positions of target `t`'s cells.
pub fn epoch_batches(groups: &[Vec<usize>], size: usize, rng: &mut ChaCha8Rng) -> Vec<(usize, Vec<usize>)> {
    let mut batches = Vec::new();
    for (t, cells) in groups.iter().enumerate() {
        let mut cells = cells.clone();
        cells.shuffle(rng);
        batches.extend(cells.chunks_exact(size).map(|c| (t, c.to_vec())));
    }
    batches.shuffle(rng);
    batches
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn batches_are_full_single_target_and_drop_the_remainder() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let groups = vec![(0..70).collect::<Vec<_>>(), (70..100).collect(), (100..164).collect()];
        let batches = epoch_batches(&groups, 32, &mut rng);
        // ⌊70/32⌋ + ⌊30/32⌋ + ⌊64/32⌋ = 2 + 0 + 2
        assert_eq!(batches.len(), 4);
        for (t, b) in &batches {
            assert_eq!(b.len(), 32);
            assert!(b.iter().all(|p| groups[*t].contains(p)));
            let mut u = b.clone();
            u.sort();
            u.dedup();
            assert_eq!(u.len(), 32, "no cell twice in a batch");
        }
        assert_eq!(batches.iter().filter(|(t, _)| *t == 2).flat_map(|(_, b)| b.clone()).count(), 64);
        let again = epoch_batches(&groups, 32, &mut rng);
        assert_ne!(batches, again, "a new epoch reshuffles");
    }

    #[test]
    fn controls_are_drawn_from_the_control_set() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let controls = [3, 8, 11];
        let pairs = pair_controls(500, &controls, &mut rng);
        assert!(pairs.iter().all(|c| controls.contains(c)));
        for c in controls {
            let n = pairs.iter().filter(|&&p| p == c).count();
            assert!((120..215).contains(&n), "uniform draw: {n} of 500");
        }
    }
}
