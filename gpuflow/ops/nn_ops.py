"""Neural-network ops (``gpuflow.nn``, TensorFlow's ``tf.nn``): activations, conv2d,
pooling, dropout, the fused layer ops Keras layers use, and cross-entropies.

Layout is NHWC, kernels (kh, kw, in, out), as TensorFlow. Padding follows
TensorFlow's definition: ``VALID`` uses no padding; ``SAME`` gives
``out = ceil(in / stride)`` with ``total = max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)``
pixels of padding, ``total // 2`` before and the rest after
(https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2). Every convolution and pooling
resolves it once into a :class:`~gpuflow.backend.geometry.ConvGeometry` (output size by
:func:`conv_output_size`, re-exported here), which it hands to the backend primitives.

Convolution, pooling and dense go through the backend primitives; their
backward passes are primitives too, recorded as ops without a second
derivative (:func:`~gpuflow.ops.core.make_gradient_op`).
"""
from __future__ import annotations

import numpy as np

from .. import autodiff
from ..backend.geometry import ConvGeometry, conv_output_size
from .core import convert_to_tensor, make_op, make_gradient_op, wrap, check_same_device
from . import math_ops as M
from .array_ops import getitem, reshape

__all__ = [
    "relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "conv2d", "max_pool2d", "avg_pool2d",
    "dropout", "bias_add", "sparse_softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits", "conv_output_size",
    "fused_conv2d", "fused_dense", "leaky_relu", "elu", "selu", "softplus", "silu", "swish",
    "erf", "gelu", "conv2d_transpose", "depthwise_conv2d", "separable_conv2d", "moments", "batch_normalization",
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
def _pair(v, name, op):
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


def _check_nhwc(x, op, data_format):
    if data_format not in (None, "NHWC", "channels_last"):
        raise ValueError(f"{op}: only data_format='NHWC' (channels_last) is supported. Received: {data_format!r}")
    if x.ndim != 4:
        raise ValueError(f"{op} expects input of rank 4 (batch, height, width, channels). "
                         f"Received: shape={tuple(x.shape)}")


def _conv_operands(x, w, op, data_format, name):
    """The float NHWC input and a filter tensor of the same dtype and device, as every convolution needs.

    Raises:
        TypeError: a non-float input or a filter of another dtype. ValueError: not rank 4, or another device.
    """
    x = _float_input(x, op)
    _check_nhwc(x, op, data_format)
    w = convert_to_tensor(w)
    if w.dtype != x.dtype:
        raise TypeError(f"{op}: {name} must have the input's dtype. Received: input.dtype={x.dtype.name}, "
                        f"{name}.dtype={w.dtype.name}")
    check_same_device(op, x, w)
    return x, w


def _strides_dilations(strides, dilations, op):
    """``(h, w)`` strides and dilations (dilations default to 1), each at least 1.

    Raises:
        ValueError: a value below 1, naming the op and both pairs.
    """
    strides = _pair(strides, "strides", op)
    dilations = _pair(1 if dilations is None else dilations, "dilations", op)
    if min(strides) < 1 or min(dilations) < 1:
        raise ValueError(f"{op}: strides and dilations must be >= 1. Received: strides={strides}, dilations={dilations}")
    return strides, dilations


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


def _conv_args(x, w, b, strides, padding, dilations, data_format, op):
    """The checked operands of a convolution with an optional bias: (x, w, b, geometry, inputs), where
    inputs lists the op's differentiable inputs."""
    x, w = _conv_operands(x, w, op, data_format, "filters")
    if w.ndim != 4 or w.shape[2] != x.shape[3]:
        raise ValueError(f"{op}: filters must have shape (kh, kw, in_channels={x.shape[3]}, out_channels). "
                         f"Received: filters.shape={tuple(w.shape)}, input.shape={tuple(x.shape)}")
    strides, dilations = _strides_dilations(strides, dilations, op)
    geometry = ConvGeometry.of(x.shape, w.shape[:2], strides, dilations, padding, op)
    inputs = (x, w)
    if b is not None:
        b = convert_to_tensor(b, dtype=x.dtype)
        if tuple(b.shape) != (w.shape[3],):
            raise ValueError(f"{op}: bias must have shape (out_channels,)=({w.shape[3]},). "
                             f"Received: bias.shape={tuple(b.shape)}")
        inputs = (x, w, b)
    return x, w, b, geometry, inputs


def _conv_grads(inputs, g, n, dx, dw, db):
    """The gradient tensors of a convolution op's (x, w[, b]) from its backward primitive's arrays."""
    x, w = inputs[:2]
    gx = make_gradient_op("Conv2DBackpropInput", (g, w), dx) if n[0] else None
    gw = make_gradient_op("Conv2DBackpropFilter", (g, x), dw) if n[1] else None
    gb = make_gradient_op("BiasAddGrad", (g,), db) if db is not None else None
    return (gx, gw, gb)[:len(inputs)]


def fused_conv2d(x, w, b=None, strides=1, padding="VALID", dilations=None, activation=None,
                 data_format="NHWC", op="conv2d"):
    """conv2d + optional bias + optional ReLU, one op (what Keras's Conv2D layer runs).

    The bias and ReLU are an epilogue on the convolution's output buffer, and the
    backward pass applies the ReLU mask and reduces the bias gradient in one pass.

    Args:
        x: (N, H, W, C); w: (kh, kw, C, F); b: (F,) or None; activation: None or "relu".
        op: the name used in error messages (a layer passes its own).
    """
    x, w, b, geometry, inputs = _conv_args(x, w, b, strides, padding, dilations, data_format, op)
    be = x._backend
    relu_on = activation == "relu"
    y, saved = be.conv2d_fwd(x._data, w._data, geometry, b=None if b is None else b._data, relu=relu_on)

    def vjp(g, n):
        return _conv_grads(inputs, g, n, *be.conv2d_bwd(g._data, w._data, geometry, x=x._data, y=y, saved=saved,
                                                        relu=relu_on, need_dx=n[0], need_dw=n[1],
                                                        need_db=b is not None and n[2]))
    return make_op("Conv2D", inputs, y, vjp)


def fused_conv2d_maxpool(x, w, b=None, strides=1, padding="VALID", dilations=None, activation=None, pool_size=2,
                         data_format="NHWC", op="conv2d+max_pool2d"):
    """``max_pool2d(relu?(conv2d(x, w) + b), pool_size, strides=pool_size, "VALID")`` as one op.

    What Keras's Conv2D followed by MaxPooling2D(pool_size) computes, with the same result and gradients
    (exactly: max commutes with the per-channel bias and with ReLU, both monotonic, in floating point too;
    the ReLU mask of each window's winner is ``y > 0`` of the pooled output). On the CPU the pooling runs on
    each block of the convolution's output while it is in cache, and the backward pass routes the pooled
    gradient straight into the convolution's backward sweep: the full-size conv output and its gradient are
    never written to memory. Sequential and functional Keras models use it for a Conv2D whose only reader
    is such a MaxPooling2D.

    Args:
        x: (N, H, W, C); w: (kh, kw, C, F); b: (F,) or None; activation: None or "relu";
        pool_size: int or pair, the pooling window and stride.

    Returns:
        (N, OH // ph, OW // pw, F), OH x OW being the convolution's output size.

    Raises:
        ValueError: as :func:`fused_conv2d`, a pool_size below 1, or a conv output smaller than the window.
    """
    x, w, b, geometry, inputs = _conv_args(x, w, b, strides, padding, dilations, data_format, op)
    (oh, ow), pool = geometry.output_hw, _pair(pool_size, "pool_size", op)
    if min(pool) < 1 or oh < pool[0] or ow < pool[1]:
        raise ValueError(f"{op}: pool_size must be >= 1 and fit the convolution's output. Received: "
                         f"pool_size={pool}, convolution output (height, width)=({oh}, {ow})")
    be = x._backend
    relu_on = activation == "relu"
    # Outside a tape (inference) nothing will read the winners: the backend may skip them (15 % of predict).
    y, saved = be.conv2d_maxpool_fwd(x._data, w._data, geometry, pool, b=None if b is None else b._data,
                                     relu=relu_on, need_saved=autodiff.is_recording())

    def vjp(g, n):
        return _conv_grads(inputs, g, n, *be.conv2d_maxpool_bwd(g._data, w._data, geometry, pool, saved=saved,
                                                                x=x._data, y=y, relu=relu_on, need_dx=n[0],
                                                                need_dw=n[1], need_db=b is not None and n[2]))
    return make_op("Conv2DMaxPool", inputs, y, vjp)


def _pool_args(x, ksize, strides, padding, data_format, op):
    x = _float_input(x, op)
    _check_nhwc(x, op, data_format)
    k = _pair(ksize, "ksize", op)
    s = _pair(strides if strides is not None else k, "strides", op)
    if min(k) < 1 or min(s) < 1:
        raise ValueError(f"{op}: ksize and strides must be >= 1. Received: ksize={k}, strides={s}")
    if not isinstance(padding, str):
        raise ValueError(f"{op}: padding must be 'SAME' or 'VALID'. Received: padding={padding!r}")
    return x, ConvGeometry.of(x.shape, k, s, (1, 1), padding, op)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Max pooling over (N, H, W, C) windows (``tf.nn.max_pool2d``).

    Ties go to the first element of the window; SAME padding never wins.
    """
    x, geometry = _pool_args(input, ksize, strides, padding, data_format, "max_pool2d")
    be = x._backend
    y, saved = be.max_pool2d_fwd(x._data, geometry, need_saved=autodiff.is_recording())
    return make_op("MaxPool", (x,), y, lambda g, n: (
        make_gradient_op("MaxPoolGrad", (g,), be.max_pool2d_bwd(g._data, geometry, saved=saved)),))


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Average pooling (``tf.nn.avg_pool2d``); SAME padding is left out of each average."""
    x, geometry = _pool_args(input, ksize, strides, padding, data_format, "avg_pool2d")
    be = x._backend
    return make_op("AvgPool", (x,), be.avg_pool2d_fwd(x._data, geometry), lambda g, n: (
        make_gradient_op("AvgPoolGrad", (g,), be.avg_pool2d_bwd(g._data, geometry)),))


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
    y = be.dense_fwd(x._data, w._data, b=None if bias is None else inputs[2]._data, relu=relu_on)

    def vjp(g, n):
        dx, dw, db = be.dense_bwd(g._data, x._data, w._data, y=y, relu=relu_on, need_dx=n[0])
        out = [make_gradient_op("DenseBackpropInput", (g, w), dx) if n[0] else None,
               make_gradient_op("DenseBackpropFilter", (g, x), dw) if n[1] else None]
        if bias is not None:
            out.append(make_gradient_op("BiasAddGrad", (g,), db) if n[2] else None)
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
def _label_range_error(bad, c, where=""):
    return ValueError(f"Received a label value of {bad} which is outside the valid range of [0, {c}). "
                      f"Labels must be class ids for {c} classes.{where}")


def _check_label_range(backend, lab, c):
    """Raises if a label of ``lab`` (int64 array) is outside [0, c); returns the labels to use. Inside a training
    loop's step on a backend that keeps steps on the device (CUDA), the check runs on the device and is reported
    at the loop's next host contact, naming the step (``backend.defer_check``), and the step goes on with the
    labels clipped into range; elsewhere it is checked now, on the host."""
    lo, hi = lab.min(), lab.max()
    if getattr(backend, "sync_free", False):
        def report(value, label):
            raise _label_range_error(int(value), c, f" (found on the device at {label}; reported at the next "
                                                    "host contact)")
        if backend.defer_check(f"label range [0, {c})", (lo < 0) | (hi >= c), backend.xp.where(hi >= c, hi, lo),
                               report):
            return backend.xp.clip(lab, 0, c - 1)
        lo, hi = (v[0] for v in backend.fetch([lo, hi]))  # one device-to-host copy
    lo, hi = int(lo), int(hi)
    if lo < 0 or hi >= c:
        raise _label_range_error(hi if hi >= c else lo, c)
    return lab


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """Per-example ``-log softmax(logits)[label]`` (``tf.nn.sparse_softmax_cross_entropy_with_logits``).

    Args:
        labels: (N...) integer class ids in [0, C).
        logits: (N..., C) floats.

    Returns:
        (N...) losses. The gradient w.r.t. logits is ``softmax - one_hot``.

    Raises:
        TypeError: ``labels`` not of an integer dtype (TensorFlow accepts int32 and int64 only; the Keras loss
            takes whole-number floats and casts them itself).
        ValueError: shape mismatch, or a label outside [0, C) (naming it).
    """
    logits = _float_input(logits, "sparse_softmax_cross_entropy_with_logits")
    labels = convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise TypeError("sparse_softmax_cross_entropy_with_logits: `labels` must be integer class ids (int32 or "
                        f"int64, as tf.nn). Received: labels with dtype {labels.dtype.name}")
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"sparse_softmax_cross_entropy_with_logits: labels must have shape logits.shape[:-1]="
                         f"{tuple(logits.shape[:-1])}. Received: labels.shape={tuple(labels.shape)}")
    c = logits.shape[-1]
    xp = logits._backend.xp
    lab = labels._data.astype(np.int64, copy=False)
    if lab.size:
        lab = _check_label_range(logits._backend, lab, c)
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


