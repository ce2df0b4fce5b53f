"""Kaleidoscope Studio: a desktop explorer for Generative Kaleidoscopic Networks.

H. Shrivastava, "Generative Kaleidoscopic Networks", arXiv 2402.11793.

The public API (docs/api.md)::

    import kgn_gui as kgn
    run = kgn.sample(kgn.load("mnist"), n=8, steps=20, seed=3)
    run.state(20)

Its names (``load``, ``sample``, ``analyze``, ``train``, ``sweep``, ``search``, ``Sampler``, ``Model``, ``Run``) are imported on first use:
``import kgn_gui`` alone stays light (the window's first frame is drawn before torch is imported).
"""

from ._version import __version__

_API = {"load", "sample", "analyze", "train", "sweep", "search", "Model", "Run"}
__all__ = ["Model", "Run", "Sampler", "__version__", "analyze", "load", "sample", "search", "sweep", "train"]


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "Sampler":
        from .core.chain.sampler import Sampler

        return Sampler
    raise AttributeError(f"module 'kgn_gui' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
