"""``keras.ops.nn``: Keras 3.15's neural-network operations (``keras/src/ops/nn.py``) on gpuflow's ops.

Activations take any tensor-like and keep a floating input's dtype (integer inputs give ``floatx()``); formulas are
those of Keras's TensorFlow backend (``keras/src/backend/tensorflow/nn.py``), built from gpuflow's differentiable
ops. Convolutions and pooling are the 1-D and 2-D channels-last ones gpuflow has.
"""
from __future__ import annotations

import math as _math

import numpy as np

from ...ops import array_ops as A
from ...ops import math_ops as M
from ...ops import nn_ops as N
from ...ops.core import convert_to_tensor
from ..config import epsilon as _epsilon, floatx, image_data_format
from ..._unsupported import module_getattr
from . import _names
from ._symbolic import wrap_module
from ._common import axis_tuple, float_tensor, promote, result_type, tensor
from . import numpy as _np_ops

_ACTIVATION_DOC = "\n\n    Integer inputs give ``floatx()``; floating inputs keep their dtype. Differentiable."


def _activation(fn, name, doc):
    def op(x):
        return fn(float_tensor(x))
    op.__name__ = name
    op.__doc__ = doc + _ACTIVATION_DOC
    return op


def _c(value, like):
    return convert_to_tensor(np.asarray(value, dtype=like.dtype.as_numpy_dtype), device=like.device)




def relu(x):
    """``max(x, 0)``; keeps the dtype (integers too, as Keras on TensorFlow). Differentiable."""
    x = tensor(x)
    return N.relu(x) if x.dtype.is_floating else M.maximum(x, _c(0, x))


def relu6(x):
    """``min(max(x, 0), 6)``; keeps the dtype (integers too). Differentiable."""
    x = tensor(x)
    return N.relu6(x) if x.dtype.is_floating else M.clip_by_value(x, _c(0, x), _c(6, x))


sigmoid = _activation(M.sigmoid, "sigmoid", "``1 / (1 + exp(-x))``.")
tanh = _activation(M.tanh, "tanh", "Hyperbolic tangent.")
softplus = _activation(N.softplus, "softplus", "``log(1 + exp(x))``, computed stably.")
softsign = _activation(N.softsign, "softsign", "``x / (1 + |x|)``.")
silu = _activation(lambda x: x * M.sigmoid(x), "silu", "``x * sigmoid(x)``.")
swish = silu
log_sigmoid = _activation(N.log_sigmoid, "log_sigmoid", "``log(sigmoid(x))``, computed stably.")
hard_sigmoid = _activation(lambda x: N.relu6(x + _c(3.0, x)) / _c(6.0, x), "hard_sigmoid",
                           "``relu6(x + 3) / 6``.")
hard_silu = _activation(lambda x: x * hard_sigmoid(x), "hard_silu", "``x * hard_sigmoid(x)``.")
hard_swish = hard_silu
hard_tanh = _activation(lambda x: M.clip_by_value(x, _c(-1.0, x), _c(1.0, x)), "hard_tanh",
                        "``x`` clipped to [-1, 1].")
tanh_shrink = _activation(lambda x: x - M.tanh(x), "tanh_shrink", "``x - tanh(x)``.")
selu = _activation(N.selu, "selu", "Scaled ELU (Klambauer et al. 2017).")


def leaky_relu(x, negative_slope=0.2):
    """``x`` where positive, ``negative_slope * x`` elsewhere.
    Floating result (integer inputs give ``floatx()``)."""
    return N.leaky_relu(float_tensor(x), alpha=negative_slope)


