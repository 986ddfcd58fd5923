//! Node-API bindings for `secp-kernels`: argument conversion and error mapping only, plus a
//! row split of large matmuls across the rayon pool (rows of `a` and `out` are independent).
//!
//! Every function writes into a caller-provided typed array (zero copy); the TypeScript wrapper
//! (bindings/native.ts) allocates missing outputs. Kernel errors become JS errors whose `code` is
//! the kernel's stable code (`ERR_SHAPE_MISMATCH`, ...). Panics are caught and never cross FFI.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::{
    panic_to_error, AsyncTask, BigInt, BigUint64Array, BigUint64ArraySlice, Float64ArraySlice,
    Uint8ArraySlice,
};
use napi::{Env, Error, Task};
use napi_derive::napi;
use rayon::prelude::*;
use secp_kernels::KernelError;

/// Below this many multiply-adds a matmul stays on the calling thread: splitting costs more than
/// it saves (measured on 2 cores: 2^19 MACs take ~70 us alone, ~55 us split).
const PAR_MIN_MACS: u128 = 1 << 19;
/// Row chunks per pool thread, so work stealing can even out uneven chunks.
const CHUNKS_PER_THREAD: usize = 2;
/// Chunks hold a multiple of this many rows: the kernel's register tile is 4 rows of `a`.
const ROW_ALIGN: usize = 4;

/// A JS-facing error: `code` is the kernel's stable string. (`#[napi]` functions must spell out
/// `napi::Result<..>`: the macro does not see through aliases.)
type JsResult<T> = napi::Result<T, &'static str>;

fn to_js(e: KernelError) -> Error<&'static str> {
    Error::new(e.code(), e.to_string())
}

fn invalid(message: String) -> Error<&'static str> {
    Error::new("ERR_INVALID_ARGUMENT", message)
}

/// JS numbers arrive as i64 so that negative or huge values are reported instead of wrapping.
fn dim(name: &str, v: i64) -> JsResult<usize> {
    usize::try_from(v).map_err(|_| {
        invalid(format!(
            "{} must be a non-negative integer, got {}",
            name, v
        ))
    })
}

fn small(name: &str, v: i64) -> JsResult<u32> {
    u32::try_from(v).map_err(|_| {
        invalid(format!(
            "{} must be an integer in 0..=4294967295, got {}",
            name, v
        ))
    })
}

/// Byte address range of a slice, for the aliasing check.
fn span<T>(s: &[T]) -> (usize, usize) {
    let start = s.as_ptr() as usize;
    (start, start + std::mem::size_of_val(s))
}

