"""Capture of a training step and its replay: a CUDA graph on a GPU, a recorded launch list on the emulator.

:class:`StepGraph` is the one capture API of the CUDA backend (:meth:`.CupyBackend.capture_step`; the NumPy
backend has none). It runs a step function ``fn(device_inputs) -> outputs`` for one input signature (the
shapes and dtypes of the batch):

1. the first call runs ``fn`` eagerly (the warm-up: kernels compiled, optimizer slots created, CuPy's memory
   pool filled) and logs the host values the step uploads (``backend.asarray``: Python scalars made tensors)
   and the state it moves; a step that created state (the first of a model: optimizer slots, metrics) is
   followed by another warm-up;
2. the next call captures the step and runs it once;
3. every later call copies the batch into the static input buffers (the only host-to-device copy of a step)
   and replays the capture: no Python, no kernel argument packing, no host contact.

What the replay cannot repeat refuses the capture (:class:`CaptureRefused`; the step then runs eagerly, and
:attr:`StepGraph.reason` says why): random draws (Dropout: a replay would repeat the mask, the generator's state
is on the host), a device value read on the host inside the step (``float(t)``, ``bool(t)``, data-dependent host
control flow), a host value uploaded in the step that changes between steps, a device array the capture cannot
account for. Random draws and the backend's host reads are found in the warm-up, and then no capture is tried.
A capture refused on the way does not run the step twice on the emulator (the step goes on eagerly to its end);
on a GPU, where a capture runs nothing, the step then runs eagerly, so the Python side effects of that one step
(not its device work) happen twice. The state the step updates (variables in place, metrics that rebind their
totals) is carried from one replay to the next, and state replaced between replays (``set_weights`` writes in
place; a variable given a new array does not) makes the step be captured again. Checks deferred by the step
(``backend.defer_check``) are captured as their device buffers and deferred again after each replay. Python side
effects inside the step that touch none of that state (appending to a list) happen in the eager and captured
steps only, not at each replay, as in a traced ``tf.function``.

**On a GPU** (CuPy; NEVER RUN ON A GPU, written from CuPy's and CUDA's documentation): the capture records the
step's kernels on a side stream (``cupy.cuda.Stream(non_blocking=True).begin_capture()``, CuPy's default relaxed
mode, so allocations may cudaMalloc) and the graph is launched on the current stream, which orders it with the
batch copies and the eager work around it. Every allocation inside the capture comes from a private
``cupy.cuda.MemoryPool`` owned by the graph (PyTorch keeps a private pool per graph for the same reason): its
blocks, temporaries included, are never handed to anyone else, so the addresses baked into the graph stay
valid for its life (a graph gone gives the pool's free blocks back, see :func:`_retire`). Known hazards not verified on hardware: cuBLAS workspace allocation inside the capture, and
CuPy routines that synchronize (they raise; the step then runs eagerly with a warning).

**On the emulator** (xp = NumPy; emulator-verified): the capture executes the step while recording every piece
of device work with the buffers it reads and writes: every ufunc call and NumPy function on a device array
(``__array_ufunc__`` / ``__array_function__`` of :class:`_Rec`, the device-array type during the capture), every
array-creating call of ``backend.xp`` (a recording namespace replaces NumPy there), the ``ndarray`` methods that
copy or write (``astype``, ``copy``, fancy ``__getitem__``, ``__setitem__``, ``fill``...) and every kernel
launch. A replay re-runs that list on the same buffers (never the Python step). An operand the capture did not
produce and was not given (a host array, or a device array made by work the recorder did not see) refuses the
capture, so an unrecorded operation cannot go unnoticed. The replay computes a 0-d value as a 0-d array, as CuPy
does; the emulator's eager step sometimes holds it as a NumPy scalar, whose scalar math may round a float32 power
one ulp away from NumPy's array loop (Nadam's momentum schedule): replayed training equals the eager one to the
bit otherwise.
"""
from __future__ import annotations

import functools
import threading
import types
import warnings
import weakref

import numpy as np

from .. import profiler as _profiler

__all__ = ["CaptureRefused", "StepGraph", "pool_bytes"]

