"""Neural-network ops (``gpuflow.nn``, TensorFlow's ``tf.nn``): activations, conv2d,
pooling, dropout, the fused layer ops Keras layers use, and cross-entropies.

Layout is NHWC, kernels (kh, kw, in, out), as TensorFlow. Padding follows
TensorFlow's definition: ``VALID`` uses no padding; ``SAME`` gives
``out = ceil(in / stride)`` with ``total = max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)``
pixels of padding, ``total // 2`` before and the rest after
(https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2).

Convolution, pooling and dense go through the backend primitives; their
backward passes are primitives too, recorded as ops without a second
derivative (see :mod:`gpuflow.autodiff`).
"""
from __future__ import annotations

import numpy as np

from .core import convert_to_tensor, make_op, wrap, check_same_device
from . import math_ops as M
from .array_ops import getitem, reshape

__all__ = [
    "relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "conv2d", "max_pool2d", "avg_pool2d",
    "dropout", "bias_add", "sparse_softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits", "conv_output_size",
    "fused_conv2d", "fused_dense", "leaky_relu", "elu", "selu", "softplus", "silu", "swish",
]

sigmoid = M.sigmoid
tanh = M.tanh


def _float_input(x, op):
    x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"{op} expects a floating-point tensor. Received: dtype={x.dtype.name}")
    return x


# -- activations ------------------------------------------------------------------
def relu(features, name=None):
    """``max(features, 0)`` (``tf.nn.relu``); gradient 0 at 0."""
    x = _float_input(features, "relu")
    out = None
    out = make_op("Relu", (x,), x._backend.xp.maximum(x._data, 0), lambda g, n: (g * M.cast(out > 0, g.dtype),))
    return out


def relu6(features, name=None):
    """``min(max(features, 0), 6)``."""
    return M.clip_by_value(_float_input(features, "relu6"), 0.0, 6.0)


def leaky_relu(features, alpha=0.2, name=None):
    """``x if x > 0 else alpha * x`` (``tf.nn.leaky_relu``, default alpha 0.2)."""
    x = _float_input(features, "leaky_relu")
    return M.where(x > 0, x, x * alpha)


def elu(features, alpha=1.0, name=None):
    x = _float_input(features, "elu")
    return M.where(x > 0, x, alpha * (M.exp(M.minimum(x, 0.0)) - 1))


def selu(features, name=None):
    """Scaled ELU with the constants of Klambauer et al. 2017."""
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * elu(features, alpha)


def softplus(features, name=None):
    """``log(1 + exp(x))`` computed stably as ``max(x, 0) + log1p(exp(-|x|))``.

    ``max`` and ``-|x|`` are written as selects on ``x >= 0`` (as TensorFlow's
    sigmoid cross-entropy does) so that the kinks cancel and the gradient at
    ``x = 0`` is the true ``sigmoid(0) = 1/2``.
    """
    x = _float_input(features, "softplus")
    return _relu_plus_log1p_exp_neg_abs(x)


def _relu_plus_log1p_exp_neg_abs(x):
    cond = x >= 0
    return M.where(cond, x, 0.0) + M.log1p(M.exp(M.where(cond, -x, x)))


def silu(features, beta=1.0, name=None):
    """``x * sigmoid(beta * x)`` (swish)."""
    x = _float_input(features, "silu")
    return x * M.sigmoid(beta * x)


swish = silu


def softmax(logits, axis=-1, name=None):
    """``exp(x) / sum(exp(x))`` along ``axis``, max-subtracted for stability (``tf.nn.softmax``)."""
    x = _float_input(logits, "softmax")
    xp = x._backend.xp
    e = xp.exp(x._data - xp.max(x._data, axis=axis, keepdims=True))
    e /= xp.sum(e, axis=axis, keepdims=True)
    out = None

    def vjp(g, n):
        return (out * (g - M.reduce_sum(g * out, axis=axis, keepdims=True)),)
    out = make_op("Softmax", (x,), e, vjp)
    return out


