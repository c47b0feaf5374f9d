"""``keras.layers.Conv3D`` and ``Conv3DTranspose`` (channels_last), composed from the 2-D convolution ops.

A 3-D convolution of (N, D, H, W, C) with a (kd, kh, kw, C, F) kernel is one 2-D convolution: the depth
windows are gathered as channels -- for each output depth ``o`` and kernel depth ``k`` the slab at input depth
``o * sd + k * dd`` (after TensorFlow's depth padding) -- giving (N * D_out, H, W, kd * C), convolved with the
kernel reshaped to (kh, kw, kd * C, F) by :func:`gpuflow.ops.nn_ops.fused_conv2d` (bias and ReLU fused). The
transposed layer is the exact transpose of that: one :func:`~gpuflow.ops.nn_ops.conv2d_transpose` to
(N * D_in, H_out, W_out, kd * F), then each kernel depth's slice scattered to output depth ``i * sd + k * dd``
(zero-interleaving and padding) and summed, then cropped by TensorFlow's padding rule. Both run through gpuflow
ops, so they differentiate on every backend and use the 2-D kernels; there is no 3-D primitive.
"""
from __future__ import annotations

from ...ops import array_ops as _a, nn_ops as _nn
from .. import activations as _act
from .base_conv import BaseConv, normalize_tuple
from .conv_transpose import deconv_output_length

__all__ = ["Conv3D", "Conv3DTranspose", "Convolution3D", "Convolution3DTranspose", "conv3d"]


def _weight_options(kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint,
                    bias_constraint):
    return dict(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)


def _depth_padding(size, kernel, stride, dilation, padding, out_size):
    """TensorFlow's (front, back) zero padding of the depth axis of a convolution from ``size`` to ``out_size``."""
    if padding == "valid":
        return 0, 0
    total = max((out_size - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def conv3d(inputs, kernel, bias, strides, padding, dilation_rate, fused=None, op="conv3d"):
    """The 3-D convolution of (N, D, H, W, C) ``inputs`` with a (kd, kh, kw, C, F) ``kernel`` (and an optional (F,)
    ``bias`` and ReLU ``fused``), TensorFlow's padding rules, as one 2-D convolution (see the module docstring).

    Returns:
        (N, D_out, H_out, W_out, F).
    """
    n, d, h, w, c = inputs.shape
    (kd, kh, kw), (sd, sh, sw), (dd, dh, dw) = kernel.shape[:3], strides, dilation_rate
    f = kernel.shape[-1]
    d_out = _nn.conv_output_size(d, kd, sd, dd, padding.upper(), op)[0]
    front, back = _depth_padding(d, kd, sd, dd, padding, d_out)
    x = _a.pad(inputs, [[0, 0], [front, back], [0, 0], [0, 0], [0, 0]]) if front or back else inputs
    span = (d_out - 1) * sd + 1
    slabs = [x[:, k * dd:k * dd + span:sd] for k in range(kd)]  # each (n, d_out, h, w, c)
    x2 = _a.reshape(_a.concat(slabs, axis=-1) if kd > 1 else slabs[0], (n * d_out, h, w, kd * c))
    kernel2 = _a.reshape(_a.transpose(kernel, (1, 2, 0, 3, 4)), (kh, kw, kd * c, f))
    y = _nn.fused_conv2d(x2, kernel2, bias, (sh, sw), padding.upper(), (dh, dw), fused, op=op)
    return _a.reshape(y, (n, d_out) + tuple(y.shape[1:]))


class Conv3D(BaseConv):
    """3-D convolution, e.g. over volumes or video (``keras.layers.Conv3D``).

    Input (batch, d, h, w, channels) -> (batch, new_d, new_h, new_w, filters); kernel (kd, kh, kw, channels,
    filters), bias (filters,), Keras's layouts; output sizes by TensorFlow's padding rules. Runs as one 2-D
    convolution (see the module docstring).

    Raises:
        ValueError: invalid arguments (see :class:`BaseConv`), or an input that is not rank 5 or too small.
        NotImplementedError: ``groups`` > 1, ``data_format="channels_first"``.
    """

    config_keys = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
                   "activation", "use_bias")

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         activity_regularizer, weight_options=_weight_options(
                             kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                             kernel_constraint, bias_constraint), **kwargs)
        if groups != 1:
            raise NotImplementedError(f"Conv3D '{self.name}': groups > 1 is not supported yet. Received: groups={groups}")
        self.groups = 1

    def call(self, inputs):
        fused = "relu" if self.activation is _act.relu else None
        y = conv3d(inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate, fused,
                   op=self.op_name)
        return y if fused else self.activation(y)


