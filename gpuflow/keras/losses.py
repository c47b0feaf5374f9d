"""Losses (``keras.losses``): classes, functions and string names, with Keras 3's formulas.

Each loss computes a per-sample value (the mean over the last axis for
elementwise losses), multiplies by ``sample_weight`` if given, and reduces with
``reduction``: ``"sum_over_batch_size"`` or ``"mean"`` (default: sum / number of
values), ``"sum"``, ``"mean_with_sample_weight"`` (sum / sum of the sample weights),
or ``"none"`` / ``None``. Inputs are first converted to the loss dtype (float32
unless ``dtype`` is given), as Keras 3's ``Loss.__call__``. Probabilities are clipped to [1e-7, 1 - 1e-7] before
logs, as Keras's backend does (epsilon 1e-7); ``from_logits=True`` uses the
numerically stable fused forms.
"""
from __future__ import annotations

import numpy as np

from ..ops import math_ops as _m, nn_ops as _nn, array_ops as _a
from ..ops.core import convert_to_tensor
from ..tensor import Tensor

__all__ = ["Loss", "LossFunctionWrapper", "Reduction", "MeanSquaredError", "MeanAbsoluteError",
           "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "CosineSimilarity", "Huber", "LogCosh",
           "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "BinaryCrossentropy",
           "BinaryFocalCrossentropy", "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
           "SparseCategoricalCrossentropy", "Dice", "Tversky", "CategoricalGeneralizedCrossEntropy", "CTC", "Circle",
           "mean_squared_error", "mean_absolute_error",
           "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "cosine_similarity", "huber",
           "log_cosh", "hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "poisson",
           "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
           "categorical_focal_crossentropy", "sparse_categorical_crossentropy", "dice", "tversky",
           "categorical_generalized_cross_entropy", "ctc", "circle", "get", "serialize",
           "deserialize", "mse", "mae", "mape", "msle", "kld", "MSE", "MAE", "MAPE", "MSLE", "KLD",
           "kullback_leibler_divergence", "logcosh"]

EPSILON = 1e-7
_REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight", "auto")


def _to_snake_case(name):
    from .layers.base import to_snake_case
    return to_snake_case(name)


def check_numeric(value, arg):
    """Refuses strings and other non-numbers, naming the argument (the conversion's dtype error does not say
    which argument, and Keras's cast to float or int64 fails deep inside). Tensors and device arrays pass.

    Raises:
        TypeError: ``value`` is an array (or list) of strings, bytes or objects.
    """
    if isinstance(value, (np.ndarray, np.generic, str, bytes, list, tuple)):
        try:
            a = np.asarray(value)
        except ValueError:  # ragged: convert_to_tensor explains
            return
        if a.dtype.kind in "USO":
            example = f" (e.g. {a.reshape(-1)[:1].tolist()[0]!r})" if a.size else ""
            raise TypeError(f"`{arg}` must be numeric (bool, int or float). Received: {arg} with dtype {a.dtype}"
                            f"{example}. Map strings to numbers first, e.g. labels to class ids with "
                            "`np.unique(labels, return_inverse=True)`.")


def check_class_ids(values, arg):
    """Float class ids (a host NumPy array) must be whole numbers.

    Keras 3 and TensorFlow cast the labels of sparse categorical cross-entropy to int64, which turns 1.5 into
    1 without a word; gpuflow refuses them. Integral floats (1.0) are class ids, as in Keras. Only host arrays
    are checked, so the CUDA path adds no device-to-host copy.

    Raises:
        ValueError: a non-integral or non-finite value, naming ``arg``, the value and its index.
    """
    a = np.asarray(values)
    if a.dtype.kind != "f" or not a.size:
        return
    bad = ~np.isfinite(a) | (a != np.trunc(a))
    if bad.any():
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), a.shape))
        where = f"{arg}[{', '.join(map(str, index))}]"
        raise ValueError(f"`{arg}` must hold integer class ids for sparse categorical cross-entropy (Keras would "
                         f"truncate a float label to an int). Received: {where}={a[index].item()!r} "
                         f"(dtype {a.dtype}).")


def _tensor(x, arg, dtype=None):
    check_numeric(x, arg)
    return convert_to_tensor(x, dtype=dtype)


def _to_dtype(x, dtype, arg):
    x = _tensor(x, arg)
    return _m.cast(x, dtype) if x.dtype.name != dtype else x


