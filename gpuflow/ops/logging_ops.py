"""``tf.print``: values printed as TensorFlow prints them (NumPy-like nesting, no commas, long axes summarized)."""
from __future__ import annotations

import sys

import numpy as np

from ..tensor import Tensor

__all__ = ["print"]


def _element(v):
    if v.dtype == np.bool_:
        return "1" if v else "0"
    if v.dtype.kind == "f":  # absl's SimpleFtoa/SimpleDtoa, as TF: 6 (15) digits if they read back, else 9 (17)
        short, full, kind = (15, 17, np.float64) if v.dtype == np.float64 else (6, 9, np.float32)
        text = f"{float(v):.{short}g}"
        return text if kind(text) == kind(v) or v != v else f"{float(v):.{full}g}"
    return str(v)


def _format_array(a, summarize, indent=0):
    if a.ndim == 0:
        return _element(a[()])
    n = a.shape[0]
    cut = summarize is not None and 0 <= summarize and 2 * summarize < n
    picks = list(range(summarize)) + [None] + list(range(n - summarize, n)) if cut else list(range(n))
    if a.ndim == 1:
        return "[" + " ".join("..." if i is None else _element(a[i]) for i in picks) + "]"
    sep = "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join("..." if i is None else _format_array(a[i], summarize, indent + 1) for i in picks) + "]"


def _format(value, summarize):
    if isinstance(value, Tensor):
        return _format_array(value.numpy(), summarize)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_format(v, summarize) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_format(v, summarize)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return value
    return repr(value) if isinstance(value, np.ndarray) else str(value)


def print(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):  # noqa: A001 - TF's name
    """Prints ``inputs`` to ``output_stream`` (``tf.print``; default ``sys.stderr``, as TensorFlow).

    Tensors print like NumPy arrays without commas, booleans as 1/0, floats as TensorFlow writes them (6
    significant digits when they read back as the same float32, else 9; 15 or 17 for float64); an axis longer
    than ``2 * summarize`` shows its first and last ``summarize`` entries around ``...`` (``summarize`` None or
    -1: everything). Strings print as they are; lists, tuples and dicts of tensors print with the tensors
    formatted.

    Args:
        *inputs: the values.
        output_stream: a file-like object (``sys.stdout`` / ``sys.stderr``), or a ``"file://path"`` string
            (appended to, as TensorFlow).
        summarize, sep, end: as above / as Python's ``print``.
    """
    text = sep.join(_format(v, -1 if summarize is None else summarize) for v in inputs) + end
    if isinstance(output_stream, str):
        if not output_stream.startswith("file://"):
            raise ValueError(f"output_stream must be sys.stdout, sys.stderr or a 'file://' path. "
                             f"Received: output_stream={output_stream!r}")
        with open(output_stream[len("file://"):], "a") as f:
            f.write(text)
        return
    stream = sys.stderr if output_stream is None else output_stream
    stream.write(text)
