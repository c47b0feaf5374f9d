"""Core layers: InputLayer/Input, Dense, Activation, Flatten, Dropout, ReLU, Softmax, Identity (Keras 3 arguments)."""
from __future__ import annotations

import numpy as np

from ...ops import nn_ops as _nn, array_ops as _a, math_ops as _m
from .. import activations as _act, constraints as _constraints, initializers as _init
from .. import config as _config, regularizers as _regularizers
from .._checks import check_positive_int
from ...ops.core import convert_to_tensor
from .base import Layer, InputSpec, KerasTensor, batch_shape_of, standardize_shape


class InputLayer(Layer):
    """The entry point of a model (``keras.layers.InputLayer``).

    Args:
        shape: input shape without the batch axis: ints >= 0, or None for an unknown size.
        batch_size: optional fixed batch size.
        dtype: input dtype (float32 by default).
        batch_shape: full shape including the batch axis (instead of shape/batch_size).
        name: layer name ("input_layer" by default).

    Raises:
        ValueError: a negative, float or string dimension (Keras's ``standardize_shape``), or both ``shape`` and
            ``batch_shape`` (or ``batch_size`` and ``batch_shape``) given, as Keras.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, input_tensor=None,
                 optional=False, name=None, input_shape=None, ragged=False, **kwargs):
        if sparse or ragged or optional or input_tensor is not None:
            raise NotImplementedError("InputLayer: sparse, ragged and optional inputs and input_tensor are not "
                                      "supported yet.")
        if shape is None and input_shape is not None:
            shape = input_shape
        super().__init__(name=name, dtype=dtype or _config.floatx(), **kwargs)  # Keras: floatx, not the global policy
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time. "
                             f"Received: shape={shape}, batch_shape={batch_shape}")
        if batch_size is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `batch_size` and `batch_shape` at the same time. "
                             f"Received: batch_size={batch_size}, batch_shape={batch_shape}")
        if batch_shape is None:
            if shape is None:
                raise ValueError("You must pass a `shape` argument to InputLayer (or `batch_shape`).")
            self.batch_shape = batch_shape_of(shape, batch_size)
        else:
            self.batch_shape = standardize_shape(batch_shape, "batch_shape")
        self._batch_input_shape = self.batch_shape
        self.built = True
        self._first_node = ([], KerasTensor(self.batch_shape, self.dtype, name=self.name, history=(self, None)))

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):
    """A symbolic input (``keras.Input``): a KerasTensor of shape ``(batch_size, *shape)``."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name).output


class Dense(Layer):
    """Densely-connected layer: ``activation(inputs @ kernel + bias)`` (``keras.layers.Dense``).

    Input (batch, ..., input_dim) -> output (batch, ..., units); kernel
    (input_dim, units), bias (units,). A ReLU activation runs fused into the
    GEMM epilogue (the ``dense`` primitive).
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.supports_masking = True  # Keras: the input's mask passes through
        self.units = check_positive_int(units, "units")
        self.activation = _act.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        if lora_rank is not None:
            raise NotImplementedError(f"Dense: `lora_rank` is not supported yet. Received: lora_rank={lora_rank!r}")
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f'Layer "{self.name}": the last dimension of the input must be known. '
                             f"Received: input_shape={input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(input_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs):
        fused = "relu" if self.activation is _act.relu else None
        x = inputs
        lead = tuple(x.shape[:-1])
        if x.ndim != 2:
            x = _a.reshape(x, (-1, x.shape[-1]))
        y = _nn.fused_dense(x, self.kernel, self.bias, fused, op=f'Dense "{self.name}"')
        if len(lead) != 1:
            y = _a.reshape(y, lead + (self.units,))
        return y if fused else self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        c = super().get_config()
        c.update({"units": self.units, "activation": _act.serialize(self.activation), "use_bias": self.use_bias,
                  "kernel_initializer": _init.serialize(self.kernel_initializer),
                  "bias_initializer": _init.serialize(self.bias_initializer),
                  "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer),
                  "bias_regularizer": _regularizers.serialize(self.bias_regularizer),
                  "kernel_constraint": _constraints.serialize(self.kernel_constraint),
                  "bias_constraint": _constraints.serialize(self.bias_constraint)})
        return c


class Activation(Layer):
    """Applies an activation function (``keras.layers.Activation``)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # Keras: the input's mask passes through
        self.activation = _act.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c["activation"] = _act.serialize(self.activation)
        return c


