"""MaxPooling2D/3D and AveragePooling2D/3D (``keras.layers``), channels_last, and the pooling base of every rank."""
from __future__ import annotations

from ...ops import array_ops as _a, nn_ops as _nn
from .base import Layer, InputSpec
from .base_conv import conv_output_shape, normalize_tuple, normalize_padding, normalize_data_format


class BasePooling(Layer):
    """The pooling layers of every rank (Keras's ``BasePooling``): argument checks, output shape, config.

    Subclasses set ``rank`` (spatial axes) and ``_op`` (the 2-D pooling op of :mod:`gpuflow.ops.nn_ops`);
    ``rank`` 1 pools (batch, steps, channels) as (batch, 1, steps, channels) with a (1, pool_size) window, and
    ``rank`` 3 pools height and width, then depth (see :meth:`call`), so the 2-D ops and their CUDA kernels do the
    work.
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
        op, padding = type(self)._op, self.padding.upper()
        if self.rank == 2:
            return op(inputs, self.pool_size, self.strides, padding)
        if self.rank == 1:
            return _a.squeeze(op(_a.expand_dims(inputs, 1), (1,) + self.pool_size, (1,) + self.strides, padding), 1)
        # rank 3: the window is separable (a max of maxes; for averages TensorFlow's "same" counts multiply per
        # axis), so pool (h, w) on (n * d, h, w, c), then the depth on (n, d, h' * w', c) with a (pd, 1) window
        n, d, h, w, c = inputs.shape
        y = op(_a.reshape(inputs, (n * d, h, w, c)), self.pool_size[1:], self.strides[1:], padding)
        hw = tuple(y.shape[1:3])
        y = op(_a.reshape(y, (n, d, hw[0] * hw[1], c)), (self.pool_size[0], 1), (self.strides[0], 1), padding)
        return _a.reshape(y, (n, y.shape[1]) + hw + (c,))

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


class MaxPooling3D(BasePooling):
    """Max pooling over (pool_d, pool_h, pool_w) windows (``keras.layers.MaxPooling3D(pool_size=(2, 2, 2),
    strides=None, padding="valid")``); strides default to pool_size.

    Input (batch, d, h, w, c) -> (batch, out_d, out_h, out_w, c) with TensorFlow's padding rules.

    Raises:
        ValueError: a bad ``pool_size``/``strides``/``padding``, or an input that is not rank 5.
    """
    rank = 3
    _op = staticmethod(_nn.max_pool2d)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling3D(BasePooling):
    """Average pooling over 3-D windows (``keras.layers.AveragePooling3D``); "same" padding is left out of each
    average. Shapes and errors as :class:`MaxPooling3D`."""
    rank = 3
    _op = staticmethod(_nn.avg_pool2d)

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


MaxPool3D = MaxPooling3D
AvgPool3D = AveragePooling3D
