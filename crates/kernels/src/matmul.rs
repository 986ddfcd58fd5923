//! Wrapping matmul over Z_2^64 on row-major buffers. Rows of the output are independent, so callers
//! may split `a` and `out` by rows across threads and call these functions on each part.

use crate::error::{check_len, KernelError};

/// Block edge (in elements) of the cache tiling over the `k` and `n` dimensions.
pub const BLOCK: usize = 128;
/// Output columns per tile: a BLOCK x NC tile of `b` is 256 KiB, which stays in L2.
const NC: usize = 2 * BLOCK;
/// Rows of `a` handled together so each loaded row of `b` is used four times.
const MR: usize = 4;

fn check(a: &[u64], b: &[u64], m: usize, k: usize, n: usize, out: &[u64], b_t: bool) -> Result<(), KernelError> {
    check_len("a", a.len(), m, k)?;
    if b_t {
        check_len("b (transposed)", b.len(), n, k)?;
    } else {
        check_len("b", b.len(), k, n)?;
    }
    check_len("out", out.len(), m, n)
}

/// `out = a (m x k) * b (k x n)` modulo 2^64.
pub fn matmul(a: &[u64], b: &[u64], m: usize, k: usize, n: usize, out: &mut [u64]) -> Result<(), KernelError> {
    check(a, b, m, k, n, out, false)?;
    if cfg!(target_arch = "wasm32") {
        // wasm has no fast 64-bit vector multiply; see matmul_packed.rs.
        crate::matmul_packed::matmul_packed(a, b, m, k, n, false, out);
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[cfg(secp_avx512)]
        if std::is_x86_feature_detected!("avx512dq") && std::is_x86_feature_detected!("avx512vl") {
            // SAFETY: the CPU supports the features the function is compiled for (checked just above).
            unsafe { matmul_avx512(a, b, m, k, n, out) };
            return Ok(());
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: as above, for AVX2.
            unsafe { matmul_avx2(a, b, m, k, n, out) };
            return Ok(());
        }
    }
    matmul_tiled(a, b, m, k, n, out);
    Ok(())
}

/// Output columns of one AVX-512 register block (two 8-lane registers per row).
#[cfg(all(target_arch = "x86_64", secp_avx512))]
const NR512: usize = 16;
/// Output rows of one AVX-512 register block: 8 x 2 accumulators, two `b` registers and a broadcast
/// stay within the 32 vector registers.
#[cfg(all(target_arch = "x86_64", secp_avx512))]
const MR512: usize = 8;

/// The AVX-512 path: vpmullq gives 8 wrapping u64 products per instruction, so an 8 x 16 block of
/// `out` is kept in registers over a packed `BLOCK`-deep panel of `b` (zero-padded to 16 columns).
#[cfg(all(target_arch = "x86_64", secp_avx512))]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn matmul_avx512(a: &[u64], b: &[u64], m: usize, k: usize, n: usize, out: &mut [u64]) {
    for o in out.iter_mut() {
        *o = 0;
    }
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let mut bpack = vec![0u64; BLOCK * NC];
    let mut jb = 0;
    while jb < n {
        let je = if jb + NC < n { jb + NC } else { n };
        let panels = (je - jb + NR512 - 1) / NR512;
        let mut kb = 0;
        while kb < k {
            let ke = if kb + BLOCK < k { kb + BLOCK } else { k };
            let kc = ke - kb;
            for p in 0..panels {
                let j0 = jb + p * NR512;
                let w = if je - j0 < NR512 { je - j0 } else { NR512 };
                for t in 0..kc {
                    let dst = &mut bpack[(p * kc + t) * NR512..(p * kc + t + 1) * NR512];
                    let src = (kb + t) * n + j0;
                    dst[..w].copy_from_slice(&b[src..src + w]);
                    for d in dst[w..].iter_mut() {
                        *d = 0;
                    }
                }
            }
            let mut i = 0;
            while i < m {
                let rows = if m - i < MR512 { m - i } else { MR512 };
                for p in 0..panels {
                    let j0 = jb + p * NR512;
                    let w = if je - j0 < NR512 { je - j0 } else { NR512 };
                    let panel = &bpack[p * kc * NR512..(p + 1) * kc * NR512];
                    match rows {
                        8 => block512::<8>(a, panel, k, n, i, j0, w, kb, kc, out),
                        7 => block512::<7>(a, panel, k, n, i, j0, w, kb, kc, out),
                        6 => block512::<6>(a, panel, k, n, i, j0, w, kb, kc, out),
                        5 => block512::<5>(a, panel, k, n, i, j0, w, kb, kc, out),
                        4 => block512::<4>(a, panel, k, n, i, j0, w, kb, kc, out),
                        3 => block512::<3>(a, panel, k, n, i, j0, w, kb, kc, out),
                        2 => block512::<2>(a, panel, k, n, i, j0, w, kb, kc, out),
                        _ => block512::<1>(a, panel, k, n, i, j0, w, kb, kc, out),
                    }
                }
                i += rows;
            }
            kb = ke;
        }
        jb = je;
    }
}