def log_softmax(logits, axis=-1, name=None):
    """``x - log(sum(exp(x)))`` along ``axis``, computed stably (``tf.nn.log_softmax``)."""
    x = _float_input(logits, "log_softmax")
    xp = x._backend.xp
    shifted = x._data - xp.max(x._data, axis=axis, keepdims=True)
    data = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
    out = None

    def vjp(g, n):
        return (g - M.exp(out) * M.reduce_sum(g, axis=axis, keepdims=True),)
    out = make_op("LogSoftmax", (x,), data, vjp)
    return out


def bias_add(value, bias, data_format=None, name=None):
    """Adds a 1-D bias to the last axis (``tf.nn.bias_add``, NHWC).

    Raises:
        ValueError: if ``bias`` is not 1-D of size ``value.shape[-1]``.
    """
    x = _float_input(value, "bias_add")
    b = convert_to_tensor(bias, dtype=x.dtype)
    if b.ndim != 1 or b.shape[0] != x.shape[-1]:
        raise ValueError(f"bias_add: bias must be 1-D with size value.shape[-1]={x.shape[-1]}. "
                         f"Received: bias.shape={tuple(b.shape)}")
    return x + b


# -- convolution and pooling ----------------------------------------------------
def _pair(v, name, op, n_dims=2):
    """Normalises an int, a pair, or TF's length-4 NHWC list to an (h, w) pair."""
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) == 2:
        return v
    if len(v) == 4:
        if v[0] != 1 or v[3] != 1:
            raise ValueError(f"{op}: {name} along the batch and channel axes must be 1. Received: {name}={list(v)}")
        return (v[1], v[2])
    raise ValueError(f"{op}: {name} must be an int or a list of 1, 2 or 4 ints. Received: {name}={list(v)}")


