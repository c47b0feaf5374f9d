"""TensorFlow's top-level, ``tf.math``, ``tf.nn`` and ``tf.linalg`` functions that tf.keras code commonly uses:
gradients against finite differences and the reference backend on every device (``gradcheck.check_op``), and
TensorFlow's semantics (ties, orders, dtypes, print format, Module walk) as expected values read from TensorFlow 2.21
by hand or computed with NumPy here."""
import io

import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_op, rand

P = pytest.param


def pos(*shape):
    return rand(*shape, low=0.5, high=2.0)


def spd(n, seed=0):  # well-conditioned square matrix
    return rand(n, n, seed=seed) + 3 * np.eye(n)


MASK = np.array([[True, False, True, False]] * 3)
GRADIENT_CASES = [
    P(lambda a, b: tf.einsum("ij,jk->ik", a, b), (rand(3, 4), rand(4, 5)), id="einsum_matmul"),
    P(lambda a, b: tf.einsum("ij,jk", a, b), (rand(3, 4), rand(4, 2)), id="einsum_implicit"),
    P(lambda c, a: tf.einsum("...ij,ij->...i", c, a), (rand(2, 3, 4), rand(3, 4)), id="einsum_ellipsis"),
    P(lambda c, a: tf.einsum("bij,bj->bi", c, a), (rand(2, 3, 4), rand(1, 4)), id="einsum_broadcast_1"),
    P(lambda c: tf.einsum("bij->j", c), (rand(2, 3, 4),), id="einsum_sum_only_here"),
    P(lambda a, b, c: tf.einsum("ij,jk,bij->bk", a, b, c), (rand(3, 4), rand(4, 2), rand(2, 3, 4)), id="einsum_3"),
    P(lambda a, b: tf.tensordot(a, b, axes=1), (rand(3, 4), rand(4, 2)), id="tensordot_1"),
    P(lambda a, b: tf.tensordot(a, b, axes=0), (rand(2, 3), rand(4)), id="tensordot_0"),
    P(lambda c, a: tf.tensordot(c, a, axes=[[1, 2], [0, 1]]), (rand(2, 3, 4), rand(3, 4)), id="tensordot_pairs"),
    P(lambda a: tf.norm(a), (rand(3, 4),), id="norm"),
    P(lambda a: tf.norm(a, axis=1, keepdims=True), (rand(3, 4),), id="norm_axis"),
    P(lambda a: tf.norm(a, ord=1, axis=0), (rand(3, 4, away_from=[0]),), id="norm_1"),
    P(lambda a: tf.norm(a, ord=3, axis=-1), (rand(3, 4, away_from=[0]),), id="norm_3"),
    P(lambda c: tf.norm(c, ord="fro", axis=[1, 2]), (rand(2, 3, 4),), id="norm_fro"),
    P(lambda c: tf.norm(c, ord=np.inf, axis=[-2, -1]), (rand(2, 3, 4, away_from=[0]),), id="norm_matrix_inf"),
    P(lambda c: tf.sort(c, axis=1, direction="DESCENDING"), (rand(2, 5, 3),), id="sort"),
    P(lambda c: tf.math.top_k(c, k=2).values, (rand(2, 3, 5),), id="top_k"),
    P(lambda c: tf.boolean_mask(c, MASK, axis=1), (rand(2, 3, 4),), id="boolean_mask"),
    P(lambda c: tf.reverse(c, axis=[0, 2]), (rand(2, 3, 4),), id="reverse"),
    P(lambda c: tf.roll(c, shift=[1, -2], axis=[1, 2]), (rand(2, 3, 4),), id="roll"),
    P(lambda a: tf.repeat(a, [1, 0, 2], axis=0), (rand(3, 2),), id="repeat"),
    P(lambda c: tf.gather_nd(c, [[0, 1], [1, 2], [0, 1]]), (rand(2, 3, 4),), id="gather_nd"),
    P(lambda x, y: tf.meshgrid(x, y), (rand(3), rand(2)), id="meshgrid"),
    P(lambda c: tf.cumsum(c, axis=2, exclusive=True, reverse=True), (rand(2, 3, 4),), id="cumsum"),
    P(lambda a: tf.math.cumprod(a, axis=1), (pos(3, 4),), id="cumprod"),
    P(lambda c: tf.math.reduce_variance(c, axis=[0, 2]), (rand(2, 3, 4),), id="reduce_variance"),
    P(lambda c: tf.math.reduce_std(c, axis=1, keepdims=True), (rand(2, 3, 4),), id="reduce_std"),
    P(lambda c: tf.math.reduce_euclidean_norm(c, axis=-1), (rand(2, 3, 4),), id="reduce_euclidean_norm"),
    P(lambda a, b: tf.math.squared_difference(a, b), (rand(3, 4), rand(4)), id="squared_difference"),
    P(lambda a, b: tf.math.divide_no_nan(a, b * np.array([1, 0, 1, 1])), (rand(3, 4), pos(4)), id="divide_no_nan"),
    P(lambda a, b: tf.math.xlogy(a * np.array([1, 0, 1]), b), (rand(2, 3), pos(2, 3)), id="xlogy"),
    P(tf.math.expm1, (rand(3, 4),), id="expm1"),
    P(tf.math.tan, (rand(3, 4),), id="tan"),
    P(tf.sinh, (rand(3, 4),), id="sinh"),
    P(tf.cosh, (rand(3, 4),), id="cosh"),
    P(tf.asin, (rand(3, 4, low=-0.8, high=0.8),), id="asin"),
    P(tf.acos, (rand(3, 4, low=-0.8, high=0.8),), id="acos"),
    P(tf.atan, (rand(3, 4),), id="atan"),
    P(tf.math.reciprocal, (pos(3, 4),), id="reciprocal"),
    P(tf.linalg.inv, (spd(3),), id="inv"),
    P(tf.linalg.det, (np.stack([spd(3), spd(3, seed=1)]),), id="det"),
    P(tf.linalg.solve, (spd(3), rand(3, 2)), id="solve"),
    P(tf.linalg.diag, (rand(2, 3),), id="diag"),
    P(tf.linalg.diag_part, (rand(2, 3, 4),), id="diag_part"),
    P(tf.linalg.trace, (rand(2, 3, 3),), id="trace"),
    P(tf.linalg.matvec, (rand(2, 3, 4), rand(2, 4)), id="matvec"),
    P(lambda c: tf.linalg.band_part(c, 1, 0), (rand(2, 3, 4),), id="band_part"),
    P(lambda a: tf.math.l2_normalize(a, axis=1), (rand(3, 4),), id="l2_normalize"),
    P(tf.nn.l2_loss, (rand(3, 4),), id="l2_loss"),
    P(tf.nn.softsign, (rand(3, 4, away_from=[0]),), id="softsign"),
    P(tf.math.log_sigmoid, (rand(3, 4, low=-30, high=30),), id="log_sigmoid"),
    P(lambda x: tf.nn.weighted_cross_entropy_with_logits(np.tile([0.0, 1.0, 1.0, 0.25], (3, 1)), x, 2.5),
      (rand(3, 4, low=-3, high=3, away_from=[0]),), id="weighted_cross_entropy_with_logits"),
    P(lambda a: tf.clip_by_norm(a, 1.0, axes=[1]), (rand(3, 4, low=-2, high=2),), id="clip_by_norm"),
    P(lambda a, b: tf.clip_by_global_norm([a, b], 2.0)[0], (rand(3, 4, low=-2, high=2), rand(2)),
      id="clip_by_global_norm"),
    P(lambda a, b: tf.linalg.global_norm([a, None, b]), (rand(3, 4), rand(2)), id="global_norm"),
    P(lambda a: tf.nn.embedding_lookup(a, [2, 0, 2]), (rand(3, 4),), id="embedding_lookup"),
    P(lambda c: tf.map_fn(lambda x: tf.reduce_sum(x * x, axis=0), c), (rand(2, 3, 4),), id="map_fn"),
    P(lambda a: tf.cond(tf.constant(True), lambda: a * 2.0, lambda: a * 3.0), (rand(3),), id="cond"),
    P(lambda x, w: tf.nn.conv1d(x, w, 2, "SAME"), (rand(2, 7, 3), rand(3, 3, 4)), id="conv1d"),
    P(lambda x, w: tf.nn.conv1d(x, w, 1, "VALID", dilations=2), (rand(1, 7, 2), rand(2, 2, 3)), id="conv1d_dilated"),
    P(lambda x: tf.nn.max_pool1d(x, 2, 2, "VALID"), (rand(2, 7, 3),), id="max_pool1d"),
    P(lambda x: tf.nn.avg_pool1d(x, 3, 2, "SAME"), (rand(2, 7, 3),), id="avg_pool1d"),
    P(lambda a, b: tf.math.multiply_no_nan(a, b * np.array([1, 0, 1, 1])), (rand(3, 4), rand(4)), id="multiply_no_nan"),
    P(tf.math.atan2, (rand(3, 4), rand(3, 4, away_from=[0])), id="atan2"),
    P(lambda d: tf.math.unsorted_segment_sum(d, tf.constant([0, 2, 0, -1, 1]), 3), (rand(5, 2),),
      id="unsorted_segment_sum"),
    P(lambda d: tf.math.unsorted_segment_mean(d, tf.constant([0, 2, 0, 2, 0]), 4), (rand(5, 2),),
      id="unsorted_segment_mean"),
    P(lambda d: tf.math.segment_sum(d, tf.constant([0, 0, 1, 3, 3])), (rand(5, 2),), id="segment_sum"),
    P(lambda d: tf.math.segment_mean(d, tf.constant([0, 0, 1, 3, 3])), (rand(5, 2),), id="segment_mean"),
    P(lambda u: tf.scatter_nd(tf.constant([[1], [3], [1]]), u, [4, 2]), (rand(3, 2),), id="scatter_nd"),
    P(lambda a, u: tf.tensor_scatter_nd_update(a, tf.constant([[0, 1], [2, 3]]), u), (rand(3, 4), rand(2)),
      id="tensor_scatter_nd_update"),
    P(lambda a, u: tf.tensor_scatter_nd_add(a, tf.constant([[0, 1], [2, 3], [0, 1]]), u), (rand(3, 4), rand(3)),
      id="tensor_scatter_nd_add"),
    P(tf.linalg.matrix_transpose, (rand(2, 3, 4),), id="matrix_transpose"),
    P(tf.math.erfc, (rand(3, 4, low=-2, high=2),), id="erfc"),
    P(lambda x: tf.ensure_shape(x, (None, 4)) * 2.0, (rand(3, 4),), id="ensure_shape"),
    P(lambda d: tf.math.unsorted_segment_max(d, tf.constant([0, 2, 0, -1, 1]), 3), (rand(5, 2),),
      id="unsorted_segment_max"),
    P(lambda d: tf.math.unsorted_segment_min(d, tf.constant([1, 1, 0, 1, 0]), 2), (rand(5, 2),),
      id="unsorted_segment_min"),
    P(lambda d: tf.math.segment_max(d, tf.constant([0, 0, 2, 2, 2])), (rand(5, 2),), id="segment_max"),
    P(lambda d: tf.math.segment_min(d, tf.constant([0, 1, 1, 3, 3])), (rand(5, 2),), id="segment_min"),
    P(lambda x: tf.math.real(x) * tf.math.conj(x), (rand(3),), id="real_conj"),
    P(lambda x: tf.nn.log_poisson_loss(np.array([[0.5, 2.0, 3.0]] * 2), x, compute_full_loss=True), (rand(2, 3),),
      id="log_poisson_loss"),
]


