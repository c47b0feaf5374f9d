"""``keras.ops`` math operations (Keras 3.15's ``keras/src/ops/math.py``): segment reductions, ``top_k``,
``in_top_k``, ``logsumexp``, ``erf``/``erfc``/``erfinv``, ``rsqrt``, ``logdet``, ``cdist``, ``extract_sequences``.
The Fourier transforms (``fft``, ``rfft``, ``stft``...) and the complex views are not supported in gpuflow (its
tensors are real): they raise AttributeError naming the op.
"""
from __future__ import annotations

import numpy as np

from ...ops import array_ops as A
from ...ops import keras_numpy_ops as K
from ...ops import linalg_ops as L
from ...ops import math_ops as M
from ...ops import nn_ops as N
from ...ops import sort_ops as S
from ._symbolic import wrap_module
from ._common import axis_tuple, float_tensor, promote, tensor

__all__ = ["segment_sum", "segment_max", "segment_min", "segment_prod", "top_k", "in_top_k", "logsumexp", "erf",
           "erfc", "erfinv", "rsqrt", "logdet", "cdist", "extract_sequences"]


def _segment(kind, data, segment_ids, num_segments, sorted):  # noqa: A002 - Keras's name
    data = tensor(data, arg="data")
    ids = tensor(segment_ids, arg="segment_ids")
    if ids.ndim != 1:
        raise ValueError(f"Argument `segment_ids` should be an 1-D vector, got shape: {ids.ndim}. Consider either "
                         f"flatten input with segment_ids.reshape((-1)) and data.reshape((-1, ) + "
                         f"data.shape[len(segment_ids.shape):]) or vectorize with vmap.")
    if ids.shape[0] != data.shape[0]:
        raise ValueError(f"Argument `segment_ids` and `data` should have same leading dimension. Got "
                         f"{tuple(ids.shape)} v.s. {tuple(data.shape)}.")
    if sorted:
        if num_segments is not None:
            raise ValueError(f"Argument `num_segments` cannot be set when sorted is True when using the tensorflow "
                             f"backend.Received: num_segments={num_segments}, sorted={sorted}.")
        host = ids.numpy()
        num_segments = int(host.max()) + 1 if host.size else 0
    elif num_segments is None:
        num_segments = int(np.unique(ids.numpy()).size)  # Keras on TensorFlow: the number of distinct ids
    if kind == "sum":
        return M.unsorted_segment_sum(data, ids, int(num_segments))
    return K.segment_reduce(data, ids, int(num_segments), kind)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Sums of the rows of ``data`` sharing a segment id (1-D ``segment_ids``, one per leading row); negative ids
    are dropped, ids >= ``num_segments`` are an error (TensorFlow's ``unsorted_segment_sum``). ``num_segments``
    defaults to the number of distinct ids (Keras on TensorFlow), or ``max(id) + 1`` when ``sorted``.
    Differentiable in ``data``.

    Raises:
        ValueError: ``segment_ids`` not 1-D or of another length than ``data``; ``num_segments`` with ``sorted``.
    """
    return _segment("sum", data, segment_ids, num_segments, sorted)


def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Maxima of the rows sharing a segment id (as :func:`segment_sum`); an empty segment holds the dtype's lowest
    value. Differentiable (ties share the gradient)."""
    return _segment("max", data, segment_ids, num_segments, sorted)


def segment_min(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Minima of the rows sharing a segment id (as :func:`segment_max`; empty segments hold the highest value)."""
    return _segment("min", data, segment_ids, num_segments, sorted)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Products of the rows sharing a segment id (empty segments hold 1); no gradient in gpuflow."""
    return _segment("prod", data, segment_ids, num_segments, sorted)


def top_k(x, k, sorted=True):  # noqa: A002
    """The ``k`` largest values along the last axis and their int32 indices (lower index first on ties); values
    differentiable."""
    return tuple(S.top_k(tensor(x), k, sorted=sorted))


def in_top_k(targets, predictions, k):
    """Whether each target class is among the ``k`` largest predictions of its row (ties count in), bool."""
    return S.in_top_k(tensor(targets, arg="targets"), float_tensor(predictions, "predictions"), k)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed stably; floating result."""
    x = float_tensor(x)
    return M.reduce_logsumexp(x, axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def erf(x):
    """The error function, elementwise; floating result, differentiable."""
    return N.erf(float_tensor(x))


def erfc(x):
    """The complementary error function ``1 - erf(x)``, elementwise; floating result, differentiable (computed as
    ``1 - erf``: absolute, not relative, accuracy for large x)."""
    x = float_tensor(x)
    return M.ones_like_(x) - N.erf(x)


def erfinv(x):
    """The inverse error function, elementwise (+-inf at +-1); floating result, differentiable."""
    return K.erfinv(float_tensor(x))


def rsqrt(x):
    """``1 / sqrt(x)``, elementwise; floating result."""
    return M.rsqrt(float_tensor(x))


def logdet(x):
    """``log(det(x))`` of each (positive-definite) square matrix (..., N, N); differentiable."""
    return M.log(L.det(float_tensor(x)))


def cdist(x, y):
    """Euclidean distances between the rows of ``x`` (..., P, M) and ``y`` (..., R, M): (..., P, R); floating
    result, differentiable.

    Raises:
        ValueError: inputs of rank below 2 or different last dimensions (Keras's messages).
    """
    x, y = promote(x, y, extra=(float,))
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError("`cdist` inputs must have rank >= 2")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError("Last dimension of inputs to `cdist` must match")
    d = A.expand_dims(x, -2) - A.expand_dims(y, -3)
    return M.sqrt(M.reduce_sum(M.square(d), axis=-1))


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` along the last axis every ``sequence_stride`` (``tf.signal.frame``, no end
    padding): (..., num_sequences, sequence_length); differentiable.

    Raises:
        ValueError: a rank-0 input.
    """
    x = tensor(x)
    if x.ndim < 1:
        raise ValueError(f"Input should have rank >= 1. Received: input.shape = {tuple(x.shape)}")
    n = x.shape[-1]
    count = max(0, 1 + (n - sequence_length) // sequence_stride)
    idx = np.arange(count)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    return A.getitem(x, (Ellipsis, x._backend.asarray(idx)))


wrap_module(globals(), __all__)  # a call on symbolic tensors is a functional-model node
