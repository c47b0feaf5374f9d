"""``Tensor`` (an immutable array on a device) and ``Variable`` (a mutable one).

A Tensor holds a backend array (NumPy on the CPU, CuPy on CUDA) and the device
it lives on; its dtype is the array's. Operators dispatch to
:mod:`gpuflow.ops` and so are recorded by ``GradientTape``. NumPy interop works
both ways: ``np.asarray(t)`` / ``t.numpy()`` give a NumPy array (copied from the
GPU), and NumPy arrays are accepted wherever a tensor is.

Printing follows TensorFlow: ``tf.Tensor([1. 2.], shape=(2,), dtype=float32)``.
"""
from __future__ import annotations

import numpy as np

from . import dtypes as _dtypes
from .device import Device, backend_for

__all__ = ["Tensor", "Variable", "TensorShape"]


class TensorShape(tuple):
    """A tuple of dimensions (``tf.TensorShape``); ``None`` marks an unknown one."""

    def as_list(self):
        return list(self)

    @property
    def rank(self):
        return len(self)

    ndims = rank

    def num_elements(self):
        if any(d is None for d in self):
            return None
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"TensorShape({list(self)})"

    def __str__(self):
        return tuple.__repr__(self)


class Tensor:
    """A multi-dimensional array on a device (``tf.Tensor``, eager).

    Create tensors with :func:`gpuflow.constant`, :func:`gpuflow.convert_to_tensor`
    or the ops; the constructor is internal.

    Attributes:
        shape: a :class:`TensorShape`.
        dtype: a :class:`gpuflow.DType`.
        device: the :class:`gpuflow.device.Device` it lives on.

    The op protocol: gpuflow's own ops (and the layers and strategies that do array work) read ``_data``, the
    backend array, and ``_backend``, the :class:`~gpuflow.backend.base.Backend` that computes on it, directly;
    user code has :meth:`numpy` and :attr:`device`. These are the only private names one gpuflow module may
    read from another's objects (tests/test_module_boundaries.py).
    """

    __slots__ = ("_data", "_device", "_backend", "__weakref__")
    __array_priority__ = 100  # NumPy defers `ndarray + Tensor` to Tensor.__radd__

    def __init__(self, data, device: Device, backend=None):
        self._data = data
        self._device = device
        self._backend = backend if backend is not None else backend_for(device)

    # -- attributes -----------------------------------------------------
    @property
    def shape(self):
        return TensorShape(self._data.shape)

    def get_shape(self):
        return self.shape

    @property
    def dtype(self):
        return _dtypes.as_dtype(self._data.dtype)

    @property
    def device(self):
        return self._device

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def backend(self):
        return self._backend

    def numpy(self):
        """A NumPy copy of the value (a read-only view on the CPU backend)."""
        a = self._backend.to_numpy(self._data)
        if a is self._data:
            a = a.view()
            a.flags.writeable = False
        return a

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()  # read-only on the CPU: np.asarray(t) must not let anyone write into a Tensor
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return np.array(a, copy=True) if copy else a

    # -- Python protocol -------------------------------------------------
    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a scalar (rank-0) Tensor is not defined.")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("Iterating over a scalar (rank-0) Tensor is not allowed.")
        from .ops import array_ops
        return (array_ops.getitem(self, i) for i in range(self._data.shape[0]))

    def __bool__(self):
        return bool(self.numpy())

    def __float__(self):
        return float(self.numpy())

    def __int__(self):
        return int(self.numpy())

    def __index__(self):
        if not self.dtype.is_integer:
            raise TypeError(f"Only integer scalar Tensors can be used as an index. Received: dtype={self.dtype.name}")
        return int(self.numpy())

    def __hash__(self):
        raise TypeError("Tensor is unhashable. Instead, use id(tensor) as the key.")

    def __repr__(self):
        return f"<tf.Tensor: shape={tuple(self.shape)}, dtype={self.dtype.name}, numpy={_np_repr(self.numpy())}>"

    def __str__(self):
        return f"tf.Tensor({_np_str(self.numpy())}, shape={tuple(self.shape)}, dtype={self.dtype.name})"

    # -- operators (see ops/) --------------------------------------------
    def __add__(self, o): return _m.add(self, o)
    def __radd__(self, o): return _m.add(o, self)
    def __sub__(self, o): return _m.subtract(self, o)
    def __rsub__(self, o): return _m.subtract(o, self)
    def __mul__(self, o): return _m.multiply(self, o)
    def __rmul__(self, o): return _m.multiply(o, self)
    def __truediv__(self, o): return _m.divide(self, o)
    def __rtruediv__(self, o): return _m.divide(o, self)
    def __floordiv__(self, o): return _m.floordiv(self, o)
    def __rfloordiv__(self, o): return _m.floordiv(o, self)
    def __mod__(self, o): return _m.mod(self, o)
    def __rmod__(self, o): return _m.mod(o, self)
    def __pow__(self, o): return _m.pow(self, o)
    def __rpow__(self, o): return _m.pow(o, self)
    def __matmul__(self, o): return _m.matmul(self, o)
    def __rmatmul__(self, o): return _m.matmul(o, self)
    def __neg__(self): return _m.negative(self)
    def __pos__(self): return self
    def __abs__(self): return _m.abs(self)
    def __lt__(self, o): return _m.less(self, o)
    def __le__(self, o): return _m.less_equal(self, o)
    def __gt__(self, o): return _m.greater(self, o)
    def __ge__(self, o): return _m.greater_equal(self, o)
    def __eq__(self, o): return False if o is None else _m.equal(self, o)  # TensorFlow: t == None is False
    def __ne__(self, o): return True if o is None else _m.not_equal(self, o)
    def __and__(self, o): return _m.logical_and(self, o)
    def __or__(self, o): return _m.logical_or(self, o)
    def __invert__(self): return _m.logical_not(self)
    def __getitem__(self, key): return _a.getitem(self, key)


