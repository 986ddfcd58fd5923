//! Fused elementwise kernels: protocol steps that otherwise run as several passes over fresh arrays.

use crate::error::{check_same, KernelError};

/// One Beaver product on additive shares, from the triple share (a, b, c = a·b) and the opened
/// e = x − a, f = y − b: `out = c + e·b + f·a + (party0 ? e·f : 0)` (mod 2^64). With b = a and f = e it
/// is the square pair's combine (c + 2·e·a + [party0]·e²).
pub fn beaver_mul(c: &[u64], a: &[u64], b: &[u64], e: &[u64], f: &[u64], party0: bool, out: &mut [u64]) -> Result<(), KernelError> {
    let n = c.len();
    for (what, len) in [("a", a.len()), ("b", b.len()), ("e", e.len()), ("f", f.len()), ("out", out.len())] {
        check_same(what, len, n)?;
    }
    let both = if party0 { u64::MAX } else { 0 };
    for i in 0..n {
        let ef = e[i].wrapping_mul(f[i]) & both;
        out[i] = c[i].wrapping_add(e[i].wrapping_mul(b[i])).wrapping_add(f[i].wrapping_mul(a[i])).wrapping_add(ef);
    }
    Ok(())
}

/// `out = a + s` (mod 2^64) for one scalar `s`.
pub fn add_scalar(a: &[u64], s: u64, out: &mut [u64]) -> Result<(), KernelError> {
    check_same("out", out.len(), a.len())?;
    for (o, x) in out.iter_mut().zip(a) {
        *o = x.wrapping_add(s);
    }
    Ok(())
}

/// The dealer's values for truncation by `bits` (1..=62, see ts/mpc/truncation.ts) from its mask r:
/// `tr = (r mod 2^63) >> bits` and `msb = r >> 63`, in one pass.
pub fn trunc_deal(r: &[u64], bits: u32, tr: &mut [u64], msb: &mut [u64]) -> Result<(), KernelError> {
    if bits == 0 || bits > 62 {
        return Err(KernelError::InvalidArgument(format!("truncation bits must be in 1..=62, got {}", bits)));
    }
    check_same("tr", tr.len(), r.len())?;
    check_same("msb", msb.len(), r.len())?;
    for ((t, m), x) in tr.iter_mut().zip(msb.iter_mut()).zip(r) {
        *t = (x << 1) >> (bits + 1);
        *m = x >> 63;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beaver_mul_reconstructs() {
        // x·y from shares of a triple; every value wraps.
        let (x, y, a, b) = (u64::MAX - 5, 1u64 << 40 | 3, 0x1234_5678_9abc_def0u64, 0xfedc_ba98_7654_3210u64);
        let c = a.wrapping_mul(b);
        let (a0, b0, c0) = (0xdead_beefu64, 0x0bad_f00du64, 0x5555u64);
        let (a1, b1, c1) = (a.wrapping_sub(a0), b.wrapping_sub(b0), c.wrapping_sub(c0));
        let (e, f) = (x.wrapping_sub(a), y.wrapping_sub(b));
        let mut z0 = [0u64];
        let mut z1 = [0u64];
        beaver_mul(&[c0], &[a0], &[b0], &[e], &[f], true, &mut z0).unwrap();
        beaver_mul(&[c1], &[a1], &[b1], &[e], &[f], false, &mut z1).unwrap();
        assert_eq!(z0[0].wrapping_add(z1[0]), x.wrapping_mul(y));
        assert_eq!(beaver_mul(&[1], &[1], &[1, 2], &[1], &[1], true, &mut z0).unwrap_err().code(), "ERR_SHAPE_MISMATCH");
    }

    #[test]
    fn add_scalar_and_trunc_deal() {
        let mut o = [0u64; 2];
        add_scalar(&[u64::MAX, 1], 2, &mut o).unwrap();
        assert_eq!(o, [1, 3]);
        let r = [u64::MAX, 1u64 << 62 | 0xff, 0];
        let (mut tr, mut msb) = ([0u64; 3], [0u64; 3]);
        trunc_deal(&r, 4, &mut tr, &mut msb).unwrap();
        assert_eq!(tr, [((1u64 << 63) - 1) >> 4, (1u64 << 62 | 0xff) >> 4, 0]);
        assert_eq!(msb, [1, 0, 0]);
        assert!(trunc_deal(&r, 0, &mut tr, &mut msb).is_err());
        assert!(trunc_deal(&r, 63, &mut tr, &mut msb).is_err());
    }
}
