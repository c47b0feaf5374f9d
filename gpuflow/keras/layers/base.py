"""``keras.layers.Layer``, ``InputSpec`` and the symbolic ``KerasTensor``.

A layer follows Keras 3's life cycle: ``__init__`` stores configuration,
``build(input_shape)`` creates weights with ``add_weight`` on the first call,
``call(inputs, training=None)`` computes, ``compute_output_shape`` gives shapes
without computing. Calling a layer on a :class:`KerasTensor` (from
``keras.Input``) builds it and returns a KerasTensor of the output shape.

Layer names are unique per class as in Keras ("dense", "dense_1", ...), and
input checks produce Keras's messages ('Input 0 of layer "dense" is
incompatible with the layer: ...').

Each layer has a dtype policy (:mod:`gpuflow.keras.mixed_precision`): weights in its variable dtype,
computation in its compute dtype; ``__call__`` casts floating inputs to the compute dtype and, under a mixed
policy, lets ``call`` read the floating weights in the compute dtype (Keras 3's autocast).
"""
from __future__ import annotations

import contextlib
import inspect
import re
import threading

import numpy as np

from ...tensor import Tensor, Variable
from ...ops.core import convert_to_tensor
from ...ops import math_ops as _m
from ... import dtypes as _dtypes
from .. import constraints as _constraints, initializers as _init, regularizers as _regularizers
from .. import mixed_precision as _mp
from .mask_utils import get_keras_mask, set_keras_mask

__all__ = ["Layer", "InputSpec", "KerasTensor", "to_snake_case", "unique_name", "reset_uids", "standardize_shape",
           "call_hook", "call_hooks_active"]

_uids = {}
_ctx = threading.local()


