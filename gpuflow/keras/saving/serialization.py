"""Keras objects to and from the config dicts of Keras 3's files, with gpuflow's safety rules.

Follows ``keras/src/saving/serialization_lib.py``: an object is ``{"module", "class_name", "config",
"registered_name"}`` (models add ``build_config`` and, once compiled, ``compile_config``). A Sequential is
``{"module": "keras", "class_name": "Sequential", ...}``; a functional model is ``{"module":
"keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional", ...}`` whose config
lists every layer with its ``name`` and ``inbound_nodes`` (``{"args": [<__keras_tensor__ with keras_history
[layer, node, tensor]>], "kwargs": {}}``) plus ``input_layers``/``output_layers``, in the order of
:func:`gpuflow.keras.models.map_graph`. Keras 2's module-less entries and node lists (``[[layer, node, tensor,
kwargs]]``) are read too.

Safety: deserialization never imports a module named in a config and never runs code from it; classes come
from :mod:`.registry` only. ``Lambda`` layers and serialized Python lambdas are refused (a Lambda layer's config
is Python bytecode). A config nested too deeply or holding values of the wrong kind is a ValueError naming its
source.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import types
import warnings

import numpy as np

from ... import nest
from ...ops.array_ops import zeros
from ...ops.core import convert_to_tensor
from ...tensor import Tensor
from .. import initializers, losses, metrics, optimizers
from ..layers.base import KerasTensor, Layer
from ..layers.core import InputLayer
from ..models import Functional, Model, Sequential, map_graph, node_inputs
from ..ops.operation import OpNode
from . import registry


# Keras 3 config keys gpuflow's get_config does not write yet, with Keras's defaults; save_model adds
# them (only when missing) so files have the exact keys Keras writes.
_KERAS_DEFAULT_KEYS = {
    "InputLayer": {"ragged": False, "optional": False},
    "Dense": {"quantization_config": None},
    "BinaryAccuracy": {"threshold": 0.5},
    "VarianceScaling": {"input_axes": None, "output_axes": None},
    "GlorotUniform": {"input_axes": None, "output_axes": None},
    "GlorotNormal": {"input_axes": None, "output_axes": None},
    "HeNormal": {"input_axes": None, "output_axes": None},
    "HeUniform": {"input_axes": None, "output_axes": None},
    "LecunNormal": {"input_axes": None, "output_axes": None},
    "LecunUniform": {"input_axes": None, "output_axes": None},
}
# Keys that only steer execution in Keras (not the math), dropped when reading.
_IGNORED_KEYS = {"jit_compile", "is_legacy_optimizer", "shared_object_id"}
# Keras 2 names of arguments gpuflow knows under their Keras 3 name.
_RENAMED_KEYS = {"InputLayer": {"batch_input_shape": "batch_shape", "input_shape": "shape"},
                 "*optimizer": {"lr": "learning_rate"}}


# =====================================================================================
# Serialization (gpuflow object -> Keras 3 config dict)
# =====================================================================================
def _lambda_name(fn):
    return isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>"


def _serialize_function(fn):
    if _lambda_name(fn):
        raise ValueError("Cannot serialize a Python lambda: a Keras file would have to hold its bytecode, and gpuflow "
                         "never writes or runs code from files. Use a named function, registered with "
                         "@keras.saving.register_keras_serializable(), instead.")
    _, fns_by = registry.tables()
    for cat in ("losses", "metrics", "activations"):
        if fns_by[cat].get(fn.__name__) is fn:
            return {"module": f"keras.{cat}", "class_name": "function", "config": fn.__name__,
                    "registered_name": fn.__name__}
    registered = registry.get_registered_name(fn)
    return {"module": getattr(fn, "__module__", None), "class_name": "function", "config": registered,
            "registered_name": registered}


def _with_keras_defaults(class_name, config, obj=None):
    extra = _KERAS_DEFAULT_KEYS.get(class_name)
    if extra and isinstance(config, dict):
        for k, default in extra.items():
            if k not in config:
                config[k] = getattr(obj, k, default) if obj is not None else default
    return config


def serialize_keras_object(obj):
    """Serializes a gpuflow Keras object to the dict Keras 3 writes (``keras.saving.serialize_keras_object``).

    Layers, models (Sequential, functional, subclassed), optimizers, losses, metrics,
    initializers and functions become ``{"module", "class_name", "config", "registered_name"}``
    dicts (models also get ``build_config`` and, once compiled, ``compile_config``); lists, dicts
    and plain values are serialized item by item; NumPy arrays become ``__numpy__`` entries.

    Args:
        obj: the object to serialize.

    Returns:
        A JSON-serializable structure.

    Raises:
        ValueError: a Python lambda (its bytecode would have to be stored), or an object without
            ``get_config``.
    """
    return _serialize(obj, {})


def _serialize(obj, shapes):
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_serialize(x, shapes) for x in obj]
    if isinstance(obj, dict):
        out = {str(k): _serialize(v, shapes) for k, v in obj.items()}
        if _is_serialized_object(out):  # e.g. an initializer a layer's get_config serialized itself
            _with_keras_defaults(out["class_name"], out["config"])
        return out
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": str(obj.dtype)}}
    if isinstance(obj, Tensor):
        return {"class_name": "__tensor__", "config": {"value": obj.numpy().tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, KerasTensor):
        return {"class_name": "__keras_tensor__", "config": {"shape": list(obj.shape), "dtype": obj.dtype,
                                                             "keras_history": None}}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):  # an index of a GetItem node
        return {"class_name": "__slice__", "config": {k: _serialize(getattr(obj, k), shapes)
                                                      for k in ("start", "stop", "step")}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if isinstance(obj, Model):
        return _serialize_model(obj)
    if not hasattr(obj, "get_config"):
        raise ValueError(f"Cannot serialize {obj!r} of type {type(obj).__name__}: it has no get_config() method.")
    public = registry.public_class(type(obj))
    if public is not None:
        module, class_name, registered = public
    else:
        module, class_name = type(obj).__module__, type(obj).__name__
        registered = registry.get_registered_name(type(obj))
    config = _serialize(obj.get_config(), shapes)
    config = _with_keras_defaults(class_name, config, obj)
    out = {"module": module, "class_name": class_name, "config": config, "registered_name": registered}
    if isinstance(obj, Layer):
        shape = shapes.get(id(obj))
        if shape is not None and _has_own_build(obj):
            out["build_config"] = {"input_shape": _shape_list(shape)}
    return out


def _shape_list(shape):
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        return [_shape_list(s) for s in shape]
    return [None if d is None else int(d) for d in shape]


# Keras layers that define build() (so Keras writes their build_config) where gpuflow's do not.
_KERAS_LAYERS_WITH_BUILD = {"Flatten"}


def _has_own_build(layer):
    return (isinstance(layer, Model) or type(layer).build is not Layer.build
            or type(layer).__name__ in _KERAS_LAYERS_WITH_BUILD)


def _dtype_policy(layer):
    return Layer.get_config(layer)["dtype"]


def _auto_input_dtype(model):
    """The dtype of the InputLayer Keras 3 puts before a Sequential built without one: its first layer's compute
    dtype (float16 under mixed_float16; never a policy name, which an InputLayer refuses)."""
    return model.layers[0].compute_dtype if model.layers else model.compute_dtype


def _serialize_model(model):
    if isinstance(model, Functional) and type(model).get_config is Functional.get_config:
        config, build = _functional_config(model), {"input_shape": None}
    elif isinstance(model, Sequential) and type(model).get_config is Sequential.get_config:
        config = _sequential_config(model)
        shape = model.input_shape if model.built else None
        build = {"input_shape": _shape_list(shape)} if shape is not None else None
    else:  # a subclassed model: its own get_config, as Keras
        config = _serialize(model.get_config(), {})
        shape = getattr(model, "_build_input_shape", None)
        build = {"input_shape": _shape_list(shape)} if shape is not None else None
    public = registry.public_class(type(model))
    if public is not None:
        module, class_name, registered = public
    else:
        module, class_name = type(model).__module__, type(model).__name__
        registered = registry.get_registered_name(type(model))
    out = {"module": module, "class_name": class_name, "config": config, "registered_name": registered}
    if build is not None:
        out["build_config"] = build
    compile_config = compile_config_of(model)
    if compile_config is not None:
        out["compile_config"] = compile_config
    return out


def _sequential_config(model):
    entries, shapes = [], {}
    shape = model.input_shape if model.built else None
    input_layer = getattr(model, "_input_layer", None)
    if input_layer is not None:
        entries.append(_serialize(input_layer, shapes))
    elif shape is not None:  # Keras 3 always lists the InputLayer of a built Sequential
        entries.append({"module": "keras.layers", "class_name": "InputLayer",
                        "config": _with_keras_defaults("InputLayer", {
                            "batch_shape": _shape_list(shape), "dtype": _auto_input_dtype(model),
                            "sparse": False, "name": "input_layer"}), "registered_name": None})
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        if shape is not None:
            shapes[id(layer)] = shape
            try:
                shape = tuple(layer.compute_output_shape(tuple(shape)))
            except Exception:  # a shape we cannot follow: later layers get no build_config
                shape = None
        entries.append(_serialize(layer, shapes))
    config = {"name": model.name, "trainable": model.trainable, "dtype": _dtype_policy(model), "layers": entries}
    if model.built and model.input_shape is not None:
        config["build_input_shape"] = _shape_list(model.input_shape)
    return config


def _functional_config(model):
    layers, nodes = map_graph(model)
    history = {}  # id(output tensor) -> [layer name, node index, tensor index]
    calls = {}  # id(layer) -> one output tensor per call of the layer (its node), in order
    for layer in layers:
        keys, taken = [], {}
        for t in nodes.get(id(layer), []):
            # the outputs of one call (an LSTM's states, a nested model's outputs: indexed) share its node: the same
            # input and call-argument objects, each index once
            index = t._history[2] if len(t._history) > 2 else None
            key = (id(t._history[1]), id(t._history[3]) if len(t._history) > 3 else None, 0) if index is not None \
                else (id(t),)
            while index in taken.get(key, ()):
                key = key[:-1] + (key[-1] + 1,)
            taken.setdefault(key, set()).add(index)
            if key not in keys:
                keys.append(key)
                calls.setdefault(id(layer), []).append(t)
            history[id(t)] = [layer.name, 0 if isinstance(layer, InputLayer) else keys.index(key), index or 0]
    shapes = {}
    for layer in layers:
        first = nodes.get(id(layer), [None])[0]
        if first is not None and not isinstance(layer, InputLayer):
            ins = first._history[1]
            shapes[id(layer)] = [list(t.shape) for t in ins] if isinstance(ins, (list, tuple)) else ins.shape

    def tensor_arg(t):
        if id(t) not in history:
            raise ValueError(f"Functional model '{model.name}': tensor {t} is not produced inside the model.")
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype, "keras_history": history[id(t)]}}

    entries = []
    for layer in layers:
        entry = _serialize(layer, shapes)
        entry["name"] = layer.name
        inbound = []
        if isinstance(layer, OpNode):  # a keras.ops call: its tensors and constants, as Keras writes them
            inbound.append(_serialize(layer.node_arguments(tensor_arg), {}))
        elif not isinstance(layer, InputLayer):
            for t in calls.get(id(layer), []):
                ins = t._history[1]
                call_kwargs = dict(t._history[3]) if len(t._history) > 3 else {}
                roles = call_kwargs.pop("_roles", None)
                if roles:  # a layer called with several tensor arguments (MultiHeadAttention): Keras's node form
                    named = {r: tensor_arg(i) for r, i in zip(roles, ins)}
                    inbound.append({"args": [named.pop(r) for r in roles[:2]], "kwargs": {**call_kwargs, **named}})
                    continue
                arg = [tensor_arg(i) for i in ins] if isinstance(ins, (list, tuple)) else tensor_arg(ins)
                arg = node_inputs(layer, arg)  # a nested model built on a dict is called with one, as in Keras
                call_kwargs = {k: tensor_arg(v) if isinstance(v, KerasTensor) else v  # an explicit mask
                               for k, v in call_kwargs.items()}
                more = [tensor_arg(v) if isinstance(v, KerasTensor) else v for v in call_kwargs.pop("_args", ())]
                inbound.append({"args": [arg, *more], "kwargs": call_kwargs})
        entry["inbound_nodes"] = inbound
        entries.append(entry)

    def refs(struct):  # Keras 3's map_tensors: lists and dicts (of lists...) of [layer, node, tensor]
        if isinstance(struct, dict):
            return {k: refs(v) for k, v in struct.items()}
        if isinstance(struct, (list, tuple)):
            return [refs(t) for t in struct]
        name, node, index = history[id(struct)]
        # Keras 3.15 counts a nested functional model's nodes from 1 here (its node_reindexing_map), from 0 in
        # the node arguments above
        return [name, node + 1 if isinstance(struct._history[0], Functional) else node, index]
    return {"name": model.name, "trainable": model.trainable, "layers": entries,
            "input_layers": refs(model.input), "output_layers": refs(model.output)}


def compile_config_of(model):
    """The Keras 3 ``compile_config`` dict of a compiled model (None if not compiled): what ``.keras`` files and
    ``keras.models.clone_model`` carry."""
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return None
    getter = getattr(model, "get_compile_config", None)
    if callable(getter):
        config = getter()
        if config is not None:
            return _serialize(config, {})
    def metric_list(attr):  # a dict per output name for several outputs; None when empty
        metrics = getattr(model, attr, None) or []
        metrics = metrics if isinstance(metrics, dict) else list(metrics)
        return _serialize(metrics, {}) if metrics else None
    opt = model.optimizer
    if getattr(opt, "wrapped_by_compile", False):  # Keras 3 records compile's argument, not its wrapper
        opt = opt.inner_optimizer
    return {"optimizer": _serialize(opt, {}), "loss": _serialize(getattr(model, "loss", None), {}),
            "loss_weights": _serialize(getattr(model, "_loss_weights", None), {}),
            "metrics": metric_list("_metric_ids"), "weighted_metrics": metric_list("_weighted_metric_ids"),
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def json_default(obj):
    """``json.dumps``'s ``default``: NumPy scalars and arrays as Python numbers and lists."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable: {obj!r}")


