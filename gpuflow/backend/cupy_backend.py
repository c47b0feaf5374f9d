"""CUDA backend: CuPy arrays, CuPy/cuBLAS for elementwise work and matmul, and the hand-written
kernels of ``cuda_kernels/`` for convolution, pooling and the fused dense epilogue.

The backend takes its array module and kernel loader as parameters: on a GPU,
``xp = cupy`` and kernels compile through ``cupy.RawModule``; on the CPU
emulator (``GPUFLOW_DEVICE=emulator``), ``xp = numpy`` and the same ``.cu``
files run through :mod:`gpuflow.backend.emulator`. Everything below this
docstring — argument packing and launch configuration — is the code a GPU runs.

Kernels are float32 (``*_f32``); float16 and bfloat16 arrays are converted to float32 at each primitive's
boundary and the results rounded back (:func:`.low_precision.upcast_16bit`), except in the primitives
listed in ``native_16bit`` (the convolution forward, both convolution gradients and the dense forward):
with tensor cores on they run 16-bit inputs on the BF16/FP16 tensor-core kernels (``tensor_cores.py``:
float32 accumulation, output in the input dtype), without them they take the float32 path too. CuPy has no
bfloat16 dtype, so bfloat16 reaches this backend on the emulator only (``ml_dtypes.bfloat16`` arrays); on a
GPU only float16 runs on the 16-bit tensor cores. Other dtypes raise a TypeError naming the op.
Launch configurations live next to each wrapper and follow the tile sizes
stated in the kernels' comments.
"""
from __future__ import annotations

import contextlib
import functools
import os

import numpy as np

from .base import PRIMITIVES, Backend
from .low_precision import is_16bit, upcast_16bit, via_float32
from .geometry import ConvGeometry
from . import graph as _graph
from . import kernels as _kernels
from . import tensor_cores as _tensor_cores
from .. import profiler as _profiler

# Tile sizes of the implicit-GEMM / SGEMM kernels (must match cuda_kernels/gemm_tile.cuh).
GEMM_TILE_M = 64          # output rows per block
GEMM_TILE_N = 64          # output columns per block
GEMM_THREADS = 256        # threads per block (16 x 16, each a 4 x 4 register micro-tile)
MAX_GRID_Y = 65535        # CUDA's limit; the fwd / bwd-data / dense kernels loop over extra row tiles
ELEMENTWISE_THREADS = 256  # pooling: one thread per output (forward) or input element (backward)
DENSE_BWD_COLUMNS = 32    # dense_bias_relu_bwd_f32: each block owns 32 columns
SPLITK_BLOCKS_PER_SM = 3  # split-K aims at about 3 resident blocks per SM (times the device's SM count)
SPLITK_MIN_K = 512        # keep at least 32 K-slices of 16 per split
INDEX_LIMIT = 2**31       # the kernels index with int32: every tensor they touch has fewer elements
# What the CPU emulator reports as its device limits (an H100 SXM's: 132 SMs, 48 KiB static shared
# memory per block); a GPU's are asked from the device (cudaDevAttr*), once per device.
EMULATOR_SM_COUNT = 132
EMULATOR_SHARED_MEMORY_PER_BLOCK = 48 * 1024


# One entry point of each SIMT kernel file: loading it compiles the whole file (NVRTC, or the emulator's C++
# compiler), so prepare_kernels() asks for these.
_KERNEL_FILES = {"conv2d.cu": "conv2d_fwd_f32", "pool2d.cu": "max_pool2d_fwd_f32", "dense.cu": "dense_bias_relu_fwd_f32"}


def kernel_cache_line():
    """One line for ``gpuflow info``: where compiled kernels are kept between runs (CuPy's on-disk cache for the
    GPU: ``CUPY_CACHE_DIR``, default ``~/.cupy/kernel_cache``; the emulator's library cache) and when they
    compile."""
    if os.environ.get("CUPY_CACHE_IN_MEMORY") == "1":
        gpu = "in memory (CUPY_CACHE_IN_MEMORY=1: compiled again in every process)"
    else:
        gpu = os.environ.get("CUPY_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cupy", "kernel_cache")
    from .emulator import cache_dir
    return (f"Kernel cache: GPU (CuPy) {gpu}; emulator {cache_dir()}. The kernels compile when a model on the "
            "CUDA backend is compiled or first trained, not inside a training step.")


class ResourceExhaustedError(MemoryError):
    """The device ran out of memory (TensorFlow's ResourceExhaustedError); the message names the op."""


