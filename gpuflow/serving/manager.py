"""Servables and their versions, as TF Serving's manager keeps them.

A model (one ``ModelConfig``) has a base path holding one directory per version, named by a
non-negative integer: ``<base_path>/<version>/model.keras`` (:meth:`gpuflow.keras.Model.export`
writes it; a single other ``*.keras`` file in the directory is taken too). :class:`Manager` polls the
base paths: a new version directory is loaded in the poll thread, in the background of the requests,
and answers once loaded. The version policy picks which versions stay loaded: ``latest`` N (default 1),
``all``, or ``specific`` versions. Loading before unloading keeps a model available: a version that
fails to load is reported (state ``END`` with the error in the status API), is skipped by the policy,
and is tried again only when its file changes, so it never takes down a version already serving. A
version that leaves the policy (removed from disk, or no longer among the latest) stops taking new
requests at once and is unloaded after its in-flight requests finish. A directory with no ``.keras``
file yet is not a version yet (no status; polled again).

Version labels (``version_labels`` in the config) map a label to a version.
"""
from __future__ import annotations

import contextlib
import glob
import logging
import os
import threading
from dataclasses import dataclass

import numpy as np

from ..backend import cpu_runtime
from .tensors import ServingError, invalid

log = logging.getLogger("gpuflow.serving")

