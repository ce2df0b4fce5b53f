#!/usr/bin/env bash
# Launch Kaleidoscope Studio on the bundled MNIST model (sets up .venv on first run).
source "$(dirname "$0")/scripts/bootstrap.sh"
if [ -n "${DISPLAY:-}" ] && [ "${QT_QPA_PLATFORM:-}" != "offscreen" ]; then
    # Qt's X11 (xcb) platform plugin needs these on a minimal Debian; installed only when missing.
    ensure_system_packages libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
        libxcb-render-util0 libxcb-shape0
fi
echo "starting Kaleidoscope Studio" >&2
exec "$VENV/bin/python" "$ROOT/main.py" "$@"
