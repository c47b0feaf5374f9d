"""``tf.TensorArray`` as TensorFlow 2 runs it eagerly: a list of Tensors of one dtype, written and read by index,
stacked into one Tensor; gradients flow through what is written to what is read or stacked."""
from __future__ import annotations

from .. import dtypes as _dtypes
from ..errors import OutOfRangeError
from .core import convert_to_tensor
from .array_ops import concat as _concat, gather as _gather, stack as _stack, unstack as _unstack, zeros

__all__ = ["TensorArray"]


class TensorArray:
    """A list of Tensors of one dtype (``tf.TensorArray``), for loops that build a result step by step.

    ``write`` returns the array (use ``ta = ta.write(i, x)`` as in TensorFlow); unwritten entries stack as zeros of
    the written entries' shape.

    Args:
        dtype: the entries' dtype.
        size: the initial number of entries (default 0).
        dynamic_size: whether writes past the end grow the array (default False, as TensorFlow).
        element_shape: optional shape every entry must have.

    Raises:
        gpuflow.errors.OutOfRangeError: (an IndexError) a read or write outside the array (TensorFlow's message).
        ValueError: an entry of another shape than the others or ``element_shape``.
    """

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape=True, element_shape=None, colocate_with_first_write_call=True,
                 name=None):
        self._dtype = _dtypes.as_dtype(dtype)
        self._dynamic = bool(dynamic_size)
        self._items = [None] * int(size.numpy() if hasattr(size, "numpy") else (size or 0))
        self._shape = None if element_shape is None else tuple(element_shape)
        self._infer_shape = infer_shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self):
        return self._dynamic

    @property
    def element_shape(self):
        """The entries' shape, once known (given or from the first write); None before."""
        return self._shape

    def size(self, name=None):
        """The number of entries, an int32 scalar Tensor."""
        return convert_to_tensor(len(self._items), dtype="int32")

    def _index(self, index, op):
        i = int(index.numpy() if hasattr(index, "numpy") else index)
        if i < 0 or (i >= len(self._items) and not (op == "write" and self._dynamic)):
            verb = "write to" if op == "write" else "read from"
            raise OutOfRangeError(None, None, f"Tried to {verb} index {i} but array "
                                              f"{'is not resizeable and ' if op == 'write' else ''}size is: "
                                              f"{len(self._items)}")
        return i

    def write(self, index, value, name=None):
        """Sets entry ``index`` to ``value`` (converted to the array's dtype); returns the array."""
        i = self._index(index, "write")
        v = convert_to_tensor(value, dtype=self._dtype)
        if self._infer_shape and self._shape is not None and tuple(v.shape) != self._shape:
            raise ValueError(f"TensorArray: the entries must all have shape {self._shape}. Received: an entry of "
                             f"shape {tuple(v.shape)} at index {i}")
        if self._infer_shape:
            self._shape = tuple(v.shape)
        if i >= len(self._items):
            self._items.extend([None] * (i + 1 - len(self._items)))
        self._items[i] = v
        return self

    def read(self, index, name=None):
        """Entry ``index`` (zeros of the entries' shape if never written)."""
        i = self._index(index, "read")
        return self._items[i] if self._items[i] is not None else self._zeros()

    def _zeros(self):
        if self._shape is None:
            raise ValueError("TensorArray: an entry was never written and the entries' shape is unknown (give "
                             "element_shape or write it first).")
        return zeros(self._shape, self._dtype)

    def _all(self):
        return [t if t is not None else self._zeros() for t in self._items]

    def stack(self, name=None):
        """Every entry stacked on a new first axis: shape ``(size,) + element_shape``."""
        if not self._items:
            return zeros((0,) + (self._shape or ()), self._dtype)
        return _stack(self._all())

    def gather(self, indices, name=None):
        """The entries at ``indices``, stacked."""
        return _gather(self.stack(), convert_to_tensor(indices, dtype="int32"))

    def concat(self, name=None):
        """Every entry concatenated along its first axis."""
        return _concat(self._all(), axis=0)

    def unstack(self, value, name=None):
        """Writes the slices of ``value`` along its first axis as entries 0, 1, ...; returns the array."""
        for i, t in enumerate(_unstack(convert_to_tensor(value, dtype=self._dtype))):
            self.write(i, t)
        return self

    def scatter(self, indices, value, name=None):
        """Writes ``value[k]`` at ``indices[k]``; returns the array."""
        idx = convert_to_tensor(indices).numpy().tolist()
        for i, t in zip(idx, _unstack(convert_to_tensor(value, dtype=self._dtype))):
            self.write(i, t)
        return self

    def identity(self):
        return self

    def close(self, name=None):
        self._items = []
