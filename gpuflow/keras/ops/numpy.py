"""``keras.ops.numpy``: Keras 3.15's NumPy-style operations (``keras/src/ops/numpy.py``) on gpuflow's ops.

Names, arguments and defaults are Keras's (``sum(x, axis=None, keepdims=False)``, ``transpose(x, axes=None)``,
``concatenate(xs, axis=0)``...); inputs may be gpuflow tensors, NumPy arrays, nested lists or Python numbers, and
results are gpuflow Tensors on the inputs' device. Dtypes follow Keras 3 on the TensorFlow backend: mixed operands
are promoted with :func:`gpuflow.keras.ops.core.result_type` (``int32 + float32 -> float32``, a Python float with
an int tensor gives float32), floating functions of integer inputs (``sqrt``, ``exp``, ``mean``, ``divide``...)
give ``floatx()``, ``sum``/``prod`` of bool/int8/int16 give int32, indices (``argmax``, ``argsort``, ``nonzero``)
are int32.

Every floating result is differentiable through ``GradientTape`` (the ops are gpuflow's own) except where a
docstring says otherwise: comparisons, bit operations, counts, indices and ``unique``/``histogram``/``searchsorted``
have no gradient, as in Keras. Shapes must be concrete: gpuflow runs eagerly.
"""
from __future__ import annotations

import functools
import math as _math
import re

import numpy as np

from ... import dtypes as _dtypes
from ...device import current_device
from ...ops import array_ops as A
from ...ops import keras_numpy_ops as K
from ...ops import linalg_ops as L
from ...ops import math_ops as M
from ...ops import sort_ops as S
from ...ops.core import convert_to_tensor
from ...tensor import Tensor
from ..layers.base import KerasTensor
from ..config import floatx
from ..._unsupported import module_getattr
from . import _names
from ._symbolic import wrap_module
from ._common import axis_tuple, float_tensor, promote, result_type, tensor

_range, _abs, _max, _min = range, abs, max, min  # the builtins: this module defines keras.ops.max, abs...


# -- helpers ---------------------------------------------------------------------------------------------------
def _unary_float(fn, name, doc):
    def op(x):
        return fn(float_tensor(x))
    op.__name__ = name
    op.__doc__ = doc + "\n\n    Integer and bool inputs give ``floatx()``; floating inputs keep their dtype."
    return op


def _binary(fn, name, doc):
    def op(x1, x2):
        return fn(*promote(x1, x2))
    op.__name__ = name
    op.__doc__ = doc + "\n\n    The operands broadcast and are promoted to their Keras result type."
    return op


def _no_grad(name, fn, *xs):
    return K.nondifferentiable(name, fn, *xs)


def _bool(x):
    """``x`` as a bool tensor: non-zero is True."""
    t = tensor(x)
    return t if t.dtype.name == "bool" else M.not_equal(t, _zero(t))


def _zero(t):
    return convert_to_tensor(0, dtype=t.dtype, device=t.device)


def _const(value, like):
    """A Python number as a tensor of ``like``'s dtype and device."""
    return convert_to_tensor(np.asarray(value, dtype=like.dtype.as_numpy_dtype), device=like.device)


def _int_axis(axis, ndim):
    if not -_max(ndim, 1) <= axis < _max(ndim, 1):
        raise ValueError(f"Axis {axis} is out of bounds for a tensor of rank {ndim}. Expected an axis in "
                         f"[{-ndim}, {ndim}). Received: axis={axis}")
    return int(axis) % _max(ndim, 1)


def _flat_or(x, axis):
    """(x, axis) with ``axis=None`` meaning the flattened tensor along axis 0."""
    return (A.reshape(x, (-1,)), 0) if axis is None else (x, _int_axis(axis, x.ndim))


def _take_index(x, index, axis):
    """``x`` gathered along ``axis`` at a NumPy int array of in-range indices (differentiable)."""
    return A.getitem(x, (slice(None),) * axis + (x._backend.asarray(np.asarray(index, dtype=np.int64)),))


# -- elementwise: unary ----------------------------------------------------------------------------------------
exp = _unary_float(M.exp, "exp", "Elementwise ``e**x``.")
exp2 = _unary_float(lambda x: M.exp(x * _const(_math.log(2.0), x)), "exp2", "Elementwise ``2**x``.")
expm1 = _unary_float(M.expm1, "expm1", "Elementwise ``exp(x) - 1``, accurate near 0.")
log = _unary_float(M.log, "log", "Elementwise natural logarithm.")
log1p = _unary_float(M.log1p, "log1p", "Elementwise ``log(1 + x)``, accurate near 0.")
log2 = _unary_float(lambda x: M.log(x) / _const(_math.log(2.0), x), "log2", "Elementwise base-2 logarithm.")
log10 = _unary_float(lambda x: M.log(x) / _const(_math.log(10.0), x), "log10", "Elementwise base-10 logarithm.")
sqrt = _unary_float(M.sqrt, "sqrt", "Elementwise square root.")
sin = _unary_float(M.sin, "sin", "Elementwise sine.")
cos = _unary_float(M.cos, "cos", "Elementwise cosine.")
tan = _unary_float(M.tan, "tan", "Elementwise tangent.")
sinh = _unary_float(M.sinh, "sinh", "Elementwise hyperbolic sine.")
cosh = _unary_float(M.cosh, "cosh", "Elementwise hyperbolic cosine.")
tanh = _unary_float(M.tanh, "tanh", "Elementwise hyperbolic tangent.")
arcsin = _unary_float(M.asin, "arcsin", "Elementwise inverse sine.")
arccos = _unary_float(M.acos, "arccos", "Elementwise inverse cosine.")
arctan = _unary_float(M.atan, "arctan", "Elementwise inverse tangent.")
arcsinh = _unary_float(K.arcsinh, "arcsinh", "Elementwise inverse hyperbolic sine.")
arccosh = _unary_float(K.arccosh, "arccosh", "Elementwise inverse hyperbolic cosine.")
arctanh = _unary_float(K.arctanh, "arctanh", "Elementwise inverse hyperbolic tangent.")
cbrt = _unary_float(K.cbrt, "cbrt", "Elementwise cube root.")
reciprocal = _unary_float(M.reciprocal, "reciprocal", "Elementwise ``1 / x``.")
deg2rad = _unary_float(lambda x: x * _const(np.pi / 180, x), "deg2rad", "Degrees to radians.")
rad2deg = _unary_float(lambda x: x * _const(180 / np.pi, x), "rad2deg", "Radians to degrees.")
fabs = _unary_float(M.abs, "fabs", "Elementwise absolute value, as a float.")


def sinc(x):
    """Elementwise normalised sinc ``sin(pi x) / (pi x)`` (1 at 0); floating result."""
    x = float_tensor(x)
    zero = M.equal(x, _zero(x))
    px = x * _const(np.pi, x)
    safe = M.where(zero, M.ones_like_(px), px)
    return M.where(zero, M.ones_like_(px), M.sin(safe) / safe)


def i0(x):
    """The modified Bessel function of the first kind, order 0, elementwise (NumPy's ``i0``); floating result, no
    gradient."""
    return _no_grad("I0", lambda xp, a: xp.i0(a).astype(a.dtype), float_tensor(x))


def abs(x):  # noqa: A001 - Keras's name
    """Elementwise absolute value; keeps the dtype (bool stays bool)."""
    x = tensor(x)
    return x if x.dtype.name == "bool" else M.abs(x)


absolute = abs


def negative(x):
    """Elementwise ``-x``; keeps the dtype."""
    return M.negative(tensor(x))


def square(x):
    """Elementwise ``x * x``; bool gives int32, other dtypes are kept."""
    x = tensor(x)
    return M.square(M.cast(x, "int32") if x.dtype.name == "bool" else x)


def sign(x):
    """Elementwise sign (-1, 0, 1); keeps the dtype; no gradient (zero)."""
    return M.sign(tensor(x))


def floor(x):
    """Elementwise floor; integer inputs give ``floatx()`` as Keras; no gradient."""
    return M.floor(float_tensor(x))


def ceil(x):
    """Elementwise ceiling; integer inputs give ``floatx()`` as Keras; no gradient."""
    return M.ceil(float_tensor(x))


def trunc(x):
    """Elementwise rounding toward zero; integer inputs are returned as they are; no gradient."""
    x = tensor(x)
    if not x.dtype.is_floating:
        return x
    return _no_grad("Trunc", lambda xp, a: xp.trunc(a), x)


def round(x, decimals=0):  # noqa: A001
    """Elementwise rounding half to even at ``decimals`` digits (NumPy's ``round``); keeps the dtype; no gradient.
    Integer inputs with negative ``decimals`` round to tens, hundreds..."""
    x = tensor(x)
    if decimals == 0:
        return M.round(x)
    if not x.dtype.is_floating:
        if decimals > 0:
            return x
        f = 10 ** (-decimals)
        return _no_grad("Round", lambda xp, a: (xp.round(a / f) * f).astype(a.dtype), x)
    f = _const(10.0 ** decimals, x)
    return M.round(x * f) / f


