"""Every differentiable op's gradient against central finite differences in float64.

One line per case (see tests/gradcheck.py). Inputs are kept away from kinks
(relu at 0, abs at 0, clip bounds, floor-mod jumps) by more than the step, and
ties are tested where finite differences define the answer (a 2-way tie of
reduce_max: each side gets 1/2) or asserted directly where TensorFlow picks a
convention (maximum/minimum give a tie to x; reduce_max splits an n-way tie).

Every test that computes a value or a gradient takes the ``device`` fixture (tests/conftest.py) and
runs on cpu, emulator and gpu: ``check_op`` compares forward values and tape gradients in float32 with
the reference backend on each device, and on the CPU also checks them against finite differences in
float64 (which need float64, so they stay there). The checks of the checker, the error of a too-large
pooling window and the coverage list are CPU-only: they do not reach a backend's primitives.
"""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.device import current_device
from gpuflow.ops import nn_ops

from gradcheck import REFERENCE, check_double_backward, check_gradients, check_on_device, check_op, rand

nn = tf.nn


def case(id, fn, *inputs, **kw):  # noqa: A002
    return pytest.param(fn, inputs, kw, id=id)


def pos(*shape, low=0.5, high=2.0):
    return rand(*shape, low=low, high=high)




# -- the checker catches wrong gradients ------------------------------------------------
def _op_with_vjp(vjp):
    from gpuflow.ops.core import make_op

    def op(x):
        return make_op("Test", (x,), x._data ** 2, lambda g, n: (vjp(g, x),))
    return op


@pytest.mark.parametrize("vjp", [
    lambda g, x: g * x,  # off by a factor of 2
    lambda g, x: g * 2 * x + 1e-4,  # off by a small constant
    lambda g, x: x * 2,  # ignores the upstream gradient
    lambda g, x: tf.reduce_sum(g * 2 * x),  # wrong shape
    lambda g, x: tf.cast(g * 2 * x, "float32"),  # wrong dtype
    lambda g, x: None,  # claims the input is unconnected
])
def test_check_gradients_rejects_a_wrong_vjp(vjp):
    with pytest.raises(AssertionError):
        check_gradients(_op_with_vjp(vjp), rand(2, 3))


def test_check_gradients_accepts_the_right_vjp():
    check_gradients(_op_with_vjp(lambda g, x: g * 2 * x), rand(2, 3))


def _off_the_reference(error):
    """x**2 whose value (``error="value"``) or gradient (``"gradient"``) is off by 1e-4 relative on every
    device but the reference: a stand-in for one backend's bug."""
    from gpuflow.ops.core import make_op

    def op(x):
        off = 1.0 + (1e-4 if current_device().kind != REFERENCE else 0.0)
        y = x._data ** 2 * (off if error == "value" else 1.0)
        return make_op("Test", (x,), y, lambda g, n: (g * 2 * x * (off if error == "gradient" else 1.0),))
    return op


@pytest.mark.parametrize("error", ["value", "gradient"])
def test_check_on_device_rejects_a_device_that_differs_from_the_reference(error, device):
    with pytest.raises(AssertionError, match=f"{device}: {'output' if error == 'value' else 'gradient'}"):
        check_on_device(_off_the_reference(error), rand(2, 3), device=device)
    check_on_device(_op_with_vjp(lambda g, x: g * 2 * x), rand(2, 3), device=device)


# -- elementwise binary ops, with broadcasting -----------------------------------
BCAST = [((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 3)), ((), (2, 3)), ((2, 3), ()),
         ((4, 1, 3), (2, 1)), ((1, 2, 1), (3, 1, 4))]


def _mod_inputs(xs, ys):
    """x and y > 0 with x / y at least 0.05 away from an integer (floor-mod jumps there)."""
    for seed in range(100):
        x = rand(*xs, low=0.1, high=4.0, seed=seed)
        y = rand(*ys, low=0.6, high=1.7, seed=seed + 1000)
        r = np.broadcast_to(x / y, np.broadcast_shapes(x.shape, y.shape))
        if np.all(np.abs(r - np.round(r)) > 0.05):
            return x, y
    raise AssertionError("no suitable inputs")


BINARY = []
for xs, ys in BCAST:
    sid = f"{xs}-{ys}"
    BINARY += [
        case(f"add{sid}", tf.add, rand(*xs), rand(*ys, seed=1)),
        case(f"subtract{sid}", tf.subtract, rand(*xs), rand(*ys, seed=1)),
        case(f"multiply{sid}", tf.multiply, rand(*xs), rand(*ys, seed=1)),
        case(f"divide{sid}", tf.divide, rand(*xs), pos(*ys)),
        case(f"pow{sid}", tf.pow, pos(*xs), rand(*ys, low=-1.5, high=2.5, seed=1)),
        case(f"maximum{sid}", tf.maximum, rand(*xs), rand(*ys, seed=1)),
        case(f"minimum{sid}", tf.minimum, rand(*xs), rand(*ys, seed=1)),
        case(f"mod{sid}", tf.math.mod, *_mod_inputs(xs, ys)),
        case(f"where{sid}", (lambda c: lambda x, y: tf.where(c, x, y))(
            rand(*np.broadcast_shapes(xs, ys), seed=7) > 0), rand(*xs), rand(*ys, seed=1)),
    ]

