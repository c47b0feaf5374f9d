"""The ops that ``keras.ops`` needs and TensorFlow's namespaces do not have as such: the inverse hyperbolic
functions, ``cbrt``, ``erfinv``, the discrete Fourier transform of a (real, imaginary) pair, the max/min/prod
segment reductions, and a wrapper for the ops that have no gradient (bit operations, counts, indices...).

As every module of :mod:`gpuflow.ops`: the forward runs on the tensor's backend (``backend.xp``, NumPy or CuPy),
the gradient is written once beside it in terms of other gpuflow ops (so it runs on every backend and can be
differentiated again). The Keras-facing functions (dtype rules, argument names) live in
:mod:`gpuflow.keras.ops`.
"""
from __future__ import annotations

import numpy as np

from . import math_ops as M
from . import array_ops as A
from .core import convert_to_tensor, make_op

__all__ = [
    "elementwise", "nondifferentiable", "arcsinh", "arccosh", "arctanh", "cbrt", "erfinv", "fft_pair", "segment_reduce",
]


def elementwise(name, fwd, grad, doc=""):
    """Builds a differentiable elementwise op on a floating tensor.

    Args:
        name: the op's name (errors, debugging).
        fwd: ``fwd(xp, array) -> array`` of the same dtype.
        grad: ``grad(g, x, out) -> Tensor``, the input gradient in gpuflow ops.
        doc: the docstring.

    The returned ``op(x)`` raises TypeError for a non-floating ``x``.
    """
    def op(x):
        x = convert_to_tensor(x)
        if not x.dtype.is_floating:
            raise TypeError(f"{name} expects a floating-point tensor. Received: x.dtype={x.dtype.name}")
        out = None
        out = make_op(name, (x,), fwd(x._backend.xp, x._data).astype(x._data.dtype, copy=False),
                      lambda g, n: (grad(g, x, out),))
        return out
    op.__name__ = name
    op.__doc__ = doc or f"Elementwise ``{name}`` of a floating tensor (NumPy's ``{name}``), with its gradient."
    return op


def nondifferentiable(name, fn, *tensors):
    """``fn(xp, *arrays)`` of the tensors' backend arrays as a Tensor with no gradient (TensorFlow's
    ``NotDifferentiable``): for comparisons, bit operations, indices, counts. ``tensors`` share one device."""
    ts = [convert_to_tensor(t) for t in tensors]
    xp = ts[0]._backend.xp
    return make_op(name, tuple(ts), xp.asarray(fn(xp, *(t._data for t in ts))), None)


arcsinh = elementwise("arcsinh", lambda xp, a: xp.arcsinh(a), lambda g, x, o: g * M.rsqrt(x * x + 1))
arccosh = elementwise("arccosh", lambda xp, a: xp.arccosh(a), lambda g, x, o: g * M.rsqrt(x * x - 1))
arctanh = elementwise("arctanh", lambda xp, a: xp.arctanh(a), lambda g, x, o: g / (1 - x * x))
cbrt = elementwise("cbrt", lambda xp, a: xp.cbrt(a), lambda g, x, o: g / (3 * o * o))


def _erfinv_guess(xp, a):
    """Giles's single-precision approximation of erfinv ("Approximating the erfinv function", GPU Computing Gems,
    2011), relative error below 4e-7 on (-1, 1); +-inf at +-1."""
    w = -xp.log((1.0 - a) * (1.0 + a))
    small = w < 5.0
    ws = xp.where(small, w - 2.5, xp.sqrt(xp.maximum(w, 5.0)) - 3.0)
    cs = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
          -0.00417768164, 0.246640727, 1.50140941)
    cb = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
          0.00943887047, 1.00167406, 2.83297682)
    p_small, p_big = xp.full_like(a, cs[0]), xp.full_like(a, cb[0])
    for c_s, c_b in zip(cs[1:], cb[1:]):
        p_small, p_big = p_small * ws + c_s, p_big * ws + c_b
    out = xp.where(small, p_small, p_big) * a
    return xp.where(xp.abs(a) == 1.0, xp.where(a > 0, xp.inf, -xp.inf), out)


def erfinv(x):
    """The inverse error function of a floating tensor, elementwise: Giles's approximation refined by two Newton
    steps on gpuflow's ``erf`` in float64 (error of a few float64 ulps for |x| < 1 - 1e-12); +-inf at +-1, NaN
    outside [-1, 1]. Gradient ``sqrt(pi)/2 * exp(erfinv(x)^2)``."""
    from . import nn_ops
    x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"erfinv expects a floating-point tensor. Received: x.dtype={x.dtype.name}")
    a = A.stop_gradient(M.cast(x, "float64"))
    y = nondifferentiable("ErfinvGuess", _erfinv_guess, a)
    finite = M.is_finite(y)
    for _ in range(2):  # Newton on erf(y) = a, where y is finite
        step = (nn_ops.erf(y) - a) * (np.sqrt(np.pi) / 2) * M.exp(y * y)
        y = M.where(finite, y - M.where(finite, step, M.zeros_like_(step)), y)
    out = None
    out = make_op("Erfinv", (x,), M.cast(y, x.dtype)._data,
                  lambda g, n: (g * (np.sqrt(np.pi) / 2) * M.exp(out * out),))
    return out


