"""Launch wrappers of the tensor-core kernels (``cuda_kernels/conv2d_tc.cu``, ``dense_tc.cu``) and the
CUDA headers they need.

The kernels use ``nvcuda::wmma`` (``<mma.h>``) and ``<cuda_fp16.h>`` / ``<cuda_bf16.h>``. NVRTC's wheel
does not ship those headers, so :func:`cuda_headers` finds them as CuPy and cuda-python do, through
``cuda.pathfinder`` (the ``nvidia-cuda-runtime`` + ``nvidia-cuda-crt`` wheels first, then conda,
``CUDA_PATH`` / ``CUDA_HOME`` and the system CUDA toolkit), and :func:`cupy_loader` passes that folder
to NVRTC with ``-I``. The emulator provides those headers itself (see
``gpuflow/backend/emulator/cuda_emu.h``), so :func:`gpuflow.backend.kernels.emulator_loader` runs the
same sources.

Precision follows the arrays' dtype: float32 runs the ``*_tf32`` entry points (inputs rounded to
TF32, float32 accumulation and output), float16 the ``*_f16`` ones and bfloat16 (``ml_dtypes.bfloat16``,
or uint16 bit patterns, as CuPy has no bfloat16 dtype) the ``*_bf16`` ones (16-bit inputs and output,
float32 accumulation). :class:`~gpuflow.backend.cupy_backend.CupyBackend` runs its convolutions (forward,
data and filter gradients) and dense forward through them on GPUs of compute capability 8.0+ (on the
emulator when built with ``tensor_cores=True``): float32 in TF32 while
``tf.config.experimental.tensor_float_32_execution_enabled()``, float16 and bfloat16 in FP16 / BF16 (CuPy has
no bfloat16 dtype, so on a GPU that is float16 only; the emulator runs ``ml_dtypes.bfloat16`` arrays).
"""
from __future__ import annotations

import collections
import os

import numpy as np

from . import kernels as _kernels

__all__ = ["CudaHeaders", "cuda_headers", "cuda_headers_found", "cupy_loader", "TensorCoreKernels", "precision_of"]

# Launch configuration (must match cuda_kernels/wmma_tile.cuh).
TILE_M = 64         # GEMM rows per block tile (GF_TC_BM)
TILE_N = 64         # GEMM columns per block tile (GF_TC_BN)
THREADS = 128       # 4 warps (GF_TC_THREADS); the kernels trap on any other block
MAX_GRID_Y = 65535  # CUDA's limit; the forward / data-gradient / dense kernels loop over extra row tiles
REDUCE_THREADS = 256      # splitk_reduce_*: one thread per element
SPLITK_BLOCKS_PER_SM = 4  # split-K aims at the 4 resident blocks per SM the kernels fit (wmma_tile.cuh)
SPLITK_MIN_K = 512        # at least 512 reduction steps (32 TF32 / 16 BF16, FP16 slices) per split
EMULATOR_SM_COUNT = 132   # the SM count assumed on the emulator (an H100 SXM's)
INDEX_LIMIT = 2**31  # the kernels index with int32

CudaHeaders = collections.namedtuple("CudaHeaders", "path found_via")
CudaHeaders.__doc__ = """The CUDA include folder holding ``mma.h`` and how it was found."""


