//! A row's entries of chosen genes: what `preprocess` writes for each cell. With AVX-512 (where
//! the CPU has it) sixteen entries at a time are looked up in the gene map (a gather) and the
//! kept ones packed into place (a compress-store), without a branch per entry; elsewhere one
//! entry at a time. Both give the same entries in the same order.

/// A gene the map leaves out.
pub(super) const NONE: u32 = u32::MAX;

/// How many of the genes `cols` the map `genes` keeps (each `cols` entry < `genes.len()`).
pub(super) fn count(cols: &[u32], genes: &[u32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && genes.len() < i32::MAX as usize {
        // SAFETY: the CPU has AVX-512F; the gene count fits the gather's signed offsets.
        return unsafe { count_avx512(cols, genes) };
    }
    count_scalar(cols, genes)
}

/// Writes the kept entries of `cols`/`values` (gene `genes[c]`, its value) to the front of
/// `idx`/`val`; returns how many. At most `idx.len()` (= `val.len()`) are written.
pub(super) fn keep(cols: &[u32], values: &[f32], genes: &[u32], idx: &mut [u32], val: &mut [f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && genes.len() < i32::MAX as usize {
        // SAFETY: as in `count`.
        return unsafe { keep_avx512(cols, values, genes, idx, val) };
    }
    keep_scalar(cols, values, genes, idx, val, 0)
}

fn count_scalar(cols: &[u32], genes: &[u32]) -> usize {
    cols.iter().map(|&j| usize::from(genes[j as usize] != NONE)).sum()
}

/// [`keep`] one entry at a time, the first `at` places of `idx`/`val` already filled.
fn keep_scalar(cols: &[u32], values: &[f32], genes: &[u32], idx: &mut [u32], val: &mut [f32], mut at: usize) -> usize {
    let room = idx.len().min(val.len());
    for (&j, &v) in cols.iter().zip(values) {
        let o = genes[j as usize];
        if o != NONE && at < room {
            idx[at] = o;
            val[at] = v;
            at += 1;
        }
    }
    at
}

/// Looks up sixteen genes: their map entries, and the mask of those kept.
///
/// # Safety
/// AVX-512F; `cols` has 16 entries from `at`, each < `genes.len()` < 2³¹.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lookup(cols: &[u32], at: usize, genes: &[u32]) -> (std::arch::x86_64::__m512i, u16) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's bounds; unaligned loads.
    unsafe {
        let c = _mm512_loadu_si512(cols.as_ptr().add(at).cast());
        let o = _mm512_i32gather_epi32::<4>(c, genes.as_ptr().cast());
        (o, _mm512_cmpneq_epi32_mask(o, _mm512_set1_epi32(NONE as i32)))
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn count_avx512(cols: &[u32], genes: &[u32]) -> usize {
    let whole = cols.len() / 16 * 16;
    if cols.iter().any(|&j| j as usize >= genes.len()) {
        return count_scalar(cols, genes);
    }
    let mut n = 0;
    for at in (0..whole).step_by(16) {
        // SAFETY: 16 entries from `at`, every one checked in range above.
        n += unsafe { lookup(cols, at, genes) }.1.count_ones() as usize;
    }
    n + count_scalar(&cols[whole..], genes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn keep_avx512(cols: &[u32], values: &[f32], genes: &[u32], idx: &mut [u32], val: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let (n, room) = (cols.len().min(values.len()), idx.len().min(val.len()));
    if cols[..n].iter().any(|&j| j as usize >= genes.len()) {
        return keep_scalar(cols, values, genes, idx, val, 0);
    }
    let mut at = 0;
    let mut k = 0;
    while k + 16 <= n {
        // SAFETY: 16 entries from `k`, every one checked in range above.
        let (o, mask) = unsafe { lookup(cols, k, genes) };
        let kept = mask.count_ones() as usize;
        if at + kept > room {
            break;
        }
        // SAFETY: `kept` places from `at` lie inside `idx` and `val` (checked just above); the
        // compress-stores write exactly those; the value load reads 16 entries from `k` < n.
        unsafe {
            _mm512_mask_compressstoreu_epi32(idx.as_mut_ptr().add(at).cast(), mask, o);
            let v = _mm512_loadu_ps(values.as_ptr().add(k));
            _mm512_mask_compressstoreu_ps(val.as_mut_ptr().add(at), mask, v);
        }
        at += kept;
        k += 16;
    }
    keep_scalar(&cols[k..n], &values[k..n], genes, idx, val, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_keeps_the_same_entries_in_order() {
        // 40 genes, every third left out; rows of every length around the 16-entry steps.
        let genes: Vec<u32> = (0..40).map(|j| if j % 3 == 0 { NONE } else { 100 + j }).collect();
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 100] {
            let cols: Vec<u32> = (0..len).map(|k| (k * 7 % 40) as u32).collect();
            let values: Vec<f32> = (0..len).map(|k| k as f32 + 0.5).collect();
            let want: Vec<(u32, f32)> = cols
                .iter()
                .zip(&values)
                .filter(|&(&j, _)| genes[j as usize] != NONE)
                .map(|(&j, &v)| (genes[j as usize], v))
                .collect();
            assert_eq!(count(&cols, &genes), want.len(), "{len}");
            assert_eq!(count_scalar(&cols, &genes), want.len(), "{len}");
            let (mut idx, mut val) = (vec![0; want.len()], vec![0.0; want.len()]);
            assert_eq!(keep(&cols, &values, &genes, &mut idx, &mut val), want.len());
            assert_eq!(idx.iter().copied().zip(val.iter().copied()).collect::<Vec<_>>(), want, "{len}");
            // Too little room: the first entries only, nothing written past the end.
            let short = want.len().saturating_sub(3);
            let (mut idx, mut val) = (vec![0; short], vec![0.0; short]);
            assert_eq!(keep(&cols, &values, &genes, &mut idx, &mut val), short);
            assert_eq!(idx.iter().copied().zip(val.iter().copied()).collect::<Vec<_>>(), want[..short], "{len}");
        }
        // A gene outside the map takes the checked path, which panics like indexing does.
        let outside = std::panic::catch_unwind(|| count(&[45; 20], &genes));
        assert!(outside.is_err());
    }
}
