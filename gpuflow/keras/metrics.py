"""Metrics (``keras.metrics``): stateful objects with ``update_state`` / ``result`` / ``reset_state``.

Metric values are accumulated in float64 (the values are small: one number per
sample), and ``result()`` returns a float32 scalar tensor, as Keras. On the CPU
the accumulators are host floats. For tensors on a backend that keeps training
steps on the device (CUDA, ``backend.sync_free``), ``Mean``, ``Sum`` and the
mean-metric wrappers (accuracies, MSE, MAE) compute and accumulate on the device
and ``result()`` is a device tensor, so a training step makes no device-to-host
copy; so do ``Precision``, ``Recall`` and ``AUC`` with their confusion counts.
``"accuracy"`` in ``compile`` is resolved from the shapes of the targets and
predictions exactly as Keras 3's ``compile_utils.get_metric``: binary accuracy
for a last dimension of 1, sparse categorical accuracy when the targets have one
axis fewer (or a last axis of 1), else categorical accuracy.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import dtypes as _dtypes
from ..ops import math_ops as _m
from ..ops.core import convert_to_tensor
from ..tensor import Tensor
from . import losses as _losses
from .losses import (KLD, MAE, MAPE, MSE, MSLE, binary_crossentropy, binary_focal_crossentropy,  # noqa: F401
                     categorical_crossentropy, categorical_focal_crossentropy, categorical_hinge, hinge, huber,
                     kl_divergence, kld, kullback_leibler_divergence, log_cosh, logcosh, mae, mape,
                     mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                     mean_squared_logarithmic_error, mse, msle, poisson, sparse_categorical_crossentropy,
                     squared_hinge)

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredError",
           "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "RootMeanSquaredError",
           "CosineSimilarity", "LogCoshError", "R2Score", "PearsonCorrelation", "ConcordanceCorrelation", "Hinge",
           "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Precision", "Recall", "AUC", "TruePositives",
           "TrueNegatives", "FalsePositives", "FalseNegatives", "PrecisionAtRecall", "RecallAtPrecision",
           "SensitivityAtSpecificity", "SpecificityAtSensitivity", "FBetaScore", "F1Score", "IoU", "MeanIoU",
           "BinaryIoU", "OneHotIoU", "OneHotMeanIoU", "get", "serialize", "deserialize", "accuracy",
           "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "pearson_correlation", "concordance_correlation",
           # the loss functions Keras exports here too, and tf.keras's aliases
           "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
           "categorical_focal_crossentropy", "categorical_hinge", "hinge", "huber", "kl_divergence", "log_cosh",
           "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
           "mean_squared_logarithmic_error", "poisson", "sparse_categorical_crossentropy", "squared_hinge", "KLD",
           "MAE", "MAPE", "MSE", "MSLE", "kld", "kullback_leibler_divergence", "logcosh", "mae", "mape", "mse", "msle"]


def _np(x):
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return np.asarray(x)


def _device_tensor(*values):
    """The first of ``values`` that is a Tensor on a backend keeping training steps on the device (CUDA), or None."""
    for v in values:
        if isinstance(v, Tensor) and getattr(v.backend, "sync_free", False):
            return v
    return None


def _xp_arrays(*values):
    """``(xp, [arrays])``: the values as arrays of one array module: the device's (CuPy; NumPy on the emulator)
    when one of them is a device Tensor (see :func:`_device_tensor`), so nothing is copied to the host (host
    values are copied up); else NumPy arrays."""
    on = _device_tensor(*values)
    if on is None:
        return np, [_np(v) for v in values]
    be = on.backend
    return be.xp, [v._data if isinstance(v, Tensor) and v.backend is be else be.asarray(_np(v)) for v in values]


def _on_device(like, value, dtype):
    """``value`` (a device array or scalar) as a Tensor of ``dtype`` on the device of Tensor ``like``."""
    be = like.backend
    return Tensor(be.xp.asarray(value, dtype=_dtypes.as_dtype(dtype).as_numpy_dtype), like.device, be)


class Metric:
    """Base class (``keras.metrics.Metric``): subclasses implement ``update_state`` and ``result``.

    A custom metric keeps its state in variables made with :meth:`add_variable` / :meth:`add_weight` (then the
    default :meth:`reset_state` sets them to zeros, as Keras 3); gpuflow's own metrics keep theirs as arrays.
    """

    def __init__(self, name=None, dtype=None):
        from .layers.base import to_snake_case, unique_name
        # Keras's auto_name: the class name in snake case, made unique ("true_positives", "true_positives_1", ...)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.dtype = dtype or "float32"

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A non-trainable state Variable of ``shape`` (``dtype``: the metric's by default) set by ``initializer``
        (a Keras initializer or its name, e.g. "zeros"), tracked in :attr:`variables` (Keras 3's signature;
        ``aggregation`` is accepted and not used: gpuflow sums metric states over replicas)."""
        from . import initializers as _init
        from ..tensor import Variable
        dtype = _dtypes.as_dtype(dtype or self.dtype)
        shape = tuple(int(d) for d in shape)
        own = self.__dict__.setdefault("_variables", [])
        value = _init.get(initializer or "zeros")(shape, dtype=dtype.name)
        var = Variable(convert_to_tensor(value, dtype=dtype), trainable=False, name=name or f"variable_{len(own)}")
        own.append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """:meth:`add_variable` with Keras's older argument order and defaults (a scalar, zeros)."""
        return self.add_variable(shape, initializer, dtype=dtype, name=name)

    @property
    def variables(self):
        """The Variables of :meth:`add_variable`, then those of the metrics this one holds as attributes."""
        out = list(self.__dict__.get("_variables", []))
        for value in vars(self).values():
            for m in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(m, Metric) and m is not self:
                    out.extend(m.variables)
        return out

    def reset_state(self):
        """Sets every variable to zeros (Keras 3's default; gpuflow's metrics override it)."""
        for v in self.variables:
            v.assign(np.zeros(v.shape, dtype=v.dtype.as_numpy_dtype))

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def reset_states(self):
        self.reset_state()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _same_rank(y_true, y_pred):
    """Keras's ``squeeze_or_expand_to_same_rank``: ranks that differ by a trailing size-1 axis are aligned."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred[..., None]
        else:
            y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[..., None]
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred


def _broadcast_weights(values, sample_weight, on=None):
    """Sample weights aligned with ``values`` (trailing size-1 axes dropped, missing axes added), as Keras; on the
    device of Tensor ``on`` when given."""
    if on is None:
        xp, w = np, _np(sample_weight)
    else:
        xp, (w, _) = _xp_arrays(sample_weight, on)
    w = w.astype(np.float64)
    while w.ndim > values.ndim and w.shape[-1] == 1:
        w = w[..., 0]
    w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
    try:
        return xp.broadcast_to(w, values.shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {w.shape} cannot be broadcast to the values of shape "
                         f"{values.shape}.") from None


class Mean(Metric):
    """Weighted mean of the values seen (``keras.metrics.Mean``)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0
        self._device = None  # a Tensor on the device holding total (and count), once a device value came in

    def update_state(self, values, sample_weight=None):
        on = _device_tensor(values, sample_weight)
        if on is not None:
            self._update_on_device(values, sample_weight, on)
            return
        v = _np(values).astype(np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += float(v.size)
        else:
            w = _broadcast_weights(v, sample_weight)
            self.total += float((v * w).sum())
            self.count += float(w.sum())

    def _update_on_device(self, values, sample_weight, on):
        """update_state with the sums made and kept on the device of Tensor ``on`` (no host contact); a count
        known on the host (no weights, or one number as the weight: the loss tracker's batch size) stays there."""
        v = _xp_arrays(values, on)[1][0].astype(np.float64)
        if sample_weight is None:
            total, count = v.sum(), float(v.size)
        elif isinstance(sample_weight, numbers.Real):
            total, count = (v * float(sample_weight)).sum(), float(sample_weight) * v.size
        else:
            w = _broadcast_weights(v, sample_weight, on)
            total, count = (v * w).sum(), w.sum()
        self.total, self.count, self._device = self.total + total, self.count + count, on

    def result(self):
        if self._device is not None:
            if isinstance(self.count, float):  # known on the host (np.float64 on the emulator is a float too)
                mean = self.total / self.count if self.count else self.total * 0.0
            else:
                xp, nonzero = self._device.backend.xp, self.count != 0
                mean = xp.where(nonzero, self.total, 0.0) / xp.where(nonzero, self.count, 1.0)
            return _on_device(self._device, mean, self.dtype)
        return convert_to_tensor(self.total / self.count if self.count else 0.0, dtype=self.dtype)


class Sum(Metric):
    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self._device = None  # as Mean's

    def update_state(self, values, sample_weight=None):
        on = _device_tensor(values, sample_weight)
        v = (_np(values) if on is None else _xp_arrays(values, on)[1][0]).astype(np.float64)
        if sample_weight is not None:
            v = v * _broadcast_weights(v, sample_weight, on)
        if on is None:
            self.total += float(v.sum())
        else:
            self.total, self._device = self.total + v.sum(), on

    def result(self):
        if self._device is not None:
            return _on_device(self._device, self.total, self.dtype)
        return convert_to_tensor(self.total, dtype=self.dtype)


class MeanMetricWrapper(Mean):
    """Mean of ``fn(y_true, y_pred, **kwargs)`` over all samples seen (``keras.metrics.MeanMetricWrapper``).

    The functions of :mod:`gpuflow.keras.losses` (and this module's correlation functions), written with gpuflow
    ops, get the inputs as Tensors on their device, so they too run there with no host copy; other functions get
    NumPy arrays.
    """

    #: The ``kwargs`` that get_config writes besides ``name`` and ``dtype`` (as each Keras class writes its own).
    _config_keys = ()

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def get_config(self):
        c = super().get_config()
        c.update({k: self._fn_kwargs[k] for k in self._config_keys})
        return c

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds ``fn(y_true, y_pred)`` for a batch.

        A Keras mask attached to ``y_pred`` (see :mod:`gpuflow.keras.layers.mask_utils`) weighs the masked steps
        0, as Keras 3.

        Raises:
            ValueError: ``y_true`` and ``y_pred`` with different batch sizes, naming the metric and both shapes.
        """
        from .layers.mask_utils import get_keras_mask
        from .losses import apply_mask
        mask = get_keras_mask(y_pred)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, "float32", "sum")
        on = _device_tensor(y_true, y_pred) if self._fn in _DEVICE_FNS or _tensor_fn(self._fn) else None
        if on is None:
            y_true, y_pred = _np(y_true), _np(y_pred)
        elif _tensor_fn(self._fn):  # both as Tensors on the device (a host target is copied up)
            y_true, y_pred = (Tensor(a, on.device, on.backend) for a in _xp_arrays(y_true, y_pred)[1])
        true_shape, pred_shape = tuple(np.shape(y_true)), tuple(np.shape(y_pred))
        if true_shape and pred_shape and true_shape[0] != pred_shape[0]:
            raise ValueError(f"Metric '{self.name}': y_true and y_pred must have the same batch size. "
                             f"Received: y_true.shape={true_shape}, y_pred.shape={pred_shape}")
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if on is not None and not isinstance(values, Tensor):
            values = Tensor(values, on.device, on.backend)
        super().update_state(values, sample_weight)


def _squeeze_true(y_true, y_pred):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1 and y_pred.shape[-1] != 1:
        return y_true[..., 0]
    return y_true


def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` exactly."""
    _, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
    return (y_true == y_pred.astype(y_true.dtype)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Mean over the last axis of ``y_true == (y_pred > threshold)`` (exact comparison, as Keras 3)."""
    xp, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
    y_true, y_pred = _same_rank(y_true, y_pred)
    y_pred = (y_pred > threshold).astype(np.float64)
    return xp.mean(y_true.astype(np.float64) == y_pred, axis=-1).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """``argmax(y_true) == argmax(y_pred)`` per sample."""
    xp, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
    return (xp.argmax(y_true, axis=-1) == xp.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """``y_true == argmax(y_pred)`` per sample (integer labels)."""
    xp, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
    y_true = _squeeze_true(y_true, y_pred)
    # compared as floats, as Keras 3 (a label of 1.5 matches no class)
    return (y_true.astype(np.float64) == xp.argmax(y_pred, axis=-1)).astype(np.float32)


def _mse(y_true, y_pred):
    xp, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
    y_true, y_pred = _same_rank(y_true, y_pred)
    return xp.mean((y_pred - y_true) ** 2, axis=-1)


def _mae(y_true, y_pred):
    xp, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
    y_true, y_pred = _same_rank(y_true, y_pred)
    return xp.mean(xp.abs(y_pred - y_true), axis=-1)


def _in_top_k(xp, labels, y_pred, k):
    """TensorFlow's ``in_top_k``: whether the score of class ``labels[i]`` is among the ``k`` largest of row ``i``
    (ties at the boundary count as in: fewer than ``k`` scores are strictly larger). A label outside the classes
    or a non-finite score is a miss. Returns float32 of ``labels``' shape."""
    scores = y_pred.reshape(-1, y_pred.shape[-1]).astype(np.float64)
    ids = labels.reshape(-1).astype(np.int64)
    valid = (ids >= 0) & (ids < scores.shape[-1])
    target = xp.take_along_axis(scores, xp.where(valid, ids, 0)[:, None], axis=1)
    hits = ((scores > target).sum(axis=-1) < k) & xp.isfinite(target[:, 0]) & valid
    return hits.reshape(labels.shape).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the class of one-hot ``y_true`` (its argmax) is among the ``k`` top scores of ``y_pred``
    (``keras.metrics.top_k_categorical_accuracy``).

    Args:
        y_true: (batch, ..., classes) one-hot targets.
        y_pred: (batch, ..., classes) scores.

    Returns:
        (batch, ...) float32 array.
    """
    xp, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
    return _in_top_k(xp, xp.argmax(y_true, axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label ``y_true`` is among the ``k`` top scores of ``y_pred``; with
    ``from_sorted_ids=True``, ``y_pred`` holds class ids sorted by score and the first ``k`` are compared
    (``keras.metrics.sparse_top_k_categorical_accuracy``).

    Args:
        y_true: (batch, ...) class ids (floats are truncated, as Keras's cast to int32), or (batch, ..., 1).
        y_pred: (batch, ..., classes) scores, or (batch, ..., n) sorted class ids.

    Returns:
        float32 array of ``y_true``'s shape.
    """
    xp, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
    if from_sorted_ids:
        ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
        hits = (y_true.reshape(-1, 1).astype(ids.dtype) == ids).any(axis=1)
        return hits.reshape(y_true.shape).astype(np.float32)
    return _in_top_k(xp, y_true.astype(np.int32), y_pred, k)


#: The metric functions that run on the device's arrays (the others get NumPy copies).
_DEVICE_FNS = {accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, _mse, _mae,
               top_k_categorical_accuracy, sparse_top_k_categorical_accuracy}


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    _config_keys = ("threshold",)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_mse, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_mae, name, dtype)


def _cosine_similarity(y_true, y_pred, axis=-1):
    """``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`` (Keras's metric: the loss without its minus)."""
    return -_losses.cosine_similarity(y_true, y_pred, axis=axis)


def _std(x, axis):
    return _m.sqrt(_m.reduce_mean(_m.square(x - _m.reduce_mean(x, axis=axis, keepdims=True)), axis=axis,
                                  keepdims=True))


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's correlation coefficient along ``axis`` (``keras.metrics.pearson_correlation``): the mean of the
    product of the standardised ``y_true`` and ``y_pred`` (population standard deviations).

    Returns:
        The inputs' shape without ``axis`` (float32 for float32 inputs); NaN where one side is constant.
    """
    y_true, y_pred = _losses.aligned_inputs(y_true, y_pred, "pearson_correlation")
    t = y_true - _m.reduce_mean(y_true, axis=axis, keepdims=True)
    p = y_pred - _m.reduce_mean(y_pred, axis=axis, keepdims=True)
    return _m.reduce_mean((t / _std(t, axis)) * (p / _std(p, axis)), axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation along ``axis``, term by term as Keras 3.15 computes it
    (``keras.metrics.concordance_correlation``): ``mean(2 (t - mean(p)) (p - mean(p)) / (var(t) + var(p) +
    (mean(t) - mean(p))**2 + 1e-7))``.

    Returns:
        The inputs' shape without ``axis``.
    """
    y_true, y_pred = _losses.aligned_inputs(y_true, y_pred, "concordance_correlation")
    t_mean = _m.reduce_mean(y_true, axis=axis, keepdims=True)
    p_mean = _m.reduce_mean(y_pred, axis=axis, keepdims=True)
    t_var, p_var = _m.square(_std(y_true, axis)), _m.square(_std(y_pred, axis))
    covar = (y_true - p_mean) * (y_pred - p_mean)
    norm = t_var + p_var + _m.square(t_mean - p_mean)
    return _m.reduce_mean(2.0 * covar / (norm + _losses.EPSILON), axis=axis)


#: Functions written with gpuflow ops: MeanMetricWrapper gives them Tensors on the inputs' device.
_TENSOR_FNS = {fn for fn in _losses.ALL_OBJECTS_DICT.values() if not isinstance(fn, type)} | {
    _cosine_similarity, pearson_correlation, concordance_correlation}


def _tensor_fn(fn):
    return fn in _TENSOR_FNS



class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the ``k`` top scores (``keras.metrics.TopKCategoricalAccuracy``)."""

    _config_keys = ("k",)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target is among the ``k`` top scores (``keras.metrics.SparseTopKCategoricalAccuracy``);
    get_config writes ``from_sorted_ids`` only when True, as Keras."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, k=k, from_sorted_ids=from_sorted_ids)
        self.k, self.from_sorted_ids = k, from_sorted_ids
        self._config_keys = ("k", "from_sorted_ids") if from_sorted_ids else ("k",)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """``keras.metrics.MeanAbsolutePercentageError``: see
    :func:`gpuflow.keras.losses.mean_absolute_percentage_error`."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name, dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """``keras.metrics.MeanSquaredLogarithmicError``: see
    :func:`gpuflow.keras.losses.mean_squared_logarithmic_error`."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name, dtype)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity along ``axis`` (``keras.metrics.CosineSimilarity``): 1 for the same direction. As Keras
    3.15, get_config writes only ``name`` and ``dtype`` (not ``axis``)."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(_cosine_similarity, name, dtype, axis=axis)


class LogCoshError(MeanMetricWrapper):
    """``keras.metrics.LogCoshError`` (default name ``"logcosh"``): see :func:`gpuflow.keras.losses.log_cosh`."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name, dtype)


class Hinge(MeanMetricWrapper):
    """``keras.metrics.Hinge``: see :func:`gpuflow.keras.losses.hinge`."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name, dtype)


class SquaredHinge(MeanMetricWrapper):
    """``keras.metrics.SquaredHinge``: see :func:`gpuflow.keras.losses.squared_hinge`."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name, dtype)


class CategoricalHinge(MeanMetricWrapper):
    """``keras.metrics.CategoricalHinge``: see :func:`gpuflow.keras.losses.categorical_hinge`."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name, dtype)


class KLDivergence(MeanMetricWrapper):
    """``keras.metrics.KLDivergence``: see :func:`gpuflow.keras.losses.kl_divergence`."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name, dtype)


class Poisson(MeanMetricWrapper):
    """``keras.metrics.Poisson``: see :func:`gpuflow.keras.losses.poisson`."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(poisson, name, dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    """``keras.metrics.BinaryCrossentropy``: see :func:`gpuflow.keras.losses.binary_crossentropy`."""

    _config_keys = ("from_logits", "label_smoothing")

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(binary_crossentropy, name, dtype, from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """``keras.metrics.CategoricalCrossentropy``: see :func:`gpuflow.keras.losses.categorical_crossentropy`."""

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(categorical_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """``keras.metrics.SparseCategoricalCrossentropy``: see
    :func:`gpuflow.keras.losses.sparse_categorical_crossentropy` (with ``ignore_class``, the ignored entries count
    as 0 in the mean, as Keras)."""

    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(sparse_categorical_crossentropy, name, dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis


class PearsonCorrelation(MeanMetricWrapper):
    """Mean of :func:`pearson_correlation` along ``axis`` (``keras.metrics.PearsonCorrelation``)."""

    _config_keys = ("axis",)

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name, dtype, axis=axis)
        self.axis = axis


class ConcordanceCorrelation(MeanMetricWrapper):
    """Mean of :func:`concordance_correlation` along ``axis`` (``keras.metrics.ConcordanceCorrelation``)."""

    _config_keys = ("axis",)

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name, dtype, axis=axis)
        self.axis = axis


class RootMeanSquaredError(Mean):
    """``sqrt`` of the mean of ``(y_pred - y_true)**2`` over every value seen (``keras.metrics.RootMeanSquaredError``);
    sample weights weigh each sample's values."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        on = _device_tensor(y_true, y_pred)
        _, (y_true, y_pred) = _xp_arrays(y_true, y_pred)
        y_true, y_pred = _same_rank(y_true, y_pred)
        error_sq = (y_pred.astype(np.float64) - y_true) ** 2
        super().update_state(error_sq if on is None else Tensor(error_sq, on.device, on.backend), sample_weight)

    def result(self):
        return _m.sqrt(super().result())


_NEG_INF = -1e10  # Keras's metrics_utils.NEG_INF: the score of a prediction outside the top k


def _filter_top_k(xp, scores, k):
    """``scores`` with all but the ``k`` largest of each row (the last axis; ties: the lower index first, as
    ``top_k``) set to -1e10 (Keras's ``_filter_top_k``)."""
    stable = {"kind": "stable"} if xp is np else {}  # CuPy's sort is always stable (older ones take no `kind`)
    rank = xp.argsort(xp.argsort(-scores, axis=-1, **stable), axis=-1, **stable)
    return xp.where(rank < k, scores, _NEG_INF)


def _binary_inputs(y_true, y_pred, sample_weight, class_id, name, top_k=None):
    """``(device, true, pred, weights)``: arrays of ``y_pred``'s shape, ``true`` as bool, the others float64, on the
    device of ``device`` (a Tensor on a backend keeping steps on the device, see :func:`_device_tensor`: no
    copy) or NumPy arrays (``device`` None). With ``top_k``, only the ``k`` top scores of each row count (the
    others become -1e10), before ``class_id`` picks a column, as Keras."""
    on = _device_tensor(y_true, y_pred, sample_weight)
    xp, arrays = _xp_arrays(y_true, y_pred, *([] if on is None else [on]))
    t, p = arrays[0].astype(np.float64), arrays[1].astype(np.float64)
    if t.shape != p.shape and t.size == p.size:
        t = t.reshape(p.shape)
    if t.shape != p.shape:
        raise ValueError(f"{name}: y_true and y_pred must have the same shape. Received: y_true.shape={t.shape}, "
                         f"y_pred.shape={p.shape}")
    w = xp.ones(p.shape) if sample_weight is None else _broadcast_weights(p, sample_weight, on)
    if top_k is not None:
        p = _filter_top_k(xp, p, top_k)
    if class_id is not None:
        t, p, w = t[..., class_id], p[..., class_id], w[..., class_id]
    return on, t > 0.5, p, w


class _StateMetric(Metric):
    """A metric whose state is float64 arrays on the host, or on the device of the inputs once a device Tensor came
    in (``_device``, a Tensor there): then ``result()`` is a device Tensor and an update makes no host contact."""

    _device = None

    @property
    def _xp(self):
        return np if self._device is None else self._device.backend.xp

    def _tensor(self, value):
        """``value`` (an array of the state's module) as the result Tensor of ``self.dtype`` (float32 for int)."""
        dtype = self.dtype if _dtypes.as_dtype(self.dtype).is_floating else "float32"
        if self._device is not None:
            return _on_device(self._device, value, dtype)
        return convert_to_tensor(np.asarray(value), dtype=dtype)


class _SumsMetric(_StateMetric):
    """Running sums, one attribute per name of ``_sum_names`` (0.0 after a reset, then arrays, see
    :class:`_StateMetric`); plain attributes, so a multi-worker strategy sums them over the workers as the others."""

    _sum_names = ()

    def reset_state(self):
        for k in self._sum_names:
            setattr(self, k, 0.0)
        self._device = None

    def _arrays(self, *values):
        """``(xp, arrays)`` of ``values`` (None passes through); the state moves to the device of a device Tensor."""
        on = _device_tensor(*values)
        if on is not None and self._device is None:  # host sums from earlier batches go up once
            for k in self._sum_names:
                setattr(self, k, on.backend.asarray(getattr(self, k)))
        if on is not None:
            self._device = on
        present = [v for v in values if v is not None]
        xp, arrays = _xp_arrays(*present)
        it = iter(arrays)
        return xp, [None if v is None else next(it) for v in values]

    def _add(self, **sums):
        for k, v in sums.items():
            setattr(self, k, getattr(self, k) + v)


class _ConfusionMetric(_StateMetric):
    """Weighted true/false positive/negative counts at each threshold (``y_pred > threshold`` is positive): float64
    arrays ``tp``, ``fp``, ``tn``, ``fn`` (see :class:`_StateMetric` for where they live), one per threshold, or
    (thresholds, labels) with ``_by_label`` (AUC's multi_label). ``_label_weights`` (not by label) weigh each
    label's entries in the counts."""

    _by_label = False
    _label_weights = None

    def __init__(self, thresholds, class_id, name, dtype, top_k=None):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds  # what get_config writes (None for the default), as Keras
        default = 0.5 if top_k is None else _NEG_INF  # with top_k, every top score is a positive prediction
        self.thresholds = np.atleast_1d(np.asarray(default if thresholds is None else thresholds, dtype=np.float64))
        self.top_k = top_k
        self._single = thresholds is None or np.ndim(thresholds) == 0
        self.class_id = class_id
        self._device_constants = {}  # {name: (backend, array on its device)}, each copied up once
        self.reset_state()

    def reset_state(self):
        shape = (len(self.thresholds),) + ((1,) if self._by_label else ())  # by label: broadcast on first update
        self.tp, self.fp, self.tn, self.fn = (np.zeros(shape) for _ in range(4))
        self._device = None  # a Tensor on the device holding the counts, once a device value came in

    def _constant(self, name, value):
        """The NumPy array ``value`` on the device of the counts (copied up once per backend), or itself."""
        if self._device is None or value is None:
            return value
        be = self._device.backend
        cached = self._device_constants.get(name)
        if cached is None or cached[0] is not be:
            cached = self._device_constants[name] = be, be.asarray(value)
        return cached[1]

    def _predictions(self, xp, p):
        """The scores compared with the thresholds (AUC applies its sigmoid to logits)."""
        return p

    def update_state(self, y_true, y_pred, sample_weight=None):
        on, t, p, w = _binary_inputs(y_true, y_pred, sample_weight, self.class_id, self.name, self.top_k)
        xp = np
        if on is not None:
            be = on.backend
            if self._device is None:  # the counts move to the device once (after a reset: zeros)
                self.tp, self.fp, self.tn, self.fn = (be.asarray(c) for c in (self.tp, self.fp, self.tn, self.fn))
            xp, self._device = be.xp, on
        thresholds = self._constant("thresholds", self.thresholds)
        if self._by_label:
            if p.ndim != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {p.ndim}. Full shape "
                                 f"received for `y_pred`: {tuple(p.shape)}")
        else:
            if self._label_weights is not None:
                w = w * self._constant("label_weights", self._label_weights)
            t, p, w = t.reshape(-1), p.reshape(-1), w.reshape(-1)
        pred = self._predictions(xp, p)[None] > thresholds.reshape((-1,) + (1,) * p.ndim)
        self.tp = self.tp + _weighted_count(pred & t, w)
        self.fp = self.fp + _weighted_count(pred & ~t, w)
        self.fn = self.fn + _weighted_count(~pred & t, w)
        self.tn = self.tn + _weighted_count(~pred & ~t, w)

    def _out(self, values):
        """``values`` (one per threshold) as the result Tensor: a scalar for a single threshold."""
        return self._tensor(values[0] if self._single else values)

    def get_config(self):
        """Keras 3's keys: ``thresholds`` as given (None for the default), ``top_k`` and ``class_id``."""
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


