"""Process settings the NumPy backend needs to be fast: its threads, BLAS threads, freed-memory reuse and the
cache size its blocks are sized by.

**Threads.** :func:`num_threads` reads ``GPUFLOW_NUM_THREADS`` (default: the CPUs this process may use).

**Cache.** :func:`l2_cache_bytes` is the per-core L2 cache size the OS reports (Linux sysfs, else glibc's
``sysconf``), 1 MiB where neither says.

**BLAS threads.** The NumPy backend parallelises each primitive over the batch axis: every
thread runs the whole pipeline (im2col, GEMM, epilogue) on its own chunk of the
batch, so the memory-bound work is parallel too and each chunk stays in that
core's cache. BLAS must then run single-threaded inside the chunks. Left at its
default, OpenBLAS's worker threads also busy-wait (about 2**28 cycles) after
every GEMM and take the cores the chunks need; on a 2-core machine that made a
training step of the seed CNN about 1.5x slower.

:func:`single_threaded` sets the BLAS to one thread for the duration of a
``with`` block and restores the previous count on exit, so NumPy code outside
gpuflow keeps its usual threading. It controls the OpenBLAS that NumPy's
wheels bundle (``scipy_openblas`` symbols, or a plain ``libopenblas``); with
another BLAS (MKL, Accelerate) it does nothing and gpuflow still computes the
same results, only with the two thread pools competing.

**Freed memory.** A training step allocates and frees the same large arrays
(im2col buffers, activations, gradients) every step. glibc returns freed
blocks of that size to the OS and the next step page-faults them back in,
zeroed (about 7,000 faults, 28 MB, per seed-CNN step measured here; the step
went from ~73 to ~60 ms without them). :func:`keep_freed_memory` raises
glibc's mmap threshold to its maximum (32 MiB) and its trim threshold to
2 GiB with ``mallopt``, so those
blocks are reused from the heap instead, as PyTorch's and TensorFlow's caching
allocators reuse theirs. The cost: the process keeps up to its peak heap
(RSS stays near the peak once reached). ``GPUFLOW_MALLOC_TUNING=0`` leaves
glibc's defaults; on other C libraries it does nothing.
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading

import numpy as np

# (set, get) symbol pairs: NumPy >= 2 wheels bundle scipy-openblas (ILP64 "64_" suffix or LP64).
_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


def _candidate_libraries():
    """Paths of the OpenBLAS libraries this process has loaded (Linux), else those shipped next to NumPy.

    Only libraries already mapped are used where that can be read: loading another copy would start a
    second BLAS thread pool and control the wrong one.
    """
    try:
        with open("/proc/self/maps") as f:
            return list(dict.fromkeys(line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line))
    except OSError:  # not Linux
        pass
    site = os.path.dirname(os.path.dirname(np.__file__))
    paths = []
    for pattern in ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*", "scipy_openblas*/lib/*openblas*"):
        paths += glob.glob(os.path.join(site, pattern))
    return paths


def _find_controls():
    for path in _candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _SYMBOLS:
            if hasattr(lib, set_name) and hasattr(lib, get_name):
                set_fn, get_fn = getattr(lib, set_name), getattr(lib, get_name)
                set_fn.argtypes, set_fn.restype = [ctypes.c_int], None
                get_fn.argtypes, get_fn.restype = [], ctypes.c_int
                return set_fn, get_fn
    return None


_controls = _find_controls()
_lock = threading.Lock()
_depth = 0
_saved = None


def _after_fork_in_child():
    """A child forked while another thread was inside :class:`single_threaded` holds a copy of that thread's
    state (and maybe of its held lock) but not the thread: a fresh lock, no block open, BLAS's threads back."""
    global _lock, _depth
    _lock = threading.Lock()
    if _depth and _controls is not None and _saved not in (None, 1):
        _controls[0](_saved)
    _depth = 0


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>
_MMAP_THRESHOLD_MAX = 32 << 20  # glibc's cap on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
_TRIM_THRESHOLD = (2 << 30) - 1  # mallopt takes an int
_malloc_tuned = None


