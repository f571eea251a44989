//! Vectorisable `ln(1 + x)` and `eˣ − 1` over `f32` slices, for [`super::log1p`] and the
//! `seurat` HVG flavour (libm's `log1pf`/`expm1f` are scalar calls, several times slower).
//!
//! Each value is widened to `f64`, evaluated with branch-free arithmetic the compiler turns into
//! SIMD, and rounded once to `f32`. The `f64` evaluation errs by a few `f64` ulps (< 1e-15
//! relative), so the result is the correctly rounded `f32` unless the exact value lies within
//! that distance of a rounding midpoint; the tests check this against libm's `f64` functions.
//! Only IEEE `+ − × ÷` and bit operations are used (no fused multiply–add, no table), so the
//! bytes are the same on every CPU whatever its vector width.

/// `ln 2` split for Cody–Waite reduction: `LN2_HI` has 32 trailing zero bits, so `k · LN2_HI` is
/// exact for |k| < 2²¹ (fdlibm's constants).
const LN2_HI: f64 = 6.931_471_803_691_238_164_9e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
/// Adding and subtracting 1.5 · 2⁵² rounds an `f64` of magnitude < 2⁵¹ to the nearest integer.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// Offset that moves the mantissa of `u` into [√½, √2) (musl's `log`): the high word of √½.
const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_0000_0000;
/// 1/19, 1/17, …, 1/3, 1: the series of atanh(s)/s in s², highest power first.
const ATANH: [f64; 10] =
    [1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0];
/// 1/13!, 1/12!, …, 1/2!, 1: the series of (eʳ − 1)/r, highest power first.
const INV_FACTORIAL: [f64; 13] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    1.0 / 2.0,
    1.0,
];

/// `ln(1 + x)` for finite x > −1 other than ±0 (see [`ln_1p_special`]).
#[inline(always)]
fn ln_1p(x: f32) -> f32 {
    let x = f64::from(x);
    let u = 1.0 + x;
    // 1 + x is exact for |x| ≥ 2⁻²⁹ (x is an f32); below, ln(1 + x) = ln u + (x − (u − 1)) to
    // far better than an f32 ulp.
    let c = x - (u - 1.0);
    // u = 2ᵏ · m with m in [√½, √2).
    let bits = u.to_bits().wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
    let k = f64::from((bits >> 52) as i32 - 0x3ff);
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) + SQRT_HALF_BITS);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    // ln m = 2 atanh s = 2s (1 + z/3 + z²/5 + …); |s| ≤ 0.1716, so z ≤ 0.0295 and the ten
    // terms below leave a remainder under z¹⁰/21 < 3e-17.
    let p = ATANH.iter().fold(0.0, |p, &a| p * z + a);
    (k * LN2_HI + (k * LN2_LO + c + 2.0 * s * p)) as f32
}

/// The arguments [`ln_1p`] leaves to libm: ±0 (keeping the sign), −1 and below, +∞, NaN.
#[inline(always)]
fn ln_1p_special(x: f32) -> bool {
    !(x > -1.0 && x < f32::INFINITY) || x == 0.0
}

/// `eˣ − 1` for x other than ±0 and NaN (see [`exp_m1_special`]); −1 at −∞, +∞ above ≈ 88.72.
#[inline(always)]
fn exp_m1(x: f32) -> f32 {
    // Outside [−104, 89] the f32 result is −1 or +∞ anyway; clamping keeps 2ᵏ a normal f64.
    let x = f64::from(x).max(-104.0).min(89.0);
    // x = k ln 2 + r, |r| ≤ ½ ln 2 (+ rounding), exactly: k · LN2_HI is exact and x − k · LN2_HI
    // cancels without error.
    let t = x * std::f64::consts::LOG2_E + ROUND;
    let k = t - ROUND;
    let ki = t.to_bits().wrapping_sub(ROUND.to_bits()) as i64;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // eʳ − 1 = r + r²/2! + … + r¹³/13!; the remainder is below r¹⁴/14! < 5e-18.
    let p = r * INV_FACTORIAL.iter().fold(0.0, |p, &a| p * r + a);
    // eˣ − 1 = 2ᵏ (eʳ − 1) + (2ᵏ − 1); both terms share a sign for k > 0, and for k < 0 the
    // result is below −0.29, so there is no cancellation. For k = 0 this is p + 0 = p.
    let two_k = f64::from_bits(((ki + 0x3ff) as u64) << 52);
    (two_k * p + (two_k - 1.0)) as f32
}

/// The arguments [`exp_m1`] leaves to libm: ±0 (keeping the sign) and NaN.
#[inline(always)]
fn exp_m1_special(x: f32) -> bool {
    x == 0.0 || x.is_nan()
}

