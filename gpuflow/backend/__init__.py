"""Backends: the NumPy reference (CPU) and, where available, CuPy (CUDA). See base.py."""
from .base import PRIMITIVES, Backend

__all__ = ["PRIMITIVES", "Backend"]
