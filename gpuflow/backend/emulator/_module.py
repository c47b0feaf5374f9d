"""RawModule / RawKernel: the cupy.RawModule API on top of the emulator."""
from __future__ import annotations

import atexit
import os
import threading

import numpy as np

from . import _build
from ._build import CompileError, EmulatorError  # noqa: F401  (re-exported)


class LaunchError(EmulatorError):
    """A launch failed inside the emulator: deadlock, divergent barrier, misused warp intrinsic, __trap."""


class OutOfBoundsError(EmulatorError):
    """AddressSanitizer caught an out-of-bounds access (GPUFLOW_EMU_BOUNDS=1). ``report`` holds its output."""

    def __init__(self, message, report=""):
        super().__init__(message)
        self.report = report


_SCALARS = {"f4": ("float", np.float32), "f8": ("double", np.float64), "i1": ("signed char", np.int8),
            "u1": ("unsigned char", np.uint8), "i2": ("short", np.int16), "u2": ("unsigned short", np.uint16),
            "i4": ("int", np.int32), "u4": ("unsigned int", np.uint32), "i8": ("long long", np.int64),
            "u8": ("unsigned long long", np.uint64), "b1": ("bool", np.bool_), "f2": ("__half", np.float16),
            # bfloat16 arrays: NumPy has no bfloat16; pass uint16 bit patterns or ml_dtypes.bfloat16
            "bf2": ("__nv_bfloat16", np.uint16)}
_VECTORS = {"f4x2": "float2", "f4x3": "float3", "f4x4": "float4", "f8x2": "double2", "i4x2": "int2",
            "i4x3": "int3", "i4x4": "int4", "u4x2": "uint2", "u4x4": "uint4", "i1x4": "char4", "u1x4": "uchar4"}
_launch_lock = threading.RLock()
_libraries = {}  # so path -> _native.Library (one dlopen per library per process)
_worker = None


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _schedule(value):
    s = (value if value is not None else os.environ.get("GPUFLOW_EMU_SCHEDULE", "") or "forward").strip().lower()
    if s not in ("forward", "reverse", "shuffle"):
        raise ValueError(f"GPUFLOW_EMU_SCHEDULE / schedule= expects 'forward', 'reverse' or 'shuffle'. Received: {s!r}")
    return s


def _seed(value):
    if value is not None:
        return int(value)
    s = os.environ.get("GPUFLOW_EMU_SEED", "").strip()
    try:
        return int(s) if s else 0
    except ValueError:
        raise ValueError(f"GPUFLOW_EMU_SEED expects an integer. Received: {s!r}") from None


def _library(path, meta):
    from ._native import Library
    lib = _libraries.get(path)
    if lib is None:
        lib = _libraries[path] = Library(path, meta)
    return lib


class _Param:
    """One kernel parameter: name, C type text and the type code from the compiled signature."""

    def __init__(self, index, name, ctext, code):
        self.index, self.name, self.code = index, name, code
        self.pointer = code.startswith("*")
        base = code.lstrip("*")
        self.const = base.startswith("c")
        self.base = base[1:] if self.const else base
        self.ctext = ctext or self._ctype()
        if self.pointer:
            b = self.base
            self.dtype = _SCALARS[b][1] if b in _SCALARS else (_SCALARS[b[:2]][1] if b in _VECTORS else None)
        else:
            self.dtype = _SCALARS[self.base][1] if self.base in _SCALARS else None

    def _ctype(self):
        b = self.base
        name = _SCALARS[b][0] if b in _SCALARS else _VECTORS.get(b, "void" if b == "v" else f"<{b}>")
        return ("const " if self.const else "") + name + ("*" if self.pointer else "")

    def describe(self):
        return f"parameter {self.index} {self.name!r} ({self.ctext})"