/// `out[i..i+R, j..j+w] += a[i..i+R, kb..kb+kc] · panel` with the R x 16 sums in registers.
#[cfg(all(target_arch = "x86_64", secp_avx512))]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn block512<const R: usize>(a: &[u64], panel: &[u64], k: usize, n: usize, i: usize, j: usize, w: usize, kb: usize, kc: usize, out: &mut [u64]) {
    use std::arch::x86_64::*;
    // The slicing checks every bound the raw reads and writes below rely on.
    let panel = &panel[..kc * NR512];
    let arows: [&[u64]; R] = core::array::from_fn(|r| &a[(i + r) * k + kb..(i + r) * k + kb + kc]);
    let mut acc = [[_mm512_setzero_si512(); 2]; R];
    let bp = panel.as_ptr();
    for t in 0..kc {
        let b0 = _mm512_loadu_si512(bp.add(t * NR512) as *const _);
        let b1 = _mm512_loadu_si512(bp.add(t * NR512 + 8) as *const _);
        for r in 0..R {
            let av = _mm512_set1_epi64(*arows[r].get_unchecked(t) as i64);
            acc[r][0] = _mm512_add_epi64(acc[r][0], _mm512_mullo_epi64(av, b0));
            acc[r][1] = _mm512_add_epi64(acc[r][1], _mm512_mullo_epi64(av, b1));
        }
    }
    let lo: __mmask8 = if w >= 8 { 0xff } else { ((1u32 << w) - 1) as __mmask8 };
    let hi: __mmask8 = if w >= 16 { 0xff } else if w > 8 { ((1u32 << (w - 8)) - 1) as __mmask8 } else { 0 };
    for (r, acc) in acc.iter().enumerate() {
        let o = &mut out[(i + r) * n + j..(i + r) * n + j + w];
        let op = o.as_mut_ptr();
        let prev = _mm512_maskz_loadu_epi64(lo, op as *const _);
        _mm512_mask_storeu_epi64(op as *mut _, lo, _mm512_add_epi64(prev, acc[0]));
        if hi != 0 {
            let prev = _mm512_maskz_loadu_epi64(hi, op.add(8) as *const _);
            _mm512_mask_storeu_epi64(op.add(8) as *mut _, hi, _mm512_add_epi64(prev, acc[1]));
        }
    }
}

/// The same loops compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn matmul_avx2(a: &[u64], b: &[u64], m: usize, k: usize, n: usize, out: &mut [u64]) {
    matmul_tiled(a, b, m, k, n, out)
}

#[inline(always)]
fn matmul_tiled(a: &[u64], b: &[u64], m: usize, k: usize, n: usize, out: &mut [u64]) {
    for o in out.iter_mut() {
        *o = 0;
    }
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let mut bpack = if m >= MR { vec![0u64; BLOCK * NC] } else { Vec::new() };
    let mut jb = 0;
    while jb < n {
        let je = if jb + NC < n { jb + NC } else { n };
        let mut kb = 0;
        while kb < k {
            let ke = if kb + BLOCK < k { kb + BLOCK } else { k };
            if m >= MR {
                pack_b(b, n, jb, je, kb, ke, &mut bpack);
            }
            let mut i = 0;
            while i + MR <= m {
                tile4(a, &bpack, b, k, n, i, jb, je, kb, ke, out);
                i += MR;
            }
            while i < m {
                let orow = &mut out[i * n + jb..i * n + je];
                for kk in kb..ke {
                    let av = a[i * k + kk];
                    let brow = &b[kk * n + jb..kk * n + je];
                    for (o, bv) in orow.iter_mut().zip(brow) {
                        *o = o.wrapping_add(av.wrapping_mul(*bv));
                    }
                }
                i += 1;
            }
            kb = ke;
        }
        jb = je;
    }
}

