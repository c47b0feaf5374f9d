"""``keras.layers.DepthwiseConv1D/2D`` and ``keras.layers.SeparableConv1D/2D`` (channels_last).

The 1-D layers run the 2-D ops on (batch, 1, steps, channels) with (1, kernel_size) kernels, as Conv1D does.

Both run on :func:`gpuflow.ops.nn_ops.depthwise_conv2d`, which is written with ops only: one
strided slice of the padded input per kernel offset times that offset's (channels, multiplier)
weights, accumulated. Its cost is the true depthwise FLOP count, 2*kh*kw*N*OH*OW*C*M, spent in
~5*kh*kw elementwise ops over (N, OH, OW, C, M) arrays (memory-bound: ~3 output-sized passes per
offset); there is no dedicated kernel yet.
"""
from __future__ import annotations

from ...ops import array_ops as _a, nn_ops as _nn
from .. import activations as _act
from .._checks import check_positive_int
from .base_conv import BaseConv


def _as_2d(x, kernel, rank):
    """The input and kernel of a ``rank``-D depthwise step as the 2-D ones: rank 1 gains a height of 1."""
    return (x, kernel) if rank == 2 else (_a.expand_dims(x, 1), _a.expand_dims(kernel, 0))


def _pair(t, rank):
    """Strides or dilations of a ``rank``-D layer as the 2-D ones."""
    return tuple(t) if rank == 2 else (1,) + tuple(t)


class _BaseDepthwiseConv(BaseConv):
    """Keras 3's ``BaseDepthwiseConv`` of rank 1 or 2: see :class:`DepthwiseConv2D`."""

    weight_names = ("depthwise", "bias")
    config_keys = ("depth_multiplier", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                   "activation", "use_bias")

    def __init__(self, rank, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                 use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                 activity_regularizer, depthwise_constraint, bias_constraint, **kwargs):
        super().__init__(rank, None, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         activity_regularizer, weight_options=dict(
                             depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                             depthwise_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
                             depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint), **kwargs)
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier")

    def build_weights(self, channels):
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (channels, self.depth_multiplier),
                                      initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        self.bias = self.add_weight(name="bias", shape=(channels * self.depth_multiplier,),
                                    initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def output_channels(self, input_channels):
        return input_channels * self.depth_multiplier

    def call(self, inputs):
        x, k = _as_2d(inputs, self.kernel, self.rank)
        y = _nn.depthwise_conv2d(x, k, _pair(self.strides, self.rank), self.padding.upper(),
                                 dilations=_pair(self.dilation_rate, self.rank))
        if self.rank == 1:
            y = _a.squeeze(y, 1)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)


class DepthwiseConv2D(_BaseDepthwiseConv):
    """Depthwise 2-D convolution (``keras.layers.DepthwiseConv2D``): each input channel is convolved
    with ``depth_multiplier`` filters of its own.

    Input (batch, h, w, C) -> (batch, out_h, out_w, C * depth_multiplier), output channel
    ``c * depth_multiplier + m`` coming from input channel c (TensorFlow's order). Weights:
    ``kernel`` (kh, kw, C, depth_multiplier) and ``bias`` (C * depth_multiplier,), Keras's names
    and layout. Output sizes follow TensorFlow's padding rules. Cost: see the module docstring.

    Raises:
        ValueError: invalid arguments (naming them, see :class:`BaseConv`), an input that is not rank 4
            or is too small.
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class DepthwiseConv1D(_BaseDepthwiseConv):
    """Depthwise 1-D convolution (``keras.layers.DepthwiseConv1D``): each input channel convolved over the steps
    with ``depth_multiplier`` filters of its own.

    Input (batch, steps, C) -> (batch, new_steps, C * depth_multiplier), output channel ``c * depth_multiplier + m``
    from input channel c. Weights ``kernel`` (kernel_size, C, depth_multiplier) and ``bias``
    (C * depth_multiplier,), Keras's names and layout; TensorFlow's padding rules ("valid" or "same").

    Raises:
        ValueError: invalid arguments (see :class:`BaseConv`), an input that is not rank 3 or too short.
    """

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class _BaseSeparableConv(BaseConv):
    """Keras 3's ``BaseSeparableConv`` of rank 1 or 2: see :class:`SeparableConv2D`."""

    weight_names = ("depthwise", "pointwise", "bias")
    config_keys = ("depth_multiplier", "filters", "kernel_size", "strides", "padding", "data_format",
                   "dilation_rate", "activation", "use_bias")

    def __init__(self, rank, filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                 activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                 depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                 depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs):
        super().__init__(rank, filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, activity_regularizer, weight_options=dict(
                             depthwise_initializer=depthwise_initializer, pointwise_initializer=pointwise_initializer,
                             bias_initializer=bias_initializer, depthwise_regularizer=depthwise_regularizer,
                             pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                             depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                             bias_constraint=bias_constraint), **kwargs)
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier")

    def build_weights(self, channels):
        self.depthwise_kernel = self.add_weight(name="depthwise_kernel",
                                                shape=self.kernel_size + (channels, self.depth_multiplier),
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(name="pointwise_kernel",
                                                shape=(1,) * self.rank + (channels * self.depth_multiplier,
                                                                          self.filters),
                                                initializer=self.pointwise_initializer,
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None

    def call(self, inputs):
        x, k = _as_2d(inputs, self.depthwise_kernel, self.rank)
        y = _nn.depthwise_conv2d(x, k, _pair(self.strides, self.rank), self.padding.upper(),
                                 dilations=_pair(self.dilation_rate, self.rank))
        fused = "relu" if self.activation is _act.relu else None
        pointwise = self.pointwise_kernel if self.rank == 2 else _a.expand_dims(self.pointwise_kernel, 0)
        y = _nn.fused_conv2d(y, pointwise, self.bias, 1, "VALID", 1, fused, op=self.op_name)
        if self.rank == 1:
            y = _a.squeeze(y, 1)
        return y if fused else self.activation(y)


class SeparableConv2D(_BaseSeparableConv):
    """Depthwise convolution followed by a pointwise (1x1) convolution (``keras.layers.SeparableConv2D``).

    Input (batch, h, w, C) -> (batch, out_h, out_w, filters). Weights, Keras's names and layout:
    ``depthwise_kernel`` (kh, kw, C, depth_multiplier), ``pointwise_kernel``
    (1, 1, C * depth_multiplier, filters), ``bias`` (filters,). Strides and dilation apply to the
    depthwise step. Cost: the depthwise step as DepthwiseConv2D, then one Conv2D GEMM.

    Raises:
        ValueError: invalid arguments (naming them, see :class:`BaseConv`), an input that is not rank 4
            or is too small.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class SeparableConv1D(_BaseSeparableConv):
    """Depthwise 1-D convolution followed by a pointwise one (``keras.layers.SeparableConv1D``).

    Input (batch, steps, C) -> (batch, new_steps, filters). Weights, Keras's names and layout:
    ``depthwise_kernel`` (kernel_size, C, depth_multiplier), ``pointwise_kernel`` (1, C * depth_multiplier,
    filters), ``bias`` (filters,). Strides and dilation apply to the depthwise step.

    Raises:
        ValueError: invalid arguments (see :class:`BaseConv`), an input that is not rank 3 or too short.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
