"""``keras.ops`` calls on symbolic tensors as nodes of a functional model (Keras 3's ``Operation``), saved and
loaded in Keras's format.

``x = ops.mean(layer(inputs), axis=1)`` (or ``h + 1.0`` on a KerasTensor) makes an :class:`OpNode`: a node of the
graph that is not one of the model's ``layers``. For the operations Keras 3.15 writes to files
(:data:`~._keras_operations.KERAS_OPERATIONS`, e.g. ``Add``, ``Concatenate``, ``Reshape``, ``Mean``, ``Relu``,
``Softmax``) the node is an instance of the class of that name, whose config is Keras's: ``{"name", **the
arguments Keras's Operation takes in __init__}`` (``{"name": "mean", "axis": 1, "keepdims": False}``), its
``module`` ``keras.src.ops.<numpy|nn|math|core|linalg|image>``; the call's other arguments (the tensors and
constants) are the node's arguments (``{"args": [<x>, 1.0], "kwargs": {}}``). Such models save to ``.keras``
files that Keras 3.15 loads, and Keras's files with these nodes load here. A node of another op trains and
predicts but cannot be saved (NotImplementedError); a file naming an operation gpuflow does not know fails with a
ValueError naming it. Nothing in a file is run as code: a class name only selects one of gpuflow's ops.
"""
from __future__ import annotations

import functools
import importlib
import inspect
import re

import numpy as np

from ... import dtypes as _dtypes
from ...ops import array_ops as A
from ...ops.core import convert_to_tensor
from ..backend import get_uid
from ..layers.base import KerasTensor, Layer
from ._keras_operations import KERAS_OPERATIONS


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


