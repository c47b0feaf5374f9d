"""``tf.train`` checkpoints: :class:`Checkpoint`, :class:`CheckpointManager`, :func:`latest_checkpoint`,
:func:`get_checkpoint_state`, :func:`list_variables`, :func:`load_variable`, :func:`load_checkpoint`,
:func:`checkpoints_iterator` (TensorFlow 2.21's behaviour).

A checkpoint saves the Variables reachable from its root object: Keras layers and models (their weights, sub-layers
and compiled optimizer), Keras optimizers (``iterations``, the learning rate and the slot variables, as the
``_variables`` list), ``tf.Variable``, ``tf.Module`` and nested Checkpoints, and lists, tuples and dicts of them.
Each object is named by its first shortest path from the root, in TensorFlow's scheme: attribute names, list
indices and dict keys (``net/blocks/1/kernel/.ATTRIBUTES/VARIABLE_VALUE``), a Sequential or functional model's layers
as tf.keras 2 names them (``model/layer_with_weights-0/kernel/...``; Keras 3 under TF 2.21 writes
``model/_functional/_operations/1/_kernel/...`` instead), an optimizer's ``_iterations``, ``_learning_rate`` and
``_variables/<i>`` as Keras 3 under TF 2.21. Restoring walks the saved object graph and the live one side by side,
matching children by name, so a variable that does not exist yet (a layer not built, optimizer slots made by the
first ``apply_gradients``) takes its saved value when it is created (TensorFlow's deferred restoration).

The files keep TensorFlow's names (``<prefix>.index``, ``<prefix>.data-00000-of-00001`` and the ``checkpoint`` state
file of :func:`latest_checkpoint`) but hold gpuflow's own format: HDF5 files written with h5py (the object graph as
JSON in the index, one dataset per variable in the data file), never pickles. TensorFlow's tensor-bundle checkpoints
cannot be read (a clear error says so); Keras weights move between the two through ``model.save_weights`` files.
"""
from __future__ import annotations

import codecs
import collections
import collections.abc
import json
import os
import re
import sys
import time
import uuid

import numpy as np

from . import errors
from ._unsupported import module_getattr
from .module import Module
from .tensor import Variable

__all__ = ["Checkpoint", "CheckpointManager", "CheckpointOptions", "latest_checkpoint", "get_checkpoint_state",
           "list_variables", "load_variable", "load_checkpoint", "checkpoints_iterator"]

_FORMAT = "gpuflow.train.Checkpoint"
_DATA_SUFFIX = ".data-00000-of-00001"
_VALUE = ".ATTRIBUTES/VARIABLE_VALUE"
_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_TF_BUNDLE_MAGIC = bytes.fromhex("57fb808b247547db")  # the footer of TensorFlow's table files (.index)
_PENDING = "_deferred_restores"  # attribute of an object whose saved children wait to be created


# -- the object graph ---------------------------------------------------------------------------------------------
def _keras_types():
    """Keras's Layer and Optimizer classes, each None while ``gpuflow.keras`` is not imported (then no instance
    exists, and checkpointing plain Variables does not import Keras)."""
    base, optimizers = (sys.modules.get(f"{__package__}.keras.{m}") for m in ("layers.base", "optimizers"))
    return getattr(base, "Layer", None), getattr(optimizers, "Optimizer", None)


def _isinstance(value, cls):
    return cls is not None and isinstance(value, cls)


def _is_trackable(value):
    if isinstance(value, (list, tuple)):
        return any(_is_trackable(v) for v in value)
    if isinstance(value, dict):
        return any(_is_trackable(v) for v in value.values())
    return isinstance(value, (Variable, Module, Checkpoint)) or any(_isinstance(value, c) for c in _keras_types())


def _container_children(value):
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return [(str(k), v) for k, v in items if _is_trackable(v)]


def _attribute_children(obj):
    return [(k, v) for k, v in vars(obj).items() if k != _PENDING and _is_trackable(v)]


def _layer_children(layer):
    """A Keras layer's dependencies: attributes holding its weights, sub-layers, Variables, Modules or an optimizer
    (lists and dicts of them when public), then weights held elsewhere by their name, then the sub-layers held
    elsewhere (a Sequential or functional model's) as ``layer_with_weights-<j>`` and ``layer-<i>``, TensorFlow's
    names for them."""
    Layer, Optimizer = _keras_types()
    sub = {id(x) for x in layer._layers}
    out, named = [], set()
    for attr, value in vars(layer).items():
        if attr in ("_layers", "_weights", _PENDING):
            continue
        if isinstance(value, Layer):
            keep = id(value) in sub
        elif isinstance(value, (Variable, Module, Checkpoint)) or _isinstance(value, Optimizer):
            keep = True
        else:
            keep = not attr.startswith("_") and isinstance(value, (list, tuple, dict)) and _is_trackable(value)
        if keep:
            out.append((attr, value))
            named.update(id(v) for v in (value.values() if isinstance(value, dict) else
                                         value if isinstance(value, (list, tuple)) else [value]))
    names = {n for n, _ in out}
    for w in layer._weights:
        if id(w) not in named:
            name, i = w.name, 1
            while name in names:
                name, i = f"{w.name}_{i}", i + 1
            names.add(name)
            out.append((name, w))
    rest = [x for x in layer._layers if id(x) not in named and type(x).__name__ != "InputLayer"]
    out += [(f"layer_with_weights-{j}", x) for j, x in enumerate(x for x in rest if x.weights)]
    out += [(f"layer-{i}", x) for i, x in enumerate(rest)]
    return out