@pytest.mark.parametrize("fn,inputs", GRADIENT_CASES)
def test_gradients(fn, inputs, device):
    check_op(fn, *inputs, device=device)


# -- values and TensorFlow's rules --------------------------------------------------------------------------------
def test_einsum_and_tensordot_values_and_errors():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)).astype("float32"), rng.standard_normal((4, 5)).astype("float32")
    np.testing.assert_allclose(tf.einsum("bij,jk->bki", a, b).numpy(), np.einsum("bij,jk->bki", a, b), rtol=1e-5)
    np.testing.assert_allclose(tf.einsum("ii", b[:4, :4]).numpy(), np.trace(b[:4, :4]), rtol=1e-5)  # forward only
    np.testing.assert_allclose(tf.tensordot(a, b, 1).numpy(), np.tensordot(a, b, 1), rtol=1e-5)
    with pytest.raises(ValueError, match="size of 'j' differs"):
        tf.einsum("ij,jk->ik", b, b)
    with pytest.raises(ValueError, match="2 input"):
        tf.einsum("ij,jk->ik", b)
    with pytest.raises(ValueError, match="contracted axes"):
        tf.tensordot(a, b, axes=[[0], [0]])


def test_sorting_ties_and_dtypes_follow_tensorflow():
    v = tf.constant([3.0, 1.0, 2.0, 1.0])
    assert tf.argsort(v).numpy().tolist() == [1, 3, 2, 0] and tf.argsort(v).dtype == tf.int32
    assert tf.argsort(v, direction="DESCENDING").numpy().tolist() == [0, 2, 1, 3]  # ties keep their order
    assert tf.sort(tf.constant([3, 1, 2]), direction="DESCENDING").numpy().tolist() == [3, 2, 1]
    values, indices = tf.math.top_k(tf.constant([[1.0, 3.0, 2.0, 3.0]]), k=2)
    assert values.numpy().tolist() == [[3.0, 3.0]] and indices.numpy().tolist() == [[1, 3]]
    assert tf.nn.top_k is tf.math.top_k
    # classes tied with the k-th value count as in the top k; a NaN target prediction never does
    preds = tf.constant([[0.1, 0.5, 0.5, 0.2], [0.3, 0.2, 0.1, np.nan]])
    assert tf.math.in_top_k(tf.constant([2, 3]), preds, 1).numpy().tolist() == [True, False]
    with pytest.raises(ValueError, match="direction"):
        tf.sort(v, direction="UP")
    with pytest.raises(ValueError, match="k=5"):
        tf.math.top_k(v, k=5)