def fft_pair(real, imag, axes, inverse=False):
    """The discrete Fourier transform (``inverse``: its inverse, scaled by 1/n as NumPy's) of the complex tensor
    ``real + i imag`` over ``axes`` (a tuple of non-negative axes), as the pair ``(real, imag)`` of its result, in
    the inputs' floating dtype (gpuflow has no complex dtype; computed in complex128 for float64, else complex64).

    Gradients: the transform is linear, ``y = F x``, so ``x``'s gradient is ``F^H g`` for ``g = g_real + i g_imag``:
    ``n * ifft(g)`` for the forward transform, ``fft(g) / n`` for the inverse (n the number of points), computed with
    this op again (so it differentiates twice).
    """
    real = convert_to_tensor(real)
    imag = convert_to_tensor(imag, dtype=real.dtype, device=real.device)
    if not real.dtype.is_floating:
        raise TypeError(f"fft expects floating-point tensors. Received: dtype={real.dtype.name}")
    xp = real._backend.xp
    ctype = np.complex128 if real._data.dtype == np.float64 else np.complex64
    z = real._data.astype(ctype) + 1j * imag._data.astype(ctype)
    out = (xp.fft.ifftn if inverse else xp.fft.fftn)(z, axes=axes)
    n = int(np.prod([real.shape[a] for a in axes]))
    scale = 1.0 / n if inverse else float(n)

    def vjp_of(part):
        def vjp(g, needs):
            zero = M.zeros_like_(g)
            gr, gi = (g, zero) if part == 0 else (zero, g)
            ar, ai = fft_pair(gr, gi, axes, inverse=not inverse)
            return ar * scale, ai * scale
        return vjp
    dt = real._data.dtype
    return (make_op("FFTReal", (real, imag), out.real.astype(dt), vjp_of(0)),
            make_op("FFTImag", (real, imag), out.imag.astype(dt), vjp_of(1)))


_SEGMENT_FILL = {"max": lambda dt: np.finfo(dt).min if dt.kind == "f" else np.iinfo(dt).min,
                 "min": lambda dt: np.finfo(dt).max if dt.kind == "f" else np.iinfo(dt).max,
                 "prod": lambda dt: 1}


def segment_reduce(data, segment_ids, num_segments, kind):
    """TensorFlow's ``unsorted_segment_<kind>`` for kind ``max``, ``min`` or ``prod`` (the sum is
    :func:`gpuflow.ops.math_ops.unsorted_segment_sum`): output row ``s`` reduces the rows of ``data`` whose
    ``segment_ids`` (int, 1-D, one per leading row) equal ``s``; ids outside ``[0, num_segments)`` are dropped. An
    empty segment holds 1 (prod), the dtype's lowest (max) or highest (min) value, as TensorFlow.

    Gradients: max/min of a floating ``data``, split evenly among the rows that attain the extreme (TensorFlow's
    rule); prod has none in gpuflow.
    """
    data = convert_to_tensor(data)
    ids = convert_to_tensor(segment_ids, device=data.device)
    xp = data._backend.xp
    shape = (int(num_segments),) + tuple(data.shape[1:])
    keep = xp.nonzero((ids._data >= 0) & (ids._data < num_segments))[0]
    rows = ids._data[keep]
    dt = data._data.dtype
    out = xp.full(shape, _SEGMENT_FILL[kind](dt), dtype=dt)
    getattr(xp, {"max": "maximum", "min": "minimum", "prod": "multiply"}[kind]).at(out, rows, data._data[keep])
    if kind == "prod" or not data.dtype.is_floating:
        return make_op(f"UnsortedSegment{kind.capitalize()}", (data,), out, None)
    result = None

    def vjp(g, n):
        kept = A.getitem(data, (keep,))
        hit = M.cast(M.equal(kept, A.getitem(result, (rows,))), data.dtype)
        ties = A.getitem(A.scatter_nd(rows[:, None], hit, shape), (rows,))
        return (A.scatter_nd(keep[:, None], A.getitem(g, (rows,)) * hit / ties, tuple(data.shape)),)
    result = make_op(f"UnsortedSegment{kind.capitalize()}", (data,), out, vjp)
    return result
