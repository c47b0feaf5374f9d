"""``keras.layers.Lambda``: wraps a Python function as a layer.

Saving writes Keras 3's config (a Python lambda as ``{"class_name": "__lambda__", "config": {"code": <base64
marshalled bytecode>, "defaults", "closure"}}``, as ``keras.src.utils.python_utils.func_dump``), so Keras can
read a gpuflow file. Loading a Lambda layer from a file is refused (Keras refuses it unless
``safe_mode=False``; gpuflow refuses it in both modes, see :mod:`gpuflow.keras.saving.serialization`):
rebuild the model in code and load its weights.
"""
from __future__ import annotations

import codecs
import inspect
import marshal
import types

from .base import Layer


def _is_lambda(fn):
    return isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>"


def _function_config(fn):
    """Keras's ``Lambda._serialize_function_to_config``."""
    if _is_lambda(fn):
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        return {"class_name": "__lambda__",
                "config": {"code": codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii"),
                           "defaults": fn.__defaults__, "closure": closure}}
    if callable(fn):
        from ..saving.serialization import serialize_keras_object
        return serialize_keras_object(fn)
    raise ValueError(f"Invalid input type for serialization. Received: {fn} of type {type(fn)}.")


class Lambda(Layer):
    """Runs ``function(inputs, **arguments)`` as a layer (``keras.layers.Lambda``).

    Args:
        function: a callable taking the input tensor(s) (and ``mask`` / ``training`` if it names them).
        output_shape: the output shape without the batch axis, or a callable ``input_shape -> output_shape``;
            by default found by running ``function`` on zeros.
        mask: None, a mask to attach to the output, or a callable ``(inputs, mask) -> mask``.
        arguments: extra keyword arguments for ``function``.

    The layer has no weights; variables created inside ``function`` are not tracked (as Keras warns).

    Raises:
        TypeError: ``function`` not callable.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable. Received: function={function!r}")
        super().__init__(**kwargs)
        self.function, self.arguments, self.mask = function, dict(arguments or {}), mask
        self.supports_masking = mask is not None
        self._output_shape = tuple(output_shape) if isinstance(output_shape, list) else output_shape
        try:
            names = inspect.signature(function).parameters
        except (TypeError, ValueError):
            names = {}
        self._fn_expects_training_arg = "training" in names
        self._fn_expects_mask_arg = "mask" in names
        self.built = True

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, previous_mask):
        return self.mask(inputs, previous_mask) if callable(self.mask) else self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + tuple(self._output_shape)

    def get_config(self):
        c = super().get_config()
        c["function"] = _function_config(self.function)
        if self._output_shape is not None:
            c["output_shape"] = _function_config(self._output_shape) if callable(self._output_shape) \
                else self._output_shape
        if self.mask is not None:
            c["mask"] = _function_config(self.mask) if callable(self.mask) else self.mask
        c["arguments"] = self.arguments
        return c
