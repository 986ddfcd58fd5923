#!/usr/bin/env bash
# Builds crates/wasm into bindings/wasm/secp_kernels.wasm with Debian's Rust 1.63 wasm32 std
# (rustup cannot fetch one here; see shared/TOOLCHAIN.md). Installs nothing: if the toolchain is
# missing it says which apt packages to add.
#
# simd128 is OFF by default, on measurement: wasm has no fast 64-bit vector multiply (V8 expands
# i64x2.mul into three 32-bit multiplies plus shifts), so LLVM's auto-vectorised u64 loops ran the
# 512x768x768 matmul at 1.7 GMAC/s against 3.7 scalar, and ChaCha20 30% slower; nothing got faster.
# A module without simd128 also loads on engines that lack SIMD. SECP_WASM_SIMD=1 turns it on,
# SECP_WASM_OPT=0 skips wasm-opt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# rustup's proxies first, so `cargo +debian-wasm` resolves even in a shell that finds Debian's cargo first.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

need_apt="apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld"
fail() {
  echo "build-wasm: $1" >&2
  echo "build-wasm: install the wasm toolchain with: $need_apt" >&2
  echo "build-wasm: (then, optionally, 'rustup toolchain link debian-wasm /usr' to build through rustup)" >&2
  exit 1
}

[ -x /usr/bin/rustc ] || fail "Debian's rustc (/usr/bin/rustc) is missing (apt package rustc)"
[ -d /usr/lib/rustlib/wasm32-unknown-unknown ] || fail "no wasm32 std in /usr/lib/rustlib (apt package libstd-rust-dev-wasm32)"
command -v rust-lld >/dev/null 2>&1 || command -v lld >/dev/null 2>&1 || fail "no wasm linker (apt package lld)"

# Prefer rustup's link to Debian's toolchain; without it, Debian's cargo needs RUSTC spelled out
# (otherwise it can pick rustup's rustc, which has no wasm32 std: "can't find crate for core").
if command -v rustup >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep -q '^debian-wasm'; then
  cargo_cmd=(cargo +debian-wasm)
elif [ -x /usr/bin/cargo ]; then
  cargo_cmd=(env RUSTC=/usr/bin/rustc /usr/bin/cargo)
else
  fail "neither rustup's debian-wasm toolchain nor Debian's cargo (/usr/bin/cargo) was found"
fi

features="-simd128"
[ "${SECP_WASM_SIMD:-0}" = "1" ] && features="+simd128"

start=$(date +%s)
RUSTFLAGS="-C target-feature=$features" \
  "${cargo_cmd[@]}" build --release --target wasm32-unknown-unknown --manifest-path crates/wasm/Cargo.toml
built=crates/wasm/target/wasm32-unknown-unknown/release/secp_wasm.wasm

mkdir -p bindings/wasm
out=bindings/wasm/secp_kernels.wasm
if [ -x /usr/bin/wasm-opt ] && [ "${SECP_WASM_OPT:-1}" != "0" ]; then
  simd_flag=--enable-simd
  [ "$features" = "-simd128" ] && simd_flag=
  /usr/bin/wasm-opt -O3 $simd_flag --strip-debug --strip-producers "$built" -o "$out"
else
  cp "$built" "$out"
fi
echo "build-wasm: $out ($(wc -c <"$out") bytes, simd128 ${features:0:1}, $(( $(date +%s) - start )) s)"