OPERATORS = [
    case("__add__", lambda x, y: x + y, rand(2, 3), rand(3)),
    case("__radd__numpy", lambda x: np.full((2, 3), 2.0) + x, rand(2, 3)),
    case("__radd__scalar", lambda x: 2.0 + x, rand(2, 3)),
    case("__sub__", lambda x, y: x - y, rand(2, 3), rand(2, 1)),
    case("__rsub__", lambda x: 1.0 - x, rand(2, 3)),
    case("__mul__", lambda x, y: x * y, rand(2, 3), rand(3)),
    case("__rmul__numpy", lambda x: np.arange(3.0) * x, rand(2, 3)),
    case("__truediv__", lambda x, y: x / y, rand(2, 3), pos(3)),
    case("__rtruediv__", lambda x: 2.0 / x, pos(2, 3)),
    case("__pow__int", lambda x: x ** 3, rand(2, 3)),
    case("__pow__half", lambda x: x ** 0.5, pos(2, 3)),
    case("__rpow__", lambda x: 2.0 ** x, rand(2, 3)),
    case("__neg__", lambda x: -x, rand(2, 3)),
    case("__abs__", lambda x: abs(x), rand(2, 3, away_from=[0])),
    case("__matmul__", lambda x, y: x @ y, rand(2, 3), rand(3, 2)),
    case("__rmatmul__numpy", lambda x: np.arange(6.0).reshape(2, 3) @ x, rand(3, 2)),
    case("__mod__", lambda x: x % 0.7, rand(2, 3, low=0.05, high=0.65)),
    case("pow_both", lambda x: x ** x, pos(2, 3)),
    case("add_n", lambda x, y, z: tf.add_n([x, y, z]), rand(2, 3), rand(2, 3, seed=1), rand(2, 3, seed=2)),
    case("identity", tf.identity, rand(2, 3)),
    case("x*x_same_tensor_twice", lambda x: x * x, rand(4)),
]


@pytest.mark.parametrize("fn,inputs,kw", BINARY + OPERATORS)
def test_binary_and_operators(fn, inputs, kw, device):
    check_op(fn, *inputs, device=device, **kw)


# -- elementwise unary ops ---------------------------------------------------------
X23 = rand(2, 3)
LARGE = np.array([-60.0, -25.0, -3.0, 0.3, 3.0, 25.0, 60.0])

UNARY = [
    case("negative", tf.negative, X23),
    case("abs", tf.abs, rand(2, 3, away_from=[0])),
    case("exp", tf.exp, X23),
    case("log", tf.math.log, pos(2, 3)),
    case("log1p", tf.math.log1p, rand(2, 3, low=-0.5, high=2.0)),
    case("sqrt", tf.sqrt, pos(2, 3)),
    case("rsqrt", tf.math.rsqrt, pos(2, 3)),
    case("square", tf.square, X23),
    case("sin", tf.sin, rand(2, 3, low=-4, high=4)),
    case("cos", tf.cos, rand(2, 3, low=-4, high=4)),
    case("sigmoid", tf.sigmoid, rand(2, 3, low=-5, high=5)),
    case("sigmoid_large", tf.sigmoid, LARGE),
    case("tanh", tf.tanh, rand(2, 3, low=-3, high=3)),
    case("tanh_large", tf.tanh, LARGE),
    case("scalar_exp", tf.exp, np.array(0.3)),
    case("clip_by_value", lambda x: tf.clip_by_value(x, -0.5, 0.4), rand(3, 4, away_from=[-0.5, 0.4])),
    case("clip_by_value_tensor_bounds",
         lambda x: tf.clip_by_value(x, tf.constant(np.full((4,), -0.3), dtype=x.dtype), 0.6),
         rand(3, 4, away_from=[-0.3, 0.6])),
    case("cast_f64_f32_f64", lambda x: tf.cast(tf.cast(x, "float32"), tf.float64) * 1.0, X23,
         eps=1e-2, atol=1e-4, rtol=1e-4),
    case("cast_through_float16", lambda x: tf.cast(tf.cast(x, tf.float16), tf.float64), X23,
         eps=1e-1, atol=2e-2, rtol=2e-2),
]


@pytest.mark.parametrize("fn,inputs,kw", UNARY)
def test_unary(fn, inputs, kw, device):
    check_op(fn, *inputs, device=device, **kw)


# -- reductions ----------------------------------------------------------------------
AXES = [None, 0, 1, -1, 2, (0, 2), [0, 1, 2], (-1, 0)]
REDUCE = []
for name, fn, mk in [("reduce_sum", tf.reduce_sum, rand), ("reduce_mean", tf.reduce_mean, rand),
                     ("reduce_max", tf.reduce_max, rand), ("reduce_min", tf.reduce_min, rand),
                     ("reduce_prod", tf.reduce_prod, lambda *s: rand(*s, away_from=[0], margin=0.2)),
                     ("reduce_logsumexp", tf.reduce_logsumexp, rand)]:
    for axis in AXES:
        for keepdims in (False, True):
            REDUCE.append(case(f"{name}-axis={axis}-keepdims={keepdims}",
                               (lambda f, a, k: lambda x: f(x, axis=a, keepdims=k))(fn, axis, keepdims), mk(2, 3, 4)))
