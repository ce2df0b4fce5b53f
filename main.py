"""Launch Kaleidoscope Studio: ``python main.py [MODEL.safetensors]``."""

import sys

from kgn_gui.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