def _weighted_count(mask, w):
    """``sum(w[mask])`` per threshold of the (thresholds, samples[, labels]) bool ``mask``: (thresholds[, labels]);
    one matrix-vector product without labels."""
    if w.ndim == 1:
        return mask.astype(w.dtype) @ w
    return (mask * w).sum(axis=1)


def _ratio(xp, a, b):
    """``a / b``, 0 where ``b`` is not > 0."""
    pos = b > 0
    return xp.where(pos, a, 0.0) / xp.where(pos, b, 1.0)


class Precision(_ConfusionMetric):
    """TP / (TP + FP) at ``thresholds`` (default 0.5), 0 when nothing is predicted positive
    (``keras.metrics.Precision``); with ``top_k``, only each row's ``k`` top scores are predictions (and the
    default threshold is -1e10: each of them is a positive)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        super().__init__(thresholds, class_id, name, dtype, top_k)

    def result(self):
        return self._out(_ratio(self._xp, self.tp, self.tp + self.fp))


class Recall(_ConfusionMetric):
    """TP / (TP + FN) at ``thresholds`` (default 0.5) (``keras.metrics.Recall``); ``top_k`` as :class:`Precision`."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, class_id, name, dtype, top_k)

    def result(self):
        return self._out(_ratio(self._xp, self.tp, self.tp + self.fn))