/// Columns of one register block of `micro`.
const NR: usize = 4;
const LOW32: u64 = 0xffff_ffff;

/// Four output rows `i..i+4`, columns `jb..je`, accumulating over `kb..ke`: register blocks of NR
/// columns on a packed copy of the `b` block, the last `(je - jb) % NR` columns by `rows4`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile4(a: &[u64], bpack: &[u64], b: &[u64], k: usize, n: usize, i: usize, jb: usize, je: usize, kb: usize, ke: usize, out: &mut [u64]) {
    let kc = ke - kb;
    let panels = (je - jb) / NR;
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            let mut apack = [0u64; 8 * BLOCK];
            for t in 0..kc {
                for r in 0..4 {
                    let v = a[(i + r) * k + kb + t];
                    apack[t * 8 + 2 * r] = v;
                    apack[t * 8 + 2 * r + 1] = v.rotate_left(32);
                }
            }
            for p in 0..panels {
                // SAFETY: the CPU supports AVX2 (checked just above); micro_avx2 checks its bounds by slicing.
                unsafe { micro_avx2(&apack, &bpack[p * kc * NR..(p + 1) * kc * NR], n, i, jb + p * NR, kc, out) };
            }
            let j = jb + panels * NR;
            if j < je {
                rows4(a, b, k, n, i, j, je, kb, ke, out);
            }
            return;
        }
    }
    for p in 0..panels {
        micro(a, &bpack[p * kc * NR..(p + 1) * kc * NR], k, n, i, jb + p * NR, kb, ke, out);
    }
    let j = jb + panels * NR;
    if j < je {
        rows4(a, b, k, n, i, j, je, kb, ke, out);
    }
}

/// `bpack[(p·kc + t)·NR + c] = b[(kb + t)·n + jb + p·NR + c]` for the whole panels of columns `jb..je`.
#[inline(always)]
fn pack_b(b: &[u64], n: usize, jb: usize, je: usize, kb: usize, ke: usize, bpack: &mut [u64]) {
    let kc = ke - kb;
    for p in 0..(je - jb) / NR {
        for t in 0..kc {
            let src = (kb + t) * n + jb + p * NR;
            bpack[(p * kc + t) * NR..(p * kc + t + 1) * NR].copy_from_slice(&b[src..src + NR]);
        }
    }
}

/// A 4 x NR block of `out` += a[i..i+4, kb..ke] · b[kb..ke, j..j+NR], with every product split into 32-bit
/// halves: x·y = xl·yl + (xh·yl + xl·yh)·2^32 mod 2^64, and the two sums are kept apart until the end
/// ((Σ s)·2^32 = Σ (s·2^32) mod 2^64). Each half product is one 32×32→64-bit multiply (AVX2's vpmuludq, 4
/// lanes), where a 64-bit product would cost three multiplies, two shifts and two adds. Exact in Z_2^64.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn micro(a: &[u64], panel: &[u64], k: usize, n: usize, i: usize, j: usize, kb: usize, ke: usize, out: &mut [u64]) {
    let kc = ke - kb;
    let rows = [
        &a[i * k + kb..i * k + ke],
        &a[(i + 1) * k + kb..(i + 1) * k + ke],
        &a[(i + 2) * k + kb..(i + 2) * k + ke],
        &a[(i + 3) * k + kb..(i + 3) * k + ke],
    ];
    let mut low = [[0u64; NR]; 4];
    let mut cross = [[0u64; NR]; 4];
    for (t, bv) in panel.chunks_exact(NR).take(kc).enumerate() {
        let mut bl = [0u64; NR];
        let mut bh = [0u64; NR];
        for c in 0..NR {
            bl[c] = bv[c] & LOW32;
            bh[c] = bv[c] >> 32;
        }
        for r in 0..4 {
            let av = rows[r][t];
            let (al, ah) = (av & LOW32, av >> 32);
            for c in 0..NR {
                low[r][c] = low[r][c].wrapping_add(al * bl[c]);
                cross[r][c] = cross[r][c].wrapping_add((ah * bl[c]).wrapping_add(al * bh[c]));
            }
        }
    }
    for r in 0..4 {
        let o = &mut out[(i + r) * n + j..(i + r) * n + j + NR];
        for c in 0..NR {
            o[c] = o[c].wrapping_add(low[r][c].wrapping_add(cross[r][c] << 32));
        }
    }
}

