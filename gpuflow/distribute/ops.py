"""The differentiable collective: ``all_reduce_sum`` of a Tensor, recorded on the tape.

The gradient of ``y = sum over replicas of x_r`` with respect to this replica's ``x`` is the sum over
replicas of the gradients arriving at ``y``: the backward pass all-reduces too, so every replica must
run the same backward (as the same model and loss do). Used by ``ReplicaContext.all_reduce`` and the
synchronized BatchNormalization.
"""
from __future__ import annotations

from ..ops.core import convert_to_tensor, make_op

__all__ = ["all_reduce_sum"]


def all_reduce_sum(x, collectives):
    """The element-wise sum of ``x`` (a Tensor of any shape and float dtype) over every replica of
    ``collectives``; same shape and dtype, differentiable."""
    x = convert_to_tensor(x)
    if collectives.size == 1:
        return x

    def vjp(g, needs):
        return (all_reduce_sum(g, collectives),)
    return make_op("all_reduce_sum", (x,), collectives.all_reduce(x._data, "sum"), vjp)
