//! wasm32 bindings for `secp-kernels`: plain `extern "C"` exports over linear memory, no wasm-bindgen
//! (why: see the top of bindings/wasm.ts).
//!
//! Protocol (bindings/wasm.ts is the only caller): the host `alloc`s a buffer per argument, copies
//! inputs in, calls a kernel with (pointer, element count) pairs, copies outputs out and `dealloc`s.
//! Every kernel returns `OK` or `FAILED`; after `FAILED`, `last_error_ptr/len` hold UTF-8
//! "CODE: message" (code from `KernelError::code`, message from its `Display`).
//! Nothing here panics on caller input: the kernels check every length before touching memory.

#![allow(clippy::missing_safety_doc)]

use secp_kernels as k;
use secp_kernels::KernelError;
use std::alloc::Layout;
use std::cell::UnsafeCell;

/// Status returned by every kernel export.
const OK: i32 = 0;
/// Status returned when a kernel rejected its arguments; see `last_error_ptr`.
const FAILED: i32 = 1;
/// Alignment of every buffer handed out by `alloc` (enough for u64 and f64).
const ALIGN: usize = 8;

/// The last error's "CODE: message" text, kept until the next failure.
struct ErrorSlot(UnsafeCell<Vec<u8>>);
// SAFETY: the module is built without threads (no shared memory), so one call runs at a time and
// no access to the slot can overlap another.
unsafe impl Sync for ErrorSlot {}
static LAST_ERROR: ErrorSlot = ErrorSlot(UnsafeCell::new(Vec::new()));

/// Allocates `bytes` bytes aligned to 8; returns 0 when memory cannot grow. Zero bytes gives a
/// dangling aligned pointer that must not be read, only passed back with length 0.
#[no_mangle]
pub extern "C" fn alloc(bytes: usize) -> *mut u8 {
    if bytes == 0 {
        return ALIGN as *mut u8;
    }
    match Layout::from_size_align(bytes, ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { std::alloc::alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// Frees a buffer from `alloc(bytes)`.
///
/// # Safety
/// `ptr` must come from `alloc(bytes)` with the same `bytes`, and not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, bytes: usize) {
    if bytes == 0 || ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(bytes, ALIGN) {
        // SAFETY: the caller passes back a pointer `alloc` returned for this same size.
        std::alloc::dealloc(ptr, layout)
    }
}

/// Address of the last error's "CODE: message" text.
#[no_mangle]
pub extern "C" fn last_error_ptr() -> *const u8 {
    // SAFETY: single-threaded module; see ErrorSlot.
    unsafe { (*LAST_ERROR.0.get()).as_ptr() }
}

/// Length in bytes of the last error's text.
#[no_mangle]
pub extern "C" fn last_error_len() -> usize {
    // SAFETY: single-threaded module; see ErrorSlot.
    unsafe { (*LAST_ERROR.0.get()).len() }
}

fn status(r: Result<(), KernelError>) -> i32 {
    match r {
        Ok(()) => OK,
        Err(e) => {
            let text = format!("{}: {}", e.code(), e);
            // SAFETY: single-threaded module; see ErrorSlot.
            unsafe { *LAST_ERROR.0.get() = text.into_bytes() };
            FAILED
        }
    }
}

/// # Safety
/// `ptr` must come from `alloc(len * size_of::<T>())` (or be the dangling pointer for `len == 0`).
unsafe fn view<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    std::slice::from_raw_parts(ptr, len)
}

/// # Safety
/// As `view`, and the buffer must not overlap any other argument of the same call.
unsafe fn view_mut<'a, T>(ptr: *mut T, len: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(ptr, len)
}

// The kernel exports below share one contract, stated here instead of on each (hence the
// crate-level allow of clippy::missing_safety_doc):
// # Safety
// Every (pointer, length) pair must be a distinct live buffer from `alloc` of exactly that many
// elements, so the slices are in bounds, aligned and non-overlapping. bindings/wasm.ts ensures it.
// Each export runs the `secp_kernels` function of the same name and returns `OK` or `FAILED`.

#[no_mangle]
pub unsafe extern "C" fn matmul(
    a: *const u64,
    a_len: usize,
    b: *const u64,
    b_len: usize,
    m: usize,
    kk: usize,
    n: usize,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::matmul(
        view(a, a_len),
        view(b, b_len),
        m,
        kk,
        n,
        view_mut(out, out_len),
    ))
}

#[no_mangle]
pub unsafe extern "C" fn matmul_bt(
    a: *const u64,
    a_len: usize,
    bt: *const u64,
    bt_len: usize,
    m: usize,
    kk: usize,
    n: usize,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::matmul_bt(
        view(a, a_len),
        view(bt, bt_len),
        m,
        kk,
        n,
        view_mut(out, out_len),
    ))
}

