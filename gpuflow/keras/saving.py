"""Saving and loading models and weights in Keras's file formats: no pickle, no code from files.

Formats (each checked against files written by Keras 3.15.1 and tf_keras 2.21; reference
files are in ``tests/fixtures``):

* ``.keras`` (Keras 3's native format, ``keras/src/saving/saving_lib.py``): a zip archive with
  three members, stored uncompressed:

  - ``metadata.json``: ``{"keras_version": ..., "date_saved": "YYYY-MM-DD@HH:MM:SS"}``. gpuflow
    writes its own version there, honestly, and adds ``"framework": "gpuflow"``; Keras never
    reads this member.
  - ``config.json``: the model as ``serialize_keras_object`` gives it:
    ``{"module": "keras", "class_name": "Sequential", "config": {...}, "registered_name": null,
    "build_config": {"input_shape": [...]}, "compile_config": {...}}``; a functional model is
    ``{"module": "keras.src.models.functional", "class_name": "Functional",
    "registered_name": "Functional", ...}`` whose config lists every layer with its ``name``
    and ``inbound_nodes`` (``{"args": [<__keras_tensor__ with keras_history [layer, node,
    tensor]>], "kwargs": {}}``) plus ``input_layers``/``output_layers``.
  - ``model.weights.h5``: the ``.weights.h5`` layout below, optimizer included.

* ``.weights.h5`` (``saving_lib.save_weights_only``): one HDF5 group per saveable object, found
  by walking the model as Keras's ``_walk_saveable`` does. An object's own variables are the
  datasets ``<path>/vars/0``, ``1``, ... (trainable ones first, each in creation order) and
  ``<path>/vars`` carries the attribute ``name`` (the object's name). Children sit under the
  attribute that holds them: a Sequential's or functional model's layers under
  ``layers/<class name in snake_case>`` (``dense``, ``dense_1``, ... numbered per class in the
  order Keras lists the layers; **not** the layer's own name), a subclassed model's layer
  attributes under the attribute's name, the optimizer under ``optimizer`` with variables
  ``iteration``, ``learning_rate`` (absent with a schedule) and then each trainable variable's
  slots (Adam: momentum, velocity) in the model's variable order.

* Legacy ``.h5`` (Keras 2 ``model.save("x.h5")``, ``keras/src/legacy/saving/legacy_h5_format.py``):
  file attributes ``model_config`` and ``training_config`` (JSON), a ``model_weights`` group with
  attributes ``layer_names`` (and per layer ``weight_names``) and datasets named by those
  weight names, and ``optimizer_weights``. Both Keras 2 configs (``batch_input_shape``, nodes as
  ``[[layer, node, tensor, kwargs]]``) and Keras 3's legacy writer are read.

Safety: loading never imports a module named in a file and never runs code from it. Classes are
looked up only in gpuflow's own ``keras.layers``/``optimizers``/``losses``/``metrics``/
``initializers``/``activations`` tables, in ``custom_objects`` or among classes registered with
:func:`register_keras_serializable`. ``Lambda`` layers and serialized Python lambdas are refused
(a Lambda layer's config is Python bytecode). HDF5 soft/external links, external and virtual
datasets are refused.

Faults: every write goes to a temporary file beside the target
(``.<name>.<pid>.<hex>.gpuflow-tmp``), flushed to disk, then ``os.replace``-d over the target,
and the folder flushed: a failed, interrupted (Ctrl-C included) or killed save leaves the
previous file intact, and the next save in that folder removes the temporaries of killed ones; a
Ctrl-C that comes after the rename is raised once the save has finished. A save keeps the
permission bits of the file it replaces and writes through a symbolic link to the link's target.
Hostile files: each ``.keras`` member is read only up to what it can legitimately need
(``config.json`` 64 MiB; the weights member a few times the model's variables), every weight
dataset's dtype, shape and chunk size is checked against the model before its data is read,
weights load all or nothing, and a config that is nested too deeply or holds values of the wrong
kind is a ValueError naming the file.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import inspect
import io
import json
import os
import re
import shutil
import signal
import stat
import threading
import types
import uuid
import warnings
import zipfile
import zlib

import numpy as np

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_to_json", "model_from_json",
           "serialize_keras_object", "deserialize_keras_object", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "UnsafeDeserializationError"]

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
_ZIP_MEMBERS = (_METADATA, _CONFIG, _WEIGHTS)
# What a .keras member can legitimately need, so that a small hostile file (a zip member that inflates
# to gigabytes) is refused before it is read: config.json is kilobytes even for large models; the
# weights member holds the model's variables, the optimizer's (a few slots per variable) and HDF5's
# bookkeeping, so it may hold _MEMBER_LIMIT plus _WEIGHT_COPIES times the model's variables.
_MEMBER_LIMIT = 64 << 20
_WEIGHT_COPIES = 8


def _h5py():
    try:
        import h5py
    except ImportError as e:  # a dependency of gpuflow, so a broken or partial install
        raise ImportError("Saving and loading Keras files (.keras, .weights.h5, .h5) needs h5py, a dependency of "
                          f"gpuflow that could not be imported ({e}). Reinstall it: pip install 'h5py>=3.8'") from e
    return h5py


def _gpuflow_version():
    from .. import __version__
    return __version__


# =====================================================================================
# Atomic writes
# =====================================================================================
# A save writes to ``.<name>.<pid>.<12 hex digits>.gpuflow-tmp`` (a file) or ``...gpuflow-tmpdir`` (a
# zipped=False folder) beside its target, then renames it over the target. A save killed by a signal
# leaves that temporary behind; the next save in that folder removes those whose process is gone (of any
# target: a checkpoint's name often changes from one save to the next).
_TEMP_NAME = re.compile(r"\.(.+)\.(\d+)\.[0-9a-f]{12}\.gpuflow-tmp(?:dir)?")  # groups: target's name, pid
_WINDOWS = os.name == "nt"
_IN_FLIGHT = set()  # temporary paths this process is writing now


# A file name holds at most 255 bytes on most file systems; a temporary's name adds to its target's up to
# 2 dots, a 10-digit pid, 13 characters of hex and ".gpuflow-tmpdir".
_STEM_BYTES = 255 - 2 - 10 - 13 - len(".gpuflow-tmpdir")


def _stem(name):
    """``name`` as the names of its temporaries start: whole when it leaves room for what they add, else cut to
    ``_STEM_BYTES`` bytes, ending with a hash of the whole name (so two long names sharing a start still differ)."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= _STEM_BYTES:
        return name
    return raw[:_STEM_BYTES - 9].decode("utf-8", "ignore") + "~" + hashlib.sha1(raw).hexdigest()[:8]


def _temp_path(target, suffix=".gpuflow-tmp"):
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{_stem(name)}.{os.getpid()}.{uuid.uuid4().hex[:12]}{suffix}")


def _process_alive(pid):
    """True when process ``pid`` may still be running (always True where that cannot be asked safely)."""
    if _WINDOWS:  # os.kill(pid, 0) would terminate the process on Windows: keep its files
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to another user
        return True
    return True


def _remove_path(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.remove(path)
        except OSError:
            pass


def _temporaries(folder):
    """``(path, target's name, stale)`` for each save temporary in ``folder``.

    A temporary is stale when the process that wrote it is gone, or is this one and no longer writing it (a
    restarted container may get the pid its predecessor had); one of a live process may still be written.
    """
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry)
        if match is None:
            continue
        path, pid = os.path.join(folder, entry), int(match.group(2))
        live = path in _IN_FLIGHT or (pid != os.getpid() and _process_alive(pid))
        yield path, match.group(1), not live


def _remove_stale_temps(folder):
    """Removes the temporaries in ``folder`` of saves whose process died (or was interrupted) before cleaning up."""
    for path, _, stale in _temporaries(folder):
        if stale:
            _remove_path(path)