# -- elementwise: binary -------------------------------------------------------------------------------------------
add = _binary(M.add, "add", "Elementwise ``x1 + x2``.")
subtract = _binary(M.subtract, "subtract", "Elementwise ``x1 - x2``.")
multiply = _binary(M.multiply, "multiply", "Elementwise ``x1 * x2``.")
maximum = _binary(M.maximum, "maximum", "Elementwise maximum (NaN propagates).")
minimum = _binary(M.minimum, "minimum", "Elementwise minimum (NaN propagates).")


def divide(x1, x2):
    """Elementwise true division ``x1 / x2``; integers give ``floatx()`` (Keras's ``result_type(x1, x2, float)``)."""
    x1, x2 = promote(x1, x2, extra=(float,))
    return M.divide(x1, x2)


true_divide = divide


def divide_no_nan(x1, x2):
    """``x1 / x2``, with 0 where ``x2`` is 0; floating result as :func:`divide`."""
    x1, x2 = promote(x1, x2, extra=(float,))
    return M.divide_no_nan(x1, x2)


def floor_divide(x1, x2):
    """Elementwise floor division (no gradient); promoted dtype, bool gives int32."""
    x1, x2 = promote(x1, x2)
    if x1.dtype.name == "bool":
        x1, x2 = M.cast(x1, "int32"), M.cast(x2, "int32")
    return M.floordiv(x1, x2)


def mod(x1, x2):
    """Elementwise remainder with the sign of ``x2`` (NumPy's ``mod``); bool gives int32."""
    x1, x2 = promote(x1, x2)
    if x1.dtype.name == "bool":
        x1, x2 = M.cast(x1, "int32"), M.cast(x2, "int32")
    return M.mod(x1, x2)


def fmod(x1, x2):
    """Elementwise remainder with the sign of ``x1`` (C's ``fmod``); bool gives int32. Floating results are
    differentiable in ``x1`` and ``x2`` (``x1 - trunc(x1 / x2) * x2``)."""
    x1, x2 = promote(x1, x2)
    if x1.dtype.name == "bool":
        x1, x2 = M.cast(x1, "int32"), M.cast(x2, "int32")
    if not x1.dtype.is_floating:
        return _no_grad("Fmod", lambda xp, a, b: xp.fmod(a, b), x1, x2)
    return x1 - trunc(x1 / x2) * x2


def power(x1, x2):
    """Elementwise ``x1 ** x2``; promoted dtype."""
    return M.pow(*promote(x1, x2))


def arctan2(x1, x2):
    """Elementwise ``atan2(x1, x2)``; floating result (``result_type(x1, x2, float)``)."""
    return M.atan2(*promote(x1, x2, extra=(float,)))


def hypot(x1, x2):
    """Elementwise ``sqrt(x1**2 + x2**2)``; floating result."""
    x1, x2 = promote(x1, x2, extra=(float,))
    return M.sqrt(x1 * x1 + x2 * x2)


def logaddexp(x1, x2):
    """Elementwise ``log(exp(x1) + exp(x2))``, computed stably; floating result."""
    x1, x2 = promote(x1, x2, extra=(float,))
    big = M.maximum(x1, x2)
    return big + M.log1p(M.exp(-M.abs(x1 - x2)))


def logaddexp2(x1, x2):
    """Elementwise ``log2(2**x1 + 2**x2)``, computed stably; floating result."""
    x1, x2 = promote(x1, x2, extra=(float,))
    ln2 = _const(_math.log(2.0), x1)
    return M.maximum(x1, x2) + M.log1p(M.exp(-M.abs(x1 - x2) * ln2)) / ln2


