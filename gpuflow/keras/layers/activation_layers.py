"""Activation layers with arguments (``keras.layers.LeakyReLU``, ``keras.layers.ELU``, ``keras.layers.PReLU``)."""
from __future__ import annotations

import warnings

from ...ops import nn_ops as _nn
from .. import activations as _act, constraints as _constraints, initializers as _init
from .. import regularizers as _regularizers
from .base import Layer, InputSpec


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


class PReLU(Layer):
    """Parametric ReLU, ``relu(x) - alpha * relu(-x)`` with a learned ``alpha`` (``keras.layers.PReLU``).

    Args:
        alpha_initializer, alpha_regularizer, alpha_constraint: of the ``alpha`` weight ("Zeros" by default).
        shared_axes: an int or a list of the (1-based, batch excluded) axes along which ``alpha`` is shared,
            e.g. ``[1, 2]`` for one slope per channel of (batch, h, w, c) images.

    Input: any shape (batch, *dims); output: the same. Weight ``alpha`` of shape ``dims`` with the shared axes
    set to 1 (Keras's shape and name).
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = _init.get(alpha_initializer)
        self.alpha_regularizer = _regularizers.get(alpha_regularizer)
        self.alpha_constraint = _constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif not isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = list(shared_axes)

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for i in self.shared_axes or ():
            param_shape[i - 1] = 1
        self.alpha = self.add_weight(shape=param_shape, name="alpha", initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        axes = {i: input_shape[i] for i in range(1, len(input_shape)) if i not in (self.shared_axes or ())} \
            if self.shared_axes else {}
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)
        self.built = True

    def call(self, inputs):
        return _nn.relu(inputs) - self.alpha * _nn.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update({"alpha_initializer": _init.serialize(self.alpha_initializer),
                  "alpha_regularizer": _regularizers.serialize(self.alpha_regularizer),
                  "alpha_constraint": _constraints.serialize(self.alpha_constraint),
                  "shared_axes": self.shared_axes})
        return c
