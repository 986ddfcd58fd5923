//! The local parts of the private cosine protocol (DESIGN §3). Angles are in *turns*: a u64 `a`
//! stands for the angle `2*pi*a/2^64`, so the ring's wrap-around is exactly one period.
//!
//! sin/cos use our own polynomial (plain IEEE `+`/`*` in a fixed order) so that native, wasm and the
//! JS reference give bit-identical results; libm's sin/cos may differ in the last bit.

use crate::error::{check_same, KernelError};
use crate::fixed::{check_frac, pow2, round_to_ring};

use std::f64::consts::PI;
/// Radians per ring unit within a quarter turn: (pi/2) / 2^62.
const RAD_PER_UNIT: f64 = (PI / 2.0) / 4_611_686_018_427_387_904.0;

/// sin(y), cos(y) for |y| <= pi/4 by Taylor polynomials through y^17 / y^16 (truncation < 2e-18).
#[inline]
fn sin_cos_small(y: f64) -> (f64, f64) {
    let y2 = y * y;
    let s = 1.0
        + y2 * (-1.0 / 6.0
            + y2 * (1.0 / 120.0
                + y2 * (-1.0 / 5040.0
                    + y2 * (1.0 / 362880.0
                        + y2 * (-1.0 / 39916800.0
                            + y2 * (1.0 / 6227020800.0
                                + y2 * (-1.0 / 1307674368000.0 + y2 * (1.0 / 355687428096000.0))))))));
    let c = 1.0
        + y2 * (-1.0 / 2.0
            + y2 * (1.0 / 24.0
                + y2 * (-1.0 / 720.0
                    + y2 * (1.0 / 40320.0
                        + y2 * (-1.0 / 3628800.0
                            + y2 * (1.0 / 479001600.0
                                + y2 * (-1.0 / 87178291200.0 + y2 * (1.0 / 20922789888000.0))))))));
    (y * s, c)
}

/// cos and sin of the public angle `a` (in turns, 2^64 = one period) as f64: the tests' reference.
#[cfg(test)]
fn cos_sin_turn(a: u64) -> (f64, f64) {
    // Nearest quarter turn q, remainder in [-1/8, 1/8) turn.
    let q = a.wrapping_add(1 << 61) >> 62;
    let rem = a.wrapping_sub(q << 62) as i64;
    let (s, c) = sin_cos_small(rem as f64 * RAD_PER_UNIT);
    match q {
        0 => (c, s),
        1 => (-s, c),
        2 => (-c, -s),
        _ => (s, -c),
    }
}

/// Writes cos and sin of each angle (turns) as fixed point with `frac_bits` fractional bits.
pub fn cos_sin_turns(angle: &[u64], frac_bits: u32, cos_out: &mut [u64], sin_out: &mut [u64]) -> Result<(), KernelError> {
    check_frac(frac_bits)?;
    check_same("cos_out vs angle", cos_out.len(), angle.len())?;
    check_same("sin_out vs angle", sin_out.len(), angle.len())?;
    let scale = pow2(frac_bits);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { cos_sin_turns_avx2(angle, scale, cos_out, sin_out) };
        return Ok(());
    }
    cos_sin_turns_body(angle, scale, cos_out, sin_out);
    Ok(())
}

/// The same loop compiled for AVX2 (its floor is one instruction instead of a libm call, and the
/// polynomials run several angles per register). Same IEEE operations in the same order: same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn cos_sin_turns_avx2(angle: &[u64], scale: f64, cos_out: &mut [u64], sin_out: &mut [u64]) {
    cos_sin_turns_body(angle, scale, cos_out, sin_out)
}

/// |cos|, |sin| ≤ 1 and scale ≤ 2^FRAC_BITS_MAX < 2^63: no value can overflow, so round_to_ring's checks
/// reduce to its rounding, ⌊v + 0.5⌋, written here branch-free (the quadrant as selects).
#[inline(always)]
fn cos_sin_turns_body(angle: &[u64], scale: f64, cos_out: &mut [u64], sin_out: &mut [u64]) {
    for ((a, c), s) in angle.iter().zip(cos_out.iter_mut()).zip(sin_out.iter_mut()) {
        let q = a.wrapping_add(1 << 61) >> 62;
        let rem = a.wrapping_sub(q << 62) as i64;
        let (sn, cs) = sin_cos_small(rem as f64 * RAD_PER_UNIT);
        let (x, y) = if q & 1 == 1 { (sn, cs) } else { (cs, sn) };
        let cv = if q == 1 || q == 2 { -x } else { x };
        let sv = if q >= 2 { -y } else { y };
        *c = (cv * scale + 0.5).floor() as i64 as u64;
        *s = (sv * scale + 0.5).floor() as i64 as u64;
    }
}