_local = threading.local()
_graphs = weakref.WeakSet()  # the StepGraphs alive, for pool_bytes()


def pool_bytes():
    """Device memory held by the private memory pools of the captured steps alive (0 on the emulator), for
    peak-memory figures beside CuPy's default pool."""
    return sum(int(p.total_bytes()) for g in list(_graphs) for p in getattr(g._device, "pools", ()))


_retired_pools = []  # the private pools of the graphs gone: their free blocks released, the pools kept


def _retire(pools):
    """When a graph is gone: its pools' free blocks go back to the device (``cudaFree`` waits for the device, so
    no launch of the graph is still running); the pools themselves stay, for the arrays still in use in them (a
    metric's total, kept by a metric given to compile again): in CuPy versions whose pooled memory does not
    hold its chunk, a pool that dies frees them."""
    for pool in pools:
        pool.free_all_blocks()
    _retired_pools.extend(pools)


class CaptureRefused(RuntimeError):
    """The step cannot be captured for replay; the message says why. The step runs eagerly instead."""


class _RanEagerly(CaptureRefused):
    """An emulated capture refused on the way: the step went on eagerly to its end; ``outputs`` are its own."""

    def __init__(self, reason, outputs):
        super().__init__(reason)
        self.outputs = outputs


def recorder():
    """The emulator recorder of the capture running on this thread (recording, or refused: see :func:`_refuse`),
    or None."""
    return getattr(_local, "recorder", None)


def capturing_cuda():
    """Whether this thread is capturing a CUDA graph (kernel launches then take no profiling events: an event
    recorded inside a capture cannot be waited on)."""
    return getattr(_local, "cuda", False)


# -- the emulator's recorder -----------------------------------------------------------------------------
def _plain(obj):
    """``obj`` with every :class:`_Rec` (in lists, tuples and dicts too) viewed as a plain ndarray."""
    if isinstance(obj, _Rec):
        return obj.view(np.ndarray)
    if type(obj) in (list, tuple):
        return type(obj)(_plain(o) for o in obj)
    if type(obj) is dict:
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _arrays(obj, out):
    """Appends the ndarrays in ``obj`` (nested lists, tuples, dict values) to ``out``."""
    if isinstance(obj, np.ndarray):
        out.append(obj)
    elif type(obj) in (list, tuple):
        for o in obj:
            _arrays(o, out)
    elif type(obj) is dict:
        for o in obj.values():
            _arrays(o, out)
    return out


def _name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _apply(fn, args, kwargs, what=None):
    """Runs ``fn(*args, **kwargs)`` on plain arrays; while a capture records on this thread, records it."""
    rec = recorder()
    if rec is None or rec.depth or rec.refused:
        return fn(*_plain(args), **_plain(kwargs))
    return rec.apply(fn, args, kwargs, what or _name(fn))


def _refuse(reason):
    """Refuses the capture running on this thread: on the emulator the recorder stops and the step goes on
    eagerly to its end (so it is not run twice); in a CUDA graph capture raises :class:`CaptureRefused`."""
    rec = recorder()
    if rec is None:
        raise CaptureRefused(reason)
    rec.refused = rec.refused or reason


def _host_read(name):
    def method(self, *args, **kwargs):
        if recorder() is not None:
            _refuse(f"the step reads a device value on the host (ndarray.{name}: a sync, or host control flow that "
                    "depends on the data)")
        return getattr(np.ndarray, name)(self.view(np.ndarray), *args, **kwargs)
    return method


def _recorded(name):
    def method(self, *args, **kwargs):
        return _apply(getattr(np.ndarray, name), (self,) + args, kwargs, f"ndarray.{name}")
    return method