class Conv3DTranspose(BaseConv):
    """Transposed 3-D convolution (``keras.layers.Conv3DTranspose``).

    Input (batch, d, h, w, in_channels) -> (batch, new_d, new_h, new_w, filters) with Keras 3's output sizes (see
    :func:`~gpuflow.keras.layers.conv_transpose.deconv_output_length`); kernel (kd, kh, kw, filters, in_channels)
    and bias (filters,), Keras's layouts. The output equals TensorFlow's ``conv3d_transpose`` for that output
    shape: the transpose of :class:`Conv3D` (see the module docstring).

    Raises:
        ValueError: invalid arguments (``output_padding`` must be below ``strides``; see :class:`BaseConv`), or an
            input that is not rank 5.
    """

    config_keys = ("filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate",
                   "activation", "use_bias")

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         activity_regularizer, weight_options=_weight_options(
                             kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                             kernel_constraint, bias_constraint), **kwargs)
        self.output_padding = None if output_padding is None else normalize_tuple(output_padding, 3, "output_padding",
                                                                                   allow_zero=True)
        for i, (op, s) in enumerate(zip(self.output_padding or (), self.strides)):
            if op >= s:
                raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. At "
                                 f"dimension {i}, `output_padding` is {op} but `strides` is {s}. Received: "
                                 f"output_padding={self.output_padding}, strides={self.strides}")

    def kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)  # (..., out, in): the transpose of Conv3D's kernel

    def compute_output_shape(self, input_shape):
        sizes = [deconv_output_length(input_shape[1 + i], self.kernel_size[i], self.strides[i], self.padding,
                                      None if self.output_padding is None else self.output_padding[i],
                                      self.dilation_rate[i]) for i in range(3)]
        return (input_shape[0], *sizes, self.filters)

    def call(self, inputs):
        n, d, h, w, c = inputs.shape
        (kd, kh, kw), (sd, sh, sw), (dd, dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        _, d_out, h_out, w_out, f = self.compute_output_shape(tuple(inputs.shape))
        kernel = _a.reshape(_a.transpose(self.kernel, (1, 2, 0, 3, 4)), (kh, kw, kd * f, c))
        y = _nn.conv2d_transpose(_a.reshape(inputs, (n * d, h, w, c)), kernel, (n * d, h_out, w_out, kd * f),
                                 (sh, sw), self.padding.upper(), dilations=(dh, dw))
        y = _a.reshape(y, (n, d, h_out, w_out, kd, f))
        # input depth i reaches full-length depth i * sd + k * dd: interleave sd - 1 zeros, shift by k * dd
        span, full = (d - 1) * sd + 1, (d - 1) * sd + (kd - 1) * dd + 1
        total = None
        for k in range(kd):
            yk = y[:, :, :, :, k]
            if sd > 1:
                yk = _a.reshape(_a.pad(_a.expand_dims(yk, 2), [[0, 0], [0, 0], [0, sd - 1], [0, 0], [0, 0], [0, 0]]),
                                (n, d * sd, h_out, w_out, f))[:, :span]
            yk = _a.pad(yk, [[0, 0], [k * dd, full - span - k * dd], [0, 0], [0, 0], [0, 0]])
            total = yk if total is None else total + yk
        front, _ = _depth_padding(d_out, kd, sd, dd, self.padding, d)  # the padding of the conv transposed
        total = total[:, front:front + d_out]
        if total.shape[1] < d_out:
            total = _a.pad(total, [[0, 0], [0, d_out - total.shape[1]], [0, 0], [0, 0], [0, 0]])
        if self.bias is not None:
            total = total + self.bias
        return self.activation(total)


Convolution3D = Conv3D
Convolution3DTranspose = Conv3DTranspose
