#!/usr/bin/env bash
# Builds the napi-rs addon (crates/napi) in release mode and installs it as
# bindings/native/secp-kernels.<platform>.node, which bindings/native.ts loads.
# The build stays portable (no -C target-cpu): x86-64-v3/v4/native measured no faster for matmul.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# rustup's cargo first: Debian's /usr/bin/cargo (1.65) is too old for napi 3.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

napi="$root/node_modules/.bin/napi"
if [[ ! -x "$napi" ]]; then
  echo "build-native: $napi is missing; run \`npm ci\` first (@napi-rs/cli is a devDependency)" >&2
  exit 1
fi
echo "build-native: using $(command -v cargo) ($(cargo --version))"

stage="$root/target/napi-out"
rm -rf "$stage"
mkdir -p "$stage" "$root/bindings/native"

# The napi CLI reads binaryName and targets from the root package.json; --no-js: bindings/native.ts is the loader.
(cd "$root/crates/napi" && "$napi" build \
  --platform --release --no-js \
  --manifest-path Cargo.toml \
  --package-json-path "$root/package.json" \
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
