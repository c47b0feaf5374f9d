"""Learning-rate schedules (``keras.optimizers.schedules``), with Keras 3's formulas.

A schedule is called with the optimizer's step (``optimizer.iterations``, 0-based) and returns the
learning rate; pass one as ``learning_rate`` to any optimizer.

Called with a Python number, a schedule computes on the host in Python floats and returns a float. Called with
a scalar Tensor (the optimizer passes its ``iterations`` so on a backend that keeps training steps on the device,
CUDA), it computes with the tensor's backend arrays in float64, with the same formula, and returns a float32
scalar Tensor on that device: no host contact.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops.core import wrap
from ..tensor import Tensor

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay", "InverseTimeDecay",
           "PolynomialDecay"]


class _HostMath:
    """A schedule's scalar math on the host: Python floats."""
    floor, ceil, cos, minimum = (staticmethod(f) for f in (math.floor, math.ceil, math.cos, min))

    @staticmethod
    def where(cond, a, b):
        return a if cond else b

    @staticmethod
    def result(value):
        return value


class _DeviceMath:
    """A schedule's scalar math on the device of the step Tensor ``like``: its backend's float64 arrays."""

    def __init__(self, like):
        self.like, xp = like, like.backend.xp
        self.floor, self.ceil, self.cos, self.minimum, self.where = xp.floor, xp.ceil, xp.cos, xp.minimum, xp.where

    def result(self, value):
        return wrap(self.like.backend.xp.asarray(value, dtype=np.float32), self.like)


def _step_math(step):
    """``(step as a float, the math to compute with)``: float64 device arrays for a Tensor, else Python floats."""
    if isinstance(step, Tensor):
        return step._data.astype(np.float64), _DeviceMath(step)
    return float(step), _HostMath


def _check_decay_steps(decay_steps):
    if decay_steps <= 0:
        raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step) -> float`` (a float32 scalar Tensor for a Tensor step)
    and ``get_config``."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _RateDecay(LearningRateSchedule):
    """The schedules of ``initial_learning_rate``, ``decay_rate`` and the progress ``p = step / decay_steps``
    (floored if ``staircase``): subclasses give ``_decay(p)``; the arguments, checks and config are shared."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        step, m = _step_math(step)
        p = step / self.decay_steps
        if self.staircase:
            p = m.floor(p)
        return m.result(self._decay(p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent floored if ``staircase``).

    Raises:
        ValueError: ``decay_steps`` <= 0.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decay(self, p):
        return self.initial_learning_rate * self.decay_rate ** p


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` for ``step <= boundaries[0]``, ``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``,
    ``values[-1]`` after the last boundary.

    Raises:
        ValueError: ``len(values) != len(boundaries) + 1``.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length "
                             f"{len(values)}.")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        step, m = _step_math(step)
        out = self.values[-1]
        for b, v in zip(self.boundaries[::-1], self.values[-2::-1]):
            out = m.where(step <= b, v, out)  # the first boundary at or above the step wins
        return m.result(out)

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warm-up to ``warmup_target`` over ``warmup_steps``, then cosine decay over ``decay_steps``
    to ``alpha`` times the peak (Loshchilov & Hutter 2017, SGDR; Keras 3's CosineDecay)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha, self.name = (
            initial_learning_rate, decay_steps, alpha, name)
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def __call__(self, step):
        step, m = _step_math(step)
        peak = self.initial_learning_rate if self.warmup_target is None else self.warmup_target
        warmup_steps = 0 if self.warmup_target is None else self.warmup_steps  # Keras: no warm-up, no offset
        t = m.minimum(step - warmup_steps, self.decay_steps) / self.decay_steps
        decayed = peak * ((1 - self.alpha) * 0.5 * (1 + m.cos(math.pi * t)) + self.alpha)
        if self.warmup_target is None:
            return m.result(decayed)
        warm = self.initial_learning_rate + (peak - self.initial_learning_rate) * step / (self.warmup_steps or 1)
        return m.result(m.where(step < self.warmup_steps, warm, decayed))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the quotient floored if ``staircase``),
    Keras 3's ``InverseTimeDecay``.

    Raises:
        ValueError: ``decay_steps`` <= 0.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decay(self, p):
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class PolynomialDecay(LearningRateSchedule):
    """``(initial_learning_rate - end_learning_rate) * (1 - step / decay_steps) ** power + end_learning_rate``
    with the step capped at ``decay_steps``, or, with ``cycle``, ``decay_steps`` scaled to the first multiple at or
    above the step (Keras 3's ``PolynomialDecay``).

    Raises:
        ValueError: ``decay_steps`` <= 0.
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps, self.end_learning_rate = (
            initial_learning_rate, decay_steps, end_learning_rate)
        self.power, self.cycle, self.name = power, cycle, name

    def __call__(self, step):
        step, m = _step_math(step)
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps = decay_steps * m.where(step == 0, 1.0, m.ceil(step / self.decay_steps))
        else:
            step = m.minimum(step, decay_steps)
        p = step / decay_steps
        return m.result((self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power
                        + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}
