//! The plaintext float64 dense layer `out = x · Wᵀ + b` of ts/model/plain.ts (`linear`): x is rows × in
//! (f64), W is out × in (f32, as torch stores it), b has `out` entries (f32). Every output is the sum
//! `((0 + x_0·w_0) + x_1·w_1) + …` over the input index in order, then `+ b`: a separate IEEE multiply and add
//! per term, never a fused multiply-add (Rust does not contract), so it equals the JS loop bit for bit. The
//! vectorisation runs across output columns (each SIMD lane is one output's own sequential sum); rows of `x`
//! and `out` are independent, so callers may split them across threads.

use crate::error::{check_len, KernelError};

/// Output columns per block: one packed panel of W holds `in × NB` values.
const NB: usize = 8;
/// Rows of `x` per register tile, so each loaded panel row is used four times.
const MR: usize = 4;

/// `out (rows × b.len()) = x (rows × in_dim) · wᵀ + b`, with w of `b.len() × in_dim`.
pub fn linear_f64(x: &[f64], w: &[f32], b: &[f32], rows: usize, in_dim: usize, out: &mut [f64]) -> Result<(), KernelError> {
    let out_dim = b.len();
    check_len("x", x.len(), rows, in_dim)?;
    check_len("weight", w.len(), out_dim, in_dim)?;
    check_len("out", out.len(), rows, out_dim)?;
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { linear_avx2(x, w, b, rows, in_dim, out) };
            return Ok(());
        }
    }
    linear_blocks(x, w, b, rows, in_dim, out);
    Ok(())
}

/// The same loops compiled with AVX2 (not FMA: products and sums stay separate roundings).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn linear_avx2(x: &[f64], w: &[f32], b: &[f32], rows: usize, in_dim: usize, out: &mut [f64]) {
    linear_blocks(x, w, b, rows, in_dim, out)
}

#[inline(always)]
fn linear_blocks(x: &[f64], w: &[f32], b: &[f32], rows: usize, in_dim: usize, out: &mut [f64]) {
    let out_dim = b.len();
    if rows == 0 || out_dim == 0 {
        return;
    }
    // pack[i·NB + j] = w[(ob + j)·in + i] as f64; lanes past the last column are 0 and never stored.
    let mut pack = vec![0f64; in_dim * NB];
    let mut ob = 0;
    while ob < out_dim {
        let nb = if out_dim - ob < NB { out_dim - ob } else { NB };
        for j in 0..NB {
            if j < nb {
                let wrow = &w[(ob + j) * in_dim..(ob + j + 1) * in_dim];
                for (i, &v) in wrow.iter().enumerate() {
                    pack[i * NB + j] = v as f64;
                }
            } else {
                for i in 0..in_dim {
                    pack[i * NB + j] = 0.0;
                }
            }
        }
        let mut bias = [0f64; NB];
        for j in 0..nb {
            bias[j] = b[ob + j] as f64;
        }
        let mut r = 0;
        while r + MR <= rows {
            let x0 = &x[r * in_dim..(r + 1) * in_dim];
            let x1 = &x[(r + 1) * in_dim..(r + 2) * in_dim];
            let x2 = &x[(r + 2) * in_dim..(r + 3) * in_dim];
            let x3 = &x[(r + 3) * in_dim..(r + 4) * in_dim];
            let mut acc = [[0f64; NB]; MR];
            for ((((p, &a0), &a1), &a2), &a3) in pack.chunks_exact(NB).zip(x0).zip(x1).zip(x2).zip(x3) {
                for j in 0..NB {
                    let v = p[j];
                    acc[0][j] += a0 * v;
                    acc[1][j] += a1 * v;
                    acc[2][j] += a2 * v;
                    acc[3][j] += a3 * v;
                }
            }
            for (t, row) in acc.iter().enumerate() {
                let o = &mut out[(r + t) * out_dim + ob..(r + t) * out_dim + ob + nb];
                for j in 0..nb {
                    o[j] = row[j] + bias[j];
                }
            }
            r += MR;
        }
        while r < rows {
            let xr = &x[r * in_dim..(r + 1) * in_dim];
            let mut acc = [0f64; NB];
            for (p, &a) in pack.chunks_exact(NB).zip(xr) {
                for j in 0..NB {
                    acc[j] += a * p[j];
                }
            }
            let o = &mut out[r * out_dim + ob..r * out_dim + ob + nb];
            for j in 0..nb {
                o[j] = acc[j] + bias[j];
            }
            r += 1;
        }
        ob += NB;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JS reference: one output at a time, sum from 0 in index order, then the bias.
    fn naive(x: &[f64], w: &[f32], b: &[f32], rows: usize, in_dim: usize) -> Vec<f64> {
        let out_dim = b.len();
        let mut y = vec![0f64; rows * out_dim];
        for r in 0..rows {
            for o in 0..out_dim {
                let mut s = 0f64;
                for i in 0..in_dim {
                    s += x[r * in_dim + i] * w[o * in_dim + i] as f64;
                }
                y[r * out_dim + o] = s + b[o] as f64;
            }
        }
        y
    }

    fn fill(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 7.0
            })
            .collect()
    }

    #[test]
    fn matches_the_sequential_sum_bit_for_bit() {
        for &(rows, in_dim, out_dim) in &[(1, 1, 1), (3, 5, 7), (4, 8, 8), (5, 17, 9), (9, 33, 15), (0, 3, 2), (2, 0, 3)] {
            let x = fill(rows * in_dim, 1);
            let w: Vec<f32> = fill(out_dim * in_dim, 2).iter().map(|&v| v as f32).collect();
            let b: Vec<f32> = fill(out_dim, 3).iter().map(|&v| v as f32).collect();
            let mut out = vec![f64::NAN; rows * out_dim];
            linear_f64(&x, &w, &b, rows, in_dim, &mut out).unwrap();
            let want = naive(&x, &w, &b, rows, in_dim);
            let same = out.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "shape {}x{}x{}", rows, in_dim, out_dim);
        }
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut out = vec![0f64; 4];
        assert_eq!(linear_f64(&[0.0; 5], &[0.0; 6], &[0.0; 2], 2, 3, &mut out).unwrap_err().code(), "ERR_BUFFER_LENGTH");
        assert_eq!(linear_f64(&[0.0; 6], &[0.0; 5], &[0.0; 2], 2, 3, &mut out).unwrap_err().code(), "ERR_BUFFER_LENGTH");
        assert_eq!(linear_f64(&[0.0; 6], &[0.0; 6], &[0.0; 2], 2, 3, &mut out[..3]).unwrap_err().code(), "ERR_BUFFER_LENGTH");
    }
}
