"""``gpuflow.nn`` — TensorFlow's ``tf.nn`` namespace (see :mod:`gpuflow.ops.nn_ops`)."""
import numpy as np

from .ops.nn_ops import (  # noqa: F401
    relu, relu6, sigmoid, tanh, softmax, log_softmax, conv2d, max_pool2d, avg_pool2d, dropout, bias_add,
    sparse_softmax_cross_entropy_with_logits, softmax_cross_entropy_with_logits,
    sigmoid_cross_entropy_with_logits, leaky_relu, elu, selu, softplus, silu, swish, gelu, conv2d_transpose,
    depthwise_conv2d, separable_conv2d, moments, batch_normalization, l2_loss, softsign,
    weighted_cross_entropy_with_logits, embedding_lookup, conv1d, max_pool1d, avg_pool1d, log_poisson_loss,
)
from .ops.sort_ops import top_k, in_top_k  # noqa: F401
from .ops.linalg_ops import l2_normalize  # noqa: F401

max_pool = max_pool2d
avg_pool = avg_pool2d


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """The sum of the (weighted) per-example losses over the global batch size (``tf.nn.compute_average_loss``).

    In ``strategy.run``, each replica's loss is then its share of the global mean, and the gradients summed
    over the replicas (as ``optimizer.apply_gradients`` does) are the global mean's.

    Args:
        per_example_loss: a float Tensor of shape (batch, ...), rank >= 1.
        sample_weight: optional weights broadcastable to ``per_example_loss``.
        global_batch_size: a positive int; None: this replica's batch (the first dimension) times
            ``num_replicas_in_sync`` of the current strategy.

    Returns:
        A scalar Tensor of ``per_example_loss``'s dtype.

    Raises:
        ValueError: ``per_example_loss`` of rank 0, or ``global_batch_size`` not positive.
        TypeError: ``global_batch_size`` not an int.
        RuntimeError: ``global_batch_size`` None in cross-replica context (a strategy's scope, outside ``run``).
    """
    from . import distribute
    from .ops import math_ops
    from .ops.core import convert_to_tensor
    loss = convert_to_tensor(per_example_loss)
    if loss.ndim == 0:
        raise ValueError("Invalid value passed for `per_example_loss`. Expected a tensor with at least rank 1. "
                         f"Received: per_example_loss={loss}")
    dtype = loss.dtype
    if sample_weight is not None:
        loss = math_ops.cast(loss * math_ops.cast(convert_to_tensor(sample_weight), dtype), dtype)
    if global_batch_size is None:
        if distribute.in_cross_replica_context():
            raise RuntimeError("You are calling `compute_average_loss` in cross replica context, while it was "
                               "expected to be called in replica context.")
        global_batch_size = int(loss.shape[0]) * distribute.get_strategy().num_replicas_in_sync
    if isinstance(global_batch_size, bool) or not isinstance(global_batch_size, (int, np.integer)):
        raise TypeError(f"global_batch_size must be an int. Received: global_batch_size={global_batch_size!r}")
    if global_batch_size <= 0:
        raise ValueError(f"global_batch_size must be positive. Received: global_batch_size={global_batch_size}")
    return math_ops.reduce_sum(loss) / float(global_batch_size)


def scale_regularization_loss(regularization_loss, name=None):
    """The sum of ``regularization_loss`` (a Tensor, or a list of them added first) divided by the replicas in sync
    (``tf.nn.scale_regularization_loss``): each replica's share, so that summing the replicas' gradients counts it
    once.

    Raises:
        RuntimeError: called in cross-replica context (a strategy's scope, outside ``run``), as TensorFlow.
    """
    from . import distribute
    from .ops import math_ops
    if isinstance(regularization_loss, (list, tuple)):
        regularization_loss = math_ops.add_n(regularization_loss)
    if distribute.in_cross_replica_context():
        raise RuntimeError("You are calling `scale_regularization_loss` in cross replica context, while it was "
                           "expected to be called in replica context.")
    return math_ops.reduce_sum(regularization_loss) / float(distribute.get_strategy().num_replicas_in_sync)