/// `micro` in AVX2 intrinsics, with two multiplies per 4 lanes instead of three: vpmuludq gives xl·yl, and
/// vpmulld of y against x with its halves swapped gives xh·yl and xl·yh as the two 32-bit halves of a lane,
/// summed per half with 32-bit adds (only the cross sum mod 2^32 matters). `apack` holds, per step t, the
/// four rows' a and a rotated by 32 bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn micro_avx2(apack: &[u64], panel: &[u64], n: usize, i: usize, j: usize, kc: usize, out: &mut [u64]) {
    use std::arch::x86_64::*;
    // The slicing checks every bound the raw reads below rely on.
    let panel = &panel[..kc * NR];
    let apack = &apack[..kc * 8];
    let mut low = [_mm256_setzero_si256(); 4];
    let mut cross = [_mm256_setzero_si256(); 4];
    for t in 0..kc {
        let b = _mm256_loadu_si256(panel.as_ptr().add(t * NR) as *const __m256i);
        let ap = apack.as_ptr().add(t * 8);
        for r in 0..4 {
            let al = _mm256_set1_epi64x(*ap.add(2 * r) as i64);
            let sw = _mm256_set1_epi64x(*ap.add(2 * r + 1) as i64);
            low[r] = _mm256_add_epi64(low[r], _mm256_mul_epu32(al, b));
            cross[r] = _mm256_add_epi32(cross[r], _mm256_mullo_epi32(sw, b));
        }
    }
    for r in 0..4 {
        let o = &mut out[(i + r) * n + j..(i + r) * n + j + NR];
        let prev = _mm256_loadu_si256(o.as_ptr() as *const __m256i);
        // (cross_lo + cross_hi) · 2^32: the high half shifted onto the low one, added, moved up.
        let c = _mm256_slli_epi64::<32>(_mm256_add_epi32(cross[r], _mm256_srli_epi64::<32>(cross[r])));
        _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, _mm256_add_epi64(prev, _mm256_add_epi64(low[r], c)));
    }
}

/// Four output rows `i..i+4`, columns `jb..je`, accumulating over `kb..ke` (row by row in memory).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn rows4(a: &[u64], b: &[u64], k: usize, n: usize, i: usize, jb: usize, je: usize, kb: usize, ke: usize, out: &mut [u64]) {
    let w = je - jb;
    let (r0, rest) = out[i * n..].split_at_mut(n);
    let (r1, rest) = rest.split_at_mut(n);
    let (r2, r3) = rest.split_at_mut(n);
    let r0 = &mut r0[jb..je];
    let r1 = &mut r1[jb..je];
    let r2 = &mut r2[jb..je];
    let r3 = &mut r3[jb..je];
    for kk in kb..ke {
        let a0 = a[i * k + kk];
        let a1 = a[(i + 1) * k + kk];
        let a2 = a[(i + 2) * k + kk];
        let a3 = a[(i + 3) * k + kk];
        let brow = &b[kk * n + jb..kk * n + je];
        for j in 0..w {
            let bv = brow[j];
            r0[j] = r0[j].wrapping_add(a0.wrapping_mul(bv));
            r1[j] = r1[j].wrapping_add(a1.wrapping_mul(bv));
            r2[j] = r2[j].wrapping_add(a2.wrapping_mul(bv));
            r3[j] = r3[j].wrapping_add(a3.wrapping_mul(bv));
        }
    }
}

