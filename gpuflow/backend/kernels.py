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

import importlib.resources
import os
import pathlib

from .. import profiler
from . import graph as _graph

__all__ = ["kernel_dir", "KernelSet", "cupy_loader", "emulator_loader"]


def kernel_dir():
    """The folder holding the CUDA C sources (``*.cu``, ``*.cuh``), on the file system.

    The one place that locates them; everything that reads a kernel or a header (the CuPy and
    emulator loaders, :func:`_headers_hash`, :mod:`gpuflow.backend.nvrtc_check`) asks here. In order:

    1. ``GPUFLOW_KERNEL_DIR``, when set (it is then the only place looked at);
    2. the package data ``gpuflow/cuda_kernels`` of an installed gpuflow, found through
       :func:`importlib.resources.files` (the build maps the repository's top-level ``cuda_kernels/``
       there; see ``pyproject.toml``);
    3. ``cuda_kernels/`` beside the ``gpuflow/`` package folder: a source checkout or an editable install.

    Returns:
        str: the folder (the compilers get it as ``-I``, so it must be a real folder, not a zip member).

    Raises:
        FileNotFoundError: if ``GPUFLOW_KERNEL_DIR`` or, when unset, none of the other places is a
            folder holding ``common.cuh``; the message lists where it looked.
    """
    override = os.environ.get("GPUFLOW_KERNEL_DIR")
    if override:
        if os.path.isfile(os.path.join(override, "common.cuh")):
            return override
        raise FileNotFoundError("Expected GPUFLOW_KERNEL_DIR to be a folder holding gpuflow's CUDA kernel sources "
                                f"(common.cuh, *.cu). Received: GPUFLOW_KERNEL_DIR={override!r}")
    package = importlib.resources.files("gpuflow")
    # A gpuflow imported from a zip has no real folder to give the compilers: GPUFLOW_KERNEL_DIR then.
    places = [package / "cuda_kernels", package.parent / "cuda_kernels"] if isinstance(package, pathlib.Path) else []
    for place in places:
        if (place / "common.cuh").is_file():
            return str(place)
    raise FileNotFoundError("gpuflow's CUDA kernel sources (common.cuh, *.cu) were not found; looked in "
                            f"{[str(p) for p in places] or [str(package)]}. Reinstall gpuflow, or set "
                            "GPUFLOW_KERNEL_DIR to the folder.")


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


def compile_options():
    """The compiler options every kernel module is built with (NVRTC and the emulator alike): C++17, the
    ``cuda_kernels/`` folder on the include path, and a hash of its headers (see :func:`_headers_hash`)."""
    return ("-std=c++17", f"-I{kernel_dir()}", f"-DGPUFLOW_HEADERS_SHA1={_headers_hash()}")


_options = compile_options  # TODO(issue 11): drop once tensor_cores.py (another helper's, in progress) calls it


def cupy_loader(code, name):
    """Compiles with NVRTC through ``cupy.RawModule`` (cached per device by CuPy)."""
    import cupy
    return cupy.RawModule(code=code, options=compile_options())


def emulator_loader(code, name):
    """Compiles for the CPU emulator (same source, same entry points)."""
    from .emulator import RawModule
    return RawModule(code=code, options=compile_options(), name=name)


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
        """Launches ``entry`` of ``filename`` with CuPy's calling convention, profiled when active (and recorded
        while the emulator captures a step: :mod:`.graph`)."""
        fn = self.function(filename, entry)
        recorder = _graph.recorder()
        if recorder is not None:
            return recorder.launch(fn, entry, grid, block, args, shared_mem)
        if _graph.capturing_cuda():
            return fn(grid, block, args, shared_mem=shared_mem)
        return profiler.timed_launch(fn, entry, grid, block, args, shared_mem, self._use_events)