class _Rec(np.ndarray):
    """The emulator's device array while a capture records: NumPy's ufuncs and functions on it, and its
    copying or writing methods, are recorded (see the module docstring). Outside a capture it computes as a
    plain ndarray and gives plain results."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _apply(getattr(ufunc, method), inputs, kwargs, f"{ufunc.__name__}.{method}")

    def __array_function__(self, func, types, args, kwargs):
        return _apply(func, args, kwargs)

    def __array_finalize__(self, obj):
        # A new device array made from ``obj`` by NumPy's C code: a view, or a copy made behind the recorder's back
        # (an ndarray method not wrapped below); the latter refuses the capture rather than go missing.
        rec = recorder()
        if (rec is not None and not rec.depth and not rec.refused and isinstance(obj, np.ndarray)
                and not np.may_share_memory(np.ndarray.view(self, np.ndarray), np.ndarray.view(obj, np.ndarray))):
            _refuse(f"the step made a {self.dtype} array of shape {self.shape} by work the recorder does not see (an "
                    "ndarray method that copies)")

    def __getitem__(self, key):
        keys = _arrays(key, [])
        if recorder() is not None and any(k.dtype == np.bool_ for k in keys):
            _refuse("the step indexes with a boolean mask (a result whose size depends on the data)")
        return _apply(np.ndarray.__getitem__, (self, key), {}, "ndarray.__getitem__")

    for _m in ("__setitem__", "reshape", "astype", "copy", "__copy__", "__deepcopy__", "flatten", "ravel", "argmax",
               "argmin", "cumsum", "cumprod", "dot", "repeat", "take", "round", "sort", "argsort", "fill", "put",
               "clip", "diagonal", "trace", "searchsorted", "byteswap", "partition", "argpartition", "choose"):
        locals()[_m] = _recorded(_m)
    for _m in ("item", "tolist", "tobytes", "__float__", "__int__", "__index__", "__bool__", "__complex__",
               "nonzero", "compress", "__contains__", "__repr__", "__str__", "__format__"):
        locals()[_m] = _host_read(_m)
    del _m


class _Namespace:
    """``backend.xp`` while the emulator records: NumPy, whose functions are recorded (array creation
    included: ``xp.zeros`` is device work, a fill); ufuncs, types and constants pass through (ufuncs are
    recorded through their device operands); ``xp.random`` refuses the capture."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if name == "random" and recorder() is not None:
            _refuse("the step draws random numbers from a generator whose state is on the host (a replay would "
                    "repeat the same draws)")
            return attr
        if isinstance(attr, types.ModuleType):
            return _Namespace(attr)
        if isinstance(attr, (np.ufunc, type)) or not callable(attr):
            return attr
        return lambda *args, **kwargs: _apply(attr, args, kwargs, f"xp.{name}")