def model_to_json(model, **kwargs):
    """The model's Keras 3 JSON (``keras.Model.to_json``): ``serialize_keras_object(model)`` as text.

    Args:
        model: a gpuflow model.
        **kwargs: passed to ``json.dumps`` (``indent=2`` ...).

    Returns:
        A JSON string that :func:`model_from_json` and Keras 3's ``model_from_json`` read.
    """
    return json.dumps(serialize_keras_object(model), default=json_default, **kwargs)


# =====================================================================================
# Deserialization (Keras config dict -> gpuflow object)
# =====================================================================================
class Ctx:
    """What deserialization needs besides the config: custom objects, safe mode, the source for errors."""

    def __init__(self, custom_objects=None, safe_mode=True, source=None, legacy=False):
        self.custom_objects = {**registry.get_custom_objects(), **registry.scope_objects(), **(custom_objects or {})}
        self.safe_mode = safe_mode
        self.source = source
        self.legacy = legacy

    @property
    def where(self):
        return f" in {self.source}" if self.source else ""


def _short(config, limit=400):
    text = json.dumps(config, default=str)
    return text if len(text) <= limit else text[:limit] + "...}"


class UnsafeDeserializationError(ValueError):
    """Raised for a Lambda layer or a serialized Python lambda: gpuflow never runs code from a file."""