def _pred_and_true(y_true, y_pred, true_dtype=None):
    y_pred = _tensor(y_pred, "y_pred")
    if not y_pred.dtype.is_floating:
        y_pred = _m.cast(y_pred, "float32")
    y_true = _tensor(y_true, "y_true", true_dtype or y_pred.dtype) if not isinstance(y_true, Tensor) else y_true
    if true_dtype is None and y_true.dtype != y_pred.dtype:
        y_true = _m.cast(y_true, y_pred.dtype)
    return y_true, y_pred


def _same_shape(y_true, y_pred, fn):
    if tuple(y_true.shape) != tuple(y_pred.shape):
        # Keras squeezes or expands a trailing size-1 axis to match.
        if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
            y_true = _a.squeeze(y_true, -1)
        elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
            y_true = _a.expand_dims(y_true, -1)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"{fn}: arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")
    return y_true


def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    y_true = _same_shape(y_true, y_pred, "mean_squared_error")
    return _m.reduce_mean(_m.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    y_true = _same_shape(y_true, y_pred, "mean_absolute_error")
    return _m.reduce_mean(_m.abs(y_pred - y_true), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over ``axis`` of ``-(t log p + (1 - t) log(1 - p))``."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    y_true = _same_shape(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per = _nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        per = _clipped_bce(y_true, y_pred)
    return _m.reduce_mean(per, axis=axis)


def _clipped_bce(y_true, y_pred):
    """Elementwise ``-(t log p + (1 - t) log(1 - p))`` with ``p`` clipped to [1e-7, 1 - 1e-7] (Keras's
    ``ops.binary_crossentropy`` with ``from_logits=False``)."""
    p = _m.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
    return -(y_true * _m.log(p) + (1.0 - y_true) * _m.log(1.0 - p))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(t * log p)`` over ``axis`` for one-hot (or soft) targets."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError("categorical_crossentropy: arguments `target` and `output` must have the same shape "
                         "(one-hot targets; use sparse_categorical_crossentropy for integer labels). "
                         f"Received: target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    if from_logits:
        return _nn.softmax_cross_entropy_with_logits(y_true, y_pred, axis=axis)
    p = y_pred / _m.reduce_sum(y_pred, axis=axis, keepdims=True)
    p = _m.clip_by_value(p, EPSILON, 1.0 - EPSILON)
    return -_m.reduce_sum(y_true * _m.log(p), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """``-log p[label]`` for integer labels; probabilities are clipped, logged and
    renormalised through a log-softmax, as Keras 3's TensorFlow backend does.

    Args:
        y_true: (N...) class ids in [0, C), ints or whole-number floats (or (N..., 1)).
        y_pred: (N..., C) probabilities, or logits with ``from_logits=True``.
        ignore_class: a label id whose entries get loss 0 and a Keras mask of False, so a Loss averages over the
            other entries only (e.g. 255 or -1 for unlabeled pixels), as Keras 3.
        axis: the class axis; only the last, as Keras's TensorFlow backend.

    Raises:
        TypeError: non-numeric labels (strings), naming ``y_true``.
        ValueError: labels of the wrong shape, outside [0, num_classes) (``ignore_class`` apart), or (when on the
            host) floats that are not whole numbers, which Keras would truncate; an ``axis`` other than the last.
    """
    y_pred = _tensor(y_pred, "y_pred")
    if not y_pred.dtype.is_floating:
        y_pred = _m.cast(y_pred, "float32")
    y_true = _tensor(y_true, "y_true")
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = _a.squeeze(y_true, -1)
    if not y_true.dtype.is_integer:
        if isinstance(y_true._data, np.ndarray):  # on the host: free to check; never a device sync
            check_class_ids(y_true._data, "y_true")
        y_true = _m.cast(y_true, "int64")
    if axis != -1 and axis != y_pred.ndim - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    valid = None
    if ignore_class is not None:
        valid = _m.not_equal(y_true, int(ignore_class))
        y_true = _m.where(valid, y_true, _a.zeros_like(y_true))
        y_pred = _m.where(_a.expand_dims(valid, -1), y_pred, _a.zeros_like(y_pred))
    if tuple(y_true.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError("sparse_categorical_crossentropy: labels must have the shape of the predictions without "
                         f"the class axis. Expected: target.shape={tuple(y_pred.shape[:-1])}. "
                         f"Received: target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")
    logits = y_pred if from_logits else _m.log(_m.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON))
    res = _nn.sparse_softmax_cross_entropy_with_logits(y_true, logits)
    if valid is not None:
        from .layers.mask_utils import set_keras_mask
        res = _m.where(valid, res, _a.zeros_like(res))
        set_keras_mask(res, valid)
    return res


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


def aligned_inputs(y_true, y_pred, fn):
    """The inputs of an elementwise loss or metric function named ``fn``: ``(y_true, y_pred)`` as float tensors
    of the prediction dtype, ranks aligned as Keras's ``squeeze_or_expand_to_same_rank`` (a trailing size-1 axis
    dropped or added).

    Raises:
        ValueError: shapes that do not broadcast, naming ``fn`` and both shapes.
    """
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = _a.squeeze(y_true, -1)
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_pred = _a.squeeze(y_pred, -1)
    try:
        np.broadcast_shapes(tuple(y_true.shape), tuple(y_pred.shape))
    except ValueError:
        raise ValueError(f"{fn}: arguments `y_true` and `y_pred` must have compatible shapes. "
                         f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}") from None
    return y_true, y_pred


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), 1e-7)), axis=-1)`` (Keras 3).

    Args:
        y_true, y_pred: (batch, d0, .. dN) numbers (a trailing size-1 axis on one side is aligned).

    Returns:
        (batch, d0, .. dN-1) float tensor of the prediction dtype (float32 for integer predictions).
    """
    y_true, y_pred = aligned_inputs(y_true, y_pred, "mean_absolute_percentage_error")
    diff = _m.abs((y_true - y_pred) / _m.maximum(_m.abs(y_true), EPSILON))
    return 100.0 * _m.reduce_mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean(square(log(maximum(y_pred, 1e-7) + 1) - log(maximum(y_true, 1e-7) + 1)), axis=-1)`` (Keras 3:
    values at or below 0 count as 1e-7). Shapes as :func:`mean_absolute_percentage_error`."""
    y_true, y_pred = aligned_inputs(y_true, y_pred, "mean_squared_logarithmic_error")
    first = _m.log(_m.maximum(y_pred, EPSILON) + 1.0)
    second = _m.log(_m.maximum(y_true, EPSILON) + 1.0)
    return _m.reduce_mean(_m.square(first - second), axis=-1)