class _Recorder:
    """The launch list of one emulated capture: ``(fn, args, kwargs, outs)`` per piece of device work, replayed
    in order on the same buffers (``outs``: the fresh buffers an op produced, refreshed from its recomputed
    result)."""

    _NO_REPLAY = frozenset({"xp.empty", "xp.empty_like"})  # an allocation: no device work to repeat

    def __init__(self, read_only=()):
        self.ops = []
        self.depth = 0
        self.refused = None  # why the capture was refused (the step then went on eagerly)
        self._read_only = {id(a): a for a in read_only}  # the backend's constants, what the metrics hold

    def _is_read_only(self, a):
        """``a`` is one of the read-only arrays or a view of one (``thresholds.reshape(...)``)."""
        return id(a) in self._read_only or any(np.may_share_memory(a, k) for k in self._read_only.values())

    def check_operands(self, arrays, what):
        """False (and the capture refused) when an operand is none of the capture's own arrays."""
        for a in arrays:
            if not isinstance(a, _Rec) and not self._is_read_only(a):
                _refuse(f"{what} used a {a.dtype} array of shape {a.shape} that the capture did not produce and was "
                        "not given (a host array, or a device array made by work the recorder cannot see); a replay "
                        "would read it stale")
                return False
        return True

    def apply(self, fn, args, kwargs, what):
        operands = _arrays((args, kwargs), [])
        if not self.check_operands(operands, what):
            return fn(*_plain(args), **_plain(kwargs))
        plain_args, plain_kwargs = _plain(args), _plain(kwargs)
        self.depth += 1
        try:
            result = fn(*plain_args, **plain_kwargs)
        finally:
            self.depth -= 1
        bases = _arrays((plain_args, plain_kwargs), [])
        given = {id(p): o for p, o in zip(bases, operands)}
        outs = []

        def wrap(r, path):
            if isinstance(r, np.generic):  # a 0-d result: a buffer, as CuPy's 0-d arrays
                r = np.asarray(r)
            elif not isinstance(r, np.ndarray):
                if type(r) in (list, tuple):
                    return type(r)(wrap(v, path + (i,)) for i, v in enumerate(r))
                return r
            elif id(r) in given:  # an operand itself (out=, in place: a += b keeps a)
                return given[id(r)]
            elif any(np.may_share_memory(r, b) for b in bases):  # a view of an operand
                return r.view(_Rec)
            buf = r.view(_Rec)
            outs.append((path, buf))
            return buf

        wrapped = wrap(result, ())
        if (operands or outs) and what not in self._NO_REPLAY:
            self.ops.append((fn, args, kwargs, outs))
        return wrapped

    def launch(self, fn, name, grid, block, args, shared_mem):
        """A kernel launch inside the capture: run (profiled, as eagerly) and recorded."""
        if not self.refused and self.check_operands([a for a in args if isinstance(a, np.ndarray)], f"kernel {name}"):
            self.ops.append((functools.partial(fn, grid, block, shared_mem=shared_mem), (tuple(args),), {}, []))
        self.depth += 1
        try:
            return _profiler.timed_launch(fn, name, grid, block, _plain(tuple(args)), shared_mem, False)
        finally:
            self.depth -= 1

    def replay(self):
        for fn, args, kwargs, outs in self.ops:
            result = fn(*_plain(args), **_plain(kwargs))
            for path, buf in outs:
                value = result
                for i in path:
                    value = value[i]
                np.copyto(buf.view(np.ndarray), value, casting="unsafe")


# -- the step graph ---------------------------------------------------------------------------------------
def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, (bool, np.generic))


