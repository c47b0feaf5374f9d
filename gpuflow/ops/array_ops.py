"""Shape and indexing ops, and tensor creation (``tf.reshape``, ``tf.concat``, ``tf.zeros`` ...).

Each differentiable op has its vjp beside it; names and arguments follow
TensorFlow.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as _dtypes
from ..device import current_device, backend_for
from ..tensor import Tensor
from .core import convert_to_tensor, make_op, wrap, check_same_device

__all__ = [
    "reshape", "transpose", "concat", "stack", "unstack", "squeeze", "expand_dims", "one_hot",
    "getitem", "broadcast_to", "zeros", "ones", "fill", "zeros_like", "ones_like", "identity",
    "stop_gradient", "gather", "shape", "size", "rank", "tile", "pad", "split", "range",
]


_range = range  # the builtin: this module's tf.range below shadows the name in every function here

def _shape_arg(shape):
    if isinstance(shape, Tensor):
        shape = shape.numpy().tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) if d is not None else -1 for d in shape)


def reshape(tensor, shape, name=None):
    """Reshapes (``tf.reshape``); one dimension may be -1.

    Raises:
        ValueError: if the element counts differ, naming both shapes.
    """
    x = convert_to_tensor(tensor)
    new = _shape_arg(shape)
    try:
        data = x._data.reshape(new)
    except ValueError:
        raise ValueError(f"Cannot reshape a tensor with {x._data.size} elements to shape {new}. "
                         f"Received: tensor.shape={tuple(x.shape)}") from None
    old = x.shape
    return make_op("Reshape", (x,), data, lambda g, n: (reshape(g, old),))


def transpose(a, perm=None, name=None):
    """Permutes axes (``tf.transpose``); ``perm`` defaults to reversing them."""
    x = convert_to_tensor(a)
    perm = tuple(_range(x.ndim))[::-1] if perm is None else tuple(int(p) for p in perm)
    if any(not -x.ndim <= p < x.ndim for p in perm) or sorted(p % x.ndim for p in perm) != list(_range(x.ndim)):
        raise ValueError(f"transpose: perm must be a permutation of 0..{x.ndim - 1}. Received: perm={perm}")
    perm = tuple(p % x.ndim for p in perm)  # negative axes count from the end; the inverse needs them resolved
    inv = tuple(np.argsort(perm))
    return make_op("Transpose", (x,), x._backend.xp.transpose(x._data, perm),
                   lambda g, n: (transpose(g, inv),))


def _axis(axis, ndim, op):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of bounds. Expected an axis in [{-ndim}, {ndim}).")
    return axis % ndim


def concat(values, axis, name=None):
    """Concatenates tensors along ``axis`` (``tf.concat``)."""
    ts = [convert_to_tensor(v) for v in values]
    if not ts:
        raise ValueError("concat expects a non-empty list of tensors. Received: values=[]")
    check_same_device("concat", *ts)
    ax = _axis(axis, ts[0].ndim, "concat")
    sizes = [t.shape[ax] for t in ts]
    for t in ts[1:]:
        if t.dtype != ts[0].dtype or t.ndim != ts[0].ndim or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if i != ax):
            raise ValueError(f"concat: tensors must have the same dtype, rank and shape except along axis {ax}. "
                             f"Received: shapes {[tuple(u.shape) for u in ts]}, dtypes {[u.dtype.name for u in ts]}")
    bounds = np.cumsum([0] + sizes)

    def vjp(g, n):
        return tuple(getitem(g, (slice(None),) * ax + (slice(int(bounds[i]), int(bounds[i + 1])),))
                     if n[i] else None for i in _range(len(ts)))
    return make_op("ConcatV2", tuple(ts), ts[0]._backend.xp.concatenate([t._data for t in ts], axis=ax), vjp)


def stack(values, axis=0, name=None):
    """Stacks same-shape tensors along a new axis (``tf.stack``)."""
    ts = [convert_to_tensor(v) for v in values]
    if not ts:
        raise ValueError("stack expects a non-empty list of tensors. Received: values=[]")
    ax = _axis(axis, ts[0].ndim + 1, "stack")
    return concat([expand_dims(t, ax) for t in ts], axis=ax)


def unstack(value, num=None, axis=0, name=None):
    """Splits a tensor into a list along ``axis`` (``tf.unstack``)."""
    x = convert_to_tensor(value)
    ax = _axis(axis, x.ndim, "unstack")
    return [squeeze(getitem(x, (slice(None),) * ax + (slice(i, i + 1),)), axis=ax) for i in _range(x.shape[ax])]


def split(value, num_or_size_splits, axis=0, name=None):
    """Splits into equal parts or given sizes along ``axis`` (``tf.split``)."""
    x = convert_to_tensor(value)
    ax = _axis(axis, x.ndim, "split")
    if isinstance(num_or_size_splits, int):
        if x.shape[ax] % num_or_size_splits:
            raise ValueError(f"split: dimension {x.shape[ax]} of axis {ax} is not divisible by "
                             f"num_or_size_splits={num_or_size_splits}")
        sizes = [x.shape[ax] // num_or_size_splits] * num_or_size_splits
    else:
        sizes = [int(v) for v in num_or_size_splits]
        if sizes.count(-1) == 1:  # one size may be -1: the rest of the axis, as tf.split
            sizes[sizes.index(-1)] = x.shape[ax] - sum(sizes) - 1
        if sum(sizes) != x.shape[ax] or min(sizes, default=0) < 0:
            raise ValueError(f"split: size_splits must be non-negative and sum to the dimension of axis {ax}. "
                             f"Expected a sum of {x.shape[ax]}. Received: num_or_size_splits={sizes}")
    bounds = np.cumsum([0] + sizes)
    return [getitem(x, (slice(None),) * ax + (slice(int(bounds[i]), int(bounds[i + 1])),)) for i in _range(len(sizes))]


def squeeze(input, axis=None, name=None):  # noqa: A002
    """Removes size-1 axes (all, or those in ``axis``) (``tf.squeeze``).

    Raises:
        ValueError: if a listed axis does not have size 1.
    """
    x = convert_to_tensor(input)
    if axis is None:
        new = tuple(d for d in x.shape if d != 1)
    else:
        axes = {_axis(a, x.ndim, "squeeze") for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: cannot squeeze axis {a} of size {x.shape[a]}. "
                                 f"Received: input.shape={tuple(x.shape)}")
        new = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return reshape(x, new)


def expand_dims(input, axis, name=None):  # noqa: A002
    """Inserts a size-1 axis at ``axis`` (``tf.expand_dims``)."""
    x = convert_to_tensor(input)
    ax = _axis(axis, x.ndim + 1, "expand_dims")
    new = list(x.shape)
    new.insert(ax, 1)
    return reshape(x, new)


def broadcast_to(input, shape, name=None):  # noqa: A002
    """Broadcasts to ``shape`` (``tf.broadcast_to``); the gradient sums back."""
    from .core import unbroadcast
    x = convert_to_tensor(input)
    shape = _shape_arg(shape)
    if tuple(x.shape) == shape:
        return x
    try:
        data = x._backend.xp.broadcast_to(x._data, shape)
    except ValueError:
        raise ValueError(f"Cannot broadcast a tensor of shape {tuple(x.shape)} to shape {shape}.") from None
    old = x.shape
    return make_op("BroadcastTo", (x,), data, lambda g, n: (unbroadcast(g, old),))


def tile(input, multiples, name=None):  # noqa: A002
    """Repeats the tensor ``multiples[i]`` times along axis i (``tf.tile``)."""
    x = convert_to_tensor(input)
    reps = _shape_arg(multiples)
    if len(reps) != x.ndim:
        raise ValueError(f"tile: multiples must have one entry per axis. Expected: {x.ndim}. Received: {len(reps)}")

    def vjp(g, n):
        split_shape = []
        for r, d in zip(reps, x.shape):
            split_shape += [r, d]
        from .math_ops import reduce_sum
        return (reduce_sum(reshape(g, split_shape), axis=tuple(_range(0, 2 * x.ndim, 2))),)
    return make_op("Tile", (x,), x._backend.xp.tile(x._data, reps), vjp)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pads with a constant (``tf.pad``, CONSTANT mode). ``paddings`` is (rank, 2)."""
    x = convert_to_tensor(tensor)
    if str(mode).upper() != "CONSTANT":
        raise ValueError(f"pad: only mode='CONSTANT' is supported. Received: mode={mode!r}")
    p = np.asarray(paddings if not isinstance(paddings, Tensor) else paddings.numpy(), dtype=np.int64)
    if p.shape != (x.ndim, 2):
        raise ValueError(f"pad: paddings must have shape ({x.ndim}, 2). Received: shape={p.shape}")
    crop = tuple(slice(int(a), int(a) + d) for (a, _), d in zip(p, x.shape))
    return make_op("Pad", (x,), x._backend.xp.pad(x._data, [tuple(r) for r in p.tolist()],
                                                   constant_values=constant_values),
                   lambda g, n: (getitem(g, crop),))


