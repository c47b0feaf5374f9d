"""``gpuflow.linalg`` — the part of ``tf.linalg`` gpuflow supports (see :mod:`gpuflow.ops.linalg_ops`)."""
from .ops.math_ops import matmul  # noqa: F401
from .ops.array_ops import eye  # noqa: F401
from .ops.linalg_ops import (  # noqa: F401
    einsum, tensordot, norm, global_norm, l2_normalize, inv, det, solve, diag, diag_part, trace, matvec, band_part,
    matrix_transpose, adjoint,
)
