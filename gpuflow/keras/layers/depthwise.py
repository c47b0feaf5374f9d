"""``keras.layers.DepthwiseConv2D`` and ``keras.layers.SeparableConv2D`` (channels_last).

Both run on :func:`gpuflow.ops.nn_ops.depthwise_conv2d`, which is written with ops only: one
strided slice of the padded input per kernel offset times that offset's (channels, multiplier)
weights, accumulated. Its cost is the true depthwise FLOP count, 2*kh*kw*N*OH*OW*C*M, spent in
~5*kh*kw elementwise ops over (N, OH, OW, C, M) arrays (memory-bound: ~3 output-sized passes per
offset); there is no dedicated kernel yet.
"""
from __future__ import annotations

from ...ops import nn_ops as _nn
from .. import activations as _act, initializers as _init
from .base import Layer, InputSpec
from .conv import normalize_tuple, normalize_padding, normalize_data_format
from .core import _positive_int


def _conv_out(input_shape, kernel_size, strides, padding, dilation_rate, channels, op):
    out = [input_shape[0]]
    for i in range(2):
        size = input_shape[1 + i]
        out.append(None if size is None else _nn.conv_output_size(size, kernel_size[i], strides[i], dilation_rate[i],
                                                                  padding.upper(), op)[0])
    return tuple(out) + (channels,)


class DepthwiseConv2D(Layer):
    """Depthwise 2-D convolution (``keras.layers.DepthwiseConv2D``): each input channel is convolved
    with ``depth_multiplier`` filters of its own.

    Input (batch, h, w, C) -> (batch, out_h, out_w, C * depth_multiplier), output channel
    ``c * depth_multiplier + m`` coming from input channel c (TensorFlow's order). Weights:
    ``kernel`` (kh, kw, C, depth_multiplier) and ``bias`` (C * depth_multiplier,), Keras's names
    and layout. Output sizes follow TensorFlow's padding rules. Cost: see the module docstring.

    Raises:
        ValueError: invalid arguments (naming them), an input that is not rank 4 or is too small.
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._set_weight_options(depthwise_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
                                 depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", self)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding, self)
        self.data_format = normalize_data_format(data_format, f"DepthwiseConv2D '{self.name}'")
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        self.activation = _act.get(activation)
        self.use_bias = use_bias
        self.depthwise_initializer = _init.get(depthwise_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs should be defined. Received: input_shape={input_shape}")
        self.compute_output_shape(input_shape)  # an input too small for the kernel fails here, as Keras
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (channels, self.depth_multiplier),
                                      initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        self.bias = self.add_weight(name="bias", shape=(channels * self.depth_multiplier,),
                                    initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        y = _nn.depthwise_conv2d(inputs, self.kernel, self.strides, self.padding.upper(), dilations=self.dilation_rate)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return _conv_out(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate,
                         input_shape[-1] * self.depth_multiplier, f'DepthwiseConv2D "{self.name}"')

    def get_config(self):
        c = super().get_config()
        c.update({"depth_multiplier": self.depth_multiplier, "kernel_size": self.kernel_size, "strides": self.strides,
                  "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                  "activation": _act.serialize(self.activation), "use_bias": self.use_bias,
                  "depthwise_initializer": _init.serialize(self.depthwise_initializer),
                  "bias_initializer": _init.serialize(self.bias_initializer),
                  **self._weight_options_config("depthwise_regularizer", "bias_regularizer", "activity_regularizer",
                                                "depthwise_constraint", "bias_constraint")})
        return c


class SeparableConv2D(Layer):
    """Depthwise convolution followed by a pointwise (1x1) convolution (``keras.layers.SeparableConv2D``).

    Input (batch, h, w, C) -> (batch, out_h, out_w, filters). Weights, Keras's names and layout:
    ``depthwise_kernel`` (kh, kw, C, depth_multiplier), ``pointwise_kernel``
    (1, 1, C * depth_multiplier, filters), ``bias`` (filters,). Strides and dilation apply to the
    depthwise step. Cost: the depthwise step as DepthwiseConv2D, then one Conv2D GEMM.

    Raises:
        ValueError: invalid arguments (naming them), an input that is not rank 4 or is too small.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._set_weight_options(depthwise_regularizer=depthwise_regularizer,
                                 pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                                 depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                                 bias_constraint=bias_constraint)
        self.filters = _positive_int(filters, "filters", self)
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", self)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding, self)
        self.data_format = normalize_data_format(data_format, f"SeparableConv2D '{self.name}'")
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        self.activation = _act.get(activation)
        self.use_bias = use_bias
        self.depthwise_initializer = _init.get(depthwise_initializer)
        self.pointwise_initializer = _init.get(pointwise_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs should be defined. Received: input_shape={input_shape}")
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self.add_weight(name="depthwise_kernel",
                                                shape=self.kernel_size + (channels, self.depth_multiplier),
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(name="pointwise_kernel",
                                                shape=(1, 1, channels * self.depth_multiplier, self.filters),
                                                initializer=self.pointwise_initializer,
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        y = _nn.depthwise_conv2d(inputs, self.depthwise_kernel, self.strides, self.padding.upper(),
                                 dilations=self.dilation_rate)
        fused = "relu" if self.activation is _act.relu else None
        y = _nn.fused_conv2d(y, self.pointwise_kernel, self.bias, 1, "VALID", 1, fused,
                             op=f'SeparableConv2D "{self.name}"')
        return y if fused else self.activation(y)

    def compute_output_shape(self, input_shape):
        return _conv_out(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate, self.filters,
                         f'SeparableConv2D "{self.name}"')

    def get_config(self):
        c = super().get_config()
        c.update({"depth_multiplier": self.depth_multiplier, "filters": self.filters,
                  "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                  "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                  "activation": _act.serialize(self.activation), "use_bias": self.use_bias,
                  "depthwise_initializer": _init.serialize(self.depthwise_initializer),
                  "pointwise_initializer": _init.serialize(self.pointwise_initializer),
                  "bias_initializer": _init.serialize(self.bias_initializer),
                  **self._weight_options_config("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
                                                "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                                                "bias_constraint")})
        return c


SeparableConvolution2D = SeparableConv2D
