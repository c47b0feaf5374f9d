"""``keras.layers.Conv2DTranspose`` (channels_last), on the :func:`gpuflow.ops.nn_ops.conv2d_transpose` op."""
from __future__ import annotations

from ...ops import nn_ops as _nn
from .. import activations as _act, initializers as _init
from .base import Layer, InputSpec
from .conv import normalize_tuple, normalize_padding, normalize_data_format
from .core import _positive_int


def deconv_output_length(size, kernel, stride, padding, output_padding, dilation):
    """Output length of a transposed convolution along one axis, Keras 3's rule
    (``keras/src/backend/common/backend_utils.py``, ``_get_output_shape_given_tf_padding``).

    With ``keff = (kernel - 1) * dilation + 1``: "valid" gives ``(size - 1) * stride + keff + op``
    where ``op`` defaults to ``max(keff, stride) - keff``; "same" gives ``size * stride``, or
    ``(size - 1) * stride + keff % 2 + op`` with an explicit ``output_padding``.
    """
    if size is None:
        return None
    keff = (kernel - 1) * dilation + 1
    if padding == "valid":
        op = max(keff, stride) - keff if output_padding is None else output_padding
        return (size - 1) * stride + keff + op
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + keff % 2 + output_padding


class Conv2DTranspose(Layer):
    """Transposed 2-D convolution, sometimes called deconvolution (``keras.layers.Conv2DTranspose``).

    Input (batch, h, w, in_channels) -> (batch, new_h, new_w, filters) with Keras 3's output
    size (see :func:`deconv_output_length`); kernel (kh, kw, filters, in_channels) -- Keras's
    layout, the transpose of Conv2D's -- and bias (filters,). The output equals TensorFlow's
    ``tf.nn.conv2d_transpose`` for that output shape, which Keras 3's TensorFlow backend calls.

    Raises:
        ValueError: invalid arguments (Keras's checks: ``output_padding`` must be below
            ``strides``; strides > 1 with dilation_rate > 1), or an input that is not rank 4.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = _positive_int(filters, "filters", self)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding, self)
        self.output_padding = None if output_padding is None else normalize_tuple(output_padding, 2, "output_padding",
                                                                                   allow_zero=True)
        self.data_format = normalize_data_format(data_format, f"Conv2DTranspose '{self.name}'")
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. "
                                     f"At dimension {i}, `output_padding` is {op} but `strides` is {s}. "
                                     f"Received: output_padding={self.output_padding}, strides={self.strides}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation = _act.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self._set_weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                                 kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs should be defined. Received: input_shape={input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def compute_output_shape(self, input_shape):
        out = [input_shape[0]]
        for i in range(2):
            out.append(deconv_output_length(input_shape[1 + i], self.kernel_size[i], self.strides[i], self.padding,
                                            None if self.output_padding is None else self.output_padding[i],
                                            self.dilation_rate[i]))
        return tuple(out) + (self.filters,)

    def call(self, inputs):
        out_shape = self.compute_output_shape(tuple(inputs.shape))
        y = _nn.conv2d_transpose(inputs, self.kernel, out_shape, self.strides, self.padding.upper(),
                                 dilations=self.dilation_rate)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def get_config(self):
        c = super().get_config()
        c.update({"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                  "padding": self.padding, "output_padding": self.output_padding, "data_format": self.data_format,
                  "dilation_rate": self.dilation_rate, "activation": _act.serialize(self.activation),
                  "use_bias": self.use_bias, "kernel_initializer": _init.serialize(self.kernel_initializer),
                  "bias_initializer": _init.serialize(self.bias_initializer),
                  **self._weight_options_config("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                                                "kernel_constraint", "bias_constraint")})
        return c


Convolution2DTranspose = Conv2DTranspose
