"""The fusion planner: which layers of a model run together as one fused op.

Layers know nothing of fusion. A model (:class:`~gpuflow.keras.models.Sequential` or the functional
``Model``) describes its steps to :func:`plan` -- the layer of each step and which step alone reads each
step's output -- and runs the pairs it returns with :func:`call_pair`. The one pattern today is a Conv2D
whose output only a MaxPooling2D reads, run as :func:`gpuflow.ops.nn_ops.fused_conv2d_maxpool` (same
result and gradients; the full-size convolution output is never stored). A pair fuses when (see
:func:`fusable`):

* the layers are exactly ``Conv2D`` then ``MaxPooling2D`` (a subclass may override ``call``), both
  built and of one dtype (else the pooling would cast the convolution's output to its own), neither
  with an ``activity_regularizer`` (each needs its own output), and the convolution's policy is not a
  mixed one (its call would read its float32 weights in the compute dtype; the fused op does not yet);
* the convolution's activation is ReLU or linear (both commute with max);
* the pooling is "valid" with ``strides == pool_size`` (non-overlapping windows, as MaxPooling2D(2));
* fusion is on: ``GPUFLOW_FUSION`` is not ``"0"``, and no :func:`gpuflow.keras.layers.base.call_hook`
  is active (a hook, as :mod:`gpuflow.parity` uses, must see every layer's output).

At run time the pair runs fused only on the input the convolution was built for (a Tensor of its dtype,
rank 4, its channel count); any other input goes through the two layers' own calls, which convert it or
raise their errors.
"""
from __future__ import annotations

import os

from ..ops import nn_ops as _nn
from ..tensor import Tensor
from . import activations as _act
from .layers.base import call_hooks_active
from .layers.conv import Conv2D
from .layers.pooling import MaxPooling2D

__all__ = ["enabled", "fusable", "plan", "call_pair"]


def enabled():
    """Whether models fuse now: ``GPUFLOW_FUSION`` is not ``"0"`` and no layer call hook is active."""
    return os.environ.get("GPUFLOW_FUSION", "1") != "0" and not call_hooks_active()


def fusable(first, second):
    """Whether layer ``first`` then layer ``second`` (reading only ``first``'s output) may run as one
    fused op, by the rules in the module docstring (``enabled()`` aside)."""
    if type(first) is not Conv2D or type(second) is not MaxPooling2D or not (first.built and second.built):
        return False
    if first.activation not in (_act.relu, _act.linear) or first.compute_dtype != second.compute_dtype \
            or first.compute_dtype != first.variable_dtype:
        return False
    if first.activity_regularizer is not None or second.activity_regularizer is not None:
        return False
    return second.padding == "valid" and second.strides == second.pool_size


def plan(layers, readers):
    """Which steps of a model run fused with the step that reads them.

    Args:
        layers: the layer of each step, in execution order.
        readers: ``{i: j}`` for each step i whose output is read by step j alone, as j's only input, and
            is needed nowhere else (not a model output): in a Sequential model ``{i: i + 1}``.

    Returns:
        ``{i: j}``: step i runs fused with step j through :func:`call_pair`, and step j is skipped.
        Empty when fusion is off (see :func:`enabled`).
    """
    if not enabled():
        return {}
    return {i: j for i, j in readers.items() if fusable(layers[i], layers[j])}


def call_pair(first, second, x, training=None):
    """``second(first(x))`` for a pair that :func:`plan` fused: one fused op on the input ``first`` was
    built for, else the two layer calls.

    Args:
        first, second: a Conv2D and a MaxPooling2D for which :func:`fusable` holds.
        x: the Conv2D's input, (batch, height, width, channels).

    Returns:
        The pooled output, (batch, out_height // pool_height, out_width // pool_width, filters).

    Raises:
        ValueError: as the layers' calls do, for an input they refuse.
    """
    kernel = first.kernel
    if not (isinstance(x, Tensor) and x.dtype.name == first.dtype and x.ndim == 4
            and x.shape[-1] == kernel.shape[2]):
        return second(first(x, training=training), training=training)
    return _nn.fused_conv2d_maxpool(x, kernel, first.bias, first.strides, first.padding.upper(),
                                    first.dilation_rate, "relu" if first.activation is _act.relu else None,
                                    second.pool_size, op=f"{first.op_name} + MaxPooling2D")
