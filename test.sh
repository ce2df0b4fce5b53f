#!/usr/bin/env bash
# Run the whole test suite offscreen (sets up .venv on first run).
source "$(dirname "$0")/scripts/bootstrap.sh"
cd "$ROOT"
export QT_QPA_PLATFORM=offscreen
exec "$VENV/bin/python" -m pytest "$@"
