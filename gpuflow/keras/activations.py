"""Activation functions (``keras.activations``) resolved by name as Keras does."""
from __future__ import annotations

from ..ops import nn_ops as _nn, math_ops as _m

__all__ = ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "softplus", "swish", "silu",
           "leaky_relu", "relu6", "log_softmax", "exponential", "get", "serialize"]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """ReLU with Keras 3's optional slope, cap and threshold."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _nn.relu(x)
    y = _m.where(x > threshold, x, negative_slope * (x - threshold)) if negative_slope else \
        _m.where(x > threshold, x, _m.multiply(x, 0.0))
    return _m.minimum(y, float(max_value)) if max_value is not None else y


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
