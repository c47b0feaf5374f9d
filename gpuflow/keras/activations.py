"""Activation functions (``keras.activations``) resolved by name as Keras does."""
from __future__ import annotations

from ..ops import nn_ops as _nn, math_ops as _m
from ..ops.core import convert_to_tensor

__all__ = ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "softplus", "swish", "silu",
           "leaky_relu", "relu6", "log_softmax", "exponential", "gelu", "softsign", "hard_sigmoid", "hard_silu",
           "hard_swish", "mish", "log_sigmoid", "celu", "hard_tanh", "tanh_shrink", "glu", "get", "serialize"]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """ReLU with Keras 3's optional slope, cap and threshold.

    Written as Keras 3's ``activations.ReLU.static_call``: ``x`` above the
    threshold (``relu(x)`` for a zero threshold), clipped to ``[0, max_value]``,
    minus ``negative_slope * relu(threshold - x)``.
    """
    x = _float(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _nn.relu(x)
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return _nn.leaky_relu(x, negative_slope)
        negative_part = _nn.relu(threshold - x) if threshold != 0 else _nn.relu(-x)
    if threshold != 0:
        y = x * _m.cast(x > threshold, x.dtype)
    else:
        y = _nn.relu(x)
    if max_value is not None:
        y = _m.clip_by_value(y, 0.0, float(max_value))
    if negative_slope != 0.0:
        y = y - negative_slope * negative_part
    return y


def _float(x):
    x = convert_to_tensor(x)
    return x if x.dtype.is_floating else _m.cast(x, "float32")


def sigmoid(x):
    return _m.sigmoid(x)


def tanh(x):
    return _m.tanh(x)


def softmax(x, axis=-1):
    return _nn.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return _nn.log_softmax(x, axis=axis)


def linear(x):
    return x


def elu(x, alpha=1.0):
    return _nn.elu(x, alpha)


def selu(x):
    return _nn.selu(x)


def softplus(x):
    return _nn.softplus(x)


def silu(x):
    return _nn.silu(x)


swish = silu


def leaky_relu(x, negative_slope=0.2):
    return _nn.leaky_relu(x, negative_slope)


def relu6(x):
    return _nn.relu6(x)


def exponential(x):
    return _m.exp(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit, Keras 3's ``keras.activations.gelu(x, approximate=False)``.

    ``approximate=False``: ``0.5 * x * (1 + erf(x / sqrt(2)))`` with gpuflow's float64-accurate
    :func:`gpuflow.ops.nn_ops.erf`; ``approximate=True``: the tanh form of Hendrycks & Gimpel 2016.
    """
    return _nn.gelu(_float(x), approximate=approximate)


def softsign(x):
    """``x / (1 + |x|)``."""
    x = _float(x)
    return x / (1.0 + _m.abs(x))


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: ``relu6(x + 3) / 6`` (0 below -3, 1 above 3)."""
    x = _float(x)
    return _nn.relu6(x + 3.0) / 6.0


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also called hard_swish)."""
    x = _float(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    """``x * tanh(softplus(x))`` (Misra 2019)."""
    x = _float(x)
    return x * _m.tanh(_nn.softplus(x))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, computed stably."""
    return -_nn.softplus(-_float(x))


def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)`` (Barron 2017), as Keras's TensorFlow backend."""
    x = _float(x)
    return _m.maximum(x, 0.0) + alpha * (_m.exp(_m.minimum(x, 0.0) / alpha) - 1.0)


def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return _m.clip_by_value(_float(x), -1.0, 1.0)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    x = _float(x)
    return x - _m.tanh(x)


def glu(x, axis=-1):
    """Gated linear unit: the two halves ``a, b`` of ``x`` along ``axis`` give ``a * sigmoid(b)``.

    Raises:
        ValueError: if the size of ``axis`` is odd (Keras's message).
    """
    from ..ops import array_ops as _a
    x = _float(x)
    if x.shape[axis] % 2 != 0:
        raise ValueError(f"axis size must be divisible by 2. Received: x.shape={tuple(x.shape)} with axis={axis}")
    a, b = _a.split(x, 2, axis=axis)
    return a * _m.sigmoid(b)


# The built-in activations by name (Keras 3's ``keras.src.activations.ALL_OBJECTS_DICT``, aliases included).
ALL_OBJECTS_DICT = {f.__name__: f for f in (relu, sigmoid, tanh, softmax, log_softmax, linear, elu, selu, softplus,
                                            silu, leaky_relu, relu6, exponential, gelu, softsign, hard_sigmoid,
                                            hard_silu, mish, log_sigmoid, celu, hard_tanh, tanh_shrink, glu)}
ALL_OBJECTS_DICT["swish"] = silu
ALL_OBJECTS_DICT["hard_swish"] = hard_silu


def get(identifier):
    """Resolves None, a name or a callable to an activation (``keras.activations.get``).

    Raises:
        ValueError: for an unknown name, as Keras ("Could not interpret activation function identifier").
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = ALL_OBJECTS_DICT.get(identifier)
        if fn is None:
            raise ValueError(f"Could not interpret activation function identifier: {identifier}. "
                             f"Expected one of {sorted(ALL_OBJECTS_DICT)}")
        return fn
    if isinstance(identifier, dict):
        if identifier.get("class_name") not in ("function", None) or not isinstance(identifier.get("config"), str):
            raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")
        return get(identifier["config"])
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(fn):
    """The name Keras stores in a layer config for an activation."""
    name = getattr(fn, "__name__", None)
    if name in ALL_OBJECTS_DICT and ALL_OBJECTS_DICT[name] is fn:
        return name
    return name