class StepGraph:
    """A step function captured once per input signature and replayed (see the module docstring).

    The step's state lives in *cells*, ``(object, attribute)`` pairs: ``_data`` of each variable, and every
    attribute of the ``watch`` objects (metrics, which rebind their totals each step; optimizers). A cell the
    warm-up step changed that holds a host number (a metric's sample count; a total just reset to 0.0) is made
    a 0-d device array for the capture, so that the graph computes with its current value instead of baking
    one in. After the capture a cell is one of: *fixed* (updated in place, or left alone: a replay checks that
    it still holds the same object or number, else the step is captured again); *carried* (the step read
    device array A and left a new one, B: every replay copies B into A at its end, and a value put there
    between replays, e.g. the 0.0 of ``reset_state``, is copied into A before it; a host number made a device
    array is carried with A = B); or *rebound* (set again to what the capture left, e.g. a Tensor of this step).

    Args:
        backend: the :class:`.CupyBackend` (GPU or emulator) that owns the capture.
        fn: ``fn(batch) -> outputs``. ``batch``: the list of host arrays given to the call; the backend's
            ``asarray`` of one of them gives its static device buffer (copied in before: the only copy of a
            replayed step). ``outputs``: anything (e.g. a dict of Tensors) whose device arrays the step
            computed; after a replay the same object is returned, its arrays holding the replayed values.
        state: ``state()`` lists the objects whose device array ``_data`` the step reads and updates (the
            variables; asked at each warm-up and capture, as the first step may create some: optimizer slots).
        watch: ``watch()`` lists the objects whose attributes the step rebinds (the metrics).
        gpu: capture a CUDA graph (CuPy arrays), else record for the emulator (NumPy arrays).
        read_only: device arrays the step may read that are none of the above (the backend's constants; on the
            emulator, the arrays the ``watch`` objects hold are allowed too).

    Attributes:
        phase: ``"warm-up"`` (next call eager), ``"capture"`` (next call captures), ``"replay"`` or
            ``"eager"`` (refused: every call runs ``fn`` eagerly).
        reason: why the capture was refused (a sentence), else None.
        replays: how many calls were replayed.
    """

    MAX_CAPTURES = 4  # captures of one signature (the first, and again when the state was replaced)

    def __init__(self, backend, fn, state=list, watch=list, gpu=False, read_only=()):
        self.backend, self._fn, self._state, self._watch = backend, fn, state, watch
        self._device = _CudaDevice() if gpu else _EmulatorDevice(read_only)
        _graphs.add(self)
        if gpu:
            weakref.finalize(self, _retire, self._device.pools)
        self._cells = []
        self.phase, self.reason, self.replays = "warm-up", None, 0
        self._inputs = None
        self._batch = []        # the host arrays of the step running now
        self._current = []      # (host array, its device buffer) of the batch of the step running now
        self._uploads = []      # warm-up: the host values the step uploaded; capture: matched in order
        self._constants = []    # their device copies, made before the capture (kept alive with the graph)
        self._uploaded = 0      # how many of them the capture used so far
        self._checks = []       # the deferred checks of the step: (key, bad, value, report)
        self._moving = set()    # the cells the warm-up step changed
        self._warmups = 0
        self._carried, self._rebound = [], []
        self._fixed = []        # (cell, value) of the cells the graph reads as they are (updated in place)
        self._captures = 0
        self._noted = None      # what the warm-up found a replay cannot repeat
        self._outputs = None

    # -- the backend's hooks while this graph warms up or captures (CupyBackend.asarray / defer_check) ---------
    def upload(self, value, dtype):
        """``backend.asarray`` inside the step: logged during the warm-up; during the capture, the value
        logged at the same place must be equal (else the capture is refused) and a device copy of it, made
        before the capture began and kept with the graph, stands for it (nothing is copied inside a capture)."""
        if isinstance(value, np.ndarray):  # an array of the batch: its static device buffer, no copy
            for host, buf in self._current:
                if value.shape == host.shape and value.ctypes.data == host.ctypes.data:
                    return self.backend.xp.asarray(buf, dtype=dtype)
        if self.phase == "eager":
            return None
        host = np.array(value, dtype=dtype)
        if self.phase == "warm-up":
            self._uploads.append(host)
            return None
        k = self._uploaded
        if k >= len(self._uploads) or not _same(self._uploads[k], host):
            _refuse(f"the step uploads a host value that changes between steps (upload {k + 1}: {host!r:.80}); keep "
                    "it on the device (a Variable) to capture the step")
            return None  # the emulator's step goes on eagerly: a plain upload
        self._uploaded += 1
        return self._constants[k]

    def refuse(self, reason):
        """The backend's report of something a replay cannot repeat (a random draw, a host read): noted during the
        warm-up (no capture is then tried), refuses a capture (see :func:`_refuse`)."""
        if self.phase == "warm-up":
            self._noted = self._noted or reason
        elif self.phase == "capture":
            _refuse(reason)

    def defer(self, key, bad, value, report):
        """``backend.defer_check`` inside the capture: kept, and deferred again after every run of the graph."""
        self._checks.append((key, bad, value, report))

    # -- running it --------------------------------------------------------------------------------------
    def __call__(self, batch):
        """Runs the step on ``batch`` (a list of host arrays of this graph's signature): eagerly, captured
        or replayed (see ``phase``). Returns the step's outputs."""
        if self._inputs is None:
            self._inputs = [self._device.buffer(a.shape, a.dtype) for a in batch]
        for buf, a in zip(self._inputs, batch):  # the only host-to-device copies of a replayed step
            _profiler.record_host_contact("h2d", a.nbytes)
            self._device.copy_in(buf, a)
        self._batch = batch
        if self.phase == "replay" and self._feed():
            self._launch()
            return self._outputs
        if self.phase == "eager":
            return self._eager()
        if self.phase == "warm-up":
            before = self._values()
            cells = self._cells
            out = self._eager()
            self._moving = {(id(o), n) for (o, n), a, b in zip(cells, self._values(), before) if a is not b}
            if len(self._cells) == len(cells) or self._warmups >= 3:  # else the step made state: once more
                self.phase = "capture"
            self._warmups += 1
            if self._noted:
                self.phase, self.reason = "eager", self._noted
            return out
        self._checks, self._carried, self._rebound, self._uploaded = [], [], [], 0
        self._constants = [self._device.constant(h) for h in self._uploads]  # before the capture begins
        self._captures += 1
        try:
            if self._captures > self.MAX_CAPTURES:
                raise CaptureRefused(f"the state the step works on was replaced between steps {self.MAX_CAPTURES} "
                                     "times (each time the step was captured again)")
            self._outputs = self._device.capture(self)
        except _RanEagerly as e:  # the emulator's step went on eagerly: not run twice
            self.phase, self.reason = "eager", str(e)
            self._defer_checks()
            return e.outputs
        except CaptureRefused as e:
            self.phase, self.reason = "eager", str(e)
            return self._eager()
        except Exception as e:  # the capture itself failed: eager from now on, and loud unless the step fails too
            self.phase, self.reason = "eager", f"the capture failed: {type(e).__name__}: {e}"
            out = self._eager()  # the step's own error, if it has one, is the one raised
            warnings.warn(f"The training step could not be captured for replay and runs eagerly: {self.reason}",
                          RuntimeWarning, stacklevel=3)
            return out
        changed = {i for i, *_ in self._carried + self._rebound}
        self._fixed = [(i, getattr(*c)) for i, c in enumerate(self._cells) if i not in changed]
        self.phase = "replay"
        self._after_run()
        return self._outputs

    def run(self, buffers):
        """``fn(batch)`` with this graph's hooks on the backend: ``backend.asarray`` of an array of the batch
        gives its device buffer in ``buffers`` (a capture's own views of the static buffers)."""
        self._current = list(zip(self._batch, buffers))
        try:
            with self.backend.capturing(self):
                return self._fn(self._batch)
        finally:
            self._current = []

    def _eager(self):
        return self.run(self._inputs)

    def _values(self):
        """The cells' values, the cells listed anew."""
        self._cells = [(s, "_data") for s in self._state()] + [(o, n) for o in self._watch() for n in vars(o)]
        return [getattr(o, n) for o, n in self._cells]

    def adopt(self, before, as_device):
        """The cells' values for the capture: ``as_device(value, dtype)`` of the moving host numbers (float64
        or int64 0-d device arrays), the others as they are."""
        return [as_device(v, np.float64 if isinstance(v, float) else np.int64)
                if _is_number(v) and (id(o), n) in self._moving else v for (o, n), v in zip(self._cells, before)]

    def classify(self, before, xp, original):
        """After the step ran in the capture: sorts the changed cells (see the class docstring); returns the
        ``(A, B)`` pairs of the carried cells, whose copies ``A <- B`` end the graph. ``before``: the cells'
        values the capture began with, ``original`` what they held before (a host number made a device array
        for the capture is carried even if the step updated it in place: ``count += n`` on an array).

        Raises:
            CaptureRefused: a cell the step moves in a way a replay cannot repeat.
        """
        for i, ((o, n), b) in enumerate(zip(self._cells, before)):
            a = getattr(o, n)
            if a is b:
                if not isinstance(original[i], xp.ndarray) and b is not original[i]:  # a number made an array
                    self._carried.append((i, b, b))  # read and written in place; its value fed before a replay
                continue
            where = f"{type(o).__name__}.{n}"
            if isinstance(a, xp.ndarray) and isinstance(b, xp.ndarray):
                if a.shape != b.shape or a.dtype != b.dtype:
                    raise CaptureRefused(f"the step replaces {where} by an array of another shape or dtype")
                self._carried.append((i, b, a))  # (cell, the array the graph reads, the one it writes)
            elif _is_number(b) or isinstance(b, xp.ndarray):
                raise CaptureRefused(f"the step changes {where}, {b!r:.40} before, in a way a replay cannot repeat "
                                     "(the warm-up step left it alone, or it leaves the device)")
            else:
                self._rebound.append((i, a))
        return [(b, a) for _, b, a in self._carried if a is not b]

    def _feed(self):
        """Before a replay: a carried cell's current value into the array the graph reads. False when a cell
        holds something else (e.g. None), or a cell the graph reads as it is was given a new value (a variable
        or a hyperparameter replaced): then the step is captured again."""
        for i, value in self._fixed:
            cur = getattr(*self._cells[i])
            if cur is not value and not (_is_number(value) and _is_number(cur) and cur == value):
                self.phase = "capture"
                return False
        for i, read, written in self._carried:
            cur = getattr(*self._cells[i])
            if cur is written:
                continue
            if not (_is_number(cur) or isinstance(cur, (np.generic, np.ndarray, self.backend.xp.ndarray))):
                self.phase = "capture"
                return False
            self._device.fill(read, cur)
        return True

    def _launch(self):
        _profiler.record_graph_launch()
        self._device.launch()
        self.replays += 1
        self._after_run()

    def _after_run(self):
        """The host side of a run of the graph: the cells set as the step leaves them, the deferred checks
        deferred again."""
        for i, _, written in self._carried:
            setattr(*self._cells[i], written)
        for i, value in self._rebound:
            setattr(*self._cells[i], value)
        self._defer_checks()

    def _defer_checks(self):
        for key, bad, value, report in self._checks:
            self.backend.defer_check(key, bad, value, report)


    def restore(self, before):
        """After a refused capture: the cells as they were before it."""
        for (o, n), v in zip(self._cells, before):
            setattr(o, n, v)
        self._carried, self._rebound = [], []


