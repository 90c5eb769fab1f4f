#!/usr/bin/env bash
# Create the Python 3.10 venv that runs Lava (lava-nc 0.10.0 + lava-dl 0.6.0 netx, no torch).
# Usage: hardware/setup-lava-venv.sh [VENV_DIR]   (default: .venv-lava in the repository root)
# Exit status 3: no Python 3.10 interpreter found (set LAVA_PYTHON to one).
# Exit status 4: VENV_DIR exists and is not a venv this script made; it is never deleted.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv-lava}"
MARK="$VENV/.installed-lava-0.10.0"
# written as soon as this script has made the venv: only a directory carrying it may be removed
# (a half-built venv is rebuilt); anything else at VENV_DIR belongs to the user
OWNER="$VENV/.neuroff-lava-venv"
[ -f "$MARK" ] && exit 0
if [ -e "$VENV" ] || [ -L "$VENV" ]; then
    if [ ! -d "$VENV" ] || { [ ! -f "$OWNER" ] && [ -n "$(ls -A "$VENV" 2>/dev/null)" ]; }; then
        echo "$VENV exists and is not a Lava venv made by neuroff (no .neuroff-lava-venv marker); it is left as it is: pass a new or empty directory, or remove it yourself" >&2
        exit 4
    fi
fi

PY="${LAVA_PYTHON:-}"
if [ -z "$PY" ]; then PY="$(command -v python3.10 2>/dev/null || true)"; fi
if [ -n "$PY" ] && ! "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then PY=""; fi
if [ -z "$PY" ] && command -v pyenv >/dev/null 2>&1; then
    for p in "$(pyenv root)"/versions/3.10.*/bin/python3.10; do [ -x "$p" ] && PY="$p"; done
fi
if [ -z "$PY" ]; then
    echo "no Python 3.10 found (Lava needs 3.10); install one or set LAVA_PYTHON" >&2
    exit 3
fi

echo "creating $VENV with $PY (about a minute)"
if [ -f "$OWNER" ]; then rm -rf "$VENV"; fi  # ours, half-built: start again
"$PY" -m venv "$VENV"
touch "$OWNER"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" \
    lava-nc==0.10.0 'numpy<2' 'scipy<1.16' 'scikit-learn<1.8' h5py
# lava-dl's declared dependencies pull torch and friends; netx needs none of them (see
# hardware/neuroff_lava/netx_loader.py), so install it alone.
"$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" --no-deps lava-dl==0.6.0
# lava-dl ships a top-level `tests` package; remove it so it can never shadow a project's tests.
rm -rf "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tests"
"$VENV/bin/python" -c 'import lava, h5py, numpy'
touch "$MARK"
