#!/usr/bin/env bash
# Builds the napi-rs addon (crates/napi) in release mode and installs it as
# bindings/native/secp-kernels.<platform>.node, which bindings/native.ts loads.
#
# Env:
#   SECP_NATIVE_TARGET_CPU  opt-in `-C target-cpu=...` (e.g. x86-64-v3, native); the default build
#                           stays portable. Appended to any RUSTFLAGS already set.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# rustup's cargo first: Debian's /usr/bin/cargo (1.65) is too old for napi 3.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if [[ -n "${SECP_NATIVE_TARGET_CPU:-}" ]]; then
  export RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=${SECP_NATIVE_TARGET_CPU}"
fi

stage="$root/target/napi-out"
rm -rf "$stage"
mkdir -p "$stage" "$root/bindings/native"

# The napi CLI reads binaryName from crates/napi/package.json; --no-js: bindings/native.ts is the loader.
(cd "$root/crates/napi" && "$root/node_modules/.bin/napi" build \
  --platform --release --no-js \
  --manifest-path Cargo.toml \
  --package-json-path package.json \
  --target-dir "$root/target" \
  --output-dir "$stage")

shopt -s nullglob
built=("$stage"/secp-kernels.*.node)
if [[ ${#built[@]} -ne 1 ]]; then
  echo "build-native: expected one secp-kernels.<platform>.node in $stage, found: ${built[*]:-none}" >&2
  exit 1
fi
dest="$root/bindings/native/$(basename "${built[0]}")"
cp "${built[0]}" "$dest"
echo "build-native: wrote ${dest#"$root"/}"