def _same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def _held_arrays(objects, depth=3):
    """The device arrays the ``objects`` hold in their attributes, in lists, tuples and dicts of them (a metric's
    cached thresholds): made before the capture, so a replay may read them as they are then."""
    out = []

    def visit(value, depth):
        if isinstance(value, np.ndarray):
            out.append(value)
        elif isinstance(getattr(value, "_data", None), np.ndarray):  # a Tensor
            out.append(value._data)
        elif depth and isinstance(value, (list, tuple)):
            for v in value:
                visit(v, depth - 1)
        elif depth and isinstance(value, dict):
            for v in value.values():
                visit(v, depth - 1)
    for o in objects:
        for value in vars(o).values():
            visit(value, depth)
    return out


def capture_emulated(graph):
    """The emulator's capture of ``graph`` (a :class:`StepGraph`): runs its step once, recording it.

    Returns:
        The step's outputs.

    Raises:
        CaptureRefused: the step cannot be replayed; the state is restored to what it was before.
    """
    be = graph.backend
    cells = graph._cells
    before = graph._values()
    snapshot = [np.array(v) if isinstance(v, np.ndarray) else None for v in before]
    # the state as device arrays of the capture: arrays viewed as _Rec; NumPy scalars (the emulator's 0-d
    # results) and the moving host numbers as 0-d buffers
    adopted = [v.view(_Rec) if isinstance(v, np.ndarray) else np.array(v).view(_Rec) if isinstance(v, np.generic)
               else v for v in graph.adopt(before, lambda v, dtype: np.array(v, dtype))]
    holders = [be] + ([be.tensor_cores] if be.tensor_cores is not None else [])
    saved_xp = [h.xp for h in holders]
    rec = _Recorder(graph._device.read_only + tuple(_held_arrays(graph._watch())))
    try:
        for (o, n), v in zip(cells, adopted):
            setattr(o, n, v)
        for h in holders:
            h.xp = _Namespace(saved_xp[0])
        _local.recorder = rec
        with be.capturing(graph):
            outputs = graph.run([a.view(_Rec) for a in graph._inputs])
            try:
                pairs = [] if rec.refused else graph.classify(adopted, np, before)
            except CaptureRefused as e:
                rec.refused, pairs = str(e), []
            for a, b in pairs:  # the carried cells: A <- B ends the step
                if rec.check_operands([a, b], "the state carried to the next step"):
                    rec.ops.append((np.copyto, (a, b), {}, []))
                np.copyto(a.view(np.ndarray), b.view(np.ndarray))
    except BaseException:
        _local.recorder = None
        graph.restore(before)
        for v, snap in zip(before, snapshot):
            if snap is not None:
                np.copyto(v, snap)
        raise
    finally:
        _local.recorder = None
        for h, xp in zip(holders, saved_xp):
            h.xp = xp
    for (o, n), v, a in zip(cells, before, adopted):  # the arrays updated in place: their own objects again
        if getattr(o, n) is a and isinstance(v, np.ndarray) and a is not v:
            setattr(o, n, v)
    if rec.refused:  # the step went on eagerly to its end: its state is the step's own
        graph._carried, graph._rebound = [], []
        raise _RanEagerly(rec.refused, outputs)
    graph._device.recording = rec
    return outputs