/// Replaces every value `v` of `values` by `ln(1 + v)`.
pub(super) fn ln_1p_in_place(values: &mut [f32]) {
    apply(values, Kernel { fast: ln_1p, special: ln_1p_special, libm: f32::ln_1p });
}

/// Replaces every value `v` of `values` by `eᵛ − 1`.
pub(super) fn exp_m1_in_place(values: &mut [f32]) {
    apply(values, Kernel { fast: exp_m1, special: exp_m1_special, libm: f32::exp_m1 });
}

/// A branch-free function, the arguments it does not handle, and libm's version for those.
#[derive(Clone, Copy)]
struct Kernel<F, S> {
    fast: F,
    special: S,
    libm: fn(f32) -> f32,
}

/// Applies `k` to every value with AVX-512 or AVX2 where the CPU has them (the same IEEE
/// operations on wider registers, so the same bytes; AVX-512 takes the 8 `f64` of a group in one
/// register, 1.5× AVX2's speed on the EPYC here), else with the baseline instructions.
fn apply<F: Fn(f32) -> f32 + Copy, S: Fn(f32) -> bool + Copy>(values: &mut [f32], k: Kernel<F, S>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports these AVX-512 subsets, checked just above.
        unsafe { apply_avx512(values, k) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { apply_avx2(values, k) };
        return;
    }
    apply_lanes(values, k);
}

/// Whether the CPU has the AVX-512 subsets [`apply_avx512`] is built for.
#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn apply_avx2<F: Fn(f32) -> f32 + Copy, S: Fn(f32) -> bool + Copy>(values: &mut [f32], k: Kernel<F, S>) {
    apply_lanes(values, k);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
fn apply_avx512<F: Fn(f32) -> f32 + Copy, S: Fn(f32) -> bool + Copy>(values: &mut [f32], k: Kernel<F, S>) {
    apply_lanes(values, k);
}