def _index_key(key):
    """Turns Tensors inside an index into arrays; returns the backend-ready key."""
    if isinstance(key, tuple):
        return tuple(_index_key(k) for k in key)
    if isinstance(key, Tensor):
        return key._data if key.ndim else int(key.numpy())
    if isinstance(key, list):
        return np.asarray(key)
    return key


def getitem(x, key):
    """``x[key]`` with NumPy's basic and advanced indexing; the gradient scatters back."""
    x = convert_to_tensor(x)
    k = _index_key(key)
    try:
        data = x._data[k]
    except IndexError as e:
        raise IndexError(f"Index {key!r} is out of range for a tensor of shape {tuple(x.shape)}: {e}") from None
    xp = x._backend.xp

    def vjp(g, n):
        return (_scatter_add_like(x, k, g),)
    return make_op("StridedSlice", (x,), xp.asarray(data), vjp)


def _scatter_add_like(x, k, g):
    """A zeros-like-x tensor with ``g`` added at index ``k`` (differentiable in g)."""
    xp = x._backend.xp
    zero = xp.zeros(x._data.shape, dtype=g._data.dtype)
    parts = k if isinstance(k, tuple) else (k,)
    arrays = [i for i, p in enumerate(parts) if hasattr(p, "shape") and getattr(p, "ndim", 0) > 0]
    if len(arrays) == 1 and parts[arrays[0]].ndim == 1 and parts[arrays[0]].dtype.kind in "iu" and \
            all(isinstance(p, slice) and p == slice(None) for i, p in enumerate(parts) if i != arrays[0]) and \
            not getattr(x._backend, "sync_free", False):  # it reads the index on the host: CUDA keeps add.at
        _scatter_add_axis(x._backend, zero, arrays[0], parts[arrays[0]], g._data)  # gather's gradient
    elif arrays:
        xp.add.at(zero, k, g._data)  # advanced index: repeated positions must accumulate
    else:
        zero[k] = g._data  # basic slicing never repeats a position
    return make_op("ScatterAdd", (g,), zero, lambda gg, n: (getitem(gg, k),), like=x)


