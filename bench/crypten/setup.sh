#!/usr/bin/env bash
# Installs CrypTen 0.4.1 and the torch it runs on into a virtual environment for bench/crypten/layer.py.
# Idempotent: does nothing when the environment was already made from the same requirements.txt.
#   bash bench/crypten/setup.sh            (environment: .cache/crypten/venv, or $SECP_CRYPTEN_VENV)
# Needs Python 3.11 (python3.11, or python3 when that is 3.11) with its venv module; about 2.5 GB from PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${SECP_CRYPTEN_VENV:-.cache/crypten/venv}"
req=bench/crypten/requirements.txt
stamp="$venv/.secp-requirements"
if [ -f "$stamp" ] && cmp -s "$stamp" "$req"; then
  echo "crypten venv: $venv is ready"
  exit 0
fi
py=""
for c in python3.11 python3; do
  if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then py="$c"; break; fi
done
[ -n "$py" ] || { echo "crypten venv: Python 3.11 is required (torch 2.0 has no wheels for newer Pythons)" >&2; exit 1; }
echo "crypten venv: making $venv with $($py --version) (torch 2.0.1 and CrypTen 0.4.1 from PyPI, ~2.5 GB; a few minutes)"
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --progress-bar off -r "$req"
"$venv/bin/pip" install --quiet --disable-pip-version-check --progress-bar off --no-deps crypten==0.4.1
"$venv/bin/python" -c 'import crypten, torch; print(f"crypten venv: crypten {crypten.__version__}, torch {torch.__version__}")'
cp "$req" "$stamp"
