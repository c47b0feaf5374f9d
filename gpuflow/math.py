"""``gpuflow.math`` — TensorFlow's ``tf.math`` namespace (see :mod:`gpuflow.ops.math_ops`)."""
from .ops.math_ops import *  # noqa: F401,F403
from .ops.math_ops import __all__ as _all
from .ops.nn_ops import softplus, log_softmax, erf, softsign, log_sigmoid  # noqa: F401
from .ops.sort_ops import top_k, in_top_k  # noqa: F401
from .ops.linalg_ops import l2_normalize  # noqa: F401

__all__ = list(_all) + ["softplus", "log_softmax", "erf", "softsign", "log_sigmoid", "top_k", "in_top_k",
                        "l2_normalize"]
