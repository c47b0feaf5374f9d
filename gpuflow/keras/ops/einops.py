"""``keras.ops.rearrange`` (Keras 3.15's ``keras/src/ops/einops.py``): einops-style axis rearrangement."""
from __future__ import annotations

import math
import re

from ...ops import array_ops as A
from ._symbolic import wrap_module
from ._common import tensor as _tensor

__all__ = ["rearrange"]


def _axes(side):
    """The axis groups of one side of a pattern: ``"b (h w) c"`` -> ``[["b"], ["h", "w"], ["c"]]``."""
    return [re.findall(r"\w+", a) for a in re.findall(r"\w+|\(.*?\)", side)]


def rearrange(tensor, pattern, **axes_lengths):
    """``tensor`` with its axes split, permuted and merged by an einops ``pattern`` such as
    ``"b (h w) c -> b h w c"`` (``h=4`` in ``axes_lengths`` sizes a split axis; one axis of a group may be inferred),
    as Keras 3: reshape to the split axes, transpose, reshape to the output groups. Differentiable.

    Raises:
        ValueError: a pattern without ``->``, a rank that differs from the pattern's, or output axes that are not
            those of the input.
    """
    x = _tensor(tensor, arg="tensor")
    if "->" not in pattern:
        raise ValueError(f"The pattern must contain '->'. Received: pattern={pattern!r}")
    left, right = (_axes(side) for side in re.split(r"\s*->\s*", pattern))
    if len(left) != x.ndim:
        raise ValueError(f"The input side of the pattern names {len(left)} axes, the tensor has {x.ndim}. Received: "
                         f"pattern={pattern!r}, tensor.shape={tuple(x.shape)}")
    sizes = {}
    for group, dim in zip(left, x.shape):
        unknown = [a for a in group if a not in axes_lengths]
        known = math.prod(int(axes_lengths[a]) for a in group if a in axes_lengths)
        for a in group:
            sizes[a] = int(axes_lengths[a]) if a in axes_lengths else dim // known if len(unknown) == 1 else dim
    flat_in = [a for g in left for a in g]
    flat_out = [a for g in right for a in g]
    if sorted(flat_in) != sorted(flat_out):
        raise ValueError(f"The output axes must be the input axes, rearranged. Received: pattern={pattern!r}")
    x = A.reshape(x, [sizes[a] for a in flat_in])
    x = A.transpose(x, [flat_in.index(a) for a in flat_out])
    return A.reshape(x, [math.prod(sizes[a] for a in g) for g in right])


wrap_module(globals(), __all__)  # a call on symbolic tensors is a functional-model node
