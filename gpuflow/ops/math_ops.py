"""Elementwise maths, reductions and matmul, each with its gradient beside it.

Names, arguments and dtype rules follow ``tf.math`` (e.g. ``reduce_sum(input_tensor,
axis=None, keepdims=False)``, ``argmax`` returning int64, ``/`` on integers
giving float64). Gradients are the textbook derivatives; reductions over ties
(``reduce_max``/``reduce_min``) split the gradient evenly among the tied
elements, as TensorFlow does.
"""
from __future__ import annotations

import builtins

import numpy as np

from .core import binary_args, convert_to_tensor, make_op, unbroadcast, wrap

__all__ = [
    "add", "subtract", "multiply", "divide", "truediv", "floordiv", "mod", "pow", "negative", "abs",
    "sign", "exp", "log", "log1p", "sqrt", "rsqrt", "square", "sin", "cos", "sigmoid", "tanh",
    "maximum", "minimum", "matmul", "reduce_sum", "reduce_mean", "reduce_max", "reduce_min",
    "reduce_prod", "reduce_any", "reduce_all", "argmax", "argmin", "equal", "not_equal", "less",
    "less_equal", "greater", "greater_equal", "logical_and", "logical_or", "logical_not", "where",
    "cast", "clip_by_value", "add_n", "reduce_logsumexp", "round", "floor", "ceil",
]


def _require_float(x, op):
    if not x.dtype.is_floating:
        raise TypeError(f"{op} expects a floating-point tensor. Received: dtype={x.dtype.name}. "
                        f"Use gpuflow.cast(x, 'float32') first.")


# -- binary arithmetic --------------------------------------------------------
def add(x, y, name=None):
    """Elementwise ``x + y`` with broadcasting (``tf.math.add``)."""
    x, y = binary_args(x, y, "add")
    return make_op("Add", (x, y), x._data + y._data,
                   lambda g, n: (unbroadcast(g, x.shape) if n[0] else None,
                                 unbroadcast(g, y.shape) if n[1] else None))


def subtract(x, y, name=None):
    """Elementwise ``x - y`` with broadcasting (``tf.math.subtract``)."""
    x, y = binary_args(x, y, "subtract")
    return make_op("Sub", (x, y), x._data - y._data,
                   lambda g, n: (unbroadcast(g, x.shape) if n[0] else None,
                                 unbroadcast(negative(g), y.shape) if n[1] else None))


def multiply(x, y, name=None):
    """Elementwise ``x * y`` with broadcasting (``tf.math.multiply``)."""
    x, y = binary_args(x, y, "multiply")
    return make_op("Mul", (x, y), x._data * y._data,
                   lambda g, n: (unbroadcast(g * y, x.shape) if n[0] else None,
                                 unbroadcast(g * x, y.shape) if n[1] else None))


def divide(x, y, name=None):
    """Elementwise ``x / y`` (``tf.math.divide``); integer inputs give float64, as in TensorFlow."""
    x, y = binary_args(x, y, "divide")
    if not x.dtype.is_floating:
        x, y = cast(x, "float64"), cast(y, "float64")
    return make_op("RealDiv", (x, y), x._data / y._data,
                   lambda g, n: (unbroadcast(g / y, x.shape) if n[0] else None,
                                 unbroadcast(negative(g) * x / square(y), y.shape) if n[1] else None))


truediv = divide


def floordiv(x, y, name=None):
    """Elementwise floor division (no gradient, as in TensorFlow)."""
    x, y = binary_args(x, y, "floordiv")
    return make_op("FloorDiv", (x, y), x._backend.xp.floor_divide(x._data, y._data), _no_gradient)


def mod(x, y, name=None):
    """Elementwise remainder with the sign of ``y`` (``tf.math.floormod``)."""
    x, y = binary_args(x, y, "mod")
    return make_op("FloorMod", (x, y), x._backend.xp.mod(x._data, y._data),
                   lambda g, n: (unbroadcast(g, x.shape) if n[0] else None,
                                 unbroadcast(negative(g) * floordiv(x, y), y.shape) if n[1] else None))


def pow(x, y, name=None):  # noqa: A001 - TensorFlow's name
    """Elementwise ``x ** y`` (``tf.math.pow``)."""
    x, y = binary_args(x, y, "pow")
    out = None

    def vjp(g, n):
        gx = unbroadcast(g * y * pow(x, y - 1), x.shape) if n[0] else None
        gy = None
        if n[1]:
            safe = where(x > 0, x, ones_like_(x))
            gy = unbroadcast(g * out * where(x > 0, log(safe), zeros_like_(x)), y.shape)
        return gx, gy
    out = make_op("Pow", (x, y), x._backend.xp.power(x._data, y._data), vjp)
    return out


