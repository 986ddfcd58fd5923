//! Bitwise kernels for XOR-shared words (the comparison protocol's prefix tree).

use crate::error::{check_len, check_same, zip2, KernelError};

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

/// 64×64 bit matrices transposed side by side: lane `l` of every row is one matrix (the compiler keeps a
/// row's lanes in one vector register: 4 u64 lanes fill an AVX2 register).
const LANES: usize = 4;

/// Transposes `LANES` 64×64 bit matrices in place: bit `e` of row `j` becomes bit `j` of row `e`, lane by
/// lane (Hacker's Delight 7-3, swapping off-diagonal blocks of halving size; LSB-first bit order).
#[inline(always)]
fn transpose64(a: &mut [[u64; LANES]; 64]) {
    let mut j = 32;
    let mut m: u64 = 0x0000_0000_ffff_ffff;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            for l in 0..LANES {
                let t = ((a[k][l] >> j) ^ a[k + j][l]) & m;
                a[k][l] ^= t << j;
                a[k + j][l] ^= t;
            }
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

fn check_bits(bits: u32) -> Result<(), KernelError> {
    if bits == 0 || bits > 64 {
        return Err(KernelError::InvalidArgument(format!("bit planes must be in 1..=64, got {}", bits)));
    }
    Ok(())
}

// `to_planes` and `from_planes` are compiled for AVX2 as well, and run so where the CPU has it: their lane
// loops then become vector instructions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn to_planes_avx2(x: &[u64], bits: usize, w: usize, out: &mut [u64]) {
    to_planes(x, bits, w, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn from_planes_avx2(planes: &[u64], bits: usize, w: usize, out: &mut [u64]) {
    from_planes(planes, bits, w, out)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Bit planes of the low `bits` bits of `x`: with `w = ceil(n / 64)` words per plane, bit `e % 64` of
/// `out[j * w + e / 64]` is bit `j` of `x[e]`; padding bits past `n` are 0. `out` holds `bits * w` words.
pub fn to_bit_planes(x: &[u64], bits: u32, out: &mut [u64]) -> Result<(), KernelError> {
    check_bits(bits)?;
    let w = (x.len() + 63) / 64;
    check_len("out", out.len(), bits as usize, w)?;
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            to_planes_avx2(x, bits as usize, w, out)
        };
    } else {
        to_planes(x, bits as usize, w, out)
    }
    Ok(())
}

#[inline(always)]
fn to_planes(x: &[u64], bits: usize, w: usize, out: &mut [u64]) {
    let mut block = [[0u64; LANES]; 64];
    for g in (0..w).step_by(LANES) {
        if (g + LANES) * 64 <= x.len() {
            let src = &x[g * 64..(g + LANES) * 64];
            for (k, row) in block.iter_mut().enumerate() {
                for (l, v) in row.iter_mut().enumerate() {
                    *v = src[l * 64 + k];
                }
            }
        } else {
            for l in 0..LANES {
                let start = ((g + l) * 64).min(x.len());
                let chunk = &x[start..(start + 64).min(x.len())];
                for (k, row) in block.iter_mut().enumerate() {
                    row[l] = if k < chunk.len() { chunk[k] } else { 0 };
                }
            }
        }
        transpose64(&mut block);
        let lanes = LANES.min(w - g);
        for (j, row) in block.iter().take(bits).enumerate() {
            out[j * w + g..j * w + g + lanes].copy_from_slice(&row[..lanes]);
        }
    }
}

/// The inverse of `to_bit_planes`: `out[e]` (for `e < out.len()`) gets bit `j` from plane `j < bits`,
/// higher bits 0. `planes` holds `bits * ceil(out.len() / 64)` words; its padding bits are ignored.
pub fn from_bit_planes(planes: &[u64], bits: u32, out: &mut [u64]) -> Result<(), KernelError> {
    check_bits(bits)?;
    let w = (out.len() + 63) / 64;
    check_len("planes", planes.len(), bits as usize, w)?;
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            from_planes_avx2(planes, bits as usize, w, out)
        };
    } else {
        from_planes(planes, bits as usize, w, out)
    }
    Ok(())
}

#[inline(always)]
fn from_planes(planes: &[u64], bits: usize, w: usize, out: &mut [u64]) {
    let n = out.len();
    let mut block = [[0u64; LANES]; 64];
    for g in (0..w).step_by(LANES) {
        let lanes = LANES.min(w - g);
        for (j, row) in block.iter_mut().enumerate() {
            if j < bits {
                row[..lanes].copy_from_slice(&planes[j * w + g..j * w + g + lanes]);
                row[lanes..].iter_mut().for_each(|v| *v = 0);
            } else {
                *row = [0; LANES];
            }
        }
        transpose64(&mut block);
        if (g + LANES) * 64 <= n {
            let dst = &mut out[g * 64..(g + LANES) * 64];
            for (k, row) in block.iter().enumerate() {
                for (l, v) in row.iter().enumerate() {
                    dst[l * 64 + k] = *v;
                }
            }
        } else {
            for l in 0..lanes {
                let start = (g + l) * 64;
                for (k, o) in out[start..(start + 64).min(n)].iter_mut().enumerate() {
                    *o = block[k][l];
                }
            }
        }
    }
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

    #[test]
    fn bit_planes_round_trip() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        // Lengths around the 64-word matrices and the groups of 4 transposed together.
        for len in [1usize, 63, 150, 256, 64 * 9 + 17] {
            let x: Vec<u64> = (0..len)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    s ^ (s >> 29)
                })
                .collect();
            for &bits in &[1u32, 7, 32, 63, 64] {
                let w = (x.len() + 63) / 64;
                let mut planes = vec![0u64; bits as usize * w];
                to_bit_planes(&x, bits, &mut planes).unwrap();
                for (e, v) in x.iter().enumerate() {
                    for j in 0..bits as usize {
                        assert_eq!((planes[j * w + e / 64] >> (e % 64)) & 1, (v >> j) & 1);
                    }
                }
                if x.len() % 64 != 0 {
                    assert_eq!(planes[w - 1] >> (x.len() % 64), 0, "padding is zero");
                }
                let mut back = vec![0u64; x.len()];
                from_bit_planes(&planes, bits, &mut back).unwrap();
                let low = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
                assert!(back.iter().zip(&x).all(|(b, v)| *b == v & low));
            }
        }
        let x = [1u64; 150];
        assert!(to_bit_planes(&x, 0, &mut []).is_err());
        assert!(to_bit_planes(&x, 65, &mut []).is_err());
        assert!(from_bit_planes(&[0; 3], 2, &mut [0; 65]).is_err());
    }
}
