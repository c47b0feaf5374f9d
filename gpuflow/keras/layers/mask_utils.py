"""Keras masks attached to tensors (Keras 3's ``backend.get_keras_mask`` / ``set_keras_mask``).

A mask is a boolean (batch, timesteps) Tensor saying which steps of a sequence are real (True) and which
are padding (False). ``Embedding(mask_zero=True)`` and ``Masking`` attach one to their output; the layers
called next receive it as their call's ``mask`` argument and pass it on (``compute_mask``), and the losses
and metrics of ``compile`` weigh the masked steps 0 (see :mod:`gpuflow.keras.layers.base`).

TensorFlow keeps the mask in the tensor's ``_keras_mask`` attribute; gpuflow's Tensor has fixed slots, so
the mask lives in a table keyed by the tensor's identity and is dropped with the tensor (a weak reference).
A symbolic ``KerasTensor`` keeps its mask (a bool KerasTensor, or None) in its ``_keras_mask`` attribute, as
Keras 3's does: layers called on KerasTensors attach their ``compute_mask`` result there while a functional model
is built, so a layer whose ``call`` needs a mask gets one when it is built.
"""
from __future__ import annotations

import weakref

__all__ = ["get_keras_mask", "set_keras_mask"]

_masks = {}  # id(tensor) -> (weakref to the tensor, mask)


def get_keras_mask(x):
    """The mask attached to ``x`` (a Tensor or KerasTensor), or None (also for anything else)."""
    entry = _masks.get(id(x))
    if entry is None or entry[0]() is not x:
        return getattr(x, "_keras_mask", None)
    return entry[1]


def set_keras_mask(x, mask):
    """Attaches ``mask`` to the Tensor or KerasTensor ``x`` (None removes it); returns ``x``.

    Raises:
        TypeError: ``x`` cannot be weakly referenced (not a Tensor).
    """
    if hasattr(x, "_keras_mask"):  # a KerasTensor
        x._keras_mask = mask
        return x
    key = id(x)
    if mask is None:
        _masks.pop(key, None)
        return x
    ref = weakref.ref(x, lambda _r, key=key: _masks.pop(key, None) if _masks.get(key, (None,))[0] is _r else None)
    _masks[key] = (ref, mask)
    return x