def heaviside(x1, x2):
    """Elementwise step: 0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0``; int inputs give
    ``floatx()``."""
    x1, x2 = promote(x1, x2)
    if not x1.dtype.is_floating:
        x1, x2 = M.cast(x1, floatx()), M.cast(x2, floatx())
    one, zero = M.ones_like_(x1), M.zeros_like_(x1)
    x2 = A.broadcast_to(x2, np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    return M.where(M.less(x1, zero), zero, M.where(M.greater(x1, zero), one, x2))


def fmax(x1, x2):
    """Elementwise maximum ignoring NaN (the other value is taken)."""
    x1, x2 = promote(x1, x2)
    if not x1.dtype.is_floating:
        return M.maximum(x1, x2)
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    x1, x2 = A.broadcast_to(x1, shape), A.broadcast_to(x2, shape)
    return M.where(M.is_nan(x1), x2, M.where(M.is_nan(x2), x1, M.maximum(x1, x2)))


def fmin(x1, x2):
    """Elementwise minimum ignoring NaN (the other value is taken)."""
    x1, x2 = promote(x1, x2)
    if not x1.dtype.is_floating:
        return M.minimum(x1, x2)
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    x1, x2 = A.broadcast_to(x1, shape), A.broadcast_to(x2, shape)
    return M.where(M.is_nan(x1), x2, M.where(M.is_nan(x2), x1, M.minimum(x1, x2)))


def ldexp(x1, x2):
    """``x1 * 2**x2`` elementwise (``x2`` an integer tensor); floating result."""
    x2 = tensor(x2)
    if not (x2.dtype.is_integer or x2.dtype.name == "bool"):
        raise TypeError(f"ldexp exponent must be an integer tensor. Received: x2.dtype={x2.dtype.name}")
    x1 = float_tensor(x1)
    return x1 * M.pow(_const(2.0, x1), M.cast(x2, x1.dtype))


def nextafter(x1, x2):
    """The next representable float after ``x1`` toward ``x2``, elementwise; floating result, no gradient."""
    x1, x2 = promote(x1, x2, extra=(float,))
    return _no_grad("NextAfter", lambda xp, a, b: xp.nextafter(a, b), x1, x2)


def _int_binary(npname, name):
    def op(x1, x2):
        x1, x2 = promote(x1, x2)
        return _no_grad(name, lambda xp, a, b: getattr(xp, npname)(a, b), x1, x2)
    op.__name__ = name
    op.__doc__ = f"Elementwise NumPy ``{npname}`` of integer (or bool) tensors; promoted dtype, no gradient."
    return op


gcd = _int_binary("gcd", "gcd")
lcm = _int_binary("lcm", "lcm")
bitwise_and = _int_binary("bitwise_and", "bitwise_and")
bitwise_or = _int_binary("bitwise_or", "bitwise_or")
bitwise_xor = _int_binary("bitwise_xor", "bitwise_xor")
bitwise_left_shift = left_shift = _int_binary("left_shift", "bitwise_left_shift")
bitwise_right_shift = right_shift = _int_binary("right_shift", "bitwise_right_shift")


def bitwise_invert(x):
    """Elementwise bitwise NOT of an integer (or bool) tensor; no gradient."""
    return _no_grad("Invert", lambda xp, a: xp.invert(a), tensor(x))


bitwise_not = bitwise_invert


# -- comparisons and logic (no gradient) -------------------------------------------------------------------------------
def _compare(fn, name):
    def op(x1, x2):
        return fn(*promote(x1, x2))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` of the promoted operands, a bool tensor (no gradient)."
    return op


equal = _compare(M.equal, "equal")
not_equal = _compare(M.not_equal, "not_equal")
less = _compare(M.less, "less")
less_equal = _compare(M.less_equal, "less_equal")
greater = _compare(M.greater, "greater")
greater_equal = _compare(M.greater_equal, "greater_equal")


def logical_and(x1, x2):
    """Elementwise logical AND (non-zero is True), bool."""
    return M.logical_and(_bool(x1), _bool(x2))


def logical_or(x1, x2):
    """Elementwise logical OR (non-zero is True), bool."""
    return M.logical_or(_bool(x1), _bool(x2))


def logical_xor(x1, x2):
    """Elementwise logical XOR (non-zero is True), bool."""
    return M.logical_xor(_bool(x1), _bool(x2))


def logical_not(x):
    """Elementwise logical NOT (non-zero is True), bool."""
    return M.logical_not(_bool(x))


def _predicate(npname, name, doc, ints):
    def op(x):
        x = tensor(x)
        if not x.dtype.is_floating:
            return _no_grad(name, lambda xp, a: xp.full(a.shape, ints), x)
        return _no_grad(name, lambda xp, a: getattr(xp, npname)(a), x)
    op.__name__ = name
    op.__doc__ = doc + " A bool tensor (no gradient)."
    return op


isnan = _predicate("isnan", "isnan", "Whether each element is NaN.", False)
isinf = _predicate("isinf", "isinf", "Whether each element is +-inf.", False)
isfinite = _predicate("isfinite", "isfinite", "Whether each element is finite.", True)
isposinf = _predicate("isposinf", "isposinf", "Whether each element is +inf.", False)
isneginf = _predicate("isneginf", "isneginf", "Whether each element is -inf.", False)


def signbit(x):
    """Whether each element's sign bit is set (-0.0 and negative numbers), bool (no gradient)."""
    x = tensor(x)
    return _no_grad("SignBit", lambda xp, a: xp.signbit(a) if a.dtype != bool else xp.zeros(a.shape, bool), x)


def isreal(x):
    """Whether each element is real: all True (gpuflow has no complex dtypes)."""
    x = tensor(x)
    return _no_grad("IsReal", lambda xp, a: xp.ones(a.shape, bool), x)


def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|x1 - x2| <= atol + rtol * |x2|`` (NumPy's ``isclose``), bool."""
    x1, x2 = promote(x1, x2)
    return _no_grad("IsClose", lambda xp, a, b: xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan), x1, x2)


def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether :func:`isclose` holds everywhere, a scalar bool tensor."""
    return M.reduce_all(isclose(x1, x2, rtol, atol, equal_nan))


def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each element of ``x1`` is in ``x2``, bool of ``x1``'s shape (no gradient)."""
    x1, x2 = promote(x1, x2)
    return _no_grad("IsIn", lambda xp, a, b: xp.isin(a, b, assume_unique=assume_unique, invert=invert), x1, x2)


def where(condition, x1=None, x2=None):
    """Elementwise ``x1`` where ``condition`` else ``x2`` (broadcast, promoted dtypes); with ``x1`` and ``x2``
    both None, :func:`nonzero` of ``condition``.

    Raises:
        ValueError: only one of ``x1`` and ``x2`` given (Keras's message).
    """
    if (x1 is None) != (x2 is None):
        raise ValueError("`x1` and `x2` either both should be `None` or both should have non-None value.")
    if x1 is None:
        return nonzero(condition)
    c = _bool(condition)
    x1, x2 = promote(x1, x2)
    shape = np.broadcast_shapes(tuple(c.shape), tuple(x1.shape), tuple(x2.shape))
    return M.where(A.broadcast_to(c, shape), A.broadcast_to(x1, shape), A.broadcast_to(x2, shape))


def select(condlist, choicelist, default=0):
    """The first ``choicelist[i]`` whose ``condlist[i]`` holds, elementwise, else ``default`` (NumPy's
    ``select``)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist and choicelist must have the same length. Received: "
                         f"len(condlist)={len(condlist)}, len(choicelist)={len(choicelist)}")
    out = default
    for c, v in zip(reversed(condlist), reversed(choicelist)):
        out = where(c, v, out)
    return tensor(out)


def clip(x, x_min, x_max):
    """``x`` clipped to ``[x_min, x_max]``; keeps ``x``'s dtype (bool gives int32). The gradient is zero outside
    the range."""
    x = tensor(x)
    if x.dtype.name == "bool":
        x = M.cast(x, "int32")
    lo = tensor(x_min, x.dtype, "x_min")
    hi = tensor(x_max, x.dtype, "x_max")
    shape = np.broadcast_shapes(tuple(x.shape), tuple(lo.shape), tuple(hi.shape))
    return M.clip_by_value(A.broadcast_to(x, shape), lo, hi)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN replaced by ``nan``, +inf by ``posinf`` (default: the dtype's largest value) and -inf by
    ``neginf`` (default: its lowest); integer inputs are returned as they are."""
    x = tensor(x)
    if not x.dtype.is_floating:
        return x
    info = np.finfo(x.dtype.as_numpy_dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    fill = lambda v: A.broadcast_to(_const(v, x), tuple(x.shape))  # noqa: E731
    x = M.where(isnan(x), fill(nan), x)
    x = M.where(isposinf(x), fill(posinf), x)
    return M.where(isneginf(x), fill(neginf), x)


# -- reductions -------------------------------------------------------------------------------------------------------
def _sum_dtype(x):
    name = x.dtype.name
    return "int32" if name in ("bool", "int8", "int16", "uint8") else None


def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over ``axis`` (None: all); bool, int8, int16 and uint8 sum in int32 (Keras: uint8 in uint32, which
    gpuflow lacks)."""
    x = tensor(x)
    dt = _sum_dtype(x)
    return M.reduce_sum(M.cast(x, dt) if dt else x, axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over ``axis``; bool/int8/int16/uint8 multiply in int32, or in ``dtype`` when given. The gradient
    assumes no zero in the reduced slices."""
    x = tensor(x)
    dt = dtype or _sum_dtype(x)
    return M.reduce_prod(M.cast(x, dt) if dt else x, axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``; integer and bool inputs give ``floatx()``."""
    x = float_tensor(x)
    return M.reduce_mean(x, axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    """Variance (mean of squared deviations, ddof 0) over ``axis``; floating result."""
    x = float_tensor(x)
    axes = axis_tuple(axis, x.ndim)
    m = A.stop_gradient(M.reduce_mean(x, axis=axes, keepdims=True))  # same gradient: d var / d mean is 0
    return M.reduce_mean(M.square(x - m), axis=axes, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """Standard deviation (ddof 0) over ``axis``; floating result."""
    return M.sqrt(var(x, axis, keepdims))


def _extreme(red, npinit):
    def op(x, axis=None, keepdims=False, initial=None):
        x = tensor(x)
        axes = axis_tuple(axis, x.ndim)
        if x.shape.num_elements() == 0 and initial is None:
            raise ValueError(f"Cannot compute the {op.__name__} of an empty tensor without `initial`. "
                             f"Received: x.shape={tuple(x.shape)}")
        if x.dtype.name == "bool":
            out = (M.reduce_all if npinit == "min" else M.reduce_any)(x, axis=axes, keepdims=keepdims)
        else:
            out = red(x, axis=axes, keepdims=keepdims) if x.shape.num_elements() else None
        if initial is not None:
            init = tensor(initial, x.dtype)
            out = A.broadcast_to(init, ()) if out is None else (M.maximum if npinit == "max" else M.minimum)(
                out, init)
        return out
    return op


max = _extreme(M.reduce_max, "max")  # noqa: A001
max.__name__, max.__doc__ = "max", ("Maximum over ``axis``; keeps the dtype; ``initial`` (a scalar) takes part in "
                                    "the maximum. The gradient is split evenly among tied maxima.")
min = _extreme(M.reduce_min, "min")  # noqa: A001
min.__name__, min.__doc__ = "min", ("Minimum over ``axis``; keeps the dtype; ``initial`` (a scalar) takes part in "
                                    "the minimum. The gradient is split evenly among tied minima.")


def amax(x, axis=None, keepdims=False):
    """Maximum over ``axis`` (as :func:`max`)."""
    return max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    """Minimum over ``axis`` (as :func:`min`)."""
    return min(x, axis=axis, keepdims=keepdims)


def ptp(x, axis=None, keepdims=False):
    """``max - min`` over ``axis``."""
    return subtract(max(x, axis, keepdims), min(x, axis, keepdims))


def all(x, axis=None, keepdims=False):  # noqa: A001
    """Whether every element over ``axis`` is non-zero, bool."""
    x = _bool(x)
    return M.reduce_all(x, axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    """Whether some element over ``axis`` is non-zero, bool."""
    x = _bool(x)
    return M.reduce_any(x, axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def count_nonzero(x, axis=None):
    """How many elements over ``axis`` are non-zero, int32."""
    x = _bool(x)
    return M.reduce_sum(M.cast(x, "int32"), axis=axis_tuple(axis, x.ndim))


def average(x, axis=None, weights=None):
    """The (weighted) mean over ``axis``: ``sum(x * w) / sum(w)``; 1-D ``weights`` run along ``axis``; floating
    result.

    Raises:
        ValueError: 1-D weights whose length differs from ``x.shape[axis]``, or weights of another shape than ``x``.
    """
    if weights is None:
        return mean(x, axis=axis)
    x, w = promote(x, weights, extra=(float,))
    if w.ndim == 1 and x.ndim > 1 and axis is not None:
        ax = _int_axis(axis, x.ndim)
        if w.shape[0] != x.shape[ax]:
            raise ValueError(f"Length of weights not compatible with specified axis. Received: "
                             f"weights.shape={tuple(w.shape)}, x.shape={tuple(x.shape)}, axis={axis}")
        w = A.reshape(w, [-1 if i == ax else 1 for i in _range(x.ndim)])
    axes = axis_tuple(axis, x.ndim)
    return M.reduce_sum(x * w, axis=axes) / M.reduce_sum(A.broadcast_to(w, tuple(x.shape)), axis=axes)


def _arg_extreme(npname):
    def op(x, axis=None, keepdims=False):
        x = tensor(x)
        if axis is None:
            out = M.cast(getattr(M, npname)(A.reshape(x, (-1,)), axis=0, output_type="int32"), "int32")
            return A.reshape(out, (1,) * x.ndim) if keepdims else out
        ax = _int_axis(axis, x.ndim)
        out = getattr(M, npname)(x, axis=ax, output_type="int32")
        return A.expand_dims(out, ax) if keepdims else out
    op.__name__ = npname
    op.__doc__ = (f"Index of the {'largest' if npname == 'argmax' else 'smallest'} element along ``axis`` (None: "
                  f"of the flattened tensor), int32; the first one on ties.")
    return op


argmax = _arg_extreme("argmax")
argmin = _arg_extreme("argmin")


# -- NaN-ignoring reductions -------------------------------------------------------------------------------------------
def _without_nan(x, fill):
    x = tensor(x)
    if not x.dtype.is_floating:
        return x
    return M.where(isnan(x), A.broadcast_to(_const(fill, x), tuple(x.shape)), x)


def nansum(x, axis=None, keepdims=False):
    """:func:`sum` with NaN counted as 0."""
    return sum(_without_nan(x, 0), axis, keepdims)


def nanprod(x, axis=None, keepdims=False):
    """:func:`prod` with NaN counted as 1."""
    return prod(_without_nan(x, 1), axis, keepdims)


def nanmean(x, axis=None, keepdims=False):
    """:func:`mean` of the non-NaN elements (NaN where there are none)."""
    x = float_tensor(x)
    count = sum(logical_not(isnan(x)), axis, keepdims)
    return nansum(x, axis, keepdims) / M.cast(count, x.dtype)


def nanvar(x, axis=None, keepdims=False):
    """:func:`var` of the non-NaN elements."""
    x = float_tensor(x)
    m = A.stop_gradient(nanmean(x, axis, keepdims=True))
    return nanmean(M.square(x - m), axis, keepdims)


def nanstd(x, axis=None, keepdims=False):
    """:func:`std` of the non-NaN elements."""
    return M.sqrt(nanvar(x, axis, keepdims))


def nanmax(x, axis=None, keepdims=False):
    """:func:`max` ignoring NaN (NaN where a slice holds only NaN)."""
    x = tensor(x)
    out = max(_without_nan(x, -np.inf), axis, keepdims)
    return M.where(all(isnan(x), axis, keepdims), A.broadcast_to(_const(np.nan, out), tuple(out.shape)), out) \
        if x.dtype.is_floating else out


def nanmin(x, axis=None, keepdims=False):
    """:func:`min` ignoring NaN (NaN where a slice holds only NaN)."""
    x = tensor(x)
    out = min(_without_nan(x, np.inf), axis, keepdims)
    return M.where(all(isnan(x), axis, keepdims), A.broadcast_to(_const(np.nan, out), tuple(out.shape)), out) \
        if x.dtype.is_floating else out


def nanargmax(x, axis=None, keepdims=False):
    """:func:`argmax` ignoring NaN."""
    return argmax(_without_nan(x, -np.inf), axis, keepdims)


def nanargmin(x, axis=None, keepdims=False):
    """:func:`argmin` ignoring NaN."""
    return argmin(_without_nan(x, np.inf), axis, keepdims)


def nancumsum(x, axis=None, dtype=None):
    """:func:`cumsum` of :func:`nan_to_num` of ``x`` (NaN counted as 0, +-inf as the dtype's extremes, as Keras on
    TensorFlow)."""
    return cumsum(nan_to_num(x), axis, dtype)


def nancumprod(x, axis=None, dtype=None):
    """:func:`cumprod` with NaN counted as 1."""
    return cumprod(_without_nan(x, 1), axis, dtype)


# -- quantiles -------------------------------------------------------------------------------------------------------
_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(x, q, axis, method, keepdims, skip_nan):
    """NumPy's ``quantile``/``nanquantile``: the ``q`` quantiles of the (non-NaN) values over ``axis``, a gather of
    the sorted values at each slice's positions, so differentiable in ``x``."""
    if method not in _METHODS:
        raise ValueError(f"Invalid value for argument `method`. Expected one of {_METHODS}. Received: "
                         f"method={method!r}")
    x = float_tensor(x)
    qs = np.asarray(q.numpy() if isinstance(q, Tensor) else q, dtype=np.float64)
    if np.any((qs < 0) | (qs > 1)):
        raise ValueError(f"Quantiles must be in the range [0, 1]. Received: q={q}")
    axes = axis_tuple(axis, x.ndim)
    rest = [i for i in _range(x.ndim) if i not in axes]
    flat = A.reshape(A.transpose(x, rest + list(axes)) if x.ndim else x, [x.shape[i] for i in rest] + [-1])
    nan = isnan(flat) if skip_nan else None
    ordered = S.sort(M.where(nan, A.broadcast_to(_const(np.inf, flat), tuple(flat.shape)), flat) if skip_nan
                     else flat, axis=-1)  # NaN last
    counts = (flat.shape[-1] - np.sum(nan.numpy(), axis=-1)) if skip_nan else np.full(flat.shape[:-1], flat.shape[-1])
    if skip_nan:  # the NaN places (sorted last) hold 0, not inf, so that an all-NaN slice computes no inf - inf
        tail = convert_to_tensor(np.arange(flat.shape[-1]) >= counts[..., None], device=flat.device)
        ordered = M.where(tail, M.zeros_like_(ordered), ordered)
    pos = np.multiply.outer(np.maximum(counts - 1, 0), qs.reshape(-1))  # (*rest, Q)
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    pick = lambda i: take_along_axis(ordered, i, axis=-1)  # noqa: E731
    if method in ("lower", "higher", "nearest"):
        out = pick({"lower": lo, "higher": hi, "nearest": np.round(pos).astype(np.int64)}[method])
    else:
        frac = np.where(lo == hi, 0.0, 0.5) if method == "midpoint" else pos - lo
        low = pick(lo)
        out = low + (pick(hi) - low) * _const(frac, low)
    if skip_nan and np.any(counts == 0):  # all-NaN slices give NaN, as NumPy
        empty = np.broadcast_to((counts == 0)[..., None], out.shape)
        out = M.where(convert_to_tensor(empty, device=out.device), A.broadcast_to(_const(np.nan, out), out.shape), out)
    out = A.transpose(out, [out.ndim - 1] + list(_range(out.ndim - 1)))  # the quantiles first
    if keepdims:
        out = A.reshape(out, [-1] + [1 if i in axes else d for i, d in enumerate(x.shape)])
    return A.reshape(out, tuple(out.shape[1:])) if qs.ndim == 0 else out


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles (``q`` in [0, 1], a scalar or 1-D) over ``axis`` (NumPy's ``quantile``; ``method``
    "linear", "lower", "higher", "midpoint" or "nearest"); a 1-D ``q`` adds a leading axis. Floating result,
    differentiable in ``x`` (a gather of the sorted values).

    Raises:
        ValueError: an unknown ``method`` or ``q`` outside [0, 1].
    """
    return _quantile(x, q, axis, method, keepdims, skip_nan=False)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """:func:`quantile` of the non-NaN values (NaN for a slice with none), NumPy's ``nanquantile``."""
    return _quantile(x, q, axis, method, keepdims, skip_nan=True)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """:func:`quantile` of ``q / 100``."""
    qs = np.asarray(q.numpy() if isinstance(q, Tensor) else q, dtype=np.float64)
    return quantile(x, qs / 100.0, axis, method, keepdims)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """:func:`nanquantile` of ``q / 100``."""
    qs = np.asarray(q.numpy() if isinstance(q, Tensor) else q, dtype=np.float64)
    return nanquantile(x, qs / 100.0, axis, method, keepdims)


def median(x, axis=None, keepdims=False):
    """The median over ``axis`` (the 0.5 :func:`quantile`)."""
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def nanmedian(x, axis=None, keepdims=False):
    """The median of the non-NaN values over ``axis`` (the 0.5 :func:`nanquantile`)."""
    return nanquantile(x, 0.5, axis=axis, keepdims=keepdims)


# -- cumulative -------------------------------------------------------------------------------------------------------
def _cum(fn, name):
    def op(x, axis=None, dtype=None):
        x = tensor(x)
        dt = dtype or ("int32" if x.dtype.name == "bool" else None)
        if dt:
            x = M.cast(x, dt)
        x, ax = _flat_or(x, axis)
        return fn(x, axis=ax)
    op.__name__ = name
    op.__doc__ = (f"Cumulative {name[3:]} along ``axis`` (None: of the flattened tensor), in ``dtype`` (default "
                  f"the input's; bool gives int32).")
    return op


cumsum = _cum(M.cumsum, "cumsum")
cumprod = _cum(M.cumprod, "cumprod")


def correlate(x1, x2, mode="valid"):
    """The cross-correlation ``c[k] = sum_n x1[n + k] * x2[n]`` of two 1-D tensors (NumPy's ``correlate``;
    ``mode`` "valid", "same" or "full"); floating result (float32 unless an operand is 16-bit or float64, int64 gives
    float64, as Keras on TensorFlow); differentiable.

    Raises:
        ValueError: an unknown mode, or operands that are not 1-D.
    """
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"Invalid mode: '{mode}'. Mode must be one of: 'full', 'same', 'valid'.")
    dt = result_type(x1, x2)
    dt = "float64" if dt == "int64" else dt if dt in ("bfloat16", "float16", "float64") else "float32"
    a, b = tensor(x1, dt), tensor(x2, dt)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"correlate takes 1-D tensors. Received: x1.shape={tuple(a.shape)}, "
                         f"x2.shape={tuple(b.shape)}")
    n, m = a.shape[0], b.shape[0]
    full = A.pad(a, [[m - 1, m - 1]])
    count = n + m - 1
    windows = A.getitem(full, (a._backend.asarray(np.arange(count)[:, None] + np.arange(m)[None, :]),))
    out = M.reduce_sum(windows * b, axis=1)  # full correlation, length n + m - 1
    if mode == "full":
        return out
    if mode == "same":
        size = _max(n, m)
        start = (count - size) // 2
        return A.getitem(out, (slice(start, start + size),))
    size = _max(n, m) - _min(n, m) + 1
    return A.getitem(out, (slice(m - 1, m - 1 + size),)) if n >= m else A.getitem(out, (slice(n - 1, n - 1 + size),))


def diff(a, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis`` (NumPy's ``diff``)."""
    x = tensor(a)
    ax = _int_axis(axis, x.ndim)
    pre = (slice(None),) * ax
    for _ in _range(n):
        x = A.getitem(x, pre + (slice(1, None),)) - A.getitem(x, pre + (slice(None, -1),))
    return x


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, with sample points ``x`` or spacing ``dx``;
    floating result."""
    y = float_tensor(y)
    ax = _int_axis(axis, y.ndim)
    pre = (slice(None),) * ax
    if x is None:
        d = _const(dx, y)
    else:
        d = diff(tensor(x, y.dtype), axis=axis if tensor(x).ndim > 1 else -1)
        if d.ndim == 1 and y.ndim > 1:
            d = A.reshape(d, [-1 if i == ax else 1 for i in _range(y.ndim)])
    mid = (A.getitem(y, pre + (slice(1, None),)) + A.getitem(y, pre + (slice(None, -1),))) * _const(0.5, y)
    return M.reduce_sum(mid * d, axis=ax)


# -- creation --------------------------------------------------------------------------------------------------------
def _on_device(array, dtype):
    return convert_to_tensor(np.asarray(array).astype(_dtypes.as_dtype(dtype).as_numpy_dtype, copy=False),
                             device=current_device())


def _shape(shape):
    if isinstance(shape, Tensor):
        shape = shape.numpy().tolist()
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def zeros(shape, dtype=None):
    """A tensor of zeros; ``dtype`` defaults to ``floatx()``."""
    return A.zeros(_shape(shape), dtype or floatx())


def ones(shape, dtype=None):
    """A tensor of ones; ``dtype`` defaults to ``floatx()``."""
    return A.ones(_shape(shape), dtype or floatx())


empty = zeros


def full(shape, fill_value, dtype=None):
    """A tensor of ``shape`` filled with ``fill_value`` (a scalar or broadcastable tensor); ``dtype`` defaults to
    ``floatx()`` (Keras on TensorFlow)."""
    v = tensor(fill_value, dtype or floatx())
    return A.broadcast_to(v, _shape(shape))


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape, in ``dtype`` (default ``x``'s)."""
    x = tensor(x)
    return A.zeros_like(x, dtype=dtype)


def ones_like(x, dtype=None):
    """Ones of ``x``'s shape, in ``dtype`` (default ``x``'s)."""
    x = tensor(x)
    return A.ones_like(x, dtype=dtype)


empty_like = zeros_like


def full_like(x, fill_value, dtype=None):
    """``fill_value`` broadcast to ``x``'s shape, in ``dtype`` (default ``x``'s)."""
    x = tensor(x)
    return A.broadcast_to(tensor(fill_value, dtype or x.dtype), tuple(x.shape))


def array(x, dtype=None):
    """``x`` as a tensor (of ``dtype`` when given)."""
    return tensor(x, dtype)


def copy(x):
    """A copy of ``x`` (differentiable)."""
    return A.identity(tensor(x))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 - Keras's names
    """An ``N x M`` matrix with ones on the ``k``-th diagonal; ``dtype`` defaults to ``floatx()``."""
    return _on_device(np.eye(int(N), None if M is None else int(M), int(k)), dtype or floatx())


def identity(n, dtype=None):
    """The ``n x n`` identity matrix; ``dtype`` defaults to ``floatx()``."""
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):  # noqa: N803
    """An ``N x M`` matrix with ones at and below the ``k``-th diagonal; ``dtype`` defaults to ``floatx()``."""
    return _on_device(np.tri(int(N), None if M is None else int(M), int(k)), dtype or floatx())


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in ``[start, stop)`` by ``step`` (default 1); ``dtype`` defaults to the arguments'
    Keras result type (Python ints: int32, a float among them: float32)."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    dtype = dtype or result_type(*(v.item() if isinstance(v, np.generic) else v for v in (start, stop, step)
                                   if not isinstance(v, Tensor)), *[v for v in (start, stop, step)
                                                                    if isinstance(v, Tensor)])
    values = [v.numpy().item() if isinstance(v, Tensor) else v for v in (start, stop, step)]
    return _on_device(np.arange(*values, dtype=np.float64 if "float" in str(dtype) else None), dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (``stop`` left out when not ``endpoint``); ``dtype``
    defaults to ``floatx()`` (or the floating type of the tensors given); ``retstep`` also returns the spacing.
    Not differentiable."""
    dtype = dtype or result_type(*[v for v in (start, stop) if isinstance(v, (Tensor, np.ndarray))], float)
    a = start.numpy() if isinstance(start, Tensor) else np.asarray(start)
    b = stop.numpy() if isinstance(stop, Tensor) else np.asarray(stop)
    values, step = np.linspace(a, b, int(num), endpoint=endpoint, retstep=True, axis=axis)
    out = _on_device(values, dtype)
    return (out, _on_device(step, dtype)) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``; ``dtype`` defaults to ``floatx()``."""
    dtype = dtype or result_type(*[v for v in (start, stop) if isinstance(v, (Tensor, np.ndarray))], float)
    a = start.numpy() if isinstance(start, Tensor) else np.asarray(start)
    b = stop.numpy() if isinstance(stop, Tensor) else np.asarray(stop)
    return _on_device(np.logspace(a, b, int(num), endpoint=endpoint, base=base, axis=axis), dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``num`` values from ``start`` to ``stop`` spaced evenly on a log scale; ``dtype`` defaults to ``floatx()``."""
    dtype = dtype or result_type(*[v for v in (start, stop) if isinstance(v, (Tensor, np.ndarray))], float)
    a = start.numpy() if isinstance(start, Tensor) else np.asarray(start)
    b = stop.numpy() if isinstance(stop, Tensor) else np.asarray(stop)
    return _on_device(np.geomspace(a, b, int(num), endpoint=endpoint, axis=axis), dtype)


def _window(npfn, name):
    def op(x):
        return _on_device(npfn(int(x.numpy() if isinstance(x, Tensor) else x)), floatx())
    op.__name__ = name
    op.__doc__ = f"NumPy's ``{name}`` window of ``x`` points, ``floatx()``."
    return op


bartlett = _window(np.bartlett, "bartlett")
blackman = _window(np.blackman, "blackman")
hamming = _window(np.hamming, "hamming")
hanning = _window(np.hanning, "hanning")


def kaiser(x, beta):
    """NumPy's Kaiser window of ``x`` points with shape ``beta``, ``floatx()``."""
    return _on_device(np.kaiser(int(x), float(beta)), floatx())


def vander(x, N=None, increasing=False):  # noqa: N803
    """The Vandermonde matrix of the 1-D ``x``: columns ``x**(N-1) ... x**0`` (or increasing powers)."""
    x = tensor(x)
    if x.ndim != 1:
        raise ValueError(f"`x` must be a 1-D tensor. Received: x.shape={tuple(x.shape)}")
    n = x.shape[0] if N is None else int(N)
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    return M.pow(A.expand_dims(x, 1), _const(powers.astype(x.dtype.as_numpy_dtype), x))


# -- shape manipulation ----------------------------------------------------------------------------------------------
def reshape(x, newshape):
    """``x`` in ``newshape`` (one dimension may be -1)."""
    return A.reshape(tensor(x), _shape(newshape))


def ravel(x):
    """``x`` flattened to 1-D."""
    return A.reshape(tensor(x), (-1,))


def transpose(x, axes=None):
    """``x`` with its axes permuted by ``axes`` (default: reversed)."""
    return A.transpose(tensor(x), None if axes is None else list(axes))


def moveaxis(x, source, destination):
    """``x`` with the axes ``source`` moved to ``destination`` (ints or sequences), the others in order."""
    x = tensor(x)
    src = [_int_axis(a, x.ndim) for a in ((source,) if isinstance(source, int) else source)]
    dst = [_int_axis(a, x.ndim) for a in ((destination,) if isinstance(destination, int) else destination)]
    if len(src) != len(dst):
        raise ValueError(f"`source` and `destination` must have the same number of axes. Received: "
                         f"source={source}, destination={destination}")
    order = [a for a in _range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return A.transpose(x, order)


def swapaxes(x, axis1, axis2):
    """``x`` with ``axis1`` and ``axis2`` interchanged."""
    x = tensor(x)
    perm = list(_range(x.ndim))
    a, b = _int_axis(axis1, x.ndim), _int_axis(axis2, x.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return A.transpose(x, perm)


def expand_dims(x, axis):
    """``x`` with size-1 axes inserted at ``axis`` (an int or a sequence, positions in the result)."""
    x = tensor(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    ndim = x.ndim + len(axes)
    at = sorted(_int_axis(a, ndim) for a in axes)
    shape = list(x.shape)
    for a in at:
        shape.insert(a, 1)
    return A.reshape(x, shape)


def squeeze(x, axis=None):
    """``x`` without its size-1 axes (all, or those in ``axis``).

    Raises:
        ValueError: an axis in ``axis`` whose size is not 1.
    """
    x = tensor(x)
    if axis is None:
        return A.reshape(x, [d for d in x.shape if d != 1])
    axes = axis_tuple(axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"Cannot squeeze axis {a}, because the dimension is not 1. Received: "
                             f"x.shape={tuple(x.shape)}, axis={axis}")
    return A.reshape(x, [d for i, d in enumerate(x.shape) if i not in axes])


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape``; the gradient sums back."""
    return A.broadcast_to(tensor(x), _shape(shape))


def concatenate(xs, axis=0):
    """The tensors ``xs`` joined along ``axis`` (None: flattened first), promoted to one dtype."""
    ts = promote(*xs)
    if axis is None:
        ts, axis = [A.reshape(t, (-1,)) for t in ts], 0
    return A.concat(ts, axis=axis)


def append(x1, x2, axis=None):
    """``x2`` appended to ``x1`` along ``axis`` (None: both flattened)."""
    return concatenate([x1, x2], axis=axis)


def stack(x, axis=0):
    """The same-shape tensors ``x`` stacked along a new ``axis``, promoted to one dtype."""
    return A.stack(promote(*x), axis=axis)


def hstack(xs):
    """Tensors joined column-wise (along axis 1; axis 0 for 1-D tensors)."""
    ts = promote(*xs)
    return A.concat(ts, axis=0 if ts[0].ndim == 1 else 1)


def vstack(xs):
    """Tensors joined along axis 0 (Keras on TensorFlow concatenates 1-D tensors too, where NumPy would stack
    them as rows)."""
    return A.concat(promote(*xs), axis=0)


def dstack(xs):
    """Tensors joined along the third axis (1-D become (1, n, 1), 2-D (m, n, 1))."""
    ts = promote(*xs)
    ts = [A.reshape(t, (1, -1, 1)) if t.ndim == 1 else A.expand_dims(t, -1) if t.ndim == 2 else t for t in ts]
    return A.concat(ts, axis=2)


def _split_sizes(n, indices_or_sections, even):
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if even and n % k:
            raise ValueError(f"array split does not result in an equal division: {n} elements into {k} sections. "
                             f"Received: indices_or_sections={indices_or_sections}")
        q, r = divmod(n, k)
        return [q + 1] * r + [q] * (k - r)
    bounds = [0] + [_min(_max(int(i) if i >= 0 else n + int(i), 0), n) for i in indices_or_sections] + [n]
    return [_max(b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])]


def split(x, indices_or_sections, axis=0):
    """``x`` split along ``axis`` into ``indices_or_sections`` equal parts (an int) or at the given indices.

    Raises:
        ValueError: an int that does not divide the axis.
    """
    x = tensor(x)
    ax = _int_axis(axis, x.ndim)
    sizes = _split_sizes(x.shape[ax], indices_or_sections, even=True)
    starts = np.cumsum([0] + sizes)
    return [A.getitem(x, (slice(None),) * ax + (slice(int(s), int(s + n)),)) for s, n in zip(starts, sizes)]


def array_split(x, indices_or_sections, axis=0):
    """As :func:`split`, but an int need not divide the axis (the first parts get one more element)."""
    x = tensor(x)
    ax = _int_axis(axis, x.ndim)
    sizes = _split_sizes(x.shape[ax], indices_or_sections, even=False)
    starts = np.cumsum([0] + sizes)
    return [A.getitem(x, (slice(None),) * ax + (slice(int(s), int(s + n)),)) for s, n in zip(starts, sizes)]


def hsplit(x, indices_or_sections):
    """:func:`split` along axis 1 (axis 0 for 1-D)."""
    x = tensor(x)
    return split(x, indices_or_sections, axis=0 if x.ndim == 1 else 1)


def vsplit(x, indices_or_sections):
    """:func:`split` along axis 0."""
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    """:func:`split` along axis 2."""
    return split(x, indices_or_sections, axis=2)


def tile(x, repeats):
    """``x`` repeated ``repeats`` times along each axis (NumPy's ``tile``: shorter ``repeats`` apply to the last
    axes, longer ones add leading axes)."""
    x = tensor(x)
    reps = _shape(repeats)
    if len(reps) > x.ndim:
        x = A.reshape(x, (1,) * (len(reps) - x.ndim) + tuple(x.shape))
    reps = (1,) * (x.ndim - len(reps)) + reps
    return A.tile(x, reps)


def repeat(x, repeats, axis=None):
    """Each element repeated ``repeats`` times (an int or one count per element) along ``axis`` (None: of the
    flattened tensor)."""
    return A.repeat(tensor(x), repeats, axis=axis)


def flip(x, axis=None):
    """``x`` with the order of the elements along ``axis`` (None: all axes) reversed."""
    x = tensor(x)
    axes = axis_tuple(axis, x.ndim)
    return A.getitem(x, tuple(slice(None, None, -1) if i in axes else slice(None) for i in _range(x.ndim)))


def fliplr(x):
    """:func:`flip` along axis 1."""
    return flip(x, 1)


def flipud(x):
    """:func:`flip` along axis 0."""
    return flip(x, 0)


def roll(x, shift, axis=None):
    """Elements shifted by ``shift`` along ``axis`` with wrap-around (None: of the flattened tensor, reshaped
    back)."""
    x = tensor(x)
    if axis is None:
        return A.reshape(A.roll(A.reshape(x, (-1,)), shift, 0), tuple(x.shape))
    return A.roll(x, shift, axis)


def rot90(array, k=1, axes=(0, 1)):
    """``array`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (NumPy's ``rot90``).

    Raises:
        ValueError: ``axes`` not two different axes, or a rank below 2.
    """
    x = tensor(array)
    if x.ndim < 2 or len(axes) != 2 or _int_axis(axes[0], x.ndim) == _int_axis(axes[1], x.ndim):
        raise ValueError(f"rot90 needs a tensor of rank >= 2 and two different axes. Received: "
                         f"array.shape={tuple(x.shape)}, axes={axes}")
    a0, a1 = _int_axis(axes[0], x.ndim), _int_axis(axes[1], x.ndim)
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    perm = list(_range(x.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    return A.transpose(flip(x, a1), perm) if k == 1 else flip(A.transpose(x, perm), a1)


def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded by ``pad_width`` (an int, a pair, or one ``(before, after)`` per axis) in ``mode``:
    ``"constant"`` (``constant_values``, default 0), ``"reflect"``, ``"symmetric"``, ``"edge"`` or ``"wrap"``
    (NumPy's modes; differentiable, the non-constant ones are gathers of ``x``).

    Raises:
        ValueError: another mode, or ``constant_values`` with a mode other than "constant" (Keras's message).
    """
    x = tensor(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    if mode == "constant":
        return A.pad(x, widths.tolist(), constant_values=0 if constant_values is None else constant_values)
    if constant_values is not None:
        raise ValueError("Argument `constant_values` can only be provided when `mode == 'constant'`. "
                         f"Received: mode={mode}")
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(f"Invalid value for argument `mode`. Expected one of ('constant', 'reflect', 'symmetric', "
                         f"'edge', 'wrap'). Received: mode={mode!r}")
    for ax, (before, after) in enumerate(widths):
        if before or after:
            x = _take_index(x, np.pad(np.arange(x.shape[ax]), (int(before), int(after)), mode=mode), ax)
    return x


def meshgrid(*x, indexing="xy"):
    """Coordinate grids of the 1-D tensors ``x`` (``indexing`` "xy", Cartesian, or "ij", matrix)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for argument `indexing` are 'xy' and 'ij'. Received: indexing={indexing}")
    return list(A.meshgrid(*[tensor(v) for v in x], indexing=indexing))


def size(x):
    """The number of elements of ``x``, an int32 scalar tensor."""
    x = tensor(x)
    return A.size(x)


def ndim(x):
    """The rank of ``x``, a Python int (as Keras on TensorFlow); symbolic tensors too."""
    return len(x.shape) if isinstance(x, KerasTensor) else tensor(x).ndim


# -- indexing --------------------------------------------------------------------------------------------------------
def get_item(x, key):
    """``x[key]`` (NumPy indexing, differentiable)."""
    return A.getitem(tensor(x), key)


def _wrap_negative(indices, n):
    """Integer indices with the negative ones counted from the end (Keras's ``take`` on TensorFlow)."""
    idx = tensor(indices)
    if not (idx.dtype.is_integer):
        idx = M.cast(idx, "int32")
    return _no_grad("WrapIndex", lambda xp, a: xp.where(a < 0, a + n, a), idx)


def take(x, indices, axis=None):
    """The elements of ``x`` at ``indices`` along ``axis`` (None: of the flattened tensor); negative indices count
    from the end. Differentiable in ``x``.

    Raises:
        IndexError: an index outside ``[-n, n)``.
    """
    x = tensor(x)
    x, ax = _flat_or(x, axis)
    return A.gather(x, _wrap_negative(indices, x.shape[ax]), axis=ax)


def take_along_axis(x, indices, axis=None):
    """``x`` picked at ``indices`` along ``axis`` (NumPy's ``take_along_axis``; None: of the flattened tensor); the
    other axes of ``x`` and ``indices`` broadcast. Differentiable in ``x``."""
    x = tensor(x)
    if axis is None:
        x, ax = A.reshape(x, (-1,)), 0
    else:
        ax = _int_axis(axis, x.ndim)
    idx = _wrap_negative(indices, x.shape[ax])
    if idx.ndim != x.ndim:
        raise ValueError(f"`x` and `indices` must have the same number of dimensions. Received: "
                         f"x.shape={tuple(x.shape)}, indices.shape={tuple(idx.shape)}")
    xs, ids = list(x.shape), list(idx.shape)
    xs[ax] = ids[ax] = 1
    shape = np.broadcast_shapes(tuple(xs), tuple(ids))
    x = A.broadcast_to(x, tuple(d if i != ax else x.shape[ax] for i, d in enumerate(shape)))
    idx = A.broadcast_to(idx, tuple(d if i != ax else idx.shape[ax] for i, d in enumerate(shape)))
    n = x.shape[ax]
    A.checked_indices(idx, n, lambda bad, where: IndexError(
        f"take_along_axis: indices must be in [-{n}, {n}). Received: an index {bad}{where}"))
    xp = x._backend.xp
    key = tuple(idx._data if d == ax else xp.arange(s).reshape([-1 if k == d else 1 for k in _range(idx.ndim)])
                for d, s in enumerate(idx.shape))
    return A.getitem(x, key)


def nonzero(x):
    """The indices of the non-zero elements: a tuple of one int32 tensor per axis (no gradient)."""
    x = tensor(x)
    return tuple(_no_grad("NonZero", lambda xp, a, d=d: xp.nonzero(a)[d].astype(np.int32), x)
                 for d in _range(x.ndim))


def argsort(x, axis=-1):
    """Indices that sort ``x`` along ``axis`` (None: the flattened tensor), int32 (stable)."""
    x = tensor(x)
    if axis is None:
        x, axis = A.reshape(x, (-1,)), 0
    if x.ndim == 0:
        return convert_to_tensor(0, dtype="int32", device=x.device)
    return S.argsort(x, axis=axis)


def sort(x, axis=-1):
    """``x`` sorted along ``axis`` (None: the flattened tensor); the gradient goes back to each value's position."""
    x = tensor(x)
    if axis is None:
        x, axis = A.reshape(x, (-1,)), 0
    return x if x.ndim == 0 else S.sort(x, axis=axis)


def argpartition(x, kth, axis=-1):
    """Indices that partition ``x`` around its ``kth`` element along ``axis`` (NumPy's ``argpartition``), int32,
    no gradient."""
    x = tensor(x)
    return _no_grad("ArgPartition", lambda xp, a: xp.argpartition(a, kth, axis=axis).astype(np.int32), x)


def searchsorted(sorted_sequence, values, side="left"):
    """Where ``values`` would go into the 1-D ``sorted_sequence`` to keep it sorted, int32 (no gradient).

    Raises:
        ValueError: a ``sorted_sequence`` that is not 1-D, or ``side`` not "left"/"right".
    """
    seq, values = promote(sorted_sequence, values)
    if seq.ndim != 1:
        raise ValueError(f"`searchsorted` only supports 1-D sorted sequences. Received: "
                         f"sorted_sequence.shape={tuple(seq.shape)}")
    if side not in ("left", "right"):
        raise ValueError(f"`side` must be 'left' or 'right'. Received: side={side!r}")
    return _no_grad("SearchSorted", lambda xp, s, v: xp.searchsorted(s, v, side=side).astype(np.int32), seq, values)


def digitize(x, bins):
    """The index of the bin of each element of ``x`` (NumPy's ``digitize``, increasing ``bins``), int32."""
    x, bins = promote(x, bins)
    return _no_grad("Digitize", lambda xp, a, b: xp.digitize(a, b).astype(np.int32), x, bins)


def bincount(x, weights=None, minlength=0, sparse=False):
    """How often each value of the non-negative int ``x`` occurs (rank 1, or rank 2: per row), at least
    ``minlength`` bins; with ``weights``, their sums (differentiable in ``weights``); int32 without weights.

    Raises:
        ValueError: ``sparse=True`` (gpuflow has no sparse tensors).
    """
    if sparse:
        raise ValueError("bincount: sparse=True is not supported in gpuflow (no sparse tensors).")
    x = tensor(x)
    length = _max(int(x.numpy().max()) + 1 if x.shape.num_elements() else 0, int(minlength))
    w = M.cast(M.ones_like_(x), "int32") if weights is None else tensor(weights)
    if x.ndim == 1:
        return A.scatter_nd(A.expand_dims(x, -1), w, (length,))
    rows = A.broadcast_to(tensor(np.arange(x.shape[0])[:, None], x.dtype), tuple(x.shape))
    return A.scatter_nd(A.stack([rows, x], axis=-1), w, (x.shape[0], length))


def histogram(x, bins=10, range=None):  # noqa: A002 - Keras's name
    """Counts of the 1-D ``x`` in ``bins`` equal bins over ``range`` (default: min..max), and the bin edges
    (NumPy's ``histogram``); no gradient. Counts and edges in ``x``'s floating type (Keras on TensorFlow).

    Raises:
        ValueError: ``x`` not 1-D.
    """
    x = float_tensor(x)
    if x.ndim != 1:
        raise ValueError(f"Input tensor must be 1-dimensional. Received: input.shape={tuple(x.shape)}")
    counts, edges = np.histogram(x.numpy(), bins=bins, range=range)
    return (convert_to_tensor(counts.astype(x.dtype.as_numpy_dtype), device=x.device),
            convert_to_tensor(edges.astype(x.dtype.as_numpy_dtype), device=x.device))


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None,  # noqa: A002
           size=None, fill_value=None):
    """The sorted distinct values of ``x`` (flattened; or the distinct slices along ``axis``), and optionally the
    index of each one's first occurrence, the inverse indices and the counts (NumPy's ``unique``; int32 indices);
    ``size`` pads (with ``fill_value``, default the last value) or truncates the result. No gradient."""
    x = tensor(x)
    res = np.unique(x.numpy(), return_index=True, return_inverse=True, return_counts=True, axis=axis)
    vals, index, inverse, counts = res
    if size is not None:
        n = vals.shape[0 if axis is None else axis]
        if n < size:
            fill = vals.take([-1], axis=axis or 0) if fill_value is None else np.full_like(
                vals.take([0], axis=axis or 0), fill_value)
            vals = np.concatenate([vals] + [fill] * (size - n), axis=axis or 0)
            index, counts = np.pad(index, (0, size - n)), np.pad(counts, (0, size - n))
        else:
            vals, index, counts = vals.take(np.arange(size), axis=axis or 0), index[:size], counts[:size]
    out = [convert_to_tensor(vals, device=x.device)]
    for flag, arr in ((return_index, index), (return_inverse, inverse.reshape(-1) if axis is not None else
                                                inverse.reshape(x.shape)), (return_counts, counts)):
        if flag:
            out.append(convert_to_tensor(np.asarray(arr).astype(np.int32), device=x.device))
    return out[0] if len(out) == 1 else tuple(out)


def unravel_index(indices, shape):
    """The coordinates of the flat ``indices`` in an array of ``shape``: a tuple of int tensors (no gradient)."""
    idx = tensor(indices)
    shp = _shape(shape)
    return tuple(_no_grad("UnravelIndex", lambda xp, a, d=d: xp.unravel_index(a, shp)[d].astype(a.dtype), idx)
                 for d in _range(len(shp)))


# -- matrices ---------------------------------------------------------------------------------------------------------
def _matmul_dtype(x1, x2):
    x1, x2 = promote(x1, x2)
    if x1.dtype.name in ("bool", "int8", "int16", "uint8"):
        x1, x2 = M.cast(x1, "int32"), M.cast(x2, "int32")
    return x1, x2


def matmul(x1, x2):
    """Matrix product with NumPy's rules: batch axes broadcast, a 1-D operand is a vector (its axis removed from
    the result); promoted dtype (bool, int8, int16 and uint8 give int32)."""
    x1, x2 = _matmul_dtype(x1, x2)
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError(f"matmul does not take scalars; use multiply. Received: x1.shape={tuple(x1.shape)}, "
                         f"x2.shape={tuple(x2.shape)}")
    a = A.reshape(x1, (1,) + tuple(x1.shape)) if x1.ndim == 1 else x1
    b = A.reshape(x2, tuple(x2.shape) + (1,)) if x2.ndim == 1 else x2
    out = M.matmul(a, b)
    if x2.ndim == 1:
        out = A.reshape(out, tuple(out.shape[:-1]))
    if x1.ndim == 1:
        out = A.reshape(out, tuple(out.shape[:-2]) + tuple(out.shape[-1:]))
    return out


def tensordot(x1, x2, axes=2):
    """The sum of products over ``axes`` (an int: the last ``axes`` of ``x1`` with the first of ``x2``; or two
    sequences of axes); promoted dtype."""
    x1, x2 = _matmul_dtype(x1, x2)
    return L.tensordot(x1, x2, axes)


def einsum(subscripts, *operands, **kwargs):
    """Tensor contraction in Einstein notation (``"ij,jk->ik"``); operands promoted to one dtype."""
    return L.einsum(subscripts, *_matmul_dtype(*operands) if len(operands) == 2 else promote(*operands), **kwargs)


def dot(x1, x2):
    """NumPy's ``dot``: scalars multiply; 1-D with 1-D is the inner product; otherwise the sum over the last axis
    of ``x1`` and the second-to-last of ``x2`` (the last, if 1-D)."""
    x1, x2 = _matmul_dtype(x1, x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return M.multiply(x1, x2)
    if x2.ndim == 1:
        return L.tensordot(x1, x2, [[x1.ndim - 1], [0]])
    return L.tensordot(x1, x2, [[x1.ndim - 1], [x2.ndim - 2]])


def inner(x1, x2):
    """The sum of products over the last axes of ``x1`` and ``x2`` (scalars multiply)."""
    x1, x2 = _matmul_dtype(x1, x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return M.multiply(x1, x2)
    return L.tensordot(x1, x2, [[x1.ndim - 1], [x2.ndim - 1]])


def outer(x1, x2):
    """``ravel(x1)[:, None] * ravel(x2)[None, :]``."""
    x1, x2 = promote(x1, x2)
    return A.reshape(x1, (-1, 1)) * A.reshape(x2, (1, -1))


def vdot(x1, x2):
    """The inner product of the flattened tensors."""
    x1, x2 = _matmul_dtype(x1, x2)
    return M.reduce_sum(A.reshape(x1, (-1,)) * A.reshape(x2, (-1,)))


def kron(x1, x2):
    """The Kronecker product: blocks ``x1[i, j] * x2`` (operands of equal rank after padding with leading 1s)."""
    x1, x2 = promote(x1, x2)
    nd = _max(x1.ndim, x2.ndim)
    a = A.reshape(x1, (1,) * (nd - x1.ndim) + tuple(x1.shape))
    b = A.reshape(x2, (1,) * (nd - x2.ndim) + tuple(x2.shape))
    prod_ = A.reshape(a, [d for s in a.shape for d in (s, 1)]) * A.reshape(b, [d for s in b.shape for d in (1, s)])
    return A.reshape(prod_, [p * q for p, q in zip(a.shape, b.shape)])


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors (or 2-vectors, as NumPy: z-component only) along ``axisa``/``axisb``, the
    result's vector axis at ``axisc`` (``axis`` overrides all three)."""
    x1, x2 = promote(x1, x2)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(x1, axisa, -1), moveaxis(x2, axisb, -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError(f"Incompatible dimensions for cross product (dimension must be 2 or 3). Received: "
                         f"x1.shape={tuple(x1.shape)}, x2.shape={tuple(x2.shape)}")
    comp = lambda t, i: A.getitem(t, (Ellipsis, i)) if i < t.shape[-1] else None  # noqa: E731
    a0, a1, a2 = comp(a, 0), comp(a, 1), comp(a, 2)
    b0, b1, b2 = comp(b, 0), comp(b, 1), comp(b, 2)
    z = a0 * b1 - a1 * b0
    if a2 is None and b2 is None:
        return z
    a2 = a2 if a2 is not None else M.zeros_like_(a0)
    b2 = b2 if b2 is not None else M.zeros_like_(b0)
    out = A.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, z], axis=-1)
    return moveaxis(out, -1, axisc)


def _tri_mask(x, k, lower):
    n, m = x.shape[-2], x.shape[-1]
    mask = np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)
    return convert_to_tensor(mask, device=x.device)


def tril(x, k=0):
    """``x`` (..., N, M) with the elements above the ``k``-th diagonal zeroed."""
    x = tensor(x)
    return M.where(A.broadcast_to(_tri_mask(x, k, True), tuple(x.shape)), x, M.zeros_like_(x))


def triu(x, k=0):
    """``x`` (..., N, M) with the elements below the ``k``-th diagonal zeroed."""
    x = tensor(x)
    return M.where(A.broadcast_to(_tri_mask(x, k, False), tuple(x.shape)), x, M.zeros_like_(x))


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal of the planes ``(axis1, axis2)`` of ``x``, as the last axis of the result."""
    x = tensor(x)
    x = moveaxis(x, [axis1, axis2], [-2, -1])
    n, m = x.shape[-2], x.shape[-1]
    rows = np.arange(_max(-offset, 0), _min(n, m - offset) if offset >= 0 else _min(n, m - offset))
    rows = rows[(rows + offset >= 0) & (rows + offset < m)]
    xp = x._backend.xp
    return A.getitem(x, (Ellipsis, xp.asarray(rows), xp.asarray(rows + offset)))


def diag(x, k=0):
    """For a 1-D ``x``: the square matrix with ``x`` on the ``k``-th diagonal; for a 2-D ``x``: its ``k``-th
    diagonal.

    Raises:
        ValueError: ``x`` of another rank.
    """
    x = tensor(x)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(f"`x` must be 1-D or 2-D. Received: x.shape={tuple(x.shape)}")
    n = x.shape[0] + _abs(k)
    rows = np.arange(x.shape[0]) + _max(-k, 0)
    return A.scatter_nd(np.stack([rows, rows + k], axis=-1), x, (n, n))


def diagflat(x, k=0):
    """:func:`diag` of the flattened ``x``."""
    return diag(ravel(x), k)


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the ``offset`` diagonal of the planes ``(axis1, axis2)``; bool/int8/int16 sum in int32."""
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def corrcoef(x):
    """Pearson correlation coefficients of the rows of ``x`` (variables in rows, observations in columns)."""
    x = float_tensor(x)
    x = A.reshape(x, (1, -1)) if x.ndim == 1 else x
    xm = x - M.reduce_mean(x, axis=1, keepdims=True)
    c = M.matmul(xm, xm, transpose_b=True)
    d = M.sqrt(diagonal(c))
    c = c / A.reshape(d, (-1, 1)) / A.reshape(d, (1, -1))
    return clip(c, -1.0, 1.0)


def slogdet(x):
    """The sign and the natural log of the absolute determinant of each square matrix (..., N, N)."""
    x = float_tensor(x)
    d = L.det(x)
    return M.sign(d), M.log(M.abs(d))


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` made to map over the leading (loop) axes of its tensor arguments, NumPy's ``vectorize``: the
    arguments broadcast over their loop axes; ``signature`` (``"(m,n),(n)->(m)"``) gives each argument's core axes
    (default: none, elementwise); positional indices or keyword names in ``excluded`` are passed through. gpuflow
    calls ``pyfunc`` once per loop position (eagerly) and stacks the results; differentiable through ``pyfunc``.

    Raises:
        ValueError: a malformed signature, or arguments whose loop axes do not broadcast.
    """
    excluded = set(excluded or ())

    def parse(side):
        return [tuple(d for d in g.replace(" ", "").split(",") if d) for g in re.findall(r"\((.*?)\)", side)]

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        mapped = [i for i, a in enumerate(args) if i not in excluded and a is not None]
        if signature is None:
            cores = {i: () for i in mapped}
        else:
            if "->" not in signature:
                raise ValueError(f"Invalid signature: expected '(...)->(...)'. Received: signature={signature!r}")
            ins = parse(signature.split("->")[0])
            if len(ins) != len(mapped):
                raise ValueError(f"The signature names {len(ins)} inputs, {len(mapped)} were given. Received: "
                                 f"signature={signature!r}")
            cores = dict(zip(mapped, ins))
        ts = {i: tensor(args[i]) for i in mapped}
        loop = {i: tuple(t.shape[:t.ndim - len(cores[i])]) for i, t in ts.items()}
        shape = np.broadcast_shapes(*loop.values()) if loop else ()
        flat = {i: A.reshape(A.broadcast_to(t, shape + tuple(t.shape[len(loop[i]):])),
                             (-1,) + tuple(t.shape[len(loop[i]):])) for i, t in ts.items()}
        results = []
        for k in _range(int(np.prod(shape, dtype=np.int64))):
            call = [A.getitem(flat[i], k) if i in flat else a for i, a in enumerate(args)]
            results.append(pyfunc(*call, **kwargs))
        if results and isinstance(results[0], (tuple, list)):
            return tuple(A.reshape(A.stack([tensor(r[j]) for r in results]), shape + tuple(tensor(results[0][j]).shape))
                         for j in _range(len(results[0])))
        out = A.stack([tensor(r) for r in results])
        return A.reshape(out, shape + tuple(out.shape[1:]))
    return wrapped


# -- complex numbers (gpuflow's tensors are real) --------------------------------------------------------------------
def real(x):
    """The real part: ``x`` itself (gpuflow has no complex dtypes)."""
    return tensor(x)


def imag(x):
    """The imaginary part: zeros of ``x``'s shape and dtype (gpuflow has no complex dtypes)."""
    return zeros_like(x)


def conjugate(x):
    """The complex conjugate: ``x`` itself (gpuflow has no complex dtypes)."""
    return tensor(x)


conj = conjugate


def angle(x):
    """The argument of each (real) element: pi where negative, 0 elsewhere; floating result."""
    x = float_tensor(x)
    return M.atan2(M.zeros_like_(x), x)


def view(x, dtype=None):
    """``x``'s bytes reinterpreted as ``dtype`` (the last axis scales with the item sizes); no gradient."""
    x = tensor(x)
    if dtype is None:
        return x
    target = _dtypes.as_dtype(dtype).as_numpy_dtype
    return _no_grad("Bitcast", lambda xp, a: a.view(target), x)


__all__ = [n for n in _names.NUMPY.split() if n in globals()]
# a call on symbolic tensors is a functional-model node
wrap_module(globals(), [n for n in __all__ if n not in ("ndim", "vectorize")])
__getattr__ = module_getattr(__name__, "tf.keras.ops.numpy", _names.NUMPY)  # a Keras op gpuflow lacks