def _dims(what, value, kernel):
    if isinstance(value, (int, np.integer)):
        value = (value,)
    try:
        dims = tuple(int(v) for v in value)
        ok = 1 <= len(dims) <= 3 and all(isinstance(v, (int, np.integer)) for v in value)
    except TypeError:
        ok = False
    if not ok:
        raise TypeError(f"kernel {kernel!r}: {what} must be an int or a tuple of 1 to 3 ints. Received: {value!r}")
    dims = dims + (1,) * (3 - len(dims))
    if min(dims) < 1:
        raise ValueError(f"kernel {kernel!r}: every {what} dimension must be >= 1 (CUDA: invalid configuration "
                         f"argument). Received: {what}={dims}")
    return dims


class RawKernel:
    """One ``extern "C" __global__`` entry point; call it like ``cupy.RawKernel``."""

    max_threads_per_block = 1024

    def __init__(self, module, info):
        self.module = module
        self.name = info["name"]
        self._info = info
        self._lib = None
        self._params = None
        if info.get("max_threads"):
            self.max_threads_per_block = min(1024, int(info["max_threads"]))
        # Static __shared__ bytes declared in the kernel's own body (variables inside device functions
        # are not attributed to a kernel).
        prefix = f"_ZZ{len(self.name)}{self.name}E"
        self.shared_size_bytes = sum(s for n, _o, s in module._meta["shared"] if n.startswith(prefix))
        if self.shared_size_bytes > 48 * 1024:
            raise CompileError(f"kernel {self.name!r} declares {self.shared_size_bytes} bytes of static __shared__ "
                               "memory; CUDA allows at most 48 KiB static (use dynamic shared memory beyond that)")

    def _load(self):
        if self._lib is None:
            lib = _library(self.module._so, self.module._meta)
            sig = lib.signature(self.name)
            codes = sig.split(",") if sig else []
            names, ctexts = self._info["params"], self._info["param_types"]
            if len(names) != len(codes):
                names, ctexts = [f"arg{i}" for i in range(len(codes))], [None] * len(codes)
            self._params = [_Param(i, n, c, code) for i, (n, c, code) in enumerate(zip(names, ctexts, codes))]
            self._thunk = lib.thunk(self.name)
            self._lib = lib
        return self._lib

    @property
    def params(self):
        """The entry point's parameters as (name, C type) pairs."""
        self._load()
        return [(p.name, p.ctext) for p in self._params]

    def _pack(self, args):
        """Checks args against the signature; returns the items for _native.Library.launch."""
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"kernel {self.name!r}: args must be a tuple. Received: {type(args).__name__}")
        params = self._params
        if len(args) != len(params):
            sig = ", ".join(f"{p.ctext} {p.name}" for p in params)
            raise TypeError(f"kernel {self.name!r} takes {len(params)} arguments ({sig}). "
                            f"Received: {len(args)} arguments")
        items = []
        for p, a in zip(params, args):
            where = f"kernel {self.name!r} {p.describe()}"
            if p.pointer:
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"{where} expects an array (numpy.ndarray on the emulator). "
                                    f"Received: {type(a).__name__}")
                if p.dtype is not None and a.dtype != p.dtype and not (p.base == "bf2" and a.dtype.name == "bfloat16"):
                    want = "bfloat16 (or uint16 bit patterns)" if p.base == "bf2" else np.dtype(p.dtype).name
                    raise TypeError(f"{where} expects an array of dtype {want}. "
                                    f"Received: dtype={a.dtype.name}, shape={a.shape}")
                if p.base.startswith("*"):
                    raise TypeError(f"{where}: pointer-to-pointer parameters cannot be passed from Python")
                if not a.flags.c_contiguous:
                    raise ValueError(f"{where} expects a C-contiguous array. Received: shape={a.shape}, "
                                     f"strides={a.strides} (use numpy.ascontiguousarray)")
                if not p.const and not a.flags.writeable:
                    raise ValueError(f"{where} may be written by the kernel, but the array is read-only")
                items.append(("a", a))
            else:
                if p.dtype is None:
                    raise TypeError(f"{where}: parameters of this type cannot be passed from Python")
                if not isinstance(a, np.generic) or a.dtype != p.dtype:
                    got = (f"numpy.{type(a).__name__}" if isinstance(a, np.generic) else
                           f"Python {type(a).__name__}" if isinstance(a, (bool, int, float, complex)) else
                           type(a).__name__)
                    hint = {"float": " (CuPy would pass a Python float as a double)",
                            "int": " (CuPy would pass a Python int as a 64-bit integer)"}.get(type(a).__name__, "")
                    raise TypeError(f"{where} expects numpy.{np.dtype(p.dtype).name}. Received: {got} {a!r}{hint}")
                items.append(("s", np.asarray(a).tobytes()))
        return items

    def __call__(self, grid, block, args, *, shared_mem=0, schedule=None, seed=None, bounds=None):
        """Launches the kernel: ``kernel(grid, block, args, shared_mem=0)`` as with CuPy.

        Args:
            grid, block: int or tuple of up to 3 ints.
            args: tuple of C-contiguous numpy arrays (device pointers) and numpy scalars whose types
                match the kernel's parameters exactly.
            shared_mem: dynamic shared memory in bytes.
            schedule, seed, bounds: emulator overrides of GPUFLOW_EMU_SCHEDULE, GPUFLOW_EMU_SEED and
                GPUFLOW_EMU_BOUNDS (else the module's, else the environment's).

        Raises:
            TypeError / ValueError: bad launch configuration or arguments.
            LaunchError: deadlock, divergent barrier, misused warp intrinsic, __trap / assert.
            OutOfBoundsError: out-of-bounds access (bounds checking only).
        """
        lib = self._load()
        grid = _dims("grid", grid, self.name)
        block = _dims("block", block, self.name)
        nthreads = block[0] * block[1] * block[2]
        if block[0] > 1024 or block[1] > 1024 or block[2] > 64 or nthreads > 1024:
            raise ValueError(f"kernel {self.name!r}: block {block} exceeds CUDA's limits (x, y <= 1024, z <= 64, "
                             f"at most 1024 threads). Received: {nthreads} threads")
        if nthreads > self.max_threads_per_block:
            raise ValueError(f"kernel {self.name!r} is declared __launch_bounds__({self.max_threads_per_block}); "
                             f"a GPU refuses a block of {nthreads} threads (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES). "
                             f"Received: block={block}")
        if grid[0] > 2**31 - 1 or grid[1] > 65535 or grid[2] > 65535:
            raise ValueError(f"kernel {self.name!r}: grid {grid} exceeds CUDA's limits (x < 2^31, y, z <= 65535)")
        shared_mem = int(shared_mem)
        if shared_mem < 0 or shared_mem + self.shared_size_bytes > 227 * 1024:
            raise ValueError(f"kernel {self.name!r}: shared_mem={shared_mem} bytes (plus "
                             f"{self.shared_size_bytes} static) exceeds the 227 KiB a block can have")
        items = self._pack(args)
        m = self.module
        sched = _schedule(schedule if schedule is not None else m.schedule)
        sd = _seed(seed if seed is not None else m.seed)
        use_bounds = bounds if bounds is not None else (m.bounds if m.bounds is not None
                                                        else _env_flag("GPUFLOW_EMU_BOUNDS"))
        head = f"kernel {self.name!r} (grid {grid}, block {block})"
        if use_bounds:
            return self._launch_bounds(head, grid, block, items, shared_mem, sched, sd)
        with _launch_lock:
            err = lib.launch(self._thunk, grid, block, items, shared_mem, sched, sd, name=self.name)
        if err is not None:
            raise LaunchError(f"{head}: {err}")

    def _launch_bounds(self, head, grid, block, items, shared_mem, sched, seed):
        global _worker
        from . import _asan
        so, meta = self.module._build("asan")
        # Arguments that share memory travel as one object (pickle keeps identity), so the worker
        # sees the same aliasing as the kernel would.
        seen, send = {}, []
        for kind, v in items:
            if kind == "a":
                key = (v.__array_interface__["data"][0], v.nbytes, v.dtype.str)
                v = seen.setdefault(key, v)
            send.append((kind, v))
        sizes = [v.nbytes if k == "a" else -1 for k, v in send]
        back = [1 if k == "a" and not p.const else 0 for (k, v), p in zip(send, self._params)]
        req = {"lib": so, "meta": meta, "kernel": self.name, "grid": grid, "block": block, "items": send,
               "shared_mem": shared_mem, "schedule": sched, "seed": seed, "copy_sizes": sizes, "copy_back": back}
        with _launch_lock:
            if _worker is None:
                _worker = _asan.Worker(_build.asan_runtime(_build.compiler()))
                atexit.register(_worker.close)
            try:
                err, out = _worker.request(req)
            except _asan.WorkerDied as e:
                summary = _asan.describe(e.log, [p.name for p in self._params], shared_mem)
                if summary is None:
                    tail = "\n".join(e.log.strip().splitlines()[-30:])
                    raise EmulatorError(f"{head}: the bounds-checking worker died (exit code {e.returncode}):\n"
                                        f"{tail}") from None
                raise OutOfBoundsError(f"{head}: {summary}", e.log) from None
        if err is not None:
            raise LaunchError(f"{head}: {err}")
        for i, arr in out.items():
            np.copyto(items[i][1], arr)


