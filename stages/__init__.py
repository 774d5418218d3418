"""The DVC stages. Importing the package pins the numerical kernels first (before a stage
module imports NumPy or torch): see ``sentiment.kernels``."""

from sentiment.kernels import pin_kernels

pin_kernels()
