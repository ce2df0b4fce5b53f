"""Models: the architectures (architectures), a model file's header read without torch (header), the
checkpoint file with its metadata (checkpoint), the recipes (recipes), the one training loop (train), training
in a child process (train_worker) and the window's recovery checkpoints (recovery)."""