# -- erf and gelu ------------------------------------------------------------------
# erf(x) for |x| < 1: the Maclaurin series erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)),
# 18 terms (truncation error < 2e-17 there; the coefficients are exact closed forms).
_ERF_TAYLOR = tuple(2.0 / np.sqrt(np.pi) * (-1) ** k / (float(np.prod(np.arange(1, k + 1, dtype=np.float64)))
                                                    * (2 * k + 1)) for k in range(18))
# erf(x) = 1 - exp(-x^2) * erfcx(x) for 1 <= |x|, with erfcx(x) = exp(x^2) erfc(x) evaluated as a Chebyshev series
# in t = (x - 2.5) / (x + 2.5) over x in [1, 6] (|x| > 6 is clamped to 6: erfc(6) < 2.2e-17, below half an ulp of
# 1). The coefficients are gpuflow's own: the degree-14 Chebyshev interpolant
# (numpy.polynomial.chebyshev.chebinterpolate) of erfcx computed with Python's math.erfc and math.exp in float64.
# Against math.erf on a dense grid the float64 result is within 4e-16 everywhere (tests/test_keras_layers_extra.py).
_ERFCX_K = 2.5
_ERFCX_T0, _ERFCX_T1 = (1.0 - _ERFCX_K) / (1.0 + _ERFCX_K), (6.0 - _ERFCX_K) / (6.0 + _ERFCX_K)
_ERFCX_CHEB = (
    0.23691061469353178, -0.1650418481783353, 0.023116459358180408, -0.002358737071787187,
    0.0001534454308997013, -2.9480756022999543e-06, -4.491871315672376e-07, 2.9334392979511275e-08,
    1.6933263291551981e-09, -1.8746776816088348e-10, -1.0733214143854309e-11, 1.1720087863172542e-12,
    9.955184824643007e-14, -6.251480814493485e-15, -1.1990408665951691e-15,
)