def to_snake_case(name):
    """Keras's class-name to layer-name rule: ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """``base`` the first time, then ``base_1``, ``base_2``... (``keras.backend.get_uid``)."""
    n = _uids.get(base, 0)
    _uids[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_uids():
    """Forgets the name counters (``keras.backend.clear_session``)."""
    _uids.clear()


def standardize_shape(shape, arg="shape"):
    """A shape as a tuple of ints >= 0 and None (an unknown size), by Keras 3's ``standardize_shape`` rules:
    zero is a size, a negative, float or string dimension is refused.

    Raises:
        ValueError: Keras's message for the bad dimension, naming ``arg`` and the shape received.
    """
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)  # Keras 2's `input_shape=3`, still accepted
    if shape is None or isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(f"Cannot convert '{shape}' to a shape. Received: {arg}={shape!r}")
    shape = tuple(shape)
    dims = []
    for d in shape:
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))):
            raise ValueError(f"Cannot convert '{shape}' to a shape. Found invalid dimension '{d}' of type "
                             f"'{type(d)}'. Received: {arg}={shape}")
        if d is not None and d < 0:
            raise ValueError(f"Cannot convert '{shape}' to a shape. Negative dimensions are not allowed "
                             f"(None is an unknown size). Received: {arg}={shape}")
        dims.append(None if d is None else int(d))
    return tuple(dims)


def batch_shape_of(shape, batch_size, arg="shape"):
    """``(batch_size,) + shape``, both checked as :func:`standardize_shape` does (``arg`` names ``shape``).

    Raises:
        ValueError: a bad dimension, or a ``batch_size`` that is not None or an int >= 0.
    """
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 0):
        raise ValueError(f"`batch_size` must be None or an integer >= 0. Received: batch_size={batch_size!r}")
    return (None if batch_size is None else int(batch_size),) + standardize_shape(shape, arg)


def _shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _operator(op, reflected=False):
    """A KerasTensor operator: the ``keras.ops.numpy`` op ``op`` on it (Keras 3's ``KerasTensor.__add__`` ...), a
    node of the functional model."""
    def method(self, *other):
        from ..ops import numpy as knp  # imported when used: keras.ops imports the layers
        args = (*other, self) if reflected else (self, *other)
        return getattr(knp, op)(*args)
    method.__name__ = f"__{'r' if reflected else ''}{op}__"
    return method


class KerasTensor:
    """A symbolic tensor: shape (``None`` for unknown dimensions) and dtype, no value.

    Returned by ``keras.Input`` and by layers called on KerasTensors. The operators ``+ - * / // % ** @ < <= > >=
    & | ^``, unary ``-``, ``~`` and ``abs`` with tensors or Python numbers, and indexing (``x[:, 1:3]``), are
    ``keras.ops`` nodes of the functional model (``Add``, ``Subtract``, ..., ``Less``, ``LogicalAnd``, ...,
    ``GetItem``), as in Keras 3; ``==`` and ``!=`` stay Python's identity comparisons (Keras makes ``!=`` a
    ``NotEqual`` node; gpuflow keeps KerasTensors usable in ``in`` tests and as dict keys).
    """

    __add__, __radd__ = _operator("add"), _operator("add", reflected=True)
    __sub__, __rsub__ = _operator("subtract"), _operator("subtract", reflected=True)
    __mul__, __rmul__ = _operator("multiply"), _operator("multiply", reflected=True)
    __matmul__, __rmatmul__ = _operator("matmul"), _operator("matmul", reflected=True)
    __truediv__, __rtruediv__ = _operator("true_divide"), _operator("true_divide", reflected=True)
    __floordiv__, __rfloordiv__ = _operator("floor_divide"), _operator("floor_divide", reflected=True)
    __mod__, __rmod__ = _operator("mod"), _operator("mod", reflected=True)
    __pow__, __rpow__ = _operator("power"), _operator("power", reflected=True)
    __neg__, __abs__ = _operator("negative"), _operator("absolute")
    __lt__, __le__ = _operator("less"), _operator("less_equal")
    __gt__, __ge__ = _operator("greater"), _operator("greater_equal")
    __and__, __rand__ = _operator("logical_and"), _operator("logical_and", reflected=True)
    __or__, __ror__ = _operator("logical_or"), _operator("logical_or", reflected=True)
    __xor__, __rxor__ = _operator("logical_xor"), _operator("logical_xor", reflected=True)
    __invert__ = _operator("logical_not")
    __getitem__ = _operator("get_item")
    __array_ufunc__ = None  # `np_array + x` is x.__radd__(np_array), one node, not one per array element

    def __iter__(self):  # not Python's fallback on __getitem__ (Keras 3's message; TypeError, as for non-iterables)
        raise TypeError("Iterating over a symbolic KerasTensor is not supported.")

    def __array__(self, *args, **kwargs):  # what tf.nn.relu(x), np.asarray(x) ... meet (Keras 3's message)
        raise TypeError(
            "A KerasTensor cannot be used as input to a TensorFlow function. A KerasTensor is a symbolic placeholder "
            "for a shape and dtype, used when constructing Keras Functional models or Keras Functions. You can only "
            "use it as input to a Keras layer or a Keras operation (from the namespaces `keras.layers` and "
            "`keras.ops`). Received: a KerasTensor of shape " + _shape_str(self.shape) + f" and dtype {self.dtype}")

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = _dtypes.as_dtype(dtype).name
        self.name = name
        self._history = history  # (layer, inputs[, output index[, call kwargs]]) that produced it; None for an Input
        self._keras_mask = None  # its Keras mask, a bool KerasTensor (see .mask_utils)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class InputSpec:
    """Constraints on a layer's input: ``ndim``, ``min_ndim``, ``max_ndim``, ``axes`` ({axis: size})."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None):
        self.shape = shape
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.axes = dict(axes or {})


def _option_module(key):
    """The module that resolves a ``*_regularizer`` or ``*_constraint`` argument."""
    return _regularizers if key.endswith("_regularizer") else _constraints


def _training_context():
    return getattr(_ctx, "training", None)


