"""``keras.ops`` on symbolic inputs: a call with a ``keras.Input`` (or a layer's symbolic output) among its
arguments becomes a node of the functional model, as Keras 3's ``Operation.symbolic_call`` does, so that
``x = ops.mean(layer(inputs), axis=1)`` builds a model that trains, predicts and (for the operations Keras writes
to files) saves. The node is an :class:`~.operation.OpNode` (see :mod:`.operation`).
"""
from __future__ import annotations

import functools

from ..layers.base import KerasTensor
from .operation import make_node


def _has_symbolic(values):
    for v in values:
        if isinstance(v, KerasTensor):
            return True
        if isinstance(v, (list, tuple)) and any(isinstance(w, KerasTensor) for w in v):
            return True
    return False


def symbolic_aware(fn, module, name):
    """``fn`` (the op ``gpuflow.keras.ops.<module>.<name>``) that, called with a KerasTensor among its arguments (or in
    a list argument), returns the symbolic output(s) of an operation node; otherwise runs ``fn``."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if not _has_symbolic(args) and not _has_symbolic(kwargs.values()):
            return fn(*args, **kwargs)
        return make_node(fn, module, name, args, kwargs)
    return op


def wrap_module(namespace, names):
    """Makes each function ``namespace[name]`` symbolic-aware (the module's public ops)."""
    module = namespace["__name__"].rsplit(".", 1)[-1]
    for name in names:
        namespace[name] = symbolic_aware(namespace[name], module, name)