def _lambda_error(what, ctx):
    if ctx.safe_mode:
        return UnsafeDeserializationError(
            f"Requested the deserialization of {what}{ctx.where}. This carries a potential risk of arbitrary code "
            "execution and thus it is disallowed by default. If you trust the source of the saved model, Keras lets "
            "you pass `safe_mode=False`; gpuflow never runs code stored in a file, even then: rebuild the model in "
            "code and use load_weights().")
    return UnsafeDeserializationError(
        f"Cannot load {what}{ctx.where}: its config is Python bytecode, and gpuflow never runs code stored in a file "
        "(not even with safe_mode=False). Rebuild the model in code and use load_weights().")


def _resolve(config, ctx, expected):
    """The class (or function) a serialized entry names; only gpuflow's tables and custom objects are searched."""
    class_name = config.get("class_name")
    module = config.get("module")
    registered = config.get("registered_name")
    if not isinstance(class_name, str):
        raise ValueError(f"Invalid config{ctx.where}: `class_name` must be a string. Received: {_short(config)}")
    for key in (registered, class_name):
        if isinstance(key, str) and key in ctx.custom_objects:
            return ctx.custom_objects[key]
    category = registry.module_category(module)
    if class_name in ("Lambda", "TFOpLambda", "SlicingOpLambda") and category in (None, "layers", "keras"):
        name = (config.get("config") or {}).get("name", "?") if isinstance(config.get("config"), dict) else "?"
        raise _lambda_error(f"a Lambda layer ('{name}', class {class_name})", ctx)
    classes_by, _ = registry.tables()
    lookup = class_name.split(">")[-1] if ">" in class_name else class_name  # tf.keras 2.11+: "Custom>Adam"
    if category == "custom":
        searched = []
    elif category in classes_by:
        searched = [category] + (["models"] if category == "layers" else [])
    elif category == "keras":
        searched = ["models"] + [c for c in expected if c != "models"]
    else:
        searched = list(expected)
    for cat in searched:
        obj = classes_by.get(cat, {}).get(lookup)
        if obj is not None:
            return obj
    if category == "ops":
        raise LoadError(f"The Keras operation '{class_name}' (module '{module}'){ctx.where} is not supported by "
                        "gpuflow: it cannot rebuild that node of the functional model. Full object config: "
                        f"{_short(config)}")
    known = sorted({n for cat in (searched or expected) for n in classes_by.get(cat, {})})
    where_from = f" from module '{module}'" if module else ""
    raise LoadError(
        f"Could not locate class '{class_name}'{where_from}{ctx.where}. gpuflow knows: {known}. If it is a custom "
        "class, pass it in `custom_objects` or decorate it with `@keras.saving.register_keras_serializable()`. "
        f"Full object config: {_short(config)}")


