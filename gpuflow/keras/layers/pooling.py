"""MaxPooling2D and AveragePooling2D (``keras.layers``), channels_last, and the pooling base of every rank."""
from __future__ import annotations

from ...ops import array_ops as _a, nn_ops as _nn
from .base import Layer, InputSpec
from .base_conv import conv_output_shape, normalize_tuple, normalize_padding, normalize_data_format


class BasePooling(Layer):
    """The pooling layers of every rank (Keras's ``BasePooling``): argument checks, output shape, config.

    Subclasses set ``rank`` (spatial axes) and ``_op`` (the 2-D pooling op of :mod:`gpuflow.ops.nn_ops`);
    ``rank`` 1 pools (batch, steps, channels) as (batch, 1, steps, channels) with a (1, pool_size) window, so the
    2-D ops and their CUDA kernels do the work.
    """
    rank = 2
    _op = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = normalize_tuple(strides if strides is not None else self.pool_size, self.rank, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        if self.rank == 2:
            return type(self)._op(inputs, self.pool_size, self.strides, self.padding.upper())
        y = type(self)._op(_a.expand_dims(inputs, 1), (1,) + self.pool_size, (1,) + self.strides,
                           self.padding.upper())
        return _a.squeeze(y, 1)

    def compute_output_shape(self, input_shape):
        return conv_output_shape(input_shape, self.pool_size, self.strides, self.padding, (1,) * self.rank,
                                 input_shape[self.rank + 1], type(self).__name__)

    def get_config(self):
        c = super().get_config()
        c.update({"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                  "data_format": self.data_format})
        return c


class MaxPooling2D(BasePooling):
    """Max pooling over (pool_h, pool_w) windows (``keras.layers.MaxPooling2D``); strides default to pool_size.

    Input (batch, h, w, c) -> (batch, out_h, out_w, c) with TensorFlow's padding rules.
    """
    _op = staticmethod(_nn.max_pool2d)


class AveragePooling2D(BasePooling):
    """Average pooling (``keras.layers.AveragePooling2D``); "same" padding is excluded from each average."""
    _op = staticmethod(_nn.avg_pool2d)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
