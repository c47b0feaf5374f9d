"""``gpuflow.nn`` — TensorFlow's ``tf.nn`` namespace (see :mod:`gpuflow.ops.nn_ops`)."""
from .ops.nn_ops import (  # noqa: F401
    relu, relu6, sigmoid, tanh, softmax, log_softmax, conv2d, max_pool2d, avg_pool2d, dropout, bias_add,
    sparse_softmax_cross_entropy_with_logits, softmax_cross_entropy_with_logits,
    sigmoid_cross_entropy_with_logits, leaky_relu, elu, selu, softplus, silu, swish, gelu, conv2d_transpose,
    depthwise_conv2d, separable_conv2d, moments, batch_normalization,
)

max_pool = max_pool2d
avg_pool = avg_pool2d
