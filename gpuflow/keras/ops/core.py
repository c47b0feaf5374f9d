"""``keras.ops`` core operations (Keras 3.15's ``keras/src/ops/core.py``): conversion, dtypes, shapes, control flow,
slicing and scattering, on gpuflow's ops.

Control flow runs eagerly, as all of gpuflow: ``cond`` calls one branch, ``while_loop``/``fori_loop``/``scan`` are
Python loops over the ops, so gradients flow through the branch taken and every iteration.
"""
from __future__ import annotations

import numpy as np

from ... import dtypes as _dtypes
from ...ops import array_ops as A
from ...ops import control_flow_ops as CF
from ...ops import gradient_ops as G
from ...ops import keras_numpy_ops as K
from ...ops import math_ops as M
from ...tensor import Tensor
from ..layers.base import KerasTensor
from ._symbolic import wrap_module
from ._common import flatten, tensor, unflatten

__all__ = [
    "associative_scan", "cast", "cond", "convert_to_numpy", "convert_to_tensor", "custom_gradient", "dtype",
    "fori_loop", "is_tensor", "map", "saturate_cast", "scan", "scatter", "scatter_update", "shape", "slice",
    "slice_update", "stop_gradient", "switch", "unstack", "vectorized_map", "while_loop",
]

_slice = slice
_map = map


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` (a tensor, NumPy array, nested list or Python number) as a gpuflow Tensor, cast to ``dtype`` when
    given (a Tensor of another dtype is cast, as Keras). Python floats give float32, ints int32.

    Raises:
        ValueError: ``sparse=True`` or ``ragged=True`` (gpuflow has neither kind of tensor).
    """
    if sparse or ragged:
        raise ValueError(f"gpuflow has no sparse or ragged tensors. Received: sparse={sparse}, ragged={ragged}")
    return tensor(x, dtype)


def convert_to_numpy(x):
    """``x`` as a NumPy array (a copy from the device)."""
    return np.array(x.numpy() if isinstance(x, Tensor) else x)


def is_tensor(x):
    """Whether ``x`` is a gpuflow Tensor (or Variable); NumPy arrays and Python numbers are not."""
    return isinstance(x, Tensor)


def shape(x):
    """The shape of ``x`` as a tuple of ints (Keras's ``ops.shape``: static, never a tensor)."""
    if hasattr(x, "shape") and not isinstance(x, (list, tuple)):
        return tuple(None if d is None else int(d) for d in x.shape)
    return tuple(np.shape(x))


def dtype(x):
    """The dtype name of ``x`` (``"float32"``, ``"int32"``...), a string as Keras's ``ops.dtype``."""
    return x.dtype if isinstance(x, KerasTensor) else tensor(x).dtype.name


def cast(x, dtype):  # noqa: F811 - Keras's argument name
    """``x`` cast to ``dtype`` (floats to ints truncate toward zero); the gradient flows between floating types."""
    return M.cast(tensor(x), _dtypes.as_dtype(dtype))


def saturate_cast(x, dtype):  # noqa: F811
    """``x`` cast to ``dtype`` with values outside its range clipped to its limits first (``tf.saturate_cast``)."""
    x = tensor(x)
    target = _dtypes.as_dtype(dtype).as_numpy_dtype
    info = np.finfo(target) if np.dtype(target).kind == "f" else np.iinfo(target) if np.dtype(target).kind in "iu" \
        else None
    if info is not None and x.dtype.name != "bool":
        src = np.finfo(x.dtype.as_numpy_dtype) if x.dtype.is_floating else np.iinfo(x.dtype.as_numpy_dtype)
        lo, hi = max(float(info.min), float(src.min)), min(float(info.max), float(src.max))
        if x.dtype.is_integer:
            lo, hi = int(max(info.min, src.min)), int(min(info.max, src.max))
        x = M.clip_by_value(x, np.asarray(lo).astype(x.dtype.as_numpy_dtype),
                            np.asarray(hi).astype(x.dtype.as_numpy_dtype))
    return M.cast(x, target)


def stop_gradient(variable):
    """``variable``'s value, cut out of the gradient computation."""
    return A.stop_gradient(tensor(variable, arg="variable"))


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, as a list.

    Raises:
        ValueError: ``num`` given and different from ``x.shape[axis]``.
    """
    x = tensor(x)
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"Cannot unstack an axis of size {x.shape[axis]} into num={num} tensors. Received: "
                         f"x.shape={tuple(x.shape)}, axis={axis}")
    return A.unstack(x, axis=axis)


# -- control flow -------------------------------------------------------------------------------------------------
def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` (a bool scalar) else ``false_fn()``, its leaves as tensors (as TensorFlow's)."""
    return _as_tensors(CF.cond(pred, true_fn, false_fn))


def switch(index, branches, *operands):
    """``branches[index](*operands)``, ``index`` clipped to ``[0, len(branches) - 1]`` (Keras's rule); the result's
    leaves as tensors."""
    i = int(np.clip(int(tensor(index, "int32").numpy()), 0, len(branches) - 1))
    return _as_tensors(branches[i](*operands))


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Repeats ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``, at most ``maximum_iterations`` times;
    returns the final ``loop_vars`` in the structure given (a tuple/list, or a single value)."""
    single = not isinstance(loop_vars, (list, tuple))
    values = [_as_tensors(v) for v in ([loop_vars] if single else loop_vars)]
    out = CF.while_loop(cond, body, values[0] if single else type(loop_vars)(values),
                        maximum_iterations=maximum_iterations)
    return _as_tensors(out)


def _as_tensors(tree):
    """A structure with its leaves as Tensors (as TensorFlow's loops return them)."""
    return unflatten(tree, [v if v is None else tensor(v) for v in flatten(tree)])


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` from ``lower`` to ``upper - 1``, starting at ``init_val``; returns the
    final value (its leaves as tensors). ``i`` is a Python int: it combines with tensors of any dtype, as the int32
    counter of Keras on TensorFlow does with Python numbers."""
    val = init_val
    for i in range(int(tensor(lower).numpy()), int(tensor(upper).numpy())):
        val = body_fun(i, val)
    return _as_tensors(val)


def _stack_tree(trees):
    """One structure of stacked leaves from a list of structures of tensors (None leaves stay None)."""
    if not trees:
        return None
    cols = zip(*[flatten(t) for t in trees])
    return unflatten(trees[0], [None if c[0] is None else A.stack([tensor(v) for v in c]) for c in cols])


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the slices ``x`` of ``xs`` along axis 0 (``xs`` a tensor or a structure of
    them; None: ``length`` steps with ``x=None``), in reverse order when ``reverse``; returns the final carry and
    the stacked ``y`` (in the order of ``xs``).

    Raises:
        ValueError: neither ``xs`` nor ``length`` given, or ``length`` different from the leading dimension.
    """
    if xs is None and length is None:
        raise ValueError("Got no `xs` to scan over and `length` not provided.")
    leaves = [tensor(v) for v in flatten(xs)] if xs is not None else []
    n = int(leaves[0].shape[0]) if leaves else int(length)
    if length is not None and int(length) != n:
        raise ValueError(f"`length` ({length}) does not match the leading dimension of `xs` ({n}).")
    carry, ys = init, []
    order = range(n - 1, -1, -1) if reverse else range(n)
    for i in order:
        x = unflatten(xs, [v[i] for v in leaves]) if xs is not None else None
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, _stack_tree(ys)


def associative_scan(f, elems, reverse=False, axis=0):
    """The inclusive scan of the associative ``f`` over ``elems`` (a tensor or a structure of them) along ``axis``:
    ``out[i] = f(out[i-1], elems[i])`` (from the end when ``reverse``), computed sequentially."""
    leaves = [tensor(v) for v in flatten(elems)]
    n = int(leaves[0].shape[axis])
    pick = lambda i: unflatten(elems, [A.getitem(v, (_slice(None),) * (axis % v.ndim) + (i,))  # noqa: E731
                                        for v in leaves])
    order = range(n - 1, -1, -1) if reverse else range(n)
    outs, acc = [], None
    for i in order:
        acc = pick(i) if acc is None else (f(pick(i), acc) if reverse else f(acc, pick(i)))
        outs.append(acc)
    if reverse:
        outs.reverse()
    cols = zip(*[flatten(o) for o in outs])
    return unflatten(elems, [A.stack([tensor(v) for v in c], axis=axis) for c in cols])


def map(f, xs):  # noqa: A001 - Keras's name
    """``f`` applied to each slice of ``xs`` (a tensor or a structure of them) along axis 0, the results (a tensor
    or a structure) stacked."""
    leaves = [tensor(v) for v in flatten(xs)]
    return _stack_tree([f(unflatten(xs, [v[i] for v in leaves])) for i in range(int(leaves[0].shape[0]))])


def vectorized_map(function, elements):
    """:func:`map` (gpuflow calls ``function`` once per slice)."""
    return map(function, elements)


def custom_gradient(f):
    """Decorator giving ``f`` its own gradient: ``f(*args)`` returns ``(output, grad_fn)`` and ``grad_fn(upstream)``
    the gradients of the inputs (Keras 3 on TensorFlow passes ``upstream`` positionally)."""
    return G.custom_gradient(f)


# -- slicing and scattering ------------------------------------------------------------------------------------------
def _starts(start_indices):
    return [int(v) for v in (start_indices.numpy().tolist() if isinstance(start_indices, Tensor) else
                             np.asarray(start_indices).tolist())]


def slice(inputs, start_indices, shape):  # noqa: A001, F811 - Keras's names
    """The block of ``inputs`` at ``start_indices`` of ``shape`` (-1: up to the end), differentiable.

    Raises:
        ValueError: as many starts and sizes as axes are needed.
    """
    x = tensor(inputs, arg="inputs")
    starts = _starts(start_indices)
    sizes = _starts(shape)
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise ValueError(f"slice needs one start and one size per axis of `inputs`. Received: "
                         f"inputs.shape={tuple(x.shape)}, start_indices={starts}, shape={sizes}")
    return A.getitem(x, tuple(_slice(s, None if n == -1 else s + n) for s, n in zip(starts, sizes)))


def slice_update(inputs, start_indices, updates):
    """A copy of ``inputs`` with the block at ``start_indices`` replaced by ``updates``; differentiable in both."""
    x = tensor(inputs, arg="inputs")
    u = tensor(updates, x.dtype, "updates")
    starts = _starts(start_indices)
    if len(starts) != x.ndim or u.ndim != x.ndim:
        raise ValueError(f"slice_update needs one start per axis and updates of the same rank as `inputs`. Received: "
                         f"inputs.shape={tuple(x.shape)}, start_indices={starts}, updates.shape={tuple(u.shape)}")
    block = np.indices(tuple(u.shape)).reshape(x.ndim, -1).T + np.asarray(starts)  # every coordinate of the block
    return A.tensor_scatter_nd_update(x, block, A.reshape(u, (-1,)))


def _indices(indices, ndim):
    idx = tensor(indices, arg="indices")
    if not idx.dtype.is_integer:
        idx = M.cast(idx, "int32")
    if idx.ndim < 1 or idx.shape[-1] > ndim:
        raise ValueError(f"`indices` must have shape (..., k) with k <= the rank of the target ({ndim}). "
                         f"Received: indices.shape={tuple(idx.shape)}")
    return idx


def scatter(indices, values, shape):
    """Zeros of ``shape`` with ``values`` added at ``indices`` (``(..., k)`` integer coordinates of the first ``k``
    axes; repeated coordinates accumulate, as ``tf.scatter_nd``); differentiable in ``values``."""
    shp = tuple(int(d) for d in _starts(shape))
    return A.scatter_nd(_indices(indices, len(shp)), tensor(values, arg="values"), shp)


def scatter_update(inputs, indices, updates, reduction=None):
    """A copy of ``inputs`` with the entries (or slices) at ``indices`` (``(n, k)`` coordinates) replaced by
    ``updates`` (``reduction=None``) or combined with them (``"add"``, ``"max"``, ``"min"``, ``"mul"``).
    Differentiable in ``inputs`` and ``updates`` for None and "add"; the other reductions have no gradient.

    Raises:
        ValueError: an unknown reduction (Keras's message).
    """
    x = tensor(inputs, arg="inputs")
    u = tensor(updates, x.dtype, "updates")
    idx = _indices(indices, x.ndim)
    if reduction is None:
        return A.tensor_scatter_nd_update(x, idx, u)
    if reduction == "add":
        return A.tensor_scatter_nd_add(x, idx, u)
    if reduction in ("max", "min", "mul"):
        fn = {"max": "maximum", "min": "minimum", "mul": "multiply"}[reduction]

        def combine(xp, a, i, b):
            out = a.copy()
            getattr(xp, fn).at(out, tuple(i[..., d] for d in range(i.shape[-1])), b)
            return out
        return K.nondifferentiable("TensorScatter" + reduction.capitalize(), combine, x, idx, u)
    raise ValueError(f"Unsupported reduction: {reduction}")


wrap_module(globals(), [n for n in __all__ if n not in (  # these take callables or read static attributes
    "cond", "while_loop", "fori_loop", "scan", "switch", "map", "vectorized_map", "associative_scan", "custom_gradient",
    "shape", "dtype", "is_tensor", "convert_to_numpy")])
