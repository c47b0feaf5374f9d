"""Activation layers with arguments (``keras.layers.LeakyReLU``, ``keras.layers.ELU``)."""
from __future__ import annotations

import warnings

from .. import activations as _act
from .base import Layer


class LeakyReLU(Layer):
    """``x if x >= 0 else negative_slope * x`` (``keras.layers.LeakyReLU``; Keras 3's default slope is 0.3).

    The Keras 2 name ``alpha`` is accepted with a deprecation warning, as Keras 3 does.

    Raises:
        ValueError: a negative or missing ``negative_slope``.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"The negative_slope value of a Leaky ReLU layer cannot be None or negative value. "
                             f"Expected a float. Received: negative_slope={negative_slope}")
        self.negative_slope = negative_slope

    def call(self, inputs):
        return _act.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c["negative_slope"] = self.negative_slope
        return c


class ELU(Layer):
    """``x if x > 0 else alpha * (exp(x) - 1)`` (``keras.layers.ELU``, alpha 1.0)."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs):
        return _act.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c["alpha"] = self.alpha
        return c
