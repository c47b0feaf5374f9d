"""Data types, named as in TensorFlow (``gpuflow.float32`` is ``tf.float32``).

A :class:`DType` wraps a NumPy dtype; both backends store arrays of that NumPy
(or CuPy, which shares NumPy's dtypes) type. Python floats default to float32
and Python ints to int32, as in ``tf.constant``.

``bfloat16`` is NumPy's through the ``ml-dtypes`` package (the one JAX and TensorFlow use), an optional
dependency: ``pip install 'gpuflow[bfloat16]'`` (or ``pip install ml-dtypes``). Without it
``gpuflow.bfloat16`` does not exist and ``as_dtype("bfloat16")`` is a TypeError saying how to install it;
float16 is NumPy's own and needs nothing. CuPy has no bfloat16 dtype, so bfloat16 tensors live on the CPU
and the emulator only (see :mod:`gpuflow.backend.low_precision`).
"""
from __future__ import annotations

import builtins

import numpy as np

try:
    import ml_dtypes as _ml_dtypes
except ImportError:  # optional: bfloat16 only
    _ml_dtypes = None

__all__ = ["DType", "as_dtype", "float16", "float32", "float64", "int8", "int16",
           "int32", "int64", "uint8", "bool", "string_names"] + (["bfloat16"] if _ml_dtypes else [])

BFLOAT16_MISSING = ("bfloat16 needs the ml-dtypes package, which is not installed. Install it with "
                    "`pip install 'gpuflow[bfloat16]'` (or `pip install ml-dtypes`).")


class DType:
    """A tensor element type (TensorFlow's ``tf.DType``).

    Attributes:
        name: the TensorFlow name, e.g. ``"float32"``.
        as_numpy_dtype: the NumPy scalar type, e.g. ``numpy.float32``.
    """

    __slots__ = ("_np", "_name")

    def __init__(self, np_dtype):
        self._np = np.dtype(np_dtype)
        self._name = self._np.name  # kept: NumPy computes dtype.name in Python on every read (1.8 us), and every
        # layer call reads its input's

    @property
    def name(self) -> str:
        return self._name

    @property
    def as_numpy_dtype(self):
        return self._np.type

    @property
    def is_floating(self) -> bool:
        return self._np.kind == "f" or self._name == "bfloat16"  # ml_dtypes' bfloat16 has kind "V"

    @property
    def is_integer(self) -> bool:
        return self._np.kind in "iu"

    @property
    def is_bool(self) -> bool:
        return self._np.kind == "b"

    @property
    def size(self) -> int:
        return self._np.itemsize

    def __eq__(self, other):
        try:
            return self._np == as_dtype(other)._np
        except (TypeError, ValueError):
            return False

    def __hash__(self):
        return hash(self._np)

    def __repr__(self):
        return f"tf.{self.name}"

    __str__ = __repr__


float16 = DType(np.float16)
float32 = DType(np.float32)
float64 = DType(np.float64)
int8 = DType(np.int8)
int16 = DType(np.int16)
int32 = DType(np.int32)
int64 = DType(np.int64)
uint8 = DType(np.uint8)
bool = DType(np.bool_)  # noqa: A001 - TensorFlow's name

_SUPPORTED = {d.name: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8, bool)}
if _ml_dtypes is not None:
    bfloat16 = DType(_ml_dtypes.bfloat16)
    _SUPPORTED["bfloat16"] = bfloat16
_BY_NP = {d._np: d for d in _SUPPORTED.values()}
_ALIASES = {"float": float32, "double": float64, "half": float16, "int": int32, "long": int64}
string_names = tuple(_SUPPORTED)


def as_dtype(value) -> DType:
    """Converts a dtype-like value (``DType``, name string, NumPy dtype or Python type) to a ``DType``.

    Python ``float`` maps to float32 and ``int`` to int32, as TensorFlow does.

    Raises:
        TypeError: if the value names no supported dtype.
    """
    if isinstance(value, DType):
        return value
    if isinstance(value, np.dtype):  # the hot path: every Tensor.dtype lookup
        d = _BY_NP.get(value)
        if d is not None:
            return d
    if value is None:  # np.dtype(None) would silently mean float64
        raise TypeError("Cannot convert None to a dtype. Expected a DType, a dtype name or a NumPy dtype. "
                        "Received: dtype=None")
    if value is float:
        return float32
    if value is int:
        return int32
    if value is builtins.bool:
        return bool
    if isinstance(value, str):
        key = value.lower()
        if key in _ALIASES:
            return _ALIASES[key]
        if key in _SUPPORTED:
            return _SUPPORTED[key]
        if key == "bfloat16":
            raise TypeError(f"{BFLOAT16_MISSING} Received: dtype={value!r}")
        raise TypeError(f"Unknown dtype. Expected one of {sorted(_SUPPORTED)}. Received: dtype={value!r}")
    try:
        name = np.dtype(value).name
    except TypeError:
        raise TypeError(f"Cannot interpret dtype. Expected a DType, a dtype name or a NumPy dtype. "
                        f"Received: dtype={value!r}") from None
    if name not in _SUPPORTED:
        raise TypeError(f"Unsupported dtype. Expected one of {sorted(_SUPPORTED)}. Received: dtype={name}")
    return _SUPPORTED[name]
