"""``keras.ops`` math operations (Keras 3.15's ``keras/src/ops/math.py``): segment reductions, ``top_k``,
``in_top_k``, ``logsumexp``, ``erf``/``erfc``/``erfinv``, ``rsqrt``, ``logdet``, ``cdist``, ``extract_sequences``,
and the Fourier transforms ``fft``, ``fft2``, ``ifft2``, ``rfft``, ``irfft``, ``stft`` and ``istft``, which take
and give complex values as ``(real, imag)`` pairs of real tensors, as Keras (differentiable). The complex views are
not supported in gpuflow (its tensors are real): they raise AttributeError naming the op.
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
           "erfc", "erfinv", "rsqrt", "logdet", "cdist", "extract_sequences", "fft", "fft2", "ifft2", "rfft", "irfft",
           "stft", "istft"]


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




# -- Fourier transforms: complex values as (real, imag) pairs ---------------------------------------------------
def _pair_of(x, op):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"Input `x` should be a tuple of two tensors - real and imaginary. Received: x={x!r:.100}")
    real, imag = promote(x[0], x[1])
    if not real.dtype.is_floating:
        raise TypeError(f"{op}: the real and imaginary parts must be floating. Received: dtype={real.dtype.name}")
    if tuple(real.shape) != tuple(imag.shape):
        raise ValueError(f"Input `x` should be a tuple of two tensors - real and imaginary. Both the real and "
                         f"imaginary parts should have the same shape. Received: x[0].shape = {tuple(real.shape)}, "
                         f"x[1].shape = {tuple(imag.shape)}")
    return real, imag


def fft(x):
    """The discrete Fourier transform over the last axis of ``x = (real, imag)``, as ``(real, imag)``;
    differentiable."""
    real, imag = _pair_of(x, "fft")
    return K.fft_pair(real, imag, (real.ndim - 1,))


def fft2(x):
    """The 2-D discrete Fourier transform over the last two axes of ``x = (real, imag)``, as ``(real, imag)``."""
    real, imag = _pair_of(x, "fft2")
    return K.fft_pair(real, imag, (real.ndim - 2, real.ndim - 1))


def ifft2(x):
    """The inverse of :func:`fft2` (scaled by 1/n as NumPy's), as ``(real, imag)``."""
    real, imag = _pair_of(x, "ifft2")
    return K.fft_pair(real, imag, (real.ndim - 2, real.ndim - 1), inverse=True)


def _fit_last(x, n):
    """``x`` cropped or zero-padded to ``n`` entries on its last axis."""
    if x.shape[-1] >= n:
        return A.getitem(x, (Ellipsis, slice(0, n)))
    return A.pad(x, [[0, 0]] * (x.ndim - 1) + [[0, n - x.shape[-1]]])


def rfft(x, fft_length=None):
    """The discrete Fourier transform of the real ``x`` over its last axis (cropped or zero-padded to
    ``fft_length``), its ``fft_length // 2 + 1`` non-negative frequencies as ``(real, imag)``; differentiable.
    Integer inputs give ``floatx()``."""
    x = float_tensor(x)
    n = x.shape[-1] if fft_length is None else int(fft_length)
    x = _fit_last(x, n)
    real, imag = K.fft_pair(x, M.zeros_like_(x), (x.ndim - 1,))
    keep = (Ellipsis, slice(0, n // 2 + 1))
    return A.getitem(real, keep), A.getitem(imag, keep)


def irfft(x, fft_length=None):
    """The inverse of :func:`rfft`: the real signal of length ``fft_length`` (default ``2 * (m - 1)`` for ``m``
    frequencies) whose non-negative frequencies are ``x = (real, imag)`` (NumPy's ``irfft``: the spectrum is
    completed by Hermitian symmetry, the imaginary parts of the zero and Nyquist frequencies do not count);
    differentiable."""
    real, imag = _pair_of(x, "irfft")
    n = 2 * (real.shape[-1] - 1) if fft_length is None else int(fft_length)
    half = n // 2 + 1
    real, imag = _fit_last(real, half), _fit_last(imag, half)
    tail = (Ellipsis, slice(n - half, 0, -1))  # bins n - half .. 1, reversed: the conjugates of bins half .. n - 1
    full_r = A.concat([real, A.getitem(real, tail)], axis=-1)
    full_i = A.concat([imag, -A.getitem(imag, tail)], axis=-1)
    return K.fft_pair(full_r, full_i, (real.ndim - 1,), inverse=True)[0]


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """The short-time Fourier transform of the real signal ``x`` (..., samples), as Keras 3 on TensorFlow:
    with ``center`` the signal is reflect-padded by ``fft_length // 2`` on both sides; frames of ``fft_length``
    every ``sequence_stride`` are multiplied by the window (``"hann"``/``"hamming"``, periodic, or a tensor of
    ``sequence_length``; None: none) centred in ``fft_length`` and transformed by :func:`rfft`. Returns ``(real,
    imag)`` of shape (..., frames, fft_length // 2 + 1); differentiable.

    Raises:
        TypeError: an input that is not float32/float64.
        ValueError: ``fft_length < sequence_length``, an unknown window name, or a window of another length.
    """
    from . import numpy as np_ops
    x = tensor(x)
    if x.dtype.name not in ("float32", "float64"):
        raise TypeError(f"Invalid input type. Expected `float32` or `float64`. Received: input type={x.dtype.name}")
    if fft_length < sequence_length:
        raise ValueError(f"`fft_length` must equal or larger than `sequence_length`. Received: "
                         f"sequence_length={sequence_length}, fft_length={fft_length}")
    if center:
        x = np_ops.pad(x, [[0, 0]] * (x.ndim - 1) + [[fft_length // 2, fft_length // 2]], mode="reflect")
    frames = extract_sequences(x, fft_length, sequence_stride)
    win = _window(window, sequence_length, fft_length, x.dtype)
    return rfft(frames if win is None else frames * win, fft_length)


def _window(window, sequence_length, fft_length, dtype):
    """The STFT window (``"hann"``/``"hamming"``: periodic, as ``tf.signal``; a tensor; or None) zero-padded to
    ``fft_length`` around its centre, as Keras on TensorFlow."""
    if window is None:
        return None
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f'If a string is passed to `window`, it must be one of `"hann"`, `"hamming"`. '
                             f"Received: window={window}")
        a = 0.5 if window == "hann" else 0.54
        k = np.arange(sequence_length)
        win = tensor((a - (1 - a) * np.cos(2 * np.pi * k / sequence_length)).astype(dtype.as_numpy_dtype))
    else:
        win = tensor(window, dtype, "window")
    if win.ndim != 1 or win.shape[0] != sequence_length:
        raise ValueError(f"The shape of `window` must be equal to [sequence_length].Received: window "
                         f"shape={tuple(win.shape)}")
    left = (fft_length - sequence_length) // 2
    return A.pad(win, [[left, fft_length - sequence_length - left]])


def _overlap_add(frames, step):
    """(..., F, L) frames summed into (..., (F - 1) * step + L) at offsets ``f * step`` (``tf.signal``'s
    overlap_and_add); a scatter-add, differentiable."""
    nf, length = frames.shape[-2], frames.shape[-1]
    lead = tuple(frames.shape[:-2])
    moved = A.transpose(frames, [frames.ndim - 2, frames.ndim - 1] + list(range(frames.ndim - 2)))
    where = (np.arange(nf)[:, None] * step + np.arange(length)[None, :])[..., None]
    out = A.scatter_nd(where, moved, ((nf - 1) * step + length,) + lead)
    return A.transpose(out, list(range(1, len(lead) + 1)) + [0])


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """The inverse of :func:`stft` from ``x = (real, imag)`` of shape (..., frames, fft_length // 2 + 1), as Keras 3
    on TensorFlow (``tf.signal.inverse_stft``): each frame's :func:`irfft` times the window divided by the sum of the
    overlapping squared windows, overlap-added, then with ``center`` the ``fft_length // 2`` padding removed (and
    cut to ``length`` when given); differentiable.

    Raises:
        ValueError: a bad window, or ``x`` not a (real, imag) pair.
    """
    real, imag = _pair_of(x, "istft")
    frames = A.getitem(irfft((real, imag), fft_length), (Ellipsis, slice(0, fft_length)))
    win = _window(window, sequence_length, fft_length, real.dtype)
    if win is not None:
        w = win.numpy().astype(np.float64)
        overlaps = -(-fft_length // sequence_stride)
        denom = np.pad(w * w, (0, overlaps * sequence_stride - fft_length)).reshape(overlaps, sequence_stride)
        denom = np.tile(denom.sum(0), overlaps)[:fft_length]
        frames = frames * tensor((w / denom).astype(real.dtype.as_numpy_dtype))
    out = _overlap_add(frames, sequence_stride)
    start = fft_length // 2 if center else 0
    end = start + length if length is not None else out.shape[-1] - (fft_length // 2 if center else 0)
    return A.getitem(out, (Ellipsis, slice(start, end)))


wrap_module(globals(), __all__)  # a call on symbolic tensors is a functional-model node