def conv_output_size(in_size, k, s, d, padding, op="conv2d"):
    """Output size and (before, after) padding of one spatial axis (see module docstring).

    Raises:
        ValueError: if the output would be empty.
    """
    eff = (k - 1) * d + 1
    if padding == "VALID":
        out = (in_size - eff) // s + 1
        pads = (0, 0)
    elif padding == "SAME":
        out = -(-in_size // s)
        total = max((out - 1) * s + eff - in_size, 0)
        pads = (total // 2, total - total // 2)
    else:  # explicit (before, after)
        pads = tuple(padding)
        out = (in_size + pads[0] + pads[1] - eff) // s + 1
    if out <= 0:
        raise ValueError(f"{op}: the input is too small for the window. Received: input size {in_size} along a "
                         f"spatial axis, window {k} (dilation {d}, effective {eff}), stride {s}, "
                         f"padding={padding!r}, which gives an output size of {out}.")
    return out, pads


def _padding_arg(padding, op):
    if isinstance(padding, str):
        p = padding.upper()
        if p not in ("SAME", "VALID"):
            raise ValueError(f"{op}: unknown padding. Expected 'SAME' or 'VALID' (or 'same'/'valid'). "
                             f"Received: padding={padding!r}")
        return p, p
    p = [tuple(int(a) for a in pair) for pair in padding]
    if len(p) == 4:
        if p[0] != (0, 0) or p[3] != (0, 0):
            raise ValueError(f"{op}: explicit padding of the batch and channel axes must be 0. Received: {padding}")
        p = p[1:3]
    if len(p) != 2:
        raise ValueError(f"{op}: explicit padding must be [[0,0],[top,bottom],[left,right],[0,0]]. Received: {padding}")
    return p[0], p[1]


def _spatial(x_shape, k, strides, dilations, padding, op):
    ph, pw = _padding_arg(padding, op)
    oh, (pt, pb) = conv_output_size(x_shape[1], k[0], strides[0], dilations[0], ph, op)
    ow, (pl, pr) = conv_output_size(x_shape[2], k[1], strides[1], dilations[1], pw, op)
    return (oh, ow), (pt, pb, pl, pr)


def _check_nhwc(x, op, data_format):
    if data_format not in (None, "NHWC", "channels_last"):
        raise ValueError(f"{op}: only data_format='NHWC' (channels_last) is supported. Received: {data_format!r}")
    if x.ndim != 4:
        raise ValueError(f"{op} expects input of rank 4 (batch, height, width, channels). "
                         f"Received: shape={tuple(x.shape)}")


def conv2d(input, filters, strides=1, padding="VALID", data_format="NHWC", dilations=None, name=None):  # noqa: A002
    """2-D convolution (``tf.nn.conv2d``; strictly cross-correlation, as TF and Keras).

    Args:
        input: (N, H, W, C) float tensor.
        filters: (kh, kw, C, F) tensor of the same dtype.
        strides: int, pair, or [1, sh, sw, 1].
        padding: ``"SAME"``, ``"VALID"`` or explicit [[0,0],[t,b],[l,r],[0,0]].
        dilations: int, pair, or [1, dh, dw, 1] (default 1).

    Returns:
        (N, OH, OW, F) tensor.

    Raises:
        ValueError: wrong ranks, channel mismatch, or an input too small for the kernel.
    """
    return fused_conv2d(input, filters, None, strides, padding, dilations, None, data_format=data_format)


def fused_conv2d(x, w, b=None, strides=1, padding="VALID", dilations=None, activation=None,
                 data_format="NHWC", op="conv2d"):
    """conv2d + optional bias + optional ReLU, one op (what Keras's Conv2D layer runs).

    The bias and ReLU are an epilogue on the convolution's output buffer, and the
    backward pass applies the ReLU mask and reduces the bias gradient in one pass.

    Args:
        x: (N, H, W, C); w: (kh, kw, C, F); b: (F,) or None; activation: None or "relu".
        op: the name used in error messages (a layer passes its own).
    """
    x = _float_input(x, op)
    _check_nhwc(x, op, data_format)
    w = convert_to_tensor(w)
    if w.dtype != x.dtype:
        raise TypeError(f"{op}: filters must have the input's dtype. Received: input.dtype={x.dtype.name}, "
                        f"filters.dtype={w.dtype.name}")
    check_same_device(op, x, w)
    if w.ndim != 4 or w.shape[2] != x.shape[3]:
        raise ValueError(f"{op}: filters must have shape (kh, kw, in_channels={x.shape[3]}, out_channels). "
                         f"Received: filters.shape={tuple(w.shape)}, input.shape={tuple(x.shape)}")
    strides = _pair(strides, "strides", op)
    dilations = _pair(1 if dilations is None else dilations, "dilations", op)
    if min(strides) < 1 or min(dilations) < 1:
        raise ValueError(f"{op}: strides and dilations must be >= 1. Received: strides={strides}, dilations={dilations}")
    _, pads = _spatial(x.shape, w.shape[:2], strides, dilations, padding, op)
    be = x._backend
    y, saved = be.conv2d_fwd(x._data, w._data, strides, dilations, pads)
    relu_on = activation == "relu"
    inputs = (x, w)
    if b is not None:
        b = convert_to_tensor(b, dtype=x.dtype)
        if tuple(b.shape) != (w.shape[3],):
            raise ValueError(f"{op}: bias must have shape (out_channels,)=({w.shape[3]},). "
                             f"Received: bias.shape={tuple(b.shape)}")
        y += b._data
        inputs = (x, w, b)
    if relu_on:
        be.xp.maximum(y, 0, out=y)
    x_shape, w_shape = tuple(x.shape), tuple(w.shape)

    def vjp(g, n):
        gd = g._data * (y > 0) if relu_on else g._data
        gx = gw = gb = None
        if n[0]:
            # The inputs list what the result depends on, so that an outer tape asking for a second
            # derivative through it gets the clear error of a non-differentiable op, not a silent None.
            gx = make_op("Conv2DBackpropInput", (g, w), be.conv2d_bwd_data(gd, w._data, x_shape, strides,
                                                                         dilations, pads, saved), None)
        if n[1]:
            gw = make_op("Conv2DBackpropFilter", (g, x), be.conv2d_bwd_filter(x._data, gd, w_shape, strides,
                                                                             dilations, pads, saved), None)
        if b is not None and n[2]:
            gb = make_op("BiasAddGrad", (g,), gd.sum(axis=(0, 1, 2)), None)
        return (gx, gw, gb)[:len(inputs)]
    return make_op("Conv2D", inputs, y, vjp)


def _pool_args(x, ksize, strides, padding, data_format, op):
    x = _float_input(x, op)
    _check_nhwc(x, op, data_format)
    k = _pair(ksize, "ksize", op)
    s = _pair(strides if strides is not None else k, "strides", op)
    if min(k) < 1 or min(s) < 1:
        raise ValueError(f"{op}: ksize and strides must be >= 1. Received: ksize={k}, strides={s}")
    if not isinstance(padding, str):
        raise ValueError(f"{op}: padding must be 'SAME' or 'VALID'. Received: padding={padding!r}")
    _, pads = _spatial(x.shape, k, s, (1, 1), padding, op)
    return x, k, s, pads


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Max pooling over (N, H, W, C) windows (``tf.nn.max_pool2d``).

    Ties go to the first element of the window; SAME padding never wins.
    """
    x, k, s, pads = _pool_args(input, ksize, strides, padding, data_format, "max_pool2d")
    be = x._backend
    y, saved = be.max_pool2d_fwd(x._data, k, s, pads)
    x_shape = tuple(x.shape)
    return make_op("MaxPool", (x,), y, lambda g, n: (
        make_op("MaxPoolGrad", (g,), be.max_pool2d_bwd(g._data, x_shape, k, s, pads, saved), None),))


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Average pooling (``tf.nn.avg_pool2d``); SAME padding is left out of each average."""
    x, k, s, pads = _pool_args(input, ksize, strides, padding, data_format, "avg_pool2d")
    be = x._backend
    x_shape = tuple(x.shape)
    return make_op("AvgPool", (x,), be.avg_pool2d_fwd(x._data, k, s, pads), lambda g, n: (
        make_op("AvgPoolGrad", (g,), be.avg_pool2d_bwd(g._data, x_shape, k, s, pads), None),))


def fused_dense(x, kernel, bias=None, activation=None, op="dense"):
    """``relu?(x @ kernel + bias)`` for rank-2 x: the fused GEMM + bias + ReLU op of Keras's Dense.

    Args:
        x: (M, K); kernel: (K, N); bias: (N,) or None; activation: None or "relu".
    """
    x = _float_input(x, op)
    w = convert_to_tensor(kernel)
    check_same_device(op, x, w)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"{op}: expected x of shape (batch, {w.shape[0] if w.ndim == 2 else 'K'}) and kernel "
                         f"(K, N). Received: x.shape={tuple(x.shape)}, kernel.shape={tuple(w.shape)}")
    if w.dtype != x.dtype:
        raise TypeError(f"{op}: kernel must have the input's dtype. Received: x.dtype={x.dtype.name}, "
                        f"kernel.dtype={w.dtype.name}")
    be = x._backend
    relu_on = activation == "relu"
    inputs = (x, w) if bias is None else (x, w, convert_to_tensor(bias, dtype=x.dtype))
    if bias is not None and tuple(inputs[2].shape) != (w.shape[1],):
        raise ValueError(f"{op}: bias must have shape (units,)=({w.shape[1]},). "
                         f"Received: bias.shape={tuple(inputs[2].shape)}")
    y = be.dense_fwd(x._data, w._data, None if bias is None else inputs[2]._data, relu_on)

    def vjp(g, n):
        dx, dw, db = be.dense_bwd(g._data, x._data, w._data, y, relu_on, n[0])
        out = [make_op("DenseBackpropInput", (g, w), dx, None) if n[0] else None,  # inputs: see fused_conv2d
               make_op("DenseBackpropFilter", (g, x), dw, None) if n[1] else None]
        if bias is not None:
            out.append(make_op("BiasAddGrad", (g,), db, None) if n[2] else None)
        return tuple(out)
    return make_op("Dense", inputs, y, vjp)


# -- dropout -------------------------------------------------------------------
def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zeroes elements with probability ``rate`` and scales the rest by ``1 / (1 - rate)`` (``tf.nn.dropout``).

    Raises:
        ValueError: ``rate`` outside [0, 1).
    """
    x = _float_input(x, "dropout")
    rate = float(rate)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1). Received: rate={rate}")
    if rate == 0:
        return x
    be = x._backend
    shape = tuple(x.shape) if noise_shape is None else tuple(int(d) for d in noise_shape)
    if seed is not None:  # its own generator, seeded by (global seed, op seed) as gpuflow.random does;
        from ..random import get_global_seed  # reseeding the backend's would reset every later draw
        rng = np.random.default_rng([get_global_seed() or 0, int(seed)])
        u = be.asarray(rng.uniform(size=shape), dtype=x._data.dtype)
    else:
        u = be.random_uniform(shape, x._data.dtype)
    keep = u >= rate
    scale = x._data.dtype.type(1.0 / (1.0 - rate))
    mask = keep.astype(x._data.dtype) * scale
    return make_op("Dropout", (x,), x._data * mask, lambda g, n: (g * wrap(mask, g),))


# -- cross-entropies -------------------------------------------------------------
def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """Per-example ``-log softmax(logits)[label]`` (``tf.nn.sparse_softmax_cross_entropy_with_logits``).

    Args:
        labels: (N...) integer class ids in [0, C).
        logits: (N..., C) floats.

    Returns:
        (N...) losses. The gradient w.r.t. logits is ``softmax - one_hot``.

    Raises:
        ValueError: shape mismatch, or a label outside [0, C) (naming it).
    """
    logits = _float_input(logits, "sparse_softmax_cross_entropy_with_logits")
    labels = convert_to_tensor(labels)
    if labels.dtype.is_floating:
        labels = M.cast(labels, "int64")
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"sparse_softmax_cross_entropy_with_logits: labels must have shape logits.shape[:-1]="
                         f"{tuple(logits.shape[:-1])}. Received: labels.shape={tuple(labels.shape)}")
    c = logits.shape[-1]
    xp = logits._backend.xp
    lab = labels._data.astype(np.int64, copy=False)
    if lab.size:
        lo, hi = int(lab.min()), int(lab.max())
        if lo < 0 or hi >= c:
            bad = hi if hi >= c else lo
            raise ValueError(f"Received a label value of {bad} which is outside the valid range of [0, {c}). "
                             f"Labels must be class ids for {c} classes.")
    z = logits._data
    shifted = z - xp.max(z, axis=-1, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))
    logp = shifted - lse
    picked = xp.take_along_axis(logp, lab[..., None], axis=-1)[..., 0]
    out = -picked

    def vjp(g, n):
        # softmax - one_hot, written with ops so that a second derivative (nested tapes) is right
        from .array_ops import one_hot
        return (None, g[..., None] * (softmax(logits) - one_hot(wrap(lab, labels), c, dtype=logits.dtype)))
    return make_op("SparseSoftmaxCrossEntropyWithLogits", (labels, logits), out, vjp, like=logits)


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Per-example ``-sum(labels * log_softmax(logits))`` (``tf.nn.softmax_cross_entropy_with_logits``)."""
    logits = _float_input(logits, "softmax_cross_entropy_with_logits")
    labels = convert_to_tensor(labels, dtype=logits.dtype)
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(f"softmax_cross_entropy_with_logits: labels and logits must have the same shape. "
                         f"Received: labels.shape={tuple(labels.shape)}, logits.shape={tuple(logits.shape)}")
    return -M.reduce_sum(labels * log_softmax(logits, axis=axis), axis=axis)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """``max(x, 0) - x * z + log(1 + exp(-|x|))`` per element, x logits and z labels
    (the overflow-free form given in ``tf.nn.sigmoid_cross_entropy_with_logits``)."""
    logits = _float_input(logits, "sigmoid_cross_entropy_with_logits")
    labels = convert_to_tensor(labels, dtype=logits.dtype)
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(f"sigmoid_cross_entropy_with_logits: labels and logits must have the same shape. "
                         f"Received: labels.shape={tuple(labels.shape)}, logits.shape={tuple(logits.shape)}")
    return _relu_plus_log1p_exp_neg_abs(logits) - logits * labels
