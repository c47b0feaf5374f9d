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

import numpy as np

from .. import dtypes as _dtypes
from ..ops.core import convert_to_tensor
from ..tensor import Tensor

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "get", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "accuracy", "Precision", "Recall", "AUC"]


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
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``."""

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.dtype = dtype or "float32"

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
    """Mean of ``fn(y_true, y_pred)`` over all samples seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

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
        on = _device_tensor(y_true, y_pred) if self._fn in _DEVICE_FNS else None
        if on is None:
            y_true, y_pred = _np(y_true), _np(y_pred)
        true_shape, pred_shape = tuple(np.shape(y_true)), tuple(np.shape(y_pred))
        if true_shape and pred_shape and true_shape[0] != pred_shape[0]:
            raise ValueError(f"Metric '{self.name}': y_true and y_pred must have the same batch size. "
                             f"Received: y_true.shape={true_shape}, y_pred.shape={pred_shape}")
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values if on is None else Tensor(values, on.device, on.backend), sample_weight)


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


#: The metric functions that run on the device's arrays (the others get NumPy copies).
_DEVICE_FNS = {accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, _mse, _mae}


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
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


def _binary_inputs(y_true, y_pred, sample_weight, class_id, name):
    """``(device, true, pred, weights)``: the inputs flattened, ``true`` as bool, the others float64, as arrays of
    the device of ``device`` (a Tensor on a backend keeping steps on the device, see :func:`_device_tensor`: no
    copy) or NumPy arrays (``device`` None)."""
    on = _device_tensor(y_true, y_pred, sample_weight)
    xp, arrays = _xp_arrays(y_true, y_pred, *([] if on is None else [on]))
    t, p = arrays[0].astype(np.float64), arrays[1].astype(np.float64)
    if t.shape != p.shape and t.size == p.size:
        t = t.reshape(p.shape)
    if t.shape != p.shape:
        raise ValueError(f"{name}: y_true and y_pred must have the same shape. Received: y_true.shape={t.shape}, "
                         f"y_pred.shape={p.shape}")
    w = xp.ones(p.shape) if sample_weight is None else _broadcast_weights(p, sample_weight, on)
    if class_id is not None:
        t, p, w = t[..., class_id], p[..., class_id], w[..., class_id]
    return on, t.ravel() > 0.5, p.ravel(), w.ravel()


class _ConfusionMetric(Metric):
    """Weighted true/false positive/negative counts at each threshold (``y_pred > threshold`` is positive): float64
    arrays ``tp``, ``fp``, ``tn``, ``fn`` on the host, or on the device of the inputs once a device Tensor came in
    (then ``result()`` is a device Tensor and an update makes no host contact)."""

    def __init__(self, thresholds, class_id, name, dtype):
        super().__init__(name, dtype)
        self.thresholds = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds, dtype=np.float64))
        self._single = thresholds is None or np.ndim(thresholds) == 0
        self.class_id = class_id
        self._device_thresholds = None  # (backend, thresholds on its device), made once
        self.reset_state()

    def reset_state(self):
        n = len(self.thresholds)
        self.tp, self.fp, self.tn, self.fn = (np.zeros(n) for _ in range(4))
        self._device = None  # a Tensor on the device holding the counts, once a device value came in

    def _predictions(self, xp, p):
        """The scores compared with the thresholds (AUC applies its sigmoid to logits)."""
        return p

    def update_state(self, y_true, y_pred, sample_weight=None):
        on, t, p, w = _binary_inputs(y_true, y_pred, sample_weight, self.class_id, self.name)
        xp, thresholds = np, self.thresholds
        if on is not None:
            be = on.backend
            if self._device_thresholds is None or self._device_thresholds[0] is not be:
                self._device_thresholds = be, be.asarray(self.thresholds)
            thresholds = self._device_thresholds[1]
            if self._device is None:  # the counts move to the device once (after a reset: zeros)
                self.tp, self.fp, self.tn, self.fn = (be.asarray(c) for c in (self.tp, self.fp, self.tn, self.fn))
            xp, self._device = be.xp, on
        pred = self._predictions(xp, p)[None, :] > thresholds[:, None]
        self.tp += _weighted_count(pred & t, w)
        self.fp += _weighted_count(pred & ~t, w)
        self.fn += _weighted_count(~pred & t, w)
        self.tn += _weighted_count(~pred & ~t, w)

    @property
    def _xp(self):
        return np if self._device is None else self._device.backend.xp

    def _out(self, values):
        """``values`` (one per threshold) as the result Tensor: a scalar for a single threshold."""
        return self._tensor(values[0] if self._single else values)

    def _tensor(self, value):
        if self._device is not None:
            return _on_device(self._device, value, self.dtype)
        return convert_to_tensor(value, dtype=self.dtype)

    def get_config(self):
        c = super().get_config()
        c.update({"thresholds": self.thresholds.tolist() if not self._single else float(self.thresholds[0]),
                  "class_id": self.class_id})
        return c