/// `out = a (m x k) * bt^T` where `bt` is `b` transposed (n x k), modulo 2^64.
pub fn matmul_bt(a: &[u64], bt: &[u64], m: usize, k: usize, n: usize, out: &mut [u64]) -> Result<(), KernelError> {
    check(a, bt, m, k, n, out, true)?;
    if cfg!(target_arch = "wasm32") {
        // wasm has no fast 64-bit vector multiply; see matmul_packed.rs.
        crate::matmul_packed::matmul_packed(a, bt, m, k, n, true, out);
        return Ok(());
    }
    if k == 0 {
        for o in out.iter_mut() {
            *o = 0;
        }
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    if m >= MR && std::is_x86_feature_detected!("avx2") {
        // A transposed copy of `bt` (n·k words) lets the vector kernels of `matmul` run (m·k·n products).
        let mut b = vec![0u64; k * n];
        for j in 0..n {
            for t in 0..k {
                b[t * n + j] = bt[j * k + t];
            }
        }
        return matmul(a, &b, m, k, n, out);
    }
    // Tile over output columns so a block of bt rows stays in cache while all rows of a stream past it.
    let mut jb = 0;
    while jb < n {
        let je = if jb + BLOCK < n { jb + BLOCK } else { n };
        for i in 0..m {
            let arow = &a[i * k..(i + 1) * k];
            for j in jb..je {
                out[i * n + j] = dot(arow, &bt[j * k..(j + 1) * k]);
            }
        }
        jb = je;
    }
    Ok(())
}

#[inline(always)]
fn dot(x: &[u64], y: &[u64]) -> u64 {
    let mut s = [0u64; 4];
    let chunks = x.len() / 4;
    for c in 0..chunks {
        for l in 0..4 {
            s[l] = s[l].wrapping_add(x[4 * c + l].wrapping_mul(y[4 * c + l]));
        }
    }
    let mut acc = s[0].wrapping_add(s[1]).wrapping_add(s[2]).wrapping_add(s[3]);
    for t in 4 * chunks..x.len() {
        acc = acc.wrapping_add(x[t].wrapping_mul(y[t]));
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
        let mut out = vec![0u64; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0u64;
                for t in 0..k {
                    s = s.wrapping_add(a[i * k + t].wrapping_mul(b[t * n + j]));
                }
                out[i * n + j] = s;
            }
        }
        out
    }

    fn fill(len: usize, seed: u64) -> Vec<u64> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect()
    }

    #[test]
    fn matches_naive_on_awkward_shapes() {
        let shapes = [(1, 1, 1), (3, 5, 7), (5, 129, 3), (9, 130, 257), (4, 128, 256), (17, 300, 530), (0, 3, 2), (2, 0, 3)];
        for (s, &(m, k, n)) in shapes.iter().enumerate() {
            let a = fill(m * k, s as u64 + 1);
            let b = fill(k * n, s as u64 + 100);
            let mut out = vec![7u64; m * n];
            matmul(&a, &b, m, k, n, &mut out).unwrap();
            assert_eq!(out, naive(&a, &b, m, k, n), "shape {:?}", (m, k, n));
            let mut bt = vec![0u64; k * n];
            for t in 0..k {
                for j in 0..n {
                    bt[j * k + t] = b[t * n + j];
                }
            }
            let mut out2 = vec![7u64; m * n];
            matmul_bt(&a, &bt, m, k, n, &mut out2).unwrap();
            assert_eq!(out2, out, "bt shape {:?}", (m, k, n));
        }
    }

    /// Every compiled path the CPU can run, not only the one `matmul` dispatches to.
    #[test]
    fn every_path_matches_naive() {
        for &(m, k, n) in &[(9, 130, 257), (17, 300, 530), (8, 128, 16), (1, 7, 15)] {
            let a = fill(m * k, 3);
            let b = fill(k * n, 4);
            let want = naive(&a, &b, m, k, n);
            let mut out = vec![7u64; m * n];
            matmul_tiled(&a, &b, m, k, n, &mut out);
            assert_eq!(out, want, "portable {:?}", (m, k, n));
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx2") {
                    let mut out = vec![7u64; m * n];
                    unsafe { matmul_avx2(&a, &b, m, k, n, &mut out) };
                    assert_eq!(out, want, "avx2 {:?}", (m, k, n));
                }
                #[cfg(secp_avx512)]
                if std::is_x86_feature_detected!("avx512dq") && std::is_x86_feature_detected!("avx512vl") {
                    let mut out = vec![7u64; m * n];
                    unsafe { matmul_avx512(&a, &b, m, k, n, &mut out) };
                    assert_eq!(out, want, "avx512 {:?}", (m, k, n));
                }
            }
            let mut out = vec![7u64; m * n];
            crate::matmul_packed::matmul_packed(&a, &b, m, k, n, false, &mut out);
            assert_eq!(out, want, "packed {:?}", (m, k, n));
        }
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut out = vec![0u64; 4];
        let e = matmul(&[1, 2, 3], &[1, 2, 3, 4], 2, 2, 2, &mut out).unwrap_err();
        assert_eq!(e.code(), "ERR_BUFFER_LENGTH");
        let e = matmul(&[1, 2, 3, 4], &[1, 2, 3, 4], 2, 2, 2, &mut out[..3]).unwrap_err();
        assert_eq!(e.code(), "ERR_BUFFER_LENGTH");
    }
}
