"""Data sets for manifold learning.

A :class:`~kgn_gui.core.data.dataset.Dataset` is an M×D float32 array in the model's value range ([0, 1] for a
Sigmoid network, [−1, 1] for a Tanh one), the shape of one sample ((C, H, W) for images, (d,) for points),
optional integer labels and a name. Every loader reads pixels as [0, 1] first and then maps them linearly onto
the requested range. ``sources.open_source`` reads every data-source string; ``mnist`` is the bundled set,
``arrays`` IDX / npz / npy files, ``images`` image files and folders.
"""