SIGNATURE_NAME = "serving_default"
# ModelVersionStatus.State (tensorflow_serving/apis/get_model_status.proto)
START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of the serving signature: ``shape`` has ``None`` for the batch axis and any
    other unknown dimension."""
    name: str
    dtype: np.dtype
    shape: tuple


class Signature:
    """The ``serving_default`` signature of a Keras model: inputs named as the model's Input layers,
    outputs as the layers that produce them (tf.keras 2's SavedModel names), in the model's order."""

    def __init__(self, inputs, outputs):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.input_names = {s.name: s for s in self.inputs}

    @classmethod
    def from_model(cls, model):
        def spec(t, name):
            return TensorSpec(name, np.dtype(t.dtype), tuple(t.shape))
        inputs = [spec(t, t._history[0].name if t._history else (t.name or f"input_{i}"))
                  for i, t in enumerate(model.inputs)]
        outputs, seen = [], set()
        for i, t in enumerate(model.outputs):
            name = t._history[0].name if t._history else f"output_{i}"
            name = f"output_{i}" if name in seen else name
            seen.add(name)
            outputs.append(spec(t, name))
        return cls(inputs, outputs)

    def check_inputs(self, arrays):
        """Checks named input arrays against the signature and casts them to its dtypes.

        Args:
            arrays: dict input name -> array, batch axis first.

        Returns:
            ``(inputs, rows)``: the arrays in signature order as a dict, and the batch size.

        Raises:
            ServingError: INVALID_ARGUMENT for an unknown or missing input name, a dtype that does not cast
                (same kind: int to float is fine, float to int is not), a rank or fixed dimension that
                differs, or inputs with different batch sizes.
        """
        unknown = sorted(set(arrays) - set(self.input_names))
        missing = [s.name for s in self.inputs if s.name not in arrays]
        if unknown or missing:
            raise invalid(f"Expected inputs {[s.name for s in self.inputs]}. Received: {sorted(arrays)}"
                          + (f" (unknown: {unknown})" if unknown else "")
                          + (f" (missing: {missing})" if missing else ""))
        out, rows = {}, None
        for s in self.inputs:
            a = np.asarray(arrays[s.name])
            if a.dtype != s.dtype:
                if not np.can_cast(a.dtype, s.dtype, "same_kind"):
                    raise invalid(f"Input '{s.name}' expects dtype {s.dtype.name}. Received: dtype={a.dtype.name}")
                a = a.astype(s.dtype)
            if a.ndim != len(s.shape) or any(d is not None and d != n for d, n in zip(s.shape, a.shape)):
                raise invalid(f"Input '{s.name}' expects shape {_fmt(s.shape)}. Received: shape={a.shape}")
            if rows is not None and a.shape[0] != rows:
                raise invalid(f"Expected the same batch size for every input. Received: {a.shape[0]} rows for "
                              f"'{s.name}' and {rows} before")
            rows = a.shape[0]
            out[s.name] = a
        return out, rows


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Servable:
    """One loaded version of a model: ``run`` computes its outputs. Calls are serialized by a lock (a
    version runs one batch at a time; the backend parallelizes within an op)."""

    def __init__(self, name, version, path, model):
        self.name, self.version, self.path, self.model = name, version, path, model
        self.signature = Signature.from_model(model)
        self._lock = threading.Lock()
        self._inflight = 0
        self._idle = threading.Condition()
        self.batcher = None  # set by the runner that batches this version's requests

    def run(self, inputs):
        """Outputs of the model: dict output name -> NumPy array, for inputs checked by
        :meth:`Signature.check_inputs` (dict input name -> array)."""
        args = [inputs[s.name] for s in self.signature.inputs]
        # BLAS on one thread: the NumPy backend parallelizes over the batch itself, and OpenBLAS's own threads
        # busy-wait between a request's small GEMMs (seed CNN, batch 1: ~10x the CPU time, 3x the latency)
        with self._lock, cpu_runtime.single_threaded():
            out = self.model(args if len(args) > 1 else args[0], training=False)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return {s.name: np.asarray(o.numpy() if hasattr(o, "numpy") else o)
                for s, o in zip(self.signature.outputs, outs)}

    def _enter(self):
        with self._idle:
            self._inflight += 1

    def _exit(self):
        with self._idle:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.notify_all()

    def wait_idle(self):
        """Blocks until no request holds this version."""
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0)


class _Version:
    def __init__(self, version):
        self.version = version
        self.state = START
        self.error = ""
        self.servable = None
        self.failed_file = None  # (path, mtime_ns, size) of the file that failed to load


def _model_file(directory):
    """The .keras file of a version directory (model.keras, else the only *.keras file), or None."""
    preferred = os.path.join(directory, "model.keras")
    if os.path.isfile(preferred):
        return preferred
    found = glob.glob(os.path.join(glob.escape(directory), "*.keras"))
    return found[0] if len(found) == 1 else None


def _file_id(path):
    st = os.stat(path)
    return (path, st.st_mtime_ns, st.st_size)


def scan_versions(base_path):
    """dict version -> model file of the version directories under ``base_path`` that hold a .keras file."""
    try:
        names = os.listdir(base_path)
    except OSError:
        return {}
    found = {}
    for n in names:
        if n.isdigit() and os.path.isdir(os.path.join(base_path, n)):
            path = _model_file(os.path.join(base_path, n))
            if path is not None:
                found[int(n)] = path
    return found


def policy_versions(config, candidates):
    """The versions the config's ``model_version_policy`` keeps loaded, out of ``candidates``."""
    policy = config.model_version_policy
    which = policy.WhichOneof("policy_choice")
    if which == "all":
        return set(candidates)
    if which == "specific":
        return set(policy.specific.versions) & set(candidates)
    n = policy.latest.num_versions if which == "latest" and policy.latest.num_versions else 1
    return set(sorted(candidates)[-n:])


class _Model:
    def __init__(self, config):
        self.config = config
        self.versions = {}  # version -> _Version
        self.serving = {}  # version -> Servable (AVAILABLE)


class Manager:
    """Loads, serves and unloads the versions of the models in ``configs`` (``ModelConfig`` messages).

    ``start()`` polls once (so the models are loaded when the server opens its ports, as TF Serving
    does), then polls every ``poll_wait_seconds`` in a daemon thread (``poll_wait_seconds <= 0``: only
    the first poll). ``load_model`` loads a file into a model (default: ``gpuflow.keras.models.load_model``
    without compiling).
    """

    def __init__(self, configs, poll_wait_seconds=1.0, load_model=None):
        self._models = {c.name: _Model(c) for c in configs}
        self._poll_wait = poll_wait_seconds
        self._load_model = load_model or _load_keras
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._unloaders = []

    # -- polling ----------------------------------------------------------------------------------
    def start(self):
        self.poll()
        if self._poll_wait > 0:
            self._thread = threading.Thread(target=self._poll_loop, name="gpuflow-serving-poll", daemon=True)
            self._thread.start()

    def _poll_loop(self):
        while not self._stop.wait(self._poll_wait):
            try:
                self.poll()
            except Exception:  # a poll that fails (a file system error) is logged and retried next time
                log.exception("polling the model base paths failed")

    def poll(self):
        """One pass over every model's base path: loads new versions, unloads those the policy drops."""
        for m in self._models.values():
            self._refresh(m)

    def _candidates(self, m, on_disk):
        out = set()
        for v, path in on_disk.items():
            rec = m.versions.get(v)
            if rec is None or rec.failed_file is None or rec.failed_file != _file_id(path):
                out.add(v)
        return out

    def _refresh(self, m):
        on_disk = scan_versions(m.config.base_path)
        wanted = policy_versions(m.config, self._candidates(m, on_disk))
        for v in sorted(wanted - set(m.serving), reverse=True):
            if self._stop.is_set():
                return
            self._load(m, v, on_disk[v])
        keep = policy_versions(m.config, self._candidates(m, on_disk))
        for v in sorted(set(m.serving) - keep):
            self._unload(m, v)

    def _load(self, m, version, path):
        with self._lock:
            rec = m.versions.setdefault(version, _Version(version))
            rec.state, rec.error = LOADING, ""
        file_id = _file_id(path)
        try:
            servable = Servable(m.config.name, version, path, self._load_model(path))
        except Exception as e:  # any failure of a user's file: reported, never fatal to the server
            log.error("model %r version %d failed to load from %s: %s", m.config.name, version, path, e)
            with self._lock:
                rec.state, rec.error, rec.failed_file = END, f"{type(e).__name__}: {e}", file_id
            return
        with self._lock:
            rec.state, rec.error, rec.failed_file, rec.servable = AVAILABLE, "", None, servable
            m.serving[version] = servable
        log.info("model %r version %d is available", m.config.name, version)

    def _unload(self, m, version):
        with self._lock:
            servable = m.serving.pop(version)
            rec = m.versions[version]
            rec.state = UNLOADING

        def finish():
            servable.wait_idle()
            with self._lock:
                if rec.servable is servable:
                    rec.state, rec.servable = END, None
            log.info("model %r version %d is unloaded", m.config.name, version)
        t = threading.Thread(target=finish, name="gpuflow-serving-unload", daemon=True)
        t.start()
        self._unloaders.append(t)

    def stop(self, timeout=None):
        """Stops polling and unloads every version once its requests finish (waits at most ``timeout`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for m in self._models.values():
            for v in list(m.serving):
                self._unload(m, v)
        for t in self._unloaders:
            t.join(timeout)

    # -- requests ---------------------------------------------------------------------------------
    @property
    def model_names(self):
        return list(self._models)

    def _model(self, name, what):
        m = self._models.get(name)
        if m is None:
            raise ServingError("NOT_FOUND", f"Servable not found for request: {what}")
        return m

    def resolve_version(self, name, version=None, label=None):
        """The version number a request for (name, version or label) gets: the given one, the label's,
        or the latest available.

        Raises:
            ServingError: NOT_FOUND for an unknown model or label, or a version that is not available.
        """
        if label is not None:
            m = self._model(name, f"Latest({name})")
            labels = m.config.version_labels
            if label not in labels:
                raise ServingError("NOT_FOUND", f"Unrecognized servable version label: {label}")
            version = labels[label]
        if version is not None:
            m = self._model(name, f"Specific({name}, {version})")
            if int(version) not in m.serving:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
            return int(version)
        m = self._model(name, f"Latest({name})")
        if not m.serving:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        return max(m.serving)

    @contextlib.contextmanager
    def acquire(self, name, version=None, label=None):
        """``with manager.acquire(name, version, label) as servable:`` holds that version loaded until the
        block ends (an unload waits). Raises as :meth:`resolve_version`."""
        with self._lock:
            v = self.resolve_version(name, version, label)
            servable = self._models[name].serving[v]
            servable._enter()
        try:
            yield servable
        finally:
            servable._exit()

    def status(self, name, version=None, label=None):
        """``[(version, state, error_message)]`` of a model's versions (one for a version or label),
        newest first, as GetModelStatus reports them.

        Raises:
            ServingError: NOT_FOUND for an unknown model, label or version.
        """
        with self._lock:
            if label is not None:
                m = self._model(name, f"Latest({name})")
                if label not in m.config.version_labels:
                    raise ServingError("NOT_FOUND", f"Unrecognized servable version label: {label}")
                version = m.config.version_labels[label]
            m = self._models.get(name)
            if m is None or not m.versions:
                raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
            recs = [m.versions[v] for v in sorted(m.versions, reverse=True)]
            if version is not None:
                recs = [r for r in recs if r.version == int(version)]
                if not recs:
                    raise ServingError("NOT_FOUND", f"Could not find version {version} of model {name}")
            return [(r.version, r.state, r.error) for r in recs]


def _load_keras(path):
    from ..keras.models import load_model
    return load_model(path, compile=False)