def _fsync(path):
    """Flushes a file, or (POSIX) a folder's entries, i.e. the renames done in it, to disk.

    On Windows a file must be writable here: ``os.fsync`` (FlushFileBuffers) needs a handle open for writing.
    """
    is_dir = os.path.isdir(path)
    if is_dir and _WINDOWS:  # Windows cannot open a folder this way; NTFS journals renames
        return
    fd = os.open(path or ".", os.O_RDWR | getattr(os, "O_BINARY", 0) if _WINDOWS else os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not is_dir:  # some file systems refuse to flush a folder; a file that cannot be flushed is an error
            raise
    finally:
        os.close(fd)


class _CtrlC:
    """What ``_ctrl_c_noted`` yields: the Ctrl-Cs (SIGINT) noted in its block, and ``commit()``."""

    def __init__(self):
        self.hits, self.deferred = [], False

    def commit(self):
        """Raises KeyboardInterrupt for a Ctrl-C noted so far; from now on a Ctrl-C is only noted, and raised
        when the block ends (a save calls this just before its rename: what follows is finished, not undone)."""
        if self.hits:
            raise KeyboardInterrupt
        self.deferred = True


@contextlib.contextmanager
def _ctrl_c_noted():
    """Yields a ``_CtrlC`` that notes each Ctrl-C (SIGINT) until the block ends.

    Ctrl-C still raises KeyboardInterrupt at once until ``commit()``. The note is for one that lands in a
    finalizer or weakref callback, where Python only prints "Exception ignored in: ..." and carries on: h5py
    runs such callbacks mid-write (its datatype cache is a WeakValueDictionary), so ``commit()`` raises it.
    After ``commit()`` a Ctrl-C waits for the end of the block (the rename, the folder flush and removing what
    the save replaced), where a noted one is raised. Active only in the main thread over Python's default
    SIGINT handler.
    """
    state = _CtrlC()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield state
        return

    def handler(signum, frame):
        state.hits.append(signum)
        if not state.deferred:
            signal.default_int_handler(signum, frame)
    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if state.hits:
        raise KeyboardInterrupt


def _create_temp(tmp, target, folder=False):
    """Creates the temporary file (or folder) ``tmp``; an OSError (a folder this process cannot write in) names
    ``target``, the path being saved, besides the temporary's own name."""
    try:
        if folder:
            os.mkdir(tmp)
        else:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as e:
        raise type(e)(e.errno, f"{e.strerror}: cannot save {target}, as no temporary can be created beside it",
                      tmp) from None


def _atomic_write(filepath, write):
    """Calls ``write(tmp_path)`` for a new file beside ``filepath``, then renames it over ``filepath``.

    The temporary file is created with the usual permissions (0o666 less the umask), flushed to
    disk before the rename, and removed if ``write`` fails or is interrupted; one left by a killed
    save is removed by the next save in that folder (see ``_remove_stale_temps``). The folder is
    flushed after the rename, so a crash cannot undo it.
    """
    _remove_stale_temps(os.path.dirname(filepath))
    tmp = _temp_path(filepath)
    _IN_FLIGHT.add(tmp)
    try:
        with _ctrl_c_noted() as ctrl_c:
            _create_temp(tmp, filepath)
            write(tmp)
            _fsync(tmp)  # before _keep_mode: on Windows a read-only mode would forbid the handle flushing needs
            _keep_mode(filepath, tmp)
            ctrl_c.commit()
            os.replace(tmp, filepath)
            _fsync(os.path.dirname(filepath))
    except BaseException:
        _remove_path(tmp)
        raise
    finally:
        _IN_FLIGHT.discard(tmp)


def _destination(filepath, overwrite, op, folder=False):
    """The path a save writes: ``filepath`` with symbolic links resolved (a link stays a link to the new file).

    Creates missing parent folders. Raises FileExistsError when it exists and ``overwrite`` is False, and
    IsADirectoryError (NotADirectoryError when ``folder``, a ``zipped=False`` save) when it is a folder where a
    file belongs (or the reverse), before anything is written.
    """
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{op}: {filepath} exists and overwrite=False. Pass overwrite=True to replace it.")
    target = os.path.realpath(filepath)
    if os.path.exists(target) and os.path.isdir(target) != folder:
        error, want, found = (NotADirectoryError, "a folder", "a file") if folder else (IsADirectoryError, "a file",
                                                                                         "a folder")
        raise error(f"{op}: {filepath} is {found}, which a save{' with zipped=False' if folder else ''} does not "
                    f"replace. Expected a path to {want}. Received: filepath={filepath}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    return target


def _keep_mode(existing, new):
    """Gives ``new`` the permission bits of ``existing`` if that exists (a fresh file keeps those of the umask)."""
    try:
        mode = stat.S_IMODE(os.stat(existing).st_mode)
    except FileNotFoundError:
        return
    os.chmod(new, mode)


# =====================================================================================
# Registration of custom objects (keras.saving.register_keras_serializable)
# =====================================================================================
_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}


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


def get_registered_name(obj):
    """The name ``obj`` is registered under, else its ``__name__`` (``keras.saving.get_registered_name``)."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name, custom_objects=None):
    """The class or function registered (or given in ``custom_objects``) as ``name``, else None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return _GLOBAL_CUSTOM_OBJECTS.get(name)


# =====================================================================================
# gpuflow's built-in object tables (the only classes a file can name)
# =====================================================================================
_CATEGORIES = ("layers", "models", "optimizers", "losses", "metrics", "initializers", "activations")


@functools.lru_cache(maxsize=None)
def _tables():
    from . import layers as L, optimizers as O, losses as LO, metrics as M, initializers as I, activations as A
    from . import constraints as C, regularizers as R
    from .layers.base import Layer
    from .models import Model, Sequential, Functional

    def classes(mod, base):
        return {n: o for n, o in vars(mod).items()
                if isinstance(o, type) and issubclass(o, base) and not n.startswith("_")}

    def functions(mod, exclude=("get", "serialize", "deserialize")):
        return {n: o for n, o in vars(mod).items()
                if isinstance(o, types.FunctionType) and not n.startswith("_") and n not in exclude
                and o.__module__ == mod.__name__}

    classes_by = {
        "layers": {n: c for n, c in classes(L, Layer).items() if not issubclass(c, Model)},
        "models": {"Sequential": Sequential, "Functional": Functional, "Model": Model},
        "optimizers": {**classes(O, O.Optimizer),
                       **classes(O.schedules, O.schedules.LearningRateSchedule)},
        "losses": classes(LO, LO.Loss),
        "metrics": classes(M, M.Metric),
        "initializers": classes(I, I.Initializer),
        "regularizers": {**classes(R, R.Regularizer), "l1": R.L1, "l2": R.L2, "l1_l2": R.L1L2},
        "constraints": {**classes(C, C.Constraint), "max_norm": C.MaxNorm, "min_max_norm": C.MinMaxNorm,
                        "non_neg": C.NonNeg, "unit_norm": C.UnitNorm},
        "activations": {},
    }
    fns_by = {
        "losses": functions(LO),
        "metrics": functions(M),
        "activations": {n: f for n, f in A._BY_NAME.items()} if hasattr(A, "_BY_NAME") else functions(A),
    }
    return classes_by, fns_by


def _public_class(cls):
    """``(module, class_name, registered_name)`` Keras writes for a gpuflow class, or None if not public."""
    from .models import Sequential, Functional
    if cls is Sequential:
        return "keras", "Sequential", None
    if cls is Functional:
        return "keras.src.models.functional", "Functional", "Functional"
    classes_by, _ = _tables()
    for cat in ("layers", "optimizers", "losses", "metrics", "initializers"):
        if classes_by[cat].get(cls.__name__) is cls:
            return f"keras.{cat}", cls.__name__, None
    return None


def _module_category(module):
    """The gpuflow table a Keras module name points to; "custom" for non-Keras modules, None if absent."""
    if not module:
        return None
    parts = str(module).split(".")
    if parts[0] != "keras":
        return "custom"
    if "schedules" in parts:
        return "schedules"
    for p in parts[1:]:
        if p in _CATEGORIES or p in ("regularizers", "constraints"):
            return p
    return "keras"


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
    _, fns_by = _tables()
    for cat in ("losses", "metrics", "activations"):
        if fns_by[cat].get(fn.__name__) is fn:
            return {"module": f"keras.{cat}", "class_name": "function", "config": fn.__name__,
                    "registered_name": fn.__name__}
    registered = get_registered_name(fn)
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
    from ..tensor import Tensor
    from .layers.base import Layer, KerasTensor
    from .models import Model
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
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if isinstance(obj, Model):
        return _serialize_model(obj)
    if not hasattr(obj, "get_config"):
        raise ValueError(f"Cannot serialize {obj!r} of type {type(obj).__name__}: it has no get_config() method.")
    public = _public_class(type(obj))
    if public is not None:
        module, class_name, registered = public
    else:
        module, class_name = type(obj).__module__, type(obj).__name__
        registered = get_registered_name(type(obj))
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
    from .layers.base import Layer
    from .models import Model
    return (isinstance(layer, Model) or type(layer).build is not Layer.build
            or type(layer).__name__ in _KERAS_LAYERS_WITH_BUILD)


def _dtype_policy(layer):
    from .layers.base import Layer
    return Layer.get_config(layer)["dtype"]


def _serialize_model(model):
    from .models import Sequential, Functional
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
    public = _public_class(type(model))
    if public is not None:
        module, class_name, registered = public
    else:
        module, class_name, registered = type(model).__module__, type(model).__name__, get_registered_name(type(model))
    out = {"module": module, "class_name": class_name, "config": config, "registered_name": registered}
    if build is not None:
        out["build_config"] = build
    compile_config = _compile_config(model)
    if compile_config is not None:
        out["compile_config"] = compile_config
    return out


def _sequential_config(model):
    from .layers.core import InputLayer
    entries, shapes = [], {}
    shape = model.input_shape if model.built else None
    input_layer = getattr(model, "_input_layer", None)
    if input_layer is not None:
        entries.append(_serialize(input_layer, shapes))
    elif shape is not None:  # Keras 3 always lists the InputLayer of a built Sequential
        entries.append({"module": "keras.layers", "class_name": "InputLayer",
                        "config": _with_keras_defaults("InputLayer", {
                            "batch_shape": _shape_list(shape), "dtype": _dtype_policy(model)["config"]["name"],
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


# -- the functional graph, ordered as Keras 3 orders it ---------------------------------
def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _graph(model):
    """Keras 3's ``map_graph`` on a gpuflow functional model.

    Returns ``(layers, nodes)``: the layers sorted by depth from the outputs (deepest first) with
    ties in first-traversal order, exactly ``keras.Model.layers``; and, per layer id, its output
    KerasTensors in topological order (each one node of that layer).
    """
    from .layers.core import InputLayer
    inputs, outputs = list(model._inputs), list(model._outputs)
    finished, in_progress, order, op_index = set(), set(), [], {}
    input_ids = {id(t) for t in inputs}

    def visit(t):
        if id(t) in finished:
            return
        history = getattr(t, "_history", None)
        if not history:
            raise ValueError(f"Functional model '{model.name}': a tensor has no layer history: {t}")
        layer, ins = history[0], history[1]
        if id(t) in input_ids and not isinstance(layer, InputLayer):
            finished.add(id(t))
            return
        if id(t) in in_progress:
            raise ValueError(f"Functional model '{model.name}': tensor {t} from layer '{layer.name}' is part of a cycle.")
        op_index.setdefault(id(layer), (len(op_index), layer))
        in_progress.add(id(t))
        if ins is not None and id(t) not in input_ids:
            for i in _flat(ins):
                visit(i)
        in_progress.discard(id(t))
        finished.add(id(t))
        order.append(t)

    for o in outputs:
        visit(o)
    in_graph = {id(t) for t in order}
    node_depth, op_depth = {}, {}
    for t in reversed(order):
        layer, ins = t._history[0], t._history[1]
        d = max(node_depth.setdefault(id(t), 0), op_depth.get(id(layer), 0))
        op_depth[id(layer)] = node_depth[id(t)] = d
        if ins is not None and id(t) not in input_ids:
            for p in _flat(ins):
                if id(p) in in_graph:
                    node_depth[id(p)] = max(d + 1, node_depth.get(id(p), 0))
    for t in inputs:  # inputs no output depends on still belong to the model
        layer = t._history[0] if getattr(t, "_history", None) else None
        if layer is not None and id(layer) not in op_depth:
            op_depth[id(layer)] = 0
            op_index[id(layer)] = (-1, layer)
            order.insert(0, t)
    layers = sorted((op_index[k][1] for k in op_depth), key=lambda l: (-op_depth[id(l)], op_index[id(l)][0]))
    nodes = {}
    for t in order:
        nodes.setdefault(id(t._history[0]), []).append(t)
    return layers, nodes


def _keras_layers(model):
    """``model.layers`` in Keras 3's order (a functional model's differ from gpuflow's DFS order)."""
    from .models import Functional
    if isinstance(model, Functional) and hasattr(model, "_inputs") and hasattr(model, "_outputs"):
        return _graph(model)[0]
    return list(model.layers)


def _functional_config(model):
    from .layers.core import InputLayer
    from .models import Functional
    layers, nodes = _graph(model)
    history = {}  # id(output tensor) -> [layer name, node index, tensor index]
    for layer in layers:
        start = 1 if isinstance(layer, Functional) else 0  # Keras: a functional model starts with one node
        for i, t in enumerate(nodes.get(id(layer), [])):
            history[id(t)] = [layer.name, 0 if isinstance(layer, InputLayer) else start + i, 0]
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
        if not isinstance(layer, InputLayer):
            for t in nodes.get(id(layer), []):
                ins = t._history[1]
                arg = [tensor_arg(i) for i in ins] if isinstance(ins, (list, tuple)) else tensor_arg(ins)
                inbound.append({"args": [arg], "kwargs": {}})
        entry["inbound_nodes"] = inbound
        entries.append(entry)

    def refs(struct):
        if isinstance(struct, (list, tuple)):
            return [history[id(t)] for t in struct]
        return history[id(struct)]
    return {"name": model.name, "trainable": model.trainable, "layers": entries,
            "input_layers": refs(getattr(model, "_in_struct", model._inputs)),
            "output_layers": refs(getattr(model, "_out_struct", model._outputs))}


def _compile_config(model):
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return None
    getter = getattr(model, "get_compile_config", None)
    if callable(getter):
        config = getter()
        if config is not None:
            return _serialize(config, {})
    metrics = list(getattr(model, "_metric_ids", None) or [])
    return {"optimizer": _serialize(model.optimizer, {}), "loss": _serialize(getattr(model, "loss", None), {}),
            "loss_weights": None, "metrics": _serialize(metrics, {}) if metrics else None,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _json_default(obj):
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
    return json.dumps(serialize_keras_object(model), default=_json_default, **kwargs)


# =====================================================================================
# Deserialization (Keras config dict -> gpuflow object)
# =====================================================================================
class _Ctx:
    """What deserialization needs besides the config: custom objects, safe mode, the source for errors."""

    def __init__(self, custom_objects=None, safe_mode=True, source=None, legacy=False):
        self.custom_objects = {**_GLOBAL_CUSTOM_OBJECTS, **(custom_objects or {})}
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
    if class_name in ("Lambda", "TFOpLambda", "SlicingOpLambda") and _module_category(module) in (None, "layers", "keras"):
        name = (config.get("config") or {}).get("name", "?") if isinstance(config.get("config"), dict) else "?"
        raise _lambda_error(f"a Lambda layer ('{name}', class {class_name})", ctx)
    category = _module_category(module)
    classes_by, _ = _tables()
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
    known = sorted({n for cat in (searched or expected) for n in classes_by.get(cat, {})})
    where_from = f" from module '{module}'" if module else ""
    raise _LoadError(
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
    _, fns_by = _tables()
    module = config.get("module")
    category = _module_category(module)
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
    raise _LoadError(f"Could not locate function '{name}'{ctx.where}. If it is a custom function, pass it in "
                     "`custom_objects` or decorate it with `@keras.saving.register_keras_serializable()`. "
                     f"Full object config: {_short(config)}")


def _accepted_args(cls):
    """Names ``cls(...)`` accepts, following ``**kwargs`` up the MRO to gpuflow's base classes."""
    from .layers.base import Layer
    from .optimizers import Optimizer
    from .losses import Loss
    from .metrics import Metric
    from .initializers import Initializer
    closed_bases = (Layer, Optimizer, Loss, Metric, Initializer)
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
    from .optimizers import Optimizer
    from .losses import Loss
    renames = dict(_RENAMED_KEYS.get(class_name, {}))
    if issubclass(cls, Optimizer):
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
        elif issubclass(cls, Optimizer) and k == "decay" and v == 0:
            continue
        elif issubclass(cls, Loss) and k == "fn":  # Keras 2 writes the wrapped function's name
            continue
        elif class_name == "InputLayer" and k == "batch_input_shape":
            continue
        else:
            raise ValueError(f"{class_name} '{config.get('name', '?')}'{ctx.where}: gpuflow's {cls.__name__} does not "
                             f"support the argument `{k}={v!r}`.")
    if issubclass(cls, Loss) and out.get("reduction") == "auto":  # Keras 2's default
        out["reduction"] = "sum_over_batch_size"
    return out


def _is_serialized_object(v):
    return isinstance(v, dict) and "class_name" in v and "config" in v


def _deserialize_inner(value, ctx, key=None):
    """Config values that are themselves serialized objects (initializers, dtype policies, activations)."""
    if _is_serialized_object(value):
        expected = ("initializers",) if key and key.endswith("initializer") else \
            ("regularizers",) if key and key.endswith("regularizer") else \
            ("constraints",) if key and key.endswith("constraint") else _CATEGORIES
        return _deserialize(value, ctx, expected)
    return value


def _deserialize(config, ctx, expected=_CATEGORIES):
    """Internal ``deserialize_keras_object`` with a context; ``expected`` guides module-less (Keras 2) entries."""
    from ..ops.core import convert_to_tensor
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
    if class_name in ("DTypePolicy", "FloatDTypePolicy", "Policy") and _module_category(config.get("module")) in (
            None, "keras", "layers"):
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
    from .models import Model
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
            if (getattr(cls, "__module__", "") or "").startswith("gpuflow."):
                kwargs = _clean_kwargs(cls, class_name, kwargs, ctx)
            obj = cls.from_config(kwargs)
    except (_LoadError, UnsafeDeserializationError):
        raise
    except (ValueError, MemoryError) + _CONFIG_ERRORS as e:
        raise _LoadError(f"Could not rebuild {class_name} '{name}'{ctx.where}: {type(e).__name__}: {e}") from e
    return obj


class _LoadError(ValueError):
    """A ValueError already carrying the source file and the object that failed."""


# What a config holding a value of the wrong kind raises deep inside deserialization (a string where a dict
# belongs, a list too short, ...); turned into the documented ValueError naming the file.
_CONFIG_ERRORS = (TypeError, AttributeError, LookupError, NotImplementedError, OverflowError)


@contextlib.contextmanager
def _building(config, ctx):
    """Names the file and the object when building a deserialized layer or model fails.

    Building is where weights are allocated: a config asking for weights larger than memory
    (``Dense(units=10**12)``) fails there with NumPy's MemoryError, raised before any memory is
    touched, and becomes this ValueError naming the layer and its config.
    """
    try:
        yield
    except (_LoadError, UnsafeDeserializationError):
        raise
    except (MemoryError, ValueError) as e:
        inner = config.get("config") if isinstance(config, dict) else None
        name = inner.get("name", "?") if isinstance(inner, dict) else "?"
        what = f"{config.get('class_name', '?')} '{name}'" if isinstance(config, dict) else "the model"
        raise _LoadError(f"Could not build {what}{ctx.where}: {type(e).__name__}: {e}. "
                         f"Full object config: {_short(config)}") from e


def _model_from_config(cls, inner, ctx):
    from .models import Sequential
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
    from .layers.base import Layer
    layer = _deserialize(entry, ctx, ("layers", "models"))
    if not isinstance(layer, Layer):
        raise _LoadError(f"Expected a layer{ctx.where}, got {type(layer).__name__} from {_short(entry)}")
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
    from .layers.core import InputLayer
    from .models import Functional
    created, entries, outputs_by_node, counts, queues = {}, {}, {}, {}, {}
    order = []
    for entry in config["layers"]:
        layer = _layer_entry(entry, ctx)
        name = entry.get("name") or layer.name
        created[name], entries[name] = layer, entry
        order.append(name)
        counts[name] = 1 if isinstance(layer, Functional) else 0
        queues[name] = list(entry.get("inbound_nodes") or [])
        if isinstance(layer, InputLayer):
            outputs_by_node[(name, 0)] = [layer.output]
            counts[name] = 1

    def tensor(ref):
        name, node, index = ref[0], int(ref[1]), int(ref[2])
        if name not in created:
            raise _LoadError(f"Invalid functional model configuration{ctx.where}: unknown layer '{name}' in {ref}.")
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
                    raise _LoadError(f"A node argument has no keras_history{ctx.where}: {_short(v)}")
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
                    out = layer(*args, **kwargs)
                outputs_by_node[(name, counts[name])] = out if isinstance(out, (list, tuple)) else [out]
                counts[name] += 1
                queue.pop(0)
                pending -= 1
                progress = True
        if pending and not progress:
            stuck = {n: len(q) for n, q in queues.items() if q}
            raise _LoadError(f"Invalid functional model configuration{ctx.where}: the graph has loops or "
                             f"disconnected nodes. Unresolved nodes per layer: {stuck}")

    def structure(refs):
        if isinstance(refs, list) and len(refs) in (3, 4) and isinstance(refs[0], str):
            try:
                return tensor(refs)
            except _NotReady:
                raise _LoadError(f"Invalid functional model configuration{ctx.where}: {refs} names a node that "
                                 "does not exist.") from None
        if isinstance(refs, dict):
            raise _LoadError(f"Functional models with dict inputs/outputs are not supported yet{ctx.where}.")
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
    from .layers.base import Layer
    from .models import Model, Sequential, Functional
    if not isinstance(obj, Layer) or obj.built or not isinstance(build_config, dict):
        return
    shape = build_config.get("input_shape")
    if not isinstance(shape, (list, tuple)) or not shape:
        return
    if isinstance(obj, Sequential):
        obj.build(tuple(shape))
    elif isinstance(obj, Model) and not isinstance(obj, Functional):
        from ..ops.array_ops import zeros
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


def _compile_from_config(model, compile_config, ctx):
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
    except (ValueError,) + _CONFIG_ERRORS as e:
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
    return _deserialize_top(config, _Ctx(custom_objects, safe_mode))


@contextlib.contextmanager
def _config_errors(ctx):
    """Turns what a malformed config raises into a ValueError naming the source: the RecursionError of a config
    nested deeper than Python's recursion limit, and the ``_CONFIG_ERRORS`` of a value of the wrong kind."""
    try:
        yield
    except RecursionError:
        raise ValueError(f"The config{ctx.where} is nested too deeply to be rebuilt (deeper than Python's recursion "
                         "limit); it is corrupt or crafted.") from None
    except _CONFIG_ERRORS as e:
        raise ValueError(f"Invalid config{ctx.where}: {type(e).__name__}: {e}") from e


def _deserialize_top(config, ctx, compile=True, expected=_CATEGORIES):
    with _config_errors(ctx):
        obj = _deserialize(config, ctx, expected)
        if isinstance(config, dict):
            with _building(config, ctx):
                _apply_build_config(obj, config.get("build_config"))
            if compile and config.get("compile_config"):
                _compile_from_config(obj, config["compile_config"], ctx)
    return obj


def _json_loads(text, what):
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
    config = _json_loads(json_string, "model_from_json: the string")
    return _deserialize_top(config, _Ctx(custom_objects, True, source="the model JSON"))


# =====================================================================================
# Weights: walking a model as Keras's _walk_saveable does
# =====================================================================================
def _name_key(name):
    return f"~{name}" if name.startswith("_") else name


@functools.lru_cache(maxsize=None)
def _reference_attrs():
    """Attribute names of bare gpuflow objects, which Keras's walk skips (its ``get_attr_skipset``)."""
    from .layers.base import Layer
    from .layers.core import InputLayer
    from .models import Model, Sequential, Functional
    base = frozenset(dir(Layer(name="__gpuflow_saving_ref_layer__")))
    model = Model(name="__gpuflow_saving_ref_model__")
    model_attrs = frozenset(dir(model)) - base - {"optimizer"}
    seq = frozenset(dir(Sequential(name="__gpuflow_saving_ref_seq__"))) - frozenset(dir(model))
    t = InputLayer(shape=(1,), name="__gpuflow_saving_ref_input__").output
    fn = frozenset(dir(Functional(t, t, name="__gpuflow_saving_ref_fn__"))) - frozenset(dir(model))
    return base, model_attrs, seq, fn


def _children(obj):
    """``(attribute, value)`` pairs in Keras's walk order; Sequential/functional layers come first."""
    from .models import Model, Sequential, Functional
    base, model_attrs, seq_attrs, fn_attrs = _reference_attrs()
    graph = isinstance(obj, (Sequential, Functional))
    if graph:
        yield "layers", _keras_layers(obj)
    skip = set(base)
    if isinstance(obj, Model):
        skip |= model_attrs
        if isinstance(obj, Sequential):
            skip |= seq_attrs
        if isinstance(obj, Functional):
            skip |= fn_attrs
        if not graph:  # Keras walks a subclassed model's `layers` (its obj_type is "Layer")
            skip.discard("layers")
    for attr in sorted(dir(obj), key=_name_key):
        if attr.startswith("__") or attr in skip:
            continue
        try:
            value = getattr(obj, attr)
        except Exception:
            continue
        yield attr, value


def _snake(name):
    from .layers.base import to_snake_case
    return to_snake_case(name)


def _join(path, name):
    return f"{path}/{name}" if path else name


def _own_variables(layer):
    """A layer's own variables in Keras's order: those created trainable, then the others."""
    own = list(layer._weights)
    return ([v for v in own if getattr(v, "_keras_trainable", True)]
            + [v for v in own if not getattr(v, "_keras_trainable", True)])


def _keras_sublayers(layer):
    from .models import Sequential, Functional
    if isinstance(layer, Functional):
        return _keras_layers(layer)
    if isinstance(layer, Sequential):
        return list(layer.layers)
    return list(layer._layers)


def _keras_variables(layer, seen=None):
    """``layer.weights`` in Keras's order (own variables, then each sub-layer's, depth-first)."""
    seen = set() if seen is None else seen
    out = []
    for v in _own_variables(layer):
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    for sub in _keras_sublayers(layer):
        out.extend(_keras_variables(sub, seen))
    return out


def _keras_trainable_variables(model):
    if not model.trainable:
        return []
    return [v for v in _keras_variables(model) if v.trainable]


# How Keras 3 creates each optimizer's slots: one ``add_optimizer_variables(var_list, names)`` call per
# group, which makes, for each variable in turn, one slot per name of the group. So Adam interleaves
# momentum and velocity per variable, while RMSprop lists every velocity, then every momentum.
_KERAS_SLOT_GROUPS = {"Adam": (("momentum", "velocity"), ("velocity_hat",)), "SGD": (("momentum",),),
                      "RMSprop": (("velocity",), ("momentum",), ("average_gradient",))}


def _optimizer_variables(opt, model):
    """The optimizer's variables in Keras 3's order for ``model``.

    ``iterations``, ``learning_rate`` (not a variable in Keras when it is a schedule), then the
    slots of the model's trainable variables (in Keras's variable order), grouped as Keras
    creates them (see ``_KERAS_SLOT_GROUPS``).
    """
    variables = list(opt.variables)
    head = variables[:1] if getattr(opt, "_schedule", None) is not None else variables[:2]
    slots = getattr(opt, "_slots", None)
    if not isinstance(slots, dict) or model is None:
        return head + variables[2:]
    names = tuple(getattr(opt, "_slot_names", ()))
    groups = next((g for cls in type(opt).__mro__ for k, g in _KERAS_SLOT_GROUPS.items() if cls.__name__ == k),
                  (names,))
    groups = [tuple(n for n in g if n in names) for g in groups]
    groups.append(tuple(n for n in names if not any(n in g for g in groups)))
    targets, done = [], set()
    for v in _keras_trainable_variables(model):
        if id(v) in slots and id(v) not in done:
            done.add(id(v))
            targets.append(slots[id(v)])
    targets.extend(s for key, s in slots.items() if key not in done)  # variables outside this model: build order
    ordered = [s[n] for g in groups if g for s in targets for n in g if n in s]
    return head + ordered


class _H5Writer:
    def __init__(self, h5file):
        self.f = h5file

    def write(self, path, name, values):
        group = self.f.create_group(_join(path, "vars")) if path else self.f.create_group("vars")
        group.attrs["name"] = name
        for i, v in enumerate(values):
            group.create_dataset(str(i), data=np.asarray(v.numpy()))


def _save_state(obj, writer, path, visited, model):
    from .layers.base import Layer
    from .optimizers import Optimizer
    if id(obj) in visited:
        return
    if isinstance(obj, Layer):
        writer.write(path, obj.name, _own_variables(obj))
    elif isinstance(obj, Optimizer):
        writer.write(path, obj.name, _optimizer_variables(obj, model))
    visited.add(id(obj))
    if not isinstance(obj, Layer):
        return
    for attr, child in _children(obj):
        if isinstance(child, (Layer, Optimizer)):
            _save_state(child, writer, _join(path, attr), visited, model)
        elif isinstance(child, (list, tuple, dict)):
            _save_container(child, writer, _join(path, attr), visited, model, set())


def _container_items(container):
    return list(container.values()) if isinstance(container, dict) else list(container)


def _save_container(container, writer, path, visited, model, seen_containers):
    from .layers.base import Layer
    from .optimizers import Optimizer
    if id(container) in seen_containers:
        return
    seen_containers.add(id(container))
    used = {}
    for item in _container_items(container):
        if isinstance(item, (Layer, Optimizer)):
            _save_state(item, writer, _join(path, _unique(_snake(type(item).__name__), used)), visited, model)
        elif isinstance(item, (list, tuple, dict)):
            _save_container(item, writer, _join(path, _unique("container", used)), visited, model, seen_containers)


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


# -- reading .weights.h5 ----------------------------------------------------------------
def _safe_child(h5py, group, name, want_group, source=None):
    """``group[name]`` after refusing soft/external links, external and virtual datasets (as Keras).

    Raises:
        ValueError: one of those, or a dataset where a group belongs (or the reverse); the message starts with
            ``source`` when given.
    """
    where = f"{source}: " if source else ""
    link = group.get(name, default=None, getlink=True)
    if link is None:
        return None
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        raise ValueError(f"{where}refusing an HDF5 {type(link).__name__} at '{_join(group.name, name)}'")
    obj = group[name]
    if want_group and not isinstance(obj, h5py.Group):
        raise ValueError(f"{where}expected an HDF5 group at '{obj.name}', found {type(obj).__name__}")
    if not want_group:
        if not isinstance(obj, h5py.Dataset):
            raise ValueError(f"{where}expected an HDF5 dataset at '{obj.name}', found {type(obj).__name__}")
        if obj.external or obj.is_virtual:
            raise ValueError(f"{where}refusing an external or virtual HDF5 dataset at '{obj.name}'")
    return obj


def _h5_group(h5py, root, path, source=None):
    g = root
    for part in [p for p in path.split("/") if p]:
        if not isinstance(g, h5py.Group):
            return None
        g = _safe_child(h5py, g, part, True, source)
        if g is None:
            return None
    return g


class _H5Reader:
    def __init__(self, h5py, h5file, source):
        self.h5py, self.f, self.source = h5py, h5file, source

    def vars_group(self, path, name=None):
        group = _h5_group(self.h5py, self.f, path)
        vars_group = _safe_child(self.h5py, group, "vars", True) if group is not None else None
        if vars_group is None and name is not None and path:
            # files written by gpuflow <= 0.1 put sub-layers under their own name, not Keras's class-based name
            parent = _h5_group(self.h5py, self.f, path.rsplit("/", 1)[0] if "/" in path else "")
            alt = _h5_group(self.h5py, parent, name) if parent is not None else None
            if alt is not None and "vars" in alt and alt["vars"].attrs.get("name") == name:
                vars_group = _safe_child(self.h5py, alt, "vars", True)
        return vars_group

    def datasets(self, vars_group):
        """The datasets ``0``, ``1``, ... under ``vars_group`` (headers only: no data is read)."""
        keys = sorted(vars_group.keys(), key=lambda k: (len(k), k))
        if keys != [str(i) for i in range(len(keys))]:
            raise ValueError(f"the variables under '{vars_group.name}' are not numbered 0..{len(keys) - 1}: {keys}")
        return [_safe_child(self.h5py, vars_group, k, False) for k in keys]


# HDF5 decompresses a chunked dataset one whole chunk at a time, and a resizable dataset's chunk may be far larger
# than its shape: a (3, 4) dataset stored in one compressed 1 GiB chunk takes 1 MB on disk and 1 GiB to read. A
# dataset's chunks may hold at most its own size, or this many bytes when that is larger (h5py's automatic
# chunks stay under 1 MiB; Keras writes contiguous datasets, without chunks).
_CHUNK_LIMIT = 1 << 20


def _check_dataset(var, ds, owner):
    """Checks the header of the dataset ``ds`` against the variable it fills, before any of its data is read.

    Raises:
        ValueError: a dtype that is not a number, a shape other than the variable's (naming both and the
            dataset's path in the file), or chunks larger than the dataset (see ``_CHUNK_LIMIT``).
    """
    path = getattr(var, "path", var.name)
    if ds.dtype.kind not in "biuf":
        raise ValueError(f"{owner}: the dataset '{ds.name}' for '{path}' does not hold numbers. "
                         f"Expected: dtype={var.dtype.name}. Received: dtype={ds.dtype}")
    shape = tuple(ds.shape) if ds.shape is not None else None
    if shape != tuple(var.shape):
        raise ValueError(f"{owner}: shape mismatch for '{path}' at '{ds.name}'. Expected: {tuple(var.shape)}. "
                         f"Received: {shape}")
    if ds.chunks is not None:
        limit = max(int(np.prod(shape)) * ds.dtype.itemsize, _CHUNK_LIMIT)
        chunk = int(np.prod(ds.chunks)) * ds.dtype.itemsize
        if chunk > limit:
            raise ValueError(f"{owner}: the dataset '{ds.name}' for '{path}' is stored in chunks larger than it can "
                             f"legitimately need, which HDF5 would decompress whole to read it. Expected: chunks of "
                             f"at most {limit} bytes. Received: chunks={ds.chunks} ({chunk} bytes). The file is "
                             "corrupt or crafted to exhaust memory.")


def _read_dataset(ds, source):
    try:
        return np.asarray(ds[()])
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{source}: the dataset '{ds.name}' cannot be read; the file is truncated or corrupt "
                         f"({type(e).__name__}: {e}).") from None


def _match(variables, datasets, where, owner):
    """``[(variable, dataset)]`` after checking the count and every dataset's header (no data is read)."""
    if len(datasets) != len(variables):
        raise ValueError(f"{owner} expects {len(variables)} variables but the file has {len(datasets)} at '{where}'. "
                         f"Expected: {[getattr(v, 'path', v.name) for v in variables]}")
    for var, ds in zip(variables, datasets):
        _check_dataset(var, ds, owner)
    return list(zip(variables, datasets))


def _read_and_assign(pairs, source):
    """Reads every dataset of ``[(variable, dataset)]``, then assigns them all: loading is all or nothing, so a
    file that fails to read (ValueError naming the dataset) leaves every variable as it was."""
    values = [_read_dataset(ds, source) for _, ds in pairs]
    for (var, _), value in zip(pairs, values):
        var.assign(value.astype(var.dtype.as_numpy_dtype))


def _raise_or_warn(errors, what, source, skip_mismatch):
    if not errors:
        return
    msg = f"{len(errors)} {what} could not be loaded from {source}:\n  " + "\n  ".join(errors)
    if not skip_mismatch:
        raise ValueError(msg + "\nNo variable was changed.")
    warnings.warn(msg + "\nThey keep their current values (skip_mismatch=True).", stacklevel=4)


class _LoadPlan:
    """What a weights file would fill: ``pairs`` of (variable, dataset) that passed the checks, and the errors."""

    def __init__(self):
        self.pairs, self.errors = [], []


def _load_state(obj, reader, path, visited, plan, model):
    from .layers.base import Layer
    from .optimizers import Optimizer
    if id(obj) in visited:
        return
    visited.add(id(obj))
    if isinstance(obj, Layer):
        owner = f"Layer '{obj.name}'"
        try:
            group = reader.vars_group(path, obj.name)
            datasets = reader.datasets(group) if group is not None else []
        except ValueError as e:  # a link, or a dataset where a group belongs
            plan.errors.append(f"{owner}: {e}")
        else:
            try:
                plan.pairs += _match(_own_variables(obj), datasets, f"/{_join(path, 'vars')}", owner)
            except ValueError as e:
                plan.errors.append(str(e))
    elif isinstance(obj, Optimizer):
        plan.pairs += _load_optimizer(obj, reader, path, model)
        return
    if not isinstance(obj, Layer):
        return
    for attr, child in _children(obj):
        if isinstance(child, (Layer, Optimizer)):
            _load_state(child, reader, _join(path, attr), visited, plan, model)
        elif isinstance(child, (list, tuple, dict)):
            _load_container(child, reader, _join(path, attr), visited, plan, model, set())


def _load_container(container, reader, path, visited, plan, model, seen_containers):
    from .layers.base import Layer
    from .optimizers import Optimizer
    if id(container) in seen_containers:
        return
    seen_containers.add(id(container))
    used = {}
    for item in _container_items(container):
        if isinstance(item, (Layer, Optimizer)):
            _load_state(item, reader, _join(path, _unique(_snake(type(item).__name__), used)), visited, plan, model)
        elif isinstance(item, (list, tuple, dict)):
            _load_container(item, reader, _join(path, _unique("container", used)), visited, plan, model,
                            seen_containers)


def _load_optimizer(opt, reader, path, model):
    """The optimizer's (variable, dataset) pairs; none, with Keras's warning, when its saved state does not fit."""
    try:
        group = reader.vars_group(path)
        values = reader.datasets(group) if group is not None else []
    except ValueError as e:
        return _skip_optimizer(opt, reader.source, e)
    if not values:
        return []
    if not opt.built and model is not None and values and len(values) > 2:
        opt.build(model.trainable_variables)
    variables = _optimizer_variables(opt, model)
    head = 1 if getattr(opt, "_schedule", None) is not None else 2
    if len(values) == head and len(variables) > head:  # saved before the first step: no slots yet
        variables = variables[:head]
    try:
        return _match(variables, values, f"/{_join(path, 'vars')}", f"Optimizer '{opt.name}'")
    except ValueError as e:
        return _skip_optimizer(opt, reader.source, e)


def _skip_optimizer(opt, source, error):
    warnings.warn(f"Skipping variable loading for optimizer '{opt.name}' from {source}: {error}. The optimizer "
                  "starts fresh.", stacklevel=5)
    return []


def _save_weights_h5(model, h5file):
    _save_state(model, _H5Writer(h5file), "", set(), model)


def _load_weights_h5(model, h5file, source, skip_mismatch=False):
    """Loads the model's and its optimizer's variables, all or nothing (see ``_read_and_assign``)."""
    plan = _LoadPlan()
    _load_state(model, _H5Reader(_h5py(), h5file, source), "", set(), plan, model)
    _raise_or_warn(plan.errors, "object(s)", source, skip_mismatch)
    _read_and_assign(plan.pairs, source)


def _open_h5(data_or_path, source, what="HDF5 weights file"):
    h5py = _h5py()
    try:
        return h5py.File(io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path, "r")
    except OSError as e:
        raise ValueError(f"{source} is not a readable {what}; it may be truncated or corrupt ({e}).") from None


# =====================================================================================
# save_weights / load_weights
# =====================================================================================
class _NoSuchFile(FileNotFoundError, ValueError):
    """A missing file: a FileNotFoundError, and the ValueError that Keras 3's ``load_model`` raises for a missing
    ``.keras`` file ("File not found: filepath=..."), so code written for either catches it."""


def save_weights(model, filepath, overwrite=True):
    """Writes the model's (and its optimizer's) weights in Keras 3's ``.weights.h5`` layout.

    Layout (``keras/src/saving/saving_lib.py``, ``save_weights_only``): ``/vars`` for the model
    itself, ``/layers/<class name>/vars/<i>`` for each layer (``dense``, ``dense_1``, ... in
    Keras's layer order), ``/optimizer/vars/<i>`` for the optimizer; see the module docstring.
    Keras 3 reads the file with ``model.load_weights``. The write is atomic.

    Args:
        model: a built gpuflow model.
        filepath: a path ending in ``.weights.h5``.
        overwrite: replace an existing file.

    Raises:
        ValueError: wrong extension, or the model is not built.
        FileExistsError: the file exists and ``overwrite`` is False.
    """
    h5py = _h5py()
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"save_weights: the filename must end in `.weights.h5`. Received: filepath={filepath}")
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built yet, so it has no weights. Call it on data "
                         "or give it an Input first.")
    filepath = _destination(filepath, overwrite, "save_weights")

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            _save_weights_h5(model, f)
    _atomic_write(filepath, write)


def load_weights(model, filepath, skip_mismatch=False, by_name=False):
    """Loads weights written by gpuflow or Keras into a built model (``keras.Model.load_weights``).

    Reads ``.weights.h5`` (Keras 3 layout), the weights inside a ``.keras`` archive, and legacy
    Keras 2 ``.h5`` files (whole-model or weights-only; layers matched by position among those
    with weights, as Keras, or by name with ``by_name=True``). Optimizer state in the file is
    restored when the model is compiled with a matching optimizer. Loading is all or nothing:
    every dataset is checked, then read, before any variable is assigned, so an error leaves the
    model and its optimizer as they were.

    Args:
        model: a built gpuflow model.
        filepath: ``*.weights.h5``, ``*.keras`` or legacy ``*.h5``/``*.hdf5``.
        skip_mismatch: warn about layers whose variables do not match, instead of raising.
        by_name: legacy ``.h5`` only: match layers by name.

    Raises:
        FileNotFoundError: no such file (also a ValueError, as for :func:`load_model`).
        ValueError: unknown extension, unbuilt model, a corrupt file, or a layer whose variable
            count, shapes or dtypes differ (naming the layer, both shapes and the dataset's path
            in the file; checked from each dataset's header before any data is read).
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise _NoSuchFile(f"load_weights: no such file: {filepath}")
    if not model.built:
        raise ValueError(f"load_weights: model '{model.name}' is not built yet; call it on data or give it an Input "
                         "first, so its weights exist.")
    if filepath.endswith(".keras"):
        with _open_zip(filepath) as z:
            data = _read_member(z, _WEIGHTS, filepath, _weights_limit(model))
        with _open_h5(data, f"{filepath} (member {_WEIGHTS})") as f:
            _load_weights_h5(model, f, filepath, skip_mismatch)
    elif filepath.endswith(".weights.h5"):
        with _open_h5(filepath, filepath) as f:
            _load_weights_h5(model, f, filepath, skip_mismatch)
    elif filepath.endswith((".h5", ".hdf5")):
        with _open_h5(filepath, filepath, "HDF5 file") as f:
            group = f
            if "layer_names" not in f.attrs and "model_weights" in f:
                group = _safe_child(_h5py(), f, "model_weights", True, filepath)
            pairs = _legacy_load_weights(model, group, filepath, by_name, skip_mismatch)
            if getattr(model, "optimizer", None) is not None and "optimizer_weights" in f:
                pairs += _legacy_load_optimizer(model, f, filepath)
            _read_and_assign(pairs, filepath)
    else:
        raise ValueError(f"load_weights: the filename must end in `.weights.h5`, `.keras` or `.h5`. "
                         f"Received: filepath={filepath}")


# =====================================================================================
# .keras archives
# =====================================================================================
def _metadata_json():
    return json.dumps({"keras_version": _gpuflow_version(), "framework": "gpuflow",
                       "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})


def _config_json(model):
    return json.dumps(serialize_keras_object(model), default=_json_default)


def _weights_bytes(model):
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        _save_weights_h5(model, f)
    return buffer.getvalue()


def _write_keras_zip(model, path):
    config, metadata = _config_json(model), _metadata_json()
    with zipfile.ZipFile(path, "w") as z:  # stored, not deflated, as Keras writes it
        z.writestr(_METADATA, metadata)
        z.writestr(_CONFIG, config)
        z.writestr(_WEIGHTS, _weights_bytes(model))


def _write_keras_dir(model, dirpath):
    for member, data in ((_METADATA, _metadata_json().encode("utf-8")), (_CONFIG, _config_json(model).encode("utf-8")),
                         (_WEIGHTS, _weights_bytes(model))):
        with open(os.path.join(dirpath, member), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    _fsync(dirpath)


def _old_path(target):
    """Where a ``zipped=False`` save keeps the folder it replaces until the new one is in place."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{_stem(name)}.gpuflow-old")


def _recover_keras_dir(filepath):
    """Moves back the folder that a ``zipped=False`` save had moved aside when it was killed before the new one
    was in place. Returns the path to read the model from: the old folder itself if it cannot be moved, or if a
    live save of the folder is between its two renames (moving it back would make that save fail)."""
    target = os.path.realpath(filepath)
    old = _old_path(target)
    if os.path.lexists(target) or not os.path.isdir(old):
        return filepath
    folder, name = os.path.split(target)
    if any(n == _stem(name) and not stale for _, n, stale in _temporaries(folder)):
        return old
    try:
        os.replace(old, target)
        _fsync(os.path.dirname(target))
    except OSError:  # e.g. a read-only folder: read it where it is
        return old
    return filepath


def _discard(path, target):
    """Removes the folder (or file) ``path`` beside ``target``, renaming it to a temporary of ``target`` first: a
    removal interrupted halfway leaves a stale temporary that a later save removes, never a partial folder under a
    name that a load would read (``_old_path``)."""
    if not os.path.lexists(path):
        return
    doomed = _temp_path(target, ".gpuflow-tmpdir")
    os.replace(path, doomed)
    _remove_path(doomed)


def _save_keras_dir(model, filepath):
    """``zipped=False``: the three members in a temporary folder beside ``filepath``, then swapped in with two
    renames (the old folder goes to ``_old_path`` first). A save killed between them leaves only the old folder
    there; the next load or save moves it back (``_recover_keras_dir``)."""
    _remove_stale_temps(os.path.dirname(filepath))
    old = _old_path(filepath)
    if os.path.lexists(filepath):  # then an old folder was left by a save killed after its swap
        _discard(old, filepath)
    tmp = _temp_path(filepath, ".gpuflow-tmpdir")
    _IN_FLIGHT.add(tmp)
    moved = False
    try:
        with _ctrl_c_noted() as ctrl_c:
            _create_temp(tmp, filepath, folder=True)
            _write_keras_dir(model, tmp)
            for member in _ZIP_MEMBERS:
                _keep_mode(os.path.join(filepath, member), os.path.join(tmp, member))
            _keep_mode(filepath, tmp)
            ctrl_c.commit()
            if os.path.lexists(filepath):
                os.replace(filepath, old)
                moved = True
            os.replace(tmp, filepath)
            _fsync(os.path.dirname(filepath))
            _discard(old, filepath)
    except BaseException:
        if moved and not os.path.lexists(filepath):
            os.replace(old, filepath)
        _remove_path(tmp)
        raise
    finally:
        _IN_FLIGHT.discard(tmp)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves a model as Keras 3 does (``keras.saving.save_model`` / ``Model.save``).

    ``*.keras``: the zip archive described in the module docstring (``metadata.json``,
    ``config.json``, ``model.weights.h5``), which Keras 3's ``load_model`` reads.
    ``zipped=False``: the same three files in a folder. ``*.h5``/``*.hdf5``: Keras's legacy
    HDF5 format (with Keras's warning that it is legacy). The optimizer's state is included, so
    ``fit`` continues where it stopped after :func:`load_model`. Every write is atomic: the
    previous file stays intact if the save fails.

    Args:
        model: a gpuflow model (Sequential, functional, or subclassed with ``get_config``).
        filepath: destination path.
        overwrite: replace an existing file (else ``FileExistsError``).
        zipped: None or True for a ``.keras`` file, False for a folder.
        **kwargs: ``include_optimizer`` (legacy ``.h5`` only) and the deprecated ``save_format``.

    Raises:
        ValueError: an extension other than ``.keras``/``.h5`` (or ``.keras`` with ``zipped=False``),
            unknown keyword arguments, or an object that cannot be serialized (a lambda).
        FileExistsError: the destination exists and ``overwrite`` is False.
    """
    include_optimizer = kwargs.pop("include_optimizer", True)
    kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    filepath = os.fspath(filepath)
    if not model.built:
        warnings.warn("You are saving a model that has not yet been built. It might not contain any weights yet. "
                      "Consider building the model first by calling it on some data.", stacklevel=2)
    if filepath.endswith((".h5", ".hdf5")) and zipped is not False:
        warnings.warn("You are saving your model as an HDF5 file via `model.save()` or "
                      "`keras.saving.save_model(model)`. This file format is considered legacy. We recommend using "
                      "instead the native Keras format, e.g. `model.save('my_model.keras')` or "
                      "`keras.saving.save_model(model, 'my_model.keras')`.", stacklevel=2)
        filepath = _destination(filepath, overwrite, "save_model")
        _atomic_write(filepath, lambda tmp: _legacy_save(model, tmp, include_optimizer))
        return
    if zipped is False:
        if filepath.endswith(".keras"):
            raise ValueError("When using `zipped=False`, the `filepath` argument should not end in `.keras`. "
                             f"Received: filepath={filepath}")
        _recover_keras_dir(filepath)
        _save_keras_dir(model, _destination(filepath, overwrite, "save_model", folder=True))
        return
    if not filepath.endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` extension for the "
                         f"native Keras format (recommended) or a `.h5` extension. Received: filepath={filepath}.")
    _atomic_write(_destination(filepath, overwrite, "save_model"), lambda tmp: _write_keras_zip(model, tmp))


def _open_zip(source):
    try:
        return zipfile.ZipFile(source, "r")
    except (zipfile.BadZipFile, EOFError, ValueError) as e:  # ValueError: a member name that is not UTF-8
        name = source if isinstance(source, str) else "the file object"
        raise ValueError(f"{name} is not a valid .keras file: it is not a zip archive ({type(e).__name__}: {e}); the "
                         "file may be truncated or corrupt.") from None


# What reading a member of a hostile zip can raise: a bad header or stream (BadZipFile, EOFError, zlib, bz2's
# OSError, lzma), an encrypted member (RuntimeError) or an unknown compression method (NotImplementedError).
_ZIP_READ_ERRORS = (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError, NotImplementedError)
try:
    from lzma import LZMAError
    _ZIP_READ_ERRORS += (LZMAError,)
except ImportError:  # a Python built without lzma: zipfile cannot read such members at all
    pass


def _read_limited(f, size, limit, source, member):
    """At most ``limit`` bytes from ``f``, which declares ``size``; refused (ValueError) beyond, read or declared."""
    if size > limit:
        received = f"{size} bytes (declared)"
    else:
        data = f.read(limit + 1)  # the declared size may lie: never read more than the limit allows
        if len(data) <= limit:
            return data
        received = f"more than {limit} bytes (read; {size} declared)"
    raise ValueError(f"{source}: refusing the member '{member}', larger than it can legitimately be: expected at "
                     f"most {limit} bytes. Received: {received}. The file is corrupt or crafted to exhaust memory.")


def _read_member(z, member, source, limit):
    try:
        info = z.getinfo(member)
    except KeyError:
        raise ValueError(f"{source} is not a complete .keras file: the member '{member}' is missing. "
                         f"Members found: {z.namelist()}") from None
    try:
        with z.open(info) as f:
            return _read_limited(f, info.file_size, limit, source, member)
    except _ZIP_READ_ERRORS as e:
        raise ValueError(f"{source}: the member '{member}' cannot be read; the file is truncated or corrupt "
                         f"({type(e).__name__}: {e}).") from None


def _weights_limit(model):
    """The most bytes a weights member for ``model`` can legitimately hold (see ``_WEIGHT_COPIES``)."""
    nbytes = sum(int(np.prod(v.shape)) * np.dtype(v.dtype.as_numpy_dtype).itemsize for v in model.weights)
    return _MEMBER_LIMIT + _WEIGHT_COPIES * nbytes


def _parse_json(data, member, source):
    config = _json_loads(data, f"{source}: {member}")
    if not isinstance(config, dict):
        raise ValueError(f"{source}: {member} must hold a JSON object (the serialized model). "
                         f"Received: {type(config).__name__}")
    return config


def _model_from_config_json(config, source, custom_objects, compile, safe_mode):
    """The built (not yet loaded) model a ``config.json`` describes."""
    from .models import Model
    ctx = _Ctx(custom_objects, safe_mode, source=source)
    if not compile:
        config = dict(config, compile_config=None)
    model = _deserialize_top(config, ctx, compile=compile)
    if not isinstance(model, Model):
        raise ValueError(f"{source}: config.json describes a {type(model).__name__}, not a model.")
    if not model.built:
        raise ValueError(f"{source}: the model '{model.name}' could not be built from its config (no Input layer "
                         "and no build_config), so its weights cannot be restored.")
    return model


def _load_keras_zip(zip_source, source, custom_objects, compile, safe_mode):
    """A model from a ``.keras`` archive: config first, then the weights, each member read within its limit."""
    with _open_zip(zip_source) as z:
        config = _parse_json(_read_member(z, _CONFIG, source, _MEMBER_LIMIT), _CONFIG, source)
        model = _model_from_config_json(config, source, custom_objects, compile, safe_mode)
        weights = _read_member(z, _WEIGHTS, source, _weights_limit(model))
    with _open_h5(weights, f"{source} (member {_WEIGHTS})") as f:
        _load_weights_h5(model, f, source)
    return model


def _load_keras_dir(folder, custom_objects, compile, safe_mode):
    missing = [m for m in (_CONFIG, _WEIGHTS) if not os.path.isfile(os.path.join(folder, m))]
    if missing:
        raise ValueError(f"{folder} is a folder but not a saved Keras model: {missing} missing.")
    with open(os.path.join(folder, _CONFIG), "rb") as f:
        data = _read_limited(f, os.fstat(f.fileno()).st_size, _MEMBER_LIMIT, folder, _CONFIG)
    model = _model_from_config_json(_parse_json(data, _CONFIG, folder), folder, custom_objects, compile, safe_mode)
    weights = os.path.join(folder, _WEIGHTS)
    with _open_h5(weights, weights) as f:  # read from disk as needed, not whole
        _load_weights_h5(model, f, folder)
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by gpuflow or Keras (``keras.saving.load_model``).

    Reads Keras 3 ``.keras`` archives (and unzipped ``.keras`` folders) and legacy Keras 2/3
    ``.h5`` files: architecture, weights, and (with ``compile=True``) the compile settings and
    the optimizer's state, so ``fit`` resumes where it stopped. Nothing in the file is executed.
    A folder that a ``zipped=False`` save killed mid-swap left moved aside is moved back first.

    Args:
        filepath: path to a ``.keras`` file or folder, or an ``.h5``/``.hdf5`` file; or a binary
            file object holding a ``.keras`` archive.
        custom_objects: ``{name: class or function}`` for custom layers, losses, ...
        compile: restore the compile settings and optimizer state.
        safe_mode: as Keras; lambdas and Lambda layers are refused in either case.

    Returns:
        The model.

    Raises:
        FileNotFoundError: no such file; the error is also a ValueError, which Keras 3 raises for
            a missing ``.keras`` file.
        ValueError: an unsupported file, a corrupt or truncated file (bad zip, missing member,
            bad or too deeply nested JSON, a config or HDF5 layout holding values of the wrong
            kind, wrong weight shapes; the message names the file and the problem), a member
            larger than it can legitimately be (``config.json`` over 64 MiB; see
            ``_MEMBER_LIMIT``), a layer whose weights would not fit in memory (naming it and its
            config), an unknown class, or a Lambda layer.

    Warns:
        UserWarning: the compile settings could not be rebuilt (the model comes back uncompiled),
            or the optimizer's saved state does not fit (it starts fresh); as Keras.
    """
    if isinstance(filepath, io.IOBase):
        return _load_keras_zip(filepath, "the file object", custom_objects, compile, safe_mode)
    filepath = _recover_keras_dir(os.fspath(filepath))
    if os.path.isdir(filepath):
        return _load_keras_dir(filepath, custom_objects, compile, safe_mode)
    if not os.path.exists(filepath):
        raise _NoSuchFile(f"load_model: no such file: {filepath}")
    if filepath.endswith((".h5", ".hdf5")):
        return _legacy_load(filepath, custom_objects, compile, safe_mode)
    if not filepath.endswith(".keras"):
        raise ValueError(f"File format not supported: filepath={filepath}. gpuflow (as Keras 3) reads `.keras` files "
                         "and legacy `.h5` files.")
    return _load_keras_zip(filepath, filepath, custom_objects, compile, safe_mode)


# =====================================================================================
# Legacy HDF5 (.h5): Keras 2's model.save("x.h5"), and Keras 3's legacy writer
# =====================================================================================
def _h5_names(group, name, source):
    """A string-list attribute, possibly split into ``name0``, ``name1``... chunks (Keras's large-attribute rule).

    Raises:
        ValueError: the attribute is not a list of names (naming ``source``, the group and the attribute).
    """
    try:
        if name in group.attrs:
            raw = list(group.attrs[name])
        else:
            raw, i = [], 0
            while f"{name}{i}" in group.attrs:
                raw.extend(group.attrs[f"{name}{i}"])
                i += 1
        return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in raw]
    except (TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"{source}: the attribute `{name}` of '{group.name}' must be a list of names "
                         f"({type(e).__name__}: {e}).") from None


def _h5_attr_json(f, key, source):
    value = f.attrs.get(key)
    if value is None:
        return None
    return _json_loads(value if isinstance(value, bytes) else str(value), f"{source}: the `{key}` attribute")


def _legacy_layer_weights(layer):
    """Keras's ``_legacy_weights``: trainable weights, then non-trainable, in Keras's order."""
    weights = _keras_variables(layer)
    return [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]


def _legacy_load_weights(model, group, source, by_name=False, skip_mismatch=False):
    """The (variable, dataset) pairs of a legacy weights group, checked (ValueError, or a warning when
    ``skip_mismatch``, for layers that do not fit); nothing is read or assigned yet."""
    h5py = _h5py()
    saved = []
    for name in _h5_names(group, "layer_names", source):
        g = _safe_child(h5py, group, name, True, source)
        if g is None:
            raise ValueError(f"{source}: the weights group for layer '{name}' listed in `layer_names` is missing.")
        weight_names = _h5_names(g, "weight_names", source)
        values = []
        for wn in weight_names:
            parent = _h5_group(h5py, g, wn.rsplit("/", 1)[0], source) if "/" in wn else g
            ds = _safe_child(h5py, parent, wn.rsplit("/", 1)[-1], False, source) if parent is not None else None
            if ds is None:
                raise ValueError(f"{source}: weight '{wn}' of layer '{name}' is listed but missing.")
            values.append(ds)
        saved.append((name, values))
    layers = [l for l in _keras_layers(model) if _legacy_layer_weights(l)]
    plan = _LoadPlan()
    if by_name:
        by = {n: v for n, v in saved}
        pairs = [(l, l.name, by[l.name]) for l in layers if l.name in by]
    else:
        saved = [(n, v) for n, v in saved if v]
        if len(saved) != len(layers):
            raise ValueError(f"{source}: layer count mismatch when loading weights: the model has {len(layers)} layers "
                             f"with weights ({[l.name for l in layers]}), the file has {len(saved)} "
                             f"({[n for n, _ in saved]}).")
        pairs = [(l, n, v) for l, (n, v) in zip(layers, saved)]
    for layer, name, values in pairs:
        try:
            plan.pairs += _match(_legacy_layer_weights(layer), values,
                                 f"/{group.name.strip('/')}/{name}".replace("//", "/"),
                                 f"Layer '{layer.name}' (saved as '{name}')")
        except ValueError as e:
            plan.errors.append(str(e))
    _raise_or_warn(plan.errors, "layer(s)", source, skip_mismatch)
    return plan.pairs


_SLOT_ALIASES = {"m": "momentum", "momentum": "momentum", "v": "velocity", "velocity": "velocity",
                 "vhat": "velocity_hat", "velocity_hat": "velocity_hat", "rms": "velocity",
                 "mg": "average_gradient", "average_gradient": "average_gradient"}


def _legacy_load_optimizer(model, f, source):
    """The (variable, dataset) pairs of ``optimizer_weights``: Keras 3's legacy order by position, Keras 2's by slot
    name; none, with Keras's warning, when the saved state does not fit (the optimizer starts fresh)."""
    h5py = _h5py()
    opt = model.optimizer
    group = _safe_child(h5py, f, "optimizer_weights", True, source)
    names = _h5_names(group, "weight_names", source)
    values = []
    for wn in names:
        parent = _h5_group(h5py, group, wn.rsplit("/", 1)[0], source) if "/" in wn else group
        ds = _safe_child(h5py, parent, wn.rsplit("/", 1)[-1], False, source) if parent is not None else None
        if ds is None:
            warnings.warn(f"{source}: optimizer weight '{wn}' is listed but missing; the optimizer starts fresh.")
            return []
        values.append(ds)
    if not opt.built:
        opt.build(model.trainable_variables)
    variables = _optimizer_variables(opt, model)
    try:
        if len(names) == len(variables) and len(names) > 1 and names[1].split(":")[0].endswith("learning_rate"):
            return _match(variables, values, f"{source}:/optimizer_weights", f"Optimizer '{opt.name}'")  # Keras 3
        slot_names = tuple(getattr(opt, "_slot_names", ()))
        targets = _keras_trainable_variables(model)
        by_kind, iteration = {}, None
        for wn, value in zip(names, values):
            parts = wn.split(":")[0].split("/")
            last = parts[-1]
            if last in ("iteration", "iter", "iterations"):
                iteration = value
                continue
            kind = parts[1] if len(parts) > 2 and parts[1] in _SLOT_ALIASES else last
            if kind not in _SLOT_ALIASES:
                continue  # hyperparameters some Keras 2 optimizers stored (beta_1, decay, ...)
            by_kind.setdefault(_SLOT_ALIASES[kind], []).append(value)
        slots = getattr(opt, "_slots", {})
        pairs = []
        for s in slot_names:
            got = by_kind.get(s, [])
            if len(got) != len(targets):
                raise ValueError(f"slot '{s}': the file has {len(got)} values for {len(targets)} trainable variables")
            pairs.extend((slots[id(v)][s], value) for v, value in zip(targets, got))
        if iteration is not None:
            pairs.append((opt.iterations, iteration))
        return _match([v for v, _ in pairs], [ds for _, ds in pairs], f"{source}:/optimizer_weights",
                      f"Optimizer '{opt.name}'")
    except (ValueError, KeyError) as e:
        warnings.warn(f"Error in loading the saved optimizer state from {source} ({e}). As a result, your model is "
                      "starting with a freshly initialized optimizer.", stacklevel=3)
        return []


def _legacy_load(filepath, custom_objects, compile, safe_mode):
    from .models import Model
    with _open_h5(filepath, filepath, "HDF5 model file") as f:
        model_config = _h5_attr_json(f, "model_config", filepath)
        if model_config is None:
            raise ValueError(f"No model config found in the file at {filepath}: it is not a whole-model .h5 file "
                             "(a weights-only .h5 file loads with load_weights()).")
        ctx = _Ctx(custom_objects, safe_mode, source=filepath, legacy=True)
        model = _deserialize_top(model_config, ctx, compile=False, expected=("models", "layers"))
        if not isinstance(model, Model):
            raise ValueError(f"{filepath}: model_config describes a {type(model).__name__}, not a model.")
        if "model_weights" not in f:
            raise ValueError(f"{filepath}: the `model_weights` group is missing; the file is incomplete.")
        pairs = _legacy_load_weights(model, _safe_child(_h5py(), f, "model_weights", True, filepath), filepath)
        training_config = _h5_attr_json(f, "training_config", filepath) if compile else None
        if compile and training_config is None:
            warnings.warn(f"No training configuration found in {filepath}, so the model was *not* compiled. "
                          "Compile it manually.", stacklevel=2)
        elif compile:
            with _config_errors(ctx):
                compiled = _compile_from_config(model, training_config, ctx)
            if compiled and "optimizer_weights" in f:
                pairs += _legacy_load_optimizer(model, f, filepath)
        _read_and_assign(pairs, filepath)
    return model


def _legacy_entries(config):
    """Keras 3's legacy writer: layer entries are ``{"class_name", "config"}`` (plus name/inbound_nodes)."""
    out = dict(config)
    layers = []
    for entry in config.get("layers", []):
        e = {"class_name": entry["class_name"], "config": entry["config"]}
        if entry["class_name"] in ("Sequential", "Functional") and isinstance(entry["config"], dict):
            e["config"] = _legacy_entries(entry["config"])
        for key in ("name", "inbound_nodes"):
            if key in entry:
                e[key] = entry[key]
        layers.append(e)
    out["layers"] = layers
    return out


def _legacy_save(model, path, include_optimizer=True):
    h5py = _h5py()
    serialized = serialize_keras_object(model)
    version = _gpuflow_version()
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = "gpuflow"
        f.attrs["keras_version"] = version
        f.attrs["model_config"] = json.dumps({"class_name": serialized["class_name"],
                                              "config": _legacy_entries(serialized["config"])},
                                             default=_json_default).encode("utf8")
        compile_config = serialized.get("compile_config")
        if include_optimizer and compile_config:
            training = {k: v for k, v in compile_config.items() if k != "optimizer"}
            opt = compile_config["optimizer"]
            training["optimizer_config"] = {"class_name": opt["class_name"], "config": opt["config"]}
            f.attrs["training_config"] = json.dumps(training, default=_json_default).encode("utf8")
        group = f.create_group("model_weights")
        layers = _keras_layers(model)
        _h5_save_names(group, "layer_names", [l.name.encode("utf8") for l in layers])
        group.attrs["backend"] = b"gpuflow"
        group.attrs["keras_version"] = version.encode("utf8")
        for layer in sorted(layers, key=lambda l: l.name):
            _legacy_write_weights(group.create_group(layer.name), _legacy_layer_weights(layer), model.name)
        _legacy_write_weights(group.create_group("top_level_model_weights"), _own_variables(model), model.name)
        opt = getattr(model, "optimizer", None)
        if include_optimizer and opt is not None:
            variables = _optimizer_variables(opt, model)
            names = [f"{opt.name}/{v.name}".encode("utf8") for v in variables]
            names = _dedupe(names)
            g = f.create_group("optimizer_weights")
            _h5_save_names(g, "weight_names", names)
            for n, v in zip(names, variables):
                g.create_dataset(n.decode("utf8"), data=np.asarray(v.numpy()))


_HDF5_OBJECT_HEADER_LIMIT = 64512


def _h5_save_names(group, name, names):
    """Keras's ``save_attributes_to_hdf5_group``: a list too big for one HDF5 attribute goes in ``name0``, ``name1``..."""
    if not names:
        group.attrs[name] = np.zeros((0,), dtype="float64")  # what Keras writes for an empty list
        return
    data = np.asarray(names)
    chunks = [data]
    while any(c.nbytes > _HDF5_OBJECT_HEADER_LIMIT for c in chunks):
        if len(chunks) >= len(data):
            raise RuntimeError(f"The attribute `{name}` holds a name longer than {_HDF5_OBJECT_HEADER_LIMIT} bytes, "
                               "which HDF5 cannot store.")
        chunks = np.array_split(data, len(chunks) + 1)
    if len(chunks) == 1:
        group.attrs[name] = names
    else:
        for i, chunk in enumerate(chunks):
            group.attrs[f"{name}{i}"] = chunk


def _dedupe(names):
    out, seen = [], {}
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else n + f"_{k}".encode("utf8"))
    return out


def _legacy_write_weights(group, weights, model_name):
    names = _dedupe([f"{model_name}/{getattr(w, 'path', w.name)}".encode("utf8") for w in weights])
    _h5_save_names(group, "weight_names", names)
    for n, w in zip(names, weights):
        group.create_dataset(n.decode("utf8"), data=np.asarray(w.numpy()))
