//! Packed, register-blocked wrapping matmul: the wasm32 path of `matmul` / `matmul_bt`.
//!
//! wasm has 64-bit scalar multiplies but no fast 64-bit vector multiply (V8 expands `i64x2.mul`
//! into three 32-bit multiplies, shifts and adds), so the fastest wasm kernel is scalar and keeps
//! an `MR x NR` block of `out` in registers (wasm locals) across the whole `k` loop: one load of
//! `a` and of `b` feeds several products, and `out` is touched once per `KC` steps instead of every
//! step. Blocks of `a` and `b` are copied ("packed") into the order the inner loop reads them.
//! Wrapping `+`/`*` are associative and commutative, so results are bit-identical to `matmul`.
//! Compiled on every target so the native tests cover it; only wasm32 dispatches to it.

/// Rows of `out` per register block. 4 x 2 keeps 8 accumulators plus 6 operands near the 13-15
/// general registers V8 can allocate on x64; 2 x 3 .. 4 x 3 measured the same (imul-bound).
const MR: usize = 4;
/// Columns of `out` per register block.
const NR: usize = 2;
/// Depth of one packed block: `KC x NR` of `b` (4 KiB) and `KC x MR` of `a` (8 KiB) stay in L1.
const KC: usize = 256;
/// Columns of `b` packed at once: a `KC x NC` block is 1 MiB, streamed from L2 for each row block.
const NC: usize = 512;

/// `out = a (m x k) * b (k x n)`, or `a * bt^T` when `b_t` (then `b` is n x k). Lengths are checked by the caller.
pub(crate) fn matmul_packed(a: &[u64], b: &[u64], m: usize, k: usize, n: usize, b_t: bool, out: &mut [u64]) {
    for o in out.iter_mut() {
        *o = 0;
    }
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let kc_max = if k < KC { k } else { KC };
    let nc_max = if n < NC { n } else { NC };
    let mut bpack = vec![0u64; kc_max * round_up(nc_max, NR)];
    let mut apack = vec![0u64; kc_max * MR];
    let mut jb = 0;
    while jb < n {
        let nc = if n - jb < NC { n - jb } else { NC };
        let panels = (nc + NR - 1) / NR;
        let mut kb = 0;
        while kb < k {
            let kc = if k - kb < KC { k - kb } else { KC };
            pack_b(b, k, n, b_t, kb, kc, jb, nc, &mut bpack[..kc * panels * NR]);
            let mut ib = 0;
            while ib < m {
                let mr = if m - ib < MR { m - ib } else { MR };
                let ap = &mut apack[..kc * mr];
                for (kk, col) in ap.chunks_exact_mut(mr).enumerate() {
                    for (r, v) in col.iter_mut().enumerate() {
                        *v = a[(ib + r) * k + kb + kk];
                    }
                }
                for p in 0..panels {
                    let bp = &bpack[p * kc * NR..(p + 1) * kc * NR];
                    let j = jb + p * NR;
                    let nr = if n - j < NR { n - j } else { NR };
                    let orow = &mut out[ib * n + j..];
                    match mr {
                        4 => store(&block::<4>(ap, bp), orow, n, nr),
                        3 => store(&block::<3>(ap, bp), orow, n, nr),
                        2 => store(&block::<2>(ap, bp), orow, n, nr),
                        _ => store(&block::<1>(ap, bp), orow, n, nr),
                    }
                }
                ib += mr;
            }
            kb += kc;
        }
        jb += nc;
    }
}

fn round_up(x: usize, to: usize) -> usize {
    (x + to - 1) / to * to
}

/// Packs `b[kb..kb+kc, jb..jb+nc]` as panels of NR columns, each `[kk][c]`, the last zero-padded.
#[allow(clippy::too_many_arguments)]
fn pack_b(b: &[u64], k: usize, n: usize, b_t: bool, kb: usize, kc: usize, jb: usize, nc: usize, dst: &mut [u64]) {
    for (p, panel) in dst.chunks_exact_mut(kc * NR).enumerate() {
        for c in 0..NR {
            let j = jb + p * NR + c;
            let valid = j < jb + nc;
            for kk in 0..kc {
                panel[kk * NR + c] = if !valid {
                    0
                } else if b_t {
                    b[j * k + kb + kk]
                } else {
                    b[(kb + kk) * n + j]
                };
            }
        }
    }
}

/// The register block: `R x NR` sums over the packed depth, held in locals for the whole loop.
#[inline(always)]
fn block<const R: usize>(ap: &[u64], bp: &[u64]) -> [[u64; NR]; R] {
    let mut acc = [[0u64; NR]; R];
    for (av, bv) in ap.chunks_exact(R).zip(bp.chunks_exact(NR)) {
        for r in 0..R {
            for c in 0..NR {
                acc[r][c] = acc[r][c].wrapping_add(av[r].wrapping_mul(bv[c]));
            }
        }
    }
    acc
}

/// Adds a register block into `out` (row stride `n`), keeping only the `nr` real columns.
#[inline(always)]
fn store<const R: usize>(acc: &[[u64; NR]; R], out: &mut [u64], n: usize, nr: usize) {
    for (r, row) in acc.iter().enumerate() {
        for (c, v) in row.iter().enumerate().take(nr) {
            let o = &mut out[r * n + c];
            *o = o.wrapping_add(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn matches_naive_on_block_edges() {
        // Shapes straddle MR, NR, KC and NC so every remainder path runs.
        let shapes = [
            (1, 1, 1),
            (3, 5, 7),
            (5, 257, 3),
            (9, 300, 515),
            (4, 256, 512),
            (7, 513, 1030),
            (0, 3, 2),
            (2, 0, 3),
        ];
        for (s, &(m, k, n)) in shapes.iter().enumerate() {
            let a = fill(m * k, s as u64 + 1);
            let b = fill(k * n, s as u64 + 100);
            let mut naive = vec![0u64; m * n];
            for i in 0..m {
                for j in 0..n {
                    naive[i * n + j] =
                        (0..k).fold(0u64, |acc, t| acc.wrapping_add(a[i * k + t].wrapping_mul(b[t * n + j])));
                }
            }
            let mut out = vec![7u64; m * n];
            matmul_packed(&a, &b, m, k, n, false, &mut out);
            assert_eq!(out, naive, "shape {:?}", (m, k, n));
            let mut bt = vec![0u64; k * n];
            for t in 0..k {
                for j in 0..n {
                    bt[j * k + t] = b[t * n + j];
                }
            }
            let mut out2 = vec![7u64; m * n];
            matmul_packed(&a, &bt, m, k, n, true, &mut out2);
            assert_eq!(out2, naive, "bt shape {:?}", (m, k, n));
        }
    }
}
