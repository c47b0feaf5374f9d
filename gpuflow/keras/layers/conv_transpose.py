"""``keras.layers.Conv2DTranspose`` (channels_last), on the :func:`gpuflow.ops.nn_ops.conv2d_transpose` op."""
from __future__ import annotations

from ...ops import nn_ops as _nn
from .base_conv import BaseConv, normalize_tuple


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


class Conv2DTranspose(BaseConv):
    """Transposed 2-D convolution, sometimes called deconvolution (``keras.layers.Conv2DTranspose``).

    Input (batch, h, w, in_channels) -> (batch, new_h, new_w, filters) with Keras 3's output
    size (see :func:`deconv_output_length`); kernel (kh, kw, filters, in_channels) -- Keras's
    layout, the transpose of Conv2D's -- and bias (filters,). The output equals TensorFlow's
    ``tf.nn.conv2d_transpose`` for that output shape, which Keras 3's TensorFlow backend calls.

    Raises:
        ValueError: invalid arguments (Keras's checks, see :class:`BaseConv`: ``output_padding`` must be
            below ``strides``; strides > 1 with dilation_rate > 1), or an input that is not rank 4.
    """

    config_keys = ("filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate",
                   "activation", "use_bias")

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         activity_regularizer, weight_options=dict(
                             kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                             kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                             kernel_constraint=kernel_constraint, bias_constraint=bias_constraint), **kwargs)
        self.output_padding = None if output_padding is None else normalize_tuple(output_padding, 2, "output_padding",
                                                                                   allow_zero=True)
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. "
                                     f"At dimension {i}, `output_padding` is {op} but `strides` is {s}. "
                                     f"Received: output_padding={self.output_padding}, strides={self.strides}")

    def kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)  # (..., out, in): the transpose of Conv's kernel

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


Convolution2DTranspose = Conv2DTranspose