def _resolve_function(config, ctx, expected=("activations", "losses", "metrics")):
    name = config.get("config")
    registered = config.get("registered_name")
    if not isinstance(name, str):
        raise ValueError(f"Invalid function config{ctx.where}: `config` must be the function's name. "
                         f"Received: {_short(config)}")
    for key in (registered, name):
        if isinstance(key, str) and key in ctx.custom_objects:
            return ctx.custom_objects[key]
    _, fns_by = registry.tables()
    module = config.get("module")
    category = registry.module_category(module)
    if category in fns_by:
        searched = [category]
    elif module == "builtins" or category in (None, "keras"):  # Keras writes "builtins" for its own functions
        searched = list(expected)
    else:  # a function from a user module: custom objects only
        searched = []
    for cat in searched:
        fn = fns_by.get(cat, {}).get(name)
        if fn is not None:
            return fn
    raise LoadError(f"Could not locate function '{name}'{ctx.where}. If it is a custom function, pass it in "
                     "`custom_objects` or decorate it with `@keras.saving.register_keras_serializable()`. "
                     f"Full object config: {_short(config)}")


def _accepted_args(cls):
    """Names ``cls(...)`` accepts, following ``**kwargs`` up the MRO to gpuflow's base classes."""
    closed_bases = (Layer, optimizers.Optimizer, losses.Loss, metrics.Metric, initializers.Initializer)
    names = set()
    for klass in cls.__mro__:
        if klass is object:
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]
        names.update(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if klass in closed_bases or not any(p.kind == p.VAR_KEYWORD for p in params):
            return names, False
    return names, True


def _is_neutral(value):
    return value is None or value is False or (isinstance(value, (list, dict, tuple)) and not value)


def _clean_kwargs(cls, class_name, config, ctx):
    """Drops Keras arguments gpuflow lacks when they hold their "off" value; refuses them otherwise."""
    renames = dict(_RENAMED_KEYS.get(class_name, {}))
    if issubclass(cls, optimizers.Optimizer):
        renames.update(_RENAMED_KEYS["*optimizer"])
    renamed = {}
    for k, v in config.items():
        new = renames.get(k, k)
        renamed[new if new not in config else k] = v
    config = renamed
    names, open_ended = _accepted_args(cls)
    if open_ended:
        return config
    out = {}
    for k, v in config.items():
        if k in names:
            out[k] = v
        elif k in _IGNORED_KEYS or _is_neutral(v):
            continue
        elif issubclass(cls, optimizers.Optimizer) and k == "decay" and v == 0:
            continue
        elif issubclass(cls, losses.Loss) and k == "fn":  # Keras 2 writes the wrapped function's name
            continue
        elif class_name == "InputLayer" and k == "batch_input_shape":
            continue
        else:
            raise ValueError(f"{class_name} '{config.get('name', '?')}'{ctx.where}: gpuflow's {cls.__name__} does not "
                             f"support the argument `{k}={v!r}`.")
    if issubclass(cls, losses.Loss) and out.get("reduction") == "auto":  # Keras 2's default
        out["reduction"] = "sum_over_batch_size"
    return out


def _is_serialized_object(v):
    return isinstance(v, dict) and "class_name" in v and "config" in v


def _deserialize_inner(value, ctx, key=None):
    """Config values that are themselves serialized objects (initializers, dtype policies, activations)."""
    if _is_serialized_object(value):
        expected = ("initializers",) if key and key.endswith("initializer") else \
            ("regularizers",) if key and key.endswith("regularizer") else \
            ("constraints",) if key and key.endswith("constraint") else registry.CATEGORIES
        return _deserialize(value, ctx, expected)
    return value


def _deserialize(config, ctx, expected=registry.CATEGORIES):
    """Internal ``deserialize_keras_object`` with a context; ``expected`` guides module-less (Keras 2) entries."""
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        return ctx.custom_objects.get(config, config)
    if isinstance(config, (list, tuple)):
        return [_deserialize(x, ctx, expected) for x in config]
    if not isinstance(config, dict):
        raise ValueError(f"Could not parse config{ctx.where}: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {k: _deserialize(v, ctx, expected) for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if class_name == "__lambda__":
        raise _lambda_error("a Python lambda", ctx)
    if class_name == "__numpy__":
        try:
            dtype = np.dtype(inner.get("dtype", "float32"))
        except TypeError:
            raise ValueError(f"Unknown dtype in a __numpy__ entry{ctx.where}: {inner.get('dtype')!r}") from None
        if dtype.kind not in "biufc":
            raise ValueError(f"Refusing a __numpy__ entry of dtype {dtype}{ctx.where}: only numeric arrays are read.")
        return np.array(inner["value"], dtype=dtype)
    if class_name == "__tensor__":
        return convert_to_tensor(np.array(inner["value"]), dtype=inner.get("dtype"))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(_deserialize(inner.get(k), ctx) for k in ("start", "stop", "step")))
    if class_name in ("__keras_tensor__", "__typespec__"):
        raise ValueError(f"Unexpected {class_name} entry outside a functional model's nodes{ctx.where}.")
    if (class_name in ("DTypePolicy", "FloatDTypePolicy", "Policy")
            and registry.module_category(config.get("module")) in (None, "keras", "layers")):
        return inner.get("name", "float32") if isinstance(inner, dict) else inner
    if class_name == "function":
        return _resolve_function(config, ctx)
    cls = _resolve(config, ctx, expected)
    if isinstance(cls, types.FunctionType):
        return cls
    return _instantiate(cls, config, ctx)


def _custom_from_config(cls):
    """True when a class outside gpuflow (a custom object) defines its own ``from_config``."""
    for klass in getattr(cls, "__mro__", ()):
        if (getattr(klass, "__module__", "") or "").startswith("gpuflow."):
            return False
        if "from_config" in vars(klass):
            return True
    return False


def _instantiate(cls, config, ctx):
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    name = inner.get("name", "?") if isinstance(inner, dict) else "?"
    try:
        if _custom_from_config(cls):  # user code the caller handed us in custom_objects
            obj = cls.from_config(inner)
        elif isinstance(cls, type) and issubclass(cls, Model):
            obj = _model_from_config(cls, inner, ctx)
        else:
            if not isinstance(inner, dict):
                raise ValueError(f"expected a dict config, received {type(inner).__name__}")
            kwargs = {k: _deserialize_inner(v, ctx, k) for k, v in inner.items()}
            if (getattr(cls, "__module__", "") or "").startswith("gpuflow.") and not issubclass(cls, OpNode):
                kwargs = _clean_kwargs(cls, class_name, kwargs, ctx)  # (an OpNode checks its own arguments)
            obj = cls.from_config(kwargs)
    except (LoadError, UnsafeDeserializationError):
        raise
    except (ValueError, MemoryError) + CONFIG_ERRORS as e:
        raise LoadError(f"Could not rebuild {class_name} '{name}'{ctx.where}: {type(e).__name__}: {e}") from e
    return obj


class LoadError(ValueError):
    """A ValueError already carrying the source file and the object that failed."""


# What a config holding a value of the wrong kind raises deep inside deserialization (a string where a dict
# belongs, a list too short, ...); turned into the documented ValueError naming the file.
CONFIG_ERRORS = (TypeError, AttributeError, LookupError, NotImplementedError, OverflowError)


@contextlib.contextmanager
def _building(config, ctx):
    """Names the file and the object when building a deserialized layer or model fails.

    Building is where weights are allocated: a config asking for weights larger than memory
    (``Dense(units=10**12)``) fails there with NumPy's MemoryError, raised before any memory is
    touched, and becomes this ValueError naming the layer and its config.
    """
    try:
        yield
    except (LoadError, UnsafeDeserializationError):
        raise
    except (MemoryError, ValueError) as e:
        inner = config.get("config") if isinstance(config, dict) else None
        name = inner.get("name", "?") if isinstance(inner, dict) else "?"
        what = f"{config.get('class_name', '?')} '{name}'" if isinstance(config, dict) else "the model"
        raise LoadError(f"Could not build {what}{ctx.where}: {type(e).__name__}: {e}. "
                         f"Full object config: {_short(config)}") from e


def _model_from_config(cls, inner, ctx):
    if isinstance(inner, list):  # Keras 1/2 early Sequential configs: the list of layers itself
        inner = {"layers": inner}
    if not isinstance(inner, dict):
        raise ValueError(f"expected a dict config, received {type(inner).__name__}")
    if issubclass(cls, Sequential):
        return _sequential_from_config(cls, inner, ctx)
    if "layers" in inner and "input_layers" in inner:
        return _functional_from_config(cls, inner, ctx)
    return cls.from_config(inner)  # a subclassed model: Layer.from_config, cls(**config)


def _layer_entry(entry, ctx):
    """A layer from a model config's ``layers`` list (Keras 3 entries, or Keras 2's module-less ones)."""
    layer = _deserialize(entry, ctx, ("layers", "models"))
    if not isinstance(layer, Layer):
        raise LoadError(f"Expected a layer{ctx.where}, got {type(layer).__name__} from {_short(entry)}")
    return layer


def _sequential_from_config(cls, config, ctx):
    kwargs = {"name": config.get("name")}
    if "trainable" in config:
        kwargs["trainable"] = config["trainable"]
    model = cls(**kwargs)
    for entry in config.get("layers", []):
        layer = _layer_entry(entry, ctx)
        with _building(entry, ctx):
            model.add(layer)
    shape = config.get("build_input_shape")
    if not model.built and isinstance(shape, (list, tuple)) and shape:
        with _building({"class_name": cls.__name__, "config": config}, ctx):
            model.build(tuple(shape))
    return model


class _NotReady(Exception):
    pass


def _functional_from_config(cls, config, ctx):
    created, entries, outputs_by_node, counts, queues = {}, {}, {}, {}, {}
    order = []
    for entry in config["layers"]:
        layer = _layer_entry(entry, ctx)
        name = entry.get("name") or layer.name
        created[name], entries[name] = layer, entry
        order.append(name)
        # Keras 2's functional models start with a node of their own; Keras 3's do not
        counts[name] = 1 if isinstance(layer, Functional) and ctx.legacy else 0
        queues[name] = list(entry.get("inbound_nodes") or [])
        if isinstance(layer, InputLayer):
            outputs_by_node[(name, 0)] = [layer.output]
            counts[name] = 1

    def tensor(ref):
        name, node, index = ref[0], int(ref[1]), int(ref[2])
        if name not in created:
            raise LoadError(f"Invalid functional model configuration{ctx.where}: unknown layer '{name}' in {ref}.")
        outs = outputs_by_node.get((name, node))
        if outs is None:
            raise _NotReady()
        return outs[index]

    def node_args(node):
        if isinstance(node, list):  # Keras 2: [[layer, node, tensor, kwargs], ...]
            ins = [tensor(ref) for ref in node]
            kwargs = {}
            for ref in node:
                if len(ref) > 3 and isinstance(ref[3], dict):
                    kwargs.update(ref[3])
            return [ins[0] if len(ins) == 1 else ins], kwargs

        def value(v):
            if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
                history = v["config"].get("keras_history")
                if not history:
                    raise LoadError(f"A node argument has no keras_history{ctx.where}: {_short(v)}")
                return tensor(history)
            if isinstance(v, list):
                return [value(x) for x in v]
            if isinstance(v, dict) and not _is_serialized_object(v):
                return {k: value(x) for k, x in v.items()}
            return _deserialize(v, ctx)
        return [value(a) for a in node.get("args", [])], {k: value(v) for k, v in (node.get("kwargs") or {}).items()}

    pending = sum(len(q) for q in queues.values())
    while pending:
        progress = False
        for name in order:
            queue, layer = queues[name], created[name]
            while queue:
                try:
                    args, kwargs = node_args(queue[0])
                except _NotReady:
                    break
                kwargs = {k: v for k, v in kwargs.items() if v is not None}
                with _building(entries[name], ctx):
                    out = (layer.symbolic_call if isinstance(layer, OpNode) else layer)(*args, **kwargs)
                outputs_by_node[(name, counts[name])] = (out if isinstance(out, (list, tuple)) else nest.flatten(out)
                                                         if isinstance(out, dict) else [out])
                counts[name] += 1
                queue.pop(0)
                pending -= 1
                progress = True
        if pending and not progress:
            stuck = {n: len(q) for n, q in queues.items() if q}
            raise LoadError(f"Invalid functional model configuration{ctx.where}: the graph has loops or "
                             f"disconnected nodes. Unresolved nodes per layer: {stuck}")

    def structure(refs):
        if isinstance(refs, list) and len(refs) in (3, 4) and isinstance(refs[0], str):
            if not ctx.legacy and isinstance(created.get(refs[0]), Functional):  # Keras 3's get_tensor: 1-based,
                node = int(refs[1]) - 1  # 0 meaning the last node
                refs = [refs[0], node if node >= 0 else counts[refs[0]] - 1, refs[2]]
            try:
                return tensor(refs)
            except _NotReady:
                raise LoadError(f"Invalid functional model configuration{ctx.where}: {refs} names a node that "
                                 "does not exist.") from None
        if isinstance(refs, dict):
            return {k: structure(r) for k, r in refs.items()}
        return [structure(r) for r in refs]
    inputs, outputs = structure(config["input_layers"]), structure(config["output_layers"])
    if ctx.legacy:  # Keras 2 always writes lists; a single tensor was meant
        inputs = inputs[0] if isinstance(inputs, list) and len(inputs) == 1 else inputs
        outputs = outputs[0] if isinstance(outputs, list) and len(outputs) == 1 else outputs
    target = cls if cls is not None and issubclass(cls, Functional) else Functional
    kwargs = {"name": config.get("name")}
    if config.get("trainable") is not None:
        kwargs["trainable"] = config["trainable"]
    return target(inputs, outputs, **kwargs)


def _apply_build_config(obj, build_config):
    if not isinstance(obj, Layer) or obj.built or not isinstance(build_config, dict):
        return
    shape = build_config.get("input_shape")
    if not isinstance(shape, (list, tuple)) or not shape:
        return
    if isinstance(obj, Sequential):
        obj.build(tuple(shape))
    elif isinstance(obj, Model) and not isinstance(obj, Functional):
        obj(zeros((1,) + tuple(1 if d is None else d for d in shape[1:]), "float32"), training=False)
    else:
        obj._maybe_build(tuple(shape))


def _metric_from_legacy(m):
    """Keras 2 writes metrics as MeanMetricWrapper configs; gpuflow compiles them from their names."""
    if isinstance(m, list):
        return [_metric_from_legacy(x) for x in m]
    if isinstance(m, dict) and m.get("class_name") == "MeanMetricWrapper":
        c = m.get("config") or {}
        return c.get("name") if c.get("name") in ("accuracy", "acc") else (c.get("fn") or c.get("name"))
    return m


def compile_from_config(model, compile_config, ctx):
    """``model.compile`` from a Keras ``compile_config`` (a legacy ``training_config`` when ``ctx.legacy``); warns
    (as Keras) and leaves the model uncompiled if it cannot."""
    try:
        config = dict(compile_config)
        if ctx.legacy:  # Keras 2 names the optimizer's entry optimizer_config
            config["optimizer"] = config.get("optimizer_config")
        optimizer = _deserialize(config.get("optimizer"), ctx, ("optimizers",))
        loss = config.get("loss")
        loss = _deserialize(loss, ctx, ("losses",)) if not isinstance(loss, str) else loss
        metrics = config.get("metrics")
        if ctx.legacy:
            metrics = _metric_from_legacy(metrics)
            n_out = len(getattr(model, "_outputs", [None]))
            if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list) and n_out == 1:
                metrics = metrics[0]
        metrics = _deserialize(metrics, ctx, ("metrics",)) if metrics is not None else None
        kwargs = {"optimizer": optimizer, "loss": loss, "metrics": metrics}
        for key in ("loss_weights", "weighted_metrics"):
            if config.get(key) is not None:
                kwargs[key] = _deserialize(config[key], ctx, ("metrics",))
        model.compile(**kwargs)
    except UnsafeDeserializationError:
        raise
    except (ValueError,) + CONFIG_ERRORS as e:
        warnings.warn(f"The model{ctx.where} was loaded but not compiled: gpuflow could not rebuild its compile() "
                      f"settings ({type(e).__name__}: {e}). Call compile() yourself.", stacklevel=3)
        return False
    opt = model.optimizer
    if opt is not None and model.built and not opt.built:  # as Keras: build now, so saved state can be loaded
        opt.build(model.trainable_variables)
    return True


