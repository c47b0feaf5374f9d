"""Helper processes for the NumPy backend: each runs a share of a convolution sweep's batch chunks.

**Why processes.** The NumPy backend runs a sweep's chunks (blocks of samples) on threads. NumPy releases the
GIL inside each call, but a chunk is many short calls, and two threads doing that keep waiting for the GIL;
on a VM every such wait costs a thread wake-up (~15 us measured on a 2-core Zen 4 VM), more than a typical
call. Measured there: the seed CNN's fused convolutions ran only 1.0-1.4x as fast on two threads as on one,
while two processes on half the batch each ran 2.0x as fast. So, where this process may use more than one
CPU, the sweeps of :mod:`.numpy_backend`'s convolutions (the methods it marks with ``_splits``) can hand a
contiguous share of their chunks to helper processes, one per extra thread (whether they do is measured per
call signature, against the threads).

**How.** A helper is ``python -c`` importing this module (never the user's ``__main__``, which a
``multiprocessing`` spawn would re-run), started in the background once the process has run
``_START_AFTER`` sweeps that could use it (short scripts and most unit tests never pay its ~1 s start), and
used once it reports ready; until then, and if it fails, the threads do the work. The arrays go through
shared memory, never through the socket between them, whose messages hold only positions, the method's name
and its small arguments (pickled: a private channel between this process and its own child, never a file):

* the :class:`Pool` (memory files passed to every helper with ``SCM_RIGHTS``) holds the outputs of the shared
  sweeps (activations, pooling winners, data gradients, a Winograd convolution's kept input transform): a
  helper writes its rows of them in place, and reads its rows of an input made by an earlier sweep in place;
* each helper's :class:`Arena` (a memory file of its own) carries the rest: the parent copies in the helper's
  rows of inputs that are not in the pool (a batch of images) and any other array of 4 KiB or more (a filter),
  the helper copies out its chunks' partial results (a filter gradient per chunk), and any output rows the
  pool had no room for.

A helper also answers ``("forward", ...)`` requests: a whole inference batch of a model it rebuilds from its JSON
config (:mod:`gpuflow.keras.helper_predict`, for ``predict``'s pairs of batches).

A helper sleeps in a blocking read between requests; the one acquired for a sweep is woken first, and polls
for the request while the parent prepares it, and the parent polls for the reply (see ``_WAKE``).

The helper runs exactly the chunks the parent would have (same boundaries, same code, BLAS on one thread),
so results are byte-identical to a one-thread run; the parent sums every chunk's partials in chunk order.

``GPUFLOW_CPU_PROCESSES`` caps the processes (this one included; default: the threads, at most 4; ``1``:
threads only, no helpers; see :func:`processes`). They exist only on Linux (``memfd_create``,
``socketpair``); each ignores Ctrl+C and exits when its parent's end of the socket closes (the parent
exiting, or crashing). A pool array is shared memory: a process forked while holding one (a data loader's
workers) sees the parent's writes to it and writes through to it; the child starts a pool of its own.
"""
from __future__ import annotations

import atexit
import ctypes
import mmap
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
import weakref

import numpy as np

from . import cpu_runtime

_ENV = "GPUFLOW_CPU_PROCESSES"
_START_AFTER = 16  # sweeps that could use helpers, run on threads before the helpers are started
_ALIGN = 64  # bytes: where each array starts in the arena
_IN_HELPER = os.environ.get("GPUFLOW_CPU_HELPER") == "1"

_lock = threading.RLock()  # guards _helpers and _asked
_helpers = []  # the started Helpers (ready or not)
_asked = 0  # sweeps that could have used helpers
_broken = False  # a helper failed: threads only from then on (warned once)


_DEFAULT_PROCESSES = 4  # at most this many processes share a sweep unless GPUFLOW_CPU_PROCESSES says otherwise:
# a sweep has ~8-16 chunks at the batch sizes measured, and each helper holds its own NumPy and gpuflow (~60 MB)