/// The fast function over groups of 8 values as straight-line code, which the compiler packs
/// into vector instructions; special arguments are then redone by libm.
#[inline(always)]
fn apply_lanes<F: Fn(f32) -> f32 + Copy, S: Fn(f32) -> bool + Copy>(values: &mut [f32], k: Kernel<F, S>) {
    let mut groups = values.chunks_exact_mut(8);
    for group in &mut groups {
        let mut out = [0.0f32; 8];
        for i in 0..8 {
            out[i] = (k.fast)(group[i]);
        }
        for i in 0..8 {
            if (k.special)(group[i]) {
                out[i] = (k.libm)(group[i]);
            }
        }
        group.copy_from_slice(&out);
    }
    for v in groups.into_remainder() {
        *v = if (k.special)(*v) { (k.libm)(*v) } else { (k.fast)(*v) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `step`-th f32 bit pattern from `lo` to `hi` (inclusive), plus both ends.
    fn sweep(lo: f32, hi: f32, step: u32) -> impl Iterator<Item = f32> {
        let (a, b) = (lo.to_bits(), hi.to_bits());
        let (a, b) = (a.min(b), a.max(b));
        (a..=b).step_by(step as usize).chain([b]).map(f32::from_bits)
    }

    /// Checks `in_place` on the values `xs` against the f64 reference `exact` rounded to f32:
    /// equal, or the reference lies within 1e-14 (relative) of the midpoint between the two
    /// f32 results (where rounding either way is within the reference's own error). Returns the
    /// number of values, how many differ from libm's f32 function, and the largest ulp gap.
    fn check(
        xs: impl Iterator<Item = f32>,
        in_place: fn(&mut [f32]),
        exact: fn(f64) -> f64,
        libm: fn(f32) -> f32,
    ) -> (usize, usize, u32) {
        let xs: Vec<f32> = xs.collect();
        let mut got = xs.clone();
        in_place(&mut got);
        let (mut differ_libm, mut worst) = (0, 0);
        for (&x, &got) in xs.iter().zip(&got) {
            let want = exact(f64::from(x));
            let rounded = want as f32;
            if got.to_bits() != rounded.to_bits() && !(got.is_nan() && rounded.is_nan()) {
                let mid = (f64::from(got) + f64::from(rounded)) / 2.0;
                assert!(
                    (want - mid).abs() <= 1e-14 * want.abs(),
                    "x = {x:e} ({:#x}): got {got:e}, f64 reference {want:e} rounds to {rounded:e}",
                    x.to_bits()
                );
            }
            let lib = libm(x);
            if lib.to_bits() != got.to_bits() && !(lib.is_nan() && got.is_nan()) {
                differ_libm += 1;
                worst = worst.max(lib.to_bits().abs_diff(got.to_bits()));
            }
        }
        (xs.len(), differ_libm, worst)
    }

    /// Runs `k` over `xs` on every vector path the CPU has; each must give the baseline's bits.
    /// Returns the number of vector paths run.
    fn same_on_every_path<F: Fn(f32) -> f32 + Copy, S: Fn(f32) -> bool + Copy>(
        name: &str,
        xs: &[f32],
        k: Kernel<F, S>,
    ) -> usize {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let mut base = xs.to_vec();
        apply_lanes(&mut base, k);
        let mut paths: Vec<(&str, unsafe fn(&mut [f32], Kernel<F, S>))> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                paths.push(("AVX2", apply_avx2::<F, S>));
            }
            if has_avx512() {
                paths.push(("AVX-512", apply_avx512::<F, S>));
            }
        }
        for (isa, path) in &paths {
            let mut v = xs.to_vec();
            // SAFETY: each path was pushed only where the CPU has its instructions.
            unsafe { path(&mut v, k) };
            assert_eq!(bits(&v), bits(&base), "{name}: {isa}");
        }
        paths.len()
    }

    #[test]
    fn every_instruction_set_gives_the_bits_of_the_baseline() {
        let xs: Vec<f32> = sweep(-103.0, 88.0, 4099).chain(sweep(0.0, f32::MAX, 9973)).collect();
        let ln = same_on_every_path("ln_1p", &xs, Kernel { fast: ln_1p, special: ln_1p_special, libm: f32::ln_1p });
        let exp =
            same_on_every_path("exp_m1", &xs, Kernel { fast: exp_m1, special: exp_m1_special, libm: f32::exp_m1 });
        eprintln!("{} vector paths checked against the baseline", ln + exp);
    }

    /// `in_place` applied to one value (through the remainder path) and to a full group of 8.
    fn one(in_place: fn(&mut [f32]), x: f32) -> [f32; 2] {
        let mut single = [x];
        in_place(&mut single);
        let mut group = [x; 8];
        in_place(&mut group);
        [single[0], group[7]]
    }

    #[test]
    fn ln_1p_is_correctly_rounded_over_every_range_of_normalised_counts() {
        // Stride 97 over every positive f32 (0 … 3.4e38, 22 million values) and every f32 in
        // (−1, 0); stride 7 over [1, 16]; then the specials.
        let positive = sweep(0.0, f32::MAX, 97);
        let negative = sweep(-0.999_999_94, -0.0, 97);
        let dense = sweep(1.0, 16.0, 7);
        let (n, differ, worst) = check(positive.chain(negative).chain(dense), ln_1p_in_place, f64::ln_1p, f32::ln_1p);
        eprintln!("ln_1p: {n} values, {differ} differ from libm log1pf (at most {worst} ulp)");
        assert!(worst <= 1, "more than 1 ulp from libm log1pf");
        let specials = [(-1.0, f32::NEG_INFINITY), (f32::INFINITY, f32::INFINITY), (-0.0, -0.0), (0.0, 0.0)];
        let tiny = [1e-30f32, -1e-30, 1e-12, f32::MIN_POSITIVE, 1e-45].map(|t| (t, t));
        for (x, want) in specials.into_iter().chain(tiny) {
            assert_eq!(one(ln_1p_in_place, x).map(f32::to_bits), [want.to_bits(); 2], "ln(1 + {x:e})");
        }
        for x in [f32::NAN, -1.5, f32::NEG_INFINITY] {
            assert!(one(ln_1p_in_place, x).iter().all(|v| v.is_nan()), "ln(1 + {x:e})");
        }
    }

    #[test]
    fn exp_m1_is_correctly_rounded_over_the_log_range() {
        // Every positive f32 up to 89 (beyond it the result overflows) at stride 61, negatives
        // down to −104 at stride 97, then specials.
        let positive = sweep(0.0, 89.0, 61);
        let negative = sweep(-104.0, -0.0, 97);
        let (n, differ, worst) = check(positive.chain(negative), exp_m1_in_place, f64::exp_m1, f32::exp_m1);
        eprintln!("exp_m1: {n} values, {differ} differ from libm expm1f (at most {worst} ulp)");
        assert!(worst <= 1, "more than 1 ulp from libm expm1f");
        let specials = [
            (89.0, f32::INFINITY),
            (f32::INFINITY, f32::INFINITY),
            (f32::NEG_INFINITY, -1.0),
            (-0.0, -0.0),
            (0.0, 0.0),
        ];
        let tiny = [1e-30f32, -1e-30, 1e-12, 1e-45].map(|t| (t, t));
        for (x, want) in specials.into_iter().chain(tiny) {
            assert_eq!(one(exp_m1_in_place, x).map(f32::to_bits), [want.to_bits(); 2], "exp({x:e}) − 1");
        }
        assert!(one(exp_m1_in_place, f32::NAN).iter().all(|v| v.is_nan()));
    }
}
