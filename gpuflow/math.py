"""``gpuflow.math`` — TensorFlow's ``tf.math`` namespace (see :mod:`gpuflow.ops.math_ops`)."""
from .ops.math_ops import *  # noqa: F401,F403
from .ops.math_ops import __all__ as _all
from .ops.nn_ops import softplus, log_softmax, erf  # noqa: F401

__all__ = list(_all) + ["softplus", "log_softmax", "erf"]
