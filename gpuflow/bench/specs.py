"""The ops of ``gpuflow bench ops``, their shapes, and the work each one does (FLOPs, minimum bytes).

Nothing here runs an op: it is the catalogue (op names, families), the shape
grammar of ``--shape``, the standard shape sets, and the counting rules of the
roofline (see benchmarks/README.md, "What is measured, and how"): the floor of an op is
``max(flops / peak_flops, bytes / peak_bandwidth)``.

Shape grammar (tokens separated by spaces, commas or colons):

* convolution (conv2d_fwd, conv2d_bwd_data, conv2d_bwd_filter):
  ``NxHxWxC->F KxK [sS|sSHxSW] [same|valid]`` (padding default ``same``, stride 1),
  e.g. ``128x28x28x32->64 3x3``;
* pooling (max/avg, forward/backward): ``NxHxWxC KxK [sS] [same|valid]``
  (stride default: the window, padding default ``valid``), e.g. ``128x26x26x32 2x2``;
* fused Dense + bias + ReLU: ``MxK->N`` (batch M, K inputs, N units), e.g. ``128x1600->128``;
* matmul ``(M, K) @ (K, N)``: ``MxKxN``, e.g. ``1024x1024x1024``.

Counting rules (``s`` = bytes per element of the dtype: 8 float64, 4 float32, 2 float16 and bfloat16):

* convolution, each of the three passes: ``2 * N*OH*OW*F * KH*KW*C`` FLOPs (one multiply and
  one add per kernel tap; the same GEMM size forward, for the data gradient and for the filter
  gradient); minimum bytes: each tensor the pass reads or writes, once
  (fwd: x, w, y; bwd_data: dy, w, dx; bwd_filter: x, dy, dw).
* pooling forward: ``N*OH*OW*C * KH*KW`` operations (compares or adds), bytes ``x + y``;
  max backward: ``N*OH*OW*C`` (one routed add per output), bytes ``dy + dx`` (the saved
  window index is an implementation choice and is not counted, so the floor is a lower bound);
  avg backward: ``N*OH*OW*C * KH*KW`` adds, bytes ``dy + dx``.
* Dense forward: ``2*M*K*N + 2*M*N`` (GEMM, bias, ReLU), bytes ``x + w + b + y``;
  Dense backward (data and weight gradients, ReLU mask and bias reduction):
  ``4*M*K*N + 2*M*N``, bytes ``dy + y + x + w + dx + dw + db``.
* matmul: ``2*M*K*N``, bytes ``a + b + c``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..backend.geometry import ConvGeometry

__all__ = ["OPS", "FAMILIES", "ConvShape", "PoolShape", "DenseShape", "MatmulShape", "parse_shape", "parse_ops",
           "standard_shapes", "op_work", "ShapeError", "SHAPE_GRAMMAR", "DTYPE_SIZES", "PRECISIONS", "LOW_PRECISION",
           "numpy_dtype"]

# op name -> (shape kind, one-line description)
OPS = {
    "conv2d_fwd": ("conv", "convolution forward, NHWC (implicit GEMM / im2col + GEMM)"),
    "conv2d_bwd_data": ("conv", "convolution gradient w.r.t. the input"),
    "conv2d_bwd_filter": ("conv", "convolution gradient w.r.t. the kernel"),
    "max_pool_fwd": ("pool", "max pooling forward (with the window index kept for backward)"),
    "max_pool_bwd": ("pool", "max pooling backward"),
    "avg_pool_fwd": ("pool", "average pooling forward (padding excluded from the count)"),
    "avg_pool_bwd": ("pool", "average pooling backward"),
    "dense_relu_fwd": ("dense", "fused Dense: relu(x @ w + b)"),
    "dense_relu_bwd": ("dense", "fused Dense backward: ReLU mask, dx, dw, db"),
    "matmul": ("matmul", "matrix product (M, K) @ (K, N)"),
}

# --op also accepts these family names
FAMILIES = {
    "conv2d": [o for o in OPS if o.startswith("conv2d")],
    "pool": [o for o in OPS if "pool" in o],
    "max_pool": ["max_pool_fwd", "max_pool_bwd"],
    "avg_pool": ["avg_pool_fwd", "avg_pool_bwd"],
    "dense": ["dense_relu_fwd", "dense_relu_bwd"],
    "all": list(OPS),
}

DTYPE_SIZES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
#: The precision (a roofline rate of :mod:`.peaks`) an op runs in by default in each dtype: for the 16-bit ones,
#: 16-bit operands with float32 accumulation (tensor cores, cuDNN/cuBLAS/oneDNN 16-bit kernels).
PRECISIONS = {"float32": "fp32", "float64": "fp64", "float16": "fp16", "bfloat16": "bf16"}
LOW_PRECISION = ("float16", "bfloat16")


def numpy_dtype(name):
    """The NumPy dtype of a benchmark dtype name; bfloat16 is ``ml_dtypes.bfloat16`` (NumPy has none).

    Raises:
        ImportError: bfloat16 without the ml-dtypes package (the message says how to install it).
    """
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            from ..dtypes import BFLOAT16_MISSING
            raise ImportError(BFLOAT16_MISSING) from None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)

SHAPE_GRAMMAR = ("NxHxWxC->F KxK [sS] [same|valid] (conv), NxHxWxC KxK [sS] [same|valid] (pool), "
                 "MxK->N (dense), MxKxN (matmul)")


class ShapeError(ValueError):
    """A ``--shape`` that does not parse or describes an impossible op."""


class _Windowed:
    """What convolution and pooling shapes share: an (h, w, c) input windowed by (kh, kw) at (sh, sw)."""

    @property
    def geometry(self):
        """The :class:`~gpuflow.backend.geometry.ConvGeometry` the backend primitives take.

        Raises:
            ValueError: the window leaves an empty output.
        """
        return ConvGeometry.of(self.x_shape, (self.kh, self.kw), (self.sh, self.sw), (1, 1), self.padding,
                               op=f"{self.kind} {self}")

    @property
    def out_hw(self):
        return self.geometry.output_hw

    @property
    def pads(self):
        """(top, bottom, left, right)."""
        return self.geometry.pads

    @property
    def x_shape(self):
        return (self.n, self.h, self.w, self.c)


@dataclass(frozen=True)
class ConvShape(_Windowed):
    n: int
    h: int
    w: int
    c: int
    f: int
    kh: int
    kw: int
    sh: int = 1
    sw: int = 1
    padding: str = "same"
    kind = "conv"

    @property
    def w_shape(self):
        return (self.kh, self.kw, self.c, self.f)

    @property
    def y_shape(self):
        return (self.n,) + self.out_hw + (self.f,)

    def __str__(self):
        s = "" if (self.sh, self.sw) == (1, 1) else (f" s{self.sh}" if self.sh == self.sw else f" s{self.sh}x{self.sw}")
        return f"{self.n}x{self.h}x{self.w}x{self.c}->{self.f} {self.kh}x{self.kw}{s} {self.padding}"


@dataclass(frozen=True)
class PoolShape(_Windowed):
    n: int
    h: int
    w: int
    c: int
    kh: int
    kw: int
    sh: int
    sw: int
    padding: str = "valid"
    kind = "pool"

    @property
    def y_shape(self):
        return (self.n,) + self.out_hw + (self.c,)

    def __str__(self):
        s = "" if (self.sh, self.sw) == (self.kh, self.kw) else (
            f" s{self.sh}" if self.sh == self.sw else f" s{self.sh}x{self.sw}")
        return f"{self.n}x{self.h}x{self.w}x{self.c} {self.kh}x{self.kw}{s} {self.padding}"


@dataclass(frozen=True)
class DenseShape:
    m: int
    k: int
    n: int
    kind = "dense"

    def __str__(self):
        return f"{self.m}x{self.k}->{self.n}"


@dataclass(frozen=True)
class MatmulShape:
    m: int
    k: int
    n: int
    kind = "matmul"

    def __str__(self):
        return f"{self.m}x{self.k}x{self.n}"


_INT = r"([1-9]\d*)"
_CONV = re.compile(rf"^{_INT}x{_INT}x{_INT}x{_INT}->{_INT}$")
_POOL = re.compile(rf"^{_INT}x{_INT}x{_INT}x{_INT}$")
_DENSE = re.compile(rf"^{_INT}x{_INT}->{_INT}$")
_MATMUL = re.compile(rf"^{_INT}x{_INT}x{_INT}$")
_WINDOW = re.compile(rf"^{_INT}(?:x{_INT})?$")
_STRIDE = re.compile(rf"^s{_INT}(?:x{_INT})?$")


def _pair(m):
    a = int(m.group(1))
    return a, int(m.group(2)) if m.group(2) else a


def parse_shape(text):
    """Parses one ``--shape`` (see the module docstring).

    Returns:
        A ConvShape, PoolShape, DenseShape or MatmulShape.

    Raises:
        ShapeError: naming the text and the grammar.
    """
    raw = str(text)
    tokens = [t for t in re.split(r"[\s,:]+", raw.strip().lower()) if t]
    bad = f"malformed shape {raw!r}: expected {SHAPE_GRAMMAR}"
    if not tokens:
        raise ShapeError(bad)
    head, rest = tokens[0], tokens[1:]
    for rx, kind in ((_CONV, "conv"), (_POOL, "pool"), (_DENSE, "dense"), (_MATMUL, "matmul")):
        m = rx.match(head)
        if m:
            break
    else:
        raise ShapeError(bad)
    dims = [int(g) for g in m.groups()]
    if kind in ("dense", "matmul"):
        if rest:
            raise ShapeError(f"malformed shape {raw!r}: a {kind} shape takes no window, stride or padding "
                             f"(got {' '.join(rest)!r}); expected {SHAPE_GRAMMAR}")
        return DenseShape(*dims) if kind == "dense" else MatmulShape(*dims)
    if not rest or not _WINDOW.match(rest[0]):
        raise ShapeError(f"malformed shape {raw!r}: a {kind} shape needs a window such as 3x3 after the tensor "
                         f"shape; expected {SHAPE_GRAMMAR}")
    kh, kw = _pair(_WINDOW.match(rest[0]))
    stride, padding = None, None
    for tok in rest[1:]:
        sm = _STRIDE.match(tok)
        if sm and stride is None:
            stride = _pair(sm)
        elif tok in ("same", "valid") and padding is None:
            padding = tok
        else:
            raise ShapeError(f"malformed shape {raw!r}: unexpected {tok!r}; expected {SHAPE_GRAMMAR}")
    if kind == "conv":
        n, h, w, c, f = dims
        sh, sw = stride or (1, 1)
        shape = ConvShape(n, h, w, c, f, kh, kw, sh, sw, padding or "same")
    else:
        n, h, w, c = dims
        sh, sw = stride or (kh, kw)
        shape = PoolShape(n, h, w, c, kh, kw, sh, sw, padding or "valid")
    try:
        shape.geometry
    except ValueError:
        raise ShapeError(f"impossible shape {raw!r}: a {kh}x{kw} window with stride {sh}x{sw} and "
                         f"{shape.padding} padding leaves an empty output") from None
    return shape


def parse_ops(text):
    """Parses ``--op`` (comma-separated op or family names) into op names, in catalogue order.

    Raises:
        ValueError: an unknown name, listing the valid ones.
    """
    wanted = set()
    for name in (t.strip().lower() for t in str(text).split(",")):
        if not name:
            continue
        if name in OPS:
            wanted.add(name)
        elif name in FAMILIES:
            wanted.update(FAMILIES[name])
        else:
            raise ValueError(f"unknown op {name!r}; expected one of {', '.join(OPS)} "
                             f"(or a family: {', '.join(FAMILIES)})")
    if not wanted:
        raise ValueError("no op given")
    return [o for o in OPS if o in wanted]


_SETS = {
    # The tiny set: fast enough for the CPU emulator and for tests.
    "tiny": ["2x8x8x4->8 3x3 same", "2x8x8x4 2x2", "8x32->16", "32x32x32"],
    # The seed CNN's own layers at batch 128 (what `gpuflow bench model` runs), plus a square GEMM.
    "quick": ["128x28x28x1->32 3x3 valid", "128x13x13x32->64 3x3 valid",
              "128x26x26x32 2x2", "128x11x11x64 2x2",
              "128x1600->128", "1024x1024x1024"],
    # quick + the standard shapes of the issue (CNN-sized convolutions) + larger GEMMs.
    "standard": ["128x28x28x1->32 3x3 valid", "128x13x13x32->64 3x3 valid",
                 "128x28x28x32->64 3x3 same", "64x14x14x256->256 3x3 same", "256x32x32x64->64 3x3 same",
                 "128x26x26x32 2x2", "128x11x11x64 2x2", "128x56x56x64 2x2",
                 "128x1600->128", "1024x4096->1024",
                 "1024x1024x1024", "2048x2048x2048"],
    "standard_gpu_extra": ["4096x4096x4096"],
}


def standard_shapes(which="standard", device="cpu"):
    """The shapes of a named set (``tiny``, ``quick``, ``standard``); the GPU's standard set adds a
    4096^3 GEMM (too slow for a small CPU)."""
    texts = list(_SETS[which])
    if which == "standard" and device == "gpu":
        texts += _SETS["standard_gpu_extra"]
    return [parse_shape(t) for t in texts]


def op_work(op, shape, dtype="float32"):
    """(flops, minimum bytes) of ``op`` at ``shape`` (see the module docstring for the rules)."""
    s = DTYPE_SIZES[dtype]
    kind = OPS[op][0]
    if kind != shape.kind:
        raise ValueError(f"op {op} takes a {kind} shape; got {shape.kind} shape {shape}")
    if kind == "conv":
        n, (oh, ow) = shape.n, shape.out_hw
        x = n * shape.h * shape.w * shape.c
        w = shape.kh * shape.kw * shape.c * shape.f
        y = n * oh * ow * shape.f
        return 2 * y * shape.kh * shape.kw * shape.c, s * (x + w + y)
    if kind == "pool":
        (oh, ow) = shape.out_hw
        x = shape.n * shape.h * shape.w * shape.c
        y = shape.n * oh * ow * shape.c
        window = shape.kh * shape.kw
        flops = y if op == "max_pool_bwd" else y * window
        return flops, s * (x + y)
    m, k, n = shape.m, shape.k, shape.n
    if op == "matmul":
        return 2 * m * k * n, s * (m * k + k * n + m * n)
    if op == "dense_relu_fwd":
        return 2 * m * k * n + 2 * m * n, s * (m * k + k * n + n + m * n)
    return 4 * m * k * n + 2 * m * n, s * (2 * m * n + 2 * m * k + 2 * k * n + n)
