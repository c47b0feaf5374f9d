"""Loads ``cuda_kernels/*.cu`` as text into a module per device and launches their entry points.

A *module loader* turns source text into an object with ``get_function(name)``
returning a callable ``kernel(grid, block, args, shared_mem=0)`` — the API of
``cupy.RawModule``. Two loaders exist: CuPy's (real GPU; NVRTC-compiled once
per device and cached on disk by CuPy) and the emulator's
(:mod:`gpuflow.backend.emulator`, which compiles the same source with the
system C++ compiler and runs it on the CPU). :class:`KernelSet` memoises one
module per ``.cu`` file and records launches for :mod:`gpuflow.profiler`.
"""
from __future__ import annotations

import os
import sys

from .. import profiler

__all__ = ["kernel_dir", "KernelSet", "cupy_loader", "emulator_loader"]


def kernel_dir():
    """The folder holding the ``.cu`` sources (``GPUFLOW_KERNEL_DIR`` overrides).

    Raises:
        FileNotFoundError: if no folder with ``common.cuh`` is found.
    """
    candidates = [os.environ.get("GPUFLOW_KERNEL_DIR"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cuda_kernels"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "cuda_kernels"),
                  os.path.join(sys.prefix, "share", "gpuflow", "cuda_kernels")]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "common.cuh")):
            return c
    raise FileNotFoundError("gpuflow's CUDA kernel sources (cuda_kernels/*.cu) were not found; looked in "
                            f"{[c for c in candidates if c]}. Set GPUFLOW_KERNEL_DIR to the folder.")


def _headers_hash():
    """SHA-1 of the shared headers: CuPy's disk cache keys on the source text and options only, not on
    files pulled in through -I (cupy/cupy#7934), so a header edit must change the options."""
    import hashlib
    h = hashlib.sha1()
    folder = kernel_dir()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".cuh"):
            with open(os.path.join(folder, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()[:16]


def _options():
    return ("-std=c++17", f"-I{kernel_dir()}", f"-DGPUFLOW_HEADERS_SHA1={_headers_hash()}")


def cupy_loader(code, name):
    """Compiles with NVRTC through ``cupy.RawModule`` (cached per device by CuPy)."""
    import cupy
    return cupy.RawModule(code=code, options=_options())


def emulator_loader(code, name):
    """Compiles for the CPU emulator (same source, same entry points)."""
    from .emulator import RawModule
    return RawModule(code=code, options=_options(), name=name)


class KernelSet:
    """The kernels of one device: one module per ``.cu`` file, loaded on first use.

    Args:
        loader: ``loader(code, name) -> module`` (see module docstring).
        use_events: time launches with CUDA events (True on a real GPU).
    """

    def __init__(self, loader, use_events=False):
        self._loader = loader
        self._use_events = use_events
        self._modules = {}
        self._functions = {}

    def function(self, filename, entry):
        key = (filename, entry)
        fn = self._functions.get(key)
        if fn is None:
            module = self._modules.get(filename)
            if module is None:
                path = os.path.join(kernel_dir(), filename)
                with open(path, encoding="utf-8") as f:
                    module = self._modules[filename] = self._loader(f.read(), filename)
            fn = self._functions[key] = module.get_function(entry)
        return fn

    def launch(self, filename, entry, grid, block, args, shared_mem=0):
        """Launches ``entry`` of ``filename`` with CuPy's calling convention, profiled when active."""
        return profiler.timed_launch(self.function(filename, entry), entry, grid, block, args, shared_mem,
                                     self._use_events)