def _optimizer_children(opt):
    """``_iterations``, ``_learning_rate`` (not with a schedule) and ``_variables`` (Keras's ``optimizer.variables``:
    slots indexed in creation order), plus ``inner_optimizer`` for a LossScaleOptimizer, as TensorFlow names them."""
    inner = getattr(opt, "inner_optimizer", None)
    own = getattr(opt, "_own_iterations", None)
    out = [("_iterations", opt.iterations if own is None else own)]
    if getattr(opt, "_schedule", None) is None and isinstance(getattr(opt, "_learning_rate", None), Variable):
        out.append(("_learning_rate", opt._learning_rate))
    variables = list(opt.variables)
    if inner is not None:
        inner_ids = {id(v) for v in inner.variables}
        variables = [v for v in variables if id(v) not in inner_ids]
        out.append(("inner_optimizer", inner))
    out.append(("_variables", variables))
    return out


def _children(obj):
    """``[(name, child), ...]``: the objects ``obj`` depends on, in order."""
    if isinstance(obj, Variable):
        return []
    if isinstance(obj, (list, tuple, dict)):
        return _container_children(obj)
    if isinstance(obj, Checkpoint):
        return obj._dependencies()
    Layer, Optimizer = _keras_types()
    if _isinstance(obj, Layer):
        return _layer_children(obj)
    if _isinstance(obj, Optimizer):
        return _optimizer_children(obj)
    return _attribute_children(obj)  # a tf.Module


def _escape(name):
    # TensorFlow's escaping of a name inside a path: "." doubled, "/" written "./"
    return name.replace(".", "..").replace("/", "./")


# -- files ----------------------------------------------------------------------------------------------------------
def _write_array(f, key, array):
    """Writes one variable's value (a dataset at ``key``; bfloat16 stored as its uint16 bits)."""
    if array.dtype.name == "bfloat16":
        f.create_dataset(key, data=array.view(np.uint16)).attrs["dtype"] = "bfloat16"
    else:
        f.create_dataset(key, data=array)


def _read_array(dataset):
    value = dataset[()]
    if dataset.attrs.get("dtype") == "bfloat16":
        from .dtypes import as_dtype
        value = np.asarray(value).view(as_dtype("bfloat16").as_numpy_dtype)
    return value


