#!/usr/bin/env bash
# Launch Kaleidoscope Studio on the bundled MNIST model (sets up .venv on first run).
source "$(dirname "$0")/scripts/bootstrap.sh"
exec "$VENV/bin/python" "$ROOT/main.py" "$@"
