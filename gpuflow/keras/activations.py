"""Activation functions (``keras.activations``) resolved by name as Keras does."""
from __future__ import annotations

from ..ops import nn_ops as _nn, math_ops as _m
from ..ops.core import convert_to_tensor

__all__ = ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "softplus", "swish", "silu",
           "leaky_relu", "relu6", "log_softmax", "exponential", "get", "serialize"]


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


_BY_NAME = {f.__name__: f for f in (relu, sigmoid, tanh, softmax, log_softmax, linear, elu, selu, softplus, silu,
                                    leaky_relu, relu6, exponential)}
_BY_NAME["swish"] = silu


def get(identifier):
    """Resolves None, a name or a callable to an activation (``keras.activations.get``).

    Raises:
        ValueError: for an unknown name, as Keras ("Could not interpret activation function identifier").
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier)
        if fn is None:
            raise ValueError(f"Could not interpret activation function identifier: {identifier}. "
                             f"Expected one of {sorted(_BY_NAME)}")
        return fn
    if isinstance(identifier, dict) and identifier.get("class_name") in ("function", None):
        return get(identifier.get("config"))
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(fn):
    """The name Keras stores in a layer config for an activation."""
    name = getattr(fn, "__name__", None)
    if name in _BY_NAME and _BY_NAME[name] is fn:
        return name
    return name
