"""``keras.layers.Embedding``: integer indices -> dense vectors."""
from __future__ import annotations

import numpy as np

from ...ops import array_ops as _a, math_ops as _m
from ...ops.core import convert_to_tensor
from ...tensor import Tensor
from .. import initializers as _init
from .base import Layer


class Embedding(Layer):
    """Turns indices into rows of an (input_dim, output_dim) table (``keras.layers.Embedding``).

    Input (batch, ...) of integer indices in ``[0, input_dim)`` -> (batch, ..., output_dim). The
    table is the weight ``embeddings`` (initializer ``"uniform"``: U(-0.05, 0.05), as Keras). Its
    gradient is dense: rows not looked up get zeros.

    Inputs are not cast to the layer dtype (``_cast_inputs = False``). Float inputs holding whole
    numbers are accepted and cast to int32, as Keras casts them; any other float value is an error
    here (Keras would truncate it silently).

    Raises:
        ValueError: ``input_dim``/``output_dim`` not positive integers (Keras's message); a
            non-integral float input.
        IndexError: an index outside ``[0, input_dim)``, naming the layer and the index.
        NotImplementedError: LoRA or quantization.

    With ``mask_zero=True`` index 0 is padding: the output carries the mask ``inputs != 0`` (bool, the input's
    shape), which the layers called next receive (RNNs skip the masked steps, GlobalAveragePooling1D leaves them
    out, losses and metrics weigh them 0), as in Keras; ``input_dim`` then still counts index 0.
    """

    _cast_inputs = False

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, activity_regularizer=None, input_length=None, **kwargs):
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={v} "
                                 f"(of type {type(v).__name__}).")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._set_weight_options(embeddings_regularizer=embeddings_regularizer,
                                 embeddings_constraint=embeddings_constraint)
        for arg, v in (("lora_rank", lora_rank), ("quantization_config", quantization_config)):
            if v is not None:
                raise NotImplementedError(f"Embedding: `{arg}` is not supported yet. Received: {arg}={v!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        if isinstance(embeddings_initializer, str) and embeddings_initializer in ("uniform", "normal"):
            # Keras's short aliases (not in initializers.get): RandomUniform / RandomNormal with defaults
            embeddings_initializer = "random_" + embeddings_initializer
        self.embeddings_initializer = _init.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        if weights is not None:
            self.build()
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim), name="embeddings",
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True

    def _indices(self, inputs):
        """The indices to look up (int Tensor): float inputs cast after a check that they hold whole numbers,
        and a check that every index lies in ``[0, input_dim)``; inside a training step on CUDA both are checked
        on the device and reported at the next host contact (``array_ops.check_on_device``)."""
        x = inputs if isinstance(inputs, Tensor) else convert_to_tensor(np.asarray(inputs))
        if x.dtype.is_floating:
            a, xp = x._data, x._backend.xp
            _a.check_on_device(x._backend, f"Embedding '{self.name}': integer indices", a,
                               ~xp.isfinite(a) | (a != xp.round(a)), lambda bad, where: ValueError(
                                   f"Embedding '{self.name}' expects integer indices. Received: a {x.dtype.name} "
                                   f"input with the non-integer value {bad} (shape={tuple(x.shape)}){where}."))
            x = _m.cast(x, "int32")
        elif not x.dtype.is_integer:
            raise TypeError(f"Embedding '{self.name}' expects integer indices. Received: dtype={x.dtype.name}")
        return _a.checked_indices(x, self.input_dim, lambda bad, where: IndexError(
            f"Embedding '{self.name}': indices must be in [0, {self.input_dim}) (input_dim). "
            f"Received: an index {bad} (input shape={tuple(x.shape)}){where}."))

    def call(self, inputs):
        return _a.getitem(self.embeddings, self._indices(inputs))  # checked: gather's own check not repeated

    def compute_mask(self, inputs, previous_mask=None):
        """``inputs != 0`` with ``mask_zero=True`` (Keras's rule), else None."""
        if not self.mask_zero:
            return None
        return _m.not_equal(inputs if isinstance(inputs, Tensor) else convert_to_tensor(np.asarray(inputs)), 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        c = super().get_config()
        c.update({"input_dim": self.input_dim, "output_dim": self.output_dim,
                  "embeddings_initializer": _init.serialize(self.embeddings_initializer),
                  **self._weight_options_config("embeddings_regularizer", "activity_regularizer",
                                                "embeddings_constraint"),
                  "mask_zero": self.mask_zero, "quantization_config": None})
        return c