def test_unique_keeps_first_occurrence_order():
    y, idx = tf.unique(tf.constant([4, 1, 4, 2, 1, 7]))
    assert y.numpy().tolist() == [4, 1, 2, 7] and idx.numpy().tolist() == [0, 1, 0, 2, 1, 3]
    assert idx.dtype == tf.int32 and tf.unique(tf.constant([2.5]), out_idx=tf.int64).idx.dtype == tf.int64
    with pytest.raises(ValueError, match="1-D"):
        tf.unique(tf.constant([[1]]))


def test_creation_and_masks():
    x = tf.linspace(-1.0, 2.0, 7)
    assert x.dtype == tf.float32 and np.allclose(x.numpy(), np.linspace(-1, 2, 7))
    assert tf.linspace(0, 5, 4).dtype == tf.float64  # integer ends give float64, as TF
    np.testing.assert_allclose(tf.linspace(tf.constant([0.0, 1.0]), tf.constant([1.0, 3.0]), 3, axis=1).numpy(),
                               [[0, 0.5, 1], [1, 2, 3]])
    assert tf.eye(2, 3, batch_shape=[2]).numpy().tolist() == [[[1, 0, 0], [0, 1, 0]]] * 2
    assert tf.linalg.eye is tf.eye
    assert tf.sequence_mask([1, 3, 0], 4).numpy().tolist() == [[True, False, False, False], [True, True, True, False],
                                                                [False] * 4]
    assert tf.boolean_mask(tf.reshape(tf.range(6), (2, 3)), [True, False, True], axis=1).numpy().tolist() == \
        [[0, 2], [3, 5]]
    with pytest.raises(ValueError, match="mask's shape"):
        tf.boolean_mask(tf.zeros((2, 3)), [True, False, True])
    mx, my = tf.meshgrid(tf.constant([1, 2, 3]), tf.constant([4, 5]))
    assert mx.numpy().tolist() == [[1, 2, 3], [1, 2, 3]] and my.numpy().tolist() == [[4, 4, 4], [5, 5, 5]]
    assert tf.meshgrid(tf.constant([1, 2]), tf.constant([3]), indexing="ij")[0].numpy().tolist() == [[1], [2]]


