"""Conv2D (``keras.layers.Conv2D``), channels_last."""
from __future__ import annotations

from ...ops import nn_ops as _nn
from .. import activations as _act, constraints as _constraints, initializers as _init
from .. import regularizers as _regularizers
from .base import Layer, InputSpec
from .core import _positive_int


def normalize_tuple(value, n, arg, allow_zero=False):
    """An int or an n-sequence of ints as an n-tuple, validated as Keras does.

    Raises:
        ValueError: naming ``arg`` and showing the value received.
    """
    if isinstance(value, int):
        t = (value,) * n
    else:
        try:
            t = tuple(value)
        except TypeError:
            t = None
        if t is None or len(t) != n or not all(isinstance(v, int) for v in t):
            raise ValueError(f"The `{arg}` argument must be a tuple of {n} integers. Received {arg}={value}")
    lo = 0 if allow_zero else 1
    if any(v < lo for v in t):
        raise ValueError(f"The `{arg}` argument must be a tuple of {n} integers >= {lo}. Received {arg}={value}")
    return t


def normalize_padding(value, layer):
    p = str(value).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be a string, one of 'valid', 'same' (case-insensitive). "
                         f"Received: padding={value!r}")
    return p


def normalize_data_format(value, layer):
    if value not in (None, "channels_last"):
        raise NotImplementedError(f"{layer}: only data_format='channels_last' (NHWC) is supported. "
                                  f"Received: data_format={value!r}")
    return "channels_last"


class Conv2D(Layer):
    """2-D convolution layer (``keras.layers.Conv2D``).

    Input (batch, height, width, channels) -> output (batch, new_height,
    new_width, filters); kernel (kh, kw, channels, filters), bias (filters,).
    Output sizes follow TensorFlow's padding rules (see
    :func:`gpuflow.ops.nn_ops.conv_output_size`). A ReLU activation and the bias
    run fused into the convolution op.

    Raises:
        ValueError: invalid arguments (naming them), or an input that is not
            rank 4 or too small for the kernel.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = _positive_int(filters, "filters", self)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding, self)
        self.data_format = normalize_data_format(data_format, f"Conv2D '{self.name}'")
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if groups != 1:
            raise NotImplementedError(f"Conv2D '{self.name}': groups > 1 is not supported yet. Received: groups={groups}")
        self.groups = 1
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation = _act.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=4)

    def build(self, input_shape):
        self.input_spec = InputSpec(ndim=4)
        self._assert_input_compatibility(tuple(input_shape))
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs should be defined. Received: input_shape={input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (channels, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        fused = "relu" if self.activation is _act.relu else None
        y = _nn.fused_conv2d(inputs, self.kernel, self.bias, self.strides, self.padding.upper(), self.dilation_rate,
                             fused, op=f'Conv2D "{self.name}"')
        return y if fused else self.activation(y)

    def pool_fusion(self, pool_layer):
        """The pooling window if ``self`` then ``pool_layer`` can run as one fused conv+max-pool op, else None.

        Both must be built, of one dtype, and of exactly these classes (not subclasses, not an instance whose
        ``call`` was replaced, as :mod:`gpuflow.parity` does to trace layers), the activation ReLU or linear, and
        the pooling "valid" with its stride equal to its window (the non-overlapping MaxPooling2D(2) of most
        CNNs).
        """
        from .pooling import MaxPooling2D
        if type(self) is not Conv2D or type(pool_layer) is not MaxPooling2D or not (self.built and pool_layer.built):
            return None
        if "call" in vars(self) or "call" in vars(pool_layer) or self.activation not in (_act.relu, _act.linear):
            return None
        if pool_layer.dtype != self.dtype:  # the pooling would cast the conv output to its own dtype
            return None
        if getattr(self, "activity_regularizer", None) is not None or \
                getattr(pool_layer, "activity_regularizer", None) is not None:
            return None  # each needs its own output
        if pool_layer.padding != "valid" or pool_layer.strides != pool_layer.pool_size:
            return None
        return pool_layer.pool_size

    def call_fused_pool(self, inputs, pool_size):
        """``MaxPooling2D(pool_size)(self(inputs))`` through :func:`gpuflow.ops.nn_ops.fused_conv2d_maxpool`.

        The same input conversion and checks as calling the layer; the caller has checked :meth:`pool_fusion`.
        """
        inputs = self._convert_input(inputs)
        self._assert_input_compatibility(tuple(inputs.shape))
        return _nn.fused_conv2d_maxpool(inputs, self.kernel, self.bias, self.strides, self.padding.upper(),
                                        self.dilation_rate, "relu" if self.activation is _act.relu else None,
                                        pool_size, op=f'Conv2D "{self.name}" + MaxPooling2D')

    def compute_output_shape(self, input_shape):
        out = [input_shape[0]]
        for i in range(2):
            size = input_shape[1 + i]
            out.append(None if size is None else _nn.conv_output_size(
                size, self.kernel_size[i], self.strides[i], self.dilation_rate[i], self.padding.upper(),
                f'Conv2D "{self.name}"')[0])
        return tuple(out) + (self.filters,)

    def get_config(self):
        c = super().get_config()
        c.update({"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                  "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                  "groups": self.groups, "activation": _act.serialize(self.activation), "use_bias": self.use_bias,
                  "kernel_initializer": _init.serialize(self.kernel_initializer),
                  "bias_initializer": _init.serialize(self.bias_initializer),
                  "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer),
                  "bias_regularizer": _regularizers.serialize(self.bias_regularizer),
                  "activity_regularizer": _regularizers.serialize(self.activity_regularizer),
                  "kernel_constraint": _constraints.serialize(self.kernel_constraint),
                  "bias_constraint": _constraints.serialize(self.bias_constraint)})
        return c
