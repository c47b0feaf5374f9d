"""What the convolution and pooling layers share: argument checks, the output shape, and :class:`BaseConv`.

:class:`BaseConv` is Keras 3's ``keras.src.layers.convolutional.base_conv.BaseConv``: the arguments every
convolution layer takes (kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
and each weight's initializer, regularizer and constraint), checked once, the build common to all, and
``compute_output_shape`` through :func:`conv_output_shape`, which the pooling layers use too. Layout is
channels_last (NHWC) only.
"""
from __future__ import annotations

from ...ops import nn_ops as _nn
from .. import activations as _act, config as _config, initializers as _init
from .._checks import check_positive_int
from .base import Layer, InputSpec

__all__ = ["BaseConv", "normalize_tuple", "normalize_padding", "normalize_data_format", "conv_output_shape"]


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


def normalize_padding(value):
    """``"valid"`` or ``"same"`` from any case.

    Raises:
        ValueError: any other value, shown.
    """
    p = str(value).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be a string, one of 'valid', 'same' (case-insensitive). "
                         f"Received: padding={value!r}")
    return p


def normalize_data_format(value, layer):
    """``"channels_last"`` for itself, or for None while ``keras.config.image_data_format()`` is "channels_last"
    (its default).

    Raises:
        NotImplementedError: "channels_first", given or taken from ``keras.config.image_data_format()``, naming
            ``layer``.
        ValueError: any other value (Keras's message).
    """
    value = _config.standardize_data_format(value)
    if value != "channels_last":
        raise NotImplementedError(f"{layer}: only data_format='channels_last' (NHWC) is supported. "
                                  f"Received: data_format={value!r}")
    return "channels_last"


def conv_output_shape(input_shape, kernel_size, strides, padding, dilation_rate, channels, op):
    """The output shape of a convolution or pooling window sliding over ``input_shape`` (batch, *spatial,
    channels): each spatial size by :func:`gpuflow.ops.nn_ops.conv_output_size` (TensorFlow's padding
    rules; None stays None), the batch size kept, ``channels`` last.

    Raises:
        ValueError: an input too small for the window (the message names ``op``).
    """
    spatial = [None if size is None else _nn.conv_output_size(size, k, s, d, padding.upper(), op)[0]
               for size, k, s, d in zip(input_shape[1:-1], kernel_size, strides, dilation_rate)]
    return (input_shape[0], *spatial, channels)


class BaseConv(Layer):
    """Base class of the ``rank``-D convolution layers (Keras 3's ``BaseConv``, private there too).

    Args:
        rank: the number of spatial axes (2 for Conv2D).
        filters: the number of output channels, an int >= 1, or None where the layer derives it
            (DepthwiseConv2D).
        kernel_size, strides, dilation_rate: an int or ``rank`` ints >= 1; strides > 1 and dilation_rate > 1
            do not go together (as Keras).
        padding: "valid" or "same", any case.
        data_format: None or "channels_last".
        activation: an activation identifier (None: linear).
        use_bias: whether the layer has a bias.
        activity_regularizer: as :class:`Layer`.
        weight_options: ``{"<weight>_initializer" | "<weight>_regularizer" | "<weight>_constraint": identifier}``
            for each weight in :attr:`weight_names`, stored as attributes of those names.

    Subclasses name their weights in ``weight_names``, their config keys in ``config_keys`` (besides the weight
    options), and create their weights in :meth:`build_weights`.

    Raises:
        ValueError: an invalid argument, naming it and showing the value received.
        NotImplementedError: ``data_format="channels_first"``.
    """

    weight_names = ("kernel", "bias")
    config_keys = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
                   "use_bias")

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, activity_regularizer=None, weight_options=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.rank = rank
        self.filters = None if filters is None else check_positive_int(filters, "filters")
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size")
        self.strides = normalize_tuple(strides, rank, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation = _act.get(activation)
        self.use_bias = use_bias
        options = dict(weight_options or {})
        for key in [k for k in options if k.endswith("_initializer")]:
            setattr(self, key, _init.get(options.pop(key)))
        self._set_weight_options(**options)
        self.input_spec = InputSpec(ndim=rank + 2)

    @property
    def op_name(self):
        """The layer as error messages name it: ``Conv2D "conv2d_1"``."""
        return f'{type(self).__name__} "{self.name}"'

    def build(self, input_shape):
        """Checks the input (rank ``rank + 2``, a known channel count, large enough for the kernel), then
        :meth:`build_weights` for its channel count.

        Raises:
            ValueError: an input of another rank, of unknown channels, or too small for the kernel.
        """
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self._assert_input_compatibility(tuple(input_shape))
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs should be defined. Received: input_shape={input_shape}")
        self.compute_output_shape(input_shape)  # an input too small for the kernel fails here, as in Keras
        self.build_weights(channels)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})
        self.built = True

    def kernel_shape(self, channels):
        """The kernel's shape for ``channels`` input channels: ``kernel_size + (channels, filters)`` (Keras's
        layout; the transposed convolutions swap the last two)."""
        return self.kernel_size + (channels, self.filters)

    def build_weights(self, channels):
        """Creates the layer's weights for ``channels`` input channels: ``kernel`` of :meth:`kernel_shape` and,
        with ``use_bias``, ``bias`` of shape (filters,) (the depthwise layers override this)."""
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_shape(channels),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def output_channels(self, input_channels):
        """The number of output channels for ``input_channels`` (``filters`` here)."""
        return self.filters

    def compute_output_shape(self, input_shape):
        return conv_output_shape(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate,
                                 self.output_channels(input_shape[-1]), self.op_name)

    def get_config(self):
        c = super().get_config()
        c.update({k: _act.serialize(self.activation) if k == "activation" else getattr(self, k)
                  for k in self.config_keys})
        names = self.weight_names
        c.update({f"{n}_initializer": _init.serialize(getattr(self, f"{n}_initializer")) for n in names})
        c.update(self._weight_options_config(*[f"{n}_regularizer" for n in names], "activity_regularizer",
                                             *[f"{n}_constraint" for n in names]))
        return c
