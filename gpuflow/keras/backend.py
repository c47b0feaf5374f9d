"""``keras.backend``: Keras 3.15's session helpers and global settings (the settings are those of
:mod:`gpuflow.keras.config`, exported under both names as Keras does)."""
from __future__ import annotations

import collections

from .. import dtypes as _dtypes
from .config import (backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx,  # noqa: F401
                     set_image_data_format, standardize_data_format)
from .layers.base import KerasTensor, reset_uids

_UIDS = collections.defaultdict(int)


def clear_session(free_memory=True):
    """Resets layer-name counters (so new layers are named "dense", "dense_1"... again) and :func:`get_uid`'s."""
    reset_uids()
    _UIDS.clear()


def get_uid(prefix=""):
    """1 the first time ``prefix`` is asked for, then 2, 3... (``keras.backend.get_uid``)."""
    _UIDS[prefix] += 1
    return _UIDS[prefix]


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic ``keras.Input``/layer output (a KerasTensor), not a concrete tensor."""
    return isinstance(x, KerasTensor)


def standardize_dtype(dtype):
    """The dtype's canonical name (``"float32"``, ``"int64"``, ``"bool"``...); None gives :func:`floatx`.

    Raises:
        ValueError: a value that names no dtype (Keras's message: "Invalid dtype: ...").
    """
    if dtype is None:
        return floatx()
    if hasattr(dtype, "name") and not isinstance(dtype, str) and hasattr(dtype, "is_floating"):
        return dtype.name
    try:
        return _dtypes.as_dtype(dtype).name
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"Invalid dtype: {dtype}") from e


def is_float_dtype(dtype):
    """Whether ``dtype`` is a floating type (float16, bfloat16, float32, float64)."""
    return _dtypes.as_dtype(standardize_dtype(dtype)).is_floating


def is_int_dtype(dtype):
    """Whether ``dtype`` is a (signed or unsigned) integer type."""
    return _dtypes.as_dtype(standardize_dtype(dtype)).is_integer