def _multiline(text):
    return "\n" + text if "\n" in text else text  # as TensorFlow's numpy_text


def _np_repr(a):
    # a scalar prints in its own precision (float32 0.1 as "0.1", as TensorFlow), not as a Python float
    return _multiline(repr(a) if a.ndim else str(a))


def _np_str(a):
    # str(), not array2string() or an f-string: a scalar prints as "1.0" and "0.1", not "1." or 0.100000001
    return _multiline(str(a))


class Variable(Tensor):
    """A mutable tensor, the state of a model (``tf.Variable``).

    Args:
        initial_value: a tensor-like value (or a zero-argument callable giving one).
        trainable: whether ``GradientTape`` watches it automatically and
            optimizers update it.
        name: a name (``"Variable"`` by default).
        dtype: optional dtype to cast the initial value to.

    Reading a variable inside a ``GradientTape`` records it as a source;
    ``assign*`` write in place and are not differentiable, as in TensorFlow.
    """

    __slots__ = ("trainable", "_name", "_constraint", "path", "_keras_trainable")

    def __init__(self, initial_value, trainable=True, name=None, dtype=None, constraint=None):
        from .ops.core import convert_to_tensor
        if callable(initial_value):
            initial_value = initial_value()
        t = convert_to_tensor(initial_value, dtype=dtype)
        data = t._data
        if data is getattr(initial_value, "_data", None) or isinstance(initial_value, np.ndarray):
            data = t._backend.xp.array(data, copy=True)  # never alias the caller's buffer
        super().__init__(data, t.device, t._backend)
        self.trainable = bool(trainable)
        self._name = name or "Variable"
        self._constraint = constraint
        self.path = self._name
        self._keras_trainable = self.trainable
        from .distribute.strategy import _on_variable_created
        _on_variable_created(self)  # in a multi-worker strategy's scope: worker 0's initial value, as TF
        from .tf_function import on_variable_created as _in_tf_function
        _in_tf_function(self)  # inside a tf.function only its first call may create variables, as TF

    @property
    def name(self):
        return self._name

    @property
    def constraint(self):
        return self._constraint

    def _check(self, value, op):
        from .ops.core import convert_to_tensor
        v = convert_to_tensor(value, dtype=self.dtype, device=self._device)
        if tuple(v.shape) != tuple(self.shape):
            raise ValueError(f"Variable.{op}: shape mismatch for variable '{self._name}'. "
                             f"Expected: {tuple(self.shape)}. Received: value.shape={tuple(v.shape)}")
        return v._data

    def assign(self, value, read_value=True):
        """Writes ``value`` (same shape; cast to this dtype) into the variable in place."""
        self._backend.xp.copyto(self._data, self._check(value, "assign"))
        return self

    def assign_add(self, delta, read_value=True):
        self._data += self._check(delta, "assign_add")
        return self

    def assign_sub(self, delta, read_value=True):
        self._data -= self._check(delta, "assign_sub")
        return self

    def numpy(self):
        """A NumPy copy of the current value (a snapshot, as TensorFlow's: a later ``assign`` leaves it alone)."""
        return np.array(self._backend.to_numpy(self._data), copy=True)

    def value(self):
        """A Tensor snapshot of the current value."""
        return Tensor(self._data.copy(), self._device, self._backend)

    read_value = value

    def __repr__(self):
        return (f"<tf.Variable '{self._name}' shape={tuple(self.shape)} dtype={self.dtype.name}, "
                f"numpy={_np_repr(self.numpy())}>")


from .ops import math_ops as _m, array_ops as _a  # noqa: E402  (operators need the ops; ops need Tensor)
