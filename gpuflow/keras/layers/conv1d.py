"""``keras.layers.Conv1D`` and ``Conv1DTranspose`` (channels_last), as 2-D convolutions of height 1.

A 1-D convolution of (batch, steps, channels) is the 2-D convolution of (batch, 1, steps, channels) with a
(1, kernel_size) kernel: the layers reshape at their boundary and run the 2-D ops (and their CUDA kernels);
no separate 1-D primitive exists.
"""
from __future__ import annotations

from ...ops import array_ops as _a, nn_ops as _nn
from .. import activations as _act
from .base import InputSpec
from .base_conv import BaseConv, conv_output_shape, normalize_tuple
from .conv_transpose import deconv_output_length


def _weight_options(kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint,
                    bias_constraint):
    return dict(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)


def _as_2d(x):
    """(batch, steps, channels) -> (batch, 1, steps, channels)."""
    return _a.expand_dims(x, 1)


class Conv1D(BaseConv):
    """1-D convolution layer, e.g. temporal convolution (``keras.layers.Conv1D``).

    Input (batch, steps, channels) -> (batch, new_steps, filters); kernel (kernel_size, channels, filters),
    bias (filters,), Keras's layouts. ``padding`` is "valid", "same" or "causal" (zeros on the left only, so
    output step t sees inputs up to t: ``dilation_rate * (kernel_size - 1)`` of them, as Keras); output
    lengths follow TensorFlow's padding rules. Runs as :func:`gpuflow.ops.nn_ops.fused_conv2d` on
    (batch, 1, steps, channels), bias and ReLU fused.

    Raises:
        ValueError: invalid arguments (see :class:`BaseConv`), or an input that is not rank 3 or too short
            for the kernel.
        NotImplementedError: ``groups`` > 1, ``data_format="channels_first"``.
    """

    config_keys = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
                   "activation", "use_bias")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        causal = isinstance(padding, str) and padding.lower() == "causal"
        super().__init__(1, filters, kernel_size, strides, "valid" if causal else padding, data_format,
                         dilation_rate, activation, use_bias, activity_regularizer,
                         weight_options=_weight_options(kernel_initializer, bias_initializer, kernel_regularizer,
                                                        bias_regularizer, kernel_constraint, bias_constraint),
                         **kwargs)
        if causal:
            self.padding = "causal"
        if groups != 1:
            raise NotImplementedError(f"Conv1D '{self.name}': groups > 1 is not supported yet. "
                                      f"Received: groups={groups}")
        self.groups = 1

    def _left_pad(self):
        return self.dilation_rate[0] * (self.kernel_size[0] - 1) if self.padding == "causal" else 0

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        padded = (input_shape[0], None if steps is None else steps + self._left_pad(), input_shape[2])
        return conv_output_shape(padded, self.kernel_size, self.strides, "valid" if self.padding == "causal"
                                 else self.padding, self.dilation_rate, self.filters, self.op_name)

    def call(self, inputs):
        if self._left_pad():
            inputs = _a.pad(inputs, [[0, 0], [self._left_pad(), 0], [0, 0]])
        padding = "VALID" if self.padding == "causal" else self.padding.upper()
        fused = "relu" if self.activation is _act.relu else None
        y = _nn.fused_conv2d(_as_2d(inputs), _a.expand_dims(self.kernel, 0), self.bias, (1,) + self.strides, padding,
                             (1,) + self.dilation_rate, fused, op=self.op_name)
        y = _a.squeeze(y, 1)
        return y if fused else self.activation(y)


class Conv1DTranspose(BaseConv):
    """Transposed 1-D convolution (``keras.layers.Conv1DTranspose``).

    Input (batch, steps, in_channels) -> (batch, new_steps, filters) with Keras 3's output length (see
    :func:`~gpuflow.keras.layers.conv_transpose.deconv_output_length`); kernel (kernel_size, filters,
    in_channels) and bias (filters,), Keras's layouts. Runs as
    :func:`gpuflow.ops.nn_ops.conv2d_transpose` on (batch, 1, steps, in_channels).

    Raises:
        ValueError: invalid arguments (``output_padding`` must be below ``strides``; see :class:`BaseConv`), or
            an input that is not rank 3.
    """

    config_keys = ("filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate",
                   "activation", "use_bias")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         activity_regularizer,
                         weight_options=_weight_options(kernel_initializer, bias_initializer, kernel_regularizer,
                                                        bias_regularizer, kernel_constraint, bias_constraint),
                         **kwargs)
        self.output_padding = None if output_padding is None else normalize_tuple(output_padding, 1, "output_padding",
                                                                                   allow_zero=True)
        if self.output_padding is not None and self.output_padding[0] >= self.strides[0]:
            raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. At dimension "
                             f"0, `output_padding` is {self.output_padding[0]} but `strides` is {self.strides[0]}. "
                             f"Received: output_padding={self.output_padding}, strides={self.strides}")
        self.input_spec = InputSpec(ndim=3)

    def kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)  # (..., out, in): the transpose of Conv's kernel

    def compute_output_shape(self, input_shape):
        steps = deconv_output_length(input_shape[1], self.kernel_size[0], self.strides[0], self.padding,
                                     None if self.output_padding is None else self.output_padding[0],
                                     self.dilation_rate[0])
        return (input_shape[0], steps, self.filters)

    def call(self, inputs):
        n, steps, f = self.compute_output_shape(tuple(inputs.shape))
        y = _nn.conv2d_transpose(_as_2d(inputs), _a.expand_dims(self.kernel, 0), (n, 1, steps, f),
                                 (1,) + self.strides, self.padding.upper(), dilations=(1,) + self.dilation_rate)
        y = _a.squeeze(y, 1)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)


Convolution1D = Conv1D
Convolution1DTranspose = Conv1DTranspose
