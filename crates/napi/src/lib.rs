//! Node-API bindings for `secp-kernels`: argument conversion and error mapping only, plus a
//! row split of large matmuls across the rayon pool (rows of `a` and `out` are independent) and a
//! chunk split of long elementwise kernels and of the PRG (every element, and every ChaCha block, is
//! independent; the chunks run the same kernel, so results do not depend on the split).
//!
//! Every function writes into a caller-provided typed array (zero copy); the TypeScript wrapper
//! (bindings/native.ts) allocates missing outputs. Kernel errors become JS errors whose `code` is
//! the kernel's stable code (`ERR_SHAPE_MISMATCH`, ...). Panics are caught and never cross FFI.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::{
    panic_to_error, AsyncTask, BigInt, BigUint64Array, BigUint64ArraySlice, Float32ArraySlice,
    Float64ArraySlice,
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

/// A JS bigint taken mod 2^64 (negative values wrap).
fn wrap_u64(s: &BigInt) -> u64 {
    let (negative, low, _) = s.get_u64();
    if negative {
        low.wrapping_neg()
    } else {
        low
    }
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

/// Elementwise kernels and the PRG split across the pool from this many words on (below it a split costs
/// more than it saves on 2 cores).
const PAR_MIN_WORDS: usize = 1 << 16;
/// Words per chunk of such a split: a multiple of 8 (whole ChaCha blocks).
const PAR_CHUNK: usize = 1 << 15;

/// Runs `kernel(start, out_chunk)` on chunks of `out` across the pool when `out` is long and `whole` is
/// false, else once on all of `out`. Callers pass `whole = true` for inconsistent arguments, so that the
/// kernel runs whole and reports them exactly as unsplit.
fn par_chunks<F>(out: &mut [u64], whole: bool, kernel: F) -> Result<(), KernelError>
where
    F: Fn(usize, &mut [u64]) -> Result<(), KernelError> + Sync,
{
    if whole || out.len() < PAR_MIN_WORDS || rayon::current_num_threads() < 2 {
        return kernel(0, out);
    }
    out.par_chunks_mut(PAR_CHUNK).enumerate().try_for_each(|(i, o)| kernel(i * PAR_CHUNK, o))
}

/// `x[start..start + len]`, the input of one chunk; all of `x` for a whole call (lengths to be reported).
fn part(x: &[u64], start: usize, len: usize, whole: bool) -> &[u64] {
    if whole {
        x
    } else {
        &x[start..start + len]
    }
}

/// True unless every input has the output's length (then the kernel must run whole to report it).
fn uneven(out: usize, inputs: &[usize]) -> bool {
    inputs.iter().any(|&l| l != out)
}

type Zip2 = fn(&[u64], &[u64], &mut [u64]) -> Result<(), KernelError>;

/// A two-input elementwise kernel, split across the pool when long.
fn zip2_par(kernel: Zip2, a: &[u64], b: &[u64], out: &mut [u64]) -> Result<(), KernelError> {
    let whole = uneven(out.len(), &[a.len(), b.len()]);
    par_chunks(out, whole, |s, o| kernel(part(a, s, o.len(), whole), part(b, s, o.len(), whole), o))
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
    zip2_par(secp_kernels::add, &a, &b, out_mut!(out, a, b)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn sub(
    a: BigUint64ArraySlice,
    b: BigUint64ArraySlice,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    zip2_par(secp_kernels::sub, &a, &b, out_mut!(out, a, b)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn xor(a: BigUint64ArraySlice, b: BigUint64ArraySlice, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    zip2_par(secp_kernels::xor, &a, &b, out_mut!(out, a, b)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn and(a: BigUint64ArraySlice, b: BigUint64ArraySlice, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    zip2_par(secp_kernels::and, &a, &b, out_mut!(out, a, b)).map_err(to_js)
}

/// (a >> s) ^ b.
#[napi(js_name = "shrXor", catch_unwind)]
pub fn shr_xor(
    a: BigUint64ArraySlice,
    s: u32,
    b: BigUint64ArraySlice,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let out = out_mut!(out, a, b);
    let (a, b) = (&*a, &*b);
    let whole = uneven(out.len(), &[a.len(), b.len()]);
    par_chunks(out, whole, |st, o| secp_kernels::shr_xor(part(&a, st, o.len(), whole), s, part(&b, st, o.len(), whole), o)).map_err(to_js)
}

/// Bit planes of the low `bits` bits of `x` (see the kernel's doc). Long inputs are split into chunks of
/// `PAR_CHUNK` words (whole 64-word matrices): each chunk's planes are computed apart and copied into place.
#[napi(js_name = "toBitPlanes", catch_unwind)]
pub fn to_bit_planes(x: BigUint64ArraySlice, bits: i64, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    let bits = small("bits", bits)?;
    let out = out_mut!(out, x);
    let w = x.len().div_ceil(64);
    if x.len() < PAR_MIN_WORDS || rayon::current_num_threads() < 2 || bits == 0 || bits > 64 || out.len() != bits as usize * w {
        return secp_kernels::to_bit_planes(&x, bits, out).map_err(to_js);
    }
    let cw = PAR_CHUNK / 64;
    let parts: Vec<Vec<u64>> = x
        .par_chunks(PAR_CHUNK)
        .map(|c| {
            let mut p = vec![0u64; bits as usize * c.len().div_ceil(64)];
            secp_kernels::to_bit_planes(c, bits, &mut p).map(|_| p)
        })
        .collect::<Result<_, _>>()
        .map_err(to_js)?;
    for (i, p) in parts.iter().enumerate() {
        let pw = p.len() / bits as usize;
        for j in 0..bits as usize {
            out[j * w + i * cw..j * w + i * cw + pw].copy_from_slice(&p[j * pw..(j + 1) * pw]);
        }
    }
    Ok(())
}

/// Words back from bit planes; `out.length` is the element count. Long outputs are split into chunks of
/// `PAR_CHUNK` words, each gathering its part of every plane first.
#[napi(js_name = "fromBitPlanes", catch_unwind)]
pub fn from_bit_planes(planes: BigUint64ArraySlice, bits: i64, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    let bits = small("bits", bits)?;
    let out = out_mut!(out, planes);
    let w = out.len().div_ceil(64);
    if out.len() < PAR_MIN_WORDS || rayon::current_num_threads() < 2 || bits == 0 || bits > 64 || planes.len() != bits as usize * w {
        return secp_kernels::from_bit_planes(&planes, bits, out).map_err(to_js);
    }
    let cw = PAR_CHUNK / 64;
    let planes = &*planes;
    out.par_chunks_mut(PAR_CHUNK)
        .enumerate()
        .try_for_each(|(i, o)| {
            let pw = o.len().div_ceil(64);
            let mut p = vec![0u64; bits as usize * pw];
            for j in 0..bits as usize {
                p[j * pw..(j + 1) * pw].copy_from_slice(&planes[j * w + i * cw..j * w + i * cw + pw]);
            }
            secp_kernels::from_bit_planes(&p, bits, o)
        })
        .map_err(to_js)
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
    let out = out_mut!(out, c, r_tr, r_msb);
    let (c, r_tr, r_msb) = (&*c, &*r_tr, &*r_msb);
    let whole = uneven(out.len(), &[c.len(), r_tr.len(), r_msb.len()]);
    par_chunks(out, whole, |s, o| {
        let n = o.len();
        secp_kernels::trunc_finish(part(&c, s, n, whole), part(&r_tr, s, n, whole), part(&r_msb, s, n, whole), bits, party0, o)
    })
    .map_err(to_js)
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
    let out = out_mut!(out, c, a, b, d, e);
    let (c, a, b, d, e) = (&*c, &*a, &*b, &*d, &*e);
    let whole = uneven(out.len(), &[c.len(), a.len(), b.len(), d.len(), e.len()]);
    par_chunks(out, whole, |s, o| {
        let n = o.len();
        secp_kernels::beaver_and(part(&c, s, n, whole), part(&a, s, n, whole), part(&b, s, n, whole), part(&d, s, n, whole), part(&e, s, n, whole), party0, o)
    })
    .map_err(to_js)
}

/// One Beaver product on additive shares: c + e·b + f·a (+ e·f on party 0), one pass.
#[napi(js_name = "beaverMul", catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn beaver_mul(
    c: BigUint64ArraySlice,
    a: BigUint64ArraySlice,
    b: BigUint64ArraySlice,
    e: BigUint64ArraySlice,
    f: BigUint64ArraySlice,
    party0: bool,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let out = out_mut!(out, c, a, b, e, f);
    let (c, a, b, e, f) = (&*c, &*a, &*b, &*e, &*f);
    let whole = uneven(out.len(), &[c.len(), a.len(), b.len(), e.len(), f.len()]);
    par_chunks(out, whole, |s, o| {
        let n = o.len();
        secp_kernels::beaver_mul(part(&c, s, n, whole), part(&a, s, n, whole), part(&b, s, n, whole), part(&e, s, n, whole), part(&f, s, n, whole), party0, o)
    })
    .map_err(to_js)
}

/// a + s for one scalar s (taken mod 2^64).
#[napi(js_name = "addScalar", catch_unwind)]
pub fn add_scalar(a: BigUint64ArraySlice, s: BigInt, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    let s = wrap_u64(&s);
    let out = out_mut!(out, a);
    let a: &[u64] = &a;
    let whole = uneven(out.len(), &[a.len()]);
    par_chunks(out, whole, |st, o| secp_kernels::add_scalar(part(&a, st, o.len(), whole), s, o)).map_err(to_js)
}

/// The dealer's (r mod 2^63) >> bits and r >> 63 for truncation.
#[napi(js_name = "truncDeal", catch_unwind)]
pub fn trunc_deal(r: BigUint64ArraySlice, bits: u32, mut tr: BigUint64ArraySlice, mut msb: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    check_disjoint(span(&tr), &[span(&msb)])?;
    let tr = out_mut!(tr, r);
    let msb = out_mut!(msb, r);
    secp_kernels::trunc_deal(&r, bits, tr, msb).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn mul(
    a: BigUint64ArraySlice,
    b: BigUint64ArraySlice,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    zip2_par(secp_kernels::mul, &a, &b, out_mut!(out, a, b)).map_err(to_js)
}

#[napi(catch_unwind)]
pub fn neg(a: BigUint64ArraySlice, mut out: BigUint64ArraySlice) -> napi::Result<(), &'static str> {
    let out = out_mut!(out, a);
    let a: &[u64] = &a;
    let whole = uneven(out.len(), &[a.len()]);
    par_chunks(out, whole, |s, o| secp_kernels::neg(part(&a, s, o.len(), whole), o)).map_err(to_js)
}

/// s·a mod 2^64; `s` is taken mod 2^64 (negative bigints wrap).
#[napi(catch_unwind)]
pub fn scalar_mul(
    a: BigUint64ArraySlice,
    s: BigInt,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let s = wrap_u64(&s);
    let out = out_mut!(out, a);
    let a: &[u64] = &a;
    let whole = uneven(out.len(), &[a.len()]);
    par_chunks(out, whole, |st, o| secp_kernels::scalar_mul(part(&a, st, o.len(), whole), s, o)).map_err(to_js)
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

/// Rows of `x`/`out` per thread chunk of `linear_f64` are a multiple of this (its register tile).
const LINEAR_ROW_ALIGN: usize = 4;

/// out (rows × b.len()) = x (rows × inDim) · wᵀ + b in float64 (w, b float32), rows split across the pool when
/// large; every output is the kernel's sequential sum whatever the split.
#[napi(js_name = "linearF64", catch_unwind)]
pub fn linear_f64(
    x: Float64ArraySlice,
    w: Float32ArraySlice,
    b: Float32ArraySlice,
    rows: i64,
    in_dim: i64,
    mut out: Float64ArraySlice,
) -> napi::Result<(), &'static str> {
    let (rows, in_dim) = (dim("rows", rows)?, dim("inDim", in_dim)?);
    let out_dim = b.len();
    let out = out_mut!(out, x, w, b);
    let (x, w, b): (&[f64], &[f32], &[f32]) = (&x, &w, &b);
    let threads = rayon::current_num_threads();
    let macs = rows as u128 * in_dim as u128 * out_dim as u128;
    let consistent = rows.checked_mul(in_dim) == Some(x.len()) && rows.checked_mul(out_dim) == Some(out.len());
    if threads < 2 || macs < PAR_MIN_MACS || rows < 2 * LINEAR_ROW_ALIGN || in_dim == 0 || out_dim == 0 || !consistent {
        return secp_kernels::linear_f64(x, w, b, rows, in_dim, out).map_err(to_js);
    }
    let chunk = rows.div_ceil(threads).next_multiple_of(LINEAR_ROW_ALIGN);
    out.par_chunks_mut(chunk * out_dim)
        .zip(x.par_chunks(chunk * in_dim))
        .try_for_each(|(o, xs)| secp_kernels::linear_f64(xs, w, b, o.len() / out_dim, in_dim, o))
        .map_err(to_js)
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
    let out = out_mut!(out, key, nonce);
    let (key, nonce): (&[u8], &[u8]) = (&key, &nonce);
    // Bad keys, nonces and counters are reported by one whole call; chunk i starts at block counter + i·PAR_CHUNK/8.
    let blocks = (out.len() as u64 + 7) / 8;
    let whole = key.len() != secp_kernels::KEY_BYTES || nonce.len() != secp_kernels::NONCE_BYTES || counter as u64 + blocks > 1 << 32;
    par_chunks(out, whole, |s, o| secp_kernels::prg_fill(&key, &nonce, counter + (s / 8) as u32, o)).map_err(to_js)
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
    let angle: &[u64] = &angle;
    let n = angle.len();
    if n < PAR_MIN_WORDS || cos_out.len() != n || sin_out.len() != n || rayon::current_num_threads() < 2 {
        return secp_kernels::cos_sin_turns(&angle, frac_bits, cos_out, sin_out).map_err(to_js);
    }
    cos_out
        .par_chunks_mut(PAR_CHUNK)
        .zip(sin_out.par_chunks_mut(PAR_CHUNK))
        .zip(angle.par_chunks(PAR_CHUNK))
        .try_for_each(|((c, s), a)| secp_kernels::cos_sin_turns(a, frac_bits, c, s))
        .map_err(to_js)
}

/// The servers' cosine series of v2 GELU (secp_kernels::cos_sin_series): `coef` holds 2·terms rows of n.
#[napi(js_name = "cosSinSeries", catch_unwind)]
pub fn cos_sin_series(
    d: BigUint64ArraySlice,
    coef: BigUint64ArraySlice,
    terms: i64,
    frac_bits: i64,
    acc: BigUint64ArraySlice,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let terms = small("terms", terms)? as usize;
    let frac_bits = small("fracBits", frac_bits)?;
    let out = out_mut!(out, d, coef, acc);
    let (d, coef, acc) = (&*d, &*coef, &*acc);
    let n = d.len();
    // The TypeScript wrapper checks that coef is exactly 2·terms rows of n; a bad shape here is one whole call.
    let whole = uneven(out.len(), &[n, acc.len()]) || terms == 0 || terms > secp_kernels::SERIES_TERMS_MAX || coef.len() < 2 * terms * n;
    par_chunks(out, whole, |s, o| {
        let len = o.len();
        // Each chunk reads its columns of every row of coef: the rows keep the whole matrix's stride n.
        secp_kernels::cos_sin_series(part(d, s, len, whole), &coef[s..], n, terms, frac_bits, part(acc, s, len, whole), o)
    })
    .map_err(to_js)
}

/// The dealer's terms of a cosine series (secp_kernels::cos_sin_terms), split across the pool by term.
#[napi(js_name = "cosSinTerms", catch_unwind)]
pub fn cos_sin_terms(
    t: BigUint64ArraySlice,
    coefs: BigUint64ArraySlice,
    frac_bits: i64,
    shift: i64,
    mut out: BigUint64ArraySlice,
) -> napi::Result<(), &'static str> {
    let frac_bits = small("fracBits", frac_bits)?;
    let shift = small("shift", shift)?;
    let out = out_mut!(out, t, coefs);
    let (t, coefs) = (&*t, &*coefs);
    let n = t.len();
    let whole = n * 2 * coefs.len() < PAR_MIN_WORDS || coefs.is_empty() || out.len() != 2 * coefs.len() * n || rayon::current_num_threads() < 2;
    if whole {
        return secp_kernels::cos_sin_terms(t, coefs, 1, frac_bits, shift, out).map_err(to_js);
    }
    out.par_chunks_mut(2 * n)
        .enumerate()
        .try_for_each(|(m, o)| secp_kernels::cos_sin_terms(t, &coefs[m..m + 1], m as u64 + 1, frac_bits, shift, o))
        .map_err(to_js)
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

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
}

/// Makes glibc's malloc serve allocations below `bytes` from its heap (M_MMAP_THRESHOLD) and never give freed
/// heap memory back to the kernel (M_TRIM_THRESHOLD −1). Node allocates every typed array with calloc; by default
/// each large one is a fresh mmap whose pages fault in on first touch (about 27 ms for a 32 MB array on the 2-core
/// VM, against 5 ms to write a reused one). A finite trim threshold (1 GiB before) let a layer's freed gigabyte be
/// trimmed after each GC and faulted in again by the next layer: 300k page faults a BERT-base layer at batch 8.
/// Returns whether both settings took (false off glibc).
#[napi]
pub fn retain_freed_memory(bytes: u32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_TRIM_THRESHOLD: std::os::raw::c_int = -1;
        const M_MMAP_THRESHOLD: std::os::raw::c_int = -3;
        let v = bytes.min(i32::MAX as u32) as std::os::raw::c_int;
        // SAFETY: mallopt only sets two of glibc's malloc parameters; it is safe to call at any time.
        unsafe { mallopt(M_MMAP_THRESHOLD, v) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = bytes;
        false
    }
}

/// Threads in the pool that large matmuls are split across (RAYON_NUM_THREADS overrides it).
#[napi]
pub fn thread_count() -> u32 {
    rayon::current_num_threads() as u32
}
