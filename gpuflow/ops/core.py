"""The op machinery shared by every op module: conversion, output wrapping, recording.

An op converts its arguments with :func:`convert_to_tensor` /
:func:`binary_args`, computes its result with ``x.backend`` (``backend.xp`` for
NumPy-style array work, or a primitive), and returns :func:`make_op` of the
result, which wraps it in a Tensor and records the op's vjp on any watching
``GradientTape``.
"""
from __future__ import annotations

import numpy as np

from .. import autodiff
from .. import dtypes as _dtypes
from ..device import Device, current_device, backend_for
from ..tensor import Tensor

__all__ = ["convert_to_tensor", "make_op", "make_gradient_op", "wrap", "binary_args", "unbroadcast",
           "check_same_device", "is_tensor", "get_static_value"]

_PY_SCALARS = (bool, int, float)


def wrap(data, like: Tensor) -> Tensor:
    """A Tensor of backend array ``data`` on ``like``'s device (no recording)."""
    return Tensor(data, like.device, like._backend)


def make_op(name, inputs, data, vjp, like=None) -> Tensor:
    """Wraps ``data`` as the output of op ``name`` and records it for autodiff.

    Args:
        name: op name (errors and debugging).
        inputs: tuple of input Tensors the vjp returns gradients for, in order.
        data: the output backend array.
        vjp: ``vjp(g, needs) -> tuple`` of gradients, or ``None`` for an op
            that is not differentiable (TensorFlow's ``ops.NotDifferentiable``):
            nothing is recorded and gradients through it are None. A gradient
            op without a derivative of its own uses :func:`make_gradient_op`.
        like: tensor whose device the output takes (default ``inputs[0]``).
    """
    like = like if like is not None else inputs[0]
    out = Tensor(data, like.device, like._backend)
    if autodiff.is_recording():
        autodiff.record(name, inputs, out, vjp)
    return out


def make_gradient_op(name, inputs, data) -> Tensor:
    """:func:`make_op` for a gradient op with no derivative of its own (the backward pass of a fused
    primitive): a first-order gradient flows through it as usual, and differentiating through it again
    raises NotImplementedError naming ``name`` (:func:`gpuflow.autodiff.first_order_only`). ``inputs``
    lists what ``data`` depends on, so that such a second derivative is an error, never a silent None."""
    return make_op(name, inputs, data, autodiff.first_order_only(name))


def _infer_python_dtype(arr: np.ndarray):
    kind = arr.dtype.kind
    if kind == "f":
        return np.float32
    if kind in "iu":
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return np.int64
        return np.int32
    if kind == "b":
        return np.bool_
    raise TypeError(f"Cannot convert a value of dtype {arr.dtype} to a Tensor. "
                    f"Expected numbers or booleans. Received: {arr.dtype}")


def convert_to_tensor(value, dtype=None, dtype_hint=None, device=None, name=None) -> Tensor:
    """Converts a Tensor, NumPy array, Python scalar or nested list to a Tensor.

    Follows ``tf.convert_to_tensor``: Python floats become float32 and ints
    int32 unless ``dtype`` (hard) or ``dtype_hint`` (soft) says otherwise; NumPy
    arrays keep their dtype unless ``dtype`` is given, in which case they are cast.

    Args:
        value: the value.
        dtype: required dtype.
        dtype_hint: preferred dtype for Python values.
        device: target device (default: the current device); a Tensor on
            another device is an error, never a silent copy.

    Raises:
        ValueError: a Tensor of another dtype than ``dtype``, or on another device.
        TypeError: a value that is not numeric, or a float value for an integer dtype.
    """
    dev = Device(device) if device is not None else None
    if isinstance(value, Tensor):
        if dtype is not None and _dtypes.as_dtype(dtype) != value.dtype:
            raise ValueError(f"Tensor conversion requested dtype {_dtypes.as_dtype(dtype).name} for a Tensor "
                             f"with dtype {value.dtype.name}. Use gpuflow.cast to change the dtype.")
        if dev is not None and dev != value.device:
            raise ValueError(f"Expected a tensor on device '{dev}'. Received: a tensor on device "
                             f"'{value.device}'. Copy it explicitly with gpuflow.identity inside "
                             f"`with gpuflow.device('{dev}')`.")
        return value
    dev = dev if dev is not None else current_device()
    backend = backend_for(dev)
    is_numpy = isinstance(value, (np.ndarray, np.generic))
    if not is_numpy and hasattr(value, "__cuda_array_interface__") and backend.xp is not np:
        arr = backend.xp.asarray(value)
        target = _dtypes.as_dtype(dtype).as_numpy_dtype if dtype is not None else arr.dtype
        return Tensor(arr.astype(target, copy=False), dev, backend)
    try:
        arr = np.asarray(value)
    except ValueError:  # NumPy >= 1.24 refuses ragged nested sequences
        raise ValueError(f"Cannot convert a non-rectangular (ragged) sequence to a Tensor. "
                         f"Received: {value!r:.200}") from None
    if arr.dtype == object:
        raise TypeError(f"Cannot convert {type(value).__name__} to a Tensor: it is not a (rectangular) "
                        f"array of numbers. Received: {value!r:.200}")
    if dtype is not None:
        target = _dtypes.as_dtype(dtype).as_numpy_dtype
        if not is_numpy and arr.dtype.kind == "f" and np.dtype(target).kind in "iub":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise TypeError(f"Cannot convert {value!r:.200} to a Tensor of dtype "
                                f"{_dtypes.as_dtype(dtype).name}: it has non-integer values.")
    elif is_numpy:
        target = _dtypes.as_dtype(arr.dtype).as_numpy_dtype  # raises for unsupported dtypes
    else:
        target = _infer_python_dtype(arr)
        if dtype_hint is not None:
            hint = _dtypes.as_dtype(dtype_hint)
            if hint.is_floating or (hint.is_integer and arr.dtype.kind in "iub") or hint == arr.dtype:
                target = hint.as_numpy_dtype
    return Tensor(backend.asarray(arr, dtype=target), dev, backend)