def symbolic_inputs(args, kwargs):
    """The KerasTensors among ``args`` and ``kwargs``' values (also inside a list or tuple), in order."""
    found = []
    for v in list(args) + list(kwargs.values()):
        if isinstance(v, KerasTensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            found.extend(w for w in v if isinstance(w, KerasTensor))
    return found


class OpNode(Layer):
    """A ``keras.ops`` call on symbolic tensors, as a node of a functional model (Keras 3's Operation).

    ``init`` holds the arguments Keras's Operation keeps in its config; :meth:`symbolic_call` takes the others,
    once. The node's inputs are the call's KerasTensors, in order.

    Args:
        name: the node's name (default: the op's name, numbered as Keras's: ``add``, ``add_1``, ...).
        **init: the arguments of :attr:`init_args` (those of Keras's Operation ``__init__``).

    Raises:
        ValueError: an argument not in :attr:`init_args` (naming it).
    """

    _cast_inputs = False
    _keras_operation = True  # a node of the graph, not one of the model's `layers`
    fn = None  # the op (a staticmethod on the classes of Keras's operations; set per node otherwise)
    keras_module = None  # "keras.src.ops.numpy", ...: Keras's module of the op; None: an op files cannot hold
    init_args = ()  # the names of the op's arguments kept in the config
    call_args = ()  # the names of its other arguments, in order (the node's args)

    def __init__(self, name=None, **init):
        unknown = sorted(set(init) - set(self.init_args))
        if unknown:
            raise ValueError(f"Operation {type(self).__name__}: unexpected argument(s) {unknown}. Expected: "
                             f"{list(self.init_args)}. Received: {init}")
        super().__init__(name=name if name is not None else _auto_name(_snake(type(self).__name__)))
        self.init = init
        self.structure = self.symbolic = self.output_dtypes = None
        self.built = True

    def symbolic_call(self, *args, **kwargs):
        """Calls the op on symbolic tensors (KerasTensors among ``args``/``kwargs``, also in lists): its KerasTensor
        output(s), a tuple for several.

        Raises:
            ValueError: arguments the op does not take, no KerasTensor among them, or a node already called (a node
                is one call).
        """
        if self.structure is not None:
            raise ValueError(f"Operation '{self.name}' was already called on symbolic tensors: an operation node is "
                             f"one call. Received: a second call with {len(args)} argument(s).")
        if self.keras_module is not None and (len(args) > len(self.call_args) or set(kwargs) - set(self.call_args)):
            raise ValueError(f"Operation {type(self).__name__} '{self.name}': expected the arguments "
                             f"{list(self.call_args)}. Received: {len(args)} positional and kwargs={sorted(kwargs)}")
        symbolic = symbolic_inputs(args, kwargs)
        if not symbolic:
            raise ValueError(f"Operation '{self.name}': expected a KerasTensor among its arguments. Received: "
                             f"args={args!r}, kwargs={kwargs!r}")
        self.structure, self.symbolic = (list(args), dict(kwargs)), symbolic
        outputs = self(list(symbolic))
        for out, dtype in zip(outputs if isinstance(outputs, list) else [outputs], self.output_dtypes):
            out.dtype = dtype
        return tuple(outputs) if isinstance(outputs, list) else outputs

    def replay(self, inputs):
        """The node's call again with new KerasTensors ``inputs`` (one per KerasTensor of the call, in order), as a
        new node (``keras.models.clone_model``): its output(s)."""
        node = type(self)(**self.init)
        if self.keras_module is None:
            node.fn = self.fn
        args, kwargs = _fill(self.structure, inputs)
        return node.symbolic_call(*args, **kwargs)

    def call(self, inputs):
        args, kwargs = _fill(self.structure, inputs if isinstance(inputs, (list, tuple)) else [inputs])
        if self.keras_module is None:
            return self.fn(*args, **kwargs)
        kwargs = {**dict(zip(self.call_args, args)), **kwargs}
        if type(self).__name__ == "GetItem" and isinstance(kwargs.get("key"), list):  # as Keras's GetItem.call: a
            kwargs["key"] = tuple(kwargs["key"])  # tuple of indices comes back from a file as a list
        return self.fn(**kwargs, **self.init)

    def _probe(self, batch):
        """The op on zeros shaped as its KerasTensors (``batch`` for None), or identity matrices if it refuses zeros."""
        shapes = [tuple(batch if d is None else d for d in kt.shape) for kt in self.symbolic]
        with np.errstate(all="ignore"):  # the values are only for the shapes: 0 / 0 is no concern
            try:
                out = self.call([A.zeros(s, kt.dtype) for s, kt in zip(shapes, self.symbolic)])
            except Exception as zeros_error:  # an op that refuses zeros (inv, cholesky, solve): identity matrices
                try:
                    out = self.call([convert_to_tensor(_identities(s).astype(_dtypes.as_dtype(kt.dtype).as_numpy_dtype))
                                     for s, kt in zip(shapes, self.symbolic)])
                except Exception:
                    raise zeros_error from None
        return list(out) if isinstance(out, (list, tuple)) else out

    def compute_output_shape(self, input_shape):
        """The output shape(s) from two probes (batch 2 and 3, see ``_probe``): dimensions that differ are None."""
        a, b = self._probe(2), self._probe(3)
        several = isinstance(a, list)
        a, b = (a, b) if several else ([a], [b])
        self.output_dtypes = [o.dtype.name for o in a]
        shapes = [tuple(p if p == q else None for p, q in zip(x.shape, y.shape)) for x, y in zip(a, b)]
        return shapes if several else shapes[0]

    def node_arguments(self, tensor_ref):
        """Keras's node form of the call: ``{"args": [...], "kwargs": {...}}`` with each KerasTensor replaced by
        ``tensor_ref(tensor)`` (its ``__keras_tensor__`` entry)."""
        args, kwargs = _fill(self.structure, [tensor_ref(t) for t in self.symbolic])
        return {"args": args, "kwargs": kwargs}

    def get_config(self):
        """Keras's config of the operation: ``{"name", **init}``.

        Raises:
            NotImplementedError: an op Keras files cannot hold (not in ``KERAS_OPERATIONS``).
        """
        if self.keras_module is None:
            raise NotImplementedError(
                f"The functional model calls keras.ops.{getattr(self.fn, '__name__', '?')} on symbolic tensors; "
                "gpuflow cannot save such an operation node (it is not one of the Keras operations gpuflow writes). "
                "Wrap the computation in a layer (a Layer subclass) to save the model.")
        return {"name": self.name, **self.init}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _identities(shape):
    """Identity matrices on the last two axes of ``shape`` when they are equal, else ones."""
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        return np.broadcast_to(np.eye(shape[-1]), shape)
    return np.ones(shape)


def _auto_name(base):
    uid = get_uid(base)
    return base if uid == 1 else f"{base}_{uid - 1}"


def _snake(class_name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def _operation_class(class_name, module, fn, init_args):
    fn = getattr(fn, "__wrapped__", fn)  # the op itself, not its symbolic-aware wrapper
    return type(class_name, (OpNode,), {
        "fn": staticmethod(fn), "keras_module": module, "init_args": tuple(init_args),
        "call_args": tuple(n for n in inspect.signature(fn).parameters if n not in init_args),
        "__module__": __name__, "__qualname__": class_name,
        "__doc__": f"Keras's ``{module}.{class_name}`` node: gpuflow's ``{fn.__module__}.{fn.__name__}``."})


@functools.lru_cache(maxsize=None)
def operation_classes():
    """``{class name: OpNode subclass}``: the Keras operations gpuflow reads and writes as nodes (one class per
    entry of ``KERAS_OPERATIONS``, computing ``gpuflow.keras.ops.<module>.<snake_case name>``), and the
    ``keras.activations.relu`` node Keras writes (``keras.src.activations.activations.ReLU``), read only."""
    classes = {}
    for module, table in KERAS_OPERATIONS.items():
        namespace = vars(importlib.import_module(f"{__package__}.{module}"))
        for class_name, init_args in table.items():
            classes[class_name] = _operation_class(class_name, f"keras.src.ops.{module}",
                                                   namespace[_snake(class_name)], init_args)
    from .. import activations  # imported when first used, after gpuflow.keras (which imports keras.ops) loaded
    classes["ReLU"] = _operation_class("ReLU", "keras.src.activations.activations", activations.relu,
                                       ("negative_slope", "max_value", "threshold"))
    return classes


_SHORTHANDS = {"abs": "absolute", "conj": "conjugate"}  # Keras's shorthands call these (Absolute, Conjugate nodes)


@functools.lru_cache(maxsize=None)
def _by_function():
    return {(cls.keras_module, _snake(name)): cls for name, cls in operation_classes().items()}


def make_node(fn, module, name, args, kwargs):
    """The symbolic output(s) of ``fn(*args, **kwargs)`` (the op ``gpuflow.keras.ops.<module>.<name>`` called with
    KerasTensors): a node of Keras's class for the op when there is one (its ``init_args`` taken from the call,
    defaults included, as Keras's Operation), else a node that cannot be saved."""
    cls = _by_function().get((f"keras.src.ops.{module}", _SHORTHANDS.get(name, name)))
    if cls is None:
        node = OpNode(name=_auto_name(name))
        node.fn = fn
        return node.symbolic_call(*args, **kwargs)
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    init = {n: bound.arguments.pop(n) for n in cls.init_args}
    if init.get("dtype") is not None:  # as Keras's functions: the standardized name ("float16"), not a DType
        init["dtype"] = _dtypes.as_dtype(init["dtype"]).name
    return cls(**init).symbolic_call(*bound.arguments.values())