def _cdiv(a, b):
    return -(-a // b)


@functools.lru_cache(maxsize=None)
def _gpu_limits(device_index):
    """(SM count, max shared memory per block in bytes) of CUDA device ``device_index``, asked once."""
    import cupy
    attrs = cupy.cuda.Device(device_index).attributes  # cudaDevAttr* names without the prefix
    if "MultiProcessorCount" in attrs and "MaxSharedMemoryPerBlock" in attrs:
        return attrs["MultiProcessorCount"], attrs["MaxSharedMemoryPerBlock"]
    props = cupy.cuda.runtime.getDeviceProperties(device_index)  # cudaDeviceProp's field names
    return props["multiProcessorCount"], props["sharedMemPerBlock"]


def _is_oom(e):
    """CuPy's ``cupy.cuda.memory.OutOfMemoryError`` (matched by name, so the emulator and tests need no
    CuPy) or a host ``MemoryError`` (the emulator's arrays are NumPy's)."""
    return not isinstance(e, ResourceExhaustedError) and (
        type(e).__name__ == "OutOfMemoryError" or isinstance(e, MemoryError))


def _oom_error(xp, op, what):
    """The ResourceExhaustedError for an out-of-memory error raised by ``op``; ``what`` says what was
    being allocated. Names the free device memory when CuPy can tell."""
    try:
        free, total = xp.cuda.runtime.memGetInfo()
        where = f"{free / 2**20:.0f} MiB free of {total / 2**20:.0f} MiB"
    except Exception:
        where = "free memory unknown"
    return ResourceExhaustedError(f"{op}: CUDA out of memory {what}; {where} on the device. "
                                  "Try a smaller batch_size.")


def _clear_oom(op, fn):
    """Wraps a primitive so that any allocation's out-of-memory error inside it (``xp.matmul``,
    ``dy * (y > 0)``, ... not only :meth:`CupyBackend._empty`) is a ResourceExhaustedError naming
    ``op``."""
    @functools.wraps(fn)
    def primitive(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except Exception as e:
            if not _is_oom(e):
                raise
            raise _oom_error(self.xp, op, f"({type(e).__name__}: {e})") from e
    return primitive


@upcast_16bit
class CupyBackend(Backend):
    """CUDA backend (or its emulation).

    Args:
        device_index: CUDA device ordinal (GPU only).
        xp: array module; ``cupy`` by default, ``numpy`` for the emulator.
        loader: kernel module loader (``kernels.cupy_loader`` / ``kernels.emulator_loader``).
        name: ``"cupy"`` or ``"emulator"``.
        tensor_cores: run convolutions (forward, data and filter gradients) and the dense forward on the
            tensor-core kernels (:mod:`.tensor_cores`): float32 in TF32 while
            ``tf.config.experimental.tensor_float_32_execution_enabled()``, float16 and bfloat16 always (FP16 /
            BF16 inputs, float32 accumulation, output in the input dtype).
            None: on a GPU of compute capability 8.0 or newer (TensorFlow's rule) when the CUDA headers they
            include are found (``gpuflow info`` says where; else the FP32 kernels), not on the emulator (whose
            tests compare with float32 references); True / False force it.
    """

    name = "cupy"
    #: Primitives that take float16/bfloat16 arrays themselves (on the tensor cores; through their
    #: :func:`.low_precision.via_float32` SIMT path without them), and the convolution compositions of them;
    #: the others go through float32 (:func:`.low_precision.upcast_16bit`).
    native_16bit = frozenset({"conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_filter", "dense_fwd", "conv2d_bwd",
                              "conv2d_maxpool_fwd", "conv2d_maxpool_bwd"})

    def __init__(self, device_index=0, xp=None, loader=None, name="cupy", tensor_cores=None):
        self.name = name
        self._gpu = xp is None
        if xp is None:
            import cupy
            self._cuda_device = cupy.cuda.Device(device_index)
            self._cuda_device.use()
            xp = cupy
        self.xp = xp
        self.kernels = _kernels.KernelSet(loader or _kernels.cupy_loader, use_events=self._gpu)
        #: The device's SM count and shared memory per block (bytes): asked from the device on a GPU,
        #: EMULATOR_SM_COUNT / EMULATOR_SHARED_MEMORY_PER_BLOCK on the emulator.
        self.sm_count, self.shared_memory_per_block = (
            _gpu_limits(device_index) if self._gpu else (EMULATOR_SM_COUNT, EMULATOR_SHARED_MEMORY_PER_BLOCK))
        #: Test hook: a (gx, gy, gz) cap on the grid of every grid-stride kernel, e.g. (1, 1, 1) to
        #: run each one with a grid smaller than its work. None: the documented grids.
        self.grid_cap = None
        #: The tensor-core kernels (:class:`.tensor_cores.TensorCoreKernels`), or None (see tensor_cores).
        self.tensor_cores = None
        if tensor_cores is None:  # TensorFlow's rule: where the GPU has TF32 tensor cores
            tensor_cores = (self._gpu and int(self._cuda_device.compute_capability) >= 80
                            and _tensor_cores.cuda_headers_found())
        if tensor_cores:
            self.tensor_cores = _tensor_cores.TensorCoreKernels(
                xp, loader=_tensor_cores.cupy_loader if self._gpu else loader, sm_count=self.sm_count)
        self._rng = xp.random.RandomState()
        self._dummy = xp.zeros(1, dtype=np.float32)
        self._scope = None    # the label of the step running under deferred_checks(), else None
        self._labels = []     # labels of the steps that deferred checks since the last fetch
        self._pending = {}    # key -> [device state (found, value, label index), report]
        self._graph = None    # the StepGraph warming up or capturing (graph.py), else None

    #: The training loops keep a step on this backend's device: no host contact inside a step (metrics,
    #: loss tracker, iteration counter and learning rate stay on the device; checks are deferred).
    sync_free = True

    def prepare_kernels(self):
        """Compiles and loads the kernel files the wrappers launch (``conv2d.cu``, ``pool2d.cu``, ``dense.cu``):
        NVRTC on a GPU, kept across runs by CuPy's on-disk cache (see :func:`kernel_cache_line`); the C++
        compiler on the emulator. ``Model.compile`` and the training loops call it, so the first step does not
        pay for it. Cheap once done (the modules are memoized per backend)."""
        for filename, entry in _KERNEL_FILES.items():
            self.kernels.function(filename, entry)

    # -- checks deferred to the next host contact ---------------------------------------------------------
    @contextlib.contextmanager
    def deferred_checks(self, label):
        """Inside the block, :meth:`defer_check` defers; ``label`` names the step (e.g. ``"epoch 1, step 3
        (batch 2)"``) in what the check reports. A step that raises ends its loop: the checks deferred so far are
        dropped with it (that exception is the one reported), so none is reported later by an unrelated copy."""
        outer, self._scope = self._scope, label
        try:
            yield
        except BaseException:
            self.discard_deferred()
            raise
        finally:
            self._scope = outer

    def discard_deferred(self):
        """Drops the deferred checks not yet reported: those of a loop that ended by an exception (the loops
        call it when they start)."""
        self._pending, self._labels = {}, []

    def defer_check(self, key, bad, value, report):
        """Records a check computed on the device, to report at the next :meth:`fetch`, with no host contact now.

        Args:
            key: names the check; of the failures of one key only the first is kept.
            bad: 0-d bool device array, whether the check failed.
            value: 0-d device array, the offending value (reported as a float).
            report: ``report(value, label)``, called by :meth:`fetch` for a failure: raises or warns.

        Returns:
            False (nothing recorded: the caller checks on the host now) outside :meth:`deferred_checks`.
        """
        if self._graph is not None and self._graph.phase == "capture":
            self._graph.defer(key, bad, value, report)  # deferred again after every run of the graph
            return True
        if self._scope is None:
            return False
        xp = self.xp
        if not self._labels or self._labels[-1] is not self._scope:
            self._labels.append(self._scope)
        new = xp.stack([xp.asarray(bad, dtype=np.float64), xp.asarray(value, dtype=np.float64),
                        xp.full((), len(self._labels) - 1, dtype=np.float64)])
        entry = self._pending.get(key)
        if entry is None:
            self._pending[key] = [new, report]
        else:
            entry[0] = xp.where(entry[0][0] != 0, entry[0], new)  # the first failure wins
        return True

    def fetch(self, arrays):
        """``arrays`` (device arrays) on the host in ONE device-to-host copy, together with the deferred checks,
        whose failures are then reported (``report(value, label)``: the first raise propagates).

        Returns:
            A list of NumPy float64 arrays, one per input (flattened).
        """
        xp = self.xp
        pending, labels = list(self._pending.values()), self._labels
        self._pending, self._labels = {}, []
        parts = [xp.ravel(a).astype(np.float64) for a in arrays] + [state for state, _ in pending]
        if not parts:
            return []
        host = self.to_numpy(xp.concatenate(parts))
        out, at = [], 0
        for a in arrays:
            out.append(host[at:at + a.size])
            at += a.size
        for k, (_, report) in enumerate(pending):
            found, value, label = host[at + 3 * k:at + 3 * k + 3]
            if found:
                report(float(value), labels[int(label)])
        return out

    # -- arrays -------------------------------------------------------------
    # Every call below is a host contact, counted by gpuflow.profiler (on the emulator as on a GPU).
    def asarray(self, value, dtype=None):
        """``value`` (a host value) on the device: an array is one host-to-device copy, a scalar (a Python
        number made a tensor: ``loss / n``) is filled in on the device, no copy (nor either in a captured step:
        see :meth:`.graph.StepGraph.upload`)."""
        if self._graph is not None:
            constant = self._graph.upload(value, dtype)
            if constant is not None:
                return constant
        host = np.asarray(value, dtype=dtype)
        if host.ndim == 0:  # the value is a kernel argument of the fill
            return self.xp.full((), host[()], dtype=host.dtype)
        a = self.xp.asarray(host)
        _profiler.record_host_contact("h2d", a.nbytes)
        return a

    def to_numpy(self, a):
        """The values of device array ``a`` on the host: one device-to-host copy, which waits for the
        work queued before it."""
        self._refuse_in_capture("copies a device value to the host")
        _profiler.record_host_contact("d2h", a.nbytes)
        return a.get() if hasattr(a, "get") and self._gpu else np.asarray(a)

    def synchronize(self):
        self._refuse_in_capture("synchronizes with the device")
        _profiler.record_host_contact("sync")
        if self._gpu:
            self._cuda_device.synchronize()

    # -- capture and replay of a step (graph.py) ---------------------------------------------------------
    def capture_step(self, fn, state=list, watch=list):
        """A :class:`.graph.StepGraph` of ``fn`` for one input signature: run eagerly once, then captured (a
        CUDA graph on a GPU, a recorded launch list on the emulator) and replayed. See :mod:`.graph`."""
        return _graph.StepGraph(self, fn, state, watch, gpu=self._gpu, read_only=(self._dummy,))

    @contextlib.contextmanager
    def capturing(self, graph):
        """While the step of ``graph`` (a :class:`.graph.StepGraph`) warms up, is captured or runs eagerly:
        :meth:`asarray` and :meth:`defer_check` go through it, and inside the capture the host reads and the
        random draws refuse it (:class:`.graph.CaptureRefused`)."""
        outer, self._graph = self._graph, graph
        try:
            yield
        finally:
            self._graph = outer

    def _refuse_in_capture(self, what):
        if self._graph is not None:  # noted in a warm-up, refuses a capture
            self._graph.refuse(f"the step {what}")

    # -- random -------------------------------------------------------------
    def seed(self, seed):
        self._rng = self.xp.random.RandomState(seed)

    def _draw(self):
        self._refuse_in_capture("draws random numbers from a generator whose state is on the host (a replay "
                                "would repeat the same draws, e.g. Dropout's mask)")
        return self._rng

    def random_normal(self, shape, dtype, mean=0.0, stddev=1.0):
        self._draw()
        return self._rng.normal(mean, stddev, size=shape).astype(dtype, copy=False)

    def random_uniform(self, shape, dtype, minval=0.0, maxval=1.0):
        self._draw()
        if np.dtype(dtype).kind in "iu":
            return self._rng.randint(minval, maxval, size=shape).astype(dtype, copy=False)
        return self._rng.uniform(minval, maxval, size=shape).astype(dtype, copy=False)

    # -- helpers --------------------------------------------------------------
    def _empty(self, shape, dtype, op):
        """``xp.empty`` whose CUDA out-of-memory error names the op, the bytes asked for and the free
        memory, with the usual remedy (ResourceExhaustedError)."""
        try:
            return self.xp.empty(tuple(shape), dtype=dtype)
        except Exception as e:
            if not _is_oom(e):
                raise
            need = int(np.prod(shape)) * np.dtype(dtype).itemsize
            raise _oom_error(self.xp, op, f"allocating {need} bytes ({need / 2**20:.1f} MiB) for shape "
                                          f"{tuple(shape)}") from e

    @staticmethod
    def check_index_range(op, tensors):
        """Raises if a kernel of ``op`` would index past int32.

        Args:
            op: the op's name, for the message.
            tensors: ``{name: shape}`` of every tensor (or GEMM view, e.g. ``"workspace"``) the
                kernel indexes with int32.

        Raises:
            ValueError: if one of them has ``INDEX_LIMIT`` (2^31) elements or more; the message names
                the op, the tensor, its shape and the limit.
        """
        for name, shape in tensors.items():
            size = int(np.prod([int(d) for d in shape], dtype=object))
            if size >= INDEX_LIMIT:
                raise ValueError(
                    f"{op}: the CUDA kernels index tensors with int32. Expected {name} with fewer than "
                    f"{INDEX_LIMIT} elements. "
                    f"Received: {name}.shape={tuple(int(d) for d in shape)} ({size} elements). "
                    "Use a smaller batch_size or split the input.")

    def _on_tensor_cores(self, *arrays):
        """True when these operands go to the tensor cores: the device has them and the operands share one
        dtype, float16 or bfloat16, or float32 while ``tf.config.experimental.tensor_float_32_execution_enabled()``
        (TensorFlow's flag governs TF32 only)."""
        from .. import config
        if self.tensor_cores is None or len({a.dtype for a in arrays}) != 1:
            return False
        self.tensor_cores.grid_cap = self.grid_cap
        return is_16bit(arrays[0]) or (arrays[0].dtype == np.float32 and config.tensor_float_32_execution_enabled())

    def _f32(self, op, *arrays):
        out = []
        for a in arrays:
            if a.dtype != np.float32:
                raise TypeError(f"{op}: the CUDA kernels take float32. Received: dtype={a.dtype}. "
                                "Cast with gpuflow.cast(x, 'float32') or run this op on the CPU.")
            out.append(self.xp.ascontiguousarray(a))
        return out

    @staticmethod
    def _conv_ints(g, f):
        """The int32 shape arguments of the conv2d.cu kernels: geometry g, F output channels."""
        (n, h, w, c), (kh, kw), (oh, ow) = g.input_shape, g.kernel_hw, g.output_hw
        return tuple(np.int32(v) for v in (n, h, w, c, f, kh, kw, oh, ow) + g.strides + g.dilations
                     + (g.pads[0], g.pads[2]))

    def _launch(self, op, tensors, filename, entry, grid, block, args, grid_stride=True):
        """The one launch path of every kernel: checks int32 indexing (:meth:`check_index_range` on
        ``tensors``), applies ``grid_cap`` to grid-stride kernels, launches."""
        self.check_index_range(op, tensors)
        if grid_stride and self.grid_cap is not None:
            grid = tuple(min(g, c) for g, c in zip(grid, self.grid_cap))
        self.kernels.launch(filename, entry, grid, block, args)

    def _gemm_launch(self, op, tensors, filename, entry, m, n, args, splits=1, grid_stride=True):
        # Kernels that are not grid-stride (the filter gradients) get the full grid; the others loop
        # over row tiles, so gridDim.y is capped at CUDA's limit.
        rows = _cdiv(m, GEMM_TILE_M)
        grid = (_cdiv(n, GEMM_TILE_N), min(rows, MAX_GRID_Y) if grid_stride else rows, splits)
        self._launch(op, tensors, filename, entry, grid, (GEMM_THREADS, 1, 1), args, grid_stride)

    def _elementwise_launch(self, op, tensors, filename, entry, total, args):
        grid = (max(1, _cdiv(total, ELEMENTWISE_THREADS)), 1, 1)
        self._launch(op, tensors, filename, entry, grid, (ELEMENTWISE_THREADS, 1, 1), args)

    def _column_launch(self, op, dy, args):
        """dense_bias_relu_bwd_f32 on dy viewed as (M, F): one block per 32 columns."""
        self._launch(op, {"dy": dy.shape}, "dense.cu", "dense_bias_relu_bwd_f32",
                     (_cdiv(dy.shape[-1], DENSE_BWD_COLUMNS), 1, 1), (GEMM_THREADS, 1, 1), args)

    def splitk_splits(self, m, f, k):
        """How many K-splits the filter gradient of GEMM view (m x f, reduction k) runs: enough blocks
        for about SPLITK_BLOCKS_PER_SM per SM of this device, each split at least SPLITK_MIN_K long."""
        tiles = _cdiv(m, GEMM_TILE_M) * _cdiv(f, GEMM_TILE_N)
        return max(1, min(_cdiv(SPLITK_BLOCKS_PER_SM * self.sm_count, tiles), _cdiv(k, SPLITK_MIN_K)))

    # -- convolution: implicit GEMM --------------------------------------------
    def _bias_arg(self, op, b):
        """The kernels' (b, has_bias) pair: the bias as float32, or a dummy pointer the kernel never reads."""
        return (self._f32(op, b)[0], np.int32(1)) if b is not None else (self._dummy, np.int32(0))

    def conv2d_fwd(self, x, w, geometry, *, b=None, relu=False):
        if self._on_tensor_cores(x, w):
            y = self.tensor_cores.conv2d_fwd(x, w, strides=geometry.strides, dilations=geometry.dilations,
                                             pads=geometry.pads)
            return (self.bias_act_fwd(y, b=b, relu=relu) if b is not None or relu else y), None
        return self._conv2d_fwd_simt(x, w, geometry, b=b, relu=relu)

    @via_float32("conv2d_fwd")
    def _conv2d_fwd_simt(self, x, w, geometry, *, b=None, relu=False):
        x, w = self._f32("conv2d", x, w)
        b, has_bias = self._bias_arg("conv2d bias", b)
        oh, ow = geometry.output_hw
        y = self._empty(geometry.output_shape(w.shape[3]), np.float32, "conv2d")
        ints = self._conv_ints(geometry, w.shape[3])
        # GEMM view: (N*OH*OW) x F, K = KH*KW*C; bias and ReLU in the epilogue.
        self._gemm_launch("conv2d", {"x": x.shape, "w": w.shape, "y": y.shape}, "conv2d.cu", "conv2d_fwd_f32",
                          y.shape[0] * oh * ow, w.shape[3], (x, w, b, y) + ints + (has_bias, np.int32(bool(relu))))
        return y, None

    def conv2d_bwd(self, dy, w, geometry, *, x=None, y=None, saved=None, relu=False, need_dx=True, need_dw=True,
                   need_db=False):
        dz, db = self.bias_act_bwd(dy, y=y, relu=relu, need_db=need_db) if relu or need_db else (dy, None)
        dx = self.conv2d_bwd_data(dz, w, geometry, saved=saved) if need_dx else None
        dw = self.conv2d_bwd_filter(x, dz, geometry, saved=saved) if need_dw else None
        return dx, dw, db

    # -- convolution + max pooling: one kernel forward; backward through max_pool2d_bwd and conv2d_bwd ------
    def conv2d_maxpool_fwd(self, x, w, geometry, pool_size, *, b=None, relu=False, need_saved=True):
        """conv2d_maxpool_fwd_f32: the conv output is pooled in the block that computes it (never written);
        a window larger than one GEMM tile's 64 rows, the tensor cores and 16-bit inputs compose conv2d_fwd and
        max_pool2d_fwd instead. The winners are written whatever ``need_saved`` says (the kernels have no
        winner-free variant)."""
        pooling = ConvGeometry(geometry.output_shape(w.shape[3]), pool_size, pool_size)  # VALID, stride = window
        ph, pw = pooling.kernel_hw
        if ph * pw > GEMM_TILE_M or self._on_tensor_cores(x, w) or is_16bit(x) or is_16bit(w):  # fused: FP32 SIMT
            z, _ = self.conv2d_fwd(x, w, geometry, b=b, relu=relu)
            y, arg = self.max_pool2d_fwd(z, pooling)
            return y, (arg, pooling)
        op = "conv2d + max_pool2d"
        x, w = self._f32(op, x, w)
        b, has_bias = self._bias_arg(op + " bias", b)
        f = w.shape[3]
        y = self._empty(pooling.output_shape(f), np.float32, op)
        arg = self._empty(y.shape, np.int32, op)
        (n, h, wd, c), (kh, kw) = geometry.input_shape, geometry.kernel_hw
        poh, pow_ = pooling.output_hw
        ints = tuple(np.int32(v) for v in (n, h, wd, c, f, kh, kw, poh, pow_) + geometry.strides
                     + geometry.dilations + (geometry.pads[0], geometry.pads[2], ph, pw))
        # GEMM view: N*POH*POW windows of ph*pw rows each, 64 // (ph*pw) windows per 64-row tile.
        windows_per_tile = GEMM_TILE_M // (ph * pw)
        tiles = _cdiv(n * poh * pow_, windows_per_tile)
        grid = (_cdiv(f, GEMM_TILE_N), max(1, min(tiles, MAX_GRID_Y)), 1)
        self._launch(op, {"x": x.shape, "w": w.shape, "y": y.shape, "conv output": geometry.output_shape(f)},
                     "conv2d.cu", "conv2d_maxpool_fwd_f32", grid, (GEMM_THREADS, 1, 1),
                     (x, w, b, y, arg) + ints + (has_bias, np.int32(bool(relu))))
        return y, (arg, pooling)

    def conv2d_maxpool_bwd(self, dy, w, geometry, pool_size, *, saved, x=None, y=None, relu=False, need_dx=True,
                           need_dw=True, need_db=False):
        arg, pooling = saved
        dz = self.max_pool2d_bwd(dy * (y > 0) if relu else dy, pooling, saved=arg)
        return self.conv2d_bwd(dz, w, geometry, x=x, need_dx=need_dx, need_dw=need_dw, need_db=need_db)

    def conv2d_bwd_data(self, dy, w, geometry, *, saved=None):
        if self._on_tensor_cores(dy, w):
            return self.tensor_cores.conv2d_bwd_data(dy, w, geometry.input_shape, strides=geometry.strides,
                                                     dilations=geometry.dilations, pads=geometry.pads)
        return self._conv2d_bwd_data_simt(dy, w, geometry)

    @via_float32("conv2d_bwd_data")
    def _conv2d_bwd_data_simt(self, dy, w, geometry):
        dy, w = self._f32("conv2d backward (data)", dy, w)
        dx = self._empty(geometry.input_shape, np.float32, "conv2d backward (data)")
        ints = self._conv_ints(geometry, w.shape[3])
        # GEMM view: (N*H*W) x C, K = KH*KW*F.
        n, h, wd, c = geometry.input_shape
        self._gemm_launch("conv2d backward (data)", {"dy": dy.shape, "w": w.shape, "dx": dx.shape}, "conv2d.cu",
                          "conv2d_bwd_data_f32", n * h * wd, c, (dy, w, dx) + ints)
        return dx

    def conv2d_bwd_filter(self, x, dy, geometry, *, saved=None):
        if self._on_tensor_cores(x, dy):
            return self.tensor_cores.conv2d_bwd_filter(x, dy, geometry.kernel_hw, strides=geometry.strides,
                                                       dilations=geometry.dilations, pads=geometry.pads)
        return self._conv2d_bwd_filter_simt(x, dy, geometry)

    @via_float32("conv2d_bwd_filter")
    def _conv2d_bwd_filter_simt(self, x, dy, geometry):
        x, dy = self._f32("conv2d backward (filter)", x, dy)
        w_shape = geometry.kernel_hw + (x.shape[3], dy.shape[3])
        dw = self._empty(w_shape, np.float32, "conv2d backward (filter)")
        ints = self._conv_ints(geometry, dy.shape[3])
        # GEMM view: (KH*KW*C) x F, K = N*OH*OW. Few output tiles and a long K: split K over
        # blockIdx.z into a workspace, then reduce the partials in a fixed order (deterministic).
        kh, kw, c, f = w_shape
        m, k = kh * kw * c, dy.shape[0] * dy.shape[1] * dy.shape[2]
        op, tensors = "conv2d backward (filter)", {"x": x.shape, "dy": dy.shape, "dw": dw.shape}
        splits = self.splitk_splits(m, f, k)
        if splits == 1:
            self._gemm_launch(op, tensors, "conv2d.cu", "conv2d_bwd_filter_f32", m, f, (x, dy, dw) + ints,
                              grid_stride=False)
            return dw
        k_chunk = _cdiv(_cdiv(k, splits), 16) * 16
        splits = _cdiv(k, k_chunk)
        tensors["workspace"] = (splits, m, f)
        self.check_index_range(op, tensors)  # before allocating the workspace
        ws = self._empty((splits, m, f), np.float32, "conv2d backward (filter, split-K workspace)")
        self._gemm_launch(op, tensors, "conv2d.cu", "conv2d_bwd_filter_splitk_f32", m, f,
                          (x, dy, ws) + ints + (np.int32(k_chunk),), splits=splits, grid_stride=False)
        self._elementwise_launch(op, tensors, "conv2d.cu", "splitk_reduce_f32", m * f,
                                 (ws, dw, np.int32(splits), np.int32(m * f)))
        return dw

    # -- pooling: one thread per output (forward) / per input element (backward) --------
    @staticmethod
    def _pool_ints(g):
        """The int32 shape arguments of the pool2d.cu kernels: geometry g."""
        return tuple(np.int32(v) for v in g.input_shape + g.output_hw + g.kernel_hw + g.strides
                     + (g.pads[0], g.pads[2]))

    def max_pool2d_fwd(self, x, geometry, *, need_saved=True):
        (x,) = self._f32("max_pool2d", x)
        y = self._empty(geometry.output_shape(x.shape[3]), np.float32, "max_pool2d")
        arg = self._empty(y.shape, np.int32, "max_pool2d")
        self._elementwise_launch("max_pool2d", {"x": x.shape, "y": y.shape}, "pool2d.cu", "max_pool2d_fwd_f32", y.size,
                                 (x, y, arg) + self._pool_ints(geometry))
        return y, arg

    def max_pool2d_bwd(self, dy, geometry, *, saved):
        (dy,) = self._f32("max_pool2d backward", dy)
        dx = self._empty(geometry.input_shape, np.float32, "max_pool2d backward")
        arg = self.xp.ascontiguousarray(saved)
        self._elementwise_launch("max_pool2d backward", {"dy": dy.shape, "dx": dx.shape}, "pool2d.cu",
                                 "max_pool2d_bwd_f32", dx.size, (dy, arg, dx) + self._pool_ints(geometry))
        return dx

    def avg_pool2d_fwd(self, x, geometry):
        (x,) = self._f32("avg_pool2d", x)
        y = self._empty(geometry.output_shape(x.shape[3]), np.float32, "avg_pool2d")
        self._elementwise_launch("avg_pool2d", {"x": x.shape, "y": y.shape}, "pool2d.cu", "avg_pool2d_fwd_f32", y.size,
                                 (x, y) + self._pool_ints(geometry))
        return y

    def avg_pool2d_bwd(self, dy, geometry):
        (dy,) = self._f32("avg_pool2d backward", dy)
        dx = self._empty(geometry.input_shape, np.float32, "avg_pool2d backward")
        self._elementwise_launch("avg_pool2d backward", {"dy": dy.shape, "dx": dx.shape}, "pool2d.cu",
                                 "avg_pool2d_bwd_f32", dx.size, (dy, dx) + self._pool_ints(geometry))
        return dx

    # -- convolution epilogue: CuPy ufuncs forward, our dense backward kernel (same (M, F) layout) ---
    def bias_act_fwd(self, y, *, b=None, relu=False):
        if b is not None:
            y += b
        if relu:
            self.xp.maximum(y, 0, out=y)
        return y

    def bias_act_bwd(self, dy, *, y=None, relu=False, need_db=False):
        dy, y = self._f32("bias/ReLU backward", dy, dy if y is None else y)  # y is read only with relu
        f = dy.shape[-1]
        m = dy.size // f
        dz = self._empty(dy.shape, np.float32, "bias/ReLU backward")
        db = self._empty((f,), np.float32, "bias/ReLU backward")
        i32 = np.int32
        self._column_launch("bias/ReLU backward", dy, (dy, y, dz, db, i32(m), i32(f), i32(bool(need_db)),
                                                       i32(bool(relu))))
        return dz, (db if need_db else None)

    # -- dense: SGEMM with bias + ReLU epilogue; backward epilogue + cuBLAS ----------------
    def dense_fwd(self, x, w, *, b=None, relu=False):
        if self._on_tensor_cores(x, w, *(() if b is None else (b,))):
            return self.tensor_cores.dense_fwd(x, w, b, relu=relu)
        return self._dense_fwd_simt(x, w, b=b, relu=relu)

    @via_float32("dense_fwd")
    def _dense_fwd_simt(self, x, w, *, b=None, relu=False):
        x, w = self._f32("dense", x, w)
        b_arr, has_bias = self._bias_arg("dense bias", b)
        m, k = x.shape
        n = w.shape[1]
        y = self._empty((m, n), np.float32, "dense")
        i32 = np.int32
        self._gemm_launch("dense", {"x": x.shape, "w": w.shape, "y": y.shape}, "dense.cu", "dense_bias_relu_fwd_f32", m, n,
                          (x, w, b_arr, y, i32(m), i32(k), i32(n), has_bias, i32(bool(relu))))
        return y

    def dense_bwd(self, dy, x, w, *, y=None, relu=False, need_dx=True):
        dy, x, w, y = self._f32("dense backward", dy, x, w, dy if y is None else y)  # y is read only with relu
        m, n = dy.shape
        dz = self._empty(dy.shape, np.float32, "dense backward")
        db = self._empty((n,), np.float32, "dense backward")
        i32 = np.int32
        self._column_launch("dense backward", dy, (dy, y, dz, db, i32(m), i32(n), i32(1), i32(bool(relu))))
        dw = self.xp.matmul(x.T, dz)  # cuBLAS
        dx = self.xp.matmul(dz, w.T) if need_dx else None
        return dx, dw, db


# Every public primitive: an out-of-memory error from any allocation inside it is the clear one.
for _name in PRIMITIVES:
    setattr(CupyBackend, _name, _clear_oom(_name, getattr(CupyBackend, _name)))
del _name