def _weighted_count(mask, w):
    """``sum(w[mask])`` per row of the (thresholds, samples) bool ``mask``, as one matrix-vector product."""
    return mask.astype(w.dtype) @ w


def _ratio(xp, a, b):
    """``a / b``, 0 where ``b`` is not > 0."""
    pos = b > 0
    return xp.where(pos, a, 0.0) / xp.where(pos, b, 1.0)


class Precision(_ConfusionMetric):
    """TP / (TP + FP) at ``thresholds`` (default 0.5), 0 when nothing is predicted positive (``keras.metrics.Precision``)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        if top_k is not None:
            raise NotImplementedError("Precision(top_k=...) is not supported yet.")
        super().__init__(thresholds, class_id, name, dtype)

    def result(self):
        return self._out(_ratio(self._xp, self.tp, self.tp + self.fp))


class Recall(_ConfusionMetric):
    """TP / (TP + FN) at ``thresholds`` (default 0.5) (``keras.metrics.Recall``)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        if top_k is not None:
            raise NotImplementedError("Recall(top_k=...) is not supported yet.")
        super().__init__(thresholds, class_id, name, dtype)

    def result(self):
        return self._out(_ratio(self._xp, self.tp, self.tp + self.fn))


class AUC(_ConfusionMetric):
    """Area under the ROC or PR curve from confusion counts at ``num_thresholds`` thresholds
    (``keras.metrics.AUC``, summation_method="interpolation"): the trapezoidal rule for ROC, and
    Davis & Goadrich's (2006) precision-recall interpolation for PR, as Keras computes them.
    Thresholds are Keras's: ``i / (num_thresholds - 1)`` for the inner ones, and -1e-7 and 1 + 1e-7."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc", dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        if curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["ROC", "PR"]')
        if summation_method != "interpolation" or multi_label or label_weights is not None:
            raise NotImplementedError("AUC: only summation_method='interpolation' and single-label data are "
                                      "supported yet.")
        if num_thresholds <= 1:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 1. Received: num_thresholds={num_thresholds}")
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] if thresholds is None \
            else sorted(thresholds)
        self.num_thresholds = len(inner) + 2
        self.curve, self.summation_method, self.from_logits = curve, summation_method, from_logits
        super().__init__([0.0 - eps] + list(inner) + [1.0 + eps], None, name, dtype)
        self._single = False

    def _predictions(self, xp, p):
        return 1 / (1 + xp.exp(-p)) if self.from_logits else p

    def result(self):
        xp, tp, fp, fn, tn = self._xp, self.tp, self.fp, self.fn, self.tn
        if self.curve == "ROC":
            tpr, fpr = _ratio(xp, tp, tp + fn), _ratio(xp, fp, fp + tn)
            return self._tensor(xp.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = xp.maximum(p[:-1] - p[1:], 0)
        slope = _ratio(xp, dtp, dp)
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = xp.where(both, _ratio(xp, p[:-1], xp.maximum(p[1:], 0)), 1.0)
        inc = _ratio(xp, slope * (dtp + intercept * xp.log(xp.where(ratio > 0, ratio, 1.0))),
                     xp.maximum(tp[1:] + fn[1:], 0))
        return self._tensor(xp.sum(inc))

    def get_config(self):
        c = Metric.get_config(self)
        c.update({"num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "from_logits": self.from_logits})
        return c


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy, "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError, "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "precision": Precision, "recall": Recall, "auc": AUC,
}
for _c in (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanSquaredError,
           MeanAbsoluteError, Mean, Sum, Precision, Recall, AUC):
    _BY_NAME[_c.__name__] = _c


def get(identifier, y_true=None, y_pred=None):
    """Resolves a metric identifier (``keras.metrics.get``); "accuracy"/"acc" need the shapes.

    Raises:
        ValueError: for an unknown name.
    """
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
        if cls is None:
            raise ValueError(f"Could not interpret metric identifier: {identifier}. "
                             f"Expected 'accuracy' or one of {sorted(k for k in _BY_NAME if k.islower())}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
