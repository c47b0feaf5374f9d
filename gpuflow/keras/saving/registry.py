"""Which classes and functions a Keras file may name: gpuflow's own tables and registered custom objects.

Follows Keras 3's ``keras/src/saving/object_registration.py`` (``register_keras_serializable``: objects are
recorded as ``"<package>>name"``, the ``registered_name`` of configs). Loading never imports a module named in a
file: a class is looked up only in gpuflow's ``keras.layers``/``models``/``optimizers``/``losses``/``metrics``/
``initializers``/``activations``/``regularizers``/``constraints`` tables (:func:`tables`), in ``custom_objects``
or among the objects registered here.
"""
from __future__ import annotations

import functools
import inspect
import threading
import types

from .. import activations, constraints, initializers, layers, losses, metrics, optimizers, regularizers
from ..layers.base import Layer
from ..models import Functional, Model, Sequential
from ..ops.operation import operation_classes

_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}

CATEGORIES = ("layers", "models", "optimizers", "losses", "metrics", "initializers", "activations")


def register_keras_serializable(package="Custom", name=None):
    """Registers a class or function so that :func:`load_model` finds it by name.

    As ``keras.saving.register_keras_serializable``: the object is recorded under
    ``"<package>>" + (name or obj.__name__)``, the ``registered_name`` written in configs.

    Raises:
        ValueError: ``package`` contains ">", or a class without ``get_config``.
    """
    if ">" in package:
        raise ValueError(f"The package name cannot contain '>'. Received: package={package!r}")

    def decorator(obj):
        registered = f"{package}>{name if name is not None else obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register a class that does not have a get_config() method. "
                             f"Received: {obj.__name__}")
        _GLOBAL_CUSTOM_OBJECTS[registered] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered
        return obj
    return decorator


_SCOPE = threading.local()  # Keras's global_state attribute "custom_objects_scope_dict", per thread


class CustomObjectScope:
    """``with CustomObjectScope({"name": obj, ...}):`` makes the objects known to deserialization by name inside the
    block (``keras.saving.custom_object_scope`` / ``keras.utils.CustomObjectScope``). As Keras 3, entering a scope
    replaces the objects of an enclosing one until it exits.

    Args:
        custom_objects: ``{name: class or function}`` (None: nothing).
    """

    def __init__(self, custom_objects):
        self.custom_objects = custom_objects or {}
        self.backup = None

    def __enter__(self):
        self.backup = dict(scope_objects())
        _SCOPE.objects = dict(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _SCOPE.objects = self.backup


custom_object_scope = CustomObjectScope


def scope_objects():
    """The objects of the innermost :class:`CustomObjectScope` of this thread (``{}`` outside any)."""
    return getattr(_SCOPE, "objects", None) or {}


def get_custom_objects():
    """The live dict of registered custom objects, ``{registered name: class or function}``
    (``keras.saving.get_custom_objects``); entries added to it are found by :func:`load_model` too."""
    return _GLOBAL_CUSTOM_OBJECTS


def get_registered_name(obj):
    """The name ``obj`` is registered under, else its ``__name__`` (``keras.saving.get_registered_name``)."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name, custom_objects=None):
    """The class or function registered (or given in ``custom_objects``) as ``name``, else None."""
    for table in (scope_objects(), _GLOBAL_CUSTOM_OBJECTS, custom_objects or {}):  # Keras 3's order
        if name in table:
            return table[name]
    return None


@functools.lru_cache(maxsize=None)
def tables():
    """gpuflow's built-in objects, the only ones a file can name besides custom objects.

    Returns:
        ``(classes_by, fns_by)``: ``{category: {class name: class}}`` and ``{category: {name: function}}``.
    """
    def classes(mod, base):
        return {n: o for n, o in vars(mod).items()
                if isinstance(o, type) and issubclass(o, base) and not n.startswith("_")}

    def functions(mod, exclude=("get", "serialize", "deserialize")):
        return {n: o for n, o in vars(mod).items()
                if isinstance(o, types.FunctionType) and not n.startswith("_") and n not in exclude
                and o.__module__ == mod.__name__}

    R, C, schedules = regularizers, constraints, optimizers.schedules
    classes_by = {
        "layers": {n: c for n, c in classes(layers, Layer).items() if not issubclass(c, Model)},
        "models": {"Sequential": Sequential, "Functional": Functional, "Model": Model},
        "optimizers": {**classes(optimizers, optimizers.Optimizer),
                       **classes(schedules, schedules.LearningRateSchedule)},
        "losses": classes(losses, losses.Loss),
        "metrics": classes(metrics, metrics.Metric),
        "initializers": classes(initializers, initializers.Initializer),
        "regularizers": {**classes(R, R.Regularizer), "l1": R.L1, "l2": R.L2, "l1_l2": R.L1L2},
        "constraints": {**classes(C, C.Constraint), "max_norm": C.MaxNorm, "min_max_norm": C.MinMaxNorm,
                        "non_neg": C.NonNeg, "unit_norm": C.UnitNorm},
        "activations": {"ReLU": operation_classes()["ReLU"]},  # keras.activations.relu's node
        "ops": {n: c for n, c in operation_classes().items()  # keras.ops calls Keras writes as functional nodes
                if c.keras_module.startswith("keras.src.ops.")},
    }
    fns_by = {
        "losses": functions(losses),
        "metrics": functions(metrics),
        "activations": dict(activations.ALL_OBJECTS_DICT),
    }
    return classes_by, fns_by


def public_class(cls):
    """``(module, class_name, registered_name)`` Keras writes for a gpuflow class, or None if not public."""
    if cls is Sequential:
        return "keras", "Sequential", None
    if cls is Functional:
        return "keras.src.models.functional", "Functional", "Functional"
    classes_by, _ = tables()
    for cat in ("layers", "optimizers", "losses", "metrics", "initializers", "regularizers", "constraints"):
        if classes_by[cat].get(cls.__name__) is cls:
            return f"keras.{cat}", cls.__name__, None
    if operation_classes().get(cls.__name__) is cls:  # an operation node, as Keras 3 writes it
        return cls.keras_module, cls.__name__, cls.__name__
    return None


def module_category(module):
    """The gpuflow table a Keras module name points to; "custom" for non-Keras modules, None if absent."""
    if not module:
        return None
    parts = str(module).split(".")
    if parts[0] != "keras":
        return "custom"
    if "schedules" in parts:
        return "schedules"
    if "ops" in parts:  # keras.src.ops.numpy: an operation node of a functional model
        return "ops"
    for p in parts[1:]:
        if p in CATEGORIES or p in ("regularizers", "constraints"):
            return p
    return "keras"