/// Terms of a cosine series the kernel takes at most (v2 GELU uses 5).
pub const SERIES_TERMS_MAX: usize = 64;

/// A cosine series on public angles, the servers' side of v2 GELU in one pass: `out[i] = acc[i] +
/// Σ_{j=1..=terms} C_j(i)·coef[(2j−2)·stride + i] + S_j(i)·coef[(2j−1)·stride + i]` mod 2^64, where C_j(i), S_j(i)
/// are cos and sin of the angle j·d[i] (turns) exactly as `cos_sin_turns` gives them at `frac_bits`.
/// `stride` is the distance between consecutive terms' rows of `coef` (n for a whole 2·terms × n matrix;
/// the native addon passes slices of one to split the work). Same bits as cos_sin_turns, mul and add composed.
pub fn cos_sin_series(d: &[u64], coef: &[u64], stride: usize, terms: usize, frac_bits: u32, acc: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    check_frac(frac_bits)?;
    check_same("acc vs d", acc.len(), d.len())?;
    check_same("out vs d", out.len(), d.len())?;
    let n = d.len();
    if terms == 0 || terms > SERIES_TERMS_MAX {
        return Err(KernelError::InvalidArgument(format!("series terms must be in 1..={}, got {}", SERIES_TERMS_MAX, terms)));
    }
    if stride < n || coef.len() < (2 * terms - 1) * stride + n {
        return Err(KernelError::InvalidArgument(format!(
            "coefficients: {} words do not hold {} rows of {} (stride {})",
            coef.len(),
            2 * terms,
            n,
            stride
        )));
    }
    let scale = pow2(frac_bits);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { cos_sin_series_avx2(d, coef, stride, terms, scale, acc, out) };
        return Ok(());
    }
    cos_sin_series_body(d, coef, stride, terms, scale, acc, out);
    Ok(())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn cos_sin_series_avx2(d: &[u64], coef: &[u64], stride: usize, terms: usize, scale: f64, acc: &[u64], out: &mut [u64]) {
    cos_sin_series_body(d, coef, stride, terms, scale, acc, out)
}

/// Blocks of SERIES_BLOCK elements: angles, cos and sin of one term stay in L1 while every term is summed.
const SERIES_BLOCK: usize = 512;

#[inline(always)]
fn cos_sin_series_body(d: &[u64], coef: &[u64], stride: usize, terms: usize, scale: f64, acc: &[u64], out: &mut [u64]) {
    let mut angle = [0u64; SERIES_BLOCK];
    let mut c = [0u64; SERIES_BLOCK];
    let mut s = [0u64; SERIES_BLOCK];
    let mut b = 0;
    while b < d.len() {
        let len = if d.len() - b < SERIES_BLOCK { d.len() - b } else { SERIES_BLOCK };
        let o = &mut out[b..b + len];
        o.copy_from_slice(&acc[b..b + len]);
        let db = &d[b..b + len];
        angle[..len].iter_mut().for_each(|a| *a = 0);
        for j in 0..terms {
            // j·d as (j−1)·d + d: the same wrapping product.
            for (a, x) in angle[..len].iter_mut().zip(db) {
                *a = a.wrapping_add(*x);
            }
            cos_sin_turns_body(&angle[..len], scale, &mut c[..len], &mut s[..len]);
            let kc = &coef[2 * j * stride + b..2 * j * stride + b + len];
            let ks = &coef[(2 * j + 1) * stride + b..(2 * j + 1) * stride + b + len];
            for (((o, cv), sv), (x, y)) in o.iter_mut().zip(&c[..len]).zip(&s[..len]).zip(kc.iter().zip(ks)) {
                *o = o.wrapping_add(cv.wrapping_mul(*x)).wrapping_add(sv.wrapping_mul(*y));
            }
        }
        b += len;
    }
}

