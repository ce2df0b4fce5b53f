#!/usr/bin/env bash
# The wheel works anywhere (issue 21): build it, install it (not editable) into a fresh venv, and run kgn and
# kgn-gui from an empty folder outside the repository, on the bundled models and MNIST. Called by .ci/run.
#   scripts/wheel_smoke.sh [PYTHON]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${1:-${PYTHON:-python3.11}}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "wheel smoke test: building the wheel"
rm -rf "$ROOT/build" "$ROOT"/*.egg-info   # nothing left over from an earlier build may reach the wheel
"$PY" -m pip wheel "$ROOT" --no-deps -q -w "$WORK/dist" >/dev/null
rm -rf "$ROOT/build" "$ROOT"/*.egg-info
WHEEL="$(ls "$WORK"/dist/kgn_gui-*.whl)"
echo "wheel smoke test: installing $(basename "$WHEEL") into a fresh venv"
"$PY" -m venv "$WORK/venv"
V="$WORK/venv/bin"
"$V/python" -m pip install -q --upgrade pip
"$V/python" -m pip install -q "torch==2.13.0"
"$V/python" -m pip install -q -c "$ROOT/constraints.txt" "$WHEEL"
mkdir "$WORK/empty"
cd "$WORK/empty"
export QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$WORK/config" XDG_CACHE_HOME="$WORK/cache" XDG_DATA_HOME="$WORK/data"
"$V/kgn" --version
"$V/kgn" info mnist
"$V/kgn" info 2d-corners >/dev/null
"$V/kgn" models
"$V/kgn" sample mnist -n 4 --steps 3 -o out
test -s out/final_states.npy && test -s out/grid.png
"$V/kgn-gui" --version
out="$("$V/kgn-gui" mnist --quit-after 4)"
echo "$out"
echo "$out" | grep -q "playable after" || { echo "wheel smoke test: kgn-gui did not reach a playable chain" >&2; exit 1; }
"$V/kgn-gui" --install-desktop
test -s "$WORK/data/applications/kgn-gui.desktop"
echo "wheel smoke test: passed"
