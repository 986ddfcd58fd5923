#!/usr/bin/env bash
# Packs what `npm publish` would publish, napi-rs's way, into OUT_DIR (default pack/):
#   secp-tuning-<version>.tgz                    the library: dist/ts, dist/bindings, the wasm module; its
#                                                optionalDependencies name the per-platform addon packages
#   secp-tuning-<platform>-<version>.tgz         one per napi target in package.json (npm/<platform>/): the .node
# Steps, all in a staging folder (this checkout is not written to): the main package is packed and unpacked
# there with a copy of npm/; `napi artifacts` copies bindings/native/secp-kernels.<platform>.node into
# npm/<platform>/; `napi pre-publish --skip-optional-publish` writes the optionalDependencies into the staged
# package.json; the staged package and each npm/<platform>/ are packed.
# Publishing is then `npm publish` of each tarball. Needs a finished `npm run build` (nothing is built here).
# Usage: bash scripts/pack.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$(mkdir -p "${1:-pack}" && cd "${1:-pack}" && pwd)"
napi="$root/node_modules/.bin/napi"

fail() { echo "pack: $*" >&2; exit 1; }
[ -x "$napi" ] || fail "$napi is missing; run \`npm ci\` first"
[ -f dist/ts/index.js ] && [ -f dist/bindings/browser.js ] || fail "dist/ is not built; run \`npm run build:ts\`"
[ -f bindings/wasm/secp_kernels.wasm ] || fail "bindings/wasm/secp_kernels.wasm is missing; run \`npm run build:wasm\`"
shopt -s nullglob
for dir in npm/*/; do
  node_file="bindings/native/$(node -p "require('./$dir/package.json').main")"
  [ -f "$node_file" ] || fail "$node_file is missing (run \`npm run build:native\` on that platform, or drop its target)"
done

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
npm pack --silent --pack-destination "$stage" >/dev/null
tar -xzf "$stage"/*.tgz -C "$stage"
cp -r npm "$stage/package/npm"
# napi reports every file it writes on stderr: keep it for a failure.
(cd "$stage/package" &&
  "$napi" artifacts --output-dir "$root/bindings/native" --npm-dir npm &&
  "$napi" pre-publish --npm-dir npm --skip-optional-publish --no-gh-release) >"$stage/napi.log" 2>&1 ||
  { cat "$stage/napi.log" >&2; fail "napi artifacts/pre-publish failed"; }
npm pack --silent --pack-destination "$out" "$stage/package"
for dir in "$stage"/package/npm/*/; do npm pack --silent --pack-destination "$out" "$dir"; done
