"""Checks of numeric hyperparameters, shared by the optimizers, the layers and ``fit``: a bad value fails at
construction, naming the argument and showing the value received (Keras style), rather than training into NaN."""
from __future__ import annotations

import math

import numpy as np


def check_real(value, arg, low=None, high=None, low_open=False, high_open=False, owner=None):
    """``value`` as a float when it is a finite real number in the interval, else an error naming ``arg``.

    Python and NumPy numbers and scalar Tensors are accepted; bools, strings, NaN and infinities never are.

    Args:
        value: the value received.
        arg: the argument's name, for the message.
        low, high: the bounds (None: unbounded on that side).
        low_open, high_open: whether the bound itself is excluded.
        owner: the class or function the argument belongs to ("Adam"), prefixed to the message.

    Raises:
        ValueError: ``value`` is not such a number.
    """
    number = None
    if not isinstance(value, (bool, str, bytes)) and hasattr(value, "__float__"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
    ok = number is not None and math.isfinite(number)
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number < high if high_open else number <= high
    if not ok:
        if low is not None and high is not None:
            bounds = f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        elif low is not None:
            bounds = f" {'>' if low_open else '>='} {low}"
        else:
            bounds = ""
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}Argument `{arg}` must be a finite number{bounds}. Received: {arg}={value!r}")
    return number


def check_positive_int(value, arg):
    """``value`` as an int when it is a Python or NumPy integer >= 1 (not a bool), else an error naming ``arg``.

    Raises:
        ValueError: any other value, shown.
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Received an invalid value for `{arg}`, expected a positive integer. "
                         f"Received: {arg}={value}")
    return int(value)
