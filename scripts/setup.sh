#!/usr/bin/env bash
# One command that sets up everything on a fresh Debian 12 machine (as root): the wasm toolchain from
# Debian's packages, the npm dependencies, the native addon, the wasm module and the TypeScript build.
# Idempotent: steps already done are skipped. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "toolchains"
command -v node >/dev/null || { echo "node (20+) is required" >&2; exit 1; }
command -v rustup >/dev/null || { echo "rustup (with a stable toolchain) is required for the native addon" >&2; exit 1; }
# redis-server: the tuning node's queue (tests start their own); chromium: the headless-browser tests (Debian's package; nothing downloads a browser).
apt_pkgs=(rustc libstd-rust-dev-wasm32 lld binaryen redis-server chromium)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} — run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's rustc 1.63 ships the wasm32 std that rustup cannot download here; name it for rustup.
rustup toolchain list | grep -q '^debian-wasm' || rustup toolchain link debian-wasm /usr
echo "rust: $(rustc --version); wasm: $(rustc +debian-wasm --version)"

step "npm dependencies"
npm ci --no-audit --no-fund

step "native addon, wasm module, TypeScript"
npm run build

if [ -f scripts/fetch-assets.sh ]; then
  step "model and data (registry packages)"
  bash scripts/fetch-assets.sh
fi
echo
echo "set-up done."