def _scatter_add_axis(backend, out, axis, index, g):
    """``out[..., index[p], ...] += g[..., p, ...]`` along ``axis`` for every p in order, as ``add.at`` does, but
    in one vectorised ``+=`` per repeat of an index (the first occurrence of every index, then the second...):
    the same sums in the same order. ``add.at`` loops per element: measured, it took 30% of a training step of
    a model with a bilinear UpSampling2D (four gathers)."""
    host = backend.to_numpy(index)
    host = np.where(host < 0, host + out.shape[axis], host)
    order = np.argsort(host, kind="stable")  # positions grouped by index, each group in p order
    starts = np.flatnonzero(np.r_[True, host[order][1:] != host[order][:-1]])
    rank = np.arange(len(host)) - np.repeat(starts, np.diff(np.r_[starts, len(host)]))
    pre = (slice(None),) * axis
    for r in _range(int(rank.max()) + 1 if len(host) else 0):
        picked = np.sort(order[rank == r])  # no index repeats among these
        out[pre + (backend.asarray(host[picked]),)] += g[pre + (backend.asarray(picked),)]


def gather(params, indices, axis=0, batch_dims=0, name=None):
    """Gathers slices along ``axis`` (``tf.gather``).

    Raises:
        IndexError: an index outside ``[0, params.shape[axis])``, naming it.
    """
    x = convert_to_tensor(params)
    idx = convert_to_tensor(indices)
    if batch_dims != 0:  # not implemented: refuse rather than silently gather without batching
        raise NotImplementedError(f"gather: only batch_dims=0 is supported. Received: batch_dims={batch_dims}")
    if not idx.dtype.is_integer:
        raise TypeError(f"gather expects integer indices. Received: indices.dtype={idx.dtype.name}")
    ax = _axis(axis, x.ndim, "gather")
    n = x.shape[ax]
    idx = checked_indices(idx, n, lambda bad, where: IndexError(
        f"gather: indices must be in [0, {n}). Received: an index {bad}{where}"))
    return getitem(x, (slice(None),) * ax + (idx._data,))