def _write_files(prefix, nodes, arrays):
    """Writes ``<prefix>.data-00000-of-00001`` and ``<prefix>.index`` through temporary files renamed into place,
    the index last: a save that fails midway leaves any checkpoint already at ``prefix`` whole."""
    import h5py  # imported when used: `import gpuflow` stays light
    directory = os.path.dirname(prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    token = uuid.uuid4().hex
    data, index = prefix + _DATA_SUFFIX, prefix + ".index"
    tmp_data, tmp_index = f"{data}.tmp{token}", f"{index}.tmp{token}"
    try:
        with h5py.File(tmp_data, "w") as f:
            f.attrs["token"] = token
            for key, array in arrays.items():
                _write_array(f, key, array)
        with h5py.File(tmp_index, "w") as f:
            f.attrs["format"], f.attrs["version"], f.attrs["token"] = _FORMAT, 1, token
            f.attrs["object_graph"] = json.dumps(nodes)
        os.replace(tmp_data, data)
        os.replace(tmp_index, index)
    finally:
        for p in (tmp_data, tmp_index):
            if os.path.exists(p):
                os.remove(p)


def _not_found(path):
    return errors.NotFoundError(None, None, f"Failed to find any matching files for {path}: expected the "
                                            f"checkpoint files '{path}.index' and '{path}{_DATA_SUFFIX}'.")


def _read_index(prefix):
    """The saved object graph (a list of nodes) and the token tying the index to its data file.

    Raises:
        NotFoundError: no ``<prefix>.index``.
        UnimplementedError: ``<prefix>.index`` is a TensorFlow tensor-bundle checkpoint.
        DataLossError: ``<prefix>.index`` is neither.
    """
    import h5py  # imported when used: `import gpuflow` stays light
    prefix = os.fspath(prefix)
    index = prefix + ".index"
    if not os.path.isfile(index):
        raise _not_found(prefix)
    expected = (f"Expected a gpuflow checkpoint: the HDF5 files '{prefix}.index' and '{prefix}{_DATA_SUFFIX}' that "
                "gpuflow.train.Checkpoint.save or write writes.")
    if not h5py.is_hdf5(index):
        with open(index, "rb") as f:
            f.seek(max(os.path.getsize(index) - 8, 0))
            tail = f.read()
        if tail == _TF_BUNDLE_MAGIC:
            raise errors.UnimplementedError(
                None, None, f"'{index}' is a TensorFlow checkpoint (a tensor bundle), which gpuflow cannot read. "
                f"{expected} To move Keras weights from TensorFlow, save them there with "
                "model.save_weights('model.weights.h5') and load that file with gpuflow's model.load_weights.")
        raise errors.DataLossError(None, None, f"'{index}' is not a checkpoint index gpuflow can read. {expected}")
    with h5py.File(index, "r") as f:
        if f.attrs.get("format") != _FORMAT:
            raise errors.DataLossError(None, None, f"'{index}' is an HDF5 file but not a gpuflow checkpoint index. "
                                                   f"{expected}")
        return json.loads(f.attrs["object_graph"]), f.attrs["token"]


def _read_values(prefix, nodes, token, keys=None):
    """``{node id: array}`` for the nodes holding a value (only those of ``keys`` when given)."""
    import h5py  # imported when used: `import gpuflow` stays light
    data = os.fspath(prefix) + _DATA_SUFFIX
    if not os.path.isfile(data):
        raise _not_found(prefix)
    with h5py.File(data, "r") as f:
        if f.attrs.get("token") != token:
            raise errors.DataLossError(None, None, f"'{data}' does not belong to the index '{prefix}.index' (a save "
                                                   "was interrupted between the two files, or they were mixed up).")
        return {i: _read_array(f[n["key"]]) for i, n in enumerate(nodes)
                if n.get("key") and (keys is None or n["key"] in keys)}


class CheckpointReader:
    """Reads the values of a gpuflow checkpoint by key (what :func:`load_checkpoint` returns; TensorFlow's
    ``CheckpointReader`` methods).

    Raises:
        NotFoundError, UnimplementedError, DataLossError: as :meth:`Checkpoint.read`.
    """

    def __init__(self, prefix):
        self._prefix = os.fspath(prefix)
        self._nodes, self._token = _read_index(self._prefix)
        self._entries = {n["key"]: n for n in self._nodes if n.get("key")}

    def get_variable_to_shape_map(self):
        """``{key: shape as a list of int}``, with TensorFlow's ``_CHECKPOINTABLE_OBJECT_GRAPH`` entry (shape
        ``[]``)."""
        return {_GRAPH_KEY: [], **{k: list(n["shape"]) for k, n in self._entries.items()}}

    def get_variable_to_dtype_map(self):
        """``{key: DType}`` of the values (the object-graph entry, a string in TensorFlow, left out)."""
        from .dtypes import as_dtype
        return {k: as_dtype(n["dtype"]) for k, n in self._entries.items()}

    def has_tensor(self, key):
        return key == _GRAPH_KEY or key in self._entries

    def get_tensor(self, key):
        """The NumPy value saved under ``key`` (the object graph, as JSON bytes, for ``_CHECKPOINTABLE_OBJECT_GRAPH``).

        Raises:
            NotFoundError: no such key (TensorFlow's "Key ... not found in checkpoint").
        """
        if key == _GRAPH_KEY:
            return json.dumps(self._nodes).encode()
        if key not in self._entries:
            raise errors.NotFoundError(None, None, f"Key {key} not found in checkpoint")
        return next(iter(_read_values(self._prefix, self._nodes, self._token, keys={key}).values()))


def load_checkpoint(ckpt_dir_or_file):
    """A :class:`CheckpointReader` of a checkpoint prefix, or of a directory's :func:`latest_checkpoint`
    (``tf.train.load_checkpoint``).

    Raises:
        ValueError: a directory with no checkpoint; as :class:`CheckpointReader` otherwise.
    """
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {path}")
        path = latest
    return CheckpointReader(path)


def list_variables(ckpt_dir_or_file):
    """The ``(name, shape)`` of every value in a checkpoint, sorted by name (``tf.train.list_variables``).

    Args:
        ckpt_dir_or_file: a checkpoint prefix, or a directory (its :func:`latest_checkpoint`).

    Returns:
        A list of ``(str, list of int)``, including TensorFlow's ``_CHECKPOINTABLE_OBJECT_GRAPH`` entry.

    Raises:
        as :func:`load_checkpoint`.
    """
    return sorted(load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map().items())


def load_variable(ckpt_dir_or_file, name):
    """The NumPy value saved under ``name`` (a key of :func:`list_variables`) (``tf.train.load_variable``).

    Raises:
        NotFoundError: no such key; as :func:`load_checkpoint` otherwise.
    """
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


# -- the checkpoint state file ("checkpoint", a CheckpointState text proto) -------------------------------------------
class CheckpointState:
    """The content of a ``checkpoint`` state file (TensorFlow's ``CheckpointState`` proto, as
    :func:`get_checkpoint_state` returns it: paths joined to the directory when relative)."""

    def __init__(self, model_checkpoint_path="", all_model_checkpoint_paths=(), all_model_checkpoint_timestamps=(),
                 last_preserved_timestamp=0.0):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps)
        self.last_preserved_timestamp = last_preserved_timestamp

    def __repr__(self):
        return _state_text(self)


def _quote(text):
    # protobuf's text format: C escapes, bytes outside printable ASCII in octal
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "'": "\\'", "\\": "\\\\"}.get(c) or
                   (c if 32 <= b < 127 else f"\\{b:03o}"))
    return '"' + "".join(out) + '"'


def _state_text(state):
    lines = [f"model_checkpoint_path: {_quote(state.model_checkpoint_path)}"]
    lines += [f"all_model_checkpoint_paths: {_quote(p)}" for p in state.all_model_checkpoint_paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in state.all_model_checkpoint_timestamps]
    if state.last_preserved_timestamp:
        lines.append(f"last_preserved_timestamp: {state.last_preserved_timestamp!r}")
    return "\n".join(lines) + "\n"