#[no_mangle]
pub unsafe extern "C" fn add(
    a: *const u64,
    a_len: usize,
    b: *const u64,
    b_len: usize,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::add(view(a, a_len), view(b, b_len), view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn xor(a: *const u64, a_len: usize, b: *const u64, b_len: usize, out: *mut u64, out_len: usize) -> i32 {
    status(k::xor(view(a, a_len), view(b, b_len), view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn and(a: *const u64, a_len: usize, b: *const u64, b_len: usize, out: *mut u64, out_len: usize) -> i32 {
    status(k::and(view(a, a_len), view(b, b_len), view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn shr_xor(a: *const u64, a_len: usize, s: u32, b: *const u64, b_len: usize, out: *mut u64, out_len: usize) -> i32 {
    status(k::shr_xor(view(a, a_len), s, view(b, b_len), view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn to_bit_planes(x: *const u64, x_len: usize, bits: u32, out: *mut u64, out_len: usize) -> i32 {
    status(k::to_bit_planes(view(x, x_len), bits, view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn from_bit_planes(planes: *const u64, planes_len: usize, bits: u32, out: *mut u64, out_len: usize) -> i32 {
    status(k::from_bit_planes(view(planes, planes_len), bits, view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn trunc_finish(c: *const u64, r_tr: *const u64, r_msb: *const u64, n: usize, bits: u32, party0: i32, out: *mut u64) -> i32 {
    status(k::trunc_finish(view(c, n), view(r_tr, n), view(r_msb, n), bits, party0 != 0, view_mut(out, n)))
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn beaver_and(
    c: *const u64,
    a: *const u64,
    b: *const u64,
    d: *const u64,
    e: *const u64,
    n: usize,
    party0: i32,
    out: *mut u64,
) -> i32 {
    status(k::beaver_and(view(c, n), view(a, n), view(b, n), view(d, n), view(e, n), party0 != 0, view_mut(out, n)))
}

#[no_mangle]
pub unsafe extern "C" fn sub(
    a: *const u64,
    a_len: usize,
    b: *const u64,
    b_len: usize,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::sub(view(a, a_len), view(b, b_len), view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn mul(
    a: *const u64,
    a_len: usize,
    b: *const u64,
    b_len: usize,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::mul(view(a, a_len), view(b, b_len), view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn neg(a: *const u64, a_len: usize, out: *mut u64, out_len: usize) -> i32 {
    status(k::neg(view(a, a_len), view_mut(out, out_len)))
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn beaver_mul(
    c: *const u64,
    a: *const u64,
    b: *const u64,
    e: *const u64,
    f: *const u64,
    n: usize,
    party0: i32,
    out: *mut u64,
) -> i32 {
    status(k::beaver_mul(view(c, n), view(a, n), view(b, n), view(e, n), view(f, n), party0 != 0, view_mut(out, n)))
}

#[no_mangle]
pub unsafe extern "C" fn add_scalar(a: *const u64, a_len: usize, s: u64, out: *mut u64, out_len: usize) -> i32 {
    status(k::add_scalar(view(a, a_len), s, view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn trunc_deal(r: *const u64, n: usize, bits: u32, tr: *mut u64, msb: *mut u64) -> i32 {
    status(k::trunc_deal(view(r, n), bits, view_mut(tr, n), view_mut(msb, n)))
}

#[no_mangle]
pub unsafe extern "C" fn scalar_mul(a: *const u64, a_len: usize, s: u64, out: *mut u64, out_len: usize) -> i32 {
    status(k::scalar_mul(view(a, a_len), s, view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn sum_axis(
    a: *const u64,
    a_len: usize,
    rows: usize,
    cols: usize,
    axis: u32,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::sum_axis(view(a, a_len), rows, cols, axis, view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn encode(x: *const f64, x_len: usize, frac_bits: u32, out: *mut u64, out_len: usize) -> i32 {
    status(k::encode(view(x, x_len), frac_bits, view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn decode(x: *const u64, x_len: usize, frac_bits: u32, out: *mut f64, out_len: usize) -> i32 {
    status(k::decode(view(x, x_len), frac_bits, view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn prg_fill(
    key: *const u8,
    key_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    counter: u32,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::prg_fill(
        view(key, key_len),
        view(nonce, nonce_len),
        counter,
        view_mut(out, out_len),
    ))
}

#[no_mangle]
pub unsafe extern "C" fn cos_sin_turns(
    angle: *const u64,
    angle_len: usize,
    frac_bits: u32,
    cos_out: *mut u64,
    cos_len: usize,
    sin_out: *mut u64,
    sin_len: usize,
) -> i32 {
    status(k::cos_sin_turns(
        view(angle, angle_len),
        frac_bits,
        view_mut(cos_out, cos_len),
        view_mut(sin_out, sin_len),
    ))
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn cos_sin_series(
    d: *const u64,
    d_len: usize,
    coef: *const u64,
    coef_len: usize,
    terms: u32,
    frac_bits: u32,
    acc: *const u64,
    acc_len: usize,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::cos_sin_series(
        view(d, d_len),
        view(coef, coef_len),
        d_len,
        terms as usize,
        frac_bits,
        view(acc, acc_len),
        view_mut(out, out_len),
    ))
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn cos_sin_terms(
    t: *const u64,
    t_len: usize,
    coefs: *const u64,
    coefs_len: usize,
    frac_bits: u32,
    shift: u32,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::cos_sin_terms(view(t, t_len), view(coefs, coefs_len), 1, frac_bits, shift, view_mut(out, out_len)))
}

#[no_mangle]
pub unsafe extern "C" fn angle_scale(
    w: *const f64,
    w_len: usize,
    frac_bits: u32,
    out: *mut u64,
    out_len: usize,
) -> i32 {
    status(k::angle_scale(view(w, w_len), frac_bits, view_mut(out, out_len)))
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn linear_f64(
    x: *const f64,
    x_len: usize,
    w: *const f32,
    w_len: usize,
    b: *const f32,
    b_len: usize,
    rows: usize,
    in_dim: usize,
    out: *mut f64,
    out_len: usize,
) -> i32 {
    status(k::linear_f64(view(x, x_len), view(w, w_len), view(b, b_len), rows, in_dim, view_mut(out, out_len)))
}