class RawModule:
    """Emulated ``cupy.RawModule``: CUDA source compiled for the CPU.

    Args:
        code: CUDA C++ source text.
        options: NVRTC-style options; -I, -D, -U and -std= are used, code-generation options ignored.
        name: file name shown in compiler messages and cache entries (e.g. "conv2d.cu").
        path: read the source from this file instead of code (name defaults to its base name).
        schedule, seed, bounds: defaults for this module's launches (see RawKernel.__call__).
        **cupy_kwargs: other cupy.RawModule arguments (backend, jitify, ...), accepted and ignored;
            name_expressions is not supported (entry points must be extern "C").

    The source is compiled on first use (get_function or compile()); compile errors raise
    CompileError with the compiler's messages at ``name``'s line numbers.
    """

    def __init__(self, code=None, options=(), *, name=None, path=None, schedule=None, seed=None, bounds=None,
                 **cupy_kwargs):
        if cupy_kwargs.get("name_expressions"):
            raise ValueError("the CUDA emulator supports extern \"C\" entry points only (no name_expressions)")
        if (code is None) == (path is None):
            raise ValueError("RawModule expects exactly one of code= or path=")
        if path is not None:
            with open(path, encoding="utf-8") as f:
                code = f.read()
            name = name or os.path.basename(path)
        self.code = code
        self.name = name or "kernel.cu"
        self.options = tuple(options or ())
        self._flags, self._std = _build.translate_options(self.options)
        self.schedule, self.seed, self.bounds = schedule, seed, bounds
        self._builds = {}
        self._kernels = {}
        self._so = self._meta = None

    def _build(self, mode):
        b = self._builds.get(mode)
        if b is None:
            b = self._builds[mode] = _build.build(self.code, self._flags, self._std, self.name, mode)
        return b

    def compile(self, log_stream=None):
        """Compiles now (else on the first get_function)."""
        if self._so is None:
            self._so, self._meta = self._build("normal")

    def get_function(self, name):
        """The entry point ``name`` (an ``extern "C" __global__`` function) as a RawKernel."""
        self.compile()
        k = self._kernels.get(name)
        if k is None:
            info = next((i for i in self._meta["kernels"] if i["name"] == name), None)
            if info is None:
                have = ", ".join(sorted(i["name"] for i in self._meta["kernels"])) or "none"
                raise EmulatorError(f"{self.name!r} has no extern \"C\" __global__ function {name!r}. "
                                    f"Entry points: {have}")
            k = self._kernels[name] = RawKernel(self, info)
        return k

    @property
    def kernel_names(self):
        self.compile()
        return [i["name"] for i in self._meta["kernels"]]
