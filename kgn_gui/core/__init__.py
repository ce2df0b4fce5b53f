"""Qt-free core of Kaleidoscope Studio: data, models, training, chains, timelines, checkpoints.

Nothing under ``kgn_gui.core`` imports Qt; the CLI and the UI are two faces over these calls.
"""
