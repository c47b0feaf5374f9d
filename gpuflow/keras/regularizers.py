"""Weight and activity regularizers (``keras.regularizers``), as Keras 3 defines them.

A regularizer maps a tensor to a scalar penalty that training adds to the loss:

* ``L1(l1=0.01)``: ``l1 * sum(abs(x))``;
* ``L2(l2=0.01)``: ``l2 * sum(square(x))``;
* ``L1L2(l1=0.0, l2=0.0)``: both terms (a zero factor's term is left out);
* ``OrthogonalRegularizer(factor=0.01, mode="rows")``: ``factor`` times the mean absolute cosine between distinct
  rows (or columns) of a 2-D weight.

Layers take them as ``kernel_regularizer=``, ``bias_regularizer=`` (penalties on the weights, recomputed each time
``layer.losses`` is read, for trainable weights only) and ``activity_regularizer=`` (a penalty on the layer's
output, divided by the batch size, added on each call), by object, class, name (``"l1"``, ``"l2"``, ``"l1l2"``, or
the class names) or config dict. Any callable taking a tensor and returning a scalar also works.

Raises:
    ValueError: a negative, infinite or non-numeric factor, or an identifier that names no regularizer
    (Keras's messages).
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import math_ops as _m
from ..ops.core import convert_to_tensor
from ._identifiers import identifier_api

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2", "orthogonal_regularizer",
           "get", "serialize", "deserialize"]


def validate_float_arg(value, name):
    """A non-negative finite float, or Keras's ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (float, int)) or math.isinf(value) or math.isnan(value) \
            or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(x)`` returns a scalar penalty; ``get_config``/``from_config`` round-trip it."""

    def __call__(self, x):
        return 0.0

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")


def _scaled(factor, total):
    return _m.multiply(convert_to_tensor(factor, dtype=total.dtype), total)


class L1L2(Regularizer):
    """``l1 * sum(abs(x)) + l2 * sum(square(x))``; a zero factor's term is left out."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x):
        x = convert_to_tensor(x)
        penalty = convert_to_tensor(0.0, dtype=x.dtype)
        if self.l1:
            penalty = penalty + _scaled(self.l1, _m.reduce_sum(_m.abs(x)))
        if self.l2:
            penalty = penalty + _scaled(self.l2, _m.reduce_sum(_m.square(x)))
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(abs(x))``."""

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, name="l1")

    def __call__(self, x):
        x = convert_to_tensor(x)
        return _scaled(self.l1, _m.reduce_sum(_m.abs(x)))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(square(x))``."""

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x):
        x = convert_to_tensor(x)
        return _scaled(self.l2, _m.reduce_sum(_m.square(x)))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns (``"columns"``) of a 2-D weight towards orthogonality
    (``keras.regularizers.OrthogonalRegularizer(factor=0.01, mode="rows")``).

    As Keras 3: the rows (columns) are L2-normalized (``ops.normalize``, epsilon 1e-7), and the penalty is
    ``factor * 0.5 * sum(|P - diag(P)|) / (n * (n - 1) / 2)`` with ``P`` their (n, n) Gram matrix: ``factor`` times
    the mean absolute cosine between distinct rows (columns).

    Raises:
        ValueError: a negative or non-numeric ``factor``, a ``mode`` other than "rows"/"columns", or (at call) an
            input that is not rank 2 (Keras's messages).
    """

    def __init__(self, factor=0.01, mode="rows"):
        # Keras keeps the factor as a float32 tensor: its config (and the penalty) see float32(factor)
        self.factor = float(np.float32(validate_float_arg(factor, name="factor")))
        if mode not in {"rows", "columns"}:
            raise ValueError(f'Invalid value for argument `mode`. Expected one of {{"rows", "columns"}}. '
                             f"Received: mode={mode}")
        self.mode = mode

    def __call__(self, inputs):
        from ..ops.array_ops import transpose
        x = convert_to_tensor(inputs)
        if x.ndim != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={x.shape}")
        if self.mode == "columns":
            x = transpose(x)
        inv_norm = _m.rsqrt(_m.reduce_sum(_m.square(x), axis=1, keepdims=True))
        x = x * _m.minimum(inv_norm, 1e7)
        product = _m.matmul(x, x, transpose_b=True)
        size = x.shape[0]
        off_diagonal = product * convert_to_tensor(1.0 - np.eye(size), dtype=x.dtype)
        return _scaled(self.factor * 0.5 / (size * (size - 1.0) / 2.0), _m.reduce_sum(_m.abs(off_diagonal)))

    def get_config(self):
        return {"factor": float(self.factor), "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer  # Keras's lower-case aliases
_BY_NAME = {"Regularizer": Regularizer, "L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1l2": L1L2,
            "regularizer": Regularizer, "OrthogonalRegularizer": OrthogonalRegularizer,
            "orthogonal_regularizer": OrthogonalRegularizer}


get, serialize, deserialize = identifier_api("regularizer", "keras.regularizers", _BY_NAME)
