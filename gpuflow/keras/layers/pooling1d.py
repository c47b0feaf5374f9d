"""``keras.layers.MaxPooling1D`` and ``AveragePooling1D`` (channels_last), as 2-D pooling of height 1.

(batch, steps, channels) is pooled as (batch, 1, steps, channels) with a (1, pool_size) window, so the 2-D
pooling ops and their CUDA kernels do the work.
"""
from __future__ import annotations

from ...ops import array_ops as _a, nn_ops as _nn
from .base import Layer, InputSpec
from .base_conv import conv_output_shape, normalize_tuple, normalize_padding, normalize_data_format


class _Pooling1D(Layer):
    _op = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = normalize_tuple(pool_size, 1, "pool_size")
        self.strides = normalize_tuple(strides if strides is not None else self.pool_size, 1, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        y = type(self)._op(_a.expand_dims(inputs, 1), (1,) + self.pool_size, (1,) + self.strides,
                           self.padding.upper())
        return _a.squeeze(y, 1)

    def compute_output_shape(self, input_shape):
        return conv_output_shape(input_shape, self.pool_size, self.strides, self.padding, (1,), input_shape[2],
                                 type(self).__name__)

    def get_config(self):
        c = super().get_config()
        c.update({"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                  "data_format": self.data_format})
        return c


class MaxPooling1D(_Pooling1D):
    """Max pooling over windows of ``pool_size`` steps (``keras.layers.MaxPooling1D``); strides default to
    pool_size.

    Input (batch, steps, channels) -> (batch, new_steps, channels), TensorFlow's padding rules.

    Raises:
        ValueError: a bad ``pool_size``/``strides``/``padding``, or an input that is not rank 3.
    """
    _op = staticmethod(_nn.max_pool2d)


class AveragePooling1D(_Pooling1D):
    """Average pooling over windows of ``pool_size`` steps (``keras.layers.AveragePooling1D``); "same" padding
    is left out of each average. Shapes and errors as :class:`MaxPooling1D`."""
    _op = staticmethod(_nn.avg_pool2d)


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
