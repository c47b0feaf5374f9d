"""NumPy backend: the fast CPU implementation of every primitive, checked against :mod:`.reference`.

Convolutions are lowered to BLAS GEMMs block by block: for each block of
samples (a working set of about twice the L2 cache the CPU reports, so it
stays in cache) im2col through a strided view, one GEMM, then the epilogue
(bias, ReLU, and for the fused conv+max-pool op the pooling); the backward
pass is one sweep doing the ReLU mask, the bias and filter gradients and the
data gradient (one batched GEMM per kernel offset followed by kh*kw
contiguous adds) per block. 3x3 stride-1 convolutions with at least
``_WINO_MIN_CHANNELS`` input and output channels run on Winograd F(2x2, 3x3)
instead (Lavin & Gray 2016; see the section above :func:`_winograd`): 16
smaller GEMMs on transformed tiles, 2.25x fewer multiplies. Pooling is a
loop over the window offsets with vectorised work per offset, never a Python
loop over pixels. Everything stays in the input dtype (float32 for Keras
models), except float16 and bfloat16 (mixed precision): their primitives compute
in float32 and round the results back to the input dtype once
(:func:`.low_precision.upcast_16bit`).

Parallelism is over the batch, in chunks fixed by the batch size and the work
alone, never by the thread count: a convolution's or a memory-bound op's chunks
are its cache blocks, a GEMM's one per ``_CHUNK_WORK`` multiply-adds. Threads
take chunks in turn and every thread runs the whole pipeline on its chunk
(im2col, its own GEMM, the epilogue), with BLAS on one thread, also when all
the work is one chunk unless that chunk is large (:mod:`.cpu_runtime`, which
also keeps freed memory for reuse instead of page-faulting it back every
step). The memory-bound work is then parallel too, each chunk stays in its
core's cache, and BLAS's idle workers do not spin on the cores the chunks need.
Reductions over the batch (filter and bias gradients) return one partial per
chunk, summed in chunk order; a dense layer's kernel gradient is split by its
rows instead, each summing the whole batch (unless its rows are few, as an RNN
input projection's: then by the batch too). NumPy releases the GIL in all of
this work, but two threads each running many short NumPy calls keep waiting
for it. So the convolutions' sweeps (forward and backward, fused with the
pooling or not: the methods marked :func:`_splits`) can be shared with helper
processes where :mod:`.cpu_workers` can start them (Linux), one per thread
beyond the first (at most 3): this process runs the first contiguous share of the chunks,
each helper the next, sized by the speeds measured so far; activations and
gradients they make live in a shared pool, so a helper reads its rows of an
input and writes its rows of an output without copies. Whether a call is
shared is measured per call signature (:data:`_split_ways`: small sweeps do
not repay the messages). Measured on the 2-core Zen 4 VM (A/B), the seed
CNN's training step took 0.90-0.99x as long (median 0.95x). Until the helpers are ready (and
without them) the threads run the chunks, and
with exactly two threads the Winograd convolutions may instead run as a
software pipeline (the caller does every block's transforms, a helper thread
its GEMMs, one block behind), whichever way is measured faster
(:func:`_pipelined`); a dense layer's two gradient GEMM sets run side by
side. ``GPUFLOW_NUM_THREADS`` sets the number of threads (default: the CPUs
this process may use; see :func:`.cpu_runtime.num_threads`);
``GPUFLOW_CPU_PROCESSES`` caps the processes sharing a sweep (default: the
threads, at most 4; 1: threads only).

Determinism: the chunks, the order their partials are summed in and the
arithmetic inside each chunk (BLAS single-threaded whenever there is more than
one) do not depend on the thread count, nor on which process ran a chunk, so a
seed gives byte-identical weights with 1, 2 or 64 threads, helpers or not.
What still changes results in the last bits (and, compounded over many
training steps, visibly): the BLAS kernel, which depends
on the CPU (OpenBLAS picks SSE, AVX2 or AVX-512 code; ``OPENBLAS_CORETYPE``
pins one) and on NumPy's BLAS library, and decides the order of each GEMM's
sums; the CPU's L2 cache size, which sets the convolutions' blocks (the
order their partial filter gradients are summed in); layer fusion on or off
(``GPUFLOW_FUSION=0``: the fused Conv2D + MaxPooling2D runs its GEMMs in
other blocks and shapes, so they round differently); and, for one chunk of
much work (``_BLAS_THREADS_WORK``: one large sample, a big GEMM on one row),
BLAS's own thread count, which runs it.
"""
from __future__ import annotations

import functools
import inspect
import math
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import cpu_runtime, cpu_workers
from .base import Backend, NumpyArrays, sum_partials as _sum_partials
from .low_precision import upcast_16bit

_THREADS = None  # threads that run the chunks: read at first use (cpu_runtime.num_threads)
_pool, _pool_workers = None, 0  # the helper threads (the caller runs chunks too)
_pool_lock = threading.Lock()  # guards creating or growing the pool (two threads may start ops at once)
_MIN_ROWS = 64  # rows per chunk of a dense layer's kernel gradient at least (see dense_bwd)
_CHUNK_WORK = 1 << 22  # multiply-adds per GEMM chunk at least (measured: smaller chunks of the seed CNN's
# Dense(128) on 1600 features, which all re-read the kernel, made its step slower on 2 cores)
_BLAS_THREADS_WORK = 1 << 26  # multiply-adds from which one chunk (work too small to split, or one sample) runs
# with BLAS's own threads: below it BLAS runs on one thread, since OpenBLAS's threads busy-wait after each GEMM
# and, on a loaded machine, wait for a time slice before each one (measured on a loaded 2-core Zen 4: the seed
# CNN's predict at batch 32, whose Dense layers are one chunk each, took 3.3x as long with BLAS's threads, and
# a call on one image 8.7x)


def _num_threads():
    """The threads this thread's ops may use: the process's (``_THREADS``), or its share while
    :meth:`NumpyBackend.map_batches` runs two batches at once (``_local.threads``)."""
    global _THREADS
    share = getattr(_local, "threads", None)
    if share is not None:
        return share
    if _THREADS is None:
        _THREADS = cpu_runtime.num_threads()
    return _THREADS