def check_on_device(backend, key, values, bad, error):
    """Raises ``error(value, where)`` for the first entry (in row-major order) of ``values`` at which ``bad`` holds,
    with no host contact inside a training step on a backend that keeps its steps on the device.

    On the CPU the check is made now. On such a backend (CUDA, ``backend.sync_free``), inside a training loop's step
    it is deferred to the loop's next host contact (``backend.defer_check``), which raises it with ``where`` naming
    the step; the step goes on, so the caller must make the values safe to compute with (clip indices). Outside a
    loop, one device-to-host copy checks it now.

    Args:
        backend: the backend of the arrays.
        key: names the check (of one key's deferred failures, the first is reported).
        values: a backend array.
        bad: a bool backend array of the shape of ``values``.
        error: ``error(value, where)`` -> the exception to raise; ``value`` is the offending entry (a Python
            number: a float when deferred), ``where`` is "" or " (found on the device at <step>; ...)".

    Returns:
        True when the check was deferred, False when it passed.
    """
    if values.size == 0:
        return False
    bad = bad.ravel()
    found, value = bad.any(), values.ravel()[bad.argmax()]
    if getattr(backend, "sync_free", False):
        def report(v, label):
            raise error(v, f" (found on the device at {label}; reported at the next host contact)")
        if backend.defer_check(key, found, value, report):
            return True
        found, value = (v[0] for v in backend.fetch([found, value]))  # one device-to-host copy
    if found:
        raise error(value.item(), "")
    return False


def checked_indices(indices, limit, error):
    """``indices`` (an integer Tensor) checked to lie in ``[0, limit)`` by :func:`check_on_device` (``error(bad,
    where)`` -> the exception); when the check is deferred, the indices clipped into range (the step goes on).

    Raises:
        what ``error`` returns, for an index outside ``[0, limit)`` (at the next host contact when deferred).
    """
    be, ia = indices._backend, indices._data
    if check_on_device(be, f"index range [0, {limit})", ia, (ia < 0) | (ia >= limit),
                       lambda v, where: error(int(v), where)):
        return wrap(be.xp.clip(ia, 0, limit - 1), indices)
    return indices


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot encoding (``tf.one_hot``); out-of-range indices give all-off rows, as in TF."""
    idx = convert_to_tensor(indices)
    if not idx.dtype.is_integer:
        raise TypeError(f"one_hot expects integer indices. Received: indices.dtype={idx.dtype.name}")
    dt = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.float32
    xp = idx._backend.xp
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    out = (idx._data[..., None] == xp.arange(int(depth))).astype(dt.as_numpy_dtype)
    if on != 1 or off != 0:
        out = xp.where(out != 0, on, off).astype(dt.as_numpy_dtype)
    if axis is not None and axis != -1:
        out = xp.moveaxis(out, -1, axis)
    return wrap(out, idx)


def identity(input, name=None):  # noqa: A002
    """A copy on the current device (differentiable), as ``tf.identity``."""
    x = convert_to_tensor(input)
    dev = current_device()
    if dev != x.device:
        b = backend_for(dev)
        host = x._backend.to_numpy(x._data)
        return make_op("Identity", (x,), b.asarray(host), lambda g, n: (identity_on(g, x),),
                       like=Tensor(b.asarray(host[:0]), dev, b))
    return make_op("Identity", (x,), x._data.copy(), lambda g, n: (g,))


def identity_on(g, like):
    if g.device == like.device:
        return g
    return wrap(like._backend.asarray(g._backend.to_numpy(g._data)), like)


def stop_gradient(input, name=None):  # noqa: A002
    """The same value, cut out of the gradient computation (``tf.stop_gradient``)."""
    x = convert_to_tensor(input)
    return wrap(x._data, x)


def _creation_backend():
    dev = current_device()
    return dev, backend_for(dev)


def zeros(shape, dtype="float32", name=None):
    """A tensor of zeros (``tf.zeros``)."""
    dev, b = _creation_backend()
    return Tensor(b.xp.zeros(_shape_arg(shape), dtype=_dtypes.as_dtype(dtype).as_numpy_dtype), dev, b)


def ones(shape, dtype="float32", name=None):
    """A tensor of ones (``tf.ones``)."""
    dev, b = _creation_backend()
    return Tensor(b.xp.ones(_shape_arg(shape), dtype=_dtypes.as_dtype(dtype).as_numpy_dtype), dev, b)


def fill(dims, value, name=None):
    """A tensor of ``dims`` filled with ``value``; the dtype is the value's (``tf.fill``)."""
    v = convert_to_tensor(value)
    return wrap(v._backend.xp.full(_shape_arg(dims), v._data, dtype=v._data.dtype), v)