def cuda_headers():
    """The CUDA include folder for ``<mma.h>``, ``<cuda_fp16.h>`` and ``<cuda_bf16.h>``.

    Looks with ``cuda.pathfinder.locate_nvidia_header_directory("cudart")`` when cuda-pathfinder is
    installed (it comes with cuda-bindings): NVIDIA's wheels (``nvidia-cuda-runtime`` with
    ``nvidia-cuda-crt``, in the ``test`` extra), conda, ``CUDA_PATH`` / ``CUDA_HOME``, the system
    toolkit; else in ``CUDA_PATH``, ``CUDA_HOME`` and ``/usr/local/cuda`` itself.

    Returns:
        CudaHeaders(path, found_via): ``found_via`` names the place (``"site-packages"``,
        ``"CUDA_PATH"``, ``"system-ctk-root"``, ...).

    Raises:
        FileNotFoundError: no folder with ``mma.h`` and ``crt/mma.h``; the message says where it
            looked and what to install.
    """
    looked = []
    try:
        from cuda import pathfinder
    except ImportError:
        pathfinder = None
    if pathfinder is not None:
        found = pathfinder.locate_nvidia_header_directory("cudart")
        if found is not None:
            if _has_mma(found.abs_path):
                return CudaHeaders(found.abs_path, found.found_via)
            looked.append(f"{found.abs_path} (cuda.pathfinder, {found.found_via}: no mma.h / crt/mma.h)")
        else:
            looked.append("cuda.pathfinder (no cudart headers)")
    for var in ("CUDA_PATH", "CUDA_HOME"):
        root = os.environ.get(var)
        if root:
            if _has_mma(os.path.join(root, "include")):
                return CudaHeaders(os.path.join(root, "include"), var)
            looked.append(f"{var}={root}")
    if _has_mma("/usr/local/cuda/include"):
        return CudaHeaders("/usr/local/cuda/include", "/usr/local/cuda")
    looked.append("/usr/local/cuda/include")
    raise FileNotFoundError("The tensor-core kernels need the CUDA headers mma.h, crt/mma.h, cuda_fp16.h and "
                            "cuda_bf16.h; not found in: " + "; ".join(looked) + ". Install them with "
                            "pip install nvidia-cuda-runtime nvidia-cuda-crt (the version of nvidia-cuda-nvrtc), "
                            "or set CUDA_PATH to a CUDA toolkit.")


def cuda_headers_found():
    """Whether :func:`cuda_headers` finds the CUDA headers (the CUDA backend falls back to its FP32 kernels
    when it does not)."""
    try:
        cuda_headers()
    except FileNotFoundError:
        return False
    return True


def _has_mma(folder):
    return all(os.path.isfile(os.path.join(folder, *p.split("/"))) for p in ("mma.h", "crt/mma.h", "cuda_fp16.h"))


def cupy_loader(code, name):
    """Compiles with NVRTC through ``cupy.RawModule``, with the CUDA include folder of :func:`cuda_headers`."""
    import cupy
    return cupy.RawModule(code=code, options=_kernels._options() + (f"-I{cuda_headers().path}",))


def precision_of(dtype, what="x"):
    """``"tf32"`` for float32, ``"f16"`` for float16, ``"bf16"`` for bfloat16 (or uint16 bit patterns).

    Raises:
        TypeError: any other dtype; the message names the argument ``what``.
    """
    dt = np.dtype(dtype)
    if dt == np.float32:
        return "tf32"
    if dt == np.float16:
        return "f16"
    if dt.name == "bfloat16" or dt == np.uint16:
        return "bf16"
    raise TypeError(f"The tensor-core kernels take float32 (TF32), float16 or bfloat16 tensors. "
                    f"Received: {what}.dtype={dt}")