def _chunk_bounds(n, work=0, per_chunk=None):
    """Boundaries ``[0, ..., n]`` of the chunks of ``range(n)``, of equal sizes (within one) and the same on
    every machine for the same arguments: with ``per_chunk`` (a convolution or memory-bound work), as few
    chunks as hold at most ``per_chunk`` items each; else (a GEMM) one per ``_CHUNK_WORK`` of ``work``
    (multiply-adds), rounded down to a power of two so that 2, 4, 8... threads get even loads (at most n
    chunks)."""
    if per_chunk:
        chunks = -(-n // per_chunk)
    else:
        chunks = 1 << max(0, (work // _CHUNK_WORK).bit_length() - 1)
    chunks = max(1, min(n, chunks))
    return [n * i // chunks for i in range(chunks + 1)]


def _batch_parallel(fn, n, work=0, per_chunk=None):
    """Runs ``fn(start, stop)`` over the chunks [start, stop) of ``range(n)`` (:func:`_chunk_bounds`) and
    returns their results in chunk order.

    Threads (``_num_threads()``, the caller's included) take chunks in turn; with more than one chunk, BLAS
    runs single-threaded inside them, so each chunk's arithmetic and the result are the same for any thread
    count. One chunk runs on the caller's thread, with BLAS on one thread too unless ``work`` (its GEMMs'
    multiply-adds) reaches ``_BLAS_THREADS_WORK``.
    """
    global _pool, _pool_workers
    bounds = _chunk_bounds(n, work, per_chunk)
    forced, split = getattr(_local, "forced", None), getattr(_local, "split", None)
    if forced is not None:  # a helper process running its share of a parent's sweep
        _local.forced = None
        if forced[-1] != n:
            raise RuntimeError(f"helper process: chunk boundaries {forced} do not cover the {n} rows it was sent")
        results = _chunks_in_turn(fn, forced)
        _local.captured = [_shared(_local.arena, r) for r in results]  # now: the method then sums into the first
        if _local.in_place:  # every output is written: what the method does next (summing partials) is the parent's
            raise _SweepDone
        return results
    if split is not None:  # the first sweep of a method marked with _splits: maybe shared with helper processes
        results = _split_sweep(split, fn, bounds, work)
        if results is not None:
            return results
    chunks = len(bounds) - 1
    if chunks == 1:
        if work >= _BLAS_THREADS_WORK:
            return [fn(0, n)]
        with cpu_runtime.single_threaded():
            return [fn(0, n)]
    results = [None] * chunks
    pending = iter(range(chunks))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            results[i] = fn(bounds[i], bounds[i + 1])
    helpers = min(_num_threads(), chunks) - 1
    with _pool_lock:
        if helpers > _pool_workers:  # first use, or more threads than before (tests change _THREADS)
            # the old pool is left to finish what it was given and end (a shutdown could refuse a submit
            # another thread is about to make to it)
            _pool, _pool_workers = ThreadPoolExecutor(helpers, thread_name_prefix="gpuflow-cpu"), helpers
        pool = _pool
    with cpu_runtime.single_threaded():
        futures = [pool.submit(worker) for _ in range(helpers)]
        try:
            worker()
        finally:
            wait(futures)
        for f in futures:
            f.result()  # a chunk's exception
    return results



# -- helper processes (cpu_workers) ------------------------------------------------------------------------
_local = threading.local()  # .split: the _Split of this thread's marked method (a parent process); in a helper,
# .forced, .captured: the chunk boundaries to run and the results its sweep captured, .targets: the parent's
# output rows to write in place, .segments: the parent's pool as mapped here
_SPLIT_WORK = 1 << 22  # multiply-adds from which a sweep may be shared with helper processes (whether it is, is
# measured: _split_ways)
_SPLIT_MIN_CHUNKS = 6  # chunks from which a sweep may be shared: the shares are whole chunks, so with fewer they
# balance badly. Measured (bench_ab_cpu.py against threads only, 2-core Zen 4): the seed CNN's predict at batch 32,
# whose sweeps have 2-4 chunks, took 1.05-1.20x as long with them shareable (the measured choice kept them on
# threads but its probes and the helper's presence still cost), while its training step at batch 128 (8-10
# chunks) took 0.93-0.97x


def _splits(batch, outputs):
    """Marks a backend method whose (first) sweep may be shared with :mod:`.cpu_workers`' helper processes.

    ``batch``: the names of its arguments that are batch-major (each helper gets its rows: arrays, or a
    :class:`_WinogradSaved`); ``outputs``: the positions in its returned tuple of the batch-major results,
    which the method allocates with :func:`_empty_batch` (each helper writes its rows in place). The method
    must run exactly one sweep (:func:`_batch_parallel` or :func:`_pipelined`) and return the same whatever
    share of the chunks it ran itself.
    """
    def decorate(method):
        signature = inspect.signature(method)

        @functools.wraps(method)
        def split_method(self, *args, **kwargs):
            if (getattr(_local, "split", None) is not None or _num_threads() < 2 or not cpu_workers.enabled()
                    or getattr(_local, "threads", None) is not None):  # (two batches at once: threads only)
                return method(self, *args, **kwargs)
            key = ((method.__name__,) + tuple(_key_part(v) for v in args)
                   + tuple((k, _key_part(v)) for k, v in kwargs.items()))
            way = _split_ways.choose(key)
            helpers = cpu_workers.acquire(_num_threads(), getattr(_local, "may_start", True)) if way == 1 else []
            start = time.perf_counter()
            if not helpers:
                result = method(self, *args, **kwargs)
                if way == 0:
                    _split_ways.record(key, 0, time.perf_counter() - start)
                return result
            arguments = signature.bind(self, *args, **kwargs).arguments
            arguments.pop("self")
            split = _local.split = _Split(method.__name__, arguments, batch, helpers)
            try:
                result = method(self, *args, **kwargs)
            except BaseException as error:
                split.abandon(error)
                raise
            finally:
                _local.split = None
            split.finish(result, outputs)
            # not shared (one chunk, too little work): never for this signature, so that it stops asking
            _split_ways.record(key, 1, time.perf_counter() - start if split.key is not None else math.inf)
            return result
        return split_method
    return decorate


def _key_part(value):
    """What of a :func:`_splits` method's argument tells its calls apart (its shape, for an array)."""
    if isinstance(value, np.ndarray):
        return value.shape, value.dtype.str
    return type(value).__name__ if isinstance(value, _WinogradSaved) else value


def _empty_batch(shape, dtype):
    """``np.empty(shape, dtype)`` for a batch-major output of a :func:`_splits` method: in a parent about to
    share the sweep, in the shared pool (:func:`.cpu_workers.pool`); in a helper, its rows of the parent's
    array, in the order the parent allocated them."""
    split = getattr(_local, "split", None)
    if split is not None:
        a = cpu_workers.pool().empty(shape, dtype)
        split.targets.append(a)  # None: the pool is full; the helper's rows are then copied
        if a is not None:
            return a
    targets = getattr(_local, "targets", None)
    if targets:
        ref = targets.pop(0)
        if ref is not None:
            if tuple(ref.shape) != tuple(shape):
                raise RuntimeError(f"helper process: the parent's output rows {ref.shape} are not {shape}")
            return _local.segments.view(ref)
    return np.empty(shape, dtype)


class _SavedRows:
    """A :class:`_WinogradSaved`'s rows as sent to a helper: its winners' and its V's (Refs or PoolRefs) and
    the block size."""

    __slots__ = ("arg", "v", "per_chunk")  # (pickle keeps __slots__ objects' attributes by itself)

    def __init__(self, arg, v, per_chunk):
        self.arg, self.v, self.per_chunk = arg, v, per_chunk


_balance = {}  # sweep key -> [seconds per chunk here, seconds per chunk in a helper] (moving averages)


class _Split:
    """One call of a :func:`_splits` method in a parent process, holding the helpers it acquired:
    :meth:`start` sends each its share of the sweep's chunks, :meth:`collect` gathers their chunk results,
    :meth:`finish` copies any output rows not written in place (or :meth:`abandon`, on an error) and
    releases the helpers."""

    def __init__(self, name, arguments, batch, helpers):
        self.name, self.arguments, self.batch, self.helpers = name, arguments, batch, helpers
        self.targets = []  # the outputs allocated by _empty_batch, in order (None: not in the pool)
        self.parts = []  # [helper | None (failed), first row, end row, first chunk, end chunk, reply outputs]
        self.key, self.t0, self.mine_s = None, 0.0, 0.0

    def start(self, bounds, work):
        """Sends the helpers their shares of the chunks ``bounds``; returns how many chunks, the first ones,
        this process runs, or None (not shared: too little work or too few chunks).

        The shares are contiguous. This process's is sized by the chunk times measured so far for this sweep
        (here and in the helpers, which also carry the messages and copies), so that all finish together."""
        k = len(bounds) - 1
        if k < max(2, _SPLIT_MIN_CHUNKS) or work < _SPLIT_WORK:
            return None
        helpers = self.helpers[: k - 1]
        p = len(helpers) + 1
        self.key = (self.name, tuple(bounds))
        mine = k // p
        if self.key in _balance:
            here, there = (max(t, 1e-9) for t in _balance[self.key])
            mine = round(k * (1 / here) / (1 / here + (p - 1) / there))
        mine = min(max(mine, 1), k - len(helpers))
        rest = [mine + (k - mine) * i // (p - 1) for i in range(p)]  # the helpers' shares, equal within one
        in_place = all(t is not None for t in self.targets)  # every output: the helper sends back partials only
        for h, c0, c1 in zip(helpers, rest, rest[1:]):
            s, e = bounds[c0], bounds[c1]
            part = [h, s, e, c0, c1, None]
            self.parts.append(part)
            try:
                h.arena.reset()
                arguments = {name: self._share(h, name, v, s, e) for name, v in self.arguments.items()}
                targets = [None if t is None else cpu_workers.pool().ref(t[s:e]) for t in self.targets]
                h.send((self.name, arguments, [b - s for b in bounds[c0: c1 + 1]], targets, h.arena.size,
                        h.arena.top, in_place))
            except Exception as err:  # noqa: BLE001 - the helper is gone: this process runs its chunks
                part[0] = None
                cpu_workers.fail(err)
        self.t0 = time.perf_counter()
        return mine

    def _share(self, h, name, value, s, e):
        if name not in self.batch or value is None:
            # a large array (a filter) through the arena too: unpickling 70 KB took a helper 30-100 us
            return h.arena.put(value) if isinstance(value, np.ndarray) and value.nbytes >= 4096 else value
        if isinstance(value, _WinogradSaved):
            return _SavedRows(self._rows(h, value.arg, s, e), self._rows(h, value.v, s, e), value.per_chunk)
        return self._rows(h, value, s, e)

    @staticmethod
    def _rows(h, a, s, e):
        """Rows [s, e) of a for helper h: where they lie in the pool, else copied into its arena."""
        rows = a[s:e]
        ref = cpu_workers.pool().ref(rows)
        return ref if ref is not None else h.arena.put(rows)

    def collect(self, fn, bounds):
        """The helpers' chunk results in chunk order (views of their arenas, valid until :meth:`finish`); a
        helper that failed has its chunks run here instead. Updates the measured speeds of this sweep."""
        results, helper_s = [], []
        for part in self.parts:
            h, _, _, c0, c1, _ = part
            reply = None
            if h is not None:
                try:
                    reply = h.receive()
                except Exception as err:  # noqa: BLE001 - it died: this process runs its chunks
                    cpu_workers.fail(err)
                if reply is not None and reply[0] != "done":
                    cpu_workers.fail(RuntimeError(reply[1]))
                    reply = None
            if reply is None:
                part[0] = None
                results += _chunks_in_turn(fn, bounds[c0: c1 + 1])
                continue
            _, size, chunks, outputs, seconds = reply
            part[5] = "in place" if outputs is None else outputs
            h.arena.map(size)
            results += [_fetch(h.arena, r) for r in chunks]
            helper_s.append(seconds / (c1 - c0))
        if helper_s and self.parts:
            here, there = self.mine_s / self.parts[0][3], max(helper_s)
            old = _balance.get(self.key)
            _balance[self.key] = [here, there] if old is None else [old[0] + .25 * (here - old[0]),
                                                                    old[1] + .25 * (there - old[1])]
        return results

    def finish(self, result, outputs):
        try:
            for h, s, e, _, _, shared in self.parts:
                if h is None or not isinstance(shared, tuple):  # failed, or every output written in place
                    continue
                for i in outputs:
                    mine, theirs = result[i], shared[i]
                    if isinstance(mine, _WinogradSaved):
                        mine, theirs = (mine.arg, mine.v), theirs
                    else:
                        mine, theirs = (mine,), (theirs,)
                    for a, ref in zip(mine, theirs):
                        if a is not None and ref is not None:  # None: written in place
                            a[s:e] = h.arena.view(ref)
        finally:
            self._release()

    def abandon(self, error):
        """After ``error`` here: reads the replies still owed, so that the helpers stay in step, and releases
        them; after an interrupt (Ctrl+C), which may have cut a reply in half, closes them instead (new ones
        start later)."""
        owed = [p[0] for p in self.parts if p[0] is not None and p[5] is None]
        if owed and not isinstance(error, Exception):
            cpu_workers.shutdown(owed)
        else:
            for h in owed:
                try:
                    h.receive()
                except Exception as err:  # noqa: BLE001
                    cpu_workers.fail(err)
        self._release()

    def _release(self):
        cpu_workers.release(self.helpers)
        self.helpers, self.parts = [], []


def _map_leaves(fn, value):
    """``fn`` applied to each item of ``value`` that is not a tuple, nested tuples kept: a chunk's or a method's
    result (arrays, None, tuples of them) on its way into or out of a helper's arena."""
    if isinstance(value, tuple):
        return tuple(_map_leaves(fn, v) for v in value)
    return fn(value)


def _shared(arena, result):
    """A chunk result with its arrays copied into the arena (as Refs)."""
    return _map_leaves(lambda v: arena.put(v) if isinstance(v, np.ndarray) else v, result)


def _fetch(arena, shared):
    """A chunk result from a helper: its arrays as views of the arena (read before the helper is released)."""
    return _map_leaves(lambda v: arena.view(v) if isinstance(v, cpu_workers.Ref) else v, shared)


def serve_helper_request(backend, arena, segments, request):
    """A helper process's answer to one request of :meth:`_Split.start`: runs the method on its rows with the
    chunk boundaries it was sent, writing its outputs' rows into the parent's arrays where they are in the
    pool; returns ``("done", arena size, chunk results, outputs, seconds)`` (arrays copied into the arena as
    Refs; None for an output written in place)."""
    t0 = time.perf_counter()
    name, arguments, bounds, targets, size, top, in_place = request
    arena.map(size)

    def rows(ref):
        return segments.view(ref) if isinstance(ref, cpu_workers.PoolRef) else arena.view(ref)
    for key, value in arguments.items():
        if isinstance(value, (cpu_workers.Ref, cpu_workers.PoolRef)):
            arguments[key] = rows(value)
        elif isinstance(value, _SavedRows):
            arguments[key] = _WinogradSaved(rows(value.arg), rows(value.v), value.per_chunk)
    arena.reset(top)  # what this helper sends back goes after the parent's inputs
    _local.forced, _local.captured, _local.targets, _local.segments = bounds, None, list(targets), segments
    _local.arena, _local.in_place = arena, in_place
    try:
        result = getattr(backend, name)(**arguments)
        if _local.forced is not None:
            raise RuntimeError(f"helper process: {name} ran no sweep")
    except _SweepDone:  # every output was written in place
        result = None
    finally:
        _local.forced = _local.targets = _local.segments = _local.arena = _local.in_place = None

    def share(v):  # an output: None where written in place (in the pool), else copied into the arena
        if isinstance(v, _WinogradSaved):
            return share(v.arg), share(v.v)
        if isinstance(v, np.ndarray):
            return None if segments.ref(v) is not None else arena.put(v)
        return v
    chunks = _local.captured
    outputs = None if result is None else _map_leaves(share, result)
    _local.captured = None
    return "done", arena.size, chunks, outputs, time.perf_counter() - t0


class _SweepDone(Exception):
    """Raised in a helper process after its share of a sweep whose outputs it wrote in place: the rest of the
    method (summing partials, ...) is the parent's."""


def _chunks_in_turn(fn, bounds):
    """``fn(b0, b1)`` over the chunks of ``bounds`` (consecutive boundaries), one after another on this thread
    with BLAS on one thread: a share of a sweep shared with helper processes, here or in a helper."""
    with cpu_runtime.single_threaded():
        return [fn(b0, b1) for b0, b1 in zip(bounds, bounds[1:])]


def _split_sweep(split, fn, bounds, work):
    """A sweep shared with helper processes (:class:`_Split`): this thread runs the first share of the chunks
    ``bounds`` in turn while each helper runs another; their results in chunk order, or None (not shared)."""
    _local.split = None  # a method's first sweep only
    mine = split.start(bounds, work)
    if mine is None:
        return None
    results = _chunks_in_turn(fn, bounds[: mine + 1])
    split.mine_s = time.perf_counter() - split.t0
    return results + split.collect(fn, bounds)


def _after_fork_in_child():
    """A forked child (``multiprocessing``'s default start method on Linux, a data loader's workers) has only the
    thread that forked: the helper threads and the GEMM thread are gone, and work handed to them would wait
    forever. They are started anew at first use; the locks are new too (another thread may have held one)."""
    global _pool, _pool_workers, _pool_lock, _dedicated
    _pool, _pool_workers, _dedicated = None, 0, {}
    _pool_lock = threading.Lock()


class _Job:
    """One call handed to a dedicated thread (:func:`_submit`): ``wait()`` returns its value or raises its error."""

    __slots__ = ("fn", "arg", "value", "error", "_done")

    def __init__(self, fn, arg):
        self.fn, self.arg, self.value, self.error = fn, arg, None, None
        self._done = threading.Lock()
        self._done.acquire()  # released by the thread that ran the call, when it has returned or raised

    def run(self):
        try:
            self.value = self.fn(self.arg)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting caller, re-raised there
            self.error = e
        self._done.release()

    def wait(self):
        with self._done:  # taken once the call is done, and given back: a second wait returns at once
            pass
        if self.error is not None:
            raise self.error
        return self.value


_dedicated = {}  # thread name -> the queue of _Job of that daemon thread (started at first use)


def _submit(thread, fn, arg):
    """Runs ``fn(arg)`` on the daemon thread named ``thread`` (one per name for the process, started at first use):
    "gpuflow-gemm", :func:`_pipelined`'s GEMMs; "gpuflow-batch", the second batch of a pair
    (:func:`_two_at_once`), whose own GEMMs may go to the first. Returns the :class:`_Job`."""
    with _pool_lock:
        jobs = _dedicated.get(thread)
        if jobs is None:
            jobs = _dedicated[thread] = queue.SimpleQueue()

            def loop(jobs=jobs):
                while True:
                    jobs.get().run()
            threading.Thread(target=loop, name=thread, daemon=True).start()
    job = _Job(fn, arg)
    jobs.put(job)
    return job


def _submit_gemm(fn, arg):
    """Runs ``fn(arg)`` on the GEMM thread."""
    return _submit("gpuflow-gemm", fn, arg)


class _FasterOf:
    """Chooses between two ways of running the same work that give the same bits (for :func:`_pipelined`, 0:
    whole chunks on :func:`_batch_parallel`, 1: the pipeline; for :func:`_splits`, 0: this process's threads,
    1: shared with helper processes) by their measured wall time, per key.

    Each way's time is an exponential moving average (weight ``alpha`` on the newest call); the first calls of
    a key try each way, later calls take the faster, except every ``probe_every``-th, which tries the other, so
    that a change of speed (the machine's) is noticed. With ``settle``, a way taken after the other runs
    ``settle`` more calls in a row and the times of its first ``settle`` calls are not counted: a way that
    warms something up (a helper process's caches, after it idled) is timed as it runs when it is the one in
    use. With ``margin``, the way last taken stays until the other is faster by that fraction. Thread-safe in
    the sense that matters: a race can only change which way a call runs, never its result.
    """

    def __init__(self, probe_every=32, alpha=0.25, settle=0, margin=0.0):
        self.probe_every, self.alpha, self.settle, self.margin = probe_every, alpha, settle, margin
        self._stats = {}  # key: [average s of way 0, of way 1, calls, last way, calls left in a row, not counted,
        # the way chosen as the faster]

    def choose(self, key):
        st = self._stats.setdefault(key, [None, None, 0, None, 0, 0, None])
        st[2] += 1
        if st[4] > 0:  # settling: stay
            st[4] -= 1
            return st[3]
        if st[1] is None:
            way = 1
        elif st[0] is None:
            way = 0
        else:
            best = 0 if st[0] <= st[1] else 1
            if st[6] is not None and best != st[6] and st[best] > (1 - self.margin) * st[st[6]]:
                best = st[6]  # not faster by the margin: stay (noise would flip it back and forth)
            st[6] = best
            way = 1 - best if st[2] % self.probe_every == 0 else best
        if way != st[3]:
            st[3], st[4], st[5] = way, self.settle, self.settle
        return way

    def record(self, key, way, seconds):
        st = self._stats.setdefault(key, [None, None, 0, None, 0, 0, None])
        if way == st[3] and st[5] > 0:
            st[5] -= 1
            return
        if st[way] is None or math.isinf(seconds) or math.isinf(st[way]):
            st[way] = seconds  # (inf: a way that cannot run for this key)
        else:
            st[way] += self.alpha * (seconds - st[way])


_ways = _FasterOf()
_batch_ways = _FasterOf(probe_every=64, settle=1, margin=0.05)  # per map_batches key: 0, one batch after the
# other, each on all the threads; 1, two at once. A probe every 16 pairs cost the seed CNN's predict at batch 32
# about 5% (two pairs of 16 the slow way, 0.8-0.9 ms more each); every 64, about 1%
_batch_seconds = 0.0  # time this process has spent computing map_batches' batches
_HELPERS_AFTER_S = 1.0  # map_batches may start the helper processes once its batches have taken this long in all
# (a process's predict calls together). Measured on the 2-core Zen 4, the seed CNN's predict of 10,000 images at
# batch 32 in a fresh process: 0.52-0.56 s on threads, 0.69-0.76 s when it started a helper on the way (a helper
# imports NumPy and gpuflow: ~1 s of a core), 0.39-0.42 s once one runs; so a short script never starts one, and a
# long inference job gains after ~1 s more of it
_split_ways = _FasterOf(probe_every=64, settle=2, margin=0.05, alpha=0.1)  # per call signature of a _splits
# method: 0, this process's threads; 1, shared with helper processes. Measured on the 2-core Zen 4 (A/B against
# threads only, bench_ab_cpu.py): with every sweep shared, the seed CNN's training step took 0.93x as long, its
# predict at batch 32 1.07x and the segmentation example's step (batch 16, 16-channel convolutions) 1.14x: a share
# costs a message each way, a helper's wake-up and its own setup (~0.1-0.3 ms), which small sweeps do not repay.
# Measured per signature instead (against sharing everything): the seed CNN 0.99x, predict 0.97x, segmentation
# 0.96x. A rare probe (3 calls in 64), a slow average (alpha) and the 5% margin keep noise from flipping it.


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _pipelined(key, n, per_chunk, work, prologue, gemm, epilogue):
    """Runs ``epilogue(c0, c1, a, gemm(a))`` with ``a = prologue(c0, c1)`` for the chunks [c0, c1) of
    ``range(n)`` (:func:`_chunk_bounds` with ``per_chunk``) and returns the epilogues' results in chunk order.

    ``gemm`` should be one or two BLAS calls on the operands ``a`` (it must not touch anything the prologue
    or epilogue of another chunk writes); ``prologue`` and ``epilogue``, the chunk's memory-bound NumPy work.
    With two threads the chunks can form a software pipeline: a helper thread runs chunk i's GEMMs while the
    caller runs chunk i+1's prologue and chunk i-1's epilogue. The GEMMs release the GIL for their whole
    length, so the two threads rarely wait for it; two threads each running whole chunks of many short NumPy
    calls (:func:`_batch_parallel`) often do, and each wait puts a thread to sleep for longer than a call
    takes. Measured on a 2-core Zen 4 VM, whose thread wake-ups cost ~15 us: the seed CNN's fused Winograd
    convolution + pooling, forward and backward, ran 1.4x and 1.3x as fast on two threads as on one in whole
    chunks and 1.5x and 1.6x pipelined (two processes on half the batch each reach 2x). But in some processes,
    or for minutes at a time, the pipeline ran 2.5x slower than that, both threads' arithmetic slowed as if
    each block's operands and products crossed a slow link between the two cores, while whole chunks, whose
    data stay on one core, did not slow. So with two threads the faster of the two ways, measured as it runs
    (:class:`_FasterOf`, per ``key``), does the work. Any other thread count runs whole chunks. The chunks and
    the arithmetic inside each are the same either way, so the results are byte-identical.
    Used where the GEMMs are about half the work (Winograd); the im2col convolutions, whose few-channel GEMMs
    are a small part, ran slower pipelined.
    """
    def run_chunk(c0, c1):
        return _chunk(c0, c1, prologue, gemm, epilogue)

    def whole_chunks():
        return _batch_parallel(run_chunk, n, work, per_chunk)
    bounds = _chunk_bounds(n, per_chunk=per_chunk)
    split = getattr(_local, "split", None)
    if split is not None:
        results = _split_sweep(split, run_chunk, bounds, work)
        if results is not None:
            return results
    if _num_threads() != 2 or len(bounds) <= 2:
        return whole_chunks()
    way = _ways.choose(key)
    start = time.perf_counter()
    results = whole_chunks() if way == 0 else _pipeline(bounds, prologue, gemm, epilogue)
    _ways.record(key, way, time.perf_counter() - start)
    return results


def _pipeline(bounds, prologue, gemm, epilogue):
    """The software pipeline of :func:`_pipelined` over the chunks ``bounds``."""
    results, in_flight = [], []  # in_flight: (c0, c1, operands, job) of the chunks whose GEMMs were submitted
    with cpu_runtime.single_threaded():
        try:
            for c0, c1 in zip(bounds, bounds[1:] + [None]):
                if c1 is not None:
                    a = prologue(c0, c1)
                    in_flight.append((c0, c1, a, _submit_gemm(gemm, a)))
                if len(in_flight) == 2 or (c1 is None and in_flight):
                    p0, p1, pa, job = in_flight.pop(0)
                    products = job.wait()
                    results.append(epilogue(p0, p1, pa, products))
        finally:
            for *_, job in in_flight:  # an error: let the GEMMs in flight finish before their buffers are dropped
                try:
                    job.wait()
                except BaseException:  # noqa: BLE001 - the first error is the one raised
                    pass
    return results


_END = object()  # the end of map_batches' batches


def _alone(fn, item):
    """fn(item) on all the threads, as map_batches runs a batch alone: its sweeps may use the helper processes but
    start them only once map_batches' batches have taken ``_HELPERS_AFTER_S`` (a short ``predict`` never pays
    their start)."""
    global _batch_seconds
    _local.may_start = _batch_seconds >= _HELPERS_AFTER_S
    start = time.perf_counter()
    try:
        return fn(item)
    finally:
        _local.may_start = True
        _batch_seconds += time.perf_counter() - start


def _free_helper(remote):
    """A ready helper process (locked for the caller) for ``remote``'s batches, or None: no remote, none free, or
    a model config the helpers must not run. Asking counts toward starting the helpers only once map_batches'
    batches have taken ``_HELPERS_AFTER_S``."""
    if remote is None:
        return None
    # at most one (a pair has one batch to give away): acquire wakes each helper it returns, to poll for a request
    helpers = cpu_workers.acquire(2, start=_batch_seconds >= _HELPERS_AFTER_S)
    if helpers and not remote.usable:
        cpu_workers.release(helpers)
        return None
    return helpers[0] if helpers else None


def _two_at_once(fn, a, b, remote=None, helper=None):
    """``(fn(a), job, timed)``: fn(a) on this thread while fn(b) runs elsewhere (``job.wait()`` gives it or raises
    its error): in ``helper`` (a locked helper process, released here) through ``remote``, else on another thread;
    each with half the threads (:func:`_num_threads`) and BLAS on one. ``timed``: False when the pair was slow
    for a reason of its own (the helper rebuilt the model, or the batch was computed here too). An error in fn(a)
    is raised once fn(b) is done (it may read what the caller frees next)."""
    share = max(1, _num_threads() // 2)
    if helper is not None:
        done = _in_helper(fn, a, b, remote, share, helper)
        if done is not None:
            return done
    job = _submit("gpuflow-batch", functools.partial(_on_share, fn, share=share), b)
    try:
        result = _on_share(fn, a, share)
    except BaseException:
        try:
            job.wait()
        except BaseException:  # noqa: BLE001 - fn(a)'s error comes first, as one after the other
            pass
        raise
    with job._done:  # fn(b) done (its error, if any, is the caller's to raise at its turn)
        pass
    return result, job, True


def _on_share(fn, item, share):
    """fn(item) as one batch of a pair: ``share`` threads for its ops (:func:`_num_threads`), BLAS on one."""
    _local.threads = share
    try:
        with cpu_runtime.single_threaded():
            return fn(item)
    finally:
        _local.threads = None


def _in_helper(fn, a, b, remote, share, helper):
    """:func:`_two_at_once` with fn(b) in ``helper`` through ``remote`` (the helper released here); None, having
    done nothing else, where the batch cannot go to it."""
    try:
        try:
            if not remote.send(helper, b):
                return None
        except Exception as err:  # noqa: BLE001 - the helper is gone: threads from now on
            cpu_workers.fail(err)
            return None
        except BaseException:  # Ctrl+C, maybe in the middle of the request: this helper is closed (as in
            cpu_workers.shutdown([helper])  # a sweep's abandon; new ones start later)
            raise
        try:
            result = _on_share(fn, a, share)
        except Exception:
            _drain(helper)  # keep the helper in step before fn(a)'s error goes up
            raise
        except BaseException:
            cpu_workers.shutdown([helper])
            raise
        job = _Job(fn, b)
        try:
            job.value = remote.receive(helper, b, result)
            job._done.release()
        except Exception as err:  # noqa: BLE001 - computed here instead (raising fn(b)'s own error, if any)
            if not isinstance(err, remote.Refused):
                cpu_workers.fail(err)
            job.run()
            return result, job, False
        except BaseException:  # Ctrl+C, maybe with the reply half read: the helper is out of step, closed
            cpu_workers.shutdown([helper])
            raise
        return result, job, not remote.slow
    finally:
        helper.lock.release()


def _drain(helper):
    """Reads a helper's reply to a request whose answer is no longer wanted (an error here), so that it stays in
    step; a helper that cannot answer is turned off, one interrupted (Ctrl+C) closed."""
    try:
        helper.receive()
    except Exception as err:  # noqa: BLE001
        cpu_workers.fail(err)
    except BaseException:
        cpu_workers.shutdown([helper])
        raise


def _in_turn(fn, n, work=0, per_chunk=None):
    """:func:`_batch_parallel`'s chunks run one after another on this thread (BLAS as the caller set it)."""
    bounds = _chunk_bounds(n, work, per_chunk)
    return [fn(b0, b1) for b0, b1 in zip(bounds, bounds[1:])]


def _chunk(c0, c1, prologue, gemm, epilogue):
    a = prologue(c0, c1)
    return epilogue(c0, c1, a, gemm(a))



def _block(sample_bytes):
    """Samples per block (the chunk of a convolution or of memory-bound work) so that a block's working set
    (``sample_bytes`` per sample) is about twice the per-core L2 cache the CPU reports
    (:func:`.cpu_runtime.l2_cache_bytes`), at least 1. Measured on a Zen 4 with 1 MiB of L2, the seed CNN's two
    fused convolutions (forward and backward, one thread): blocks of one and half the L2 took 1.15x and 1.45x
    as long, blocks of four times the L2 no less; smaller blocks pay more per-call overhead than they gain in
    cache hits."""
    return max(1, 2 * cpu_runtime.l2_cache_bytes() // max(1, sample_bytes))


def _nonzero_extent(dy):
    """``(oh, ow)`` of NHWC dy once its trailing all-zero rows, then columns, are cropped (at least 1 each)."""
    oh, ow = dy.shape[1], dy.shape[2]
    while oh > 1 and not dy[:, oh - 1].any():
        oh -= 1
    while ow > 1 and not dy[:, :oh, ow - 1].any():
        ow -= 1
    return oh, ow


def _pad(x, pads, value=0.0):
    top, bottom, left, right = pads
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _crop(xp_, x_shape, pads):
    """The unpadded (N, H, W, C) view of a padded array."""
    top, left = pads[0], pads[2]
    return xp_[:, top: top + x_shape[1], left: left + x_shape[2], :]


def _windows(x, g, writeable=False):
    """A (N, OH, OW, kh, kw, C) strided view of the windows of geometry g over x padded by g.pads (no copy)."""
    n, c = x.shape[0], x.shape[3]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel_hw, g.strides, g.dilations, g.output_hw
    s0, s1, s2, s3 = x.strides
    return as_strided(x, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
                      writeable=writeable)


def _output_windows(win, out_hw, pool=None):
    """The windows ``win`` (N, OH, OW, kh, kw, C) of the top-left ``out_hw`` outputs; with ``pool`` (a max
    pooling of window = stride (PH, PW) over them), reordered pooling offset first: (N, PH, PW, ph, pw, kh, kw, C),
    output pixel (PH*p + a, PW*q + b) at [n, a, b, p, q] (a view). An im2col matrix of that row order puts each
    offset's outputs of a sample in one contiguous run, so the pooling and its gradient run over whole runs
    instead of strided views whose rows hold F elements (measured on the seed CNN's first layer, F = 32: the
    2x2 pool took half the fused forward)."""
    win = win[:, : out_hw[0], : out_hw[1]]
    if pool is None:
        return win
    (n, oh, ow), (ph, pw), s = win.shape[:3], pool, win.strides
    return as_strided(win, (n, ph, pw, oh // ph, ow // pw) + win.shape[3:], (s[0], s[1], s[2], s[1] * ph, s[2] * pw)
                      + s[3:], writeable=win.flags.writeable)


def _offset_view(xp_, i, j, oh, ow, strides, dilations):
    """The (N, OH, OW, C) view of padded array xp_ seen by window offset (i, j)."""
    sh, sw = strides
    dh, dw = dilations
    return xp_[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]


def _epilogue(y2, b, relu):
    """``apply(b0, b1)``: ``y += b`` then ReLU, in place, on samples [b0, b1) of y2.

    y2 is a (N, P) view of the output, one row per sample (P a multiple of F = len(b)). The bias is tiled to
    a whole row, so NumPy's inner loops run over P elements instead of F (its per-inner-loop overhead is
    ~30 ns), and the ReLU is a ``maximum`` against a zero row: NumPy's SIMD loop for two contiguous operands
    is ~3x faster here than the one for an array and a scalar.
    """
    p = y2.shape[1]
    bias = None if b is None else np.tile(b.astype(y2.dtype, copy=False), p // b.shape[0])
    zeros = np.zeros(p, dtype=y2.dtype) if relu else None

    def apply(b0, b1):
        rows = y2[b0:b1]
        if bias is not None:
            rows += bias
        if relu:
            np.maximum(rows, zeros, out=rows)
    return apply


def _max_pool_block(xb, yb, ab, pool_size, strides):
    """Max pooling of the (padded) NHWC block xb into yb, with the window index of each winner in ab (if not
    None).

    A loop over the ph*pw window offsets with vectorised work per offset. Strict comparisons: the first
    maximum of the window in row-major order wins ties, as TensorFlow's MaxPoolGrad routes them.
    """
    ph, pw = pool_size
    oh, ow = yb.shape[1:3]
    _max_of_views([_offset_view(xb, k // pw, k % pw, oh, ow, strides, (1, 1)) for k in range(ph * pw)], yb, ab)


def _max_of_views(views, yb, ab):
    """yb = the elementwise maximum of the arrays ``views``, ab = the index of the first that holds it (skipped
    when ab is None: a third of the calls)."""
    if ab is None:
        np.maximum(views[0], views[1], out=yb) if len(views) > 1 else np.copyto(yb, views[0])
        for v in views[2:]:
            np.maximum(yb, v, out=yb)
        return
    yb[...] = views[0]
    ab[...] = 0
    for k in range(1, len(views)):
        v = views[k]
        better = v > yb
        np.maximum(yb, v, out=yb)
        # Branch-free argmax update: k grows each pass, so max(arg, better * k) sets arg = k exactly where
        # this offset is better (masked copies mispredict on random data).
        np.maximum(ab, better.view(np.uint8) * np.uint8(k) if ab.dtype == np.uint8 else better * k, out=ab)


def _offsets(k, dtype):
    """``arange(k)`` in ``dtype``, cached: the window offsets an argmax array is compared with."""
    key = (k, np.dtype(dtype))
    if key not in _OFFSETS:
        _OFFSETS[key] = np.arange(k, dtype=dtype)
    return _OFFSETS[key]


_OFFSETS = {}


def _max_unpool_block(db, gb, sb, pool_size, strides, disjoint):
    """Routes each pooled gradient of gb to its window's winner (index sb) in db: written when the windows
    are disjoint (db then needs no zeroing where they cover it), accumulated otherwise."""
    ph, pw = pool_size
    oh, ow = gb.shape[1:3]
    for k in range(ph * pw):
        view = _offset_view(db, k // pw, k % pw, oh, ow, strides, (1, 1))
        contrib = gb * (sb == k)  # multiply, not np.where: branch-free
        if disjoint:
            view[...] = contrib
        else:
            view += contrib


# -- Winograd F(2x2, 3x3) -------------------------------------------------------------------------------
# Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016, arXiv:1509.09308), section 4.1:
# each 2x2 tile of outputs is Y = A^T [(G g G^T) * (B^T d B)] A, d the 4x4 input tile under it (tiles 2 apart),
# g the 3x3 filter; summed over the input channels, the 16 elementwise products become 16 GEMMs
# (tiles, C) @ (C, F), 16 multiplies per output tile where the direct convolution has 36. The backward pass is
# the same algorithm transposed (the paper's section 4 and its reference implementation, Lavin's "wincnn"): with
# M = A dY A^T, the data gradient is B [M @ U^T] B^T scattered back over the overlapping input tiles, and the
# filter gradient G^T [sum over tiles of V^T @ M] G, where V = B^T d B is the forward's transformed input.
# The transforms' coefficients are 0, +-1 and 1/2 (the filter's, applied once per call in float64), so the
# only new rounding is that of a few additions per tile element (bounded in tests/test_winograd.py). Measured
# against the float64 reference on the seed CNN's second convolution (ReLU inputs, Glorot filter), relative RMS
# error of Winograd / the im2col GEMM: output 1.7e-7 / 2.1e-7, data gradient 2.6e-7 / 1.5e-7, filter gradient
# 4.4e-7 / 2.8e-7: both a few float32 roundings.
_WINO_G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
_WINO_MIN_CHANNELS = 32  # input and output channels from which a 3x3 stride-1 convolution runs on Winograd: the
# 16 GEMMs have K = C (forward) and F (data gradient), and the transforms' memory passes cost the same whatever
# the channels. Measured (one thread, Zen 4, forward + backward, "same" padding, unfused, against im2col):
# 16 -> 16 channels break even (slower on 32x32 images), 32 -> 64 on 13x13 saves 20% of the time, 64 -> 64 on
# 16x16 29%, 256 -> 256 on 16x16 38%


_WINO_KEEP_BYTES = 64 << 20  # the largest transformed input V (16 values per 2x2 output tile and channel: 4x the
# input's size) the fused Winograd convolution + pooling keeps from its forward for its backward, per call


class _WinogradSaved:
    """What the fused Winograd convolution + pooling forward keeps for its backward (its ``saved``): the pooling
    winners ``arg``, the transformed input V ``v`` ((N, 16 * tiles * C), :func:`_wino_v_block`) and the block
    size ``per_chunk`` (samples) the forward ran in, which the backward's blocks must be. Redoing V was about
    a fifth of the backward's work (measured: the seed CNN's second convolution, one thread). Both arrays are
    batch-major (a block's V lies in its samples' rows), so a helper process reads and writes its rows of them
    in place."""

    __slots__ = ("arg", "v", "per_chunk")

    def __init__(self, arg, v, per_chunk):
        self.arg, self.v, self.per_chunk = arg, v, per_chunk


def _wino_v_block(v, c0, c1, c):
    """Block [c0, c1)'s transformed input V, (16, tiles * (c1 - c0), C) as :func:`_wino_input` lays it out, in
    the rows [c0, c1) of a kept V (N, 16 * tiles * C) of C channels (a view: the block's bytes, in that order,
    fill its samples' rows)."""
    return v[c0:c1].reshape(16, -1, c)


def _winograd(w, g):
    """Whether a convolution of filter w (kh, kw, C, F) and geometry g runs on Winograd F(2x2, 3x3): a 3x3
    kernel, stride 1, no dilation, at least ``_WINO_MIN_CHANNELS`` input and output channels."""
    kh, kw, c, f = w.shape
    return ((kh, kw) == (3, 3) and g.strides == (1, 1) and g.dilations == (1, 1)
            and min(c, f) >= _WINO_MIN_CHANNELS)


def _wino_block(x, c0, c1, g, th, tw):
    """Samples [c0, c1) of x padded by g.pads (and, where the output's height or width is odd, by one more zero
    row or column at the bottom or right), the (2th + 2, 2tw + 2) pixels that th x tw tiles of 4x4 (2 apart)
    cover, in (H, W, N, C) order: one copy of the block, the padding zeroed around it."""
    top, left = g.pads[0], g.pads[2]
    hh, ww = 2 * th + 2, 2 * tw + 2
    rows, cols = min(x.shape[1], hh - top), min(x.shape[2], ww - left)
    xt = np.empty((hh, ww, c1 - c0, x.shape[3]), dtype=x.dtype)
    xt[:top] = 0
    xt[top + rows:] = 0
    xt[top: top + rows, :left] = 0
    xt[top: top + rows, left + cols:] = 0
    xt[top: top + rows, left: left + cols] = x[c0:c1, :rows, :cols].transpose(1, 2, 0, 3)
    return xt


def _wino_filter(w):
    """U = G g G^T of every (input, output) channel pair of w (3, 3, C, F): (16, C, F) in w's dtype, index
    4i + j for the tile element (i, j); computed in float64 and rounded once."""
    with cpu_runtime.single_threaded():  # matmuls with K = 3: BLAS's threads cost more than they give (8x)
        t = (_WINO_G @ w.astype(np.float64).reshape(3, -1)).reshape(4, 3, -1)  # G g over the rows, then over the
        return (_WINO_G @ t).reshape(16, w.shape[2], w.shape[3]).astype(w.dtype)  # columns (10x einsum's speed)


def _wino_filter_grad(du, dtype):
    """The filter gradient G^T dU G (3, 3, C, F) of the transformed one du (16, C, F), in float64, rounded once."""
    c, f = du.shape[1:]
    with cpu_runtime.single_threaded():
        t = (_WINO_G.T @ du.astype(np.float64).reshape(4, -1)).reshape(3, 4, -1)
        return (_WINO_G.T @ t).reshape(3, 3, c, f).astype(dtype)


def _wino_input(xt, th, tw, v):
    """V = B^T d B of every 4x4 tile d of the block xt (>= 2th+2, >= 2tw+2, nb, C), in (H, W, N, C) order, tile
    (p, q) at pixel (2p, 2q), into v (16, th*tw*nb, C), tile element (i, j) at 4i + j: rows of B^T are
    (1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1). The row transform, then the column transform of
    all four rows at once: 8 NumPy passes whose inner loops run over a whole (nb, C) pixel of the block."""
    nb, c = xt.shape[2:]
    t = np.empty((4, th, 2 * tw + 2, nb, c), dtype=v.dtype)
    d = [xt[r: r + 2 * th - 1: 2, : 2 * tw + 2] for r in range(4)]
    np.subtract(d[0], d[2], out=t[0])
    np.add(d[1], d[2], out=t[1])
    np.subtract(d[2], d[1], out=t[2])
    np.subtract(d[1], d[3], out=t[3])
    v6 = v.reshape(4, 4, th, tw, nb, c)
    e = [t[:, :, s: s + 2 * tw - 1: 2] for s in range(4)]
    np.subtract(e[0], e[2], out=v6[:, 0])
    np.add(e[1], e[2], out=v6[:, 1])
    np.subtract(e[2], e[1], out=v6[:, 2])
    np.subtract(e[1], e[3], out=v6[:, 3])


def _wino_output(m, y6):
    """Y = A^T M A of every tile's m (16, th*tw*nb, F), into y6 (2, 2, th, tw, nb, F): y6[a, b, p, q] is output
    pixel (2p + a, 2q + b); rows of A^T are (1, 1, 1, 0) and (0, 1, -1, -1)."""
    m6 = m.reshape((4, 4) + y6.shape[2:])
    r = np.empty((2, 4) + y6.shape[2:], dtype=m.dtype)
    s = np.add(m6[1], m6[2])
    np.add(m6[0], s, out=r[0])
    np.subtract(m6[1], m6[2], out=s)
    np.subtract(s, m6[3], out=r[1])
    s = np.add(r[:, 1], r[:, 2])
    np.add(r[:, 0], s, out=y6[:, 0])
    np.subtract(r[:, 1], r[:, 2], out=s)
    np.subtract(s, r[:, 3], out=y6[:, 1])


def _wino_output_grad(dy6, m):
    """M = A dY A^T (the gradient of the tiles' products: :func:`_wino_output` transposed) of the output gradient
    dy6 (2, 2, th, tw, nb, F), laid out as :func:`_wino_output`'s y6, into m (16, th*tw*nb, F)."""
    r = np.empty((4, 2) + dy6.shape[2:], dtype=m.dtype)
    np.copyto(r[0], dy6[0])
    np.add(dy6[0], dy6[1], out=r[1])
    np.subtract(dy6[0], dy6[1], out=r[2])
    np.negative(dy6[1], out=r[3])
    m6 = m.reshape((4, 4) + dy6.shape[2:])
    np.copyto(m6[:, 0], r[:, 0])
    np.add(r[:, 0], r[:, 1], out=m6[:, 1])
    np.subtract(r[:, 0], r[:, 1], out=m6[:, 2])
    np.negative(r[:, 1], out=m6[:, 3])


def _wino_input_grad(dv, dxt):
    """The input gradient of :func:`_wino_input`: B dV B^T of every tile's dv (16, th*tw*nb, C), added up where the
    tiles overlap, written into dxt (2th+2, 2tw+2, nb, C). Per axis, tile element 0 gets dV0, 1 gets
    dV1 - dV2 + dV3, 2 gets dV1 + dV2 - dV0 and 3 gets -dV3; elements 2 and 3 of a tile are elements 0 and 1 of
    the next, so even and odd pixels are written, then the previous tile's share added."""
    th, tw = dxt.shape[0] // 2 - 1, dxt.shape[1] // 2 - 1

    def scatter(d, out, axis):  # d[0..3]: k tiles along axis; out: 2k + 2 pixels along axis
        k = d[0].shape[axis]
        at = lambda start, stop: out[(slice(None),) * axis + (slice(start, stop, 2),)]  # noqa: E731
        np.copyto(at(0, 2 * k), d[0])
        odd = at(1, 2 * k)
        np.subtract(d[1], d[2], out=odd)
        odd += d[3]
        out[(slice(None),) * axis + (slice(2 * k, None),)] = 0
        s = np.add(d[1], d[2])
        s -= d[0]
        at(2, 2 * k + 1)[...] += s
        at(3, 2 * k + 2)[...] -= d[3]
    d6 = dv.reshape((4, 4, th, tw) + dxt.shape[2:])
    e = np.empty((4, th) + dxt.shape[1:], dtype=dv.dtype)
    scatter([d6[:, j] for j in range(4)], e, 2)  # columns, the four rows of every tile at once
    scatter(list(e), dxt, 0)  # rows


def _wino_to_nhwc(y6, z):
    """Copies the outputs y6 (2, 2, th, tw, nb, F) of :func:`_wino_output` into z (nb, OH, OW, F), OH <= 2th and
    OW <= 2tw (an odd size leaves the last tile row or column half out)."""
    oh, ow = z.shape[1:3]
    for a in range(2):
        for b in range(2):
            z[:, a::2, b::2] = y6[a, b, : (oh - a + 1) // 2, : (ow - b + 1) // 2].transpose(2, 0, 1, 3)


def _nhwc_to_tiles(dz, th, tw):
    """The (2, 2, th, tw, nb, F) tile layout of :func:`_wino_output` of an output gradient dz (nb, OH, OW, F),
    zero-padded to 2th x 2tw."""
    nb, oh, ow, f = dz.shape
    dy6 = (np.empty if (oh, ow) == (2 * th, 2 * tw) else np.zeros)((2, 2, th, tw, nb, f), dtype=dz.dtype)
    for a in range(2):
        for b in range(2):
            dy6[a, b, : (oh - a + 1) // 2, : (ow - b + 1) // 2] = dz[:, a::2, b::2].transpose(1, 2, 0, 3)
    return dy6


@upcast_16bit
class NumpyBackend(NumpyArrays, Backend):
    name = "numpy"
    xp = np

    def __init__(self):
        # a bad GPUFLOW_NUM_THREADS or GPUFLOW_CPU_PROCESSES raises here, at the first CPU op, not inside a later one
        cpu_workers.processes(_num_threads())
        cpu_runtime.keep_freed_memory()
        self._rng = np.random.default_rng()

    def map_batches(self, fn, batches, key, remote=None):
        """See :meth:`Backend.map_batches`. After the first batch (alone: what a model builds lazily is built),
        the batches go in pairs, each pair the faster way so far for ``key`` (:class:`_FasterOf`): one after
        the other, each on all this backend's threads, or both at once, the second on another thread, each pair
        member on half the threads (BLAS on one, no helper processes). Small batches gain from pairs: their
        ops are too short to share out (a thread's wake-up costs about what a block takes), while a whole batch
        on each core keeps both busy between the GIL-held Python of the layers (measured on the 2-core Zen 4,
        the seed CNN's predict at batch 32: 0.8x as long in pairs; at batch 256 the same either way). Each
        batch's ops run the same chunks and arithmetic for any thread count, so the results are the same bytes
        either way.

        With ``remote`` (a :class:`gpuflow.keras.helper_predict.RemoteForward`), the second batch of a pair goes
        to a helper process (:mod:`.cpu_workers`) where one is ready: no GIL between the two (batch 32: 2.3-2.6 ms
        a pair against 4.6 one after the other; batch 256: 16.6 against 19.9). Pairs in a helper and on threads
        are timed apart. A helper that fails is dealt with as in the sweeps (the batch is computed here; the
        helpers are turned off); helpers are started from here only after ``_HELPERS_AFTER_S`` of batches.

        An error in ``fn``, or in reading ``batches``, is raised at its batch's turn, after the results of the
        batches before it."""
        global _batch_seconds
        items = iter(batches)
        first = next(items, _END)
        if first is _END:
            return
        yield _alone(fn, first)
        while True:
            a = next(items, _END)
            if a is _END:
                return
            try:
                b = next(items, _END) if _num_threads() >= 2 else _END
            except Exception:  # the batches' own error (a generator's): after a's result, as one after the other
                yield _alone(fn, a)
                raise
            if b is _END:
                yield _alone(fn, a)
                continue
            # Pairs in a helper process and on threads are different ways to time: each has its own averages.
            helper = _free_helper(remote)
            way = _batch_ways.choose((key, helper is not None))
            if way == 0 and helper is not None:
                cpu_workers.release([helper])
            start = time.perf_counter()
            timed = True
            if way == 0:
                ra = _alone(fn, a)
                ra_b = _Job(functools.partial(_alone, fn), b)
                ra_b.run()
            else:
                ra, ra_b, timed = _two_at_once(fn, a, b, remote, helper)
            seconds = time.perf_counter() - start
            if way == 1:
                _batch_seconds += seconds
            if ra_b.error is None and timed:
                _batch_ways.record((key, helper is not None), way, seconds)
            yield ra
            yield ra_b.wait()

    def map_batch_chunks(self, fn, n, rows):
        """See :meth:`Backend.map_batch_chunks`: the chunks run on this backend's threads, BLAS on one thread
        even for one chunk (small back-to-back GEMMs, whose BLAS threads would busy-wait between them)."""
        with cpu_runtime.single_threaded():
            return _batch_parallel(fn, n, per_chunk=rows)

    # -- convolution (blocked im2col + GEMM) ----------------------------------
    @staticmethod
    def _conv_plan(x, g):
        """(window view (N, OH, OW, kh, kw, C) of padded x, N, OH*OW, K = kh*kw*C, whether x itself is
        the im2col matrix (1x1, stride 1, no padding))."""
        xp_ = _pad(x, g.pads)
        win = _windows(xp_, g)
        n, oh, ow, kh, kw, c = win.shape
        direct = kh == kw == 1 and g.strides == (1, 1) and xp_ is x and x.flags.c_contiguous
        return win, n, oh * ow, kh * kw * c, direct

    @staticmethod
    def _cols(win, c0, c1, scratch, direct):
        """The (rows, K) im2col matrix of samples [c0, c1) of the windows ``win`` (N, output dims..., kh, kw, C),
        copied into ``scratch`` (a view of x if direct).

        With few channels (c < 4: a first layer on images) it is built K-major, one copy per kernel offset and
        channel into a contiguous (rows,) row of a (K, rows) buffer, and returned as that buffer's transposed
        view (BLAS takes either layout). Row-major, each offset's c-element runs landed kh*kw*c elements apart:
        measured, the seed CNN's first layer (c = 1) took 1.7x as long to copy.
        """
        if direct:  # a 1x1 stride-1 convolution: x already is the im2col matrix
            return win[c0:c1].reshape(-1, win.shape[-1])
        kh, kw, c = win.shape[-3:]
        if c < 4:
            buf = scratch.reshape(-1)[: scratch[: c1 - c0].size].reshape((kh, kw, c, c1 - c0) + win.shape[1:-3])
            np.copyto(buf, np.moveaxis(win[c0:c1], (-3, -2, -1), (0, 1, 2)))  # one call: fewer GIL waits
            return buf.reshape(kh * kw * c, -1).T
        buf = scratch[: c1 - c0]
        buf[...] = win[c0:c1]
        return buf.reshape(-1, kh * kw * c)

    def _conv_fwd_sweep(self, x, w, g, out_block, after=None, out_hw=None, pool=None):
        """The blocked forward convolution: per block of samples [c0, c1), im2col then one GEMM into
        ``out_block(c0, c1)`` (a ((c1-c0)*OH*OW, F) array), then ``after(c0, c1, z)`` while the block is in
        this core's cache. ``out_hw`` computes only the top-left (OH, OW) outputs; with ``pool``, z's rows are in
        :func:`_output_windows`'s pooling order instead of NHWC's (im2col only)."""
        if pool is None and _winograd(w, g):
            oh, ow = out_hw or g.output_hw

            def tiles_done(c0, c1, y6):
                z = out_block(c0, c1)
                _wino_to_nhwc(y6, z.reshape(c1 - c0, oh, ow, w.shape[3]))
                if after is not None:
                    after(c0, c1, z)
            self._wino_fwd_sweep(x, w, g, (oh, ow), tiles_done)
            return
        kh, kw, c, f = w.shape
        win, n, rows, k, direct = self._conv_plan(x, g)
        if (out_hw is not None and tuple(out_hw) != win.shape[1:3]) or pool is not None:
            win, direct = _output_windows(win, out_hw or win.shape[1:3], pool), False
            rows = int(np.prod(win.shape[1:-3]))
        w2 = w.reshape(k, f)

        def block(c0, c1):
            scratch = None if direct else np.empty((c1 - c0,) + win.shape[1:], dtype=x.dtype)
            z = np.matmul(self._cols(win, c0, c1, scratch, direct), w2, out=out_block(c0, c1))
            if after is not None:
                after(c0, c1, z)
        _batch_parallel(block, n, n * rows * k * f, per_chunk=_block(rows * (k + f) * x.itemsize))

    @staticmethod
    def _wino_fwd_sweep(x, w, g, out_hw, consume, keep=None):
        """The forward convolution on Winograd F(2x2, 3x3) (:func:`_wino_input`, :func:`_wino_output`): per block
        of samples [c0, c1), the block in (H, W, N, C) order, its input transform, 16 GEMMs and the output
        transform, then ``consume(c0, c1, y6)`` with the block's outputs in tiles ((2, 2, th, tw, nb, F), see
        :func:`_wino_output`) while they are in cache. ``out_hw``: the (OH, OW) top-left outputs wanted. With
        ``keep`` (an (N, 16 * tiles * C) array), each block's transformed input V is written into it
        (:func:`_wino_v_block`). Returns the block size (samples)."""
        n, c, f = x.shape[0], x.shape[3], w.shape[3]
        th, tw = (out_hw[0] + 1) // 2, (out_hw[1] + 1) // 2
        u = _wino_filter(w)
        tiles = th * tw

        def transform(c0, c1):
            v = (np.empty((16, tiles * (c1 - c0), c), dtype=x.dtype) if keep is None
                 else _wino_v_block(keep, c0, c1, c))
            _wino_input(_wino_block(x, c0, c1, g, th, tw), th, tw, v)
            return v, np.empty((16, tiles * (c1 - c0), f), dtype=x.dtype)

        def output(c0, c1, a, m):
            y6 = np.empty((2, 2, th, tw, c1 - c0, f), dtype=x.dtype)
            _wino_output(m, y6)
            consume(c0, c1, y6)
        # blocks sized by the GEMMs' operands V and M, as the im2col path's by its matrix and output
        per_chunk = _block(16 * tiles * (c + f) * x.itemsize)
        _pipelined(("winograd", consume.__name__, x.shape, w.shape, out_hw), n, per_chunk, n * tiles * 16 * c * f,
                   transform, lambda a: np.matmul(a[0], u, out=a[1]), output)
        return per_chunk

    @_splits(batch=("x",), outputs=(0,))
    def conv2d_fwd(self, x, w, geometry, *, b=None, relu=False):
        n, f = x.shape[0], w.shape[3]
        oh, ow = geometry.output_hw
        rows = oh * ow
        y = _empty_batch((n, rows, f), x.dtype).reshape(n * rows, f)
        epilogue = _epilogue(y.reshape(n, rows * f), b, relu) if b is not None or relu else None
        self._conv_fwd_sweep(x, w, geometry, lambda c0, c1: y[c0 * rows: c1 * rows],
                             epilogue and (lambda c0, c1, z: epilogue(c0, c1)))
        # Nothing is saved: the filter gradient redoes the (cheap, cache-resident) im2col block by block
        # rather than reading back an im2col matrix kh*kw times the size of x from memory.
        return y.reshape(n, oh, ow, f), None

    def conv2d_bwd(self, dy, w, geometry, *, x=None, y=None, saved=None, relu=False, need_dx=True, need_dw=True,
                   need_db=False):
        """Per block of samples: ``dz = dy * (y > 0)`` (if relu), then :meth:`_conv_bwd_sweep`.

        Trailing output rows and columns whose gradient is zero for every sample and channel are left out
        of the GEMMs: a floor-mode pooling after the convolution (MaxPooling2D(2) on an odd size, as the seed
        CNN's 11x11 -> 5x5) never reads them, so their gradient is exactly zero.
        """
        return self._conv2d_bwd(dy, w, geometry, x, y, relu, need_dx, need_dw, need_db, _nonzero_extent(dy))

    @_splits(batch=("dy", "x", "y"), outputs=(0,))
    def _conv2d_bwd(self, dy, w, geometry, x, y, relu, need_dx, need_dw, need_db, extent):
        """:meth:`conv2d_bwd` given the extent ``(oh, ow)`` of dy's nonzero outputs (the whole batch's: a
        helper process has only some of its rows)."""
        oh, ow = extent

        def dz_block(c0, c1):
            dz = dy[c0:c1, :oh, :ow]  # the whole block when nothing was cropped
            dz = dz * (y[c0:c1, :oh, :ow] > 0) if relu else np.ascontiguousarray(dz)
            return dz, dz
        return self._conv_bwd_sweep(dz_block, dy.shape[0], oh, ow, x, w, need_dx, need_dw, need_db, geometry)

    def _conv_bwd_sweep(self, dz_block, n, oh, ow, x, w, need_dx, need_dw, need_db, g, pool=None):
        """The blocked backward convolution. Per block of samples [c0, c1), in cache: ``dz_block(c0, c1)``
        (``(dz, terms)``: the (c1-c0, oh, ow, F) gradient of the first oh x ow conv outputs, the rest being zero,
        with ``pool`` its rows in :func:`_output_windows`'s pooling order; ``terms``, the array whose sum over all
        but its last axis is the bias gradient: dz, or a pooling's smaller gradient), the bias gradient, the
        filter gradient ``dz^T @ cols`` (im2col redone for the block) and the data gradient (one GEMM per kernel
        offset, then kh*kw adds into dx). ``x`` may be None when ``need_dw`` is false. Returns
        ``(dx | None, dw | None, db | None)``."""
        if pool is None and _winograd(w, g):
            th, tw = (oh + 1) // 2, (ow + 1) // 2

            def tiles(c0, c1):
                dz, terms = dz_block(c0, c1)
                return _nhwc_to_tiles(dz, th, tw), terms
            return self._wino_bwd_sweep(tiles, n, (th, tw), x, w, need_dx, need_dw, need_db, g)
        kh, kw, c, f = w.shape
        rows = oh * ow
        dtype = w.dtype
        top, bottom, left, right = g.pads
        hp, wp = g.padded_hw
        if need_dw:
            win, _, _, k, direct = self._conv_plan(x, g)
            if (oh, ow) != win.shape[1:3] or pool is not None:
                win, direct = _output_windows(win, (oh, ow), pool), False
        if need_dx:
            w_k = np.ascontiguousarray(w.transpose(0, 1, 3, 2)).reshape(kh * kw, f, c)
            dxp = _empty_batch((n, hp, wp, c), dtype)
        per_sample = rows * (f + (kh * kw * c if need_dw or need_dx else 0)) * dtype.itemsize

        def block(c0, c1):  # returns this block's partials (dW^T as (F, K), db)
            dz, terms = dz_block(c0, c1)
            dz, terms = dz.reshape(-1, f), terms.reshape(-1, f)
            db = np.ones(terms.shape[0], dtype=dtype) @ terms if need_db else None  # a BLAS GEMV: ~3x a row sum
            dw_t = None
            if need_dw:
                scratch = None if direct else np.empty((c1 - c0,) + win.shape[1:], dtype)
                cols = self._cols(win, c0, c1, scratch, direct)
                # K-major cols (few channels): (cols^T @ dz)^T, measured 1.5x faster than dz^T @ cols for the
                # seed CNN's first layer; row-major cols: dz^T @ cols, up to 1.6x faster than the other way
                dw_t = (cols.T @ dz).T if cols.flags.f_contiguous else dz.T @ cols
            if need_dx:
                dblock = dxp[c0:c1]
                dblock[...] = 0
                dwin = _output_windows(_windows(dblock, g, writeable=True), (oh, ow), pool)
                dcols = np.matmul(dz[None], w_k).reshape((kh * kw,) + dwin.shape[:-3] + (c,))
                for j in range(kh * kw):  # one kernel offset's windows never overlap: one add each
                    dwin[..., j // kw, j % kw, :] += dcols[j]
            return dw_t, db
        partials = _batch_parallel(block, n, n * rows * kh * kw * c * f * (need_dw + need_dx), _block(per_sample))
        dw = db = dx = None
        if need_dw:
            dw = np.ascontiguousarray(_sum_partials([p[0] for p in partials]).T).reshape(w.shape)
        if need_db:
            db = _sum_partials([p[1] for p in partials])
        if need_dx:
            dx = dxp[:, top: hp - bottom, left: wp - right, :]
        return dx, dw, db

    @staticmethod
    def _wino_bwd_sweep(dy6_block, n, tiles_hw, x, w, need_dx, need_dw, need_db, g, kept=None):
        """The backward convolution on Winograd F(2x2, 3x3). Per block of samples [c0, c1), in cache:
        ``dy6_block(c0, c1)`` (``(dy6, terms)``: the gradient of the th x tw tiles of outputs, ``tiles_hw``, laid out
        as :func:`_wino_output`'s y6, zero outside the outputs that have one; ``terms``, as in
        :meth:`_conv_bwd_sweep`), the bias gradient, M = A dY A^T
        (:func:`_wino_output_grad`), the filter gradient's 16 GEMMs V^T @ M (the input transform redone for the
        block; G^T dU G once the blocks' partials are summed) and the data gradient's M @ U^T with its inverse
        input transform (:func:`_wino_input_grad`). With ``kept`` (:class:`_WinogradSaved`), the blocks are the
        forward's and their V is read back instead of redone. Returns ``(dx | None, dw | None, db | None)``."""
        c, f = w.shape[2:]
        dtype = w.dtype
        th, tw = tiles_hw
        tiles = th * tw
        if need_dx:
            u_t = np.ascontiguousarray(_wino_filter(w).transpose(0, 2, 1))
            hp, wp = g.padded_hw
            dxp = _empty_batch((n, max(hp, 2 * th + 2), max(wp, 2 * tw + 2), c), dtype)

        def transforms(c0, c1):  # the GEMMs' operands (M, V | None) and the block's bias gradient
            nb = c1 - c0
            dy6, terms = dy6_block(c0, c1)
            terms = terms.reshape(-1, f)
            db = np.ones(terms.shape[0], dtype=dtype) @ terms if need_db else None
            m = np.empty((16, tiles * nb, f), dtype=dtype)
            _wino_output_grad(dy6, m)
            v = None
            if need_dw and kept is not None:
                v = _wino_v_block(kept.v, c0, c1, c)
            elif need_dw:
                v = np.empty((16, tiles * nb, c), dtype=dtype)
                _wino_input(_wino_block(x, c0, c1, g, th, tw), th, tw, v)
            return m, v, db

        def gemms(a):  # dU = V^T M and dV = M U^T
            m, v, _ = a
            return (np.matmul(v.transpose(0, 2, 1), m) if need_dw else None,
                    np.matmul(m, u_t) if need_dx else None)

        def data_grad(c0, c1, a, products):  # returns this block's partials (dU as (16, C, F), db)
            du, dv = products
            if need_dx:
                dxt = np.empty((2 * th + 2, 2 * tw + 2, c1 - c0, c), dtype=dtype)
                _wino_input_grad(dv, dxt)
                dxb = dxp[c0:c1]
                dxb[:, : 2 * th + 2, : 2 * tw + 2] = dxt.transpose(2, 0, 1, 3)
                dxb[:, 2 * th + 2:] = 0
                dxb[:, : 2 * th + 2, 2 * tw + 2:] = 0
            return du, a[2]
        per_sample = 16 * tiles * (2 * c + f) * dtype.itemsize  # the GEMMs' operands: V, M and M @ U^T
        per_chunk = kept.per_chunk if kept is not None else _block(per_sample)
        partials = _pipelined(("winograd_bwd", n, tiles_hw, w.shape, need_dx, need_dw), n, per_chunk,
                              n * tiles * 16 * c * f * (need_dw + need_dx), transforms, gemms, data_grad)
        dw = _wino_filter_grad(_sum_partials([p[0] for p in partials]), dtype) if need_dw else None
        db = _sum_partials([p[1] for p in partials]) if need_db else None
        dx = None
        if need_dx:
            (_, h, wd, _), (top, _, left, _) = g.input_shape, g.pads
            dx = dxp[:, top: top + h, left: left + wd, :]
        return dx, dw, db

    def conv2d_bwd_filter(self, x, dy, geometry, *, saved=None):
        w = np.empty(geometry.kernel_hw + (x.shape[3], dy.shape[3]), dtype=dy.dtype)  # only its shape is read
        return self.conv2d_bwd(dy, w, geometry, x=x, need_dx=False)[1]

    def conv2d_bwd_data(self, dy, w, geometry, *, saved=None):
        return self.conv2d_bwd(dy, w, geometry, need_dw=False)[0]

    # -- convolution + bias/ReLU + max pooling, fused ----------------------------
    @_splits(batch=("x",), outputs=(0, 1))
    def conv2d_maxpool_fwd(self, x, w, geometry, pool_size, *, b=None, relu=False, need_saved=True):
        pool = pool_size
        n, f = x.shape[0], w.shape[3]
        oh, ow = geometry.output_hw
        ph, pw = oh // pool[0], ow // pool[1]  # VALID pooling with the stride equal to the window
        y = _empty_batch((n, ph, pw, f), x.dtype)
        arg = _empty_batch(y.shape, np.uint8 if pool[0] * pool[1] < 256 else np.int32) if need_saved else None
        epilogue = _epilogue(y.reshape(n, ph * pw * f), b, relu) if b is not None or relu else None
        oh, ow = ph * pool[0], pw * pool[1]  # the conv outputs some window reads: only those are computed
        run = ph * pw * f  # a sample's outputs at one pooling offset

        def pool_block(c0, c1, z):  # max-pool the raw GEMM block, then the epilogue on the smaller result:
            z3 = z.reshape(c1 - c0, pool[0] * pool[1], run)  # rows in pooling order: offset k's outputs are z3[:, k]
            _max_of_views(list(z3.transpose(1, 0, 2)), y[c0:c1].reshape(c1 - c0, run),
                          None if arg is None else arg[c0:c1].reshape(c1 - c0, run))
            if epilogue:  # max commutes with +b and with ReLU (both monotonic), exactly in floating point
                epilogue(c0, c1)

        def pool_tiles(c0, c1, y6):  # Winograd's 2x2 output tiles are the 2x2 windows: pool the four offsets
            yt = np.empty(y6.shape[2:], dtype=x.dtype)
            at = None if arg is None else np.empty(y6.shape[2:], dtype=arg.dtype)
            _max_of_views([y6[k // 2, k % 2] for k in range(4)], yt, at)  # offset k = 2a + b, row-major
            y[c0:c1] = yt.transpose(2, 0, 1, 3)
            if at is not None:
                arg[c0:c1] = at.transpose(2, 0, 1, 3)
            if epilogue:
                epilogue(c0, c1)
        if pool == (2, 2) and _winograd(w, geometry):
            keep = None
            if need_saved and 16 * ph * pw * n * x.shape[3] * x.itemsize <= _WINO_KEEP_BYTES:  # (ph*pw tiles a sample)
                keep = _empty_batch((n, 16 * ph * pw * x.shape[3]), x.dtype)
            per_chunk = self._wino_fwd_sweep(x, w, geometry, (oh, ow), pool_tiles, keep)
            return y, (arg if keep is None else _WinogradSaved(arg, keep, per_chunk))
        self._conv_fwd_sweep(x, w, geometry, lambda c0, c1: np.empty(((c1 - c0) * oh * ow, f), dtype=x.dtype),
                             pool_block, (oh, ow), pool)
        return y, arg

    @_splits(batch=("dy", "saved", "x", "y"), outputs=(0,))
    def conv2d_maxpool_bwd(self, dy, w, geometry, pool_size, *, saved, x=None, y=None, relu=False, need_dx=True,
                           need_dw=True, need_db=False):
        kept = saved if isinstance(saved, _WinogradSaved) else None
        arg, pool = (saved if kept is None else kept.arg), pool_size
        n, ph, pw, f = dy.shape
        oh, ow = ph * pool[0], pw * pool[1]  # the conv outputs some window reads; the rest get no gradient

        # The conv output gradient in the forward's pooling order (offset k's outputs get g where arg == k,
        # contiguous runs), except with the data gradient: its kh*kw adds into dx run over whole rows of pixels
        # in NHWC order but over C-element runs in pooling order (measured 1.3x slower with 16 channels).
        rows_pool = None if need_dx else pool

        def dz_block(c0, c1):
            # The ReLU mask at a window's winner is (pooled y > 0): apply it on the small pooled gradient.
            g = dy[c0:c1] * (y[c0:c1] > 0) if relu else dy[c0:c1]
            if rows_pool is None:
                dz = np.empty((c1 - c0, oh, ow, f), dtype=dy.dtype)
                _max_unpool_block(dz, g, arg[c0:c1], pool, pool, disjoint=True)
                return dz, g  # the bias gradient sums g: dz holds the same values and zeros
            g, a = g.reshape(c1 - c0, 1, ph * pw * f), arg[c0:c1].reshape(c1 - c0, 1, ph * pw * f)
            dz = np.empty((c1 - c0, pool[0] * pool[1], g.shape[2]), dtype=dy.dtype)
            # every offset k at once (two calls, not two per offset); multiply, not np.where: branch-free
            np.multiply(g, a == _offsets(dz.shape[1], a.dtype)[:, None], out=dz)
            return dz, g.reshape(c1 - c0, ph * pw * f)

        def tiles_block(c0, c1):  # Winograd's 2x2 tiles are the windows: tile element k gets g where arg == k
            g = np.empty((ph, pw, c1 - c0, f), dtype=dy.dtype)
            dyb = dy[c0:c1].transpose(1, 2, 0, 3)
            if relu:
                np.multiply(dyb, y[c0:c1].transpose(1, 2, 0, 3) > 0, out=g)
            else:
                np.copyto(g, dyb)
            at = arg[c0:c1].transpose(1, 2, 0, 3)
            dy6 = np.empty((2, 2) + g.shape, dtype=dy.dtype)
            np.multiply(g, at == _offsets(4, at.dtype)[:, None, None, None, None], out=dy6.reshape((4,) + g.shape))
            return dy6, g
        if pool == (2, 2) and _winograd(w, geometry):
            return self._wino_bwd_sweep(tiles_block, n, (ph, pw), x, w, need_dx, need_dw, need_db, geometry, kept)
        return self._conv_bwd_sweep(dz_block, n, oh, ow, x, w, need_dx, need_dw, need_db, geometry, rows_pool)

    # -- pooling ------------------------------------------------------------
    def max_pool2d_fwd(self, x, geometry, *, need_saved=True):
        (ph, pw), strides, (oh, ow) = geometry.kernel_hw, geometry.strides, geometry.output_hw
        xp_ = _pad(x, geometry.pads, -np.inf)
        n, c = x.shape[0], x.shape[3]
        y = np.empty((n, oh, ow, c), dtype=x.dtype)
        arg = np.empty(y.shape, dtype=np.uint8 if ph * pw < 256 else np.int32) if need_saved else None
        _batch_parallel(lambda b0, b1: _max_pool_block(xp_[b0:b1], y[b0:b1], None if arg is None else arg[b0:b1],
                                                       (ph, pw), strides),
                        n, per_chunk=_block((xp_.nbytes + y.nbytes + (0 if arg is None else arg.nbytes)) // max(1, n)))
        return y, arg

    @staticmethod
    def _pool_grad_buffer(dy, g):
        """The padded (N, H', W', C) input-gradient buffer of a pooling and whether its windows are disjoint
        (each input pixel in at most one: gradients are then written, not accumulated). It is only zeroed
        where windows leave pixels uncovered."""
        (ph, pw), strides, (hp, wp) = g.kernel_hw, g.strides, g.padded_hw
        oh, ow = g.output_hw
        disjoint = strides[0] >= ph and strides[1] >= pw
        covers = oh * strides[0] == hp and ow * strides[1] == wp
        dxp = (np.empty if disjoint and covers and ph == strides[0] and pw == strides[1] else np.zeros)(
            (g.input_shape[0], hp, wp, g.input_shape[3]), dtype=dy.dtype)
        return dxp, disjoint

    def max_pool2d_bwd(self, dy, geometry, *, saved):
        dxp, disjoint = self._pool_grad_buffer(dy, geometry)
        n = dy.shape[0]
        _batch_parallel(lambda b0, b1: _max_unpool_block(dxp[b0:b1], dy[b0:b1], saved[b0:b1], geometry.kernel_hw,
                                                         geometry.strides, disjoint),
                        n, per_chunk=_block((dxp.nbytes + dy.nbytes + saved.nbytes) // max(1, n)))
        return _crop(dxp, geometry.input_shape, geometry.pads)

    def avg_pool2d_fwd(self, x, geometry):
        (ph, pw), strides, (oh, ow) = geometry.kernel_hw, geometry.strides, geometry.output_hw
        xp_ = _pad(x, geometry.pads)
        counts = self._pool_counts(geometry, x.dtype)
        y = np.empty((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)

        def chunk(b0, b1):  # the window sum, offset by offset (row-major), then / the non-padding count
            xb, yb = xp_[b0:b1], y[b0:b1]
            yb[...] = _offset_view(xb, 0, 0, oh, ow, strides, (1, 1))
            for k in range(1, ph * pw):
                yb += _offset_view(xb, k // pw, k % pw, oh, ow, strides, (1, 1))
            yb /= counts
        _batch_parallel(chunk, x.shape[0], per_chunk=_block((xp_.nbytes + y.nbytes) // max(1, x.shape[0])))
        return y

    def avg_pool2d_bwd(self, dy, geometry):
        (ph, pw), strides, (oh, ow) = geometry.kernel_hw, geometry.strides, geometry.output_hw
        g = dy / self._pool_counts(geometry, dy.dtype)
        dxp, disjoint = self._pool_grad_buffer(dy, geometry)

        def chunk(b0, b1):
            for k in range(ph * pw):
                view = _offset_view(dxp[b0:b1], k // pw, k % pw, oh, ow, strides, (1, 1))
                if disjoint:
                    view[...] = g[b0:b1]
                else:
                    view += g[b0:b1]
        _batch_parallel(chunk, dy.shape[0], per_chunk=_block((dxp.nbytes + g.nbytes) // max(1, dy.shape[0])))
        return _crop(dxp, geometry.input_shape, geometry.pads)

    @staticmethod
    def _pool_counts(g, dtype):
        """(1, OH, OW, 1) count of non-padding elements under each window of geometry g."""
        ones = np.zeros((1,) + g.padded_hw + (1,), dtype=dtype)
        _crop(ones, g.input_shape, g.pads)[...] = 1
        return _windows(ones, g).sum(axis=(3, 4))

    # -- dense (GEMM + bias + ReLU epilogue) and the convolution epilogue ----------------
    def bias_act_fwd(self, y, *, b=None, relu=False):
        n = y.shape[0] if y.ndim > 1 else 1
        _batch_parallel(_epilogue(y.reshape(n, y.size // max(n, 1)), b, relu), n,
                        per_chunk=_block(y.nbytes // max(n, 1)))
        return y

    def bias_act_bwd(self, dy, *, y=None, relu=False, need_db=False):
        f = dy.shape[-1]
        dy2 = dy.reshape(-1, f)
        dz = np.empty_like(dy2) if relu else dy2
        y2 = y.reshape(-1, f) if relu else None

        def chunk(r0, r1):
            if relu:
                np.multiply(dy2[r0:r1], y2[r0:r1] > 0, out=dz[r0:r1])
            # ones @ dz: a BLAS GEMV, ~3x faster here than a NumPy sum over the rows.
            return np.ones(r1 - r0, dtype=dz.dtype) @ dz[r0:r1] if need_db else None
        partials = _batch_parallel(chunk, dz.shape[0], per_chunk=_block(3 * f * dz.itemsize))  # dy, y, dz
        return dz.reshape(dy.shape), (_sum_partials(partials) if need_db else None)

    def dense_fwd(self, x, w, *, b=None, relu=False):
        y = np.empty((x.shape[0], w.shape[1]), dtype=np.result_type(x, w))
        epilogue = _epilogue(y, b, relu)

        def chunk(r0, r1):
            np.matmul(x[r0:r1], w, out=y[r0:r1])
            epilogue(r0, r1)
        _batch_parallel(chunk, x.shape[0], x.shape[0] * w.shape[0] * w.shape[1])
        return y

    def dense_bwd(self, dy, x, w, *, y=None, relu=False, need_dx=True):
        dz, db = self.bias_act_bwd(dy, y=y, relu=relu, need_db=True)
        m, (k, units) = x.shape[0], w.shape
        # dW = x^T dz by chunks of its rows (x's features): each sums over the whole batch, so no partials to
        # add; but chunks of fewer than _MIN_ROWS rows are thin GEMMs that each re-read all of dz (measured:
        # x (3584, 28), the input projection of an LSTM over 28 steps, in 8 chunks of 3-4 rows ran at 20
        # GFLOP/s): then by chunks of the batch, their partial products summed in chunk order
        work = m * k * units
        rows = _chunk_bounds(k, work)

        def kernel_grad(run):
            if k // (len(rows) - 1) >= _MIN_ROWS:
                dw = np.empty((k, units), dtype=np.result_type(x, dz))
                run(lambda k0, k1: np.matmul(x[:, k0:k1].T, dz, out=dw[k0:k1]), k, work)
                return dw
            return _sum_partials(run(lambda r0, r1: np.matmul(x[r0:r1].T, dz[r0:r1]), m, work))

        def data_grad(run):  # dx = dz W^T by the same chunks of x's features when they are wide enough: each
            # chunk a whole-batch GEMM (measured: the seed CNN's Dense(128) on 1600 features, 4 chunks of 32
            # rows took 1.46x as long as 4 chunks of 400 columns on one thread)
            dx = np.empty((m, k), dtype=dz.dtype)
            if k // (len(rows) - 1) >= _MIN_ROWS:
                run(lambda k0, k1: np.matmul(dz, w[k0:k1].T, out=dx[:, k0:k1]), k, work)
            else:
                run(lambda r0, r1: np.matmul(dz[r0:r1], w.T, out=dx[r0:r1]), m, work)
            return dx
        if need_dx and _num_threads() == 2 and work < _BLAS_THREADS_WORK:
            # Two independent GEMM sets: the kernel gradient's chunks on the GEMM thread while the caller runs
            # the data gradient's, each chunk one long BLAS call (no GIL waits between two threads' chunks).
            # The same chunks as _batch_parallel's, so the same bits.
            with cpu_runtime.single_threaded():
                job = _submit_gemm(kernel_grad, _in_turn)
                dx = data_grad(_in_turn)
                return dx, job.wait(), db
        return (data_grad(_batch_parallel) if need_dx else None), kernel_grad(_batch_parallel), db
