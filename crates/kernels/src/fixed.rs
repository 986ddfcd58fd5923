//! Fixed-point encoding: a real `x` is the two's-complement integer `round(x * 2^f)` in a u64.
//! Rounding is `floor(v + 0.5)` on the exactly scaled value, the same rule in every backend.

use crate::error::KernelError;

/// Largest supported number of fractional bits (one bit of headroom above the sign bit).
pub const FRAC_BITS_MAX: u32 = 62;

const TWO_63: f64 = 9_223_372_036_854_775_808.0;

pub(crate) fn check_frac(frac_bits: u32) -> Result<(), KernelError> {
    if frac_bits > FRAC_BITS_MAX {
        return Err(KernelError::InvalidArgument(format!(
            "frac_bits must be in 0..={}, got {}",
            FRAC_BITS_MAX, frac_bits
        )));
    }
    Ok(())
}

/// `2^e` for `0 <= e < 64` as an exact f64.
pub(crate) fn pow2(e: u32) -> f64 {
    (1u64 << e) as f64
}

/// Rounds `v` (already scaled) to the nearest integer and wraps it into the ring, or reports why not.
#[inline(always)]
pub(crate) fn round_to_ring(v: f64, index: usize, x: f64, frac_bits: u32) -> Result<u64, KernelError> {
    if !v.is_finite() {
        return Err(if x.is_finite() {
            KernelError::Overflow { index, value: x, frac_bits }
        } else {
            KernelError::NonFinite { index }
        });
    }
    let r = (v + 0.5).floor();
    if !(-TWO_63..TWO_63).contains(&r) {
        return Err(KernelError::Overflow { index, value: x, frac_bits });
    }
    Ok(r as i64 as u64)
}

/// Encodes `x` with `frac_bits` fractional bits into `out`. Fails on the first NaN/infinity or
/// out-of-range value (|x| must stay below 2^(63 - frac_bits)); `out` is then partly written.
pub fn encode(x: &[f64], frac_bits: u32, out: &mut [u64]) -> Result<(), KernelError> {
    check_frac(frac_bits)?;
    crate::error::check_same("encode: out vs input", out.len(), x.len())?;
    let scale = pow2(frac_bits);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { encode_avx2(x, scale, frac_bits, out) };
    }
    encode_body(x, scale, frac_bits, out)
}

/// encode's loop compiled for AVX2: its floor is one instruction instead of a libm call (same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn encode_avx2(x: &[f64], scale: f64, frac_bits: u32, out: &mut [u64]) -> Result<(), KernelError> {
    encode_body(x, scale, frac_bits, out)
}

#[inline(always)]
fn encode_body(x: &[f64], scale: f64, frac_bits: u32, out: &mut [u64]) -> Result<(), KernelError> {
    for (i, (o, v)) in out.iter_mut().zip(x).enumerate() {
        *o = round_to_ring(*v * scale, i, *v, frac_bits)?;
    }
    Ok(())
}

/// Decodes two's-complement fixed point with `frac_bits` fractional bits to f64.
pub fn decode(x: &[u64], frac_bits: u32, out: &mut [f64]) -> Result<(), KernelError> {
    check_frac(frac_bits)?;
    crate::error::check_same("decode: out vs input", out.len(), x.len())?;
    let inv = 1.0 / pow2(frac_bits);
    for (o, v) in out.iter_mut().zip(x) {
        *o = (*v as i64) as f64 * inv;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rounding() {
        let xs = [0.0, 1.0, -1.0, 0.5, -0.5, 1.25e-5, -3.75, 1234.5678];
        let mut e = [0u64; 8];
        encode(&xs, 16, &mut e).unwrap();
        assert_eq!(e[1], 65536);
        assert_eq!(e[2], (-65536i64) as u64);
        assert_eq!(e[4], (-32768i64) as u64);
        let mut d = [0f64; 8];
        decode(&e, 16, &mut d).unwrap();
        for (a, b) in xs.iter().zip(&d) {
            assert!((a - b).abs() <= 0.5 / 65536.0);
        }
        // Half-way cases round up (towards +inf).
        encode(&[0.5 / 65536.0, -0.5 / 65536.0], 16, &mut e[..2]).unwrap();
        assert_eq!(&e[..2], &[1, 0]);
    }

    #[test]
    fn errors_are_reported() {
        let mut o = [0u64; 3];
        let err = encode(&[1.0, f64::NAN, 0.0], 16, &mut o).unwrap_err();
        assert_eq!(err, KernelError::NonFinite { index: 1 });
        let err = encode(&[0.0, 0.0, 140737488355328.0], 16, &mut o).unwrap_err(); // 2^47
        assert_eq!(err.code(), "ERR_FIXED_OVERFLOW");
        // Just inside the range works: largest f64 below 2^47.
        encode(&[140737488355327.98], 16, &mut o[..1]).unwrap();
        assert_eq!(encode(&[1.0], 63, &mut o[..1]).unwrap_err().code(), "ERR_INVALID_ARGUMENT");
        assert_eq!(encode(&[1.0, 2.0], 16, &mut o[..1]).unwrap_err().code(), "ERR_SHAPE_MISMATCH");
    }
}