def zeros_like(input, dtype=None, name=None):  # noqa: A002
    x = convert_to_tensor(input)
    dt = _dtypes.as_dtype(dtype).as_numpy_dtype if dtype is not None else x._data.dtype
    return wrap(x._backend.xp.zeros(x._data.shape, dtype=dt), x)


def ones_like(input, dtype=None, name=None):  # noqa: A002
    x = convert_to_tensor(input)
    dt = _dtypes.as_dtype(dtype).as_numpy_dtype if dtype is not None else x._data.dtype
    return wrap(x._backend.xp.ones(x._data.shape, dtype=dt), x)


def shape(input, out_type="int32", name=None):  # noqa: A002
    """The shape as an int32 tensor (``tf.shape``)."""
    x = convert_to_tensor(input)
    return wrap(x._backend.xp.asarray(x._data.shape, dtype=_dtypes.as_dtype(out_type).as_numpy_dtype), x)


def size(input, out_type="int32", name=None):  # noqa: A002
    x = convert_to_tensor(input)
    return wrap(x._backend.xp.asarray(x._data.size, dtype=_dtypes.as_dtype(out_type).as_numpy_dtype), x)


def rank(input, name=None):  # noqa: A002
    x = convert_to_tensor(input)
    return wrap(x._backend.xp.asarray(x.ndim, dtype=np.int32), x)


def range(start, limit=None, delta=1, dtype=None, name=None):  # noqa: A001
    """``tf.range``: values in [start, limit) by ``delta``; int32 for ints, float32 for floats."""
    if limit is None:
        start, limit = 0, start
    dev, b = _creation_backend()
    vals = np.arange(start, limit, delta)
    dt = _dtypes.as_dtype(dtype).as_numpy_dtype if dtype is not None else (
        np.float32 if vals.dtype.kind == "f" else np.int32)
    return Tensor(b.asarray(vals, dtype=dt), dev, b)