def test_segments_scatter_and_floormod():
    data = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert tf.math.unsorted_segment_sum(data, tf.constant([1, -1, 1]), 3).numpy().tolist() == \
        [[0, 0], [6, 8], [0, 0]]  # a negative id drops its row
    with pytest.raises(ValueError, match="num_segments=2. Received: a segment id 2"):
        tf.math.unsorted_segment_sum(data, tf.constant([0, 2, 1]), 2)
    assert tf.math.segment_mean(data, tf.constant([0, 0, 2])).numpy().tolist() == [[2, 3], [0, 0], [5, 6]]
    # TensorFlow 2.21's values: an empty unsorted segment holds the lowest float32, a sorted one 0
    d = tf.constant([[1.0, 5.0], [3.0, 2.0], [3.0, 7.0], [0.0, 0.0]])
    low = float(np.finfo(np.float32).min)
    assert tf.math.unsorted_segment_max(d, [0, 0, 2, -1], 4).numpy().tolist() == [[3, 5], [low, low], [3, 7],
                                                                                   [low, low]]
    assert tf.math.segment_min(d, [0, 0, 2, 2]).numpy().tolist() == [[1, 2], [0, 0], [0, 0]]
    assert tf.math.segment_max(tf.constant([1, 5, 3]), [0, 2, 2]).numpy().tolist() == [1, 0, 5]
    x = tf.constant([[1.0, 5.0], [3.0, 5.0], [3.0, 7.0]])
    with tf.GradientTape() as tape:  # ties share the gradient evenly, as TF
        tape.watch(x)
        y = tf.math.unsorted_segment_max(x, [0, 0, 0], 1) * tf.constant([[2.0, 3.0]])
    assert tape.gradient(y, x).numpy().tolist() == [[0, 0], [1, 0], [1, 3]]
    assert tf.scatter_nd(tf.constant([[1], [1]]), tf.constant([2, 5]), [3]).numpy().tolist() == [0, 7, 0]
    assert tf.tensor_scatter_nd_update(tf.zeros((2, 2)), [[1, 0]], [9.0]).numpy().tolist() == [[0, 0], [9, 0]]
    assert tf.math.floormod(tf.constant([-7, 7]), tf.constant([3, -3])).numpy().tolist() == [2, -2]
    assert tf.math.multiply_no_nan(tf.constant([np.inf, 2.0]), tf.constant([0.0, 3.0])).numpy().tolist() == [0, 6]
    x = tf.zeros((2, 3, 4))
    assert tf.linalg.matrix_transpose(x).shape == (2, 4, 3) == tf.linalg.adjoint(x).shape


