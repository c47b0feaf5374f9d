"""``keras.backend``: the few session helpers Keras code calls."""
from __future__ import annotations

from .layers.base import reset_uids


def clear_session(free_memory=True):
    """Resets layer-name counters, so new layers are named "dense", "dense_1"... again."""
    reset_uids()


def backend():
    """The name of the backend Keras code sees (gpuflow runs its own)."""
    return "gpuflow"


def floatx():
    return "float32"


def epsilon():
    return 1e-7