@contextlib.contextmanager
def call_hook(fn):
    """Runs ``fn(layer, inputs, outputs)`` after every layer call in this thread while the block lasts.

    ``inputs`` are the tensors the layer's ``call`` received (after the input conversion to the layer's
    dtype), ``outputs`` what it returned; calls on symbolic ``KerasTensor`` inputs are not reported. Every
    layer is reported, models and nested layers included, innermost first. While a hook is active, models
    run no fused ops (see :mod:`gpuflow.keras.fusion`), so each layer is called and reported
    (:mod:`gpuflow.parity` records each layer's output this way). Hooks nest.
    """
    hooks = getattr(_ctx, "call_hooks", ())
    _ctx.call_hooks = hooks + (fn,)
    try:
        yield fn
    finally:
        _ctx.call_hooks = hooks


def call_hooks_active():
    """Whether a :func:`call_hook` is active in this thread."""
    return bool(getattr(_ctx, "call_hooks", ()))


class Layer:
    """Base class of all layers (``keras.layers.Layer``).

    Args:
        trainable: whether the layer's weights are updated by training.
        name: unique name; derived from the class name when omitted.
        dtype: the dtype policy (:class:`~gpuflow.keras.mixed_precision.DTypePolicy`), or its name
            (``"float32"``, ``"mixed_float16"``, ...); None: the global policy
            (:func:`~gpuflow.keras.mixed_precision.global_policy`, float32 unless set).
        autocast: under a mixed policy, whether ``call`` reads the floating weights made with
            ``add_weight(autocast=True)`` in the compute dtype (Keras 3's ``autocast``).
        input_shape: optional shape without the batch axis (the Keras 2 style
            of declaring a Sequential model's input; ``keras.Input`` is preferred).
    """

    _cast_inputs = True  # float/int inputs are cast to the layer dtype (False for index inputs)
    _string_inputs = False  # True: NumPy str/bytes/object inputs reach ``call`` as they are (string layers)

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, batch_input_shape=None,
                 batch_size=None, input_dim=None, activity_regularizer=None, autocast=True, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        object.__setattr__(self, "_layers", [])
        self._weights = []
        self._regularizers = {}  # id(weight) -> its regularizer (add_weight's `regularizer`)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._dtype_policy = _mp.get(dtype)
        self.autocast = bool(autocast)
        self.built = False
        self.input_spec = None
        self._call_has_training = "training" in inspect.signature(self.call).parameters
        self._call_has_mask = "mask" in inspect.signature(self.call).parameters
        if "_supports_masking" not in self.__dict__:  # Keras 3: a layer that defines compute_mask supports masks
            self._supports_masking = type(self).compute_mask is not Layer.compute_mask
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = standardize_shape(batch_input_shape, "batch_input_shape")
        elif input_shape is not None:
            self._batch_input_shape = batch_shape_of(input_shape, batch_size, "input_shape")
        else:
            self._batch_input_shape = None
        self._losses = []
        self.activity_regularizer = _regularizers.get(activity_regularizer)

    # -- tracking ----------------------------------------------------------
    def __setattr__(self, name, value):
        if isinstance(value, Layer) and name != "_outer":
            if value not in self.__dict__.get("_layers", []):
                self.__dict__.setdefault("_layers", []).append(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value) \
                and not name.startswith("_"):
            for v in value:
                if v not in self.__dict__.setdefault("_layers", []):
                    self._layers.append(v)
        object.__setattr__(self, name, value)

    # -- dtype policy (Keras 3's Layer.dtype_policy / dtype / compute_dtype / variable_dtype) ----------------
    @property
    def dtype_policy(self):
        """The layer's :class:`~gpuflow.keras.mixed_precision.DTypePolicy`."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._dtype_policy = _mp.get(value)

    @property
    def dtype(self):
        """The variable dtype (str), as Keras 3's ``layer.dtype``."""
        return self._dtype_policy.variable_dtype

    @property
    def variable_dtype(self):
        """The dtype the layer creates its weights in (str)."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self):
        """The dtype the layer computes in and casts its floating inputs to (str)."""
        return self._dtype_policy.compute_dtype

    @property
    def input_dtype(self):
        """The dtype ``__call__`` casts floating inputs to: the compute dtype (Keras 3's ``input_dtype``)."""
        return self.compute_dtype

    @contextlib.contextmanager
    def _autocast_weights(self):
        """While it lasts, the attributes of this layer and of its sub-layers of the same compute dtype that
        hold floating weights made with ``autocast=True`` hold them cast to the compute dtype (a cast the tape
        records, so gradients reach the weights in their own dtype). Keras 3's AutocastScope, which also covers
        the weights of sub-layers a ``call`` reads directly (an RNN's cell); for a mixed policy only."""
        compute = self.compute_dtype
        if not self.autocast or compute == self.variable_dtype or not _dtypes.as_dtype(compute).is_floating:
            yield
            return
        swapped = []
        for layer in [self] + list(self._flatten_layers()):
            if not layer.autocast or layer.compute_dtype != compute:
                continue  # its own call casts to its own compute dtype
            own = {id(w) for w in layer._weights} - layer.__dict__.get("_no_autocast", set())
            swapped += [(layer, k, v) for k, v in layer.__dict__.items() if isinstance(v, Variable) and id(v) in own
                        and v.dtype.is_floating and v.dtype.name != compute]
        for layer, k, v in swapped:
            object.__setattr__(layer, k, _m.cast(v, compute))
        try:
            yield
        finally:
            for layer, k, v in swapped:
                object.__setattr__(layer, k, v)

    # -- weights -----------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", name=None):
        """Creates a weight Variable tracked by this layer (Keras 3 signature).

        ``initializer`` defaults to glorot_uniform for float weights and zeros otherwise. ``dtype`` defaults to
        the policy's variable dtype; ``autocast=False`` keeps the weight in its own dtype inside ``call`` under a
        mixed policy.
        """
        dtype = _dtypes.as_dtype(dtype or self.variable_dtype)
        shape = tuple(int(d) for d in (shape or ()))
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating else "zeros"
        init = _init.get(initializer)
        value = init(shape, dtype=dtype.name) if isinstance(init, _init.Initializer) else init(shape, dtype=dtype.name)
        var = Variable(convert_to_tensor(value, dtype=dtype), trainable=trainable and self._trainable,
                       name=name or f"variable_{len(self._weights)}", constraint=constraint)
        var.path = f"{self.name}/{var.name}"
        var._keras_trainable = trainable
        self.__dict__.setdefault("_regularizers", {})[id(var)] = _regularizers.get(regularizer)
        if not autocast:
            self.__dict__.setdefault("_no_autocast", set()).add(id(var))
        self._weights.append(var)
        return var

    def _set_weight_options(self, **options):
        """Stores ``<weight>_regularizer`` / ``<weight>_constraint`` constructor arguments, resolved from Keras
        identifiers (objects, names, config dicts) by :mod:`..regularizers` / :mod:`..constraints`."""
        for key, value in options.items():
            setattr(self, key, _option_module(key).get(value))

    def _weight_options_config(self, *keys):
        """The serialized ``<weight>_regularizer`` / ``<weight>_constraint`` attributes, for ``get_config``."""
        return {k: _option_module(k).serialize(getattr(self, k)) for k in keys}

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        for v in self._weights:
            v.trainable = value and getattr(v, "_keras_trainable", True)
        for layer in self._layers:
            layer.trainable = value

    @property
    def layers(self):
        return list(self._layers)

    def _flatten_layers(self):
        for layer in self._layers:
            yield layer
            yield from layer._flatten_layers()

    @property
    def weights(self):
        """All weights without duplicates: this layer's (those created trainable first, then the others,
        as Keras 3 tracks them), then its sub-layers'."""
        out, seen = [], set()
        for w in self._own_variables() + [w for layer in self._layers for w in layer.weights]:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return [w for w in self.weights if w.trainable]

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        return [w for w in self.weights if not w.trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def variables(self):
        return self.weights

    @property
    def losses(self):
        """The ``add_loss`` terms of the latest call (this layer's, then its sub-layers'), then the weight
        regularization penalties of the trainable weights, recomputed now (Keras 3's order)."""
        return self._added_losses() + [reg(w) for w, reg in self._weight_regularizers() if w.trainable]

    def _added_losses(self):
        return list(self._losses) + [l for layer in self._layers for l in layer._added_losses()]

    def _weight_regularizers(self):
        """(weight, regularizer) for every weight, this layer's and its sub-layers', that has one."""
        regs = {}
        for layer in [self] + list(self._flatten_layers()):
            for w in layer._weights:
                reg = layer.__dict__.get("_regularizers", {}).get(id(w))
                if reg is not None:
                    regs[id(w)] = (w, reg)
        return list(regs.values())

    def add_loss(self, loss):
        """Adds a scalar loss term; ``losses`` holds those of the latest outermost call only (as Keras)."""
        self._losses.append(loss)

    def _clear_losses(self):
        self._losses = []
        for layer in self._layers:
            layer._clear_losses()

    def count_params(self):
        """Number of scalars in the weights.

        Raises:
            ValueError: if the layer is not built yet (as Keras).
        """
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the layer isn't built. "
                             "You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    def get_weights(self):
        """The weights as a list of NumPy arrays, in ``weights`` order."""
        return [np.array(w.numpy()) for w in self.weights]

    def set_weights(self, weights):
        """Sets the weights from a list of arrays (shapes must match, as Keras checks).

        Raises:
            ValueError: wrong count or a shape mismatch, naming the layer and both shapes.
        """
        params = self.weights
        if len(params) != len(weights):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of length "
                             f"{len(weights)}, but the layer was expecting {len(params)} weights.")
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(p.shape) != w.shape:
                raise ValueError(f"Layer {self.name} weight shape {tuple(p.shape)} is not compatible with provided "
                                 f"weight shape {w.shape}.")
        for p, w in zip(params, weights):
            p.assign(np.asarray(w, dtype=p.dtype.as_numpy_dtype))

    # -- saving (Keras 3's save_own_variables / load_own_variables) -------------
    def _own_variables(self):
        """This layer's own variables (not its sub-layers') in Keras 3's order: those created trainable, then the
        others, each in creation order."""
        return ([w for w in self._weights if getattr(w, "_keras_trainable", True)]
                + [w for w in self._weights if not getattr(w, "_keras_trainable", True)])

    def save_own_variables(self, store):
        """Puts this layer's own variables (not its sub-layers') in ``store`` under ``"0"``, ``"1"``, ...

        As Keras 3: the variables created trainable first, then the others, each in creation order. Saving to
        ``.keras`` and ``.weights.h5`` calls it for every layer (the file's ``<layer path>/vars/<i>``
        datasets); override it together with :meth:`load_own_variables` to save other state.

        Args:
            store: a dict-like taking ``store[key] = value``; the values put are the Variables themselves.
        """
        for i, v in enumerate(self._own_variables()):
            store[str(i)] = v

    def load_own_variables(self, store):
        """Assigns this layer's own variables from ``store``, the values :meth:`save_own_variables` names.

        Args:
            store: a dict-like with ``keys()`` and the values (arrays, cast to each variable's dtype) under
                ``"0"``, ``"1"``, ...

        Raises:
            ValueError: ``store`` holds another number of values than the layer has variables (Keras 3's message,
                naming the layer and the variables expected), or a value of another shape than its variable.
        """
        variables = self._own_variables()
        if len(store.keys()) != len(variables):
            if not variables and not self.built:
                raise ValueError(f"Layer '{self.name}' was never built and thus it doesn't have any variables. "
                                 f"However the weights file lists {len(store.keys())} variables for this layer.")
            raise ValueError(f"Layer '{self.name}' expected {len(variables)} variables, but received "
                             f"{len(store.keys())} variables during loading. Expected: {[v.name for v in variables]}")
        for i, v in enumerate(variables):
            v.assign(store[str(i)])

    # -- building and calling ----------------------------------------------
    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs, *args, **kwargs):
        return inputs

    @property
    def supports_masking(self):
        """Whether the layer passes a Keras mask on (through :meth:`compute_mask`) to its outputs."""
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        self._supports_masking = bool(value)

    def compute_mask(self, inputs, previous_mask):
        """The mask of the outputs for ``inputs`` carrying ``previous_mask`` (Keras 3: the input's mask); used
        when :attr:`supports_masking` is true (see :mod:`.mask_utils`)."""
        return previous_mask

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``; the default runs the layer on zeros."""
        return self._probe_output_shape(input_shape)

    def _probe_output_shape(self, input_shape, mask=None):
        """The output shape(s) of a call on zeros of ``input_shape`` (None dimensions as 1), with ``mask`` (symbolic
        masks, or None) given as all-True masks of their shapes; the batch dimension is kept."""
        from ...ops.array_ops import zeros

        def probe(shape):
            return zeros(tuple(1 if d is None else d for d in shape), self.compute_dtype)
        several = isinstance(input_shape, list) and all(isinstance(v, (list, tuple)) for v in input_shape)
        probes = [probe(s) for s in input_shape] if several else probe(input_shape)
        out = self(probes) if mask is None else self(probes, mask=_probe(mask))
        batch = (input_shape[0] if several else input_shape)[0]

        def shape(o):
            return (None if batch is None else o.shape[0],) + tuple(o.shape[1:])
        return [shape(o) for o in out] if isinstance(out, (list, tuple)) else shape(out)

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True
            if "_deferred_restores" in self.__dict__:  # a tf.train.Checkpoint restore waits for these weights
                from ...train import restore_deferred
                restore_deferred(self)

    def _assert_input_compatibility(self, shape):
        spec = self.input_spec
        if spec is None:
            return
        ndim = len(shape)
        full = _shape_str(shape)
        if spec.ndim is not None and ndim != spec.ndim:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected ndim={spec.ndim}, '
                             f"found ndim={ndim}. Full shape received: {full}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f"min_ndim={spec.min_ndim}, found ndim={ndim}. Full shape received: {full}")
        if spec.max_ndim is not None and ndim > spec.max_ndim:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f"max_ndim={spec.max_ndim}, found ndim={ndim}. Full shape received: {full}")
        for axis, size in spec.axes.items():
            if size is not None and -ndim <= axis < ndim and shape[axis] not in (size, None):
                raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected axis '
                                 f"{axis} of input shape to have value {size}, but received input with shape {full}")

    def _convert_input(self, x):
        """``x`` as Tensor(s); floating (and, unless ``_cast_inputs`` is False, integer) inputs cast to
        :attr:`input_dtype`."""
        dtype = self.input_dtype
        if isinstance(x, Tensor):
            if self._cast_inputs and x.dtype.name != dtype and (x.dtype.is_floating or x.dtype.is_integer):
                return _m.cast(x, dtype)
            return x
        if isinstance(x, (list, tuple)) and x and isinstance(x[0], (Tensor, np.ndarray, KerasTensor)):
            return type(x)(self._convert_input(v) for v in x)
        if isinstance(x, dict):  # Keras 3: a model's call may take a dict of inputs
            return {k: self._convert_input(v) for k, v in x.items()}
        arr = np.asarray(x)
        if self._string_inputs and arr.dtype.kind in "USO":
            return arr  # a string layer (StringLookup, Hashing, TextVectorization) reads the NumPy array itself
        if arr.dtype.kind not in "fiub":
            raise TypeError(f'Input 0 of layer "{self.name}" has an unsupported dtype: expected a float, int or bool '
                            f"array. Received: dtype={arr.dtype} (shape={arr.shape})")
        if self._cast_inputs and arr.dtype.kind in "fiub" and arr.dtype != _dtypes.as_dtype(dtype).as_numpy_dtype:
            return convert_to_tensor(arr, dtype=dtype)
        return convert_to_tensor(arr)

    def __call__(self, inputs, *args, training=None, mask=None, **kwargs):
        if _is_symbolic(inputs):
            return self._symbolic_call(inputs, *args, training=training, mask=mask, **kwargs)
        # Keras 3: the mask attached to the input goes to the call's `mask` and, through compute_mask, onward
        input_mask = _map_structure(get_keras_mask, inputs)
        if mask is None and any(m is not None for m in _flatten(input_mask)):
            mask = input_mask
        inputs = self._convert_input(inputs)
        shape = _shape_of(inputs)
        if not self.built:
            self._assert_input_compatibility(shape) if not isinstance(inputs, (list, tuple, dict)) else None
            self._maybe_build(shape)
        if "_deferred_restores" in self.__dict__:  # a tf.train.Checkpoint restore waits for weights built elsewhere
            from ...train import restore_deferred  # (MultiHeadAttention builds its projections in its own __call__)
            restore_deferred(self, version=len(self._weights))
        if not isinstance(inputs, (list, tuple, dict)):
            self._assert_input_compatibility(shape)
        if self._call_has_training:
            if training is None:
                training = _training_context()
            kwargs["training"] = training
        if self._call_has_mask and mask is not None:
            kwargs["mask"] = mask
        prev = _training_context()
        _ctx.training = training if training is not None else prev
        depth = getattr(_ctx, "depth", 0)
        if depth == 0:  # the outermost call starts a fresh set of add_loss terms (Keras's call context)
            self._clear_losses()
        _ctx.depth = depth + 1
        try:
            with self._autocast_weights():
                outputs = self.call(inputs, *args, **kwargs)
        finally:
            _ctx.training = prev
            _ctx.depth = depth
        if self.supports_masking:  # a Keras 2 class attribute `supports_masking = True` counts too
            _set_mask_metadata(self, inputs, outputs, mask)
        for hook in getattr(_ctx, "call_hooks", ()):
            hook(self, inputs, outputs)
        if getattr(self, "activity_regularizer", None) is not None:
            self._add_activity_losses(outputs)
        return outputs

    def _add_activity_losses(self, outputs):
        """Keras 3: ``activity_regularizer(output)`` per output tensor, divided by its batch size."""
        for out in (outputs if isinstance(outputs, (list, tuple)) else [outputs]):
            if isinstance(out, Tensor):
                loss = convert_to_tensor(self.activity_regularizer(out))
                if out.ndim > 0 and out.shape[0]:
                    loss = loss / convert_to_tensor(out.shape[0], dtype=loss.dtype)
                self.add_loss(loss)

    def _symbolic_call(self, inputs, *args, training=None, mask=None, **kwargs):
        """A call on KerasTensors: builds the layer and returns KerasTensor outputs that remember the call.

        Further positional arguments (``_args``) and an explicit ``mask`` (KerasTensors of the graph, or values)
        are arguments of the node, which a functional model passes at run time. Masks follow Keras 3: without an
        explicit ``mask``, the inputs' symbolic masks are used. A layer
        whose ``call`` takes ``mask`` and has no ``compute_output_shape`` of its own is probed with all-True
        masks, and the outputs of a layer that supports masking carry ``compute_mask``'s result (see
        :func:`_set_symbolic_masks`)."""
        shape = _shape_of(inputs)
        if not isinstance(inputs, (list, tuple)):
            self._assert_input_compatibility(shape)
        self._maybe_build(shape)
        node = dict({"_args": args} if args else {}, **({"mask": mask} if mask is not None else {}))
        node = (node,) if node else ()
        if mask is None:
            mask = _map_structure(get_keras_mask, inputs)
            mask = None if all(m is None for m in _flatten(mask)) else mask
        if mask is not None and self._call_has_mask and type(self).compute_output_shape is Layer.compute_output_shape:
            out_shape = self._probe_output_shape(shape, mask)
        else:
            out_shape = self.compute_output_shape(shape)
        if isinstance(out_shape, list):
            outputs = [KerasTensor(s, self.compute_dtype, history=(self, inputs, i) + node)
                       for i, s in enumerate(out_shape)]
        else:
            outputs = KerasTensor(out_shape, self.compute_dtype, history=(self, inputs, None) + node if node
                                  else (self, inputs))
        if self.supports_masking:
            _set_symbolic_masks(self, inputs, outputs, mask)
        if "_first_node" not in self.__dict__:
            self._first_node = (inputs, outputs)
        return outputs

    # -- the first symbolic call (Keras 3's ``Operation.input`` / ``output``) ----------------
    def _node_attribute(self, index, attr):
        node = self.__dict__.get("_first_node")
        if node is None:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {attr}.")
        value = node[index]
        return value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value

    @property
    def input(self):
        """The input KerasTensor(s) of the layer's first call on KerasTensors (a list for several inputs).

        Raises:
            AttributeError: if the layer was never called on KerasTensors (Keras's message).
        """
        return self._node_attribute(0, "input")

    @property
    def output(self):
        """The output KerasTensor(s) of the layer's first call on KerasTensors (a list for several outputs).

        Raises:
            AttributeError: if the layer was never called on KerasTensors (Keras's message).
        """
        return self._node_attribute(1, "output")

    # -- config --------------------------------------------------------------
    def get_config(self):
        """Keras 3's base config: name, trainable, dtype policy."""
        config = {"name": self.name, "trainable": self._trainable, "dtype": _mp.serialize(self._dtype_policy)}
        if getattr(self, "activity_regularizer", None) is not None:
            config["activity_regularizer"] = _regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        dt = config.get("dtype")
        if isinstance(dt, dict):
            config["dtype"] = dt.get("config", {}).get("name", "float32")
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _flatten(x):
    if isinstance(x, dict):  # a dict of inputs (a subclassed model's call reads it by key)
        x = list(x.values())
    return [v for item in x for v in _flatten(item)] if isinstance(x, (list, tuple)) else [x]


def _map_structure(fn, x):
    if isinstance(x, dict):
        return {k: _map_structure(fn, v) for k, v in x.items()}
    return [_map_structure(fn, v) for v in x] if isinstance(x, (list, tuple)) else fn(x)


def _set_mask_metadata(layer, inputs, outputs, previous_mask):
    """Keras 3's ``Layer._set_mask_metadata``: attaches ``layer.compute_mask(inputs, previous_mask)`` to the
    outputs that carry no mask yet."""
    flat_outputs = _flatten(outputs)
    if all(get_keras_mask(o) is not None for o in flat_outputs):
        return
    masks = layer.compute_mask(inputs, previous_mask)
    if masks is None:
        return
    for out, m in zip(flat_outputs, _flatten(masks) if isinstance(outputs, (list, tuple)) else [masks]):
        if isinstance(out, Tensor) and m is not None and get_keras_mask(out) is None:
            set_keras_mask(out, m)


def _probe(x):
    """Concrete stand-ins for the KerasTensors in ``x`` (a structure): zeros of their shape (None dimensions as 1)
    and dtype, True for bool ones; anything else is kept."""
    if isinstance(x, (list, tuple)):
        return [_probe(v) for v in x]
    if not isinstance(x, KerasTensor):
        return x
    shape = tuple(1 if d is None else d for d in x.shape)
    dtype = _dtypes.as_dtype(x.dtype).as_numpy_dtype
    return convert_to_tensor(np.ones(shape, dtype) if x.dtype == "bool" else np.zeros(shape, dtype))


def _set_symbolic_masks(layer, inputs, outputs, previous_mask):
    """Keras 3 computes masks while a functional model is built: attaches ``layer.compute_mask(inputs,
    previous_mask)`` to the KerasTensor ``outputs`` as bool KerasTensors. gpuflow has no symbolic ops, so an
    overridden ``compute_mask`` runs on probes (see :func:`_probe`); its result gives the mask's rank, and the mask's
    shape is the output's shape up to that rank. The base ``compute_mask`` passes ``previous_mask`` on as is."""
    if type(layer).compute_mask is Layer.compute_mask:
        masks = previous_mask
    else:
        masks = layer.compute_mask(_probe(inputs), _probe(previous_mask))
    if masks is None:
        return
    for out, m in zip(_flatten(outputs), _flatten(masks) if isinstance(outputs, (list, tuple)) else [masks]):
        if m is not None and not isinstance(m, KerasTensor) and hasattr(m, "shape"):
            rank = len(m.shape)
            m = KerasTensor(out.shape[:rank] if rank <= out.ndim else (None,) + tuple(m.shape[1:]), "bool")
        if isinstance(m, KerasTensor):
            out._keras_mask = m


def _is_symbolic(x):
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(v, KerasTensor) for v in x)


def _shape_of(x):
    if isinstance(x, dict):
        return {k: _shape_of(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    return tuple(x.shape)