/// The dealer's side of a cosine series: for each term j = first, first+1, … (one per `coefs` entry), cos and
/// sin of the angle j·t[i] (turns) at `frac_bits` as `cos_sin_turns` gives them, times the integer `coefs[j − first]`,
/// then shifted down by `shift` bits with rounding (⌊(v·c + 2^(shift−1)) / 2^shift⌋, signed; |v·c| must stay below
/// 2^62). Row 2m of `out` (n words) holds term first+m's cosines, row 2m + 1 its sines.
pub fn cos_sin_terms(t: &[u64], coefs: &[u64], first: u64, frac_bits: u32, shift: u32, out: &mut [u64]) -> Result<(), KernelError> {
    check_frac(frac_bits)?;
    if coefs.is_empty() || coefs.len() > SERIES_TERMS_MAX {
        return Err(KernelError::InvalidArgument(format!("series terms must be in 1..={}, got {}", SERIES_TERMS_MAX, coefs.len())));
    }
    if shift == 0 || shift > 62 {
        return Err(KernelError::InvalidArgument(format!("shift must be in 1..=62, got {}", shift)));
    }
    check_same("out vs 2·terms·n", out.len(), 2 * coefs.len() * t.len())?;
    let scale = pow2(frac_bits);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { cos_sin_terms_avx2(t, coefs, first, scale, shift, out) };
        return Ok(());
    }
    cos_sin_terms_body(t, coefs, first, scale, shift, out);
    Ok(())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn cos_sin_terms_avx2(t: &[u64], coefs: &[u64], first: u64, scale: f64, shift: u32, out: &mut [u64]) {
    cos_sin_terms_body(t, coefs, first, scale, shift, out)
}

#[inline(always)]
fn cos_sin_terms_body(t: &[u64], coefs: &[u64], first: u64, scale: f64, shift: u32, out: &mut [u64]) {
    let n = t.len();
    let half = 1u64 << (shift - 1);
    let round = |v: u64, k: u64| ((v.wrapping_mul(k).wrapping_add(half) as i64) >> shift) as u64;
    let mut angle = [0u64; SERIES_BLOCK];
    let mut c = [0u64; SERIES_BLOCK];
    let mut s = [0u64; SERIES_BLOCK];
    for (m, &k) in coefs.iter().enumerate() {
        let j = first.wrapping_add(m as u64);
        let (cos_row, rest) = out[2 * m * n..(2 * m + 2) * n].split_at_mut(n);
        let mut b = 0;
        while b < n {
            let len = if n - b < SERIES_BLOCK { n - b } else { SERIES_BLOCK };
            for (a, x) in angle[..len].iter_mut().zip(&t[b..b + len]) {
                *a = x.wrapping_mul(j);
            }
            cos_sin_turns_body(&angle[..len], scale, &mut c[..len], &mut s[..len]);
            for (o, v) in cos_row[b..b + len].iter_mut().zip(&c[..len]) {
                *o = round(*v, k);
            }
            for (o, v) in rest[b..b + len].iter_mut().zip(&s[..len]) {
                *o = round(*v, k);
            }
            b += len;
        }
    }
}

