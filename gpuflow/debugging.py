"""``tf.debugging``: assertions that check values now (gpuflow runs eagerly) and raise TensorFlow's errors, with
TensorFlow's messages; each returns None when it holds (as TensorFlow's eager assertions)."""
from __future__ import annotations

import numpy as np

from . import dtypes as _dtypes
from .errors import InvalidArgumentError
from .ops.core import convert_to_tensor

__all__ = ["assert_equal", "assert_none_equal", "assert_near", "assert_less", "assert_less_equal", "assert_greater",
           "assert_greater_equal", "assert_positive", "assert_negative", "assert_non_negative", "assert_non_positive",
           "assert_rank", "assert_rank_at_least", "assert_shapes", "assert_type", "assert_all_finite",
           "check_numerics", "is_numeric_tensor"]


def _values(x):
    return convert_to_tensor(x).numpy()


def _fail(message, text):
    raise InvalidArgumentError(None, None, f"{message}\n{text}" if message else text)


def _compare(symbol, fn):
    def check(x, y, message=None, summarize=None, name=None):
        a, b = _values(x), _values(y)
        ok = np.broadcast_to(fn(a, b), np.broadcast_shapes(a.shape, b.shape))
        if not ok.all():
            n = summarize or 3
            bad = np.argwhere(~ok)[:n]
            _fail(message, f"Condition x {symbol} y did not hold.\nIndices of first {len(bad)} different values:\n"
                           f"{bad}\nCorresponding x values:\n{np.broadcast_to(a, ok.shape)[tuple(bad.T)]}\n"
                           f"Corresponding y values:\n{np.broadcast_to(b, ok.shape)[tuple(bad.T)]}\n"
                           f"First {min(n, a.size)} elements of x:\n{a.ravel()[:n]}\n"
                           f"First {min(n, b.size)} elements of y:\n{b.ravel()[:n]}")
    check.__doc__ = (f"Raises InvalidArgumentError (a ValueError) unless ``x {symbol} y`` everywhere, with "
                     f"broadcasting (``tf.debugging.assert_...``).")
    return check


assert_equal = _compare("==", np.equal)
assert_none_equal = _compare("!=", np.not_equal)
assert_less = _compare("<", np.less)
assert_less_equal = _compare("<=", np.less_equal)
assert_greater = _compare(">", np.greater)
assert_greater_equal = _compare(">=", np.greater_equal)


def _sign(symbol, fn):
    def check(x, message=None, summarize=None, name=None):
        a = _values(x)
        if not fn(a).all():
            _fail(message, f"Condition x {symbol} 0 did not hold element-wise:\nx (shape={a.shape} "
                           f"dtype={a.dtype}) = \n{a.ravel()[:summarize or 3]}")
    check.__doc__ = f"Raises InvalidArgumentError unless ``x {symbol} 0`` everywhere."
    return check


assert_positive = _sign(">", lambda a: a > 0)
assert_negative = _sign("<", lambda a: a < 0)
assert_non_negative = _sign(">=", lambda a: a >= 0)
assert_non_positive = _sign("<=", lambda a: a <= 0)


