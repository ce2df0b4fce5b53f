# Sourced by ./launch.sh and ./test.sh: on a fresh Debian machine with Python 3.11, install the
# system libraries Qt needs (if missing), make .venv and install the pinned dependencies, once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
QT_SYSTEM_PACKAGES="libegl1 libgl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3"

ensure_system_packages() {
    command -v dpkg >/dev/null 2>&1 || return 0          # not Debian: assume the libraries are there
    local missing=()
    for p in $QT_SYSTEM_PACKAGES "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ -n "${KGN_SKIP_APT:-}" ]; then
        echo "skipping apt-get (KGN_SKIP_APT is set): Qt may not start without ${missing[*]}" >&2
        return 0
    fi
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "Qt needs the system libraries ${missing[*]}: installing them with ${sudo:+sudo }apt-get (set KGN_SKIP_APT=1 to skip)" >&2
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || echo "warning: could not install ${missing[*]}; install them with apt-get" >&2
}

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
    done
fi
[ -n "$PY" ] || { echo "error: Python 3.11 not found (apt-get install python3)" >&2; exit 1; }
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: $PY is older than 3.11" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -c 'import ensurepip' 2>/dev/null || ensure_system_packages python3-venv
    ensure_system_packages
    echo "creating $VENV with $("$PY" --version)" >&2
    "$PY" -m venv "$VENV"
fi
EXTRAS="${KGN_EXTRAS:-test}"   # the extras to install: ./test.sh adds cluster (Ray) for the engine's tests
STAMP="$VENV/.kgn-installed-${EXTRAS//,/-}"   # one per set of extras: launching after testing installs nothing
WANT="$( (cat "$ROOT/constraints.txt" "$ROOT/pyproject.toml"; echo "$EXTRAS") | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    ensure_system_packages
    echo "installing the pinned dependencies into $VENV (first run only; log: $VENV/install.log)" >&2
    LOG="$VENV/install.log"
    # pip's own notes (the build backend's banners) go to the log; a failure shows it.
    {
        "$VENV/bin/python" -m pip install -q --upgrade pip &&
        # torch first and exactly pinned: a loose torch requirement pulls a multi-GB CUDA build.
        "$VENV/bin/python" -m pip install -q "torch==2.13.0" &&
        "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT[$EXTRAS]"
    } >"$LOG" 2>&1 || { cat "$LOG" >&2; echo "error: installing the dependencies failed (above; $LOG)" >&2; exit 1; }
    echo "$WANT" > "$STAMP"
fi