def capture_cuda(graph):
    """The GPU's capture of ``graph``: the step's kernels recorded into a CUDA graph on a side stream, every
    allocation from a private memory pool, then launched once on the current stream. NEVER RUN ON A GPU.

    Returns:
        The step's outputs (device arrays in the graph's pool).
    """
    import cupy
    before = graph._values()
    adopted = graph.adopt(before, cupy.asarray)  # the moving host numbers, copied up before the capture
    current = cupy.cuda.get_current_stream()
    side = cupy.cuda.Stream(non_blocking=True)
    side.wait_event(current.record())
    pool = cupy.cuda.MemoryPool()
    try:
        for (o, n), v in zip(graph._cells, adopted):
            setattr(o, n, v)
        with cupy.cuda.using_allocator(pool.malloc), side:
            side.begin_capture()  # CuPy's default: cudaStreamCaptureModeRelaxed
            _local.cuda = True
            try:
                with graph.backend.capturing(graph):
                    outputs = graph.run(graph._inputs)
                    for a, b in graph.classify(adopted, cupy, before):
                        a[...] = b
            finally:
                _local.cuda = False
                cuda_graph = side.end_capture()  # always ends the capture, so the stream stays usable
    except BaseException:
        graph.restore(before)  # nothing ran on the device: only the host side is undone
        raise
    graph._device.graph = cuda_graph
    graph._device.pools.append(pool)  # a pool replaced by a new capture stays: its last launch may still run
    graph._device.launch()
    return outputs