def _erf_array(xp, a):
    """erf of a float array through ``xp`` alone (any backend), computed in float64.

    float32 inputs use shorter series (11 Taylor terms, Chebyshev degree 9: absolute error
    < 2e-9, far below float32's resolution); float64 inputs use all terms (error < 4e-16).
    """
    full = a.dtype == np.float64
    n_taylor, n_cheb = (18, 15) if full else (11, 10)
    x = a.astype(np.float64, copy=False)
    ax = xp.abs(x)
    out = xp.empty_like(x)
    small = ax < 1.0
    xs = x[small]
    s = xs * xs
    p = xp.full_like(s, _ERF_TAYLOR[n_taylor - 1])
    for c in _ERF_TAYLOR[n_taylor - 2::-1]:
        p = p * s + c
    out[small] = xs * p
    big = ~small
    xb = ax[big]
    xc = xp.minimum(xb, 6.0)
    t = (xc - _ERFCX_K) / (xc + _ERFCX_K)
    u = (2.0 * t - _ERFCX_T0 - _ERFCX_T1) / (_ERFCX_T1 - _ERFCX_T0)
    b1 = xp.zeros_like(u)  # Clenshaw's recurrence for sum_k c_k T_k(u)
    b2 = xp.zeros_like(u)
    for c in _ERFCX_CHEB[n_cheb - 1:0:-1]:
        b1, b2 = 2.0 * u * b1 - b2 + c, b1
    erfcx = u * b1 - b2 + _ERFCX_CHEB[0]
    out[big] = xp.sign(x[big]) * (1.0 - xp.exp(-xb * xb) * erfcx)
    return out.astype(a.dtype, copy=False)


