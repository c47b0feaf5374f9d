"""Conv2D (``keras.layers.Conv2D``), channels_last."""
from __future__ import annotations

from ...ops import nn_ops as _nn
from .. import activations as _act
from .base import InputSpec
from .base_conv import BaseConv


class Conv2D(BaseConv):
    """2-D convolution layer (``keras.layers.Conv2D``).

    Input (batch, height, width, channels) -> output (batch, new_height,
    new_width, filters); kernel (kh, kw, channels, filters), bias (filters,).
    Output sizes follow TensorFlow's padding rules (see
    :func:`gpuflow.ops.nn_ops.conv_output_size`). A ReLU activation and the bias
    run fused into the convolution op.

    Raises:
        ValueError: invalid arguments (naming them, see :class:`BaseConv`), or an
            input that is not rank 4 or too small for the kernel.
        NotImplementedError: ``groups`` > 1, ``data_format="channels_first"``.
    """

    config_keys = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
                   "activation", "use_bias")

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         activity_regularizer, weight_options=dict(
                             kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                             kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                             kernel_constraint=kernel_constraint, bias_constraint=bias_constraint), **kwargs)
        if groups != 1:
            raise NotImplementedError(f"Conv2D '{self.name}': groups > 1 is not supported yet. Received: groups={groups}")
        self.groups = 1
        self.input_spec = InputSpec(min_ndim=4)  # Keras's Conv2D message for an input of too low a rank

    def call(self, inputs):
        fused = "relu" if self.activation is _act.relu else None
        y = _nn.fused_conv2d(inputs, self.kernel, self.bias, self.strides, self.padding.upper(), self.dilation_rate,
                             fused, op=self.op_name)
        return y if fused else self.activation(y)