def _update_state(directory, latest, paths, timestamps=(), last_preserved=0.0, latest_filename=None):
    """Writes the state file with paths relative to ``directory`` (TensorFlow's ``save_relative_paths``),
    atomically (a temporary file renamed)."""
    def rel(p):
        return os.path.relpath(p, directory) if os.path.isabs(p) or directory else p
    path = os.path.join(directory, latest_filename or "checkpoint")
    text = _state_text(CheckpointState(rel(latest), [rel(p) for p in paths], timestamps, last_preserved))
    tmp = f"{path}.tmp{uuid.uuid4().hex}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The :class:`CheckpointState` of ``<checkpoint_dir>/checkpoint`` (``tf.train.get_checkpoint_state``), or None
    when there is no such file or it cannot be parsed.

    Raises:
        ValueError: the file names no ``model_checkpoint_path`` (TensorFlow's "Invalid checkpoint state").
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = os.path.join(checkpoint_dir, latest_filename or "checkpoint")
    if not os.path.isfile(path):
        return None
    state = CheckpointState()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.fullmatch(r'\s*(\w+)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(\S+))\s*', line)
            if not line.strip():
                continue
            if m is None:
                return None  # TensorFlow logs the parse error and ignores the file
            field, text, number = m.groups()
            value = codecs.escape_decode(text.encode("utf-8"))[0].decode("utf-8") if text is not None else number
            if field == "model_checkpoint_path":
                state.model_checkpoint_path = value
            elif field == "all_model_checkpoint_paths":
                state.all_model_checkpoint_paths.append(value)
            elif field == "all_model_checkpoint_timestamps":
                state.all_model_checkpoint_timestamps.append(float(value))
            elif field == "last_preserved_timestamp":
                state.last_preserved_timestamp = float(value)
    if not state.model_checkpoint_path:
        raise ValueError("Invalid checkpoint state loaded from " + checkpoint_dir)
    state.model_checkpoint_path = os.path.join(checkpoint_dir, state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [os.path.join(checkpoint_dir, p) for p in state.all_model_checkpoint_paths]
    return state


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the newest checkpoint named by ``<checkpoint_dir>/checkpoint`` (``tf.train.latest_checkpoint``),
    or None when there is no state file or its checkpoint's ``.index`` is missing."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state and os.path.exists(state.model_checkpoint_path + ".index"):
        return state.model_checkpoint_path
    return None


def _wait_for_new_checkpoint(checkpoint_dir, last_checkpoint=None, seconds_to_sleep=1, timeout=None):
    """The latest checkpoint once it differs from ``last_checkpoint``, polling every ``seconds_to_sleep``; None after
    ``timeout`` seconds (TensorFlow's ``wait_for_new_checkpoint``)."""
    stop_time = time.time() + timeout if timeout is not None else None
    while True:
        path = latest_checkpoint(checkpoint_dir)
        if path is not None and path != last_checkpoint:
            return path
        if stop_time is not None and time.time() + seconds_to_sleep > stop_time:
            return None
        time.sleep(seconds_to_sleep)


def checkpoints_iterator(checkpoint_dir, min_interval_secs=0, timeout=None, timeout_fn=None):
    """Yields each new :func:`latest_checkpoint` of ``checkpoint_dir`` as it appears (``tf.train.checkpoints_iterator``,
    TensorFlow's logic).

    Args:
        checkpoint_dir: the directory written by a :class:`CheckpointManager` or :meth:`Checkpoint.save`.
        min_interval_secs: the least number of seconds between two yields.
        timeout: the most seconds to wait for a new checkpoint (None: forever).
        timeout_fn: called after a timeout (and after each yield); a true result ends the iteration. Without it, a
            timeout ends the iteration.

    Yields:
        Checkpoint prefixes (str).
    """
    path = None
    while True:
        new_path = _wait_for_new_checkpoint(checkpoint_dir, path, timeout=timeout)
        if new_path:
            start = time.time()
            path = new_path
            yield path
            wait = start + min_interval_secs - time.time()
            if wait > 0:
                time.sleep(wait)
        elif timeout_fn is None:
            return
        if timeout_fn is not None and timeout_fn():
            return


# -- restoring ------------------------------------------------------------------------------------------------------
class _LoadStatus:
    def expect_partial(self):
        """Silences warnings about values left unused (gpuflow prints none); returns the status."""
        return self

    def initialize_or_restore(self, session=None):
        """Eager: restoring already happened; nothing to run."""


class CheckpointLoadStatus(_LoadStatus):
    """What :meth:`Checkpoint.read` / :meth:`Checkpoint.restore` return: the restoration's state, with TensorFlow's
    assertions. Values whose objects do not exist yet are assigned when those objects are created (a layer's
    build, an optimizer's build or ``apply_gradients``, ``Checkpoint.save_counter``, a Checkpoint attribute)."""

    def __init__(self, checkpoint, path, nodes, values):
        self._checkpoint, self._path, self._nodes, self._values = checkpoint, path, nodes, values
        self._bound = {}  # saved node id -> the live object matched to it
        self._restored = set()  # id() of the Variables given a value
        self._anchors = []  # live objects marked as waiting (the _PENDING attribute)
        self._walk()

    def _walk(self):
        """Matches the live graph to the saved one from the root, assigning the values not yet assigned; marks the
        objects whose saved children do not exist yet, and the objects above them, for :func:`restore_deferred`."""
        visited, keep, waiting = set(), [], {}
        root = self._checkpoint._graph_root()

        def visit(live, sid, anchors):
            if (id(live), sid) in visited:
                return
            visited.add((id(live), sid))
            keep.append(live)  # live containers may be temporary: their ids must stay unique during the walk
            node = self._nodes[sid]
            if not isinstance(live, (list, tuple, dict)):
                prev = self._bound.get(sid)
                if prev is None:
                    if node.get("key") and not isinstance(live, Variable):
                        return  # the program changed: a value saved where there is no variable now
                    if node.get("key"):
                        self._assign(live, node, self._values[sid])
                        del self._values[sid]
                    self._bound[sid] = live
                elif prev is not live:
                    return  # matched to another object already (TensorFlow's rule: the first match wins)
                if hasattr(live, "__dict__"):
                    anchors = anchors + (live,)
            kids = dict(self._checkpoint._children_of(live))
            for name, csid in node["children"]:
                if name in kids:
                    visit(kids[name], csid, anchors)
                else:  # marked with every owner above it: building any of them (a model, a layer) retries
                    waiting.update((id(a), a) for a in anchors)

        visit(root, 0, ())
        for a in self._anchors:
            mark = a.__dict__.get(_PENDING)
            if mark is not None and self in mark.statuses:
                mark.statuses.remove(self)
                if not mark.statuses:
                    del a.__dict__[_PENDING]
        self._anchors = list(waiting.values())
        for a in self._anchors:
            a.__dict__.setdefault(_PENDING, _Waiting()).statuses.append(self)

    def _assign(self, var, node, value):
        value = np.asarray(value)
        if tuple(var.shape) != value.shape:
            raise ValueError(f"Checkpoint '{self._path}': the saved value '{node['key']}' does not fit the variable "
                             f"'{var.path}'. Expected: shape={tuple(var.shape)} (the variable's). Received: "
                             f"shape={value.shape} (saved).")
        var.assign(value.astype(var.dtype.as_numpy_dtype, copy=False))
        self._restored.add(id(var))

    def _path_names(self):
        names = {0: ""}
        for sid, node in enumerate(self._nodes):  # the nodes are numbered breadth first: parents come first
            for name, csid in node["children"]:
                names.setdefault(csid, (names[sid] + "/" if names[sid] else "") + _escape(name))
        return names

    def _unmatched_variables(self):
        out, seen, keep, queue = [], set(), [], collections.deque([(self._checkpoint._graph_root(), "")])
        while queue:
            obj, path = queue.popleft()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            keep.append(obj)  # temporary containers (an optimizer's variable list) keep their ids unique
            if isinstance(obj, Variable) and id(obj) not in self._restored:
                out.append(f"{path} ({obj!r})")
            queue.extend((c, (path + "/" if path else "") + _escape(n)) for n, c in self._checkpoint._children_of(obj))
        return out

    def assert_consumed(self):
        """Raises unless every saved value was assigned and every Variable reachable from the root got one.

        Raises:
            AssertionError: naming the unresolved saved objects or the unmatched variables (TensorFlow's message).
        """
        self.assert_existing_objects_matched()
        names = self._path_names()
        for sid, node in enumerate(self._nodes):
            if node.get("key") and sid not in self._bound:
                raise AssertionError(f"Unresolved object in checkpoint {names[sid]}: saved with shape "
                                     f"{node['shape']} in {self._path}")
        return self

    def assert_existing_objects_matched(self):
        """Raises if a Variable reachable from the root now has no value from the checkpoint (values saved for
        objects that do not exist, e.g. a layer not built yet, are allowed).

        Raises:
            AssertionError: TensorFlow's "Found N Python objects that were not bound to checkpointed values ...".
        """
        self._walk()
        unmatched = self._unmatched_variables()
        if unmatched:
            n = min(10, len(unmatched))
            raise AssertionError(f"Found {len(unmatched)} Python objects that were not bound to checkpointed values, "
                                 "likely due to changes in the Python program. Showing "
                                 f"{n} of {len(unmatched)} unmatched objects: {unmatched[:n]}")
        return self

    def assert_nontrivial_match(self):
        """Raises if nothing but the root object matched (TensorFlow's messages)."""
        self._walk()
        if len(self._bound) <= 1:
            unmatched = self._unmatched_variables()
            if unmatched:
                raise AssertionError("Nothing except the root object matched a checkpointed value. Typically this "
                                     "means that the checkpoint does not match the Python program. The following "
                                     f"objects have no matching checkpointed value: {unmatched}")
            raise AssertionError(f"Nothing to load. No dependencies have been added to "
                                 f"{self._checkpoint._graph_root()} yet.")
        return self

    def run_restore_ops(self, session=None):
        """Eager: the values are already assigned; nothing to run."""


class InitializationOnlyStatus(_LoadStatus):
    """What ``Checkpoint.restore(None)`` returns: every assertion fails, as TensorFlow's."""

    _MESSAGE = "No checkpoint specified (save_path=None); nothing is being restored."

    def assert_consumed(self):
        raise AssertionError(self._MESSAGE)

    assert_existing_objects_matched = assert_nontrivial_match = assert_consumed

    def run_restore_ops(self, session=None):
        raise AssertionError("No checkpoint specified, so no restore ops are available "
                             "(save_path=None to Saver.restore).")


class _Waiting:
    """The mark of an object some restore waits on: those restores' statuses, and the ``version`` of the object at
    the last retry."""

    def __init__(self):
        self.statuses, self.version = [], None


def restore_deferred(obj, version=None):
    """Assigns the saved values waiting for ``obj``'s new variables (called once ``obj`` has created them: a layer
    built, an optimizer's slots made). Cheap: nothing happens unless a restore marked ``obj``, nor when ``version``
    (e.g. a count of variables) is the one of the last retry."""
    waiting = getattr(obj, "__dict__", {}).get(_PENDING)
    if waiting is None or (version is not None and version == waiting.version):
        return
    del obj.__dict__[_PENDING]
    for status in waiting.statuses:
        status._walk()
    if _PENDING in obj.__dict__:
        obj.__dict__[_PENDING].version = version


# -- Checkpoint -----------------------------------------------------------------------------------------------------
class CheckpointOptions:
    """``tf.train.CheckpointOptions``: accepted for compatibility; gpuflow writes synchronously to local files, so
    only ``experimental_write_callbacks`` (called with the path after each write) has an effect."""

    def __init__(self, experimental_io_device=None, experimental_enable_async_checkpoint=False,
                 experimental_write_callbacks=None, enable_async=False, experimental_sharding_callback=None,
                 experimental_skip_slot_variables=False):
        self.experimental_io_device = experimental_io_device
        self.experimental_enable_async_checkpoint = experimental_enable_async_checkpoint or enable_async
        self.enable_async = self.experimental_enable_async_checkpoint
        self.experimental_write_callbacks = experimental_write_callbacks
        self.experimental_sharding_callback = experimental_sharding_callback
        self.experimental_skip_slot_variables = experimental_skip_slot_variables


class Checkpoint:
    """Saves and restores Variables and the objects holding them (``tf.train.Checkpoint``).

    Args:
        root: optional object whose dependencies are the checkpoint's top level (the keyword arguments and
            ``save_counter`` are attached to it).
        **kwargs: the objects to save, by name: Keras models, layers and optimizers, ``tf.Variable``,
            ``tf.Module``, Checkpoints, or lists/tuples/dicts of them. Attributes set later (``ckpt.x = var``) are
            saved too.

    Attributes:
        save_counter: an int64 Variable, incremented by :meth:`save` (created on first use).

    Raises:
        ValueError: ``root`` or a keyword argument not trackable, or a keyword argument naming an attribute of
            ``root`` that holds another object (TensorFlow's messages).
    """

    def __init__(self, root=None, **kwargs):
        object.__setattr__(self, "_deps", {})
        object.__setattr__(self, "_save_counter", None)
        object.__setattr__(self, "_root", root)
        if root is not None:
            _assert_trackable(root, "root")
            object.__setattr__(self, "root", root)
            for k, v in kwargs.items():
                child = dict(_children(root)).get(k)
                if child is not None and child is not v:
                    raise ValueError(f"Cannot create a Checkpoint with keyword argument {k} if root.{k} already "
                                     "exists.")
        for k in sorted(kwargs):
            _assert_trackable(kwargs[k], k)
            setattr(self, k, kwargs[k])

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if not name.startswith("_"):
            self._deps.pop(name, None)
            if _is_trackable(value):
                self._deps[name] = value
                restore_deferred(self._graph_root())

    def _graph_root(self):
        return self if self._root is None else self._root

    def _dependencies(self):
        out = list(self._deps.items())
        if self._root is not None:
            out.insert(0, ("root", self._root))
        if self._save_counter is not None:
            out.append(("save_counter", self._save_counter))
        return out

    def _children_of(self, obj):
        # the graph root's dependencies: root's own, then this checkpoint's keyword arguments and save_counter
        if obj is self._root and obj is not None:
            own = _children(obj)
            names = {n for n, _ in own}
            return own + [(n, c) for n, c in self._dependencies() if n != "root" and n not in names]
        return _children(obj)

    @property
    def save_counter(self):
        """The number of :meth:`save` calls (an int64 Variable; also restored by :meth:`restore`)."""
        if self._save_counter is None:
            object.__setattr__(self, "_save_counter",
                               Variable(np.int64(0), trainable=False, name="save_counter", dtype="int64"))
            restore_deferred(self._graph_root())
        return self._save_counter

    def _serialize(self):
        """The object graph breadth first from the root (TensorFlow's naming: an object is named by its first
        shortest path) and ``{key: array}`` for the Variables."""
        root = self._graph_root()
        ids, nodes, keep, arrays = {id(root): 0}, [{"children": []}], [root], {}
        queue = collections.deque([(root, "")])
        while queue:
            obj, path = queue.popleft()
            node = nodes[ids[id(obj)]]
            if isinstance(obj, Variable):
                node["key"] = (path + "/" if path else "") + _VALUE
                node["shape"], node["dtype"] = list(obj.shape), obj.dtype.name
                arrays[node["key"]] = np.asarray(obj.numpy())
            for name, child in self._children_of(obj):
                if id(child) not in ids:
                    ids[id(child)] = len(nodes)
                    nodes.append({"children": []})
                    keep.append(child)
                    queue.append((child, (path + "/" if path else "") + _escape(name)))
                node["children"].append([name, ids[id(child)]])
        return nodes, arrays

    def write(self, file_prefix, options=None):
        """Writes a checkpoint at ``file_prefix`` (no number, ``save_counter`` and the state file untouched).

        Args:
            file_prefix: path prefix (str or PathLike); its directory is created if missing.
            options: optional :class:`CheckpointOptions`.

        Returns:
            ``file_prefix`` as a str. ``<file_prefix>.index`` and ``<file_prefix>.data-00000-of-00001`` are written
            through temporary files: a failed write leaves the previous files at that prefix whole.
        """
        file_prefix = os.fspath(file_prefix)
        _write_files(file_prefix, *self._serialize())
        for callback in (options.experimental_write_callbacks or []) if options is not None else []:
            callback(file_prefix)
        return file_prefix

    def save(self, file_prefix, options=None):
        """Increments :attr:`save_counter`, writes ``<file_prefix>-<save_counter>`` and records it in the directory's
        ``checkpoint`` state file (for :func:`latest_checkpoint`).

        Returns:
            The checkpoint's path prefix (str), e.g. ``"/tmp/ckpt-1"``.
        """
        self.save_counter.assign_add(1)
        path = self.write(f"{os.fspath(file_prefix)}-{int(self.save_counter.numpy())}", options)
        _update_state(os.path.dirname(path), path, [path])
        return path

    def read(self, save_path, options=None):
        """Restores the objects' values from a checkpoint written by :meth:`write` or :meth:`save`.

        Args:
            save_path: the checkpoint's prefix (as :meth:`write` / :meth:`save` / :func:`latest_checkpoint` give).

        Returns:
            A :class:`CheckpointLoadStatus`.

        Raises:
            NotFoundError: no checkpoint at ``save_path``.
            UnimplementedError: ``save_path`` is a TensorFlow tensor-bundle checkpoint (gpuflow reads its own
                format only).
            DataLossError: a file that is neither, or an index and data file from different saves.
            ValueError: a saved value whose shape differs from its variable's (naming both shapes).
        """
        save_path = os.fspath(save_path)
        nodes, token = _read_index(save_path)
        return CheckpointLoadStatus(self, save_path, nodes, _read_values(save_path, nodes, token))

    def restore(self, save_path, options=None):
        """:meth:`read`, for checkpoints written by :meth:`save`; ``save_path=None`` restores nothing and returns a
        status whose assertions fail (TensorFlow's ``InitializationOnlyStatus``).

        Raises:
            NotFoundError: no checkpoint at ``save_path`` (TensorFlow's message, suggesting the ``-N`` suffix);
                otherwise as :meth:`read`.
        """
        if save_path is None:
            return InitializationOnlyStatus()
        self.save_counter  # noqa: B018  (created now, so that it is restored with the rest)
        try:
            return self.read(save_path, options)
        except errors.NotFoundError as e:
            raise errors.NotFoundError(
                None, None, f"Error when restoring from checkpoint or SavedModel at {save_path}: {e.message}\nPlease "
                "double-check that the path is correct. You may be missing the checkpoint suffix (e.g. the '-1' in "
                "'path/to/ckpt-1').") from None

    def sync(self):
        """Waits for pending writes (gpuflow writes synchronously: returns at once)."""


def _assert_trackable(obj, name):
    if not _is_trackable(obj):
        hint = (" gpuflow cannot save an iterator's position (TensorFlow saves a tf.data iterator's): leave it out of "
                "the Checkpoint; to resume mid-epoch, keep the step in a tf.Variable and skip that many elements."
                if isinstance(obj, collections.abc.Iterator) else "")
        raise ValueError(f"`Checkpoint` was expecting {name} to be a trackable object (an object derived from "
                         f"`Trackable`), got {obj}. If you believe this object should be trackable (i.e. it is part "
                         f"of the TensorFlow Python API and manages state), please open an issue.{hint}")


# -- CheckpointManager ----------------------------------------------------------------------------------------------
class CheckpointManager:
    """Saves numbered checkpoints in a directory and deletes old ones (``tf.train.CheckpointManager``, TensorFlow
    2.21's logic: state kept in the directory's ``checkpoint`` file, so a new manager continues where one stopped).

    Args:
        checkpoint: the :class:`Checkpoint` to save.
        directory: where checkpoints and the ``checkpoint`` state file go.
        max_to_keep: how many checkpoints to keep (oldest deleted first); None keeps all.
        keep_checkpoint_every_n_hours: a checkpoint leaving the kept set is preserved on disk if at least this many
            hours passed since the last one preserved.
        checkpoint_name: the file prefix (``<directory>/<checkpoint_name>-<number>``).
        step_counter: a Variable read by :meth:`save` when ``checkpoint_interval`` is set.
        checkpoint_interval: the minimum number of steps between two saves.
        init_fn: called by :meth:`restore_or_initialize` when there is no checkpoint.
        last_checkpoint_step: the step of the last checkpoint, for ``checkpoint_interval``.

    Raises:
        ValueError: ``max_to_keep`` not positive, or ``checkpoint_interval`` without ``step_counter`` (TensorFlow's
            messages).
    """

    def __init__(self, checkpoint, directory, max_to_keep, keep_checkpoint_every_n_hours=None,
                 checkpoint_name="ckpt", step_counter=None, checkpoint_interval=None, init_fn=None,
                 last_checkpoint_step=None):
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(f"Expected a positive integer or `None` for `max_to_keep`, got {max_to_keep}.")
        if checkpoint_interval is not None and step_counter is None:
            raise ValueError("`step_counter` should be passed if `checkpoint_interval` is not None.")
        self._checkpoint, self._max_to_keep = checkpoint, max_to_keep
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._directory = os.fspath(directory)
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._init_fn, self._step_counter, self._checkpoint_interval = init_fn, step_counter, checkpoint_interval
        self._last_checkpoint_step = last_checkpoint_step
        state, now = get_checkpoint_state(self._directory), time.time()
        self._maybe_delete = collections.OrderedDict()
        if state is None:
            self._latest_checkpoint, self._last_preserved_timestamp = None, now - 1.0
        else:
            self._latest_checkpoint = state.model_checkpoint_path
            self._last_preserved_timestamp = min(state.last_preserved_timestamp, now)
            stamps = state.all_model_checkpoint_timestamps or \
                [self._last_preserved_timestamp] * len(state.all_model_checkpoint_paths)
            for path, stamp in zip(state.all_model_checkpoint_paths, stamps):
                if min(stamp, now) > self._last_preserved_timestamp:
                    self._maybe_delete[path] = min(stamp, now)

    @property
    def directory(self):
        return self._directory

    @property
    def checkpoint(self):
        return self._checkpoint

    @property
    def checkpoint_interval(self):
        return self._checkpoint_interval

    @property
    def latest_checkpoint(self):
        """The prefix of the newest checkpoint (None if none), for :meth:`Checkpoint.restore`."""
        return self._latest_checkpoint

    @property
    def checkpoints(self):
        """The kept checkpoints' prefixes, oldest first (those preserved by ``keep_checkpoint_every_n_hours`` not
        listed)."""
        return list(self._maybe_delete)

    def _record_state(self):
        _update_state(self._directory, self._latest_checkpoint, list(self._maybe_delete),
                      list(self._maybe_delete.values()), self._last_preserved_timestamp)

    def _sweep(self):
        if not self._max_to_keep:
            return
        while len(self._maybe_delete) > self._max_to_keep:
            path, stamp = self._maybe_delete.popitem(last=False)
            hours = self._keep_checkpoint_every_n_hours
            if hours and stamp - hours * 3600.0 >= self._last_preserved_timestamp:
                self._last_preserved_timestamp = stamp
                continue
            for suffix in (".index", _DATA_SUFFIX):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        """Saves ``<directory>/<checkpoint_name>-<n>`` (``n``: ``checkpoint_number``, else the checkpoint's
        incremented ``save_counter``), updates the state file and deletes the checkpoints beyond ``max_to_keep``.

        Args:
            checkpoint_number: optional int (or integer Variable/Tensor) numbering the file; ``save_counter`` is
                incremented either way.
            check_interval: with ``checkpoint_interval``: False saves even if the interval has not passed (never
                twice at one step).

        Returns:
            The new checkpoint's prefix, or None when ``checkpoint_interval`` skipped the save.
        """
        if self._checkpoint_interval is not None:
            step = int(np.asarray(self._step_counter.numpy()))
            if self._last_checkpoint_step is not None:
                if step == self._last_checkpoint_step:
                    return None
                if check_interval and step < self._last_checkpoint_step + self._checkpoint_interval:
                    return None
            self._last_checkpoint_step = step
        counter = self._checkpoint.save_counter
        counter.assign_add(1)
        number = counter if checkpoint_number is None else checkpoint_number
        number = int(np.asarray(number.numpy() if hasattr(number, "numpy") else number))
        path = self._checkpoint.write(f"{self._prefix}-{number}", options)
        self._maybe_delete.pop(path, None)
        self._maybe_delete[path] = time.time()
        self._latest_checkpoint = path
        self._record_state()  # first with the new checkpoint, then without the deleted ones (TensorFlow's order)
        self._sweep()
        self._record_state()
        return path

    def restore_or_initialize(self):
        """Restores the latest checkpoint and returns its path, or calls ``init_fn`` (if given) and returns None."""
        if self._latest_checkpoint is not None:
            self._checkpoint.restore(self._latest_checkpoint)
            if self._checkpoint_interval is not None:
                self._last_checkpoint_step = int(np.asarray(self._step_counter.numpy()))
            return self._latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None

    def sync(self):
        """Waits for pending writes (none in gpuflow)."""


_TF_TRAIN = """
BytesList Checkpoint CheckpointManager CheckpointOptions CheckpointView ClusterDef ClusterSpec Coordinator Example
ExponentialMovingAverage Feature FeatureList FeatureLists Features FloatList Int64List JobDef SequenceExample ServerDef
TrackableView checkpoints_iterator experimental get_checkpoint_state latest_checkpoint list_variables load_checkpoint
load_variable
"""
__getattr__ = module_getattr(__name__, "tf.train", _TF_TRAIN)