/// Integer angle-scaling weights: `K = round(w * 2^(64-f) / (2*pi))`, so that for fixed-point `x`
/// with `f` fractional bits, `sum_i K_i * x_i mod 2^64` is the angle `w . x` in turns. The local
/// angle share is then a plain wrapping matmul of the shares of `x` with `K`.
pub fn angle_scale(w: &[f64], frac_bits: u32, out: &mut [u64]) -> Result<(), KernelError> {
    check_frac(frac_bits)?;
    check_same("angle_scale: out vs w", out.len(), w.len())?;
    let scale = pow2(64 - frac_bits - 1) / PI;
    for (i, (o, v)) in out.iter_mut().zip(w).enumerate() {
        *o = round_to_ring(*v * scale, i, *v, 64 - frac_bits).map_err(|e| match e {
            KernelError::Overflow { .. } => KernelError::InvalidArgument(format!(
                "random-feature weight {} at index {} is too large: |w| must stay below 2^{} * pi",
                v,
                i,
                frac_bits
            )),
            other => other,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_round_each_scaled_cosine() {
        let n = 1100;
        let t: Vec<u64> = (0..n).map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x55).collect();
        let coefs = [1_000_000_007u64, (-123_456_789i64) as u64, 3];
        let (frac, shift) = (30, 29);
        let mut out = vec![9u64; 2 * coefs.len() * n];
        cos_sin_terms(&t, &coefs, 2, frac, shift, &mut out).unwrap();
        for (m, &k) in coefs.iter().enumerate() {
            let ang: Vec<u64> = t.iter().map(|x| x.wrapping_mul(2 + m as u64)).collect();
            let (mut c, mut s) = (vec![0u64; n], vec![0u64; n]);
            cos_sin_turns(&ang, frac, &mut c, &mut s).unwrap();
            for i in 0..n {
                // The rounding as i128 arithmetic: floor((v·k + 2^(shift−1)) / 2^shift).
                let r = |v: u64| ((((v as i64) as i128) * ((k as i64) as i128) + (1i128 << (shift - 1))) >> shift) as i64 as u64;
                assert_eq!(out[2 * m * n + i], r(c[i]));
                assert_eq!(out[(2 * m + 1) * n + i], r(s[i]));
            }
        }
        assert!(cos_sin_terms(&t, &coefs, 2, frac, 0, &mut out).is_err());
        assert!(cos_sin_terms(&t, &[], 2, frac, shift, &mut out).is_err());
        assert!(cos_sin_terms(&t, &coefs, 2, frac, shift, &mut out[1..]).is_err());
    }

    #[test]
    fn series_equals_its_composition() {
        let n = 1037;
        let terms = 5;
        let word = |i: usize, salt: u64| (i as u64 + salt).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ salt;
        let d: Vec<u64> = (0..n).map(|i| word(i, 1)).collect();
        let acc: Vec<u64> = (0..n).map(|i| word(i, 2)).collect();
        let coef: Vec<u64> = (0..2 * terms * n).map(|i| word(i, 3)).collect();
        let mut want = acc.clone();
        for j in 1..=terms {
            let ang: Vec<u64> = d.iter().map(|x| x.wrapping_mul(j as u64)).collect();
            let (mut c, mut s) = (vec![0u64; n], vec![0u64; n]);
            cos_sin_turns(&ang, 16, &mut c, &mut s).unwrap();
            for i in 0..n {
                want[i] = want[i].wrapping_add(c[i].wrapping_mul(coef[(2 * j - 2) * n + i])).wrapping_add(s[i].wrapping_mul(coef[(2 * j - 1) * n + i]));
            }
        }
        let mut out = vec![7u64; n];
        cos_sin_series(&d, &coef, n, terms, 16, &acc, &mut out).unwrap();
        assert_eq!(out, want);
        // A slice from element 100 with the whole matrix's stride: the split the addon makes.
        let mut part = vec![0u64; 300];
        cos_sin_series(&d[100..400], &coef[100..], n, terms, 16, &acc[100..400], &mut part).unwrap();
        assert_eq!(part, want[100..400]);
        let mut portable = vec![0u64; n];
        cos_sin_series_body(&d, &coef, n, terms, pow2(16), &acc, &mut portable);
        assert_eq!(portable, want);
        assert!(cos_sin_series(&d, &coef[1..], n, terms, 16, &acc, &mut out).is_err());
        assert!(cos_sin_series(&d, &coef, n, 0, 16, &acc, &mut out).is_err());
        assert!(cos_sin_series(&d, &coef, n, terms, 16, &acc[1..], &mut out).is_err());
    }

    #[test]
    fn matches_libm_closely() {
        let mut a: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..100_000 {
            a = a.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (c, s) = cos_sin_turn(a);
            let t = a as f64 / 18_446_744_073_709_551_616.0 * 2.0 * PI;
            assert!((c - t.cos()).abs() < 1e-14, "cos at {}", a);
            assert!((s - t.sin()).abs() < 1e-14, "sin at {}", a);
        }
        assert_eq!(cos_sin_turn(0), (1.0, 0.0));
        assert_eq!(cos_sin_turn(1 << 62), (0.0, 1.0));
        assert_eq!(cos_sin_turn(1 << 63), (-1.0, 0.0));
    }

    #[test]
    fn fixed_point_outputs() {
        let mut c = [0u64; 2];
        let mut s = [0u64; 2];
        cos_sin_turns(&[0, 3 << 62], 16, &mut c, &mut s).unwrap();
        assert_eq!(c, [65536, 0]);
        assert_eq!(s, [0, (-65536i64) as u64]);
    }

    #[test]
    fn angle_scaling_gives_turns() {
        // w . x with w = [1.5, -0.25], x = [2, 4] (f = 16): 3 - 1 = 2 radians.
        let mut k = [0u64; 2];
        angle_scale(&[1.5, -0.25], 16, &mut k).unwrap();
        let x = [2u64 << 16, 4u64 << 16];
        let ang = k[0].wrapping_mul(x[0]).wrapping_add(k[1].wrapping_mul(x[1]));
        let (c, s) = cos_sin_turn(ang);
        assert!((c - 2f64.cos()).abs() < 1e-9 && (s - 2f64.sin()).abs() < 1e-9);
        assert_eq!(angle_scale(&[f64::INFINITY], 16, &mut k[..1]).unwrap_err().code(), "ERR_NON_FINITE");
        assert_eq!(angle_scale(&[1e6], 16, &mut k[..1]).unwrap_err().code(), "ERR_INVALID_ARGUMENT");
    }
}