REDUCE += [
    case("reduce_sum_scalar", tf.reduce_sum, np.array(1.5)),
    case("reduce_mean_vector", tf.reduce_mean, rand(5)),
    # a 2-way tie: central differences give 1/2 to each side, as does the even split
    case("reduce_max_tie2", lambda x: tf.reduce_max(x, axis=1), np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 2.0]])),
    case("reduce_min_tie2", lambda x: tf.reduce_min(x), np.array([[1.0, 3.0, -1.0], [2.0, -1.0, 2.0]])),
    case("reduce_max_tie2_keepdims", lambda x: tf.reduce_max(x, axis=0, keepdims=True),
         np.array([[1.0, 3.0], [1.0, 0.5]])),
    case("reduce_logsumexp_large", lambda x: tf.reduce_logsumexp(x, axis=-1), np.array([[1000.0, 1001.0, 999.5]])),
]


@pytest.mark.parametrize("fn,inputs,kw", REDUCE)
def test_reductions(fn, inputs, kw, device):
    check_op(fn, *inputs, device=device, **kw)


def _grad(fn, *xs):
    """Tape gradients of ``fn`` at float32 ``xs`` (the dtype every device's kernels take)."""
    xs = [tf.constant(np.asarray(x, dtype=np.float32)) for x in xs]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
    return [None if g is None else g.numpy() for g in tape.gradient(y, xs)]


