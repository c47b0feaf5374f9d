"""The Keras operations that Keras 3 writes as nodes of a functional model's config: the mask computations of
``Embedding(mask_zero=True)`` (``keras.src.ops.numpy.NotEqual``) and ``Masking`` (``NotEqual`` then ``Any``).

Keras traces a layer's ``compute_mask`` while building a functional model, so its saved config holds these
operations as nodes and passes their outputs as the ``mask`` argument of the next layers. A loaded model keeps
these nodes and runs them (their outputs are those layers' explicit masks) and writes them back as Keras does, but,
as Keras's Operations, they are not in ``model.layers`` nor among :mod:`gpuflow.keras.layers`' public names.
"""
from __future__ import annotations

from ...ops import math_ops as _m
from ...ops.core import convert_to_tensor
from .base import Layer

__all__ = ["OPS"]


class _Op(Layer):
    _cast_inputs = False
    _keras_operation = True  # a node of the graph, but not one of the model's `layers` (Keras 3's Operation)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**{k: v for k, v in config.items() if k not in ("trainable", "dtype")})


class NotEqual(_Op):
    """``keras.ops.not_equal(x1, x2)``: elementwise, bool."""

    def call(self, x1, x2):
        return _m.not_equal(x1, convert_to_tensor(x2, dtype=x1.dtype))

    def compute_output_shape(self, input_shape, *args):
        return tuple(input_shape)


class Any(_Op):
    """``keras.ops.any(x, axis, keepdims)``: a logical or over ``axis``."""

    def __init__(self, axis=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.keepdims = axis, bool(keepdims)

    def call(self, x):
        return _m.reduce_any(_m.cast(x, "bool"), axis=self.axis, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        axes = range(len(input_shape)) if self.axis is None else \
            [a % len(input_shape) for a in ([self.axis] if isinstance(self.axis, int) else self.axis)]
        return tuple(1 if i in axes else d for i, d in enumerate(input_shape)
                     if self.keepdims or i not in axes)

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "keepdims": self.keepdims}


OPS = {"NotEqual": NotEqual, "Any": Any}
