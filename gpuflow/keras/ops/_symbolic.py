"""``keras.ops`` on symbolic inputs: a call with a ``keras.Input`` (or a layer's symbolic output) among its
arguments becomes a node of the functional model, as Keras 3's ``Operation.symbolic_call`` does, so that
``x = ops.mean(layer(inputs), axis=1)`` builds a model that trains and predicts.

The node is an :class:`OpNode` layer holding the op and its non-symbolic arguments; its output shapes and dtypes
come from running the op on zeros (batch dimensions, which change with the probe's size, are None). Such a model
cannot be saved to a file (Keras writes the node as its op class; gpuflow does not read those back): its
``get_config`` raises NotImplementedError.
"""
from __future__ import annotations

import functools

from ...ops import array_ops as A
from ..backend import get_uid
from ..layers.base import KerasTensor, Layer


def _has_symbolic(values):
    for v in values:
        if isinstance(v, KerasTensor):
            return True
        if isinstance(v, (list, tuple)) and any(isinstance(w, KerasTensor) for w in v):
            return True
    return False


def _fill(structure, values):
    """``structure`` (the call's args and kwargs) with each KerasTensor replaced by the next of ``values``."""
    it = iter(values)

    def sub(v):
        if isinstance(v, KerasTensor):
            return next(it)
        if isinstance(v, (list, tuple)) and any(isinstance(w, KerasTensor) for w in v):
            return type(v)(sub(w) for w in v)
        return v
    args, kwargs = structure
    return [sub(a) for a in args], {k: sub(v) for k, v in kwargs.items()}


def _symbolic_inputs(args, kwargs):
    found = []
    for v in list(args) + list(kwargs.values()):
        if isinstance(v, KerasTensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            found.extend(w for w in v if isinstance(w, KerasTensor))
    return found


class OpNode(Layer):
    """A ``keras.ops`` call on symbolic tensors, as a node of a functional model (Keras 3's Operation): its inputs
    are the call's KerasTensors, in order; the other arguments are held."""

    _cast_inputs = False
    _keras_operation = True  # a node of the graph, not one of the model's `layers`

    def __init__(self, fn, args, kwargs, symbolic, **kw):
        uid = get_uid(fn.__name__)
        super().__init__(name=fn.__name__ if uid == 1 else f"{fn.__name__}_{uid - 1}", **kw)
        self.fn, self.structure, self.symbolic = fn, (args, kwargs), symbolic
        self.output_dtypes = None
        self.built = True

    def call(self, inputs):
        args, kwargs = _fill(self.structure, inputs if isinstance(inputs, (list, tuple)) else [inputs])
        return self.fn(*args, **kwargs)

    def _probe(self, batch):
        zeros = [A.zeros(tuple(batch if d is None else d for d in kt.shape), kt.dtype) for kt in self.symbolic]
        out = self.call(zeros)
        return list(out) if isinstance(out, (list, tuple)) else out

    def compute_output_shape(self, input_shape):
        """The output shape(s) from two probes on zeros (batch 2 and 3): dimensions that differ are None."""
        a, b = self._probe(2), self._probe(3)
        several = isinstance(a, list)
        a, b = (a, b) if several else ([a], [b])
        self.output_dtypes = [o.dtype.name for o in a]
        shapes = [tuple(p if p == q else None for p, q in zip(x.shape, y.shape)) for x, y in zip(a, b)]
        return shapes if several else shapes[0]

    def get_config(self):
        raise NotImplementedError(f"The functional model calls keras.ops.{self.fn.__name__} on symbolic tensors; "
                                  f"gpuflow cannot save such an operation node. Wrap the computation in a layer "
                                  f"(a Layer subclass) to save the model.")


def symbolic_aware(fn):
    """``fn`` that, called with a KerasTensor among its arguments (or in a list argument), returns the symbolic
    output(s) of an :class:`OpNode`; otherwise runs ``fn``."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if not _has_symbolic(args) and not _has_symbolic(kwargs.values()):
            return fn(*args, **kwargs)
        symbolic = _symbolic_inputs(args, kwargs)
        node = OpNode(fn, args, kwargs, symbolic)
        outputs = node(list(symbolic))
        for out, dtype in zip(outputs if isinstance(outputs, list) else [outputs], node.output_dtypes):
            out.dtype = dtype
        return tuple(outputs) if isinstance(outputs, list) else outputs
    return op


def wrap_module(namespace, names):
    """Makes each function ``namespace[name]`` symbolic-aware (the module's public ops)."""
    for name in names:
        namespace[name] = symbolic_aware(namespace[name])
