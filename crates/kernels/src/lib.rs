//! Kernels for 2-party additive secret sharing over Z_2^64 (fixed point).
//!
//! Nothing here knows about Node or the browser: the napi and wasm crates only convert arguments.
//! Everything must build with Rust 1.63 (the wasm toolchain is Debian's rustc).
//! Results are bit-identical across targets: integer ops wrap, float ops are plain IEEE
//! `+ - * /` in a fixed order (no fused multiply-add, no libm calls).

mod bits;
mod error;
mod fixed;
mod fused;
mod linear;
mod matmul;
mod matmul_packed;
mod ops;
mod prg;
mod trig;

pub use bits::{and, beaver_and, from_bit_planes, shr_xor, to_bit_planes, trunc_finish, xor};
pub use error::KernelError;
pub use fixed::{decode, encode, FRAC_BITS_MAX};
pub use fused::{add_scalar, beaver_mul, trunc_deal};
pub use linear::linear_f64;
pub use matmul::{matmul, matmul_bt, BLOCK};
pub use ops::{add, mul, neg, scalar_mul, sub, sum_axis};
pub use prg::{chacha_block, prg_fill, DOUBLE_ROUNDS, KEY_BYTES, NONCE_BYTES};
pub use trig::{angle_scale, cos_sin_series, cos_sin_terms, cos_sin_turns, SERIES_TERMS_MAX};
