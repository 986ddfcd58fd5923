use std::fmt;

/// A kernel failure. `code()` is the stable string the bindings expose as `error.code`.
#[derive(Debug, Clone, PartialEq)]
pub enum KernelError {
    /// Operand shapes do not fit together.
    ShapeMismatch(String),
    /// A buffer's length does not match the shape it is used with.
    BufferLength(String),
    /// A float to encode is NaN or infinite.
    NonFinite { index: usize },
    /// A value does not fit the fixed-point range.
    Overflow { index: usize, value: f64, frac_bits: u32 },
    /// Any other argument out of its accepted range.
    InvalidArgument(String),
}

impl KernelError {
    /// Stable error code shared with the TypeScript side.
    pub fn code(&self) -> &'static str {
        match self {
            KernelError::ShapeMismatch(_) => "ERR_SHAPE_MISMATCH",
            KernelError::BufferLength(_) => "ERR_BUFFER_LENGTH",
            KernelError::NonFinite { .. } => "ERR_NON_FINITE",
            KernelError::Overflow { .. } => "ERR_FIXED_OVERFLOW",
            KernelError::InvalidArgument(_) => "ERR_INVALID_ARGUMENT",
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::ShapeMismatch(m) => write!(f, "shape mismatch: {}", m),
            KernelError::BufferLength(m) => write!(f, "wrong buffer length: {}", m),
            KernelError::NonFinite { index } => {
                write!(f, "cannot encode a non-finite value (NaN or infinity) at index {}", index)
            }
            KernelError::Overflow { index, value, frac_bits } => write!(
                f,
                "value {} at index {} is out of the fixed-point range (|x| < 2^{} with {} fractional bits)",
                value,
                index,
                63 - frac_bits,
                frac_bits
            ),
            KernelError::InvalidArgument(m) => write!(f, "invalid argument: {}", m),
        }
    }
}

impl std::error::Error for KernelError {}

/// Checks that `buf_len == rows * cols` (with overflow-safe multiplication).
pub(crate) fn check_len(what: &str, buf_len: usize, rows: usize, cols: usize) -> Result<(), KernelError> {
    match rows.checked_mul(cols) {
        Some(n) if n == buf_len => Ok(()),
        Some(n) => Err(KernelError::BufferLength(format!(
            "{} has {} elements but its shape {}x{} needs {}",
            what, buf_len, rows, cols, n
        ))),
        None => Err(KernelError::InvalidArgument(format!("{} shape {}x{} overflows", what, rows, cols))),
    }
}

pub(crate) fn check_same(what: &str, a: usize, b: usize) -> Result<(), KernelError> {
    if a == b {
        Ok(())
    } else {
        Err(KernelError::ShapeMismatch(format!("{}: {} elements vs {} elements", what, a, b)))
    }
}

/// Applies `f` elementwise to two equal-length inputs, writing `out` (same length).
pub(crate) fn zip2(what: &str, a: &[u64], b: &[u64], out: &mut [u64], f: impl Fn(u64, u64) -> u64) -> Result<(), KernelError> {
    check_same(what, a.len(), b.len())?;
    check_same("out", a.len(), out.len())?;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = f(*x, *y);
    }
    Ok(())
}
