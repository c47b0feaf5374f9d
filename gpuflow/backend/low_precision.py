"""float16 and bfloat16 through float32 primitives: the backends' boundary for 16-bit tensors.

A backend whose primitives are written for float32 (the NumPy backend's BLAS/im2col code, the CUDA backend's
FP32 kernels) takes float16 and bfloat16 arrays through :func:`upcast_16bit`: each primitive converts its
16-bit array arguments to float32, runs the float32 code, and rounds its array results back to the input
dtype once, so a primitive's outputs keep the dtype of its inputs (the contract of :mod:`.base`). That is
the arithmetic of the tensor cores that mixed precision targets: 16-bit operands, float32 accumulation,
one rounding of the result. It is also how the CPU stays usable: NumPy has no BLAS for float16 and
``ml_dtypes``' bfloat16 matmul is a slow generic loop.

``saved`` (the opaque value a forward primitive returns for its backward) stays as the float32 code made
it; the backward primitive receives it as it is. :meth:`~.base.Backend.bias_act_fwd` writes its result into
the 16-bit array it was given, keeping its in-place contract.

A backend that implements a primitive natively for 16-bit inputs (the CUDA backend's tensor-core
convolutions and dense forward) lists it in its ``native_16bit`` class attribute; those primitives are left
alone, and one that still needs the float32 path for some calls (no tensor cores) sends them through a
method decorated with :func:`via_float32`.
"""
from __future__ import annotations

import functools

import numpy as np

from .base import PRIMITIVES

__all__ = ["is_16bit", "upcast_16bit", "via_float32"]

_RETURNS_SAVED = frozenset({"conv2d_fwd", "conv2d_maxpool_fwd", "max_pool2d_fwd"})  # ``(y, saved)``
#: The compute primitives (convolution, pooling, dense, bias/ReLU); not the array ones (asarray, random_*).
COMPUTE_PRIMITIVES = tuple(n for n in PRIMITIVES if n.endswith(("_fwd", "_bwd", "_bwd_data", "_bwd_filter")))


def is_16bit(a):
    """Whether ``a`` is an array (NumPy or CuPy) of float16 or bfloat16."""
    dtype = getattr(a, "dtype", None)  # itemsize first: dtype.name is a slow property (most calls are float32)
    return (hasattr(a, "shape") and isinstance(dtype, np.dtype) and dtype.itemsize == 2
            and dtype.name in ("float16", "bfloat16"))


def _wrap(name, fn):
    @functools.wraps(fn)
    def primitive(self, *args, **kwargs):
        low = next((a.dtype for a in list(args) + list(kwargs.values()) if is_16bit(a)), None)
        if low is None:
            return fn(self, *args, **kwargs)

        def up(a):
            return a.astype(np.float32) if is_16bit(a) else a

        def down(a):
            return a.astype(low) if getattr(a, "dtype", None) == np.float32 else a
        out = fn(self, *[up(a) for a in args], **{k: up(v) for k, v in kwargs.items()})
        with np.errstate(over="ignore"):  # beyond the 16-bit range is inf, as on the GPU (loss scaling expects it)
            if name == "bias_act_fwd":
                args[0][...] = out.astype(low)
                return args[0]
            if name in _RETURNS_SAVED:
                return down(out[0]), out[1]
            return tuple(down(o) for o in out) if isinstance(out, tuple) else down(out)
    return primitive


def via_float32(name):
    """Method decorator: the method, which implements primitive ``name`` in float32, takes float16/bfloat16
    arrays as :func:`upcast_16bit` makes primitives take them (for a primitive listed in ``native_16bit``
    whose 16-bit calls fall back to its float32 code)."""
    return functools.partial(_wrap, name)


def upcast_16bit(cls):
    """Class decorator: every compute primitive of ``cls`` (:data:`COMPUTE_PRIMITIVES`) not in ``cls.native_16bit``
    takes float16/bfloat16 arrays by computing in float32 (see the module docstring). Float32 and float64
    calls go straight through."""
    native = getattr(cls, "native_16bit", frozenset())
    for name in COMPUTE_PRIMITIVES:
        if name not in native and name in vars(cls):
            setattr(cls, name, _wrap(name, vars(cls)[name]))
    return cls