def assert_near(x, y, rtol=None, atol=None, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless ``|x - y| <= atol + rtol * |y|`` everywhere (``tf.debugging.assert_near``;
    default tolerances 10 * the dtype's epsilon, as TensorFlow)."""
    a, b = _values(x), _values(y)
    eps = 10 * np.finfo(a.dtype if a.dtype.kind == "f" else np.float32).eps
    rtol, atol = eps if rtol is None else rtol, eps if atol is None else atol
    if not (np.abs(a - b) <= atol + rtol * np.abs(b)).all():
        _fail(message, f"x and y not equal to tolerance rtol = {rtol}, atol = {atol}\nx (shape={a.shape} "
                       f"dtype={a.dtype}) = \n{a.ravel()[:summarize or 3]}\ny (shape={b.shape} dtype={b.dtype}) = "
                       f"\n{b.ravel()[:summarize or 3]}")


def assert_rank(x, rank, message=None, name=None):
    """Raises ValueError unless ``x`` has rank ``rank`` (``tf.debugging.assert_rank``; TensorFlow's message)."""
    t = convert_to_tensor(x)
    if t.ndim != int(rank):
        raise ValueError(f"{message + ' ' if message else ''}Tensor {name or ''} must have rank {int(rank)}.  "
                         f"Received rank {t.ndim}, shape {tuple(t.shape)}")


def assert_rank_at_least(x, rank, message=None, name=None):
    """Raises ValueError unless ``x`` has rank >= ``rank`` (``tf.debugging.assert_rank_at_least``)."""
    t = convert_to_tensor(x)
    if t.ndim < int(rank):
        raise ValueError(f"{message + ' ' if message else ''}Tensor {name or ''} must have rank at least "
                         f"{int(rank)}.  Received rank {t.ndim}, shape {tuple(t.shape)}")


def assert_shapes(shapes, data=None, summarize=None, message=None, name=None):
    """Checks the shapes of several tensors against symbolic dimensions (``tf.debugging.assert_shapes``): ``shapes``
    is a list of ``(tensor, dims)`` (or a dict), each dim an int, a name shared across tensors (``"N"``), None, or
    ``"."`` / ``"*"`` for any size.

    Raises:
        ValueError: a rank that differs or a dimension that does not fit (TensorFlow's message).
    """
    items = shapes.items() if isinstance(shapes, dict) else shapes
    sizes = {}
    for x, dims in items:
        t = convert_to_tensor(x)
        dims = list(dims)
        desc = f"tensor shape={tuple(t.shape)} dtype={t.dtype.name}"
        if len(dims) != t.ndim and not (len(dims) == 0 and t.ndim == 0):
            raise ValueError(f"{message + ' ' if message else ''}Specified by {desc} must have rank {len(dims)}. "
                             f" Received rank {t.ndim}, shape {tuple(t.shape)}")
        for i, (d, n) in enumerate(zip(dims, t.shape)):
            if d is None or d in (".", "*"):
                continue
            if isinstance(d, str) and d not in sizes:
                sizes[d] = (n, desc, i)
                continue
            want, owner, j = sizes[d] if isinstance(d, str) else (int(d), None, None)
            if n != want:
                by = f"Specified by {owner} dimension {j}.  " if owner else ""
                raise ValueError(f"{message + ' ' if message else ''}{by}{desc[0].upper() + desc[1:]} dimension {i} "
                                 f"must have size {want}.  Received size {n}, shape {tuple(t.shape)}")


def assert_type(tensor, tf_type, message=None, name=None):
    """Raises TypeError unless ``tensor`` has dtype ``tf_type`` (``tf.debugging.assert_type``)."""
    t, want = convert_to_tensor(tensor), _dtypes.as_dtype(tf_type)
    if t.dtype != want:
        raise TypeError(f"{message + ' ' if message else ''}tensor must be of type tf.{want.name}; got "
                        f"tf.{t.dtype.name}")


def check_numerics(tensor, message, name=None):
    """``tensor`` itself when it holds no NaN or infinity (``tf.debugging.check_numerics``), else
    InvalidArgumentError naming ``message`` ("... : Tensor had NaN values")."""
    t = convert_to_tensor(tensor)
    a = t.numpy()
    for bad, what in ((np.isnan(a), "NaN"), (np.isinf(a), "Inf")):
        if bad.any():
            raise InvalidArgumentError(None, None, f"{message} : Tensor had {what} values")
    return t


def assert_all_finite(t, msg, name=None, x=None, message=None):
    """:func:`check_numerics` (``tf.debugging.assert_all_finite``)."""
    return check_numerics(t if t is not None else x, msg if msg is not None else message)


def is_numeric_tensor(tensor):
    """Whether ``tensor`` is a Tensor of a numeric dtype (``tf.debugging.is_numeric_tensor``)."""
    from .tensor import Tensor
    return isinstance(tensor, Tensor) and tensor.dtype.name != "bool"