def erf(x, name=None):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, elementwise (``tf.math.erf``).

    Evaluated with gpuflow's own approximation (see ``_erf_array``): a Maclaurin series for
    ``|x| < 1`` and a Chebyshev series of ``exp(x^2) erfc(x)`` for ``|x| >= 1``, in float64; the
    result is within 4e-16 of ``math.erf`` for float64 inputs, and within one float32 ulp for
    float32 inputs (error < 2e-9 before the final rounding). Gradient ``2/sqrt(pi) * exp(-x^2)``.

    Raises:
        TypeError: for a non-floating input.
    """
    x = _float_input(x, "erf")
    return make_op("Erf", (x,), _erf_array(x._backend.xp, x._data),
                   lambda g, n: (g * (2.0 / np.sqrt(np.pi)) * M.exp(-M.square(x)),))


def gelu(features, approximate=False, name=None):
    """Gaussian error linear unit (``tf.nn.gelu``; Hendrycks & Gimpel 2016).

    ``approximate=False`` (the default of ``tf.nn.gelu`` and of ``keras.activations.gelu``):
    ``0.5 * x * (1 + erf(x / sqrt(2)))`` with :func:`erf`. ``approximate=True``:
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))``.
    """
    x = _float_input(features, "gelu")
    if approximate:
        return 0.5 * x * (1.0 + M.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + erf(x / 1.4142135623730951))


# -- transposed and depthwise convolution ---------------------------------------------------
def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",  # noqa: A002
                     dilations=None, name=None):
    """The transpose (gradient) of :func:`conv2d` with respect to its input (``tf.nn.conv2d_transpose``).

    ``y = conv2d_transpose(x, w, output_shape)`` is the unique linear map with
    ``<conv2d(z, w), x> = <z, y>`` for every z of ``output_shape``: each input pixel scatters
    ``x[n, i, j, :] @ w[a, b].T`` to output pixel ``(i*s + a*d - pad_top, j*s + b*d - pad_left)``.
    The forward pass is the backend's ``conv2d_bwd_data`` primitive; the gradient with respect to
    the input is :func:`conv2d` of the upstream gradient (itself differentiable), and the gradient
    with respect to the filters is ``conv2d_bwd_filter`` with the roles of input and upstream
    gradient swapped. No primitive of its own.

    Args:
        input: (N, H, W, in_channels) float tensor.
        filters: (kh, kw, out_channels, in_channels) tensor, TensorFlow's (and Keras's) layout.
        output_shape: (N, OH, OW, out_channels), a sequence or 1-D tensor.
        strides, dilations: int, pair, or [1, s, s, 1].
        padding: ``"SAME"``, ``"VALID"`` or explicit [[0,0],[t,b],[l,r],[0,0]], the padding of the
            convolution this op transposes, resolved on ``output_shape`` with TensorFlow's rules.

    Returns:
        (N, OH, OW, out_channels) tensor of the input's dtype.

    Raises:
        ValueError: wrong ranks, a channel mismatch, or an ``output_shape`` from which the
            convolution would not give the input's spatial size (the check TensorFlow makes).
    """
    op = "conv2d_transpose"
    x, w = _conv_operands(input, filters, op, data_format, "filters")
    if w.ndim != 4 or w.shape[3] != x.shape[3]:
        raise ValueError(f"{op}: filters must have shape (kh, kw, out_channels, in_channels={x.shape[3]}). "
                         f"Received: filters.shape={tuple(w.shape)}, input.shape={tuple(x.shape)}")
    if hasattr(output_shape, "numpy"):
        output_shape = output_shape.numpy().tolist()
    out_shape = tuple(int(d) for d in output_shape)
    if len(out_shape) != 4 or out_shape[0] != x.shape[0] or out_shape[3] != w.shape[2]:
        raise ValueError(f"{op}: output_shape must be (batch={x.shape[0]}, height, width, "
                         f"out_channels={w.shape[2]}). Received: output_shape={out_shape}")
    strides, dilations = _strides_dilations(strides, dilations, op)
    geometry = ConvGeometry.of(out_shape, w.shape[:2], strides, dilations, padding, op)  # of the conv transposed
    (ih, iw), pads = geometry.output_hw, geometry.pads
    if (ih, iw) != tuple(x.shape[1:3]):
        raise ValueError(f"{op}: a convolution of output_shape={out_shape} with a {w.shape[0]}x{w.shape[1]} kernel, "
                         f"strides={strides}, dilations={dilations} and padding={padding!r} gives spatial size "
                         f"{(ih, iw)}, not the input's {tuple(x.shape[1:3])}. Received: input.shape={tuple(x.shape)}")
    be = x._backend
    y = be.conv2d_bwd_data(x._data, w._data, geometry)
    explicit = [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]]

    def vjp(g, n):
        gx = fused_conv2d(g, w, None, strides, explicit, dilations, op=f"{op} (gradient)") if n[0] else None
        gw = make_gradient_op("Conv2DTransposeBackpropFilter", (g, x),
                              be.conv2d_bwd_filter(g._data, x._data, geometry)) if n[1] else None
        return gx, gw
    return make_op("Conv2DTranspose", (x, w), y, vjp)


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):  # noqa: A002
    """Depthwise 2-D convolution (``tf.nn.depthwise_conv2d``): each input channel convolved with its own filters.

    ``out[n, i, j, c * M + m] = sum_{a, b} x_pad[n, i*sh + a*dh, j*sw + b*dw, c] * filter[a, b, c, m]``.

    Written with ops only (no primitive of its own), so it runs and differentiates on every
    backend: one strided slice of the padded input per kernel offset, multiplied by that
    offset's (C, M) filter slice and accumulated. Cost: kh*kw elementwise multiply-adds over the
    (N, OH, OW, C, M) output (the true FLOP count of a depthwise convolution, 2*kh*kw*N*OH*OW*C*M),
    as ~5*kh*kw separate ops, with memory traffic of ~3 output-sized arrays per offset.

    Args:
        input: (N, H, W, C) float tensor.
        filter: (kh, kw, C, M) tensor (M = channel multiplier).
        strides, dilations: int, pair or [1, s, s, 1] (any combination is accepted).
        padding: ``"SAME"``, ``"VALID"`` or explicit [[0,0],[t,b],[l,r],[0,0]].

    Returns:
        (N, OH, OW, C * M) tensor.

    Raises:
        ValueError: wrong ranks or a channel mismatch.
    """
    op = "depthwise_conv2d"
    x, w = _conv_operands(input, filter, op, data_format, "filter")
    if w.ndim != 4 or w.shape[2] != x.shape[3]:
        raise ValueError(f"{op}: filter must have shape (kh, kw, in_channels={x.shape[3]}, channel_multiplier). "
                         f"Received: filter.shape={tuple(w.shape)}, input.shape={tuple(x.shape)}")
    strides, dilations = _strides_dilations(strides, dilations, op)
    kh, kw, c, mult = (int(d) for d in w.shape)
    geometry = ConvGeometry.of(x.shape, (kh, kw), strides, dilations, padding, op)
    (oh, ow), (pt, pb, pl, pr) = geometry.output_hw, geometry.pads
    from .array_ops import pad as _pad
    xp_ = _pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) if (pt or pb or pl or pr) else x
    (sh, sw), (dh, dw) = strides, dilations
    n = x.shape[0]
    out = None
    for a in range(kh):
        for b in range(kw):
            win = getitem(xp_, (slice(None), slice(a * dh, a * dh + (oh - 1) * sh + 1, sh),
                                slice(b * dw, b * dw + (ow - 1) * sw + 1, sw), slice(None)))
            wk = getitem(w, (a, b))  # (C, M)
            if mult == 1:
                term = win * reshape(wk, (c,))
            else:
                term = reshape(win, (n, oh, ow, c, 1)) * wk
            out = term if out is None else out + term
    return out if mult == 1 else reshape(out, (n, oh, ow, c * mult))


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding, data_format=None,  # noqa: A002
                     dilations=None, name=None):
    """Depthwise convolution followed by a 1x1 convolution (``tf.nn.separable_conv2d``).

    Args:
        input: (N, H, W, C); depthwise_filter: (kh, kw, C, M); pointwise_filter: (1, 1, C*M, F).

    Returns:
        (N, OH, OW, F) tensor.
    """
    y = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format, dilations)
    p = convert_to_tensor(pointwise_filter)
    if p.ndim != 4 or p.shape[:2] != (1, 1) or p.shape[2] != y.shape[3]:
        raise ValueError(f"separable_conv2d: pointwise_filter must have shape (1, 1, {y.shape[3]}, filters). "
                         f"Received: pointwise_filter.shape={tuple(p.shape)}")
    return fused_conv2d(y, p, None, 1, "VALID", 1, None, op="separable_conv2d")


# -- normalization ---------------------------------------------------------------------------
def moments(x, axes, shift=None, keepdims=False, name=None):
    """Mean and (biased) variance over ``axes`` (``tf.nn.moments``).

    As TensorFlow: ``variance = mean((x - stop_gradient(mean))^2)``, which has the same gradient
    as the textbook formula (the derivative of the variance through the mean is zero).

    Returns:
        ``(mean, variance)``.
    """
    from .array_ops import stop_gradient, squeeze
    x = _float_input(x, "moments")
    axes = [axes] if isinstance(axes, int) else list(axes)
    mean = M.reduce_mean(x, axis=axes, keepdims=True)
    variance = M.reduce_mean(M.square(x - stop_gradient(mean)), axis=axes, keepdims=True)
    if not keepdims:
        mean, variance = squeeze(mean, axis=axes), squeeze(variance, axis=axes)
    return mean, variance


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """``(x - mean) * scale / sqrt(variance + eps) + offset`` (``tf.nn.batch_normalization``).

    Computed as TensorFlow does: ``inv = rsqrt(variance + eps) * scale``, then
    ``x * inv + (offset - mean * inv)``. ``offset``/``scale`` may be None; all parameters
    broadcast against ``x``.
    """
    x = _float_input(x, "batch_normalization")
    inv = M.rsqrt(M.add(convert_to_tensor(variance, dtype=x.dtype), variance_epsilon))
    if scale is not None:
        inv = inv * convert_to_tensor(scale, dtype=x.dtype)
    shift = -convert_to_tensor(mean, dtype=x.dtype) * inv
    if offset is not None:
        shift = convert_to_tensor(offset, dtype=x.dtype) + shift
    return x * inv + shift


# -- more of tf.nn ------------------------------------------------------------------
def l2_loss(t, name=None):
    """``sum(t^2) / 2`` (``tf.nn.l2_loss``), a scalar of ``t``'s dtype."""
    t = _float_input(t, "l2_loss")
    return M.reduce_sum(M.square(t)) * 0.5


