//! Elementwise wrapping arithmetic and axis sums over Z_2^64.

use crate::error::{check_len, check_same, zip2, KernelError};

/// `out = a + b` (mod 2^64).
pub fn add(a: &[u64], b: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    zip2("add", a, b, out, u64::wrapping_add)
}

/// `out = a - b` (mod 2^64).
pub fn sub(a: &[u64], b: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    zip2("sub", a, b, out, u64::wrapping_sub)
}

/// `out = a * b` elementwise (mod 2^64), no truncation.
pub fn mul(a: &[u64], b: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    zip2("mul", a, b, out, u64::wrapping_mul)
}

/// `out = -a` (mod 2^64).
pub fn neg(a: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    check_same("neg", a.len(), out.len())?;
    for (o, x) in out.iter_mut().zip(a) {
        *o = x.wrapping_neg();
    }
    Ok(())
}

/// `out = s * a` (mod 2^64), no truncation.
pub fn scalar_mul(a: &[u64], s: u64, out: &mut [u64]) -> Result<(), KernelError> {
    check_same("scalar_mul", a.len(), out.len())?;
    for (o, x) in out.iter_mut().zip(a) {
        *o = x.wrapping_mul(s);
    }
    Ok(())
}

/// Sums a `rows x cols` matrix over `axis` 0 (out has `cols` elements) or 1 (out has `rows`).
pub fn sum_axis(a: &[u64], rows: usize, cols: usize, axis: u32, out: &mut [u64]) -> Result<(), KernelError> {
    check_len("a", a.len(), rows, cols)?;
    match axis {
        0 => {
            check_same("sum over axis 0: out vs cols", out.len(), cols)?;
            for o in out.iter_mut() {
                *o = 0;
            }
            for r in 0..rows {
                for (o, x) in out.iter_mut().zip(&a[r * cols..(r + 1) * cols]) {
                    *o = o.wrapping_add(*x);
                }
            }
        }
        1 => {
            check_same("sum over axis 1: out vs rows", out.len(), rows)?;
            for (r, o) in out.iter_mut().enumerate() {
                *o = a[r * cols..(r + 1) * cols].iter().fold(0u64, |s, x| s.wrapping_add(*x));
            }
        }
        _ => return Err(KernelError::InvalidArgument(format!("axis must be 0 or 1, got {}", axis))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps() {
        let mut o = [0u64; 2];
        add(&[u64::MAX, 1], &[1, 2], &mut o).unwrap();
        assert_eq!(o, [0, 3]);
        sub(&[0, 5], &[1, 2], &mut o).unwrap();
        assert_eq!(o, [u64::MAX, 3]);
        mul(&[1 << 63, 3], &[2, 5], &mut o).unwrap();
        assert_eq!(o, [0, 15]);
        neg(&[1, 0], &mut o).unwrap();
        assert_eq!(o, [u64::MAX, 0]);
        scalar_mul(&[u64::MAX, 2], 2, &mut o).unwrap();
        assert_eq!(o, [u64::MAX - 1, 4]);
        assert_eq!(add(&[1], &[1, 2], &mut o).unwrap_err().code(), "ERR_SHAPE_MISMATCH");
    }

    #[test]
    fn sums_axes() {
        let a = [1u64, 2, 3, 4, 5, u64::MAX];
        let mut c = [0u64; 3];
        sum_axis(&a, 2, 3, 0, &mut c).unwrap();
        assert_eq!(c, [5, 7, 2]);
        let mut r = [0u64; 2];
        sum_axis(&a, 2, 3, 1, &mut r).unwrap();
        assert_eq!(r, [6, 8]);
        assert_eq!(sum_axis(&a, 2, 3, 2, &mut r).unwrap_err().code(), "ERR_INVALID_ARGUMENT");
    }
}