def test_counting_ops_follow_tensorflow():
    # the expected values were printed by TensorFlow 2.21 for the same calls
    assert tf.math.confusion_matrix([1, 2, 4], [2, 2, 4]).numpy().tolist() == [
        [0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]
    cm = tf.math.confusion_matrix([1, 2], [2, 2], num_classes=3, weights=[0.5, 2.0], dtype=tf.float32)
    assert cm.dtype == tf.float32 and cm.numpy().tolist() == [[0, 0, 0], [0, 0, 0.5], [0, 0, 2]]
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        tf.math.confusion_matrix([0, 2], [0, 1], num_classes=2)
    assert tf.math.bincount(tf.constant([1, 1, 3])).numpy().tolist() == [0, 2, 0, 1]
    counts = tf.math.bincount(tf.constant([1, 1, 3]), minlength=6, weights=tf.constant([0.5, 1.0, 2.0]))
    assert counts.numpy().tolist() == [0, 1.5, 0, 2, 0, 0]
    assert tf.math.bincount(tf.constant([[1, 5], [3, 3]]), maxlength=4).numpy().tolist() == [0, 1, 0, 2]
    loss = tf.nn.log_poisson_loss(tf.constant([1.0, 2.0]), tf.constant([0.5, -1.0]), compute_full_loss=True)
    np.testing.assert_allclose(loss.numpy(), [1.1487212, 3.0196857], rtol=1e-6)
    assert float(tf.nn.scale_regularization_loss([tf.constant(3.0), tf.constant(1.5)])) == 4.5  # one replica
    assert tf.math.imag(tf.constant([1.0, 2.0])).numpy().tolist() == [0, 0]


def test_math_predicates_and_norm_errors():
    x = tf.constant([1.0, np.nan, np.inf])
    assert tf.math.is_nan(x).numpy().tolist() == [False, True, False]
    assert tf.math.is_inf(x).numpy().tolist() == [False, False, True]
    assert tf.math.is_finite(x).numpy().tolist() == [True, False, False]
    assert tf.math.logical_xor(tf.constant([True, True]), tf.constant([True, False])).numpy().tolist() == [False, True]
    n = tf.math.count_nonzero(tf.constant([[0, 1, 2], [0, 0, 3]]), axis=1)
    assert n.numpy().tolist() == [2, 1] and n.dtype == tf.int64
    assert float(tf.norm(tf.constant([[3.0, 4.0]]), ord=1)) == 7.0
    with pytest.raises(ValueError, match="ord"):
        tf.norm(tf.ones((2, 2)), ord=3, axis=[0, 1])
    assert np.isclose(float(tf.linalg.det(tf.constant([[2.0, 1.0], [1.0, 3.0]]))), 5.0)


def test_control_flow_runs_eagerly():
    assert tf.executing_eagerly() is True
    i, s = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s * 2.0), [tf.constant(0), tf.constant(1.0)])
    assert int(i) == 5 and float(s) == 32.0
    assert int(tf.while_loop(lambda i: i < 10, lambda i: i + 3, tf.constant(0), maximum_iterations=2)) == 6
    assert float(tf.cond(tf.constant(False), lambda: tf.constant(1.0), lambda: tf.constant(2.0))) == 2.0
    with pytest.raises(TypeError, match="true_fn must be callable"):
        tf.cond(True, 1, lambda: 2)
    a, b = tf.map_fn(lambda x: (x[0] * 2, x[1] + 1), (tf.constant([1, 2]), tf.constant([3, 4])))
    assert a.numpy().tolist() == [2, 4] and b.numpy().tolist() == [4, 5]


