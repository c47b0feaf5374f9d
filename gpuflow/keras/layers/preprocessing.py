"""Preprocessing layers that run inside the model: ``keras.layers.Rescaling``."""
from __future__ import annotations

import numpy as np

from ...ops import math_ops as _m
from ...ops.core import convert_to_tensor
from .base import Layer


def _plain(value):
    """A config value as Keras writes it: floats stay floats, arrays become (nested) lists."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if hasattr(value, "numpy"):
        return value.numpy().tolist()
    return value


class Rescaling(Layer):
    """``inputs * scale + offset`` (``keras.layers.Rescaling``), e.g. ``Rescaling(1./255)`` for images.

    ``scale`` and ``offset`` are numbers or per-channel sequences broadcast against the last
    axis. Integer inputs (uint8 images) are cast to the layer dtype first, as Keras does.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _plain(scale)
        self.offset = _plain(offset)

    def call(self, inputs):
        x = inputs if inputs.dtype.name == self.dtype else _m.cast(inputs, self.dtype)
        scale = convert_to_tensor(np.asarray(self.scale, dtype=self.dtype))
        offset = convert_to_tensor(np.asarray(self.offset, dtype=self.dtype))
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c.update({"scale": self.scale, "offset": self.offset})
        return c