def maximum(x, y, name=None):
    """Elementwise maximum; on ties the gradient goes to ``x``, as TensorFlow's."""
    x, y = binary_args(x, y, "maximum")
    xp = x._backend.xp

    def vjp(g, n):
        mask = x >= y
        zero = zeros_like_(g)
        return (unbroadcast(where(mask, g, zero), x.shape) if n[0] else None,
                unbroadcast(where(mask, zero, g), y.shape) if n[1] else None)
    return make_op("Maximum", (x, y), xp.maximum(x._data, y._data), vjp)


def minimum(x, y, name=None):
    """Elementwise minimum; on ties the gradient goes to ``x``, as TensorFlow's."""
    x, y = binary_args(x, y, "minimum")
    xp = x._backend.xp

    def vjp(g, n):
        mask = x <= y
        zero = zeros_like_(g)
        return (unbroadcast(where(mask, g, zero), x.shape) if n[0] else None,
                unbroadcast(where(mask, zero, g), y.shape) if n[1] else None)
    return make_op("Minimum", (x, y), xp.minimum(x._data, y._data), vjp)


def add_n(inputs, name=None):
    """Sum of a list of same-shape tensors."""
    total = inputs[0]
    for t in inputs[1:]:
        total = add(total, t)
    return convert_to_tensor(total)


# -- unary --------------------------------------------------------------------
def _no_gradient(g, needs):
    """The vjp of a piecewise-constant op: no gradient (None), as TensorFlow's Floor/Round/FloorDiv."""
    return (None,) * len(needs)


def _unary(name, tf_name, fwd, grad, floating=True, doc=""):
    """Builds an elementwise op. ``grad(g, x, out)`` returns the input gradient (None: no gradient)."""
    def op(x, name=None):
        x = convert_to_tensor(x)
        if floating:
            _require_float(x, tf_name)
        out = None
        out = make_op(tf_name, (x,), fwd(x._backend.xp, x._data),
                      _no_gradient if grad is None else (lambda g, n: (grad(g, x, out),)))
        return out
    op.__name__ = name
    op.__doc__ = doc or f"Elementwise ``{name}`` (``tf.math.{name}``)."
    return op


negative = _unary("negative", "Neg", lambda xp, a: -a, lambda g, x, o: negative(g), floating=False)
abs = _unary("abs", "Abs", lambda xp, a: xp.abs(a), lambda g, x, o: g * sign(x), floating=False)  # noqa: A001
sign = _unary("sign", "Sign", lambda xp, a: xp.sign(a), lambda g, x, o: zeros_like_(g), floating=False)
exp = _unary("exp", "Exp", lambda xp, a: xp.exp(a), lambda g, x, o: g * o)
log = _unary("log", "Log", lambda xp, a: xp.log(a), lambda g, x, o: g / x)
log1p = _unary("log1p", "Log1p", lambda xp, a: xp.log1p(a), lambda g, x, o: g / (x + 1))
sqrt = _unary("sqrt", "Sqrt", lambda xp, a: xp.sqrt(a), lambda g, x, o: g * 0.5 / o)
rsqrt = _unary("rsqrt", "Rsqrt", lambda xp, a: 1 / xp.sqrt(a), lambda g, x, o: g * -0.5 * o / x)
square = _unary("square", "Square", lambda xp, a: a * a, lambda g, x, o: g * 2 * x, floating=False)
sin = _unary("sin", "Sin", lambda xp, a: xp.sin(a), lambda g, x, o: g * cos(x))
cos = _unary("cos", "Cos", lambda xp, a: xp.cos(a), lambda g, x, o: negative(g * sin(x)))
tanh = _unary("tanh", "Tanh", lambda xp, a: xp.tanh(a), lambda g, x, o: g * (1 - o * o))
round = _unary("round", "Round", lambda xp, a: xp.round(a), None, floating=False)  # noqa: A001
floor = _unary("floor", "Floor", lambda xp, a: xp.floor(a), None)
ceil = _unary("ceil", "Ceil", lambda xp, a: xp.ceil(a), None)


def _sigmoid(xp, a):
    # Split by sign so exp never overflows: 1/(1+e^-a) for a>=0, e^a/(1+e^a) otherwise.
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


sigmoid = _unary("sigmoid", "Sigmoid", _sigmoid, lambda g, x, o: g * o * (1 - o),
                 doc="Elementwise logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow.")