def test_tensor_utilities():
    assert tf.is_tensor(tf.constant(1)) and tf.is_tensor(tf.Variable(1.0)) and not tf.is_tensor(np.ones(2))
    assert tf.newaxis is None and tf.zeros((2, 3))[:, tf.newaxis].shape == (2, 1, 3)
    static = tf.get_static_value(tf.constant([1, 2]))
    assert isinstance(static, np.ndarray) and static.tolist() == [1, 2] and static.dtype == np.int32
    assert tf.get_static_value(3) == 3 and tf.get_static_value(tf.Variable(1.0)) is None


def test_initializers_have_tensorflow_names_and_defaults():
    assert tf.random_normal_initializer().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert tf.random_uniform_initializer().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}
    assert tf.constant_initializer(2.0)((2,)).numpy().tolist() == [2.0, 2.0]
    assert tf.zeros_initializer()((2, 2)).numpy().sum() == 0 and tf.ones_initializer()((3,)).numpy().sum() == 3
    v = tf.random_uniform_initializer(0.0, 2.0, seed=1)((200,)).numpy()
    assert v.dtype == np.float32 and 0 <= v.min() and v.max() <= 2 and v.std() > 0.3


def test_print_formats_as_tensorflow():
    # each expected line was printed by TensorFlow 2.21 for the same call
    out = io.StringIO()
    tf.print(tf.constant([1, 2, 3]), tf.constant([[1.5, 2.0], [3.25, 4.0]]), "str", 7, tf.range(10), output_stream=out)
    tf.print(tf.constant(3.0), tf.constant([True, False]), tf.constant([0.1, 1e-8]), output_stream=out, sep="|")
    tf.print(tf.constant([1 / 3, 1234567.0, 1e20, -2.5e-5, np.nan, np.inf]), output_stream=out)
    tf.print(tf.constant(1 / 3, tf.float64), {"a": tf.constant(1)}, [tf.constant(2), 3], output_stream=out)
    tf.print(tf.range(10), summarize=2, output_stream=out, end="!\n")
    tf.print(tf.reshape(tf.range(24), (2, 3, 4)), output_stream=out)
    assert out.getvalue() == (
        "[1 2 3] [[1.5 2]\n [3.25 4]] str 7 [0 1 2 ... 7 8 9]\n"
        "3|[1 0]|[0.1 1e-08]\n"
        "[0.333333343 1234567 1e+20 -2.5e-05 nan inf]\n"
        "0.33333333333333331 {'a': 1} [2, 3]\n"
        "[0 1 ... 8 9]!\n"
        "[[[0 1 2 3]\n  [4 5 6 7]\n  [8 9 10 11]]\n\n [[12 13 14 15]\n  [16 17 18 19]\n  [20 21 22 23]]]\n")


def test_print_goes_to_stderr_by_default(capsys):
    tf.print("loss:", tf.constant(0.5))
    assert capsys.readouterr().err == "loss: 0.5\n"