def keep_freed_memory():
    """Tunes glibc malloc to reuse freed large blocks (see the module docstring); True if it did.

    Idempotent; a no-op returning False off glibc or with ``GPUFLOW_MALLOC_TUNING=0``.
    """
    global _malloc_tuned
    if _malloc_tuned is None:
        _malloc_tuned = False
        if os.environ.get("GPUFLOW_MALLOC_TUNING", "1") != "0":
            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without mallopt)
                mallopt = None
            if mallopt is not None:
                mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
                _malloc_tuned = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
                                     and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _malloc_tuned


def available_cpus():
    """CPUs this process may run on: its affinity mask where the OS has one (a container's cpuset), else all."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def num_threads():
    """Threads the NumPy backend runs its batch chunks on (an int, at least 1).

    ``GPUFLOW_NUM_THREADS`` when set (a positive integer; set but empty counts as unset), else
    :func:`available_cpus`. The one place the variable is parsed (by :func:`env_count`).

    Raises:
        ValueError: ``GPUFLOW_NUM_THREADS`` is not a positive integer.
    """
    count = env_count("GPUFLOW_NUM_THREADS", 1, "the NumPy backend's CPU threads; unset: one per available CPU")
    return available_cpus() if count is None else count


def env_count(name, low, meaning):
    """The count in environment variable ``name``: an int of at least ``low`` (0 or 1), or None when the variable
    is unset or empty (surrounding spaces ignored); ``meaning`` (what it sets) goes into the error.

    Raises:
        ValueError: the variable holds anything but ASCII digits of a number of at least ``low`` ("+2", "1e3" and
            "2.0" are refused).
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < low:
        kind = "a positive integer" if low == 1 else "a non-negative integer"
        raise ValueError(f"Expected {name} to be {kind} ({meaning}). Received: {name}={text!r}")
    return int(text)


_L2_FALLBACK = 1 << 20
_l2_bytes = None


def _cache_size(text):
    """Bytes of a sysfs cache size such as ``"1024K"`` or ``"2M"`` (None if unreadable)."""
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text[:-1] if scale != 1 else text
    return int(digits) * scale if digits.isdigit() and int(digits) > 0 else None


def l2_cache_bytes():
    """The L2 cache (unified or data) of CPU 0 in bytes, as the OS reports it: Linux's
    ``/sys/devices/system/cpu/cpu0/cache/index*/``, else ``os.sysconf("SC_LEVEL2_CACHE_SIZE")`` (glibc), else
    1 MiB. Read once per process."""
    global _l2_bytes
    if _l2_bytes is None:
        found = None
        for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
            try:
                with open(os.path.join(index, "level")) as f_level, open(os.path.join(index, "type")) as f_type, \
                        open(os.path.join(index, "size")) as f_size:
                    if f_level.read().strip() == "2" and f_type.read().strip() in ("Unified", "Data"):
                        found = _cache_size(f_size.read())
                        break
            except (OSError, ValueError):
                continue
        if found is None:
            try:
                found = os.sysconf("SC_LEVEL2_CACHE_SIZE")
            except (AttributeError, ValueError, OSError):  # not glibc, or the name unknown
                found = None
        _l2_bytes = found if isinstance(found, int) and found > 0 else _L2_FALLBACK
    return _l2_bytes


def available():
    """Whether NumPy's BLAS thread count can be controlled (an OpenBLAS was found)."""
    return _controls is not None


def get_num_threads():
    """NumPy's BLAS thread count, or None when it cannot be read."""
    return _controls[1]() if _controls else None


class single_threaded:
    """``with single_threaded():`` runs BLAS on one thread inside the block (re-entrant, thread-safe)."""

    __slots__ = ()

    def __enter__(self):
        global _depth, _saved
        if _controls is not None:
            with _lock:
                if _depth == 0:
                    _saved = _controls[1]()
                    if _saved != 1:
                        _controls[0](1)
                _depth += 1
        return self

    def __exit__(self, *exc):
        global _depth
        if _controls is not None:
            with _lock:
                _depth -= 1
                if _depth == 0 and _saved != 1:
                    _controls[0](_saved)
        return False