class AUC(_ConfusionMetric):
    """Area under the ROC, PR or PR-gain curve from confusion counts at ``num_thresholds`` thresholds
    (``keras.metrics.AUC``), as Keras 3 computes it: a Riemann sum over the thresholds with ``summation_method``
    "interpolation" (trapezoids; for PR, Davis & Goadrich's (2006) precision-recall interpolation), "minoring" or
    "majoring". Thresholds are Keras's: ``i / (num_thresholds - 1)`` for the inner ones (or ``thresholds``), and
    -1e-7 and 1 + 1e-7. ``multi_label=True``: one curve per label column of (batch, labels) inputs, averaged (or
    weighted by ``label_weights``); else ``label_weights`` weigh each label's entries in the counts.

    Raises:
        ValueError: an unknown ``curve`` or ``summation_method``, ``num_thresholds`` <= 1, ``num_labels`` without
            ``multi_label`` (Keras's messages); with ``multi_label``, inputs that are not 2-D.
    """

    _CURVES = {"ROC": "ROC", "roc": "ROC", "PR": "PR", "pr": "PR", "PRGAIN": "PRGAIN", "prgain": "PRGAIN"}

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc", dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        if curve not in self._CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]')
        if str(summation_method).lower() not in ("interpolation", "majoring", "minoring"):
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                             '["interpolation", "majoring", "minoring"]')
        if thresholds is None and num_thresholds <= 1:
            raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                             f"Received: num_thresholds={num_thresholds}")
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        eps = 1e-7
        self._init_from_thresholds = thresholds is not None
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] if thresholds is None \
            else sorted(float(v) for v in thresholds)
        self.num_thresholds = len(inner) + 2
        self.curve, self.summation_method = self._CURVES[curve], str(summation_method).lower()
        self.multi_label, self.num_labels, self.from_logits = multi_label, num_labels, from_logits
        self.label_weights = None if label_weights is None else np.asarray(label_weights, dtype=np.float64)
        self._by_label = multi_label
        self._label_weights = None if multi_label else self.label_weights  # in the counts, or in the average
        super().__init__([0.0 - eps] + list(inner) + [1.0 + eps], None, name, dtype)
        self._single = False

    def _predictions(self, xp, p):
        return 1 / (1 + xp.exp(-p)) if self.from_logits else p

    def _over_labels(self, xp, by_label):
        """The area of one curve, or with ``multi_label`` the mean of the labels' (weighted by label_weights)."""
        if not self.multi_label:
            return by_label
        if self.label_weights is None:
            return xp.mean(by_label)
        weights = self._constant("label_weights", self.label_weights)
        return _ratio(xp, xp.sum(by_label * weights), xp.sum(weights))

    def result(self):
        xp, tp, fp, fn, tn = self._xp, self.tp, self.fp, self.fn, self.tn
        if self.curve == "PR" and self.summation_method == "interpolation":
            dtp = tp[:-1] - tp[1:]
            p = tp + fp
            dp = xp.maximum(p[:-1] - p[1:], 0)
            slope = _ratio(xp, dtp, dp)
            intercept = tp[1:] - slope * p[1:]
            both = (p[:-1] > 0) & (p[1:] > 0)
            ratio = xp.where(both, _ratio(xp, p[:-1], xp.maximum(p[1:], 0)), 1.0)
            inc = _ratio(xp, slope * (dtp + intercept * xp.log(xp.where(ratio > 0, ratio, 1.0))),
                         xp.maximum(tp[1:] + fn[1:], 0))
            return self._tensor(self._over_labels(xp, xp.sum(inc, axis=0)))
        recall = _ratio(xp, tp, tp + fn)
        if self.curve == "ROC":
            x, y = _ratio(xp, fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _ratio(xp, tp, tp + fp)
        else:  # PRGAIN
            scale = _ratio(xp, tp + fn, tn + fp)
            recall_gain = xp.where(tp == 0, 0.0, 1.0 - scale * _ratio(xp, fn, tp))
            x, y = xp.maximum(recall_gain, 0.0), xp.where(tp == 0, 1.0, 1.0 - scale * _ratio(xp, fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = xp.minimum(y[:-1], y[1:])
        else:
            heights = xp.maximum(y[:-1], y[1:])
        return self._tensor(self._over_labels(xp, xp.sum((x[:-1] - x[1:]) * heights, axis=0)))

    def get_config(self):
        c = {**Metric.get_config(self), "num_thresholds": self.num_thresholds, "curve": self.curve,
             "summation_method": self.summation_method, "multi_label": self.multi_label,
             "num_labels": self.num_labels,
             "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
             "from_logits": self.from_logits}
        if self._init_from_thresholds:
            c["thresholds"] = self.thresholds[1:-1].tolist()
        return c


class _ConditionCount(_ConfusionMetric):
    """One weighted confusion count per threshold (Keras's ``_ConfusionMatrixConditionCount``): a scalar for one
    threshold, a (thresholds,) vector for a list. get_config writes ``thresholds`` as given (None by default)."""

    _count = None  # "tp", "fp", "tn" or "fn"

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds, None, name, dtype)

    def result(self):
        return self._out(getattr(self, self._count))

    def get_config(self):
        return {**Metric.get_config(self), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """Weighted count of positives predicted positive (``y_pred > threshold``) (``keras.metrics.TruePositives``)."""
    _count = "tp"


class FalsePositives(_ConditionCount):
    """Weighted count of negatives predicted positive (``keras.metrics.FalsePositives``)."""
    _count = "fp"


class TrueNegatives(_ConditionCount):
    """Weighted count of negatives predicted negative (``keras.metrics.TrueNegatives``)."""
    _count = "tn"


class FalseNegatives(_ConditionCount):
    """Weighted count of positives predicted negative (``keras.metrics.FalseNegatives``)."""
    _count = "fn"


class _AtConstraint(_ConfusionMetric):
    """Keras's ``SensitivitySpecificityBase``: confusion counts at ``num_thresholds`` thresholds (0, i / (n - 1) for
    the inner ones, 1; or 0.5 alone for n = 1), and the best ``dependent`` rate over the thresholds where the
    ``constrained`` rate is >= ``value`` (0 when none is).

    Raises:
        ValueError: ``value`` outside [0, 1] or ``num_thresholds`` <= 0, naming the argument.
    """

    _value_arg = None  # the name of the constrained value's argument ("recall", "precision", ...)

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if value < 0 or value > 1:
            raise ValueError(f"Argument `{self._value_arg}` must be in the range [0, 1]. "
                             f"Received: {self._value_arg}={value}")
        if num_thresholds <= 0:
            raise ValueError("Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds}")
        thresholds = [0.5] if num_thresholds == 1 else \
            [0.0] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0]
        super().__init__(thresholds, class_id, name, dtype)
        self.value, self.num_thresholds = value, num_thresholds
        setattr(self, self._value_arg, value)

    def _rates(self):
        """``{"recall"/"sensitivity": TP / (TP + FN), "precision": TP / (TP + FP), "specificity": TN / (TN + FP)}``."""
        xp, tp = self._xp, self.tp
        recall = _ratio(xp, tp, tp + self.fn)
        return {"recall": recall, "sensitivity": recall, "precision": _ratio(xp, tp, tp + self.fp),
                "specificity": _ratio(xp, self.tn, self.tn + self.fp)}

    def result(self):
        rates = self._rates()
        feasible = rates[self._value_arg] >= self.value
        return self._tensor(self._xp.maximum(self._xp.where(feasible, rates[self._dependent], 0.0).max(), 0.0))

    def get_config(self):
        return {**Metric.get_config(self), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._value_arg: self.value}


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) where the specificity is >= ``specificity``
    (``keras.metrics.SensitivityAtSpecificity``)."""

    _value_arg, _dependent = "specificity", "sensitivity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity where the sensitivity is >= ``sensitivity`` (``keras.metrics.SpecificityAtSensitivity``)."""

    _value_arg, _dependent = "sensitivity", "specificity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(_AtConstraint):
    """The best precision where the recall is >= ``recall`` (``keras.metrics.PrecisionAtRecall``)."""

    _value_arg, _dependent = "recall", "precision"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtConstraint):
    """The best recall where the precision is >= ``precision`` (``keras.metrics.RecallAtPrecision``)."""

    _value_arg, _dependent = "precision", "recall"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)