def deserialize_keras_object(config, custom_objects=None, safe_mode=True):
    """Rebuilds a gpuflow object from a Keras config dict (``keras.saving.deserialize_keras_object``).

    Reads what Keras 3 writes (``{"module", "class_name", "config", "registered_name",
    "build_config", "compile_config"}``) and Keras 2's module-less entries. Classes are looked up
    only in gpuflow's own tables, in ``custom_objects`` and among registered classes; nothing
    named in the config is imported. A model with a ``compile_config`` comes back compiled.

    Args:
        config: the serialized object (dict, list, string or plain value).
        custom_objects: ``{name: class or function}`` for custom objects (matched by
            ``registered_name``, then ``class_name``).
        safe_mode: Keras's flag; gpuflow refuses lambdas and Lambda layers either way, and only
            the error message depends on it.

    Returns:
        The object.

    Raises:
        ValueError: an unknown class or function (naming it), a Lambda layer or serialized
            lambda, a config the class rejects, or one nested deeper than Python's recursion limit.
    """
    return deserialize_top(config, Ctx(custom_objects, safe_mode))


@contextlib.contextmanager
def config_errors(ctx):
    """Turns what a malformed config raises into a ValueError naming the source: the RecursionError of a config
    nested deeper than Python's recursion limit, and the ``CONFIG_ERRORS`` of a value of the wrong kind."""
    try:
        yield
    except RecursionError:
        raise ValueError(f"The config{ctx.where} is nested too deeply to be rebuilt (deeper than Python's recursion "
                         "limit); it is corrupt or crafted.") from None
    except CONFIG_ERRORS as e:
        raise ValueError(f"Invalid config{ctx.where}: {type(e).__name__}: {e}") from e


