#!/usr/bin/env bash
# Installs CrypTen 0.4.1 and the torch it runs on into a virtual environment for bench/crypten/layer.py.
# Idempotent: does nothing when the environment was already made from the same requirements.txt.
#   bash bench/crypten/setup.sh            (environment: .cache/crypten/venv, or $SECP_CRYPTEN_VENV)
# Needs Python 3.11 (python3.11, or python3 when that is 3.11: Debian 12's) with its venv module, which it
# installs with apt-get (python3-venv) when it runs as root on Debian; about 2.5 GB from PyPI, 4.4 GB on disk.
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
# Debian ships venv's ensurepip in a package of its own.
if ! "$py" -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "crypten venv: apt-get install python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  else
    echo "crypten venv: $py has no venv module (ensurepip); on Debian: sudo apt-get install python3-venv" >&2
    exit 1
  fi
fi
echo "crypten venv: making $venv with $($py --version) (torch 2.0.1 and CrypTen 0.4.1 from PyPI, ~2.5 GB download, 4.4 GB on disk; a few minutes)"
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --progress-bar off -r "$req"
"$venv/bin/pip" install --quiet --disable-pip-version-check --progress-bar off --no-deps crypten==0.4.1
"$venv/bin/python" -c 'import crypten, torch; print(f"crypten venv: crypten {crypten.__version__}, torch {torch.__version__}")'
cp "$req" "$stamp"