def _l2_normalize(x, axis):
    """Keras's ``normalize(x, axis, order=2)``: ``x * minimum(rsqrt(sum(x**2)), 1 / 1e-7)``, written as
    ``x * rsqrt(maximum(sum(x**2), 1e-14))`` (the same value; a zero vector gets a finite gradient)."""
    return x * _m.rsqrt(_m.maximum(_m.reduce_sum(_m.square(x), axis=axis, keepdims=True), EPSILON ** 2))


def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: -1 for the same direction, 0 when either is a
    zero vector (Keras 3's ``keras.losses.cosine_similarity``).

    Returns:
        The inputs' shape without ``axis``.
    """
    y_true, y_pred = aligned_inputs(y_true, y_pred, "cosine_similarity")
    return -_m.reduce_sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def huber(y_true, y_pred, delta=1.0):
    """Mean over the last axis of ``0.5 * e**2`` where ``|e| <= delta``, else ``delta * |e| - 0.5 * delta**2``,
    with ``e = y_pred - y_true`` (Keras 3). Shapes as :func:`mean_absolute_percentage_error`."""
    y_true, y_pred = aligned_inputs(y_true, y_pred, "huber")
    error = y_pred - y_true
    abs_error = _m.abs(error)
    delta = float(delta)
    return _m.reduce_mean(_m.where(abs_error <= delta, 0.5 * _m.square(error), delta * abs_error - 0.5 * delta ** 2),
                          axis=-1)


def log_cosh(y_true, y_pred):
    """Mean over the last axis of ``log(cosh(x))``, ``x = y_pred - y_true``, computed stably as
    ``x + softplus(-2 x) - log(2)`` (Keras 3). Shapes as :func:`mean_absolute_percentage_error`."""
    y_true, y_pred = aligned_inputs(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    return _m.reduce_mean(x + _nn.softplus(x * -2.0) - float(np.log(2.0)), axis=-1)


def _hinge_labels(y_true):
    """Keras's ``convert_binary_labels_to_hinge``: labels that are all 0 or 1 become -1 or 1; others are kept.
    Written as arithmetic on the device (``y + b * (y - 1)``, ``b`` = all binary), so no value is read back."""
    binary = _m.reduce_all(_m.logical_or(_m.equal(y_true, 0.0), _m.equal(y_true, 1.0)))
    return y_true + _m.cast(binary, y_true.dtype) * (y_true - 1.0)


def hinge(y_true, y_pred):
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``; labels of 0/1 are turned into -1/1 first (Keras 3).

    Args:
        y_true: (batch, d0, .. dN) labels, -1/1 or 0/1.
        y_pred: (batch, d0, .. dN) scores.

    Returns:
        (batch, d0, .. dN-1) float tensor.
    """
    y_true, y_pred = aligned_inputs(y_true, y_pred, "hinge")
    return _m.reduce_mean(_m.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    """``mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)``, labels as :func:`hinge` (Keras 3)."""
    y_true, y_pred = aligned_inputs(y_true, y_pred, "squared_hinge")
    return _m.reduce_mean(_m.square(_m.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """``maximum(neg - pos + 1, 0)`` with ``pos = sum(y_true * y_pred)`` and ``neg = max((1 - y_true) * y_pred)``
    over the last axis (Keras 3); ``y_true`` one-hot (0/1 or -1/1). Returns (batch, d0, .. dN-1)."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    pos = _m.reduce_sum(y_true * y_pred, axis=-1)
    neg = _m.reduce_max((1.0 - y_true) * y_pred, axis=-1)
    return _m.maximum(neg - pos + 1.0, 0.0)


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` with both clipped to [1e-7, 1] (Keras 3).

    Args:
        y_true, y_pred: (batch, d0, .. dN) probability distributions over the last axis.

    Returns:
        (batch, d0, .. dN-1) float tensor.
    """
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    y_true = _m.clip_by_value(y_true, EPSILON, 1.0)
    y_pred = _m.clip_by_value(y_pred, EPSILON, 1.0)
    return _m.reduce_sum(y_true * _m.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)`` (Keras 3). Returns (batch, d0, .. dN-1)."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    return _m.reduce_mean(y_pred - y_true * _m.log(y_pred + EPSILON), axis=-1)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy times the focal factor ``(1 - p_t) ** gamma`` (Lin et al., 2018), as Keras 3.

    ``p_t = t * p + (1 - t) * (1 - p)``; with ``apply_class_balancing`` each value is also weighted by ``alpha``
    (class 1) or ``1 - alpha`` (class 0). Logits go through a sigmoid first; labels are smoothed towards 0.5.

    Args:
        y_true: (batch, d0, .. dN) 0/1 labels.
        y_pred: (batch, d0, .. dN) probabilities, or logits with ``from_logits=True``.

    Returns:
        The mean over ``axis``: (batch, d0, .. dN-1).
    """
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = _m.sigmoid(y_pred)
    bce = _clipped_bce(y_true, y_pred)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = _m.pow(1.0 - p_t, float(gamma)) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return _m.reduce_mean(focal, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """``sum(alpha * (1 - p) ** gamma * -t * log p)`` over ``axis`` (Lin et al., 2018), as Keras 3: ``p`` is the
    softmax of logits or the probabilities renormalised to sum to 1, clipped to [1e-7, 1 - 1e-7].

    Args:
        y_true: (batch, d0, .. dN) one-hot targets.
        y_pred: (batch, d0, .. dN) probabilities, or logits with ``from_logits=True``.
        alpha: a float, or one weight per class.

    Returns:
        (batch, d0, .. dN-1) float tensor.

    Raises:
        ValueError: a bool ``axis`` (Keras's check).
    """
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = _nn.softmax(y_pred, axis=axis)
    output = _m.clip_by_value(y_pred / _m.reduce_sum(y_pred, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    alpha = convert_to_tensor(alpha, dtype=output.dtype) if isinstance(alpha, (list, tuple, np.ndarray)) else alpha
    focal = _m.pow(1.0 - output, float(gamma)) * alpha * (-y_true * _m.log(output))
    return _m.reduce_sum(focal, axis=axis)


def _tuple_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def dice(y_true, y_pred, axis=None):
    """``1 - 2 sum(t * p) / (sum(t) + sum(p) + 1e-7)`` over ``axis`` (all axes by default: one scalar), as Keras 3.

    Args:
        axis: None, an int or a tuple of axes, e.g. ``(1, 2, 3)`` for one value per image.
    """
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    axis = _tuple_axis(axis)
    intersection = _m.reduce_sum(y_true * y_pred, axis=axis)
    union = _m.reduce_sum(y_true, axis=axis) + _m.reduce_sum(y_pred, axis=axis) + EPSILON
    return 1.0 - 2.0 * intersection / union


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """``1 - sum(t p) / (sum(t p) + alpha * sum((1 - p) t) + beta * sum(p (1 - t)) + 1e-7)`` over ``axis``
    (Salehi et al., 2017), the terms exactly as Keras 3 writes them; ``alpha = beta = 0.5`` is the Dice loss."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    axis = _tuple_axis(axis)
    intersection = _m.reduce_sum(y_true * y_pred, axis=axis)
    fp = _m.reduce_sum((1.0 - y_pred) * y_true, axis=axis)
    fn = _m.reduce_sum(y_pred * (1.0 - y_true), axis=axis)
    return 1.0 - intersection / (intersection + fp * alpha + fn * beta + EPSILON)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """The generalized cross-entropy ``(1 - p**q) / q`` of the probability ``p`` of the true class (Zhang &
    Sabuncu, 2018), as Keras 3: noise-robust, MAE-like as ``q`` -> 1, cross-entropy-like as ``q`` -> 0.

    Args:
        y_true: (batch, ...) integer class ids (floats are truncated, as Keras's cast to int).
        y_pred: (batch, ..., classes) probabilities.
        q: a float in (0, 1).

    Returns:
        (batch, ...) float tensor.
    """
    y_pred = _tensor(y_pred, "y_pred")
    if not y_pred.dtype.is_floating:
        y_pred = _m.cast(y_pred, "float32")
    y_true = _m.cast(_tensor(y_true, "y_true"), "int64")
    p = _m.reduce_sum(y_pred * _a.one_hot(y_true, y_pred.shape[-1], dtype=y_pred.dtype), axis=-1)
    return (1.0 - _m.pow(p, float(q))) / float(q)


_NEG = -1e30  # log(0) for the CTC recursion: finite, so that logsumexp and its gradient stay free of NaN


def ctc(y_true, y_pred):
    """Connectionist temporal classification loss (Graves et al., 2006), as Keras 3's ``keras.losses.ctc``.

    Class 0 is the blank and pads the labels: a sample's label sequence is its first ``count(y_true != 0)`` ids;
    every sample uses all ``max_time`` steps. ``y_pred`` are logits (a log-softmax is applied here). The forward
    (alpha) recursion runs in log space over the extended labels (blanks interleaved), one step per time step, with
    gpuflow ops, so the gradient comes from the tape.

    Args:
        y_true: (batch, max_length) integer labels in [0, classes), 0 = blank/padding.
        y_pred: (batch, max_time, classes) logits.

    Returns:
        (batch,) float tensor: ``-log p(labels | y_pred)``; about 1e30 where no alignment exists (labels longer
        than the time steps allow; TensorFlow gives inf).

    Raises:
        ValueError: inputs that are not (batch, max_length) and (batch, max_time, classes) (Keras's messages).
    """
    y_true, y_pred = _tensor(y_true, "y_true"), _tensor(y_pred, "y_pred")
    if y_true.ndim != 2:
        raise ValueError("Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` in integer "
                         f"format. Received: y_true.shape={tuple(y_true.shape)}")
    if y_pred.ndim != 3:
        raise ValueError("Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, "
                         f"num_classes)`. Received: y_pred.shape={tuple(y_pred.shape)}")
    if not y_pred.dtype.is_floating:
        y_pred = _m.cast(y_pred, "float32")
    labels = _m.cast(y_true, "int64")
    batch, steps, classes = y_pred.shape
    width = 2 * labels.shape[1] + 1
    # the extended labels: blank, l1, blank, l2, ..., blank
    ext = _a.reshape(_a.stack([_a.zeros_like(labels), labels], axis=-1), (batch, -1))
    ext = _a.concat([ext, _a.zeros_like(labels[:, :1])], axis=1)
    lengths = _m.reduce_sum(_m.cast(_m.not_equal(labels, 0), "int64"), axis=1)
    position = _a.range(width, dtype="int64")
    odd = _m.equal(position % 2, 1)
    skip = _m.logical_and(_m.logical_and(odd, position >= 2),
                          _m.not_equal(ext, _a.concat([ext[:, :2], ext[:, :-2]], axis=1)))
    last = 2 * _a.expand_dims(lengths, 1)
    ends = _m.logical_or(_m.equal(position, last), _m.logical_and(_m.equal(position, last - 1), last > 0))
    log_probs = _nn.log_softmax(y_pred, axis=-1)
    emit = _m.matmul(log_probs, _a.one_hot(ext, classes, dtype=y_pred.dtype), transpose_b=True)  # (B, T, S)
    neg = _m.cast(_a.fill((batch, width), _NEG), y_pred.dtype)
    pad = neg[:, :1]
    alpha = _m.where(position < 2, emit[:, 0], neg)
    for t in range(1, steps):
        one = _a.concat([pad, alpha[:, :-1]], axis=1)
        two = _m.where(skip, _a.concat([pad, pad, alpha[:, :-2]], axis=1), neg)
        alpha = _m.reduce_logsumexp(_a.stack([alpha, one, two]), axis=0) + emit[:, t]
    return -_m.reduce_logsumexp(_m.where(ends, alpha, neg), axis=-1)


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """The Circle loss of metric learning (Sun et al., 2020), as Keras 3's ``keras.losses.circle``.

    With ``d`` the pairwise cosine distances ``max(1 - y_pred @ ref_embeddings.T, 0)`` (the embeddings are
    expected L2-normalised), a sample's loss is ``softplus(logsumexp(-gamma (m + d) (m - d)) over its positives +
    logsumexp(gamma (1 + m - d) (1 - m - d)) over its negatives)``, the weights clipped at 0, ``m = margin``;
    positives share its label (itself excluded with ``remove_diagonal``). The values carry a Keras mask of the
    nonzero losses, so a Loss averages over those only.

    Args:
        y_true: (batch,) integer labels.
        y_pred: (batch, dim) embeddings.
        ref_labels, ref_embeddings: (refs,) and (refs, dim) to compare with (default: the batch itself).

    Returns:
        (batch,) float tensor.
    """
    from .layers.mask_utils import set_keras_mask
    y_pred = _tensor(y_pred, "y_pred")
    if not y_pred.dtype.is_floating:
        y_pred = _m.cast(y_pred, "float32")
    y_true = _m.cast(_tensor(y_true, "y_true"), "int64")
    refs = y_pred if ref_embeddings is None else _m.cast(_tensor(ref_embeddings, "ref_embeddings"), y_pred.dtype)
    ref_labels = y_true if ref_labels is None else _m.cast(_tensor(ref_labels, "ref_labels"), "int64")
    distances = _m.maximum(1.0 - _m.matmul(y_pred, refs, transpose_b=True), 0.0)
    query, keys = _a.reshape(y_true, (-1, 1)), _a.reshape(ref_labels, (1, -1))
    positive = _m.equal(query, keys)
    negative = _m.logical_not(positive)
    if remove_diagonal:
        off_diagonal = _m.equal(_a.eye(query.shape[0], keys.shape[1], dtype="int64"), 0)
        positive = _m.logical_and(positive, off_diagonal)
    pos_weights = _m.maximum((margin + distances) * _m.cast(positive, distances.dtype), 0.0)
    neg_weights = _m.maximum((1.0 + margin - distances) * _m.cast(negative, distances.dtype), 0.0)
    pos = -float(gamma) * pos_weights * (margin - distances)
    neg = float(gamma) * neg_weights * ((1.0 - margin) - distances)
    never = _m.cast(_a.fill(tuple(distances.shape), _NEG), distances.dtype)  # Keras's -inf, kept finite
    loss = _nn.softplus(_m.reduce_logsumexp(_m.where(positive, pos, never), axis=1)
                        + _m.reduce_logsumexp(_m.where(negative, neg, never), axis=1))
    set_keras_mask(loss, loss > 0)
    return loss


mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh


def apply_mask(sample_weight, mask, dtype, reduction):
    """Keras 3's ``keras.src.losses.loss.apply_mask``: the sample weights times a (batch, steps) mask.

    For the mean reductions the mask is scaled by ``total / valid`` (steps in all / unmasked steps), so the
    mean over every value is the mean over the unmasked ones. None when both are None.
    """
    if mask is None:
        return sample_weight
    mask = _m.cast(convert_to_tensor(mask), dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        total = float(np.prod(mask.shape))
        mask = mask * (total / (_m.reduce_sum(mask) + EPSILON))
    if sample_weight is None:
        return mask
    sw = _to_dtype(sample_weight, dtype, "sample_weight")
    while sw.ndim > mask.ndim and sw.shape[-1] == 1:
        sw = _a.squeeze(sw, -1)
    while sw.ndim < mask.ndim:
        sw = _a.expand_dims(sw, -1)
    return sw * mask


class Loss:
    """Base loss (``keras.losses.Loss``): ``loss(y_true, y_pred, sample_weight=None)`` -> scalar.

    Raises:
        ValueError: an unknown ``reduction``.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of {_REDUCTIONS[:6]}. "
                             f"Received: reduction={reduction!r}")
        self.name = name or _to_snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype or "float32"

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss. A Keras mask attached to ``y_pred`` (a sequence model's output after
        ``Embedding(mask_zero=True)``) weighs the masked steps 0, as Keras 3 (see :func:`apply_mask`); so does one
        that ``call`` attached to its values (:func:`circle` masks its zero losses), both together when both are
        there."""
        from .layers.mask_utils import get_keras_mask
        mask = get_keras_mask(y_pred)
        # Keras 3 converts both to the loss dtype (float32 by default) before computing
        y_pred = _to_dtype(y_pred, self.dtype, "y_pred")
        y_true = _to_dtype(y_true, self.dtype, "y_true")
        values = self.call(y_true, y_pred)
        out_mask = get_keras_mask(values)
        if out_mask is not None:
            mask = out_mask if mask is None else _m.logical_and(_m.cast(mask, "bool"), _m.cast(out_mask, "bool"))
        sample_weight = apply_mask(sample_weight, mask, self.dtype, self.reduction)
        if sample_weight is not None:
            sw = convert_to_tensor(sample_weight, dtype=values.dtype)
            while sw.ndim > values.ndim and sw.shape[-1] == 1:
                sw = _a.squeeze(sw, -1)
            try:
                np.broadcast_shapes(tuple(values.shape), tuple(sw.shape))
            except ValueError:
                raise ValueError(f"Loss '{self.name}': `sample_weight` must match the per-sample losses. Expected "
                                 f"shape {tuple(values.shape)}. Received: sample_weight.shape="
                                 f"{tuple(convert_to_tensor(sample_weight).shape)}") from None
            values = values * sw
        if self.reduction in ("none", None) or values.ndim == 0:
            return values
        total = _m.reduce_sum(values)
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            denom = float(_m.reduce_sum(sw).numpy())
            return total / denom if denom else total * 0.0
        n = max(int(values._data.size), 1)
        return total / float(n)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` of per-sample values
    (``keras.losses.LossFunctionWrapper(fn, reduction, name, dtype, **kwargs)``)."""

    #: The ``kwargs`` that get_config writes (None: all of them); Keras's classes each write their own set.
    _config_keys = None

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        c = super().get_config()
        keys = self._fn_kwargs if self._config_keys is None else self._config_keys
        c.update({k: self._fn_kwargs[k] for k in keys})
        return c


class MeanSquaredError(LossFunctionWrapper):
    """``keras.losses.MeanSquaredError``."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """``keras.losses.MeanAbsoluteError``."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """``keras.losses.BinaryCrossentropy(from_logits=False, label_smoothing=0.0, axis=-1)``."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


class CategoricalCrossentropy(LossFunctionWrapper):
    """``keras.losses.CategoricalCrossentropy(from_logits=False, label_smoothing=0.0, axis=-1)``."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """``keras.losses.SparseCategoricalCrossentropy(from_logits=False, ignore_class=None)``."""

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits = from_logits


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """``keras.losses.MeanAbsolutePercentageError``: see :func:`mean_absolute_percentage_error`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, reduction=reduction, dtype=dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """``keras.losses.MeanSquaredLogarithmicError``: see :func:`mean_squared_logarithmic_error`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, reduction=reduction, dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    """``keras.losses.CosineSimilarity(axis=-1)``: see :func:`cosine_similarity`. As Keras 3.15, get_config
    writes only ``name`` and ``reduction`` (not ``axis``)."""

    _config_keys = ()

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=axis)


class Huber(LossFunctionWrapper):
    """``keras.losses.Huber(delta=1.0)``: see :func:`huber`. As Keras 3.15, get_config writes only ``name`` and
    ``reduction`` (not ``delta``), and the default name is ``"huber_loss"``."""

    _config_keys = ()

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """``keras.losses.LogCosh``: see :func:`log_cosh`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)


class Hinge(LossFunctionWrapper):
    """``keras.losses.Hinge``: see :func:`hinge`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """``keras.losses.SquaredHinge``: see :func:`squared_hinge`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """``keras.losses.CategoricalHinge``: see :func:`categorical_hinge`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)


class KLDivergence(LossFunctionWrapper):
    """``keras.losses.KLDivergence``: see :func:`kl_divergence`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """``keras.losses.Poisson``: see :func:`poisson`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """``keras.losses.BinaryFocalCrossentropy(apply_class_balancing=False, alpha=0.25, gamma=2.0,
    from_logits=False, label_smoothing=0.0, axis=-1)``: see :func:`binary_focal_crossentropy`."""

    _config_keys = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis
        self.apply_class_balancing, self.alpha, self.gamma = apply_class_balancing, alpha, gamma


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """``keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
    axis=-1)``: see :func:`categorical_focal_crossentropy`."""

    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis
        self.alpha, self.gamma = alpha, gamma


class Dice(LossFunctionWrapper):
    """``keras.losses.Dice(reduction, name="dice", axis=None)``: see :func:`dice`. With ``axis=None`` the loss is one
    scalar over the whole batch."""

    _config_keys = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis


class Tversky(LossFunctionWrapper):
    """``keras.losses.Tversky(alpha=0.5, beta=0.5, reduction, name="tversky", axis=None)``: see :func:`tversky`."""

    _config_keys = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None):
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha, beta=beta, axis=axis)
        self.alpha, self.beta, self.axis = alpha, beta, axis


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """``keras.losses.CategoricalGeneralizedCrossEntropy(q=0.5)``: see :func:`categorical_generalized_cross_entropy`
    (integer targets).

    Raises:
        ValueError: ``q`` outside (0, 1) (Keras's message).
    """

    _config_keys = ("q",)

    def __init__(self, q=0.5, reduction="sum_over_batch_size", name="categorical_generalized_cross_entropy",
                 dtype=None):
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(categorical_generalized_cross_entropy, name=name, reduction=reduction, dtype=dtype, q=q)
        self.q = q


class CTC(LossFunctionWrapper):
    """``keras.losses.CTC``: see :func:`ctc`."""

    _config_keys = ()

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, name=name, reduction=reduction, dtype=dtype)


class Circle(LossFunctionWrapper):
    """``keras.losses.Circle(gamma=80.0, margin=0.4, remove_diagonal=True)``: see :func:`circle`."""

    _config_keys = ("gamma", "margin", "remove_diagonal")

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction="sum_over_batch_size",
                 name="circle", dtype=None):
        super().__init__(circle, name=name, reduction=reduction, dtype=dtype, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)
        self.gamma, self.margin, self.remove_diagonal = gamma, margin, remove_diagonal


class Reduction:
    """``tf.keras.losses.Reduction`` (Keras's legacy namespace): the names of the reductions."""

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, key):
        """Raises: ValueError: ``key`` is not one of :meth:`all`."""
        if key not in cls.all():
            raise ValueError(f'Invalid Reduction Key: {key}. Expected keys are "{cls.all()}"')


_CLASSES = (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
            BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy, CategoricalFocalCrossentropy,
            SparseCategoricalCrossentropy, Dice, Tversky, CategoricalGeneralizedCrossEntropy, CTC, Circle)
#: Keras 3's ``keras.losses.ALL_OBJECTS_DICT``: class names, function names and the short aliases.
_CLASS_OF = {c().fn: c for c in _CLASSES}
ALL_OBJECTS_DICT = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS_DICT.update({fn.__name__: fn for fn in _CLASS_OF})
ALL_OBJECTS_DICT.update({"bce": binary_crossentropy, "BCE": binary_crossentropy, "kld": kl_divergence,
                         "KLD": kl_divergence, "mae": mae, "MAE": mae, "mse": mse, "MSE": mse, "mape": mape,
                         "MAPE": mape, "msle": msle, "MSLE": msle, "logcosh": log_cosh,
                         "kullback_leibler_divergence": kl_divergence})
#: A string for compile/get: the class whose default instance computes that function (gpuflow resolves names to
#: Loss instances, which take ``sample_weight``; Keras wraps the function, with the same values).
_BY_NAME = {k: v if isinstance(v, type) else _CLASS_OF[v] for k, v in ALL_OBJECTS_DICT.items()}


def expects_class_ids(loss):
    """Whether ``loss`` (a resolved loss) is sparse categorical cross-entropy, whose targets are class ids."""
    return getattr(loss, "fn", None) is sparse_categorical_crossentropy


def serialize(loss):
    """The Keras 3 config dict of a Loss instance or loss function (``keras.losses.serialize``)."""
    from .saving.serialization import serialize_keras_object
    return serialize_keras_object(loss)


def deserialize(name, custom_objects=None):
    """A loss from its config dict or name (``keras.losses.deserialize``): a class name gives an instance, a function
    name (or alias: "mse", "kld", ...) the function, a config dict the object it describes.

    Raises:
        ValueError: an unknown name or class.
    """
    if isinstance(name, str):
        obj = (custom_objects or {}).get(name, ALL_OBJECTS_DICT.get(name))
        if obj is None:
            raise ValueError(f"Could not interpret loss identifier: {name}. "
                             f"Expected one of {sorted(ALL_OBJECTS_DICT)}")
        return obj() if isinstance(obj, type) else obj
    from .saving import serialization as S
    return S.deserialize_top(name, S.Ctx(custom_objects), compile=False, expected=("losses",))


def get(identifier):
    """Resolves a loss name, config dict, class, instance or function (``keras.losses.get``).

    A name gives a Loss instance (``"huber"`` -> ``Huber()``), so that compile can pass sample weights; Keras returns
    the function for a function name, with the same values once reduced.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        identifier = deserialize(identifier)
        if isinstance(identifier, Loss):
            return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret loss identifier: {identifier}. "
                             f"Expected one of {sorted(k for k in _BY_NAME if k.islower())}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", "loss"))
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