def test_reduce_max_splits_three_way_tie_evenly(device):
    (g,) = _grad(lambda x: tf.reduce_max(x), [2.0, 2.0, 1.0, 2.0])
    np.testing.assert_allclose(g, [1 / 3, 1 / 3, 0, 1 / 3])
    (g,) = _grad(lambda x: tf.reduce_min(x, axis=1), [[0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])
    np.testing.assert_allclose(g, [[1 / 3] * 3, [0.5, 0, 0.5]])


@pytest.mark.parametrize("op", [tf.maximum, tf.minimum])
def test_maximum_minimum_give_ties_to_x(op, device):
    gx, gy = _grad(op, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(gx, [1, 1, 1])
    np.testing.assert_array_equal(gy, [0, 0, 0])
    gx, gy = _grad(op, [[2.0, 5.0]], [2.0])  # a broadcast tie
    assert gx.shape == (1, 2) and gy.shape == (1,)
    assert gx[0, 0] == 1 and gy[0] == (0.0 if op is tf.maximum else 1.0)  # 5 vs 2 is not a tie


# -- matmul -----------------------------------------------------------------------
MATMUL = []
for a_shape, b_shape in [((2, 3), (3, 4)), ((1, 3), (3, 1)), ((2, 2, 3), (2, 3, 4)), ((2, 3), (5, 3, 4)),
                         ((1, 2, 3), (4, 3, 5)), ((3, 1, 2, 3), (2, 3, 4)), ((4, 2, 3), (3, 2))]:
    for ta in (False, True):
        for tb in (False, True):
            a = rand(*(a_shape[:-2] + (a_shape[-1], a_shape[-2]) if ta else a_shape))
            b = rand(*(b_shape[:-2] + (b_shape[-1], b_shape[-2]) if tb else b_shape), seed=3)
            MATMUL.append(case(f"{a_shape}@{b_shape}-ta={ta}-tb={tb}",
                               (lambda ta, tb: lambda a, b: tf.matmul(a, b, transpose_a=ta, transpose_b=tb))(ta, tb),
                               a, b))


@pytest.mark.parametrize("fn,inputs,kw", MATMUL)
def test_matmul(fn, inputs, kw, device):
    check_op(fn, *inputs, device=device, **kw)


# -- indexing and shape ops --------------------------------------------------------
X345 = rand(3, 4, 5)
INDEX = [
    case("slice", lambda x: x[1:3], X345),
    case("step", lambda x: x[:, ::2], X345),
    case("negative_step", lambda x: x[::-1, 3:0:-2], X345),
    case("int", lambda x: x[1], X345),
    case("ints", lambda x: x[-1, 2], X345),
    case("ellipsis", lambda x: x[..., 1], X345),
    case("newaxis", lambda x: x[None, 1:, None], X345),
    case("scalar_element", lambda x: x[2, 3, 4], X345),
    case("list_repeated", lambda x: x[[0, 0, 2]], X345),
    case("array_repeated", lambda x: x[np.array([1, 1, 1, 0])], X345),
    case("two_arrays_repeated", lambda x: x[[0, 1, 0], [2, 2, 2]], X345),
    case("slice_then_array", lambda x: x[1:, [0, 0, 3]], X345),
    case("array_then_int", lambda x: x[np.array([[2, 2], [0, 1]]), 1], X345),
    case("tensor_index_repeated", lambda x: x[tf.constant([2, 0, 2])], X345),
    case("tensor_scalar_index", lambda x: x[tf.constant(1)], X345),
    case("bool_mask", lambda x: x[np.array([True, False, True])], X345),
    case("bool_mask_2d", lambda x: x[X345[..., 0] > 0], X345),
    case("iteration", lambda x: tf.stack([r * float(i + 1) for i, r in enumerate(x)]), rand(3, 2)),
]

SHAPE = [
    case("reshape", lambda x: tf.reshape(x, (5, -1)), X345),
    case("reshape_scalar", lambda x: tf.reshape(x, ()), rand(1, 1)),
    case("transpose_default", lambda x: tf.transpose(x), X345),
    case("transpose_perm", lambda x: tf.transpose(x, [1, 2, 0]), X345),
    case("transpose_negative_perm", lambda x: tf.transpose(x, [-1, 0, 1]), X345),
    case("squeeze_all", lambda x: tf.squeeze(x), rand(1, 3, 1, 2)),
    case("squeeze_axis", lambda x: tf.squeeze(x, axis=[-2]), rand(1, 3, 1, 2)),
    case("expand_dims_0", lambda x: tf.expand_dims(x, 0), rand(2, 3)),
    case("expand_dims_-1", lambda x: tf.expand_dims(x, -1), rand(2, 3)),
    case("broadcast_to", lambda x: tf.broadcast_to(x, (4, 2, 3)), rand(2, 1)),
    case("broadcast_to_scalar", lambda x: tf.broadcast_to(x, (2, 2)), np.array(0.5)),
    case("tile", lambda x: tf.tile(x, [2, 3]), rand(2, 3)),
    case("tile_3d", lambda x: tf.tile(x, (1, 2, 2)), rand(2, 1, 3)),
    case("pad", lambda x: tf.pad(x, [[1, 0], [2, 3]]), rand(2, 3)),
    case("pad_constant_values", lambda x: tf.pad(x, [[0, 1], [1, 1]], constant_values=2.5), rand(2, 3)),
    case("concat_0", lambda x, y, z: tf.concat([x, y, z], 0), rand(1, 3), rand(2, 3, seed=1), rand(3, 3, seed=2)),
    case("concat_1", lambda x, y: tf.concat([x, y], axis=1), rand(2, 1), rand(2, 4, seed=1)),
    case("concat_-1", lambda x, y: tf.concat([x, y], -1), rand(2, 2, 1), rand(2, 2, 3, seed=1)),
    case("concat_same_twice", lambda x: tf.concat([x, x], 0), rand(2, 3)),
    case("stack_0", lambda x, y: tf.stack([x, y]), rand(2, 3), rand(2, 3, seed=1)),
    case("stack_1", lambda x, y: tf.stack([x, y], axis=1), rand(2, 3), rand(2, 3, seed=1)),
    case("stack_-1", lambda x, y, z: tf.stack([x, y, z], axis=-1), rand(2, 3), rand(2, 3, seed=1),
         rand(2, 3, seed=2)),
    case("split_equal", lambda x: tf.split(x, 3, axis=1), rand(2, 6)),
    case("split_sizes", lambda x: tf.split(x, [1, 3, 2], axis=0), rand(6, 2)),
    case("unstack_0", lambda x: tf.unstack(x), rand(3, 2)),
    case("unstack_1", lambda x: tf.unstack(x, axis=1), rand(3, 2, 2)),
    case("gather_0", lambda x: tf.gather(x, [2, 0, 2, 2]), rand(3, 4)),
    case("gather_1", lambda x: tf.gather(x, np.array([[1, 1], [3, 0]]), axis=1), rand(3, 4)),
    case("gather_-1_tensor", lambda x: tf.gather(x, tf.constant([0, 0]), axis=-1), rand(2, 3)),
    case("gather_scalar_index", lambda x: tf.gather(x, 1), rand(3, 2)),
]


@pytest.mark.parametrize("fn,inputs,kw", INDEX + SHAPE)
def test_indexing_and_shape_ops(fn, inputs, kw, device):
    check_op(fn, *inputs, device=device, **kw)


def test_repeated_indices_accumulate(device):
    (g,) = _grad(lambda x: x[[0, 0, 0, 2]], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(g, [3, 0, 1])
    (g,) = _grad(lambda x: tf.gather(x, [1, 1]), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(g, [0, 2, 0])


# -- where / cast ----------------------------------------------------------------
def test_where_gradient_goes_to_the_selected_side(device):
    c = tf.constant([True, False, True])
    gx, gy = _grad(lambda x, y: tf.where(c, x, y), [1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(gx, [1, 0, 1])
    np.testing.assert_array_equal(gy, [0, 1, 0])


def test_cast_gradient_is_cast_back_and_none_through_integers(device):
    x = tf.constant([1.5, -2.5], dtype=tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y32 = tf.cast(x, tf.float32)
        yi = tf.cast(x, tf.int32)
        back = tf.cast(yi, tf.float64)
    g = tape.gradient(y32, x)
    assert g.dtype == tf.float64
    np.testing.assert_array_equal(g.numpy(), [1, 1])
    assert tape.gradient(back, x) is None


@pytest.mark.parametrize("op", [tf.floor, tf.math.ceil, tf.round, tf.sign])
def test_piecewise_constant_ops_have_no_or_zero_gradient(op, device):
    # TensorFlow: Floor/Ceil/Round have no gradient (None); Sign has a zero gradient.
    x = tf.constant([1.3, -0.4, 2.0], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = op(x)
    g = tape.gradient(y, x)
    assert g is None or np.all(g.numpy() == 0)
    with tf.GradientTape() as tape:  # and they compose with differentiable ops
        tape.watch(x)
        y = op(x) * x
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), op(x).numpy())


def test_floordiv_has_no_gradient(device):
    x = tf.constant([1.3, -0.4], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x // 0.5
    assert tape.gradient(y, x) is None


# -- activations, softmax, cross-entropies ------------------------------------------------
X234 = rand(2, 3, 4, low=-3, high=3)
NN = [
    case("relu", nn.relu, rand(3, 4, away_from=[0])),
    case("relu6", nn.relu6, rand(3, 4, low=-2, high=8, away_from=[0, 6])),
    case("leaky_relu", nn.leaky_relu, rand(3, 4, away_from=[0])),
    case("leaky_relu_alpha", lambda x: nn.leaky_relu(x, alpha=0.3), rand(3, 4, away_from=[0])),
    case("elu", nn.elu, rand(3, 4, away_from=[0])),
    case("selu", nn.selu, rand(3, 4, away_from=[0])),
    case("softplus", nn.softplus, rand(3, 4, low=-30, high=30)),
    case("silu", nn.silu, rand(3, 4, low=-5, high=5)),
    case("bias_add", nn.bias_add, rand(2, 3, 4), rand(4, seed=1)),
    case("softmax_-1", nn.softmax, X234),
    case("softmax_0", lambda x: nn.softmax(x, axis=0), X234),
    case("softmax_1", lambda x: nn.softmax(x, axis=1), X234),
    case("softmax_large", nn.softmax, np.array([[1000.0, 1001.0, 998.0]])),
    case("log_softmax_-1", nn.log_softmax, X234),
    case("log_softmax_1", lambda x: nn.log_softmax(x, axis=1), X234),
    case("log_softmax_large", nn.log_softmax, np.array([[-1000.0, 1001.0, 998.0]])),
    case("sparse_softmax_ce", lambda z: nn.sparse_softmax_cross_entropy_with_logits(np.array([2, 0, 3]), z),
         rand(3, 4)),
    case("sparse_softmax_ce_3d", lambda z: nn.sparse_softmax_cross_entropy_with_logits(
        tf.constant([[1, 1], [0, 2]]), z), rand(2, 2, 3)),
    case("softmax_ce", lambda y, z: nn.softmax_cross_entropy_with_logits(y, z),
         rand(3, 4, low=0, high=1), rand(3, 4, seed=1)),
    case("softmax_ce_axis0", lambda y, z: nn.softmax_cross_entropy_with_logits(y, z, axis=0),
         rand(3, 4, low=0, high=1), rand(3, 4, seed=1)),
    case("sigmoid_ce", lambda y, z: nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z),
         rand(3, 4, low=0, high=1), rand(3, 4, low=-40, high=40, seed=1, away_from=[0])),
]


@pytest.mark.parametrize("fn,inputs,kw", NN)
def test_nn_ops(fn, inputs, kw, device):
    check_op(fn, *inputs, device=device, **kw)


def test_smooth_functions_have_the_true_derivative_at_zero(device):
    # softplus'(0) = sigmoid(0) = 1/2; d/dx sigmoid_ce(z, x) at x = 0 is sigmoid(0) - z.
    (g,) = _grad(nn.softplus, [0.0, 0.0])
    np.testing.assert_allclose(g, [0.5, 0.5])
    z = tf.constant([0.0, 1.0, 0.25])
    (g,) = _grad(lambda x: nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g, [0.5, -0.5, 0.25])


# -- convolution -------------------------------------------------------------------
CONV = [  # (x shape, w shape, strides, padding, dilations)
    ((1, 5, 5, 3), (3, 3, 3, 2), 1, "VALID", 1),
    ((1, 5, 5, 3), (3, 3, 3, 2), 1, "SAME", 1),
    ((2, 6, 7, 3), (3, 3, 3, 5), 2, "VALID", 1),
    ((2, 6, 7, 3), (3, 3, 3, 5), 2, "SAME", 1),
    ((1, 7, 7, 2), (3, 3, 2, 3), 1, "VALID", 2),
    ((1, 7, 6, 2), (3, 3, 2, 3), 1, "SAME", 2),
    ((1, 4, 5, 3), (1, 1, 3, 5), 1, "VALID", 1),
    ((1, 5, 5, 3), (1, 1, 3, 2), 2, "SAME", 1),
    ((1, 6, 7, 5), (2, 5, 5, 3), 1, "VALID", 1),
    ((1, 6, 7, 5), (2, 5, 5, 3), (2, 1), "SAME", 1),
    ((2, 5, 8, 1), (2, 3, 1, 1), (1, 3), "SAME", (2, 1)),
    ((1, 3, 3, 2), (3, 3, 2, 1), 1, "VALID", 1),  # a single output pixel
    ((1, 5, 4, 2), (2, 2, 2, 3), 1, [[0, 0], [1, 2], [0, 1], [0, 0]], 1),  # explicit padding
    ((1, 5, 4, 2), (3, 2, 2, 2), [1, 2, 2, 1], [[2, 0], [1, 1]], [1, 1, 1, 1]),
]


@pytest.mark.parametrize("xs,ws,strides,padding,dil", CONV, ids=[str(c) for c in CONV])
def test_conv2d(xs, ws, strides, padding, dil, device):
    check_op(lambda x, w: nn.conv2d(x, w, strides=strides, padding=padding, dilations=dil),
             rand(*xs), rand(*ws, seed=1), device=device)


FUSED_CONV = [((1, 5, 5, 3), (3, 3, 3, 2), 1, "SAME"), ((2, 6, 5, 3), (2, 3, 3, 5), 2, "VALID"),
              ((1, 4, 4, 2), (1, 1, 2, 3), 1, "VALID")]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("xs,ws,strides,padding", FUSED_CONV, ids=[str(c) for c in FUSED_CONV])
def test_fused_conv2d(xs, ws, strides, padding, bias, activation, device):
    inputs = [rand(*xs), rand(*ws, seed=1)] + ([rand(ws[-1], seed=2)] if bias else [])
    check_op(lambda x, w, *b: nn_ops.fused_conv2d(x, w, b[0] if b else None, strides, padding,
                                                  activation=activation), *inputs, device=device)


CONV_POOL = [((2, 6, 6, 3), (3, 3, 3, 2), 1, "VALID", 2), ((1, 7, 8, 2), (2, 2, 2, 3), 1, "SAME", (2, 3)),
             ((2, 9, 7, 1), (3, 2, 1, 2), (2, 1), "SAME", 2), ((1, 5, 5, 2), (1, 1, 2, 2), 1, "VALID", 5)]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("xs,ws,strides,padding,pool", CONV_POOL, ids=[str(c) for c in CONV_POOL])
def test_fused_conv2d_maxpool(xs, ws, strides, padding, pool, bias, activation, device):
    inputs = [rand(*xs), rand(*ws, seed=1)] + ([rand(ws[-1], seed=2)] if bias else [])
    check_op(lambda x, w, *b: nn_ops.fused_conv2d_maxpool(x, w, b[0] if b else None, strides, padding,
                                                          activation=activation, pool_size=pool),
             *inputs, device=device)


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("xs,ws,strides,padding,pool", CONV_POOL, ids=[str(c) for c in CONV_POOL])
def test_fused_conv2d_maxpool_equals_conv_then_pool(xs, ws, strides, padding, pool, activation, device):
    """The fused op and the two ops it replaces give the same output and gradients, ties included."""
    rng = np.random.default_rng(3)
    x = tf.constant(rng.integers(-2, 3, xs).astype(np.float32))  # small integers: many tied maxima and zeros
    w = tf.constant(rng.integers(-1, 2, ws).astype(np.float32))
    b = tf.constant(rng.integers(-1, 2, ws[-1]).astype(np.float32))
    results, upstream = [], None
    for fused in (True, False):
        with tf.GradientTape() as tape:
            tape.watch([x, w, b])
            if fused:
                y = nn_ops.fused_conv2d_maxpool(x, w, b, strides, padding, activation=activation, pool_size=pool)
            else:
                z = nn_ops.fused_conv2d(x, w, b, strides, padding, activation=activation)
                y = nn.max_pool2d(z, pool, pool, "VALID")
            if upstream is None:
                upstream = tf.constant(rng.standard_normal(tuple(y.shape)).astype(np.float32))
            loss = tf.reduce_sum(y * upstream)
        results.append([y.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, w, b])])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)


def test_fused_conv2d_maxpool_rejects_a_window_larger_than_the_conv_output():
    with pytest.raises(ValueError, match=r"pool_size=\(3, 3\).*output \(height, width\)=\(2, 2\)"):
        nn_ops.fused_conv2d_maxpool(np.zeros((1, 4, 4, 1), np.float32), np.zeros((3, 3, 1, 1), np.float32),
                                    pool_size=3)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("m,k,n", [(1, 3, 2), (4, 5, 3), (3, 1, 1)])
def test_fused_dense(m, k, n, bias, activation, device):
    inputs = [rand(m, k), rand(k, n, seed=1)] + ([rand(n, seed=2)] if bias else [])
    check_op(lambda x, w, *b: nn_ops.fused_dense(x, w, b[0] if b else None, activation=activation), *inputs,
             device=device)


# -- pooling ------------------------------------------------------------------------
POOL = [  # (x shape, pool, strides, padding)
    ((1, 4, 4, 2), 2, 2, "VALID"),
    ((2, 5, 5, 3), 2, 2, "VALID"),
    ((2, 5, 5, 3), 2, 2, "SAME"),
    ((1, 5, 6, 1), 3, 1, "VALID"),
    ((1, 5, 6, 2), 3, 1, "SAME"),
    ((1, 7, 7, 2), 3, 2, "VALID"),  # overlapping windows
    ((1, 7, 7, 2), 3, 2, "SAME"),
    ((1, 8, 7, 1), 2, 3, "VALID"),  # gaps between windows
    ((1, 8, 7, 1), 2, 3, "SAME"),
    ((1, 7, 8, 2), 3, 3, "SAME"),
    ((1, 6, 5, 2), (2, 3), (1, 2), "SAME"),
    ((2, 3, 3, 1), 3, 1, "VALID"),
]


@pytest.mark.parametrize("op", [nn.max_pool2d, nn.avg_pool2d])
@pytest.mark.parametrize("xs,k,s,padding", POOL, ids=[str(c) for c in POOL])
def test_pool2d(op, xs, k, s, padding, device):
    check_op(lambda x: op(x, k, s, padding), rand(*xs), device=device)


def test_max_pool_tie_gradient_goes_to_the_first_maximum(device):
    x = np.zeros((1, 2, 2, 1))
    (g,) = _grad(lambda x: nn.max_pool2d(x, 2, 2, "VALID"), x)
    np.testing.assert_array_equal(g[0, :, :, 0], [[1, 0], [0, 0]])
    x = np.array([1.0, 3.0, 3.0, 3.0]).reshape(1, 2, 2, 1)
    (g,) = _grad(lambda x: nn.max_pool2d(x, 2, 2, "VALID"), x)
    np.testing.assert_array_equal(g[0, :, :, 0], [[0, 1], [0, 0]])


# -- dropout ---------------------------------------------------------------------
def test_dropout_gradient_is_the_mask_scaling(device):
    x = tf.constant(rand(4, 50, low=0.5, high=1.5))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = nn.dropout(x, 0.25, seed=7)
    g = tape.gradient(y, x).numpy()
    mask = y.numpy() != 0
    assert 0 < mask.mean() < 1
    np.testing.assert_allclose(g, mask / 0.75)
    np.testing.assert_allclose(y.numpy(), x.numpy() * mask / 0.75)


@pytest.mark.parametrize("noise_shape", [None, (4, 1), (1, 6)])
def test_dropout_finite_differences(noise_shape, device):
    check_op(lambda x: nn.dropout(x, 0.5, noise_shape=noise_shape, seed=3), rand(4, 6), device=device)


# -- second derivatives through the differentiable vjps ------------------------------------
def _mlp(x, w1, w2):
    return tf.reduce_sum(tf.tanh(tf.matmul(tf.tanh(tf.matmul(x, w1)), w2)))


DOUBLE = [
    case("cube", lambda x: x ** 3, rand(4)),
    case("sin", tf.sin, rand(4)),
    case("exp_log", lambda x: tf.exp(x) + tf.math.log(x), pos(4)),
    case("sqrt_rsqrt", lambda x: tf.sqrt(x) * tf.math.rsqrt(x + 1), pos(4)),
    case("sigmoid_tanh", lambda x: tf.sigmoid(x) * tf.tanh(x), rand(4)),
    case("divide", lambda x, y: x / y, rand(3), pos(3)),
    case("pow", lambda x, y: x ** y, pos(3), rand(3)),
    case("multiply_bcast", lambda x, y: x * y * y, rand(2, 3), rand(3)),
    case("abs_times_x", lambda x: tf.abs(x) * x, rand(4, away_from=[0])),
    case("maximum_square", lambda x, y: tf.maximum(x, y) ** 2, rand(4), rand(4, seed=1)),
    case("where_square", lambda x: tf.where(x > 0, x * x, -x * x * x), rand(5, away_from=[0])),
    case("reduce_max_square", lambda x: tf.reduce_max(x * x, axis=1), rand(2, 3)),
    case("reduce_mean_square", lambda x: tf.reduce_mean(x * x, axis=0), rand(2, 3)),
    case("reduce_prod", lambda x: tf.reduce_prod(x, axis=1), rand(2, 3, away_from=[0], margin=0.2)),
    case("logsumexp", lambda x: tf.reduce_logsumexp(x, axis=1), rand(2, 3)),
    case("matmul", lambda a, b: tf.matmul(a * a, b, transpose_b=True), rand(2, 3), rand(4, 3)),
    case("getitem_concat", lambda x: tf.concat([x[[0, 0]] ** 2, x[1:] ** 3], 0), rand(3, 2)),
    case("transpose_tile_pad", lambda x: tf.pad(tf.tile(tf.transpose(x * x), [1, 2]), [[1, 0], [0, 1]]),
         rand(2, 3)),
    case("softmax", nn.softmax, rand(2, 4)),
    case("log_softmax", nn.log_softmax, rand(2, 4)),
    case("sparse_softmax_ce", lambda z: nn.sparse_softmax_cross_entropy_with_logits([1, 3], z), rand(2, 4)),
    case("softmax_ce", lambda z: nn.softmax_cross_entropy_with_logits(np.eye(4)[[1, 3]], z), rand(2, 4)),
    case("sigmoid_ce", lambda z: nn.sigmoid_cross_entropy_with_logits(labels=np.ones((2, 3)) * 0.3, logits=z),
         rand(2, 3, away_from=[0])),
    case("softplus", nn.softplus, rand(5, low=-3, high=3, away_from=[0])),
    case("mod", lambda x, y: tf.math.mod(x, y) ** 2, *_mod_inputs((4,), (4,))),
    case("tanh_mlp", _mlp, rand(3, 4), rand(4, 5, seed=1), rand(5, 2, seed=2)),
]


@pytest.mark.parametrize("fn,inputs,kw", DOUBLE)
def test_second_derivatives(fn, inputs, kw, device):
    check_double_backward(fn, *inputs, device=device, **kw)


# -- ops added for the Keras layers of issue 5 ----------------------------------------------------
LAYER_OPS = [
    case("erf", nn_ops.erf, rand(30, low=-3.5, high=3.5)),
    case("gelu", nn_ops.gelu, rand(3, 5, low=-4, high=4)),
    case("gelu_approximate", lambda x: nn_ops.gelu(x, approximate=True), rand(3, 5, low=-4, high=4)),
    case("conv2d_transpose_valid_s2", lambda x, w: nn_ops.conv2d_transpose(x, w, (2, 7, 7, 5), 2, "VALID"),
         rand(2, 3, 3, 3), rand(3, 2, 5, 3)),
    case("conv2d_transpose_same_s23", lambda x, w: nn_ops.conv2d_transpose(x, w, (1, 6, 9, 2), (2, 3), "SAME"),
         rand(1, 3, 3, 4), rand(3, 3, 2, 4)),
    case("conv2d_transpose_dilated", lambda x, w: nn_ops.conv2d_transpose(x, w, (1, 5, 5, 2), 1, "SAME", dilations=2),
         rand(1, 5, 5, 3), rand(2, 3, 2, 3)),
    case("depthwise_conv2d", lambda x, w: nn_ops.depthwise_conv2d(x, w, 2, "SAME"), rand(2, 5, 4, 3),
         rand(3, 2, 3, 2)),
    case("separable_conv2d", lambda x, d, p: nn_ops.separable_conv2d(x, d, p, 1, "VALID", dilations=2),
         rand(1, 6, 5, 2), rand(2, 2, 2, 2), rand(1, 1, 4, 3)),
    case("moments", lambda x: list(nn_ops.moments(x, [0, 2])), rand(3, 2, 4)),
    case("batch_normalization", lambda x, m, v, b, g: nn_ops.batch_normalization(x, m, v, b, g, 1e-3),
         rand(4, 3), rand(3), pos(3), rand(3), rand(3)),
]


@pytest.mark.parametrize("fn,inputs,kw", LAYER_OPS)
def test_layer_ops(fn, inputs, kw, device):
    check_op(fn, *inputs, device=device, **kw)


def test_erf_and_gelu_second_derivatives(device):
    check_double_backward(nn_ops.erf, rand(6, low=-2, high=2), device=device)
    check_double_backward(nn_ops.gelu, rand(6, low=-2, high=2), device=device)


# -- coverage: every public op is either gradient-checked above or has no gradient ------------
GRADIENT_CHECKED = {
    # math_ops
    "add", "subtract", "multiply", "divide", "truediv", "mod", "pow", "negative", "abs", "exp", "log", "log1p",
    "sqrt", "rsqrt", "square", "sin", "cos", "sigmoid", "tanh", "maximum", "minimum", "matmul", "reduce_sum",
    "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_logsumexp", "where", "cast",
    "clip_by_value", "add_n",
    # array_ops
    "reshape", "transpose", "concat", "stack", "unstack", "squeeze", "expand_dims", "getitem", "broadcast_to",
    "identity", "gather", "tile", "pad", "split",
    # nn_ops
    "relu", "relu6", "softmax", "log_softmax", "conv2d", "max_pool2d", "avg_pool2d", "dropout", "bias_add",
    "sparse_softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits", "fused_conv2d", "fused_dense", "leaky_relu", "elu", "selu", "softplus",
    "silu", "swish", "erf", "gelu", "conv2d_transpose", "depthwise_conv2d", "separable_conv2d", "moments",
    "batch_normalization",
    # gradient-checked in tests/test_tf_functions_breadth.py (GRADIENT_CASES)
    "expm1", "tan", "sinh", "cosh", "asin", "acos", "atan", "reciprocal", "squared_difference", "divide_no_nan",
    "xlogy", "reduce_variance", "reduce_std", "reduce_euclidean_norm", "cumsum", "cumprod", "boolean_mask", "reverse",
    "roll", "repeat", "gather_nd", "meshgrid", "l2_loss", "softsign", "log_sigmoid",
    "weighted_cross_entropy_with_logits", "embedding_lookup", "conv1d", "max_pool1d", "avg_pool1d", "floormod",
    "multiply_no_nan", "atan2", "unsorted_segment_sum", "unsorted_segment_mean", "segment_sum", "segment_mean",
    "scatter_nd",
    "tensor_scatter_nd_update", "tensor_scatter_nd_add", "erfc", "real", "conj", "log_poisson_loss",
    "unsorted_segment_max", "unsorted_segment_min", "segment_max", "segment_min", "ensure_shape",
}
NO_GRADIENT = {  # integer/bool results, piecewise-constant ops (checked above to give None or zeros), creation
    "floordiv", "sign", "round", "floor", "ceil", "reduce_any", "reduce_all", "argmax", "argmin", "equal",
    "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or", "logical_not",
    "one_hot", "zeros", "ones", "fill", "zeros_like", "ones_like", "stop_gradient", "shape", "size", "rank",
    "range", "conv_output_size", "logical_xor", "is_nan", "is_inf", "is_finite", "count_nonzero", "linspace", "eye",
    "sequence_mask", "confusion_matrix", "bincount", "imag",
}


def test_every_public_op_is_covered():
    from gpuflow.ops import math_ops, array_ops
    public = set(math_ops.__all__) | set(array_ops.__all__) | set(nn_ops.__all__)
    assert public - GRADIENT_CHECKED - NO_GRADIENT == set(), "new ops need a gradient case in this file"
    assert (GRADIENT_CHECKED | NO_GRADIENT) - public == set()
