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

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "get", "mse", "mae"]

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
        p = _m.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
        per = -(y_true * _m.log(p) + (1.0 - y_true) * _m.log(1.0 - p))
    return _m.reduce_mean(per, axis=axis)


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

    Raises:
        TypeError: non-numeric labels (strings), naming ``y_true``.
        ValueError: labels of the wrong shape, outside [0, num_classes), or (when on the host) floats that
            are not whole numbers, which Keras would truncate.
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
    if ignore_class is not None or axis != -1:
        raise NotImplementedError("sparse_categorical_crossentropy: ignore_class and axis != -1 are not supported yet.")
    if tuple(y_true.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError("sparse_categorical_crossentropy: labels must have the shape of the predictions without "
                         f"the class axis. Expected: target.shape={tuple(y_pred.shape[:-1])}. "
                         f"Received: target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")
    logits = y_pred if from_logits else _m.log(_m.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON))
    return _nn.sparse_softmax_cross_entropy_with_logits(y_true, logits)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


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
        ``Embedding(mask_zero=True)``) weighs the masked steps 0, as Keras 3 (see :func:`apply_mask`)."""
        from .layers.mask_utils import get_keras_mask
        mask = get_keras_mask(y_pred)
        # Keras 3 converts both to the loss dtype (float32 by default) before computing
        y_pred = _to_dtype(y_pred, self.dtype, "y_pred")
        y_true = _to_dtype(y_true, self.dtype, "y_true")
        values = self.call(y_true, y_pred)
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
    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        c = super().get_config()
        c.update(self._fn_kwargs)
        return c


class MeanSquaredError(LossFunctionWrapper):
    """``keras.losses.MeanSquaredError``."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction)


class MeanAbsoluteError(LossFunctionWrapper):
    """``keras.losses.MeanAbsoluteError``."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction)


class BinaryCrossentropy(LossFunctionWrapper):
    """``keras.losses.BinaryCrossentropy(from_logits=False, label_smoothing=0.0, axis=-1)``."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


class CategoricalCrossentropy(LossFunctionWrapper):
    """``keras.losses.CategoricalCrossentropy(from_logits=False, label_smoothing=0.0, axis=-1)``."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """``keras.losses.SparseCategoricalCrossentropy(from_logits=False, ignore_class=None)``."""

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         ignore_class=ignore_class)
        self.from_logits = from_logits


_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
for _c in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
           SparseCategoricalCrossentropy):
    _BY_NAME[_c.__name__] = _c


def expects_class_ids(loss):
    """Whether ``loss`` (a resolved loss) is sparse categorical cross-entropy, whose targets are class ids."""
    return getattr(loss, "fn", None) is sparse_categorical_crossentropy


def get(identifier):
    """Resolves a loss name, class, instance or function (``keras.losses.get``).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if identifier is None or isinstance(identifier, Loss):
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
