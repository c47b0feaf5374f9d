"""Regularization layers (Keras 3's ``keras/src/layers/regularization/``): GaussianNoise, GaussianDropout,
AlphaDropout, SpatialDropout1D/2D/3D and ActivityRegularization (``Dropout`` itself lives in :mod:`.core`).

The noise layers act only when called with ``training=True`` (``fit`` does; ``predict`` and a plain call do
not) and are the identity otherwise, as Keras's. Their noise is drawn on the input's device; a layer given a
``seed`` draws a reproducible sequence of noises (Keras's ``SeedGenerator``: each call a new draw), one
without draws from the backend's generator (``tf.random.set_seed`` makes it reproducible). The noise is a
constant of the tape: gradients flow to the input only.
"""
from __future__ import annotations

import math

import numpy as np

from ...ops import math_ops as _m
from ...ops.core import wrap
from .. import regularizers as _regularizers
from .base import Layer, InputSpec
from .base_conv import normalize_data_format
from .core import Dropout


def _check_rate(value, arg):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0 <= value <= 1:
        raise ValueError(f"Invalid value received for argument `{arg}`. Expected a float value between 0 and 1. "
                         f"Received: {arg}={value}")
    return value


class _NoiseLayer(Layer):
    """What the noise layers share: the seed, the noise draw, shape and mask pass-through."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.supports_masking = True
        self._seed_rng = np.random.default_rng(seed) if seed is not None else None

    def _draw(self, x, kind, shape, a, b):
        """A tensor of ``shape`` on ``x``'s device and in its dtype: normal(mean=a, stddev=b) or uniform[0, 1)."""
        be, dtype = x._backend, x._data.dtype
        if self._seed_rng is not None:
            from ...random import get_global_seed
            rng = np.random.default_rng([get_global_seed() or 0, int(self._seed_rng.integers(0, 2 ** 31 - 1))])
            host = rng.normal(a, b, size=shape) if kind == "normal" else rng.uniform(size=shape)
            data = be.asarray(host, dtype=dtype)
        else:
            data = be.random_normal(shape, dtype, a, b) if kind == "normal" else be.random_uniform(shape, dtype)
        return wrap(data, x)

    def compute_output_shape(self, input_shape):
        return input_shape


class GaussianNoise(_NoiseLayer):
    """Adds zero-centred Gaussian noise of standard deviation ``stddev`` in training
    (``keras.layers.GaussianNoise(stddev, seed=None)``); the identity otherwise.

    Input: any shape and float dtype; output: the same.

    Raises:
        ValueError: ``stddev`` outside [0, 1] (Keras's message).
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _check_rate(stddev, "stddev")

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            return inputs + self._draw(inputs, "normal", tuple(inputs.shape), 0.0, self.stddev)
        return inputs

    def get_config(self):
        c = super().get_config()
        c.update({"stddev": self.stddev, "seed": self.seed})
        return c


class GaussianDropout(_NoiseLayer):
    """Multiplies by 1-centred Gaussian noise of standard deviation ``sqrt(rate / (1 - rate))`` in training
    (``keras.layers.GaussianDropout(rate, seed=None)``); the identity otherwise.

    Input: any shape and float dtype; output: the same.

    Raises:
        ValueError: ``rate`` outside [0, 1] (Keras's message).
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(rate, "rate")

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            return inputs * self._draw(inputs, "normal", tuple(inputs.shape), 1.0, stddev)
        return inputs

    def get_config(self):
        c = super().get_config()
        c.update({"rate": self.rate, "seed": self.seed})
        return c


class AlphaDropout(_NoiseLayer):
    """Dropout that keeps the mean and variance of SELU activations (``keras.layers.AlphaDropout(rate,
    noise_shape=None, seed=None)``).

    In training, as Keras 3: ``kept = uniform(noise_shape) >= rate``; ``x = inputs * kept + alpha_p * (1 - kept)``
    with ``alpha_p = -1.6732632423543772 * 1.0507009873554805``; output ``a * x + b`` with
    ``a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5`` and ``b = -a * alpha_p * rate``. ``noise_shape``
    entries that are None take the input's size. The identity otherwise.

    Raises:
        ValueError: ``rate`` outside [0, 1] (Keras's message).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(rate, "rate")
        self.noise_shape = noise_shape

    def call(self, inputs, training=False):
        if not (training and self.rate > 0):
            return inputs
        shape = tuple(inputs.shape) if self.noise_shape is None else \
            tuple(s if d is None else int(d) for d, s in zip(self.noise_shape, inputs.shape))
        alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
        kept = _m.cast(_m.greater_equal(self._draw(inputs, "uniform", shape, 0, 1), self.rate), inputs.dtype)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        x = inputs * kept + alpha_p * (1 - kept)
        return a * x + b

    def get_config(self):
        c = super().get_config()
        c.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return c


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one draw per (sample, channel), channels_last (Keras's
    ``BaseSpatialDropout``). Its config is Keras's: rate, seed, name, dtype (and data_format for 2-D/3-D)."""

    rank = 1

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _noise_shape_of(self, inputs):
        return (inputs.shape[0],) + (1,) * self.rank + (inputs.shape[-1],)

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole 1-D feature maps (``keras.layers.SpatialDropout1D(rate, seed=None)``): in training each
    (sample, channel) of a (batch, steps, channels) input is zeroed with probability ``rate`` for every step,
    the rest scaled by ``1 / (1 - rate)``; the identity otherwise.

    Raises:
        ValueError: ``rate`` outside [0, 1], or an input that is not rank 3.
    """


class _SpatialDropoutND(_SpatialDropout):
    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout2D(_SpatialDropoutND):
    """Drops whole 2-D feature maps (``keras.layers.SpatialDropout2D(rate, data_format=None, seed=None)``):
    one draw per (sample, channel) of a (batch, rows, cols, channels) input, as :class:`SpatialDropout1D`.

    Raises:
        ValueError: ``rate`` outside [0, 1], or an input that is not rank 4.
        NotImplementedError: ``data_format="channels_first"``.
    """
    rank = 2


class SpatialDropout3D(_SpatialDropoutND):
    """Drops whole 3-D feature maps (``keras.layers.SpatialDropout3D(rate, data_format=None, seed=None)``):
    one draw per (sample, channel) of a (batch, d1, d2, d3, channels) input, as :class:`SpatialDropout1D`.

    Raises:
        ValueError: ``rate`` outside [0, 1], or an input that is not rank 5.
        NotImplementedError: ``data_format="channels_first"``.
    """
    rank = 3


class ActivityRegularization(Layer):
    """The identity, adding ``l1 * sum(|x|) + l2 * sum(x**2)`` of its output, divided by the batch size, to the
    model's losses (``keras.layers.ActivityRegularization(l1=0.0, l2=0.0)``: an ``L1L2`` activity regularizer).

    Raises:
        ValueError: a negative or non-numeric factor (from :class:`~gpuflow.keras.regularizers.L1L2`).
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(activity_regularizer=_regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.supports_masking = True
        self.l1, self.l2 = l1, l2

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.pop("activity_regularizer", None)
        c.update({"l1": self.l1, "l2": self.l2})
        return c