# -- comparison and logic (no gradient) ---------------------------------------
def _compare(name, tf_name, fn):
    def op(x, y, name=None):
        x, y = binary_args(x, y, name or tf_name)
        return make_op(tf_name, (x, y), fn(x._backend.xp, x._data, y._data), None)
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` giving a bool tensor (``tf.math.{name}``)."
    return op


equal = _compare("equal", "Equal", lambda xp, a, b: a == b)
not_equal = _compare("not_equal", "NotEqual", lambda xp, a, b: a != b)
less = _compare("less", "Less", lambda xp, a, b: a < b)
less_equal = _compare("less_equal", "LessEqual", lambda xp, a, b: a <= b)
greater = _compare("greater", "Greater", lambda xp, a, b: a > b)
greater_equal = _compare("greater_equal", "GreaterEqual", lambda xp, a, b: a >= b)
logical_and = _compare("logical_and", "LogicalAnd", lambda xp, a, b: xp.logical_and(a, b))
logical_or = _compare("logical_or", "LogicalOr", lambda xp, a, b: xp.logical_or(a, b))


def logical_not(x, name=None):
    x = convert_to_tensor(x)
    return make_op("LogicalNot", (x,), x._backend.xp.logical_not(x._data), None)


def where(condition, x=None, y=None, name=None):
    """``tf.where``: elementwise select with broadcasting, or the coordinates of true elements.

    Args:
        condition: bool tensor.
        x, y: values to select from where ``condition`` is true / false; if both
            are omitted, returns an int64 tensor (num_true, rank) of coordinates.
    """
    condition = convert_to_tensor(condition)
    if condition.dtype.name != "bool":
        raise TypeError(f"where expects a bool condition. Received: condition.dtype={condition.dtype.name}")
    xp = condition._backend.xp
    if x is None and y is None:
        return wrap(xp.stack(xp.nonzero(condition._data), axis=-1).astype(np.int64), condition)
    if x is None or y is None:
        given = {k: "None" if v is None else type(v).__name__ for k, v in (("x", x), ("y", y))}
        raise ValueError(f"where: x and y must both be given or both be omitted. Received: x={given['x']}, "
                         f"y={given['y']}")
    x, y = binary_args(x, y, "where")
    c = condition

    def vjp(g, n):
        zero = zeros_like_(g)
        return (unbroadcast(where(c, g, zero), x.shape) if n[0] else None,
                unbroadcast(where(c, zero, g), y.shape) if n[1] else None)
    return make_op("Select", (x, y), xp.where(c._data, x._data, y._data), vjp)


def cast(x, dtype, name=None):
    """Casts to ``dtype`` (``tf.cast``); the gradient flows between floating dtypes only."""
    from .. import dtypes
    x = convert_to_tensor(x)
    target = dtypes.as_dtype(dtype)
    if target == x.dtype:
        return x
    src = x.dtype
    data = x._data
    if src.is_floating and target.is_integer:
        data = x._backend.xp.trunc(data)  # TensorFlow truncates toward zero
    return make_op("Cast", (x,), data.astype(target.as_numpy_dtype),
                   lambda g, n: (cast(g, src),) if src.is_floating else (None,))


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Clips values to ``[clip_value_min, clip_value_max]``; the gradient is zero outside."""
    t = convert_to_tensor(t)
    lo, hi = binary_args(t, clip_value_min, "clip_by_value")[1], binary_args(t, clip_value_max, "clip_by_value")[1]
    xp = t._backend.xp

    def vjp(g, n):
        inside = logical_and(t >= lo, t <= hi)
        return (where(inside, g, zeros_like_(g)),)
    return make_op("ClipByValue", (t,), xp.minimum(xp.maximum(t._data, lo._data), hi._data), vjp)


# -- matmul ------------------------------------------------------------------
def matmul(a, b, transpose_a=False, transpose_b=False, name=None):
    """Matrix product of the last two axes, batch axes broadcast (``tf.linalg.matmul``).

    Args:
        a: (..., M, K) tensor (or (..., K, M) with ``transpose_a``).
        b: (..., K, N) tensor (or (..., N, K) with ``transpose_b``).

    Raises:
        ValueError: rank below 2 or inner dimensions that differ.
    """
    a, b = binary_args(a, b, "matmul")
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul expects inputs of rank >= 2. Received: a.shape={tuple(a.shape)}, "
                         f"b.shape={tuple(b.shape)}")
    if transpose_a:
        a = _swap_last(a)
    if transpose_b:
        b = _swap_last(b)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: inner dimensions must match. Received: a.shape={tuple(a.shape)} "
                         f"(K={a.shape[-1]}), b.shape={tuple(b.shape)} (K={b.shape[-2]})")

    def vjp(g, n):
        ga = unbroadcast(matmul(g, b, transpose_b=True), a.shape) if n[0] else None
        gb = unbroadcast(matmul(a, g, transpose_a=True), b.shape) if n[1] else None
        return ga, gb
    y = a._backend.xp.matmul(a._data, b._data)
    if y.dtype != a._data.dtype:  # ml-dtypes' bfloat16 matmul sums in float32 and returns float32: round once
        y = y.astype(a._data.dtype)
    return make_op("MatMul", (a, b), y, vjp)


def _swap_last(x):
    from .array_ops import transpose
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return transpose(x, perm)


# -- reductions ----------------------------------------------------------------
def _axes(axis, ndim, op):
    if axis is None:
        return tuple(range(ndim))
    axis = convert_to_tensor(axis).numpy().tolist() if not isinstance(axis, (int, list, tuple)) else axis
    axes = (axis,) if isinstance(axis, int) else tuple(int(a) for a in axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of bounds for a tensor of rank {ndim}. "
                             f"Expected an axis in [{-ndim}, {ndim}).")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _expand_grad(g, x, axes, keepdims):
    from .array_ops import reshape, broadcast_to
    if not keepdims:
        kept = [1 if i in axes else d for i, d in enumerate(x.shape)]
        g = reshape(g, kept)
    return broadcast_to(g, x.shape)


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """Sum over ``axis`` (all axes when None) (``tf.math.reduce_sum``)."""
    x = convert_to_tensor(input_tensor)
    axes = _axes(axis, x.ndim, "reduce_sum")
    # NumPy would widen int32 sums to int64; TensorFlow keeps the input dtype (bool sums count in int64).
    data = x._backend.xp.sum(x._data, axis=axes, keepdims=keepdims,
                             dtype=np.int64 if x.dtype.name == "bool" else x._data.dtype)
    return make_op("Sum", (x,), x._backend.xp.asarray(data, dtype=data.dtype),
                   lambda g, n: (_expand_grad(g, x, axes, keepdims),))


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean over ``axis`` (``tf.math.reduce_mean``); integer inputs use integer division as TF."""
    x = convert_to_tensor(input_tensor)
    axes = _axes(axis, x.ndim, "reduce_mean")
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    xp = x._backend.xp
    if x.dtype.is_floating:
        data = xp.mean(x._data, axis=axes, keepdims=keepdims, dtype=x._data.dtype)
    else:  # integer division truncating toward zero, as TensorFlow's (C++) mean reducer
        total = xp.sum(x._data, axis=axes, keepdims=keepdims)
        data = xp.sign(total) * (xp.abs(total) // builtins.max(count, 1))
    data = xp.asarray(data, dtype=x._data.dtype)
    return make_op("Mean", (x,), data, lambda g, n: (_expand_grad(g, x, axes, keepdims) / count,))


def _reduce_extreme(fn_name, tf_name):
    def op(input_tensor, axis=None, keepdims=False, name=None):
        x = convert_to_tensor(input_tensor)
        axes = _axes(axis, x.ndim, f"reduce_{fn_name}")
        xp = x._backend.xp
        if x._data.size == 0:
            raise ValueError(f"reduce_{fn_name} of an empty tensor is undefined. Received: shape={tuple(x.shape)}")
        data = xp.asarray(getattr(xp, fn_name)(x._data, axis=axes, keepdims=keepdims))
        out = None

        def vjp(g, n):
            y = _expand_grad(out, x, axes, keepdims)
            mask = cast(equal(x, y), x.dtype)
            ties = _expand_grad(reduce_sum(mask, axis=axes, keepdims=keepdims), x, axes, keepdims)
            return (_expand_grad(g, x, axes, keepdims) * mask / ties,)
        out = make_op(tf_name, (x,), data, vjp)
        return out
    op.__name__ = f"reduce_{fn_name}"
    op.__doc__ = (f"{fn_name.capitalize()} over ``axis`` (``tf.math.reduce_{fn_name}``); the gradient is "
                  "split evenly among tied elements.")
    return op


reduce_max = _reduce_extreme("max", "Max")
reduce_min = _reduce_extreme("min", "Min")


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    """Product over ``axis`` (gradient assumes no zeros in the reduced slices)."""
    x = convert_to_tensor(input_tensor)
    axes = _axes(axis, x.ndim, "reduce_prod")
    out = None
    out = make_op("Prod", (x,), x._backend.xp.asarray(x._backend.xp.prod(x._data, axis=axes, keepdims=keepdims,
                                                                          dtype=x._data.dtype)),
                  lambda g, n: (_expand_grad(g * out, x, axes, keepdims) / x,))
    return out


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """``log(sum(exp(x)))`` over ``axis``, computed stably (max subtracted first)."""
    x = convert_to_tensor(input_tensor)
    m = reduce_max(x, axis=axis, keepdims=True)
    from .array_ops import squeeze
    xp = x._backend.xp
    # a constant shift (no gradient); an all -inf slice shifts by 0, giving -inf rather than nan, as TensorFlow
    m = wrap(xp.where(xp.isfinite(m._data), m._data, 0).astype(m._data.dtype, copy=False), m)
    r = log(reduce_sum(exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        r = squeeze(r, axis=_axes(axis, x.ndim, "reduce_logsumexp")) if x.ndim else r
    return r


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    x = convert_to_tensor(input_tensor)
    axes = _axes(axis, x.ndim, "reduce_any")
    return wrap(x._backend.xp.asarray(x._backend.xp.any(x._data, axis=axes, keepdims=keepdims)), x)


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    x = convert_to_tensor(input_tensor)
    axes = _axes(axis, x.ndim, "reduce_all")
    return wrap(x._backend.xp.asarray(x._backend.xp.all(x._data, axis=axes, keepdims=keepdims)), x)


def argmax(input, axis=None, output_type="int64", name=None):  # noqa: A002 - TensorFlow's name
    """Index of the largest value along ``axis`` (default 0, as ``tf.math.argmax``); first on ties."""
    x = convert_to_tensor(input)
    a = _axes(0 if axis is None else axis, x.ndim, "argmax")[0]
    from .. import dtypes
    return wrap(x._backend.xp.argmax(x._data, axis=a).astype(dtypes.as_dtype(output_type).as_numpy_dtype), x)


def argmin(input, axis=None, output_type="int64", name=None):  # noqa: A002
    """Index of the smallest value along ``axis`` (default 0); first on ties."""
    x = convert_to_tensor(input)
    a = _axes(0 if axis is None else axis, x.ndim, "argmin")[0]
    from .. import dtypes
    return wrap(x._backend.xp.argmin(x._data, axis=a).astype(dtypes.as_dtype(output_type).as_numpy_dtype), x)


def zeros_like_(x):
    return wrap(x._backend.xp.zeros_like(x._data), x)


def ones_like_(x):
    return wrap(x._backend.xp.ones_like(x._data), x)


# -- more of tf.math ----------------------------------------------------------------------------------------------
expm1 = _unary("expm1", "Expm1", lambda xp, a: xp.expm1(a), lambda g, x, o: g * (o + 1))
tan = _unary("tan", "Tan", lambda xp, a: xp.tan(a), lambda g, x, o: g * (1 + o * o))
sinh = _unary("sinh", "Sinh", lambda xp, a: xp.sinh(a), lambda g, x, o: g * cosh(x))
cosh = _unary("cosh", "Cosh", lambda xp, a: xp.cosh(a), lambda g, x, o: g * sinh(x))
asin = _unary("asin", "Asin", lambda xp, a: xp.arcsin(a), lambda g, x, o: g * rsqrt(1 - x * x))
acos = _unary("acos", "Acos", lambda xp, a: xp.arccos(a), lambda g, x, o: negative(g * rsqrt(1 - x * x)))
atan = _unary("atan", "Atan", lambda xp, a: xp.arctan(a), lambda g, x, o: g / (1 + x * x))
reciprocal = _unary("reciprocal", "Reciprocal", lambda xp, a: (1 / a).astype(a.dtype, copy=False),
                    lambda g, x, o: negative(g * o * o))
logical_xor = _compare("logical_xor", "LogicalXor", lambda xp, a, b: xp.logical_xor(a, b))


def _predicate(name, fn):
    def op(x, name=None):
        x = convert_to_tensor(x)
        return make_op(name, (x,), fn(x._backend.xp, x._data), None)
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` of a float tensor, giving a bool tensor (``tf.math.{name}``)."
    return op