/// Fails unless `out` shares no memory with any input: the kernels take `&mut` outputs, and an
/// output that aliases an input would be undefined behaviour in Rust (and wrong for matmul).
fn check_disjoint(out: (usize, usize), inputs: &[(usize, usize)]) -> JsResult<()> {
    if out.0 == out.1 {
        return Ok(());
    }
    for &(s, e) in inputs {
        if s < e && s < out.1 && out.0 < e {
            return Err(invalid(
                "out must not share memory with an input".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Borrows the output typed array mutably after checking that it aliases no input.
macro_rules! out_mut {
    ($out:ident, $($input:expr),+) => {{
        check_disjoint(span(&$out), &[$(span(&$input)),+])?;
        // SAFETY: the JS thread is blocked in this call and the buffer was just checked to be
        // disjoint from every input, so this is the only live reference to it (a SharedArrayBuffer
        // written by another worker meanwhile is that caller's race, as with any typed-array API).
        unsafe { $out.as_mut() }
    }};
}

type MatmulKernel = fn(&[u64], &[u64], usize, usize, usize, &mut [u64]) -> Result<(), KernelError>;

/// Runs `kernel` on row chunks of `a`/`out` across the rayon pool when the product is large.
/// Inconsistent lengths are never split: the kernel then runs whole and reports them.
fn split_rows(
    kernel: MatmulKernel,
    a: &[u64],
    b: &[u64],
    m: usize,
    k: usize,
    n: usize,
    out: &mut [u64],
) -> Result<(), KernelError> {
    let threads = rayon::current_num_threads();
    let macs = m as u128 * k as u128 * n as u128;
    let consistent = m.checked_mul(k) == Some(a.len()) && m.checked_mul(n) == Some(out.len());
    if threads < 2 || macs < PAR_MIN_MACS || m < 2 || k == 0 || n == 0 || !consistent {
        return kernel(a, b, m, k, n, out);
    }
    let chunks = threads * CHUNKS_PER_THREAD;
    let rows = m.div_ceil(chunks).next_multiple_of(ROW_ALIGN);
    if rows >= m {
        return kernel(a, b, m, k, n, out);
    }
    out.par_chunks_mut(rows * n)
        .zip(a.par_chunks(rows * k))
        .try_for_each(|(o, a)| kernel(a, b, o.len() / n, k, n, o))
}

/// out (m×n) = a (m×k) · b (k×n) mod 2^64, split across threads when large.
#[napi(catch_unwind)]
pub fn matmul(
    a: BigUint64ArraySlice,
    b: BigUint64ArraySlice,
    m: i64,
    k: i64,
    n: i64,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let (m, k, n) = (dim("m", m)?, dim("k", k)?, dim("n", n)?);
    let out = out_mut!(out, a, b);
    split_rows(secp_kernels::matmul, &a, &b, m, k, n, out).map_err(to_js)
}

/// out (m×n) = a (m×k) · btᵀ with bt (n×k), split across threads when large.
#[napi(js_name = "matmulBT", catch_unwind)]
pub fn matmul_bt(
    a: BigUint64ArraySlice,
    bt: BigUint64ArraySlice,
    m: i64,
    k: i64,
    n: i64,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let (m, k, n) = (dim("m", m)?, dim("k", k)?, dim("n", n)?);
    let out = out_mut!(out, a, bt);
    split_rows(secp_kernels::matmul_bt, &a, &bt, m, k, n, out).map_err(to_js)
}

/// A matmul on libuv's thread pool (which itself fans out to rayon). `a` and `b` stay referenced
/// until it settles; the caller must not write to them meanwhile.
pub struct MatmulTask {
    a: BigUint64Array,
    b: BigUint64Array,
    m: usize,
    k: usize,
    n: usize,
}

impl MatmulTask {
    fn run(&self) -> Result<Vec<u64>, KernelError> {
        let (a, b, m, k, n) = (&self.a[..], &self.b[..], self.m, self.k, self.n);
        // Allocate the output only for consistent inputs; otherwise the kernel reports the lengths.
        let len = if m.checked_mul(k) == Some(a.len()) && k.checked_mul(n) == Some(b.len()) {
            m.checked_mul(n).unwrap_or(0)
        } else {
            0
        };
        let mut out = Vec::new();
        if out.try_reserve_exact(len).is_err() {
            return Err(KernelError::InvalidArgument(format!(
                "cannot allocate a {}x{} output",
                m, n
            )));
        }
        out.resize(len, 0);
        split_rows(secp_kernels::matmul, a, b, m, k, n, &mut out)?;
        Ok(out)
    }
}

impl Task for MatmulTask {
    type Output = Result<Vec<u64>, KernelError>;
    type JsValue = BigUint64Array;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        // libuv calls this through FFI and napi-rs does not catch panics here.
        catch_unwind(AssertUnwindSafe(|| self.run())).map_err(panic_to_error)
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<BigUint64Array> {
        match output {
            // Hands the Vec to JS as an external ArrayBuffer: no copy.
            Ok(out) => Ok(BigUint64Array::new(out)),
            // A task rejects with napi's `Status` codes only; a JS error object built here keeps
            // the kernel's code and is passed through verbatim.
            Err(e) => Err(Error::from(napi::JsError::from(to_js(e)).into_unknown(env))),
        }
    }
}

/// matmul on a worker thread; resolves to a new m×n BigUint64Array.
#[napi(catch_unwind)]
pub fn matmul_async(
    a: BigUint64Array,
    b: BigUint64Array,
    m: i64,
    k: i64,
    n: i64,
) -> napi::Result<AsyncTask<MatmulTask>, &'static str> {
    let (m, k, n) = (dim("m", m)?, dim("k", k)?, dim("n", n)?);
    Ok(AsyncTask::new(MatmulTask { a, b, m, k, n }))
}

#[napi(catch_unwind)]
pub fn add(
    a: BigUint64ArraySlice,
    b: BigUint64ArraySlice,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    secp_kernels::add(&a, &b, out_mut!(out, a, b)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn sub(
    a: BigUint64ArraySlice,
    b: BigUint64ArraySlice,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    secp_kernels::sub(&a, &b, out_mut!(out, a, b)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn xor(a: BigUint64ArraySlice, b: BigUint64ArraySlice, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    secp_kernels::xor(&a, &b, out_mut!(out, a, b)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn and(a: BigUint64ArraySlice, b: BigUint64ArraySlice, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    secp_kernels::and(&a, &b, out_mut!(out, a, b)).map_err(to_js)
}

/// (a >> s) ^ b.
#[napi(js_name = "shrXor", catch_unwind)]
pub fn shr_xor(
    a: BigUint64ArraySlice,
    s: u32,
    b: BigUint64ArraySlice,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    secp_kernels::shr_xor(&a, s, &b, out_mut!(out, a, b)).map_err(to_js)
}

/// Bit planes of the low `bits` bits of `x` (see the kernel's doc).
#[napi(js_name = "toBitPlanes", catch_unwind)]
pub fn to_bit_planes(x: BigUint64ArraySlice, bits: i64, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    let bits = small("bits", bits)?;
    secp_kernels::to_bit_planes(&x, bits, out_mut!(out, x)).map_err(to_js)
}

/// Words back from bit planes; `out.length` is the element count.
#[napi(js_name = "fromBitPlanes", catch_unwind)]
pub fn from_bit_planes(planes: BigUint64ArraySlice, bits: i64, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    let bits = small("bits", bits)?;
    secp_kernels::from_bit_planes(&planes, bits, out_mut!(out, planes)).map_err(to_js)
}

/// Last step of dealer-assisted truncation (see the kernel's doc).
#[napi(js_name = "truncFinish", catch_unwind)]
pub fn trunc_finish(
    c: BigUint64ArraySlice,
    r_tr: BigUint64ArraySlice,
    r_msb: BigUint64ArraySlice,
    bits: u32,
    party0: bool,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    secp_kernels::trunc_finish(&c, &r_tr, &r_msb, bits, party0, out_mut!(out, c, r_tr, r_msb)).map_err(to_js)
}

/// One Beaver AND on XOR shares.
#[napi(js_name = "beaverAnd", catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn beaver_and(
    c: BigUint64ArraySlice,
    a: BigUint64ArraySlice,
    b: BigUint64ArraySlice,
    d: BigUint64ArraySlice,
    e: BigUint64ArraySlice,
    party0: bool,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    secp_kernels::beaver_and(&c, &a, &b, &d, &e, party0, out_mut!(out, c, a, b, d, e)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn mul(
    a: BigUint64ArraySlice,
    b: BigUint64ArraySlice,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    secp_kernels::mul(&a, &b, out_mut!(out, a, b)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn neg(a: BigUint64ArraySlice, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    secp_kernels::neg(&a, out_mut!(out, a)).map_err(to_js)
}

/// s·a mod 2^64; `s` is taken mod 2^64 (negative bigints wrap).
#[napi(catch_unwind)]
pub fn scalar_mul(
    a: BigUint64ArraySlice,
    s: BigInt,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let (negative, low, _) = s.get_u64();
    let s = if negative { low.wrapping_neg() } else { low };
    secp_kernels::scalar_mul(&a, s, out_mut!(out, a)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn sum_axis(
    a: BigUint64ArraySlice,
    rows: i64,
    cols: i64,
    axis: i64,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let (rows, cols, axis) = (dim("rows", rows)?, dim("cols", cols)?, small("axis", axis)?);
    secp_kernels::sum_axis(&a, rows, cols, axis, out_mut!(out, a)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn encode(
    x: Float64ArraySlice,
    frac_bits: i64,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let frac_bits = small("fracBits", frac_bits)?;
    secp_kernels::encode(&x, frac_bits, out_mut!(out, x)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn decode(
    x: BigUint64ArraySlice,
    frac_bits: i64,
    mut out: Float64ArraySlice,
) -> napi::Result<(), &'static str> {
    let frac_bits = small("fracBits", frac_bits)?;
    secp_kernels::decode(&x, frac_bits, out_mut!(out, x)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn prg_fill(
    key: Uint8ArraySlice,
    nonce: Uint8ArraySlice,
    counter: i64,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let counter = small("counter", counter)?;
    secp_kernels::prg_fill(&key, &nonce, counter, out_mut!(out, key, nonce)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn cos_sin_turns(
    angle: BigUint64ArraySlice,
    frac_bits: i64,
    mut cos_out: BigUint64ArraySlice,
    mut sin_out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let frac_bits = small("fracBits", frac_bits)?;
    check_disjoint(span(&cos_out), &[span(&sin_out)])?;
    let cos_out = out_mut!(cos_out, angle);
    let sin_out = out_mut!(sin_out, angle);
    secp_kernels::cos_sin_turns(&angle, frac_bits, cos_out, sin_out).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn angle_scale(
    w: Float64ArraySlice,
    frac_bits: i64,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let frac_bits = small("fracBits", frac_bits)?;
    secp_kernels::angle_scale(&w, frac_bits, out_mut!(out, w)).map_err(to_js)
}

/// Threads in the pool that large matmuls are split across (RAYON_NUM_THREADS overrides it).
#[napi]
pub fn thread_count() -> u32 {
    rayon::current_num_threads() as u32
}
