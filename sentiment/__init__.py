"""Sentiment analysis with a DVC-versioned model.

Importing the package pins the numerical kernels (see ``sentiment.kernels``) before NumPy or
torch load, so every entry point computes the same bits on every AVX2 machine.
"""

from sentiment.kernels import pin_kernels

pin_kernels()
