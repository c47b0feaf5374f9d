"""Sorting and selection (``tf.sort``, ``tf.argsort``, ``tf.math.top_k``, ``tf.math.in_top_k``, ``tf.unique``),
TensorFlow's names, arguments, dtypes and tie rules.

Values picked by index (``sort``, ``top_k``) are a gather of the input, so their gradient scatters back to the
positions they came from; indices have no gradient.
"""
from __future__ import annotations

import collections

import numpy as np

from .. import dtypes as _dtypes
from .core import convert_to_tensor, wrap
from .array_ops import getitem

__all__ = ["argsort", "sort", "top_k", "in_top_k", "unique"]

TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])
Unique = collections.namedtuple("Unique", ["y", "idx"])


def _axis(axis, ndim, op):
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of bounds for a tensor of rank {ndim}. Expected an axis in "
                         f"[{-ndim}, {ndim}).")
    return axis % ndim


def _check_direction(direction, op):
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"{op}: `direction` must be 'ASCENDING' or 'DESCENDING'. Received: direction={direction!r}")


def _argsort_data(x, axis, direction):
    """Stable argsort along ``axis``; descending keeps equal values in their original order, as TensorFlow."""
    xp = x._backend.xp
    if direction == "ASCENDING":
        return xp.argsort(x._data, axis=axis, kind="stable")
    n = x.shape[axis]
    rev = xp.flip(x._data, axis=axis)
    return xp.flip(n - 1 - xp.argsort(rev, axis=axis, kind="stable"), axis=axis)


def _take_along(x, idx, axis):
    """``x``'s values at ``idx`` (a backend int array) along ``axis``, differentiable (a gather)."""
    xp = x._backend.xp
    key = tuple(idx if d == axis else xp.arange(n).reshape([-1 if k == d else 1 for k in range(idx.ndim)])
                for d, n in enumerate(idx.shape))
    return getitem(x, key)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """Indices that sort ``values`` along ``axis`` (``tf.argsort``); int32, same shape as ``values``.

    Equal values keep their original order in both directions (TensorFlow's result; ``stable`` is accepted).

    Raises:
        ValueError: a bad ``direction`` or ``axis``.
    """
    _check_direction(direction, "argsort")
    x = convert_to_tensor(values)
    if x.ndim == 0:
        raise ValueError("argsort expects a tensor of rank >= 1. Received: shape=()")
    ax = _axis(axis, x.ndim, "argsort")
    return wrap(_argsort_data(x, ax, direction).astype(np.int32), x)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """``values`` sorted along ``axis`` (``tf.sort``); the gradient goes back to each value's position.

    Raises:
        ValueError: a bad ``direction`` or ``axis``.
    """
    _check_direction(direction, "sort")
    x = convert_to_tensor(values)
    if x.ndim == 0:
        raise ValueError("sort expects a tensor of rank >= 1. Received: shape=()")
    ax = _axis(axis, x.ndim, "sort")
    return _take_along(x, _argsort_data(x, ax, direction), ax)


def top_k(input, k=1, sorted=True, index_type="int32", name=None):  # noqa: A002 - TensorFlow's names
    """The ``k`` largest entries along the last axis and their indices (``tf.math.top_k`` / ``tf.nn.top_k``).

    Args:
        input: a Tensor of shape (..., n), n >= k.
        k: how many (int >= 0).
        sorted: accepted; the values are always in descending order (equal values: lower index first, as TF).
        index_type: the indices' dtype (int32 by default).

    Returns:
        ``TopKV2(values, indices)``, each of shape (..., k).

    Raises:
        ValueError: ``k`` negative or larger than the last axis, or a rank-0 input.
    """
    x = convert_to_tensor(input)
    k = int(k)
    if x.ndim == 0 or not 0 <= k <= x.shape[-1]:
        raise ValueError(f"top_k: `k` must be in [0, {x.shape[-1] if x.ndim else 0}] (the last axis of the input). "
                         f"Received: k={k}, input.shape={tuple(x.shape)}")
    idx = _argsort_data(x, x.ndim - 1, "DESCENDING")[..., :k]
    return TopKV2(_take_along(x, idx, x.ndim - 1),
                  wrap(idx.astype(_dtypes.as_dtype(index_type).as_numpy_dtype), x))


def in_top_k(targets, predictions, k, name=None):
    """Whether each target class is among the ``k`` highest predictions of its row (``tf.math.in_top_k``).

    Classes tied with the k-th value count as in the top k (TensorFlow's rule); a non-finite target prediction is
    False.

    Args:
        targets: int Tensor of shape (batch,).
        predictions: float Tensor of shape (batch, classes).
        k: int.

    Returns:
        A bool Tensor of shape (batch,).
    """
    p = convert_to_tensor(predictions)
    t = convert_to_tensor(targets)
    if p.ndim != 2 or t.ndim != 1 or t.shape[0] != p.shape[0]:
        raise ValueError(f"in_top_k expects predictions of shape (batch, classes) and targets of shape (batch,). "
                         f"Received: predictions.shape={tuple(p.shape)}, targets.shape={tuple(t.shape)}")
    xp = p._backend.xp
    target_p = xp.take_along_axis(p._data, t._data.astype(np.int64)[:, None], axis=1)
    above = xp.sum(p._data > target_p, axis=1)
    return wrap((above < int(k)) & xp.isfinite(target_p[:, 0]), p)


def unique(x, out_idx="int32", name=None):
    """The distinct values of a 1-D tensor in order of first occurrence, and each element's index into them
    (``tf.unique``).

    Returns:
        ``Unique(y, idx)``: ``y`` (n_unique,) of ``x``'s dtype, ``idx`` (n,) of ``out_idx`` with ``y[idx] == x``.

    Raises:
        ValueError: ``x`` not 1-D.
    """
    x = convert_to_tensor(x)
    if x.ndim != 1:
        raise ValueError(f"unique expects a 1-D tensor. Received: shape={tuple(x.shape)}")
    xp = x._backend.xp
    values, first, inverse = xp.unique(x._data, return_index=True, return_inverse=True)
    order = xp.argsort(first, kind="stable")  # sorted values -> first-occurrence order
    rank = xp.empty_like(order)
    rank[order] = xp.arange(order.shape[0])
    idx = rank[inverse.reshape(-1)].astype(_dtypes.as_dtype(out_idx).as_numpy_dtype)
    return Unique(wrap(values[order], x), wrap(idx, x))