def softsign(features, name=None):
    """``x / (1 + |x|)`` (``tf.nn.softsign``, ``tf.math.softsign``)."""
    x = _float_input(features, "softsign")
    return x / (1 + M.abs(x))


def log_sigmoid(x, name=None):
    """``log(sigmoid(x)) = -softplus(-x)``, computed without overflow (``tf.math.log_sigmoid``)."""
    return -softplus(-_float_input(x, "log_sigmoid"))


def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    """Sigmoid cross-entropy with the positive term weighted by ``pos_weight``
    (``tf.nn.weighted_cross_entropy_with_logits``): ``(1 - z) x + (1 + (q - 1) z) log(1 + exp(-x))`` with x the
    logits, z the labels and q ``pos_weight``, in TensorFlow's overflow-free form."""
    logits = _float_input(logits, "weighted_cross_entropy_with_logits")
    labels = convert_to_tensor(labels, dtype=logits.dtype)
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(f"weighted_cross_entropy_with_logits: labels and logits must have the same shape. "
                         f"Received: labels.shape={tuple(labels.shape)}, logits.shape={tuple(logits.shape)}")
    log_weight = 1 + (M.cast(convert_to_tensor(pos_weight), logits.dtype) - 1) * labels
    return (1 - labels) * logits + log_weight * (M.log1p(M.exp(-M.abs(logits))) + M.maximum(-logits, 0.0))