def elu(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    return M.where(M.greater(x, _c(0, x)), x, _c(alpha, x) * M.expm1(M.minimum(x, _c(0, x))))


def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    zero = _c(0, x)
    return M.maximum(x, zero) + _c(alpha, x) * M.expm1(M.minimum(x, zero) / _c(alpha, x))


def gelu(x, approximate=True):
    """Gaussian error linear unit; ``approximate=True`` (Keras's default) uses the tanh approximation, False the
    exact ``0.5 x (1 + erf(x / sqrt 2))``.
    Floating result (integer inputs give ``floatx()``)."""
    return N.gelu(float_tensor(x), approximate=approximate)


def glu(x, axis=-1):
    """Gated linear unit: the halves ``a, b`` of ``x`` along ``axis`` give ``a * sigmoid(b)``.

    Raises:
        ValueError: an odd size along ``axis`` (Keras's message).
    """
    x = float_tensor(x)
    if x.shape[axis] % 2:
        raise ValueError(f"axis size must be divisible by 2. Received: x.shape={tuple(x.shape)} with axis={axis}")
    a, b = A.split(x, 2, axis=axis)
    return a * M.sigmoid(b)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    return M.where(M.greater(M.abs(x), _c(threshold, x)), x, M.zeros_like_(x))


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    t = _c(threshold, x)
    return M.where(M.greater(x, t), x - t, M.where(M.less(x, -t), x + t, M.zeros_like_(x)))


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    return (x + M.sqrt(M.square(x) + _c(b, x))) / _c(2, x)


def sparse_plus(x):
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``-1 < x < 1``, ``x`` above.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    return M.where(M.less_equal(x, _c(-1, x)), M.zeros_like_(x),
                   M.where(M.less(x, _c(1, x)), _c(0.25, x) * M.square(x + _c(1, x)), x))


def sparse_sigmoid(x):
    """0 for ``x <= -1``, 1 for ``x >= 1``, ``(x + 1) / 2`` between.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    return M.where(M.less_equal(x, _c(-1, x)), M.zeros_like_(x),
                   M.where(M.greater_equal(x, _c(1, x)), M.ones_like_(x), _c(0.5, x) * (x + _c(1, x))))


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    return M.where(M.greater(x, _c(threshold, x)), x, A.broadcast_to(_c(default_value, x), tuple(x.shape)))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int or a tuple of axes), computed stably.
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    if isinstance(axis, int):
        return N.softmax(x, axis=axis)
    axes = axis_tuple(axis, x.ndim)
    e = M.exp(x - A.stop_gradient(M.reduce_max(x, axis=axes, keepdims=True)))
    return e / M.reduce_sum(e, axis=axes, keepdims=True)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` over ``axis`` (an int or a tuple of axes).
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    if isinstance(axis, int):
        return N.log_softmax(x, axis=axis)
    axes = axis_tuple(axis, x.ndim)
    return x - M.reduce_logsumexp(x, axis=axes, keepdims=True)


def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo 2016): the Euclidean projection of ``x`` onto the simplex along ``axis``
    (Keras's TensorFlow formula: sort, cumulative sum, support, threshold).
    Floating result (integer inputs give ``floatx()``)."""
    x = float_tensor(x)
    ax = axis % x.ndim
    z = _np_ops.flip(_np_ops.sort(x, axis=ax), ax)
    cum = M.cumsum(z, axis=ax)
    shape = [1] * x.ndim
    shape[ax] = -1
    r = A.reshape(_c(np.arange(1, x.shape[ax] + 1), x), shape)
    support = M.greater(z - (cum - _c(1, x)) / r, _c(0, x))
    k = M.reduce_sum(M.cast(support, x.dtype), axis=ax, keepdims=True)
    tau = (M.reduce_sum(M.where(support, cum, M.zeros_like_(cum)), axis=ax, keepdims=True) - _c(1, x)) / k
    return M.maximum(x - tau, _c(0, x))


# -- encodings ------------------------------------------------------------------------------------------------------
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encoding of the integer ``x``: a new axis of size ``num_classes`` at ``axis``; ``dtype`` defaults to
    ``floatx()``; negative or too large values give all-zero rows.

    Raises:
        ValueError: ``sparse=True`` (gpuflow has no sparse tensors).
    """
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported in gpuflow (no sparse tensors).")
    x = tensor(x)
    if not x.dtype.is_integer:
        x = M.cast(x, "int64")
    return A.one_hot(x, int(num_classes), axis=axis, dtype=dtype or floatx())


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot encoding: 1 at every class that appears in each row of the integer ``inputs`` (rank 1: one
    sample; rank 2: a batch); ``dtype`` defaults to ``floatx()``.

    Raises:
        ValueError: ``num_classes`` missing, or ``sparse=True``.
    """
    num_classes = kwargs.pop("num_tokens", num_classes)
    if num_classes is None:
        raise ValueError("Argument `num_classes` must be set.")
    x = tensor(inputs)
    reduction_axis = 1 if x.ndim > 1 else 0
    out = one_hot(x, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    if out.dtype.name == "bool":
        return M.reduce_any(out, axis=reduction_axis)
    return M.reduce_max(out, axis=reduction_axis)


# -- losses ----------------------------------------------------------------------------------------------------------
def _same_shape(target, output):
    if target.ndim != output.ndim:
        raise ValueError(f"Arguments `target` and `output` must have the same rank (ndim). Received: "
                         f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}")
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError(f"Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}")


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy ``-(t log p + (1 - t) log(1 - p))``, ``p`` clipped to
    ``[epsilon, 1 - epsilon]`` (or the stable logits formula when ``from_logits``); Keras's TensorFlow backend.

    Raises:
        ValueError: ``target`` and ``output`` of different shapes.
    """
    output = float_tensor(output, "output")
    target = tensor(target, output.dtype, "target")
    _same_shape(target, output)
    if from_logits:
        return N.sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    eps = _epsilon()
    p = M.clip_by_value(output, _c(eps, output), _c(1.0 - eps, output))
    one = _c(1, output)
    return -(target * M.log(p) + (one - target) * M.log(one - p))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy ``-sum(t log p)`` over ``axis``; probabilities are renormalised to sum to 1 and clipped to
    ``[epsilon, 1 - epsilon]`` (Keras's TensorFlow backend).

    Raises:
        ValueError: a rank-0 ``target``, or ``target`` and ``output`` of different shapes.
    """
    output = float_tensor(output, "output")
    target = tensor(target, output.dtype, "target")
    if target.ndim < 1:
        raise ValueError(f"Arguments `target` and `output` must be at least rank 1. Received: "
                         f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}")
    _same_shape(target, output)
    if from_logits:
        return N.softmax_cross_entropy_with_logits(labels=target, logits=output, axis=axis)
    p = output / M.reduce_sum(output, axis=axis, keepdims=True)
    eps = _epsilon()
    p = M.clip_by_value(p, _c(eps, p), _c(1.0 - eps, p))
    return -M.reduce_sum(target * M.log(p), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy of integer class ``target`` (shape ``output.shape[:-1]``, or with a trailing 1) against
    ``output`` probabilities (clipped to ``[epsilon, 1 - epsilon]``, then renormalised by the softmax of their
    logs, as Keras's TensorFlow backend) or logits.

    Raises:
        ValueError: ``axis`` other than the last, or shapes that do not match.
    """
    output = float_tensor(output, "output")
    if axis != -1 and axis != output.ndim - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    target = tensor(target, "int64", "target")
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = A.reshape(target, tuple(target.shape[:-1]))
    if output.ndim < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. Received: output.shape={tuple(output.shape)}")
    if tuple(target.shape) != tuple(output.shape[:-1]):
        raise ValueError(f"Arguments `target` and `output` must have the same shape up until the last dimension: "
                         f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}")
    if not from_logits:
        eps = _epsilon()
        output = M.log(M.clip_by_value(output, _c(eps, output), _c(1 - eps, output)))
    return N.sparse_softmax_cross_entropy_with_logits(labels=target, logits=output)


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Per-sample CTC loss (Graves et al. 2006) of integer ``target`` (batch, max_label_length; the first
    ``target_length`` entries count) under ``output`` logits (batch, max_time, classes; the first ``output_length``
    steps count), class ``mask_index`` the blank, as Keras 3 on TensorFlow (``tf.nn.ctc_loss``). Computed by
    :func:`gpuflow.keras.losses.ctc` (its log-space recursion, blank 0, all steps) after moving the blank to class 0
    and making the steps past ``output_length`` certain blanks; differentiable in ``output``. Where no alignment
    exists the loss is about 1e30 (TensorFlow: inf). Result dtype: at least float32 (float64 is computed in float64,
    where TensorFlow's kernel rounds through float32).
    """
    from .. import losses
    out = tensor(output, arg="output")
    dtype = result_type(out, "float32")
    logits = M.cast(out, dtype)
    labels = tensor(target, "int32", "target")
    batch, steps, classes = logits.shape
    blank = int(mask_index) % classes
    order = [blank] + [c for c in range(classes) if c != blank]
    logits = A.gather(logits, convert_to_tensor(np.asarray(order, np.int32), device=logits.device), axis=2)
    labels = M.where(M.less(labels, _c(blank, labels)), labels + 1, labels)  # class c's new index
    label_len = tensor(target_length, "int32", "target_length")
    keep = M.less(_c(np.arange(labels.shape[1]), labels), A.expand_dims(label_len, 1))
    labels = M.where(keep, labels, M.zeros_like_(labels))
    out_len = tensor(output_length, "int32", "output_length")
    past = A.expand_dims(M.greater_equal(_c(np.arange(steps), out_len), A.expand_dims(out_len, 1)), -1)
    certain_blank = _c(np.where(np.arange(classes) == 0, 0.0, -1e9), logits)
    logits = M.where(A.broadcast_to(past, tuple(logits.shape)), A.broadcast_to(certain_blank, tuple(logits.shape)),
                     logits)
    return losses.ctc(labels, logits)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """Greedy CTC decoding of (batch, max_time, classes) ``inputs`` over the first ``sequence_lengths`` steps, as
    ``tf.nn.ctc_greedy_decoder``: the best class per step, repeats merged (``merge_repeated``), blanks
    (``mask_index``) removed. Returns ``(decoded, scores)``: int32 (1, batch, max_time) labels padded with -1, and
    (batch, 1) scores, minus the sum of the best inputs. No gradient.

    Raises:
        ValueError: an unknown strategy (Keras's message).
        NotImplementedError: ``strategy="beam_search"``.
    """
    if strategy == "beam_search":
        raise NotImplementedError("keras.ops.ctc_decode: strategy='beam_search' is not supported in gpuflow; use "
                                  "'greedy'.")
    if strategy != "greedy":
        raise ValueError(f"Invalid strategy {strategy}. Supported values are 'greedy' and 'beam_search'.")
    x = float_tensor(inputs, "inputs")
    a = x.numpy()
    lengths = np.asarray(tensor(sequence_lengths, "int32", "sequence_lengths").numpy())
    batch, steps, classes = a.shape
    blank = int(mask_index) % classes
    best = a.argmax(-1)
    decoded = np.full((1, batch, steps), -1, np.int32)
    scores = np.zeros((batch, 1), a.dtype)
    for b in range(batch):
        path = best[b, :lengths[b]]
        scores[b, 0] = -a[b, np.arange(lengths[b]), path].sum()
        if merge_repeated:
            path = path[np.r_[True, path[1:] != path[:-1]]] if len(path) else path
        path = path[path != blank]
        decoded[0, b, :len(path)] = path
    return convert_to_tensor(decoded, device=x.device), convert_to_tensor(scores, device=x.device)


# -- normalization ---------------------------------------------------------------------------------------------------
def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and (biased) variance over ``axes``; float16/bfloat16 are computed in float32 and cast back (Keras).

    Returns:
        ``(mean, variance)``.
    """
    x = float_tensor(x)
    orig = x.dtype.name
    if orig in ("float16", "bfloat16"):
        x = M.cast(x, "float32")
    mean, variance = N.moments(x, axis_tuple(axes, x.ndim), keepdims=keepdims)
    if orig != x.dtype.name:
        mean, variance = M.cast(mean, orig), M.cast(variance, orig)
    return mean, variance


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) * scale / sqrt(variance + epsilon) + offset`` with the 1-D statistics along ``axis``."""
    x = float_tensor(x)
    params = [mean, variance, offset, scale]
    if axis != -1 and axis != x.ndim - 1:
        shape = [1] * x.ndim
        shape[axis] = -1
        params = [None if p is None else A.reshape(tensor(p, x.dtype), shape) for p in params]
    mean, variance, offset, scale = params
    return N.batch_normalization(x, mean, variance, offset, scale, epsilon)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Layer normalization over ``axis`` (an int or a list): ``(x - mean) / sqrt(var + epsilon) * gamma + beta``,
    computed in at least float32 and cast back (Keras 3.15's ``_layer_normalization``; ``rms_scaling=True`` omits
    the mean subtraction from the output and ``beta``)."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    eps = _epsilon() if epsilon is None else epsilon
    x = tensor(x)
    orig = x.dtype.name
    x = M.cast(x, result_type(x, "float32"))
    axes = sorted(a % x.ndim for a in ([axis] if isinstance(axis, int) else axis))
    bshape = [x.shape[d] if d in axes else 1 for d in range(x.ndim)]

    def bcast(v):
        if v is None:
            return None
        v = tensor(v, x.dtype)
        return A.reshape(v, bshape) if v.ndim != x.ndim and axes != [x.ndim - 1] else v
    gamma, beta = bcast(gamma), bcast(beta)
    if rms_scaling:
        out = x * M.rsqrt(_np_ops.var(x, axis=axes, keepdims=True) + _c(eps, x))
        out = out if gamma is None else out * gamma
    else:
        mean, variance = N.moments(x, axes, keepdims=True)
        inv = M.rsqrt(variance + _c(eps, x))
        if gamma is not None:
            inv = inv * gamma
        res = -mean * inv
        if beta is not None:
            res = res + beta
        out = x * inv + res
    return M.cast(out, orig) if orig != out.dtype.name and orig != "int32" else out


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x / sqrt(mean(x^2, axis) + epsilon) * scale``, computed in at least float32 (Keras 3.15)."""
    eps = _epsilon() if epsilon is None else epsilon
    x = tensor(x)
    x = M.cast(x, result_type(x, "float32"))
    if x.ndim == 0:
        x = A.reshape(x, (1,))
    axes = axis_tuple(axis, x.ndim)
    out = x * M.rsqrt(M.reduce_mean(M.square(x), axis=axes, keepdims=True) + _c(eps, x))
    return out if scale is None else out * tensor(scale, x.dtype)


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm over ``axis`` (at least ``epsilon``; Keras 3.15's ``_normalize``).

    Raises:
        ValueError: ``order`` not an int >= 1 (Keras's message).
    """
    if not isinstance(order, int) or not order >= 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order}")
    x = float_tensor(x)
    if x.ndim == 0:
        x = A.reshape(x, (1,))
    eps = _epsilon() if epsilon is None else epsilon
    if order == 2:
        square_sum = M.reduce_sum(M.square(x), axis=axis_tuple(axis, x.ndim), keepdims=True)
        return x * M.rsqrt(M.maximum(square_sum, _c(eps * eps, x)))
    from .linalg import norm
    return x / M.maximum(norm(x, ord=order, axis=axis, keepdims=True), _c(eps, x))


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mean((x1 - x2)^2))``, a scalar.

    Raises:
        ValueError: inputs of different shapes.
    """
    x1, x2 = promote(x1, x2, extra=(float,))
    if tuple(x1.shape) != tuple(x2.shape):
        raise ValueError(f"Input shapes {tuple(x1.shape)} and {tuple(x2.shape)} must match for PSNR calculation. ")
    mse = M.reduce_mean(M.square(x1 - x2))
    ln10 = _c(_math.log(10.0), mse)
    return _c(20, mse) * M.log(tensor(max_val, x2.dtype)) / ln10 - _c(10, mse) * M.log(mse) / ln10


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Scaled dot-product attention of (batch, T, heads, head_dim) ``query`` with (batch, S, kv_heads, head_dim)
    ``key``/``value`` (grouped heads repeated): ``softmax(q k^T * scale + bias, masked) v``, ``scale`` defaulting to
    ``1/sqrt(head_dim)``; ``mask`` (bool, broadcast to (batch, heads, T, S)) and ``is_causal`` mask logits with
    ``-0.7 * float max`` as Keras's TensorFlow backend.

    Raises:
        ValueError: inputs not 4-D, or ``flash_attention=True`` (not on the TensorFlow backend either).
    """
    if flash_attention:
        raise ValueError("Flash attention is not supported in tensorflow backend.")
    q, k, v = promote(query, key, value)
    if q.ndim != 4:
        raise ValueError(f"`dot_product_attention` only supports 4D inputs. Received: query.shape={tuple(q.shape)}, "
                         f"key.shape={tuple(k.shape)}, value.shape={tuple(v.shape)}.")
    if q.shape[2] > k.shape[2] > 1:
        groups = q.shape[2] // k.shape[2]
        k, v = A.repeat(k, groups, axis=2), A.repeat(v, groups, axis=2)
    scale = 1.0 / _math.sqrt(k.shape[-1]) if scale is None else scale
    logits = M.matmul(A.transpose(q, (0, 2, 1, 3)), A.transpose(k, (0, 2, 3, 1)))  # (B, N, T, S)
    logits = logits * _c(scale, logits)
    if attn_logits_soft_cap is not None:
        cap = _c(attn_logits_soft_cap, logits)
        logits = M.tanh(logits / cap) * cap
    if bias is not None:
        logits = logits + tensor(bias, logits.dtype)
    if mask is not None or is_causal:
        keep = A.ones(tuple(logits.shape), "bool")
        if mask is not None:
            keep = M.logical_and(keep, tensor(mask, "bool"))
        if is_causal:
            t, s = logits.shape[2], logits.shape[3]
            keep = M.logical_and(keep, convert_to_tensor(np.tri(t, s, dtype=bool), device=logits.device))
        big = 65500.0 if logits.dtype.name == "float16" else 3.38953e38
        logits = M.where(A.broadcast_to(keep, tuple(logits.shape)), logits,
                         A.broadcast_to(_c(-0.7 * big, logits), tuple(logits.shape)))
    probs = N.softmax(logits, axis=-1)
    return A.transpose(M.matmul(probs, A.transpose(v, (0, 2, 1, 3))), (0, 2, 1, 3))


# -- convolution and pooling -----------------------------------------------------------------------------------------
def _channels_last(inputs, data_format, rank):
    fmt = data_format or image_data_format()
    x = float_tensor(inputs, "inputs")
    if x.ndim != rank + 2:
        raise ValueError(f"Expected inputs of rank {rank + 2} (batch, {rank} spatial axes, channels). Received: "
                         f"inputs.shape={tuple(x.shape)}")
    if fmt == "channels_first":
        x = A.transpose(x, [0] + list(range(2, rank + 2)) + [1])
    return x, fmt


def _back(y, fmt, rank):
    if fmt == "channels_first":
        return A.transpose(y, [0, rank + 1] + list(range(1, rank + 1)))
    return y


def _pair(v, rank):
    return (v,) * rank if isinstance(v, int) else tuple(v)


def _spatial(rank, fn, x, *args):
    """Runs the 2-D ``fn`` on a 1-D input (a height of 1) or a 2-D one."""
    if rank == 1:
        y = fn(A.expand_dims(x, 1), *args)
        return A.reshape(y, (y.shape[0],) + tuple(y.shape[2:]))
    return fn(x, *args)


def _rank_of(inputs):
    return tensor(inputs, arg="inputs").ndim - 2


def _spatial_rank(inputs, op, what=""):
    """The spatial rank of ``inputs``, 1 or 2 (gpuflow's windowed ops); ``op`` and ``what`` word the error.

    Raises:
        NotImplementedError: any other rank (a 3-D convolution or pooling).
    """
    rank = _rank_of(inputs)
    if rank not in (1, 2):
        raise NotImplementedError(f"keras.ops.{op}: gpuflow supports 1-D and 2-D{what}. Received: "
                                  f"inputs.ndim={rank + 2}")
    return rank


def _windowed(op, inputs, kernel, strides, data_format, dilation_rate, run, what=""):
    """A 1-D or 2-D convolution through its 2-D op: ``run(x, w, strides, dilations)`` on the channels-last input,
    a 1-D input and kernel taken as height 1."""
    rank = _spatial_rank(inputs, op, what)
    x, fmt = _channels_last(inputs, data_format, rank)
    w = tensor(kernel, x.dtype, "kernel")
    s, d = _pair(strides, rank), _pair(dilation_rate, rank)
    if rank == 1:
        w, s, d = A.expand_dims(w, 0), (1,) + s, (1,) + d
    return _back(_spatial(rank, lambda t: run(t, w, s, d), x), fmt, rank)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (cross-correlation) of ``inputs`` with ``kernel`` (spatial..., in_channels, out_channels);
    1-D and 2-D in gpuflow.

    Raises:
        NotImplementedError: a 3-D convolution.
    """
    return _windowed("conv", inputs, kernel, strides, data_format, dilation_rate,
                     lambda t, w, s, d: N.conv2d(t, w, strides=s, padding=padding.upper(), dilations=d),
                     " convolutions")


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution: each input channel with its own ``kernel[..., c, :]`` (spatial..., in_channels,
    multiplier); 1-D and 2-D."""
    return _windowed("depthwise_conv", inputs, kernel, strides, data_format, dilation_rate,
                     lambda t, w, s, d: N.depthwise_conv2d(t, w, strides=(1,) + s + (1,), padding=padding.upper(),
                                                           dilations=d))


def _transpose_length(size, kernel, stride, padding, output_padding, dilation):
    """Keras 3's ``_get_output_shape_given_tf_padding`` (keras/src/backend/common/backend_utils.py)."""
    kernel = (kernel - 1) * dilation + 1
    if padding.lower() == "valid":
        output_padding = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (size - 1) * stride + kernel + output_padding
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """The transpose of :func:`conv` (the gradient of a convolution with respect to its input): ``kernel`` of shape
    (spatial..., out_channels, in_channels), output sizes by Keras 3's rule from ``output_padding``; 1-D and 2-D.

    Raises:
        ValueError: ``padding`` other than "valid"/"same".
        NotImplementedError: 3-D inputs.
    """
    rank = _spatial_rank(inputs, "conv_transpose")
    if padding.lower() not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. Received: padding={padding}")
    x, fmt = _channels_last(inputs, data_format, rank)
    w = tensor(kernel, x.dtype, "kernel")
    s, d = _pair(strides, rank), _pair(dilation_rate, rank)
    op = (None,) * rank if output_padding is None else _pair(output_padding, rank)
    sizes = [_transpose_length(x.shape[1 + i], w.shape[i], s[i], padding, op[i], d[i]) for i in range(rank)]
    if rank == 1:
        w, s, d, sizes = A.expand_dims(w, 0), (1,) + s, (1,) + d, [1] + sizes
    out_shape = (x.shape[0], *sizes, w.shape[-2])
    y = _spatial(rank, lambda t: N.conv2d_transpose(t, w, out_shape, strides=s, padding=padding.upper(),
                                                    dilations=d), x)
    return _back(y, fmt, rank)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """:func:`depthwise_conv` followed by a 1x1 :func:`conv` with ``pointwise_kernel``."""
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


def _pool(kind, inputs, pool_size, strides, padding, data_format):
    rank = _spatial_rank(inputs, f"{kind}_pool", " pooling")
    x, fmt = _channels_last(inputs, data_format, rank)
    k = _pair(pool_size, rank)
    s = k if strides is None else _pair(strides, rank)
    k, s = ((1,) + k, (1,) + s) if rank == 1 else (k, s)
    fn = N.max_pool2d if kind == "max" else N.avg_pool2d
    y = _spatial(rank, lambda t: fn(t, k, s, padding.upper()), x)
    return _back(y, fmt, rank)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over windows of ``pool_size`` (``strides`` default to it); 1-D and 2-D."""
    return _pool("max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling (``"same"`` padding leaves the padding out of each average); 1-D and 2-D."""
    return _pool("average", inputs, pool_size, strides, padding, data_format)


def _adaptive_pool(reduce, inputs, output_size, data_format):
    x = tensor(inputs, arg="inputs")
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"adaptive pooling supports 1D, 2D, or 3D inputs only. Received: inputs.shape="
                         f"{tuple(x.shape)}")
    x, fmt = _channels_last(x, data_format, rank)
    sizes = _pair(output_size, rank)
    for axis, out in zip(range(1, rank + 1), sizes):
        n = x.shape[axis]
        pre = (slice(None),) * axis
        cells = [reduce(A.getitem(x, pre + (slice(i * n // out, -(-(i + 1) * n // out)),)), axis=axis, keepdims=True)
                 for i in range(out)]  # PyTorch's (and Keras 3's) windows: floor(i n / out) .. ceil((i + 1) n / out)
        x = A.concat(cells, axis=axis)
    return _back(x, fmt, rank)


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to ``output_size`` cells per spatial axis (1-D, 2-D or 3-D), cell ``i`` of an axis of
    length ``n`` averaging ``floor(i n / out) .. ceil((i + 1) n / out)`` (Keras 3 / PyTorch); differentiable."""
    return _adaptive_pool(M.reduce_mean, float_tensor(inputs, "inputs"), output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to ``output_size`` cells per spatial axis, windows as :func:`adaptive_average_pool`."""
    return _adaptive_pool(M.reduce_max, inputs, output_size, data_format)


def _block_indices(size, kernel, dilation, padding, stride):
    """Rows (kernel, count) of the sliding blocks along one axis of a padded length."""
    count = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    return np.arange(kernel)[:, None] * dilation + np.arange(count)[None, :] * stride, count


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding ``kernel_size`` blocks of an (N, C, H, W) tensor as columns, (N, C * kH * kW, L) (PyTorch's
    ``unfold``, im2col; zero ``padding`` on both sides), as Keras 3; a gather, differentiable.

    Raises:
        ValueError: an input that is not 4-D.
    """
    x = tensor(x)
    if x.ndim != 4:
        raise ValueError(f"Input must be a 4D tensor (N, C, H, W). Received: input.shape={tuple(x.shape)}")
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (_pair(v, 2) for v in (kernel_size, dilation, padding, stride))
    rows, nh = _block_indices(x.shape[2], kh, dh, ph, sh)
    cols, nw = _block_indices(x.shape[3], kw, dw, pw, sw)
    xp = A.pad(x, [[0, 0], [0, 0], [ph, ph], [pw, pw]])
    key = (slice(None), slice(None), x._backend.asarray(rows[:, None, :, None]),
           x._backend.asarray(cols[None, :, None, :]))
    blocks = A.getitem(xp, key)  # (N, C, kH, kW, nH, nW)
    return A.reshape(blocks, (x.shape[0], x.shape[1] * kh * kw, nh * nw))


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of :func:`unfold` (col2im): (N, C * kH * kW, L) blocks summed back into an (N, C, oH, oW)
    tensor, overlaps added (PyTorch's ``fold``, as Keras 3); a scatter-add, differentiable.

    Raises:
        ValueError: an input that is not 3-D, or a block count that does not match ``output_size``.
    """
    x = tensor(x)
    if x.ndim != 3:
        raise ValueError(f"Input must be a 3D tensor. Received: input.shape={tuple(x.shape)}")
    (oh, ow), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (_pair(v, 2) for v in (output_size, kernel_size, dilation,
                                                                                padding, stride))
    rows, nh = _block_indices(oh, kh, dh, ph, sh)
    cols, nw = _block_indices(ow, kw, dw, pw, sw)
    n, ckk, blocks = x.shape
    if ckk % (kh * kw) or blocks != nh * nw:
        raise ValueError(f"fold: expected an input of shape (N, C * {kh * kw}, {nh * nw}) for output_size={(oh, ow)}. "
                         f"Received: input.shape={tuple(x.shape)}")
    c = ckk // (kh * kw)
    updates = A.transpose(A.reshape(x, (n, c, kh, kw, nh, nw)), (2, 3, 4, 5, 0, 1))
    where = np.stack(np.broadcast_arrays(rows[:, None, :, None], cols[None, :, None, :]), axis=-1)
    out = A.scatter_nd(where, updates, (oh + 2 * ph, ow + 2 * pw, n, c))
    return A.transpose(out, (2, 3, 0, 1))[:, :, ph:ph + oh, pw:pw + ow]


def depth_to_space(x, block_size, data_format="channels_last"):
    """Moves channel blocks into ``block_size x block_size`` spatial blocks (``tf.nn.depth_to_space``, DCR order)."""
    x = tensor(x)
    if data_format == "channels_first":
        x = A.transpose(x, (0, 2, 3, 1))
    n, h, w, c = x.shape
    b = int(block_size)
    y = A.reshape(A.transpose(A.reshape(x, (n, h, w, b, b, c // (b * b))), (0, 1, 3, 2, 4, 5)),
                  (n, h * b, w * b, c // (b * b)))
    return A.transpose(y, (0, 3, 1, 2)) if data_format == "channels_first" else y


def space_to_depth(x, block_size, data_format="channels_last"):
    """The inverse of :func:`depth_to_space` (``tf.nn.space_to_depth``)."""
    x = tensor(x)
    if data_format == "channels_first":
        x = A.transpose(x, (0, 2, 3, 1))
    n, h, w, c = x.shape
    b = int(block_size)
    y = A.reshape(A.transpose(A.reshape(x, (n, h // b, b, w // b, b, c)), (0, 1, 3, 2, 4, 5)),
                  (n, h // b, w // b, b * b * c))
    return A.transpose(y, (0, 3, 1, 2)) if data_format == "channels_first" else y


__all__ = [n for n in _names.NN.split() if n in globals()]
wrap_module(globals(), __all__)  # a call on symbolic tensors is a functional-model node
__getattr__ = module_getattr(__name__, "tf.keras.ops.nn", _names.NN)  # a Keras op gpuflow lacks
