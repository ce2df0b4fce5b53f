#!/usr/bin/env bash
# Run the whole test suite offscreen (sets up .venv on first run).
export KGN_EXTRAS="${KGN_EXTRAS:-test,cluster}"   # Ray too: tests/core/test_ray_engine.py runs a real local Ray
source "$(dirname "$0")/scripts/bootstrap.sh"
cd "$ROOT"
export QT_QPA_PLATFORM=offscreen
exec "$VENV/bin/python" -m pytest --durations=15 "$@"  # the 15 slowest tests at the end: the suite stays under ~10 min
