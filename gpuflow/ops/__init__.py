"""Differentiable ops: each op's forward (through the tensor's backend) and gradient, written once."""
from .core import convert_to_tensor
from .math_ops import *  # noqa: F401,F403
from .array_ops import *  # noqa: F401,F403
from . import math_ops, array_ops, nn_ops  # noqa: F401
