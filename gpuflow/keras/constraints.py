"""Weight constraints (``keras.constraints``), as Keras 3 defines them.

A constraint is a projection the optimizer applies to a weight after each update
(``optimizer.apply_gradients`` assigns ``constraint(w)``):

* ``MaxNorm(max_value=2, axis=0)``: ``w * clip(n, 0, max_value) / (eps + n)``;
* ``MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)``:
  ``w * (rate * clip(n, min_value, max_value) + (1 - rate) * n) / (eps + n)``;
* ``UnitNorm(axis=0)``: ``w / (eps + n)``;
* ``NonNeg()``: ``maximum(w, 0)``;

where ``n = sqrt(sum(w ** 2, axis, keepdims=True))`` and ``eps = 1e-7`` (Keras's ``backend.epsilon()``).
Dense and Conv2D take them as ``kernel_constraint=`` / ``bias_constraint=``, by object, class, name
(``"max_norm"``, ``"non_neg"``, ``"unit_norm"``, ``"min_max_norm"`` or the class names) or config dict; any
callable mapping a tensor to a tensor of its shape also works.

Raises:
    ValueError: ``Could not interpret constraint identifier: ...`` for an unknown identifier (Keras's message).
"""
from __future__ import annotations

from ..ops import math_ops as _m
from ..ops.core import convert_to_tensor
from ._identifiers import identifier_api

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm", "non_neg",
           "unit_norm", "get", "serialize", "deserialize"]

EPSILON = 1e-7


def _norms(w, axis):
    return _m.sqrt(_m.reduce_sum(_m.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (unchanged here)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescales each weight vector along ``axis`` whose norm exceeds ``max_value`` down to it."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        n = _norms(w, self.axis)
        return w * (_m.clip_by_value(n, 0.0, float(self.max_value)) / (EPSILON + n))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each weight vector's norm ``rate`` of the way into ``[min_value, max_value]``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        n = _norms(w, self.axis)
        desired = self.rate * _m.clip_by_value(n, float(self.min_value), float(self.max_value)) + (1 - self.rate) * n
        return w * (desired / (EPSILON + n))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        return _m.maximum(convert_to_tensor(w), 0.0)


class UnitNorm(Constraint):
    """Scales each weight vector along ``axis`` to unit norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        return w / (EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm  # Keras's aliases
_BY_NAME = {"Constraint": Constraint, "MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg,
            "UnitNorm": UnitNorm, "constraint": Constraint, "max_norm": MaxNorm, "min_max_norm": MinMaxNorm,
            "non_neg": NonNeg, "unit_norm": UnitNorm}


get, serialize, deserialize = identifier_api("constraint", "keras.constraints", _BY_NAME)