# -- more of tf.* ---------------------------------------------------------------------------------------------------
def linspace(start, stop, num, name=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop``, both included (``tf.linspace``).

    ``start``/``stop`` may be tensors of one shape (the values then run along ``axis``). Float inputs keep their
    dtype (Python floats: float32); integer inputs give float64, as TensorFlow. Not differentiable.

    Raises:
        ValueError: ``num`` negative.
    """
    a, b = convert_to_tensor(start), convert_to_tensor(stop)
    num = int(num.numpy() if isinstance(num, Tensor) else num)
    if num < 0:
        raise ValueError(f"linspace: `num` must be >= 0. Received: num={num}")
    dt = a._data.dtype if a.dtype.is_floating else np.float64
    vals = np.linspace(a.numpy(), b.numpy(), num, axis=axis)
    return wrap(a._backend.asarray(vals, dtype=dt), a)


def eye(num_rows, num_columns=None, batch_shape=None, dtype="float32", name=None):
    """An identity matrix (``tf.eye``, ``tf.linalg.eye``) of shape ``batch_shape + (num_rows, num_columns)``."""
    dev, b = _creation_backend()
    num_columns = num_rows if num_columns is None else num_columns
    shape = tuple(batch_shape or ()) + (num_rows, num_columns)
    data = b.xp.broadcast_to(b.xp.eye(num_rows, num_columns, dtype=_dtypes.as_dtype(dtype).as_numpy_dtype), shape)
    return Tensor(b.xp.ascontiguousarray(data), dev, b)


def boolean_mask(tensor, mask, axis=None, name=None):
    """The entries of ``tensor`` where ``mask`` is True (``tf.boolean_mask``).

    Args:
        tensor: a Tensor of shape ``pre + mask.shape + post`` (``pre`` has ``axis`` dimensions).
        mask: a bool tensor (or list) of rank k >= 1 matching ``tensor``'s dimensions ``axis .. axis + k - 1``.
        axis: the first masked dimension (default 0).

    Returns:
        A Tensor of shape ``pre + (number of True,) + post``; the gradient scatters back.

    Raises:
        ValueError: a mask of rank 0 or whose shape does not match ``tensor``'s.
    """
    t = convert_to_tensor(tensor)
    m = convert_to_tensor(mask)
    axis = 0 if axis is None else int(axis) % max(t.ndim, 1)
    if m.ndim == 0 or tuple(t.shape[axis:axis + m.ndim]) != tuple(m.shape):
        raise ValueError(f"boolean_mask: the mask's shape must match the tensor's dimensions {axis}.."
                         f"{axis + m.ndim - 1}. Received: tensor.shape={tuple(t.shape)}, mask.shape={tuple(m.shape)}, "
                         f"axis={axis}")
    positions = t._backend.xp.nonzero(t._backend.asarray(m.numpy().astype(bool)))
    return getitem(t, (slice(None),) * axis + tuple(positions))


def reverse(tensor, axis, name=None):
    """``tensor`` with the order of the entries along each of ``axis`` (a list of ints) reversed (``tf.reverse``)."""
    t = convert_to_tensor(tensor)
    axes = {_axis(a, t.ndim, "reverse") for a in (axis if isinstance(axis, (list, tuple)) else [axis])}
    return getitem(t, tuple(slice(None, None, -1) if d in axes else slice(None) for d in _range(t.ndim)))


def roll(input, shift, axis, name=None):  # noqa: A002
    """Entries shifted by ``shift`` along ``axis`` with wrap-around (``tf.roll``); ints or equal-length lists."""
    x = convert_to_tensor(input)
    shift = shift.numpy().tolist() if isinstance(shift, Tensor) else shift
    axis = axis.numpy().tolist() if isinstance(axis, Tensor) else axis
    neg = [-s for s in shift] if isinstance(shift, (list, tuple)) else -shift
    return make_op("Roll", (x,), x._backend.xp.roll(x._data, shift, axis=axis),
                   lambda g, n: (roll(g, neg, axis),))


def repeat(input, repeats, axis=None, name=None):  # noqa: A002
    """Each entry repeated ``repeats`` times along ``axis`` (``tf.repeat``; None: of the flattened tensor)."""
    x = convert_to_tensor(input)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = _axis(axis, x.ndim, "repeat")
    reps = np.asarray(repeats.numpy() if isinstance(repeats, Tensor) else repeats)
    idx = np.repeat(np.arange(x.shape[axis]), reps)
    return gather(x, wrap(x._backend.asarray(idx), x), axis=axis)


def sequence_mask(lengths, maxlen=None, dtype="bool", name=None):
    """``mask[..., j] = j < lengths[...]`` (``tf.sequence_mask``), shape ``lengths.shape + (maxlen,)``; ``maxlen``
    defaults to the largest length."""
    lengths = convert_to_tensor(lengths)
    xp = lengths._backend.xp
    maxlen = int(lengths.numpy().max()) if maxlen is None else int(maxlen)
    data = xp.arange(maxlen) < lengths._data[..., None]
    return wrap(data.astype(_dtypes.as_dtype(dtype).as_numpy_dtype), lengths)


def gather_nd(params, indices, batch_dims=0, name=None):
    """``params`` at the index tuples in the last axis of ``indices`` (``tf.gather_nd``): shape
    ``indices.shape[:-1] + params.shape[indices.shape[-1]:]``; the gradient scatters back.

    Raises:
        NotImplementedError: ``batch_dims`` other than 0.
        TypeError: non-integer indices.
    """
    if batch_dims != 0:
        raise NotImplementedError(f"gather_nd: only batch_dims=0 is supported. Received: batch_dims={batch_dims}")
    x, idx = convert_to_tensor(params), convert_to_tensor(indices)
    if not idx.dtype.is_integer:
        raise TypeError(f"gather_nd expects integer indices. Received: indices.dtype={idx.dtype.name}")
    return getitem(x, tuple(idx._data[..., i] for i in _range(idx.shape[-1])))


def meshgrid(*args, **kwargs):
    """Coordinate grids from 1-D tensors (``tf.meshgrid``); ``indexing="xy"`` (default) or ``"ij"``.

    Returns:
        A list of N Tensors of the grid's shape (the first two sizes swapped with ``"xy"``)."""
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs or indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: `indexing` must be 'xy' or 'ij'. Received: indexing={indexing!r}, {kwargs}")
    xs = [reshape(convert_to_tensor(a), (-1,)) for a in args]
    shape = [int(a.shape[0]) for a in xs]
    if indexing == "xy" and len(xs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, a in enumerate(xs):
        pos = (1 if i == 0 else 0 if i == 1 else i) if indexing == "xy" and len(xs) >= 2 else i
        view = [1] * len(xs)
        view[pos] = -1
        out.append(identity(broadcast_to(reshape(a, view), shape)))
    return out


__all__ += ["linspace", "eye", "boolean_mask", "reverse", "roll", "repeat", "sequence_mask", "gather_nd", "meshgrid"]


def _nd_key(indices, op):
    idx = convert_to_tensor(indices)
    if not idx.dtype.is_integer or idx.ndim < 1:
        raise TypeError(f"{op} expects integer indices of rank >= 1. Received: indices of dtype {idx.dtype.name} and "
                        f"shape {tuple(idx.shape)}")
    return tuple(idx._data[..., i] for i in _range(idx.shape[-1])), idx


def scatter_nd(indices, updates, shape, name=None):
    """A zero tensor of ``shape`` with ``updates`` added at ``indices`` (``tf.scatter_nd``; repeated indices sum):
    ``updates`` has shape ``indices.shape[:-1] + shape[indices.shape[-1]:]``. The gradient of ``updates`` is
    :func:`gather_nd` of the upstream gradient."""
    u = convert_to_tensor(updates)
    key, idx = _nd_key(indices, "scatter_nd")
    xp = u._backend.xp
    out = xp.zeros(_shape_arg(shape), dtype=u._data.dtype)
    xp.add.at(out, key, u._data)
    return make_op("ScatterNd", (u,), out, lambda g, n: (gather_nd(g, idx),))


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """``tensor`` with the entries at ``indices`` replaced by ``updates`` (``tf.tensor_scatter_nd_update``). The
    gradient of ``tensor`` is zero at the replaced entries, that of ``updates`` the upstream gradient there."""
    t = convert_to_tensor(tensor)
    u = convert_to_tensor(updates, dtype=t.dtype)
    key, idx = _nd_key(indices, "tensor_scatter_nd_update")
    out = t._data.copy()
    out[key] = u._data

    def vjp(g, n):
        gt = None
        if n[0]:
            mask = t._backend.xp.ones(t._data.shape, dtype=g._data.dtype)
            mask[key] = 0
            gt = g * wrap(mask, g)
        return gt, (gather_nd(g, idx) if n[1] else None)
    return make_op("TensorScatterUpdate", (t, u), out, vjp)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    """``tensor`` with ``updates`` added at ``indices`` (``tf.tensor_scatter_nd_add``; repeated indices sum)."""
    t = convert_to_tensor(tensor)
    return t + scatter_nd(indices, convert_to_tensor(updates, dtype=t.dtype), t.shape)


__all__ += ["scatter_nd", "tensor_scatter_nd_update", "tensor_scatter_nd_add"]


def ensure_shape(x, shape, name=None):
    """``x`` itself when its shape fits ``shape`` (None, or -1, for a dimension of any size) (``tf.ensure_shape``).

    Raises:
        gpuflow.errors.InvalidArgumentError: (a ValueError) a shape that does not fit, with TensorFlow's message.
    """
    from ..errors import InvalidArgumentError
    t = convert_to_tensor(x)
    want = None if shape is None else [None if d is None or d == -1 else int(d) for d in
                                       (shape.numpy().tolist() if isinstance(shape, Tensor) else list(shape))]
    if want is not None and (len(want) != t.ndim or any(w is not None and w != n for w, n in zip(want, t.shape))):
        shown = ",".join("?" if w is None else str(w) for w in want)
        raise InvalidArgumentError(None, None, f"Shape of tensor input [{','.join(str(n) for n in t.shape)}] is not "
                                               f"compatible with expected shape [{shown}].")
    return t


__all__ += ["ensure_shape"]