def deserialize_top(config, ctx, compile=True, expected=registry.CATEGORIES):
    """A top-level object (a model) from its config: built from its ``build_config`` and, with ``compile``,
    compiled from its ``compile_config``; config errors become ValueErrors naming ``ctx.source``."""
    with config_errors(ctx):
        obj = _deserialize(config, ctx, expected)
        if isinstance(config, dict):
            with _building(config, ctx):
                _apply_build_config(obj, config.get("build_config"))
            if compile and config.get("compile_config"):
                compile_from_config(obj, config["compile_config"], ctx)
    return obj


def json_loads(text, what):
    """``json.loads(text)``; ValueError naming ``what`` for invalid JSON or JSON nested too deeply to parse."""
    try:
        return json.loads(text)
    except (TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{what} is not valid JSON ({e}).") from None
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to be a Keras config (deeper than Python's recursion limit); "
                         "it is corrupt or crafted.") from None


def model_from_json(json_string, custom_objects=None):
    """Rebuilds a model from :func:`model_to_json`'s (or Keras 3's ``to_json``) output.

    Args:
        json_string: the JSON text.
        custom_objects: ``{name: class or function}`` for custom objects.

    Returns:
        The model (new weights; compiled when the JSON has a ``compile_config``, as Keras).

    Raises:
        ValueError: invalid JSON or JSON nested too deeply, or a config naming an unknown class or a
            Lambda layer.
    """
    config = json_loads(json_string, "model_from_json: the string")
    return deserialize_top(config, Ctx(custom_objects, True, source="the model JSON"))

