"""MaxPooling2D and AveragePooling2D (``keras.layers``), channels_last."""
from __future__ import annotations

from ...ops import nn_ops as _nn
from .base import Layer, InputSpec
from .base_conv import conv_output_shape, normalize_tuple, normalize_padding, normalize_data_format


class _Pooling2D(Layer):
    _op = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = normalize_tuple(strides if strides is not None else self.pool_size, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return type(self)._op(inputs, self.pool_size, self.strides, self.padding.upper())

    def compute_output_shape(self, input_shape):
        return conv_output_shape(input_shape, self.pool_size, self.strides, self.padding, (1, 1), input_shape[3],
                                 type(self).__name__)

    def get_config(self):
        c = super().get_config()
        c.update({"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                  "data_format": self.data_format})
        return c


class MaxPooling2D(_Pooling2D):
    """Max pooling over (pool_h, pool_w) windows (``keras.layers.MaxPooling2D``); strides default to pool_size.

    Input (batch, h, w, c) -> (batch, out_h, out_w, c) with TensorFlow's padding rules.
    """
    _op = staticmethod(_nn.max_pool2d)


class AveragePooling2D(_Pooling2D):
    """Average pooling (``keras.layers.AveragePooling2D``); "same" padding is excluded from each average."""
    _op = staticmethod(_nn.avg_pool2d)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
