"""``gpuflow.linalg`` — the part of ``tf.linalg`` gpuflow supports."""
from .ops.math_ops import matmul  # noqa: F401
from .ops.array_ops import transpose as matrix_transpose  # noqa: F401
