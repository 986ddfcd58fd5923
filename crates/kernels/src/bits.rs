//! Bitwise kernels for XOR-shared words (the comparison protocol's prefix tree).

use crate::error::{check_same, zip2, KernelError};

/// `out = a ^ b`.
pub fn xor(a: &[u64], b: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    zip2("xor", a, b, out, |x, y| x ^ y)
}

/// `out = a & b`.
pub fn and(a: &[u64], b: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    zip2("and", a, b, out, |x, y| x & y)
}

/// `out = (a >> s) ^ b` (logical shift, `s < 64`).
pub fn shr_xor(a: &[u64], s: u32, b: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    if s >= 64 {
        return Err(KernelError::InvalidArgument(format!("shift must be in 0..64, got {}", s)));
    }
    zip2("shr_xor", a, b, out, |x, y| (x >> s) ^ y)
}

/// One Beaver AND on XOR shares, from the triple share (a, b, c = a & b) and the opened
/// d = x ^ a, e = y ^ b: `out = c ^ (d & b) ^ (e & a) ^ (party0 ? d & e : 0)`.
pub fn beaver_and(c: &[u64], a: &[u64], b: &[u64], d: &[u64], e: &[u64], party0: bool, out: &mut [u64]) -> Result<(), KernelError> {
    let n = c.len();
    for (what, len) in [("a", a.len()), ("b", b.len()), ("d", d.len()), ("e", e.len()), ("out", out.len())] {
        check_same(what, len, n)?;
    }
    let both = if party0 { u64::MAX } else { 0 };
    for i in 0..n {
        out[i] = c[i] ^ (d[i] & b[i]) ^ (e[i] & a[i]) ^ (d[i] & e[i] & both);
    }
    Ok(())
}

/// Last step of dealer-assisted truncation by `bits` (see ts/mpc/truncation.ts): from the opened
/// `c = x + 2^62 + r` and the shares of `(r mod 2^63) >> bits` and of r's top bit, this server's share of
/// `x >> bits`: `[party0]·((c mod 2^63) >> bits − 2^(62−bits)) − r_tr + 2^(63−bits)·[b]`, where
/// `[b] = [party0]·c63 + (1 − 2·c63)·[r_msb]` is the wrap bit `c63 ⊕ r63`.
pub fn trunc_finish(c: &[u64], r_tr: &[u64], r_msb: &[u64], bits: u32, party0: bool, out: &mut [u64]) -> Result<(), KernelError> {
    if bits == 0 || bits > 62 {
        return Err(KernelError::InvalidArgument(format!("truncation bits must be in 1..=62, got {}", bits)));
    }
    let n = c.len();
    for (what, len) in [("r_tr", r_tr.len()), ("r_msb", r_msb.len()), ("out", out.len())] {
        check_same(what, len, n)?;
    }
    let low63 = (1u64 << 63) - 1;
    let hi = 1u64 << (63 - bits);
    let back = if party0 { 1u64 << (62 - bits) } else { 0 };
    for i in 0..n {
        let cm = c[i] >> 63;
        let flip = if cm == 0 { r_msb[i] } else { r_msb[i].wrapping_neg() };
        let b = if party0 { flip.wrapping_add(cm) } else { flip };
        let public = if party0 { (c[i] & low63) >> bits } else { 0 };
        out[i] = public.wrapping_sub(r_tr[i]).wrapping_add(hi.wrapping_mul(b)).wrapping_sub(back);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beaver_and_reconstructs() {
        // x = 0b1100, y = 0b1010, triple a = 0b0110, b = 0b0011, c = a & b; shares split arbitrarily.
        let (x, y, a, b) = (0b1100u64, 0b1010u64, 0b0110u64, 0b0011u64);
        let c = a & b;
        let (a0, b0, c0) = (0xdead, 0xbeef, 0x1234);
        let (a1, b1, c1) = (a ^ a0, b ^ b0, c ^ c0);
        let (d, e) = (x ^ a, y ^ b);
        let mut z0 = [0u64];
        let mut z1 = [0u64];
        beaver_and(&[c0], &[a0], &[b0], &[d], &[e], true, &mut z0).unwrap();
        beaver_and(&[c1], &[a1], &[b1], &[d], &[e], false, &mut z1).unwrap();
        assert_eq!(z0[0] ^ z1[0], x & y);
        let mut o = [0u64];
        shr_xor(&[0b1000], 3, &[1], &mut o).unwrap();
        assert_eq!(o[0], 0);
        assert!(shr_xor(&[1], 64, &[1], &mut o).is_err());
    }
}
