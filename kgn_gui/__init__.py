"""Kaleidoscope Studio: a desktop explorer for Generative Kaleidoscopic Networks.

H. Shrivastava, "Generative Kaleidoscopic Networks", arXiv 2402.11793.
"""

__version__ = "0.2.0"