def _check_2d(name, y_true, y_pred):
    if y_pred.ndim != 2 or y_true.ndim != 2:
        raise ValueError(f"{name} expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                         f"y_pred.shape={tuple(y_pred.shape)} and y_true.shape={tuple(y_true.shape)}.")


class FBetaScore(_SumsMetric):
    """The F-beta score ``(1 + beta**2) P R / (beta**2 P + R)`` per class (``keras.metrics.FBetaScore``), from
    weighted TP/FP/FN counts; ``average`` None (one per class), "micro" (counts pooled), "macro" (mean) or "weighted"
    (weighted by each class's true count). ``threshold`` None: the top score of each row (if not ~0) is positive;
    else ``y_pred > threshold``. Epsilon 1e-7 in each ratio, as Keras.

    Inputs: ``y_true`` and ``y_pred`` of shape (batch, classes); ``sample_weight`` (batch,).

    Raises:
        ValueError: a bad ``average``, ``beta`` (not a float > 0) or ``threshold`` (not a float in (0, 1]), or
            inputs that are not 2-D (Keras's messages).
    """

    _sum_names = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name, dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError(f"Invalid `beta` argument value. It should be a Python float. Received: beta={beta} "
                             f"of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(f"Invalid `threshold` argument value. It should be a Python float. Received: "
                                 f"threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(f"Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                                 f"Received: threshold={threshold}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp, (t, p, w) = self._arrays(y_true, y_pred, sample_weight)
        _check_2d(type(self).__name__, t, p)
        t, p = t.astype(np.float64), p.astype(np.float64)
        if self.threshold is None:
            p = (p >= p.max(axis=-1, keepdims=True)) & (xp.abs(p) > 1e-9)
        else:
            p = p > self.threshold
        p = p.astype(np.float64)
        w = xp.ones((t.shape[0], 1)) if w is None else w.astype(np.float64).reshape(-1, 1)
        axis = self.axis
        self._add(true_positives=(p * t * w).sum(axis=axis), false_positives=(p * (1 - t) * w).sum(axis=axis),
                  false_negatives=((1 - p) * t * w).sum(axis=axis), intermediate_weights=(t * w).sum(axis=axis))

    def result(self):
        xp, eps, b2, tp = self._xp, _losses.EPSILON, self.beta ** 2, self.true_positives
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        f = precision * recall / (b2 * precision + recall + eps) * (1 + b2)
        if self.average == "weighted":
            f = xp.sum(f * self.intermediate_weights / (xp.sum(self.intermediate_weights) + eps))
        elif self.average is not None:
            f = xp.mean(f)
        return self._tensor(f)

    def get_config(self):
        return {**Metric.get_config(self), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """:class:`FBetaScore` with ``beta=1`` (``keras.metrics.F1Score``)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        c = super().get_config()
        del c["beta"]
        return c


class R2Score(_SumsMetric):
    """The coefficient of determination ``1 - SS_res / SS_tot`` per output column (``keras.metrics.R2Score``),
    from weighted sums; ``class_aggregation`` "uniform_average" (mean over columns), "variance_weighted_average" or
    None (one per column); with ``num_regressors`` p > 0 the adjusted score ``1 - (1 - R2) (n - 1) / (n - p - 1)``,
    n the number of values seen (Keras falls back to R2 with a warning when n - 1 <= p). A column of constant
    targets scores 0 (Keras replaces the infinite ratio by 0).

    Inputs: (batch, outputs) ``y_true`` and ``y_pred``; ``sample_weight`` (batch,) or (batch, outputs).

    Raises:
        ValueError: a bad ``class_aggregation`` or negative ``num_regressors`` (Keras's messages), inputs that are
            not 2-D.
    """

    _sum_names = ("sum", "squared_sum", "total_mse", "count")

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name, dtype)
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of {valid}. "
                             f"Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value >= 0. "
                             f"Received: num_regressors={num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.reset_state()

    def reset_state(self):
        super().reset_state()
        self.num_samples = 0  # on the host: the shapes give it

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp, (t, p, w) = self._arrays(y_true, y_pred, sample_weight)
        t, p = _same_rank(t.astype(np.float64), p.astype(np.float64))
        _check_2d("R2Score", t, p)
        w = xp.ones(1) if w is None else w.astype(np.float64)
        w = xp.broadcast_to(w.reshape(-1, 1) if w.ndim == 1 else w, t.shape)
        self._add(sum=(t * w).sum(axis=0), squared_sum=(t * t * w).sum(axis=0),
                  total_mse=((t - p) ** 2 * w).sum(axis=0), count=w.sum(axis=0))
        self.num_samples += t.size

    def result(self):
        if not self.num_samples:
            return self._tensor(0.0)
        xp = self._xp
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1 - self.total_mse / total
        raw = xp.where(xp.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = xp.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        if self.num_regressors:
            n, p = self.num_samples, self.num_regressors
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return self._tensor(score)

    def get_config(self):
        return {**Metric.get_config(self), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


class IoU(_SumsMetric):
    """Intersection over union ``TP / (TP + FP + FN)`` of each of ``target_class_ids``, averaged over those that
    occur (``keras.metrics.IoU``), from a (num_classes, num_classes) confusion matrix (rows: targets, columns:
    predictions) accumulated over batches.

    As Keras 3.15: ids are cast to ``dtype`` (int64 by default, so float predictions are truncated: pass class ids,
    or ``sparse_y_pred=False`` to take the argmax over ``axis``), sample weights too (an int dtype truncates them);
    pairs with an id outside [0, num_classes) or a target equal to ``ignore_class`` are left out. ``result()`` is
    float32.

    Raises:
        ValueError: a target class id >= num_classes.
    """

    _sum_names = ("total_cm",)

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name, dtype or "int64")
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which is [0, {num_classes}).")
        self.num_classes, self.target_class_ids = num_classes, list(target_class_ids)
        self.ignore_class, self.sparse_y_true, self.sparse_y_pred, self.axis = \
            ignore_class, sparse_y_true, sparse_y_pred, axis
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp, (t, p, w) = self._arrays(y_true, y_pred, sample_weight)
        if not self.sparse_y_true:
            t = xp.argmax(t, axis=self.axis)
        p = self._predicted_ids(xp, p)
        dtype, n = _dtypes.as_dtype(self.dtype).as_numpy_dtype, self.num_classes
        t, p = t.astype(dtype).reshape(-1), p.astype(dtype).reshape(-1)
        w = xp.ones(t.shape, dtype) if w is None else xp.broadcast_to(w.astype(dtype).reshape(-1), t.shape)
        keep = (t >= 0) & (t < n) & (p >= 0) & (p < n)
        if self.ignore_class is not None:
            keep &= t != self.ignore_class
        cells = xp.where(keep, t, 0).astype(np.int64) * n + xp.where(keep, p, 0).astype(np.int64)
        weights = xp.where(keep, w, 0).astype(np.float64)
        self._add(total_cm=xp.bincount(cells, weights=weights, minlength=n * n).reshape(n, n))

    def _predicted_ids(self, xp, y_pred):
        return y_pred if self.sparse_y_pred else xp.argmax(y_pred, axis=self.axis)

    def result(self):
        xp = self._xp
        cm = self.total_cm + xp.zeros((self.num_classes,) * 2)
        tp = xp.diagonal(cm)
        denominator = (cm.sum(axis=0) + cm.sum(axis=1) - tp)[self.target_class_ids]
        tp = tp[self.target_class_ids]
        valid = denominator > 1e-9
        iou = xp.where(valid, tp / (denominator + _losses.EPSILON), 0.0)
        return self._tensor(iou.sum() / (valid.sum() + _losses.EPSILON))

    def get_config(self):
        return {**Metric.get_config(self), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """:class:`IoU` of the two classes 0 and 1, predictions ``y_pred >= threshold`` counting as 1
    (``keras.metrics.BinaryIoU``)."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def _predicted_ids(self, xp, y_pred):
        return y_pred.astype(np.float32) >= self.threshold

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """:class:`IoU` averaged over all ``num_classes`` classes (``keras.metrics.MeanIoU``)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        c = super().get_config()
        del c["target_class_ids"]
        return c


class OneHotIoU(IoU):
    """:class:`IoU` with one-hot targets (and, unless ``sparse_y_pred``, scores: argmax over ``axis``)
    (``keras.metrics.OneHotIoU``)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        c = super().get_config()
        del c["sparse_y_true"]
        return c


class OneHotMeanIoU(MeanIoU):
    """:class:`MeanIoU` with one-hot targets (``keras.metrics.OneHotMeanIoU``)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        c = super().get_config()
        del c["sparse_y_true"]
        return c


_CLASSES = (Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
            MeanAbsolutePercentageError, MeanSquaredLogarithmicError, RootMeanSquaredError, CosineSimilarity,
            LogCoshError, R2Score, PearsonCorrelation, ConcordanceCorrelation, Hinge, SquaredHinge, CategoricalHinge,
            KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            Precision, Recall, AUC, TruePositives, TrueNegatives, FalsePositives, FalseNegatives, PrecisionAtRecall,
            RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, FBetaScore, F1Score, IoU, MeanIoU,
            BinaryIoU, OneHotIoU, OneHotMeanIoU)


def _snake(name):
    from .layers.base import to_snake_case
    return to_snake_case(name)


#: Keras 3's ``keras.metrics.ALL_OBJECTS_DICT``: class names, their snake-case names ("top_k_categorical_accuracy",
#: "log_cosh_error", "mean_io_u", ...) and the short aliases.
_BY_NAME = {**{c.__name__: c for c in _CLASSES}, **{_snake(c.__name__): c for c in _CLASSES},
            "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "mse": MeanSquaredError, "MSE": MeanSquaredError,
            "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mape": MeanAbsolutePercentageError,
            "MAPE": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError,
            "MSLE": MeanSquaredLogarithmicError}


def serialize(metric):
    """The Keras 3 config dict of a Metric instance or metric function (``keras.metrics.serialize``)."""
    from .saving.serialization import serialize_keras_object
    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    """A metric from its config dict or name (``keras.metrics.deserialize``): a name gives an instance.

    Raises:
        ValueError: an unknown name or class.
    """
    if isinstance(config, str):
        obj = (custom_objects or {}).get(config, _BY_NAME.get(config))
        if obj is None:
            raise ValueError(f"Could not interpret metric identifier: {config}")
        return obj() if isinstance(obj, type) else obj
    from .saving import serialization as S
    return S.deserialize_top(config, S.Ctx(custom_objects), compile=False, expected=("metrics",))


def get(identifier, y_true=None, y_pred=None):
    """Resolves a metric identifier (``keras.metrics.get``): a name, config dict, class, instance or function;
    "accuracy"/"acc" need the shapes of the targets and predictions (as compile resolves them).

    Names are Keras 3's (class names, their snake-case forms, "mse", "mape", "bce", ...). The name of a loss function
    that is no metric name ("huber", "kld", "logcosh", "binary_focal_crossentropy", ...) gives the mean of that
    function, as Keras 2 accepted (Keras 3.15 refuses these).

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        identifier = deserialize(identifier)
        if isinstance(identifier, Metric):
            return identifier
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        if y_true is None:
            return Accuracy(name=identifier)
        y_true_shape, y_pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
        if y_pred_shape[-1:] == (1,) or len(y_pred_shape) == 1:
            return BinaryAccuracy(name=identifier)
        if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1:] == (1,) and y_pred_shape[-1] > 1):
            return SparseCategoricalAccuracy(name=identifier)
        return CategoricalAccuracy(name=identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is not None:
            return cls()
        fn = _losses.ALL_OBJECTS_DICT.get(identifier)
        if fn is not None and not isinstance(fn, type):
            return MeanMetricWrapper(fn, name=identifier)
        raise ValueError(f"Could not interpret metric identifier: {identifier}. "
                         f"Expected 'accuracy' or one of {sorted(k for k in _BY_NAME if k.islower())}")
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
