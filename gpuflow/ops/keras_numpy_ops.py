"""The ops that ``keras.ops`` needs and TensorFlow's namespaces do not have as such: the inverse hyperbolic
functions, ``cbrt``, the max/min/prod segment reductions, and a wrapper for the ops that have no gradient (bit
operations, counts, indices...).

As every module of :mod:`gpuflow.ops`: the forward runs on the tensor's backend (``backend.xp``, NumPy or CuPy),
the gradient is written once beside it in terms of other gpuflow ops (so it runs on every backend and can be
differentiated again). The Keras-facing functions (dtype rules, argument names) live in
:mod:`gpuflow.keras.ops`.
"""
from __future__ import annotations

import numpy as np

from . import math_ops as M
from . import array_ops as A
from .core import convert_to_tensor, make_op

__all__ = [
    "elementwise", "nondifferentiable", "arcsinh", "arccosh", "arctanh", "cbrt", "segment_reduce",
]


def elementwise(name, fwd, grad, doc=""):
    """Builds a differentiable elementwise op on a floating tensor.

    Args:
        name: the op's name (errors, debugging).
        fwd: ``fwd(xp, array) -> array`` of the same dtype.
        grad: ``grad(g, x, out) -> Tensor``, the input gradient in gpuflow ops.
        doc: the docstring.

    The returned ``op(x)`` raises TypeError for a non-floating ``x``.
    """
    def op(x):
        x = convert_to_tensor(x)
        if not x.dtype.is_floating:
            raise TypeError(f"{name} expects a floating-point tensor. Received: x.dtype={x.dtype.name}")
        out = None
        out = make_op(name, (x,), fwd(x._backend.xp, x._data).astype(x._data.dtype, copy=False),
                      lambda g, n: (grad(g, x, out),))
        return out
    op.__name__ = name
    op.__doc__ = doc or f"Elementwise ``{name}`` of a floating tensor (NumPy's ``{name}``), with its gradient."
    return op


def nondifferentiable(name, fn, *tensors):
    """``fn(xp, *arrays)`` of the tensors' backend arrays as a Tensor with no gradient (TensorFlow's
    ``NotDifferentiable``): for comparisons, bit operations, indices, counts. ``tensors`` share one device."""
    ts = [convert_to_tensor(t) for t in tensors]
    xp = ts[0]._backend.xp
    return make_op(name, tuple(ts), xp.asarray(fn(xp, *(t._data for t in ts))), None)


arcsinh = elementwise("arcsinh", lambda xp, a: xp.arcsinh(a), lambda g, x, o: g * M.rsqrt(x * x + 1))
arccosh = elementwise("arccosh", lambda xp, a: xp.arccosh(a), lambda g, x, o: g * M.rsqrt(x * x - 1))
arctanh = elementwise("arctanh", lambda xp, a: xp.arctanh(a), lambda g, x, o: g / (1 - x * x))
cbrt = elementwise("cbrt", lambda xp, a: xp.cbrt(a), lambda g, x, o: g / (3 * o * o))


_SEGMENT_FILL = {"max": lambda dt: np.finfo(dt).min if dt.kind == "f" else np.iinfo(dt).min,
                 "min": lambda dt: np.finfo(dt).max if dt.kind == "f" else np.iinfo(dt).max,
                 "prod": lambda dt: 1}


def segment_reduce(data, segment_ids, num_segments, kind):
    """TensorFlow's ``unsorted_segment_<kind>`` for kind ``max``, ``min`` or ``prod`` (the sum is
    :func:`gpuflow.ops.math_ops.unsorted_segment_sum`): output row ``s`` reduces the rows of ``data`` whose
    ``segment_ids`` (int, 1-D, one per leading row) equal ``s``; ids outside ``[0, num_segments)`` are dropped. An
    empty segment holds 1 (prod), the dtype's lowest (max) or highest (min) value, as TensorFlow.

    Gradients: max/min of a floating ``data``, split evenly among the rows that attain the extreme (TensorFlow's
    rule); prod has none in gpuflow.
    """
    data = convert_to_tensor(data)
    ids = convert_to_tensor(segment_ids, device=data.device)
    xp = data._backend.xp
    shape = (int(num_segments),) + tuple(data.shape[1:])
    keep = xp.nonzero((ids._data >= 0) & (ids._data < num_segments))[0]
    rows = ids._data[keep]
    dt = data._data.dtype
    out = xp.full(shape, _SEGMENT_FILL[kind](dt), dtype=dt)
    getattr(xp, {"max": "maximum", "min": "minimum", "prod": "multiply"}[kind]).at(out, rows, data._data[keep])
    if kind == "prod" or not data.dtype.is_floating:
        return make_op(f"UnsortedSegment{kind.capitalize()}", (data,), out, None)
    result = None

    def vjp(g, n):
        kept = A.getitem(data, (keep,))
        hit = M.cast(M.equal(kept, A.getitem(result, (rows,))), data.dtype)
        ties = A.getitem(A.scatter_nd(rows[:, None], hit, shape), (rows,))
        return (A.scatter_nd(keep[:, None], A.getitem(g, (rows,)) * hit / ties, tuple(data.shape)),)
    result = make_op(f"UnsortedSegment{kind.capitalize()}", (data,), out, vjp)
    return result
