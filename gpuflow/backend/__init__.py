"""Backends: NumPy (CPU), CuPy (CUDA, or its CPU emulator) and the plain reference (the test oracle). See base.py."""
from .base import PRIMITIVES, Backend
from .geometry import ConvGeometry

__all__ = ["PRIMITIVES", "Backend", "ConvGeometry"]
