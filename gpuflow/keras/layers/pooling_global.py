"""Global pooling layers (``keras.layers.GlobalAveragePooling1D/2D/3D``, ``GlobalMaxPooling1D/2D/3D``), channels_last.

A global pooling layer reduces every spatial (or time) axis: (batch, h, w, channels) ->
(batch, channels), or (batch, 1, 1, channels) with ``keepdims=True``. Written with the
``reduce_mean``/``reduce_max`` ops (ties of the max share the gradient, as TensorFlow's).
"""
from __future__ import annotations

from ...ops import math_ops as _m
from .base import Layer, InputSpec
from .base_conv import normalize_data_format


class _GlobalPooling(Layer):
    _rank = 2
    _reduce = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def call(self, inputs):
        return type(self)._reduce(inputs, axis=list(range(1, self._rank + 1)), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self._rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        c = super().get_config()
        c.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return c


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width (``keras.layers.GlobalAveragePooling2D``).

    Input (batch, height, width, channels) -> (batch, channels), or (batch, 1, 1, channels)
    with ``keepdims=True``.

    Raises:
        ValueError: an input that is not rank 4.
    """
    _reduce = staticmethod(_m.reduce_mean)


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over height and width (``keras.layers.GlobalMaxPooling2D``); shapes as GlobalAveragePooling2D."""
    _reduce = staticmethod(_m.reduce_max)


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis (``keras.layers.GlobalAveragePooling1D``).

    (batch, steps, features) -> (batch, features), or (batch, 1, features) with ``keepdims``.

    A ``mask`` (batch, steps) passed to the call, or attached to the input by ``Embedding(mask_zero=True)`` or
    ``Masking``, averages only the unmasked steps, as Keras; the output carries no mask.
    """
    _rank = 1
    _reduce = staticmethod(_m.reduce_mean)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        """None: the steps are averaged away (Keras)."""
        return None

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        from ...ops.core import convert_to_tensor
        m = _m.cast(convert_to_tensor(mask), inputs.dtype)[:, :, None]
        total = _m.reduce_sum(inputs * m, axis=1, keepdims=self.keepdims)
        count = _m.reduce_sum(m, axis=1, keepdims=self.keepdims)
        return total / count


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the steps axis (``keras.layers.GlobalMaxPooling1D``)."""
    _rank = 1
    _reduce = staticmethod(_m.reduce_max)


class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over depth, height and width (``keras.layers.GlobalAveragePooling3D``): (batch, d, h, w, channels) ->
    (batch, channels), or (batch, 1, 1, 1, channels) with ``keepdims=True``.

    Raises:
        ValueError: an input that is not rank 5.
    """
    _rank = 3
    _reduce = staticmethod(_m.reduce_mean)


class GlobalMaxPooling3D(_GlobalPooling):
    """Maximum over depth, height and width (``keras.layers.GlobalMaxPooling3D``); shapes as
    GlobalAveragePooling3D."""
    _rank = 3
    _reduce = staticmethod(_m.reduce_max)


GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool3D = GlobalMaxPooling3D
