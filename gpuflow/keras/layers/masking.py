"""``keras.layers.Masking``: marks the time steps whose features all equal ``mask_value`` as padding."""
from __future__ import annotations

from ...ops import math_ops as _m
from .base import Layer
from .mask_utils import set_keras_mask


class Masking(Layer):
    """Masks the steps of a sequence whose every feature equals ``mask_value`` (``keras.layers.Masking``).

    Input (batch, steps, features) -> the same, with the masked steps set to 0 and the mask
    ``any(inputs != mask_value, axis=-1)`` (bool, (batch, steps)) attached for the layers called next (RNNs
    skip those steps, GlobalAveragePooling1D leaves them out, losses and metrics weigh them 0), as Keras.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def _keep(self, inputs):
        return _m.reduce_any(_m.not_equal(inputs, self.mask_value), axis=-1)

    def compute_mask(self, inputs, previous_mask=None):
        return self._keep(inputs)

    def call(self, inputs):
        keep = self._keep(inputs)
        outputs = inputs * _m.cast(keep, inputs.dtype)[..., None]
        return set_keras_mask(outputs, keep)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c["mask_value"] = self.mask_value
        return c