def check_same_device(op, *tensors):
    first = tensors[0]
    for t in tensors[1:]:
        if t.device != first.device:
            raise ValueError(f"{op}: all inputs must be on the same device. Received: a tensor on "
                             f"'{first.device}' and a tensor on '{t.device}'.")


def binary_args(x, y, op):
    """Converts the operands of a binary op to two Tensors of one dtype and device.

    A non-Tensor operand takes the Tensor operand's dtype (as TensorFlow's
    operator overloads do); two Tensors of different dtypes are an error.

    Raises:
        TypeError: dtypes differ, or neither operand is given a usable dtype.
        ValueError: devices differ.
    """
    xt, yt = isinstance(x, Tensor), isinstance(y, Tensor)
    if xt and yt:
        if x._data.dtype != y._data.dtype:
            raise TypeError(f"{op}: both inputs must have the same dtype. Received: x.dtype={x.dtype.name}, "
                            f"y.dtype={y.dtype.name}. Use gpuflow.cast to convert one of them.")
        check_same_device(op, x, y)
        return x, y
    if xt:
        return x, _convert_operand(y, x, op)
    if yt:
        return _convert_operand(x, y, op), y
    x = convert_to_tensor(x)
    return x, _convert_operand(y, x, op)


def _convert_operand(value, other: Tensor, op):
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind == "f" and not other.dtype.is_floating:
            raise TypeError(f"{op}: cannot combine a floating-point array with a {other.dtype.name} tensor. "
                            f"Received: value.dtype={value.dtype}")
        return convert_to_tensor(value, dtype=other.dtype, device=other.device)
    try:
        return convert_to_tensor(value, dtype=other.dtype, device=other.device)
    except TypeError as e:
        raise TypeError(f"{op}: cannot convert the operand {value!r:.100} to the other input's dtype "
                        f"{other.dtype.name}. ({e})") from None


def unbroadcast(g: Tensor, shape) -> Tensor:
    """Sums ``g`` over the axes that broadcasting added or stretched to reach ``shape``."""
    from . import math_ops, array_ops
    gshape = tuple(g.shape)
    shape = tuple(shape)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and gshape[lead + i] != 1]
    if axes:
        g = math_ops.reduce_sum(g, axis=axes)
    if tuple(g.shape) != shape:
        g = array_ops.reshape(g, shape)
    return g


def is_tensor(x):
    """Whether ``x`` is a gpuflow Tensor or Variable (``tf.is_tensor``); NumPy arrays and Python values are not."""
    return isinstance(x, Tensor)


def get_static_value(tensor, partial=False):
    """The value of ``tensor`` known without running anything (``tf.get_static_value``): a Tensor's NumPy array
    (gpuflow runs eagerly); None for a Variable (its value may change, as TensorFlow answers); any other value as
    it is."""
    from ..tensor import Variable
    if isinstance(tensor, Variable):
        return None
    return tensor.numpy() if isinstance(tensor, Tensor) else tensor