class Lin(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(np.ones((3, 2), "float32"), name="w")
        self.b = tf.Variable(np.zeros(2, "float32"), name="b")
        self.extra = [tf.Variable(1.0, name="e0", trainable=False)]

    @tf.Module.with_name_scope
    def __call__(self, x):
        return tf.matmul(x, self.w) + self.b


class MLP(tf.Module):
    def __init__(self):
        super().__init__()
        self.layers = [Lin(), Lin(name="second")]
        self.scale = tf.Variable(2.0, name="scale")


def test_module_collects_variables_in_tensorflow_order():
    m = MLP()
    assert m.name == "mlp" and [sub.name for sub in m.layers] == ["lin", "second"]
    # TensorFlow 2.21's order: this module's attributes by name, then each submodule's
    assert [v.name for v in m.variables] == ["scale", "b", "e0", "w", "b", "e0", "w"]
    assert [v.name for v in m.trainable_variables] == ["scale", "b", "w", "b", "w"]
    assert [v.name for v in m.non_trainable_variables] == ["e0", "e0"] and len(m.submodules) == 2
    assert m.layers[1].name_scope.name == "second/"
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(m.layers[0](tf.ones((1, 3))) * m.scale)
    grads = tape.gradient(y, m.trainable_variables)
    assert [g is None for g in grads] == [False, False, False, True, True]
    assert grads[0].numpy() == 6.0 and grads[2].numpy().tolist() == [[2.0, 2.0]] * 3
    with pytest.raises(ValueError, match="not a valid module name"):
        tf.Module(name="1x")
    with tf.name_scope("outer") as outer:
        with tf.name_scope("inner") as inner:
            assert (outer, inner) == ("outer/", "outer/inner/")


def test_custom_gradient_replaces_the_gradient():
    @tf.custom_gradient
    def clip_grad(x):
        def grad(dy):
            return tf.clip_by_value(dy, -0.1, 0.1)
        return tf.identity(x), grad

    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(clip_grad(x) * tf.constant([5.0, -0.05]))
    assert tape.gradient(y, x).numpy().tolist() == pytest.approx([0.1, -0.05])

    v = tf.Variable(2.0)

    @tf.custom_gradient
    def scaled(x):
        def grad(dy, variables=None):
            return dy * 3.0, [tf.reduce_sum(dy) * 7.0]
        return x * v, grad

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(scaled(x))
    gx, gv = tape.gradient(y, [x, v])
    assert gx.numpy().tolist() == [3.0, 3.0] and float(gv) == 14.0

    @tf.custom_gradient
    def no_variables_arg(x):
        return x * v, lambda dy: dy
    with pytest.raises(TypeError, match="variables"):
        no_variables_arg(x)


def test_random_categorical_and_shuffle():
    tf.random.set_seed(3)
    s = tf.random.categorical(tf.constant(np.log([[0.7, 0.2, 0.1], [1.0, 1.0, 1.0]]) - [[0, 0, 0], [np.inf, np.inf, 0]],
                                          "float32"), 4000)
    assert s.dtype == tf.int64 and s.shape == (2, 4000)
    np.testing.assert_allclose(np.bincount(s.numpy()[0], minlength=3) / 4000, [0.7, 0.2, 0.1], atol=0.03)
    assert (s.numpy()[1] == 2).all()  # a logit of -inf is never drawn
    assert tf.random.categorical(tf.constant([[0.0, 1.0]]), 2, dtype=tf.int32).dtype == tf.int32
    x = tf.reshape(tf.range(20), (10, 2))
    y = tf.random.shuffle(x, seed=1)
    assert sorted(y.numpy().tolist()) == x.numpy().tolist() and y.numpy().tolist() != x.numpy().tolist()
    assert tf.random.shuffle(x, seed=1).numpy().tolist() == y.numpy().tolist()


def test_tensor_array_in_an_eager_loop():
    ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    for i in range(3):
        ta = ta.write(i, tf.constant([1.0, 2.0]) * float(i))
    assert ta.stack().numpy().tolist() == [[0, 0], [1, 2], [2, 4]] and int(ta.size()) == 3
    assert ta.read(2).numpy().tolist() == [2, 4] and ta.gather([2, 0]).numpy().tolist() == [[2, 4], [0, 0]]
    assert tf.TensorArray(tf.float32, size=2).unstack(tf.constant([[1.0, 2.0], [3.0, 4.0]])).read(1).numpy().tolist() \
        == [3, 4]
    assert tf.TensorArray(tf.float32, size=2, element_shape=(2,)).stack().numpy().tolist() == [[0, 0], [0, 0]]
    with pytest.raises(IndexError, match="Tried to write to index 1 but array is not resizeable and size is: 1"):
        tf.TensorArray(tf.float32, size=1).write(1, tf.constant(1.0))
    with pytest.raises(ValueError, match="shape"):
        tf.TensorArray(tf.float32, size=2).write(0, tf.ones(2)).write(1, tf.ones(3))
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:  # gradients flow from what is written to what is stacked
        tape.watch(x)
        ta = tf.TensorArray(tf.float32, size=2).write(0, x * x).write(1, x * 3.0)
        y = tf.reduce_sum(ta.stack())
    assert float(tape.gradient(y, x)) == 7.0


def test_debugging_assertions_and_errors():
    # the messages are TensorFlow 2.21's (printed by TF for the same calls)
    assert tf.debugging.assert_equal(tf.constant([1, 2]), [1, 2]) is None
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Condition x == y did not hold.\nIndices of first 1 "
                                                             r"different values:\n\[\[1\]\]"):
        tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]))
    with pytest.raises(ValueError, match="Condition x < y"):  # an InvalidArgumentError is a ValueError too
        tf.debugging.assert_less(tf.constant([1, 2]), tf.constant([2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Condition x > 0 did not hold element-wise"):
        tf.debugging.assert_positive(tf.constant([1, 0]))
    with pytest.raises(ValueError, match=r"must have rank 3.  Received rank 2, shape \(2, 3\)"):
        tf.debugging.assert_rank(tf.zeros((2, 3)), 3)
    with pytest.raises(ValueError, match=r"Specified by tensor shape=\(2, 3\) dtype=float32 dimension 0.  Tensor "
                                         r"shape=\(3,\) dtype=float32 dimension 0 must have size 2.  Received size 3"):
        tf.debugging.assert_shapes([(tf.zeros((2, 3)), ("N", "D")), (tf.zeros((3,)), ("N",))])
    assert tf.debugging.assert_shapes([(tf.zeros((2, 3)), ("N", 3)), (tf.zeros((2,)), ("N",))]) is None
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad : Tensor had NaN values"):
        tf.debugging.check_numerics(tf.constant([1.0, np.nan]), "bad")
    with pytest.raises(TypeError, match="tensor must be of type tf.int32; got tf.float32"):
        tf.debugging.assert_type(tf.zeros(2), tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not equal to tolerance"):
        tf.debugging.assert_near(tf.constant(1.0), tf.constant(1.1))
    assert tf.ensure_shape(tf.zeros((2, 3)), (None, 3)).shape == (2, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Shape of tensor input \[2,3\] is not compatible with "
                                                             r"expected shape \[\?,4\]."):
        tf.ensure_shape(tf.zeros((2, 3)), (None, 4))
    with pytest.raises(tf.errors.OutOfRangeError, match="Tried to read from index 3 but array size is: 1"):
        tf.TensorArray(tf.float32, size=1).read(3)
    e = tf.errors.InvalidArgumentError(None, None, "boom")
    assert isinstance(e, tf.errors.OpError) and e.message == str(e) == "boom"


def test_nest_follows_tensorflow_order():
    import collections
    P = collections.namedtuple("P", "a b")
    s = {"b": [1, (2, 3)], "a": P(4, 5)}
    assert tf.nest.flatten(s) == [4, 5, 1, 2, 3]  # mappings by sorted key, as TF
    assert tf.nest.map_structure(lambda x: x * 10, s) == {"b": [10, (20, 30)], "a": P(40, 50)}
    assert tf.nest.pack_sequence_as(s, range(5)) == {"b": [2, (3, 4)], "a": P(0, 1)}
    assert tf.nest.map_structure(lambda a, b: a + b, [1, (2,)], [10, (20,)]) == [11, (22,)]
    assert tf.nest.is_nested([1]) and not tf.nest.is_nested(1) and tf.nest.flatten(None) == [None]
    od = collections.OrderedDict([("z", 1), ("a", 2)])
    assert tf.nest.flatten(od) == [2, 1] and list(tf.nest.map_structure(lambda v: v, od)) == ["z", "a"]
    with pytest.raises(ValueError, match="don't have the same nested structure"):
        tf.nest.assert_same_structure([1, 2], [1])
    with pytest.raises(TypeError, match="don't have the same nested structure"):
        tf.nest.assert_same_structure([1, 2], (1, 2))
    with pytest.raises(ValueError, match="Structure had 5 atoms, but flat_sequence had 4 items"):
        tf.nest.pack_sequence_as(s, range(4))