def _cdiv(a, b):
    return -(-a // b)


class TensorCoreKernels:
    """The tensor-core kernels of one device (a GPU through CuPy, or the CPU emulator).

    Args:
        xp: array module of the arrays (``cupy``, or ``numpy`` on the emulator).
        loader: module loader (:func:`cupy_loader`, or :func:`gpuflow.backend.kernels.emulator_loader`).
        grid_cap: optional ``(gx, gy, gz)`` cap on the grid of the grid-stride kernels (a test hook, as
            ``CupyBackend.grid_cap``).
        sm_count: the device's SM count, for the filter gradient's split-K (default: asked from CuPy's
            current device, :data:`EMULATOR_SM_COUNT` on the emulator).

    Raises:
        RuntimeError: on a GPU older than sm_80 (no TF32 / BF16 tensor cores; the kernels do not compile).

    Every method checks that the arrays share one dtype (float32, float16 or bfloat16, see
    :func:`precision_of`) and that no tensor reaches 2^31 elements, and returns a new C-contiguous
    array of that dtype. Convolution geometry: NHWC input ``(N, H, W, C)``, filters ``(KH, KW, C, F)``,
    ``strides`` and ``dilations`` ``(h, w)``, ``pads`` ``(top, bottom, left, right)``.
    """

    def __init__(self, xp=np, loader=None, grid_cap=None, sm_count=None):
        self.xp = xp
        self.kernels = _kernels.KernelSet(loader or cupy_loader, use_events=xp is not np)
        self.grid_cap = grid_cap
        if xp is not np:
            cc = int(xp.cuda.Device().compute_capability)
            if cc < 80:
                raise RuntimeError("The tensor-core kernels need a GPU with compute capability 8.0 or newer "
                                   f"(TF32 / BF16 wmma). Received: compute capability {cc // 10}.{cc % 10}")
        if sm_count is None:
            sm_count = EMULATOR_SM_COUNT if xp is np else xp.cuda.Device().attributes["MultiProcessorCount"]
        self.sm_count = sm_count

    def _args(self, op, names, arrays):
        precisions = {precision_of(a.dtype, n) for n, a in zip(names, arrays)}
        if len(precisions) != 1:
            got = ", ".join(f"{n}.dtype={a.dtype}" for n, a in zip(names, arrays))
            raise TypeError(f"{op}: expected {', '.join(names)} of one dtype. Received: {got}")
        for n, a in zip(names, arrays):
            if a.size >= INDEX_LIMIT:
                raise ValueError(f"{op}: the CUDA kernels index tensors with int32. Expected {n} with fewer than "
                                 f"{INDEX_LIMIT} elements. Received: {n}.shape={tuple(a.shape)}")
        return precisions.pop(), [self.xp.ascontiguousarray(a) for a in arrays]

    def _launch(self, filename, entry, rows, cols, args, grid_stride=True, splits=1):
        grid = (_cdiv(cols, TILE_N), min(_cdiv(rows, TILE_M), MAX_GRID_Y) if grid_stride else _cdiv(rows, TILE_M),
                splits)
        if grid_stride and self.grid_cap is not None:
            grid = tuple(min(g, c) for g, c in zip(grid, self.grid_cap))
        self.kernels.launch(filename, entry, grid, (THREADS, 1, 1), args)

    @staticmethod
    def _conv_ints(x_shape, w_shape, out_hw, strides, dilations, pads):
        n, h, w, c = x_shape
        kh, kw, _, f = w_shape
        return tuple(np.int32(v) for v in (n, h, w, c, f, kh, kw, out_hw[0], out_hw[1], strides[0], strides[1],
                                           dilations[0], dilations[1], pads[0], pads[2]))

    @staticmethod
    def output_hw(x_shape, kernel_hw, strides, dilations, pads):
        """(OH, OW) of a convolution: ``(H + top + bottom - DH*(KH-1) - 1) // SH + 1`` (likewise W)."""
        (_, h, w, _), (kh, kw) = x_shape, kernel_hw
        oh = (h + pads[0] + pads[1] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
        ow = (w + pads[2] + pads[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
        return oh, ow

    def conv2d_fwd(self, x, w, *, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0)):
        """y (N, OH, OW, F) = conv(x (N, H, W, C), w (KH, KW, C, F)) on tensor cores."""
        p, (x, w) = self._args("conv2d (tensor cores)", ("x", "w"), (x, w))
        oh, ow = self.output_hw(x.shape, w.shape[:2], strides, dilations, pads)
        y = self.xp.empty((x.shape[0], oh, ow, w.shape[3]), dtype=x.dtype)
        ints = self._conv_ints(x.shape, w.shape, (oh, ow), strides, dilations, pads)
        self._launch("conv2d_tc.cu", f"conv2d_fwd_{p}", x.shape[0] * oh * ow, w.shape[3], (x, w, y) + ints)
        return y

    def conv2d_bwd_data(self, dy, w, input_shape, *, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0)):
        """dx (input_shape) of conv2d given dy (N, OH, OW, F) and w (KH, KW, C, F), on tensor cores."""
        p, (dy, w) = self._args("conv2d backward (data, tensor cores)", ("dy", "w"), (dy, w))
        dx = self.xp.empty(tuple(input_shape), dtype=dy.dtype)
        ints = self._conv_ints(dx.shape, w.shape, dy.shape[1:3], strides, dilations, pads)
        n, h, wd, c = dx.shape
        self._launch("conv2d_tc.cu", f"conv2d_bwd_data_{p}", n * h * wd, c, (dy, w, dx) + ints)
        return dx

    def splitk_splits(self, m, f, k):
        """How many K-splits the filter gradient of GEMM view (m x f, reduction k) runs: enough blocks for
        SPLITK_BLOCKS_PER_SM per SM, each split at least SPLITK_MIN_K long."""
        tiles = _cdiv(m, TILE_M) * _cdiv(f, TILE_N)
        return max(1, min(_cdiv(SPLITK_BLOCKS_PER_SM * self.sm_count, tiles), _cdiv(k, SPLITK_MIN_K)))

    def conv2d_bwd_filter(self, x, dy, kernel_hw, *, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                          splits=None):
        """dw (KH, KW, C, F) of conv2d given x (N, H, W, C) and dy (N, OH, OW, F), on tensor cores.

        ``splits``: K-splits (default :meth:`splitk_splits`); above 1, float32 partials in a workspace of
        ``splits * KH*KW*C*F`` floats are summed in split order (deterministic) and rounded once.
        """
        p, (x, dy) = self._args("conv2d backward (filter, tensor cores)", ("x", "dy"), (x, dy))
        w_shape = tuple(kernel_hw) + (x.shape[3], dy.shape[3])
        dw = self.xp.empty(w_shape, dtype=x.dtype)
        ints = self._conv_ints(x.shape, w_shape, dy.shape[1:3], strides, dilations, pads)
        m, f, k = w_shape[0] * w_shape[1] * w_shape[2], w_shape[3], dy.shape[0] * dy.shape[1] * dy.shape[2]
        splits = self.splitk_splits(m, f, k) if splits is None else int(splits)
        if splits <= 1 or k <= 0:
            self._launch("conv2d_tc.cu", f"conv2d_bwd_filter_{p}", m, f, (x, dy, dw) + ints, grid_stride=False)
            return dw
        k_chunk = _cdiv(_cdiv(k, splits), 32) * 32  # whole K slices for every precision
        splits = _cdiv(k, k_chunk)
        if splits * m * f >= INDEX_LIMIT:
            raise ValueError(f"conv2d backward (filter, tensor cores): the split-K workspace would have "
                             f"{splits * m * f} elements, at least {INDEX_LIMIT}. Received: splits={splits}")
        ws = self.xp.empty((splits, m, f), dtype=np.float32)
        self._launch("conv2d_tc.cu", f"conv2d_bwd_filter_splitk_{p}", m, f, (x, dy, ws) + ints + (np.int32(k_chunk),),
                     grid_stride=False, splits=splits)
        reduce_file, reduce_entry = ("conv2d.cu", "splitk_reduce_f32") if p == "tf32" else (
            "conv2d_tc.cu", f"splitk_reduce_{p}")
        grid = (max(1, _cdiv(m * f, REDUCE_THREADS)), 1, 1)
        self.kernels.launch(reduce_file, reduce_entry, grid, (REDUCE_THREADS, 1, 1),
                            (ws, dw.reshape(-1), np.int32(splits), np.int32(m * f)))
        return dw

    def dense_fwd(self, x, w, b=None, *, relu=False):
        """y (M, N) = x (M, K) @ w (K, N) (+ b (N,)) (ReLU), bias and ReLU fused, on tensor cores."""
        names, arrays = ("x", "w") + (("b",) if b is not None else ()), (x, w) + ((b,) if b is not None else ())
        p, arrays = self._args("dense (tensor cores)", names, arrays)
        x, w = arrays[:2]
        b = arrays[2] if b is not None else self.xp.zeros(1, dtype=x.dtype)
        m, k = x.shape
        n = w.shape[1]
        y = self.xp.empty((m, n), dtype=x.dtype)
        ints = tuple(np.int32(v) for v in (m, k, n, len(arrays) == 3, bool(relu)))
        self._launch("dense_tc.cu", f"dense_bias_relu_fwd_{p}", m, n, (x, w, b, y) + ints)
        return y