class ReLU(Layer):
    """``keras.layers.ReLU(max_value=None, negative_slope=0.0, threshold=0.0)``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # Keras: the input's mask passes through
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value of a ReLU layer cannot be a negative value. Received: max_value={max_value}")
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"negative_slope of a ReLU layer cannot be a negative value. "
                             f"Received: negative_slope={negative_slope}")
        if threshold is None or threshold < 0:
            raise ValueError(f"threshold of a ReLU layer cannot be a negative value. Received: threshold={threshold}")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs):
        return _act.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c.update({"max_value": self.max_value, "negative_slope": self.negative_slope, "threshold": self.threshold})
        return c


class Softmax(Layer):
    """``keras.layers.Softmax(axis=-1)``."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        # as Keras 3: masked positions get -1e9 (-3e4 in float16, which -1e9 overflows) before the softmax, 0 after
        if mask is not None:
            m = _m.cast(convert_to_tensor(mask), inputs.dtype)
            inputs = inputs + (1.0 - m) * (-3e4 if inputs.dtype.name == "float16" else -1e9)
        if isinstance(self.axis, (tuple, list)) and len(self.axis) > 1:
            out = _m.exp(inputs - _m.reduce_logsumexp(inputs, axis=tuple(self.axis), keepdims=True))
        else:
            axis = self.axis[0] if isinstance(self.axis, (tuple, list)) else self.axis
            out = _nn.softmax(inputs, axis=axis)
        return out * m if mask is not None else out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c["axis"] = self.axis
        return c


class Flatten(Layer):
    """Flattens all axes but the batch axis (``keras.layers.Flatten``)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"Flatten: only data_format='channels_last' is supported. "
                                      f"Received: data_format={data_format!r}")
        self.data_format = "channels_last"
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        # The flattened size comes from the non-batch axes, as Keras's (-1, prod(non_batch)): it is then
        # defined for an empty batch too, where a (batch, -1) reshape cannot infer it.
        return _a.reshape(inputs, (inputs.shape[0], int(np.prod(inputs.shape[1:], dtype=np.int64))))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        n = None if any(d is None for d in rest) else int(np.prod(rest)) if rest else 1
        return (input_shape[0], n)

    def get_config(self):
        c = super().get_config()
        c["data_format"] = self.data_format
        return c


class Dropout(Layer):
    """Randomly zeroes inputs at ``rate`` during training, scaling the rest by 1/(1-rate)
    (``keras.layers.Dropout``); the identity at inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # Keras: the input's mask passes through
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        # a seeded layer draws a reproducible sequence of masks (Keras's SeedGenerator), not one fixed mask
        self._seed_rng = np.random.default_rng(seed) if seed is not None else None

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return _m.multiply(inputs, 0.0)
        shape = self._noise_shape_of(inputs)
        op_seed = None if self._seed_rng is None else int(self._seed_rng.integers(0, 2 ** 31 - 1))
        return _nn.dropout(inputs, self.rate, noise_shape=shape, seed=op_seed)

    def _noise_shape_of(self, inputs):
        """The dropout mask's shape for ``inputs``: ``noise_shape`` with None entries taken from the input."""
        if self.noise_shape is None:
            return None
        return tuple(d if d is not None else s for d, s in zip(self.noise_shape, inputs.shape))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return c


class Identity(Layer):
    """Returns its input unchanged, mask included (``keras.layers.Identity``): a placeholder layer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
