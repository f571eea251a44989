//! Searches over big slices (a matrix's stored values or indices), in parallel by blocks.

use rayon::prelude::*;

/// Values per block: enough work per rayon task, few enough to stop soon after a hit.
const BLOCK: usize = 1 << 16;

/// The first position where `bad` holds. Each block is first tested in one branch-free pass,
/// which the compiler vectorises (rayon's `position_first` synchronises on every element and
/// was slower than reading the values); only a block that fails is searched.
pub fn first_where<T: Sync>(values: &[T], bad: impl Fn(&T) -> bool + Sync) -> Option<usize> {
    values.par_chunks(BLOCK).enumerate().find_map_first(|(b, block)| {
        let any = block.iter().fold(false, |any, v| any | bad(v));
        any.then(|| block.iter().position(&bad).map(|k| b * BLOCK + k)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_hit_is_found_in_any_block() {
        let n = 5 * BLOCK + 17;
        let mut values = vec![1u32; n];
        assert_eq!(first_where(&values, |&v| v > 1), None);
        for at in [0, BLOCK - 1, BLOCK, 3 * BLOCK + 5, n - 1] {
            values[at] = 9;
            values[n - 1] = 9;
            assert_eq!(first_where(&values, |&v| v > 1), Some(at), "hit at {at}");
            values[at] = 1;
        }
        assert_eq!(first_where(&[] as &[u32], |_| true), None);
    }
}