def embedding_lookup(params, ids, max_norm=None, name=None):
    """The rows of ``params`` (vocab, ...) at ``ids`` (``tf.nn.embedding_lookup``; one tensor, no max_norm)."""
    if max_norm is not None or isinstance(params, (list, tuple)):
        raise NotImplementedError("embedding_lookup: only one params tensor and max_norm=None are supported. "
                                  f"Received: max_norm={max_norm}, params of type {type(params).__name__}")
    from .array_ops import gather
    return gather(params, ids)


__all__ += ["l2_loss", "softsign", "log_sigmoid", "weighted_cross_entropy_with_logits", "embedding_lookup"]


def _as_2d_nwc(x, op, data_format):
    x = _float_input(x, op)
    if data_format not in (None, "NWC"):
        raise ValueError(f"{op}: only data_format='NWC' (channels last) is supported. Received: "
                         f"data_format={data_format!r}")
    if x.ndim != 3:
        raise ValueError(f"{op} expects input of rank 3 (batch, width, channels). Received: shape={tuple(x.shape)}")
    from .array_ops import expand_dims
    return expand_dims(x, 1)


def _single(v, name, op):
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    if len(v) == 3:  # TF's [1, s, 1] form
        v = v[1:2]
    if len(v) != 1:
        raise ValueError(f"{op}: `{name}` must be an int or a list of 1 or 3 ints. Received: {name}={v}")
    return int(v[0])


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):  # noqa: A002
    """1-D convolution (``tf.nn.conv1d``): input (batch, width, in), filters (k, in, out) -> (batch, width', out);
    :func:`conv2d` on a height of 1.

    Raises:
        ValueError: a rank other than 3, a data format other than NWC, or bad strides/padding (as conv2d).
    """
    from .array_ops import expand_dims, squeeze
    x = _as_2d_nwc(input, "conv1d", data_format)
    d = 1 if dilations is None else _single(dilations, "dilations", "conv1d")
    y = conv2d(x, expand_dims(filters, 0), (1, _single(stride, "stride", "conv1d")), padding, dilations=(1, d))
    return squeeze(y, axis=1)


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    """1-D max pooling (``tf.nn.max_pool1d``) over (batch, width, channels): :func:`max_pool2d` on a height of 1."""
    from .array_ops import squeeze
    x = _as_2d_nwc(input, "max_pool1d", data_format)
    k, s = _single(ksize, "ksize", "max_pool1d"), _single(strides, "strides", "max_pool1d")
    return squeeze(max_pool2d(x, (1, k), (1, s), padding), axis=1)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    """1-D average pooling (``tf.nn.avg_pool1d``): :func:`avg_pool2d` on a height of 1."""
    from .array_ops import squeeze
    x = _as_2d_nwc(input, "avg_pool1d", data_format)
    k, s = _single(ksize, "ksize", "avg_pool1d"), _single(strides, "strides", "avg_pool1d")
    return squeeze(avg_pool2d(x, (1, k), (1, s), padding), axis=1)


__all__ += ["conv1d", "max_pool1d", "avg_pool1d"]


def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """``exp(log_input) - log_input * targets`` (``tf.nn.log_poisson_loss``); with ``compute_full_loss`` plus the
    Stirling term ``t log t - t + 0.5 log(2 pi t)`` where the target is above 1, as TensorFlow.

    Raises:
        ValueError: targets and log_input of different shapes.
    """
    x = _float_input(log_input, "log_poisson_loss")
    t = convert_to_tensor(targets, dtype=x.dtype)
    if tuple(t.shape) != tuple(x.shape):
        raise ValueError(f"`log_input` and `targets` must have the same shape, received ({tuple(x.shape)} vs "
                         f"{tuple(t.shape)}).")
    result = M.exp(x) - x * t
    if compute_full_loss:
        small = M.logical_and(t >= 0, t <= 1)
        safe = M.where(small, M.ones_like_(t), t)  # the Stirling term is only used where t > 1
        stirling = safe * M.log(safe) - safe + 0.5 * M.log(2 * np.pi * safe)
        result = result + M.where(small, M.zeros_like_(t), stirling)
    return result


__all__ += ["log_poisson_loss"]