def processes(threads):
    """How many processes (this one included) may share a sweep when the backend runs ``threads`` threads:
    ``GPUFLOW_CPU_PROCESSES`` when set (0 or 1: this one only; set but empty counts as unset), else
    ``min(threads, 4)``; never more than ``threads``.

    Raises:
        ValueError: ``GPUFLOW_CPU_PROCESSES`` is not a non-negative integer.
    """
    count = cpu_runtime.env_count(_ENV, 0, "the processes that share the NumPy backend's convolutions, this one "
                                  f"included; 0 or 1: no helper processes; unset: min(threads, {_DEFAULT_PROCESSES})")
    return min(threads, _DEFAULT_PROCESSES if count is None else count)


def enabled():
    """Whether this process may use helper processes: Linux, not itself a helper, not turned off."""
    return not _IN_HELPER and not _broken and hasattr(os, "memfd_create")


class Ref:
    """Where an array lies in an :class:`Arena`: byte offset, shape, dtype (a string). Pickled as it is (pickle
    keeps the attributes of a ``__slots__`` class by itself), as :class:`PoolRef` is."""

    __slots__ = ("offset", "shape", "dtype")

    def __init__(self, offset, shape, dtype):
        self.offset, self.shape, self.dtype = offset, shape, dtype


class Arena:
    """A memory file both processes map (``fd``); arrays are copied in at increasing offsets (:meth:`put`,
    from :meth:`reset`'s start) and read back as views (:meth:`view`). Either side may grow it; the other
    maps the new size when a message tells it (:meth:`map`). Old mappings stay alive while views use them."""

    def __init__(self, fd):
        self.fd, self.size, self._mm, self._top = fd, 0, None, 0

    def map(self, size):
        if size != self.size:
            self._mm, self.size = mmap.mmap(self.fd, size), size

    def reset(self, start=0):
        self._top = start

    @property
    def top(self):
        return self._top

    def put(self, a):
        """Copies ``a`` (an ndarray) in at the next free offset (growing the file if needed); returns its Ref."""
        offset = -(-self._top // _ALIGN) * _ALIGN
        end = offset + a.nbytes
        if end > self.size:
            size = max(end, 2 * self.size, 1 << 20)
            size = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
            os.ftruncate(self.fd, size)
            self.map(size)
        np.copyto(np.ndarray(a.shape, a.dtype, buffer=self._mm, offset=offset), a)
        self._top = end
        return Ref(offset, a.shape, a.dtype.str)

    def view(self, ref):
        return np.ndarray(ref.shape, ref.dtype, buffer=self._mm, offset=ref.offset)


class PoolRef:
    """Where an array lies in the :class:`Pool`: segment index, byte offset, shape, strides, dtype (a string)."""

    __slots__ = ("segment", "offset", "shape", "strides", "dtype")

    def __init__(self, segment, offset, shape, strides, dtype):
        self.segment, self.offset, self.shape, self.strides, self.dtype = segment, offset, shape, strides, dtype


def _extent(a):
    """(lowest, highest + 1) byte address of array a's elements."""
    lo = hi = a.__array_interface__["data"][0]
    for n, st in zip(a.shape, a.strides):
        if n == 0:
            return lo, lo
        if st < 0:
            lo += (n - 1) * st
        else:
            hi += (n - 1) * st
    return lo, hi + a.itemsize


class Segments:
    """Memory files mapped in order (a parent's :class:`Pool`, or a helper's copy of its mappings): addresses,
    :meth:`ref` (where an array lies, or None) and :meth:`view` (the array at a PoolRef)."""

    def __init__(self):
        self.maps = []  # (mmap, start address, size)

    def add(self, fd, size):
        mm = mmap.mmap(fd, size)
        anchor = (ctypes.c_char * size).from_buffer(mm)  # exported for good: the mapping is never closed
        self.maps.append((mm, ctypes.addressof(anchor), size, anchor))

    def ref(self, a):
        lo, hi = _extent(a)
        for i, (_, start, size, _) in enumerate(self.maps):
            if start <= lo and hi <= start + size:
                return PoolRef(i, a.__array_interface__["data"][0] - start, a.shape, a.strides, a.dtype.str)
        return None

    def view(self, ref):
        return np.ndarray(ref.shape, np.dtype(ref.dtype), buffer=self.maps[ref.segment][0], offset=ref.offset,
                          strides=ref.strides)


class Pool(Segments):
    """Shared memory for the batch-major outputs of the sweeps shared with helpers (activations, pooling
    winners, data gradients): memory-file segments every helper maps, so a helper writes its rows of an output
    in place and reads its rows of an input made by an earlier sweep without a copy. Blocks are cut from the
    segments and reused by size once their array is freed (a finalizer on the ctypes buffer each array is
    built on, which every view of it keeps alive); up to ``limit`` bytes in all, then :meth:`empty` returns
    None (the caller allocates normally and the rows are copied)."""

    SEGMENT = 64 << 20
    QUANTUM = 4096

    def __init__(self, limit):
        super().__init__()
        self.fds, self.limit, self.total = [], limit, 0
        self._free = {}  # size -> [(segment, offset)]
        self._top = 0  # the next free byte of the last segment
        self._lock = threading.Lock()

    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        size = max(self.QUANTUM, -(-nbytes // self.QUANTUM) * self.QUANTUM)
        with self._lock:
            spot = self._free.get(size)
            if spot:
                seg, off = spot.pop()
            elif self.maps and self._top + size <= self.maps[-1][2]:
                seg, off = len(self.maps) - 1, self._top
                self._top += size
            else:
                seg_size = max(self.SEGMENT, size)
                if self.total + seg_size > self.limit:
                    return None
                fd = os.memfd_create("gpuflow-cpu-pool", os.MFD_CLOEXEC)
                os.ftruncate(fd, seg_size)
                self.add(fd, seg_size)
                self.fds.append(fd)
                self.total += seg_size
                seg, off, self._top = len(self.maps) - 1, 0, size
        block = (ctypes.c_char * size).from_buffer(self.maps[seg][0], off)
        weakref.finalize(block, self._release, size, seg, off)
        return np.frombuffer(block, dtype, count=nbytes // dtype.itemsize).reshape(shape)

    def _release(self, size, seg, off):
        with self._lock:
            self._free.setdefault(size, []).append((seg, off))


def _pool_limit():
    """Bytes the pool may take: a quarter of the physical memory (at most 8 GiB), or 1 GiB where unknown."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 1 << 30
    return min(8 << 30, total // 4)


_pool = None


def pool():
    """This process's :class:`Pool` (made at first use)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = Pool(_pool_limit())
        return _pool


def _send(sock, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(8, "little") + data)


def _recv_exact(sock, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError("the other process closed its end of the socket")
        got += k
    return buf


def _recv(sock):
    return pickle.loads(_recv_exact(sock, int.from_bytes(_recv_exact(sock, 8), "little")))


# Waiting without sleeping. A process asleep in a blocking read is woken by the kernel when data arrives, and on
# a VM a vCPU that went idle takes long to wake and comes back with cold caches. Measured on the 2-core Zen 4 VM:
# a ping-pong between two processes over a socketpair (1 ms of work before each reply) cost 74 us per round trip
# in blocking reads and 10.5 us polling; a helper that slept 3 ms took 30-100 us to unpickle a request that takes
# 15 us warm. So the parent polls for a helper's reply, and a helper, once acquired for a request, is told so
# (a _WAKE header) and polls for the request while the parent prepares it. It does not poll between requests:
# that takes the CPU from this process's other threads (the seed CNN's training step, measured in one process
# switching between the ways: waking and polling as here 0.977x the time of neither, plus 3 ms of polling after
# each reply 0.995x, plus 20 ms 1.035x). A sweep found too small to share after its helper was woken leaves it
# polling 2 ms for nothing; the measured choice (_split_ways) stops asking for such a call signature. The
# peers' thread pools also spin before they sleep (OpenMP's OMP_WAIT_POLICY / GOMP_SPINCOUNT, oneDNN's pool).
_WAKE = (1 << 64) - 1  # a message length that means "a request follows soon"
_WAKE_POLL_S = 0.002  # seconds a helper polls for the request after a _WAKE, before it sleeps in recv
_REPLY_POLL_S = 0.02  # seconds the parent polls for a helper's reply before it sleeps in recv


def _poll_readable(sock, seconds):
    """Polls ``sock`` for up to ``seconds``, yielding the CPU between polls (``sched_yield``: another thread
    runnable on this CPU gets it first); returns whether it became readable (data, or the other end closed).
    The caller then reads as usual: a blocking read after a poll that found nothing sleeps until the data
    comes. ``poll(2)``, not ``select``: a process with more than 1024 open files may give the socket a
    descriptor ``select`` refuses."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    end = time.perf_counter() + seconds
    while True:
        if poller.poll(0):
            return True
        if time.perf_counter() >= end:
            return False
        os.sched_yield()


class Helper:
    """One helper process, its socket and arena. ``lock`` is held by the sweep using it (one at a time)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ready = False
        self.segments = 0  # pool segments sent to it
        fd = os.memfd_create("gpuflow-cpu-helper", os.MFD_CLOEXEC)
        self.arena = Arena(fd)
        parent, child = socket.socketpair()
        import gpuflow  # noqa: PLC0415 - the directory the helper must import the same gpuflow from
        root = os.path.dirname(os.path.dirname(os.path.abspath(gpuflow.__file__)))
        env = dict(os.environ, GPUFLOW_CPU_HELPER="1", GPUFLOW_NUM_THREADS="1", GPUFLOW_DEVICE="cpu",
                   OPENBLAS_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
                       [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from gpuflow.backend.cpu_workers import helper_main; helper_main()",
                 str(child.fileno()), str(fd)],
                pass_fds=(child.fileno(), fd), env=env, stdin=subprocess.DEVNULL)
        except BaseException:
            parent.close()
            os.close(fd)
            raise
        finally:
            child.close()
        self.sock = parent

    def poll_ready(self):
        """True once the helper has said it is ready (never waits for it)."""
        if not self.ready and _poll_readable(self.sock, 0):
            if _recv(self.sock) != "ready":
                raise RuntimeError("the helper process sent something other than 'ready'")
            self.ready = True
        return self.ready

    def send(self, message):
        """Sends a request, after the descriptors of any pool segments the helper has not mapped yet."""
        p = _pool
        if p is not None and len(p.fds) > self.segments:
            fds = p.fds[self.segments:]
            sizes = [m[2] for m in p.maps[self.segments: self.segments + len(fds)]]
            self.sock.sendall((0).to_bytes(8, "little"))  # length 0: descriptors follow, then their sizes
            socket.send_fds(self.sock, [len(fds).to_bytes(8, "little")], fds)
            _send(self.sock, sizes)
            self.segments += len(fds)
        _send(self.sock, message)

    def wake(self):
        """Tells the helper a request follows (it polls for it instead of sleeping); a failure to send is left
        to the request's own send, which reports it."""
        try:
            self.sock.sendall(_WAKE.to_bytes(8, "little"))
        except OSError:
            pass

    def receive(self):
        _poll_readable(self.sock, _REPLY_POLL_S)
        return _recv(self.sock)

    def close(self):
        for close in (self.sock.close, lambda: os.close(self.arena.fd)):
            try:
                close()  # the helper reads EOF and exits
            except OSError:
                pass


def acquire(threads, start=True):
    """Up to ``processes(threads) - 1`` ready helpers, each locked for the caller (release them with
    :func:`release`) and woken (:meth:`Helper.wake`: a request should follow within a millisecond or two);
    [] while none is ready, another thread holds them, or they are off. Starts them (in the background) at the
    ``_START_AFTER``-th call with ``start`` (a call without it neither starts them nor counts)."""
    global _asked
    count = processes(threads) - 1
    if count < 1 or not enabled():
        return []
    with _lock:
        _asked += bool(start)
        if start and len(_helpers) < count and _asked >= _START_AFTER:
            try:
                while len(_helpers) < count:
                    _helpers.append(Helper())
            except Exception as e:  # noqa: BLE001 - no helpers here (no sys.executable, a sandbox): threads
                fail(e)
                return []
        got = []
        for h in _helpers[:count]:
            try:
                ok = h.poll_ready()
            except Exception as e:  # noqa: BLE001 - it died while starting
                release(got)
                fail(e)
                return []
            if ok and h.lock.acquire(blocking=False):  # busy (another thread's sweep) or not ready: not used
                got.append(h)
        for h in got:
            h.wake()
        return got


def release(helpers):
    for h in helpers:
        h.lock.release()


def fail(error):
    """Turns the helpers off for this process (warning once): the threads do all the work from now on."""
    global _broken
    if not _broken:
        _broken = True
        warnings.warn(f"gpuflow: the NumPy backend's helper processes failed ({error!r}); continuing on threads "
                      f"only (set {_ENV}=1 to not start them)", RuntimeWarning, stacklevel=3)
    shutdown()


def start(count):
    """Starts ``count`` helpers now (``GPUFLOW_CPU_PROCESSES`` permitting) and waits until they are ready
    (tests and benchmarks); True if they are."""
    global _asked
    _asked = max(_asked, _START_AFTER)
    got = acquire(count + 1)
    release(got)
    deadline = 120.0
    t0 = time.monotonic()
    while len(got) < count and time.monotonic() - t0 < deadline and enabled():
        time.sleep(0.02)
        got = acquire(count + 1)
        release(got)
    return len(got) >= count


def shutdown(helpers=None):
    """Closes the given helpers (default: all); they exit, and later sweeps may start new ones."""
    global _helpers, _asked
    with _lock:
        gone = list(_helpers) if helpers is None else [h for h in _helpers if h in helpers]
        for h in gone:
            h.close()
        for h in gone:
            try:
                h.process.wait(timeout=5)
            except Exception:  # noqa: BLE001 - it is gone or will be
                pass
        _helpers = [h for h in _helpers if h not in gone]
        if not _helpers:
            _asked = 0


def _after_fork_in_child():
    """A forked child shares its parent's sockets and pool segments: it must never talk to the parent's helpers
    nor cut blocks from the parent's pool (both would hand out the same free blocks). It starts its own."""
    global _helpers, _asked, _lock, _pool
    _helpers, _asked, _lock, _pool = [], 0, threading.RLock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(shutdown)


def helper_main():
    """The helper process: ``argv`` holds its socket's and arena's descriptors. It answers each request with
    :func:`.numpy_backend.serve_helper_request` until its parent closes the socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the parent; this helper ends when it does
    sock = socket.socket(fileno=int(sys.argv[1]))
    arena, segments = Arena(int(sys.argv[2])), Segments()
    from . import numpy_backend  # noqa: PLC0415
    from ..keras import helper_predict  # noqa: PLC0415 - for "forward" requests (0.2 s more, before "ready")
    backend = numpy_backend.NumpyBackend()
    try:
        _send(sock, "ready")
    except OSError:  # the parent ended while this helper started (a short script): nobody to serve
        return
    while True:
        try:
            size = int.from_bytes(_recv_exact(sock, 8), "little")
            if size == _WAKE:  # a request follows: poll for it
                _poll_readable(sock, _WAKE_POLL_S)
                continue
            if size == 0:  # the parent's new pool segments
                data, fds, _, _ = socket.recv_fds(sock, 8, 256)
                if len(data) < 8:
                    data += _recv_exact(sock, 8 - len(data))
                sizes = _recv(sock)
                if len(fds) != int.from_bytes(data, "little") or len(sizes) != len(fds):
                    raise RuntimeError("helper process: pool segments garbled in transit")
                for fd, seg_size in zip(fds, sizes):
                    segments.add(fd, seg_size)
                    os.close(fd)
                continue
            request = pickle.loads(_recv_exact(sock, size))
        except (EOFError, OSError):
            return
        try:
            if request[0] == "forward":  # a model's batch (gpuflow.keras.helper_predict), not a sweep
                reply = helper_predict.serve(arena, request)
            else:
                reply = numpy_backend.serve_helper_request(backend, arena, segments, request)
        except BaseException as e:  # noqa: BLE001 - reported to the parent, which redoes the work itself
            reply = ("error", f"{type(e).__name__}: {e}")
        try:
            _send(sock, reply)
        except OSError:  # the parent is gone (killed mid-request): nobody to answer
            return