is_nan = _predicate("is_nan", lambda xp, a: xp.isnan(a))
is_inf = _predicate("is_inf", lambda xp, a: xp.isinf(a))
is_finite = _predicate("is_finite", lambda xp, a: xp.isfinite(a))


def squared_difference(x, y, name=None):
    """Elementwise ``(x - y)^2`` with broadcasting (``tf.math.squared_difference``)."""
    return square(subtract(x, y))


def divide_no_nan(x, y, name=None):
    """``x / y``, 0 where ``y`` is 0 (``tf.math.divide_no_nan``); the gradient is 0 there too."""
    x, y = binary_args(x, y, "divide_no_nan")
    zero = equal(y, zeros_like_(y))
    q = divide(x, where(zero, ones_like_(y), y))
    return where(zero, zeros_like_(q), q)


def xlogy(x, y, name=None):
    """``x * log(y)``, 0 where ``x`` is 0 (``tf.math.xlogy``)."""
    x, y = binary_args(x, y, "xlogy")
    zero = equal(x, zeros_like_(x))
    p = x * log(where(zero, ones_like_(y), y))
    return where(zero, zeros_like_(p), p)


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """Variance over ``axis``, the mean of squared deviations (``tf.math.reduce_variance``); floats only."""
    x = convert_to_tensor(input_tensor)
    _require_float(x, "reduce_variance")
    return reduce_mean(square(x - reduce_mean(x, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """Standard deviation over ``axis`` (``tf.math.reduce_std``): the square root of :func:`reduce_variance`."""
    return sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """``sqrt(sum(x^2))`` over ``axis`` (``tf.math.reduce_euclidean_norm``)."""
    return sqrt(reduce_sum(square(convert_to_tensor(input_tensor)), axis=axis, keepdims=keepdims))


def count_nonzero(input, axis=None, keepdims=None, dtype="int64", name=None):  # noqa: A002 - TensorFlow's name
    """How many elements are not zero (not False) over ``axis`` (``tf.math.count_nonzero``), as ``dtype``."""
    x = convert_to_tensor(input)
    return cast(reduce_sum(cast(not_equal(x, zeros_like_(x)), "int64"), axis=axis, keepdims=bool(keepdims)), dtype)


def _scan(xp, fn, a, axis, exclusive, reverse):
    if reverse:
        a = xp.flip(a, axis=axis)
    out = fn(a, axis=axis, dtype=a.dtype)
    if exclusive:  # shift by one: the identity first, the last total dropped
        first = xp.ones_like(xp.take(a, [0], axis=axis)) if fn is xp.cumprod else \
            xp.zeros_like(xp.take(a, [0], axis=axis))
        out = xp.concatenate([first, xp.take(out, xp.arange(a.shape[axis] - 1), axis=axis)], axis=axis)
    return xp.flip(out, axis=axis) if reverse else out


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative sum along ``axis`` (``tf.math.cumsum``); ``exclusive`` leaves each element out of its own sum,
    ``reverse`` sums from the end. The gradient is the cumulative sum the other way."""
    x = convert_to_tensor(x)
    ax = _axes(axis, x.ndim, "cumsum")[0]
    return make_op("Cumsum", (x,), _scan(x._backend.xp, x._backend.xp.cumsum, x._data, ax, exclusive, reverse),
                   lambda g, n: (cumsum(g, ax, exclusive, not reverse),))


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative product along ``axis`` (``tf.math.cumprod``); arguments as :func:`cumsum`. The gradient is
    TensorFlow's ``cumsum(out * g, reverse=not reverse) / x``, which assumes no zeros in ``x``."""
    x = convert_to_tensor(x)
    ax = _axes(axis, x.ndim, "cumprod")[0]
    out = None
    out = make_op("Cumprod", (x,), _scan(x._backend.xp, x._backend.xp.cumprod, x._data, ax, exclusive, reverse),
                  lambda g, n: (cumsum(out * g, ax, exclusive, not reverse) / x,))
    return out


__all__ += ["expm1", "tan", "sinh", "cosh", "asin", "acos", "atan", "reciprocal", "logical_xor", "is_nan", "is_inf",
            "is_finite", "squared_difference", "divide_no_nan", "xlogy", "reduce_variance", "reduce_std",
            "reduce_euclidean_norm", "count_nonzero", "cumsum", "cumprod"]


floormod = mod


def multiply_no_nan(x, y, name=None):
    """``x * y``, 0 where ``y`` is 0 even if ``x`` is inf or NaN (``tf.math.multiply_no_nan``)."""
    x, y = binary_args(x, y, "multiply_no_nan")
    return where(equal(y, zeros_like_(y)), zeros_like_(x) + zeros_like_(y), x) * y


def atan2(y, x, name=None):
    """Elementwise angle of the point (x, y), in (-pi, pi] (``tf.math.atan2``; note the argument order)."""
    y, x = binary_args(y, x, "atan2")
    _require_float(y, "atan2")

    def vjp(g, n):
        r = x * x + y * y
        return (unbroadcast(g * x / r, y.shape) if n[0] else None,
                unbroadcast(negative(g * y / r), x.shape) if n[1] else None)
    return make_op("Atan2", (y, x), y._backend.xp.arctan2(y._data, x._data), vjp)


def _segment_ids(segment_ids, n, op):
    ids = convert_to_tensor(segment_ids)
    if not ids.dtype.is_integer or ids.ndim != 1 or ids.shape[0] != n:
        raise ValueError(f"{op}: segment_ids must be a 1-D integer tensor with one id per row of data ({n}). "
                         f"Received: segment_ids of dtype {ids.dtype.name} and shape {tuple(ids.shape)}")
    return ids


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """``out[k] = sum of data[i] over the rows i with segment_ids[i] == k`` (``tf.math.unsorted_segment_sum``): shape
    ``(num_segments,) + data.shape[1:]``; rows with a negative id are dropped, as TensorFlow. The gradient of a row
    is its segment's.

    Raises:
        ValueError: segment_ids not one integer per row, or an id >= ``num_segments`` (TensorFlow's CPU error; on
            CUDA inside a training step, reported at the next host contact).
    """
    from .array_ops import check_on_device, gather
    x = convert_to_tensor(data)
    ids = _segment_ids(segment_ids, x.shape[0], "unsorted_segment_sum")
    k = int(num_segments.numpy() if hasattr(num_segments, "numpy") else num_segments)
    xp, i = x._backend.xp, ids._data
    check_on_device(x._backend, f"segment id range [0, {k})", i, i >= k, lambda v, where: ValueError(
        f"unsorted_segment_sum: segment ids must be < num_segments={k}. Received: a segment id {int(v)}{where}"))
    valid = (i >= 0) & (i < k)
    safe = wrap(xp.where(valid, i, 0), ids)
    keep = wrap(valid.reshape((-1,) + (1,) * (x.ndim - 1)).astype(x._data.dtype), x)
    out = xp.zeros((k,) + tuple(x.shape[1:]), dtype=x._data.dtype)
    xp.add.at(out, safe._data, xp.where(keep._data != 0, x._data, 0))  # dropped rows add zeros to segment 0
    return make_op("UnsortedSegmentSum", (x,), out, lambda g, n: (gather(g, safe) * keep,))


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """The mean of each segment's rows (``tf.math.unsorted_segment_mean``); an empty segment gives 0."""
    x = convert_to_tensor(data)
    total = unsorted_segment_sum(x, segment_ids, num_segments)
    count = unsorted_segment_sum(ones_like_(x), segment_ids, num_segments)
    return divide_no_nan(total, count)


def segment_sum(data, segment_ids, name=None):
    """:func:`unsorted_segment_sum` with sorted ids and ``max(id) + 1`` segments (``tf.math.segment_sum``)."""
    ids = convert_to_tensor(segment_ids)
    return unsorted_segment_sum(data, ids, int(ids.numpy().max()) + 1 if ids.shape[0] else 0)


def segment_mean(data, segment_ids, name=None):
    """:func:`unsorted_segment_mean` with sorted ids and ``max(id) + 1`` segments (``tf.math.segment_mean``)."""
    ids = convert_to_tensor(segment_ids)
    return unsorted_segment_mean(data, ids, int(ids.numpy().max()) + 1 if ids.shape[0] else 0)


__all__ += ["floormod", "multiply_no_nan", "atan2", "unsorted_segment_sum", "unsorted_segment_mean", "segment_sum",
            "segment_mean"]


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype="int32", name=None):
    """``m[i, j]`` = how many (or the summed ``weights`` of the) examples of label i predicted as j
    (``tf.math.confusion_matrix``), shape (num_classes, num_classes); ``num_classes`` defaults to the largest label
    or prediction + 1. Not differentiable.

    Raises:
        ValueError: labels and predictions of different shapes, or a value outside ``[0, num_classes)``.
    """
    from .. import dtypes
    lab, pred = convert_to_tensor(labels), convert_to_tensor(predictions)
    if tuple(lab.shape) != tuple(pred.shape):
        raise ValueError(f"confusion_matrix: labels and predictions must have the same shape. Received: "
                         f"labels.shape={tuple(lab.shape)}, predictions.shape={tuple(pred.shape)}")
    xp = lab._backend.xp
    li, pi = lab._data.reshape(-1).astype(np.int64), pred._data.reshape(-1).astype(np.int64)
    host = np.concatenate([lab.numpy().reshape(-1), pred.numpy().reshape(-1)]).astype(np.int64)
    n = int(host.max()) + 1 if num_classes is None and host.size else int(num_classes or 0)
    if host.size and (host.min() < 0 or host.max() >= n):
        raise ValueError(f"confusion_matrix: labels and predictions must be in [0, {n}). Received values from "
                         f"{int(host.min())} to {int(host.max())}")
    out_dtype = dtypes.as_dtype(dtype).as_numpy_dtype
    w = xp.ones(li.shape, out_dtype) if weights is None else \
        convert_to_tensor(weights)._data.reshape(-1).astype(out_dtype)
    out = xp.zeros((n, n), dtype=out_dtype)
    xp.add.at(out, (li, pi), w)
    return wrap(out, lab)


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype="int32", name=None, axis=None,
             binary_output=False):
    """How many times each value 0, 1, ... occurs in the non-negative integers ``arr`` (``tf.math.bincount``), or the
    summed ``weights`` at them (then of the weights' dtype); length ``max(arr) + 1``, at least ``minlength``, at most
    ``maxlength``. 1-D results only (``axis=None`` or 0 over a flattened ``arr``). Not differentiable."""
    from .. import dtypes
    a = convert_to_tensor(arr)
    if axis not in (None, 0, -1) or (axis in (0, -1) and a.ndim > 1):
        raise NotImplementedError(f"bincount: only axis=None is supported. Received: axis={axis}")
    xp, host = a._backend.xp, a.numpy().reshape(-1)
    if host.size and host.min() < 0:
        raise ValueError(f"bincount: arr must be non-negative. Received: a value {int(host.min())}")
    n = max(int(host.max()) + 1 if host.size else 0, int(minlength or 0))
    n = min(n, int(maxlength)) if maxlength is not None else n
    idx = a._data.reshape(-1).astype(np.int64)
    keep = idx < n
    if weights is not None:
        w = convert_to_tensor(weights)._data.reshape(-1)
        out_dtype = w.dtype
    else:
        out_dtype = dtypes.as_dtype(dtype).as_numpy_dtype
        w = xp.ones(idx.shape, out_dtype)
    out = xp.zeros((n,), dtype=out_dtype)
    xp.add.at(out, xp.where(keep, idx, 0), xp.where(keep, w, 0).astype(out_dtype))
    return wrap((out > 0).astype(out_dtype) if binary_output else out, a)


def real(input, name=None):  # noqa: A002 - TensorFlow's name
    """The real part (``tf.math.real``): the input itself for gpuflow's real dtypes."""
    return convert_to_tensor(input)


def imag(input, name=None):  # noqa: A002
    """The imaginary part (``tf.math.imag``): zeros for gpuflow's real dtypes."""
    return zeros_like_(convert_to_tensor(input))


def conj(x, name=None):
    """The complex conjugate (``tf.math.conj``): the input itself for gpuflow's real dtypes."""
    return convert_to_tensor(x)


def erfc(x, name=None):
    """``1 - erf(x)`` (``tf.math.erfc``); loses relative precision for large x, where erfc is tiny."""
    from .nn_ops import erf
    return 1 - erf(x)


__all__ += ["confusion_matrix", "bincount", "real", "imag", "conj", "erfc"]


def _unsorted_segment_extreme(data, segment_ids, num_segments, kind, empty_zero=False):
    """``unsorted_segment_max``/``min``: TensorFlow's values (an empty segment holds the dtype's lowest/highest
    finite value, or 0 with ``empty_zero``: the sorted ``segment_*``) and gradient (split evenly among the elements
    equal to their segment's result)."""
    from .array_ops import check_on_device, gather
    op = f"unsorted_segment_{kind}"
    x = convert_to_tensor(data)
    ids = _segment_ids(segment_ids, x.shape[0], op)
    k = int(num_segments.numpy() if hasattr(num_segments, "numpy") else num_segments)
    xp, i = x._backend.xp, ids._data
    check_on_device(x._backend, f"segment id range [0, {k})", i, i >= k, lambda v, where: ValueError(
        f"{op}: segment ids must be < num_segments={k}. Received: a segment id {int(v)}{where}"))
    info = np.finfo(x._data.dtype) if x.dtype.is_floating else np.iinfo(x._data.dtype)
    empty = info.min if kind == "max" else info.max
    valid = (i >= 0) & (i < k)
    safe = wrap(xp.where(valid, i, 0), ids)
    keep = valid.reshape((-1,) + (1,) * (x.ndim - 1))
    out = xp.full((k,) + tuple(x.shape[1:]), empty, dtype=x._data.dtype)
    getattr(xp, "maximum" if kind == "max" else "minimum").at(out, safe._data, xp.where(keep, x._data, empty))
    if empty_zero:
        rows = xp.zeros((k,), dtype=np.int64)
        xp.add.at(rows, safe._data, valid.astype(np.int64))  # rows per segment (no dynamic shape on the device)
        out[rows == 0] = 0
    result = None

    def vjp(g, n):
        chosen = cast(logical_and(equal(x, gather(result, safe)), wrap(xp.broadcast_to(keep, x._data.shape), x)),
                      g.dtype)
        count = unsorted_segment_sum(chosen, ids, k)
        return (gather(divide_no_nan(g, count), safe) * chosen,)
    result = make_op(f"UnsortedSegment{kind.capitalize()}", (x,), out, vjp)
    return result


def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    """The largest row of each segment (``tf.math.unsorted_segment_max``): shape ``(num_segments,) +
    data.shape[1:]``; an empty segment holds the dtype's lowest value (-inf for floats), negative ids drop their
    rows; the gradient is split evenly among the elements equal to the maximum, as TensorFlow."""
    return _unsorted_segment_extreme(data, segment_ids, num_segments, "max")


def unsorted_segment_min(data, segment_ids, num_segments, name=None):
    """The smallest row of each segment (``tf.math.unsorted_segment_min``); as :func:`unsorted_segment_max`."""
    return _unsorted_segment_extreme(data, segment_ids, num_segments, "min")


def segment_max(data, segment_ids, name=None):
    """The largest row of each segment for sorted ids, ``max(id) + 1`` segments (``tf.math.segment_max``); an
    empty segment gives 0, as TensorFlow's sorted version."""
    ids = convert_to_tensor(segment_ids)
    return _unsorted_segment_extreme(data, ids, int(ids.numpy().max()) + 1 if ids.shape[0] else 0, "max", True)


def segment_min(data, segment_ids, name=None):
    """The smallest row of each segment for sorted ids (``tf.math.segment_min``); as :func:`segment_max`."""
    ids = convert_to_tensor(segment_ids)
    return _unsorted_segment_extreme(data, ids, int(ids.numpy().max()) + 1 if ids.shape[0] else 0, "min", True)


__all__ += ["unsorted_segment_max", "unsorted_segment_min", "segment_max", "segment_min"]
