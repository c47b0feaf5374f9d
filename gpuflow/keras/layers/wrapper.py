"""``keras.layers.Wrapper``: the base of layers that wrap another layer (Keras 3's ``keras/src/layers/core/wrapper.py``).

A subclass defines ``call`` (and usually ``compute_output_shape``) in terms of ``self.layer``; ``Wrapper`` builds
the wrapped layer with the input shape, and serializes it in its config (``{"layer": <serialized layer>}``).
"""
from __future__ import annotations

from .base import Layer
from .rnn import _adopt_paths, _deserialize_layer, _serialize_layer

__all__ = ["Wrapper"]


class Wrapper(Layer):
    """Abstract wrapper base class (``keras.layers.Wrapper(layer)``).

    Raises:
        ValueError: ``layer`` that is not a Layer (Keras's message).
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer type. Please ensure wrapped "
                             f"layer is a valid Keras layer.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer._maybe_build(input_shape)
            _adopt_paths(self, self.layer)
        self.built = True

    def get_config(self):
        c = super().get_config()
        c["layer"] = _serialize_layer(self.layer)
        return c

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = _deserialize_layer(config.pop("layer"), f"{cls.__name__}.from_config")
        dt = config.get("dtype")
        if isinstance(dt, dict):
            config["dtype"] = dt.get("config", {}).get("name", "float32")
        return cls(layer, **config)