class _EmulatorDevice:
    """The emulator's side of a :class:`StepGraph`: NumPy arrays, a recorded launch list."""

    capture = staticmethod(capture_emulated)

    def __init__(self, read_only=()):
        self.read_only, self.recording = tuple(read_only), None

    @staticmethod
    def buffer(shape, dtype):
        return np.empty(shape, dtype)

    @staticmethod
    def copy_in(buf, value):
        """``buf[...] = value`` (a host array, a number or a device array)."""
        np.copyto(np.ndarray.view(buf, np.ndarray), value, casting="unsafe")

    fill = copy_in

    @staticmethod
    def constant(host):
        return np.array(host).view(_Rec)

    def launch(self):
        self.recording.replay()


class _CudaDevice:
    """The GPU's side of a :class:`StepGraph`: CuPy arrays, a CUDA graph and its private memory pool. NEVER RUN ON
    A GPU."""

    capture = staticmethod(capture_cuda)

    def __init__(self):
        self.graph, self.pools = None, []

    @staticmethod
    def buffer(shape, dtype):
        import cupy
        return cupy.empty(shape, dtype)

    @staticmethod
    def copy_in(buf, host):
        """A host array into device buffer ``buf``, ordered on the current stream after the graph launched
        before it."""
        import cupy
        buf.set(np.ascontiguousarray(host, dtype=buf.dtype), stream=cupy.cuda.get_current_stream())

    @staticmethod
    def fill(buf, value):
        """``buf[...] = value`` outside any capture: a number or a device array (no host-to-device copy), or a
        host array (a confusion metric's counts after ``reset_state``: copied up)."""
        import cupy
        buf[...] = cupy.asarray(value) if isinstance(value, np.ndarray) else value

    @staticmethod
    def constant(host):
        """The device copy of a host value the step uploads, made before the capture (a copy from pageable host
        memory cannot be captured) and kept with the graph."""
        import cupy
        return cupy.asarray(host)

    def launch(self):
        import cupy
        self.graph.launch(stream=cupy.cuda.get_current_stream())
