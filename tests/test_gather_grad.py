"""gather's gradient (array_ops._scatter_add_axis): the sums of add.at, in its order, one pass per index repeat."""
import numpy as np
import pytest

import gpuflow as tf


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gather_gradient_equals_add_at_bit_for_bit(axis):
    rng = np.random.default_rng(0)
    x = tf.Variable(rng.standard_normal((4, 5, 6)).astype(np.float32))
    index = np.array([3, 0, 3, 1, 3, 0])  # repeats, an index never gathered
    key = (slice(None),) * axis + (np.array([3, 0, -1, 3, 0, 1, -4]),)  # negative ones too (getitem)
    for take, idx in ((lambda: tf.gather(x, index, axis=axis), index), (lambda: x[key], key[-1])):
        w = rng.standard_normal(take().shape).astype(np.float32)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(take() * w)
        expected = np.zeros(x.shape, np.float32)
        np.add.at(expected, (slice(None),) * axis + (idx,), w)
        np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), expected)


def test_other_advanced_indexing_still_accumulates():
    x = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(x[np.array([0, 0, 1]), np.array([2, 2, 0])])
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [[0, 0, 2], [1, 0, 0]])
