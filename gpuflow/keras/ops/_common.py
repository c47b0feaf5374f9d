"""What every ``keras.ops`` module shares: Keras 3's type promotion and the conversion of the arguments.

Keras 3 promotes dtypes on its own lattice (``keras.src.backend.common.dtypes``, adapted from JAX's): a Python
``int``/``float`` is a *weak* type that takes the other operand's kind (``int32 tensor + 1.5`` is float32,
``float16 tensor + 2.0`` is float16), ints and floats meet at the float type, and a weak result resolves to the
precision of ``floatx()``. On the TensorFlow backend, which gpuflow follows, int64 and float64 stay 64-bit.
"""
from __future__ import annotations

import functools

import numpy as np

from ... import dtypes as _dtypes
from ...ops import math_ops as M
from ...ops.core import convert_to_tensor
from ...tensor import Tensor
from ..config import floatx
from ..layers.base import KerasTensor

_B, _I, _F = "bool", "int", "float"  # the weak types are "int" and "float"
_LATTICE = {
    "bool": [_I], "uint8": ["int16", "uint16"], "uint16": ["int32", "uint32"], "uint32": ["int64", "uint64"],
    "uint64": [_F], _I: ["uint8", "int8"], "int8": ["int16"], "int16": ["int32"], "int32": ["int64"],
    "int64": [_F], _F: ["bfloat16", "float16"], "bfloat16": ["float32"], "float16": ["float32"],
    "float32": ["float64"], "float64": [],
}


def _upper_bounds():
    ub = {n: {n} for n in _LATTICE}
    changed = True
    while changed:
        changed = False
        for n in _LATTICE:
            new = set().union(*(_LATTICE[b] for b in ub[n])) | ub[n]
            if new != ub[n]:
                ub[n], changed = new, True
    return ub


_UB = _upper_bounds()


@functools.lru_cache(256)
def _least_upper_bound(nodes):
    common = set.intersection(*(_UB[n] for n in nodes))
    lub = (common & set(nodes)) or {c for c in common if common <= _UB[c]}
    return lub.pop()


def dtype_name(x):
    """The Keras dtype name of an argument: a tensor's or array's dtype (``"float32"``), ``"bool"`` for a Python
    bool, and the weak types ``"int"`` / ``"float"`` for a Python int / float."""
    if x is bool or x is int or x is float:  # the Python types themselves, as Keras's result_type(x.dtype, float)
        return {bool: "bool", int: _I, float: _F}[x]
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return _I
    if isinstance(x, float):
        return _F
    if isinstance(x, str) or isinstance(x, _dtypes.DType):
        return _dtypes.as_dtype(x).name
    if isinstance(x, (Tensor, KerasTensor, np.ndarray, np.generic)):
        return _dtypes.as_dtype(x.dtype).name
    return tensor(x).dtype.name


def result_type(*args):
    """The dtype of an operation on ``args`` (tensors, arrays, Python numbers, or dtype names) under Keras 3's
    promotion rules (``keras.backend.result_type`` on the TensorFlow backend); no argument gives ``floatx()``."""
    if not args:
        return floatx()
    out = _least_upper_bound(tuple(sorted({dtype_name(a) for a in args})))
    if out == _I:
        return "int32"  # a weak int resolves to 32 bits, as Keras with floatx float32
    return floatx() if out == _F else out


def tensor(x, dtype=None, arg="x"):
    """``x`` as a gpuflow Tensor (Keras's ``convert_to_tensor``): a Tensor of another ``dtype`` is cast (Keras casts
    where TensorFlow's conversion refuses); Python floats become float32, ints int32.

    Raises:
        TypeError: a symbolic KerasTensor where the op takes no symbolic input (the public ops turn a call on
            KerasTensors into a functional-model node first, see :mod:`._symbolic`), or a value that is not numeric.
    """
    if isinstance(x, KerasTensor):
        raise TypeError(f"Expected a tensor, NumPy array or Python number. Received: {arg}={x!r} (a symbolic "
                        f"KerasTensor; call the op on the layer outputs directly, or inside a layer's call()).")
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype.name == _dtypes.as_dtype(dtype).name else M.cast(x, dtype)
    if dtype is not None and not isinstance(x, (np.ndarray, np.generic)):
        t = convert_to_tensor(x)
        return t if t.dtype.name == _dtypes.as_dtype(dtype).name else M.cast(t, dtype)
    return convert_to_tensor(x, dtype=dtype)


def promote(*xs, extra=()):
    """The arguments as Tensors of their common Keras dtype (:func:`result_type` of ``xs`` and ``extra``)."""
    fast = _same_dtype(xs, extra)
    if fast is not None:
        return fast
    dt = result_type(*xs, *extra)
    return [tensor(x, dt) for x in xs]


def _same_dtype(xs, extra):
    """The common case without the lattice: Tensors of one dtype with Python scalars that keep it (floats with a
    floating dtype, ints with a numeric one), converted to it; None when the full rule is needed."""
    first = next((x for x in xs if isinstance(x, Tensor)), None)
    if first is None:
        return None
    dt = first._data.dtype
    floating = first.dtype.is_floating
    for x in (*xs, *extra):
        if isinstance(x, Tensor):
            if x._data.dtype != dt:
                return None
        elif type(x) is float or x is float:
            if not floating:
                return None
        elif not ((type(x) is int or x is int) and (floating or dt.kind in "iu")):
            return None
    return [x if isinstance(x, Tensor) else convert_to_tensor(x, dtype=dt, device=first.device) for x in xs]


def float_tensor(x, arg="x"):
    """``x`` as a Tensor of a floating dtype: float inputs keep theirs, others become ``floatx()`` (Keras's rule
    for ``sqrt``, ``exp``, ``mean``...)."""
    t = tensor(x, arg=arg)
    return t if t.dtype.is_floating else M.cast(t, floatx())


def axis_tuple(axis, ndim):
    """``axis`` (None, an int or a sequence) as a sorted tuple of non-negative axes; None means all."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"Axis {a} is out of bounds for a tensor of rank {ndim}. "
                             f"Expected an axis in [{-ndim}, {ndim}). Received: axis={axis}")
    return tuple(sorted({int(a) % max(ndim, 1) for a in axes}))


def flatten(tree):
    """The leaves of a structure of lists, tuples and dicts (dicts in sorted key order)."""
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in flatten(t)]
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in flatten(tree[k])]
    return [tree]


def unflatten(tree, leaves):
    """``tree``'s structure with its leaves replaced, in order, by ``leaves``."""
    it = iter(leaves)

    def build(t):
        if isinstance(t, (list, tuple)):
            return type(t)(build(s) for s in t)
        if isinstance(t, dict):
            return {k: build(t[k]) for k in sorted(t)}
        return next(it)
    return build(tree)
