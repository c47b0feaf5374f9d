"""GradientTape semantics (TensorFlow 2): persistence, nesting, watching, structures, errors.

The tests whose gradients are computed values (persistence, higher order, output_gradients,
stop_gradient, accumulation) take the ``device`` fixture (tests/conftest.py) and run on cpu, emulator
and gpu. The tape's bookkeeping (what is watched, result structures, recording switches, threads) and
its error messages stay CPU-only: they never reach a backend, as the tape records the same ops
whichever backend computes them."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.ops import nn_ops

from gradcheck import rand


def f64(v):
    return tf.constant(np.asarray(v, dtype=np.float64))


def test_simple_gradient_and_docstring_example(device):
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = x * x
    g = tape.gradient(y, x)
    assert float(g) == 6.0 and g.dtype == tf.float32


def test_non_persistent_tape_refuses_a_second_gradient():
    x = f64(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x ** 2
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent.*persistent=True"):
        tape.gradient(y, x)


def test_persistent_tape_gives_many_gradients(device):
    x = f64([1.0, 2.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * x
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2, 4])
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), [3, 12])
    np.testing.assert_allclose(tape.gradient(z, y).numpy(), [1, 2])  # w.r.t. an intermediate
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2, 4])


def test_gradient_of_a_list_of_targets_is_summed(device):
    x = f64(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        a, b = x * 2, x * x
    assert float(tape.gradient([a, b], x)) == 8.0


def test_target_equal_to_source_gives_ones(device):
    x = f64([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
    np.testing.assert_array_equal(tape.gradient(x, x).numpy(), [1, 1])


# -- higher order -------------------------------------------------------------------
def _second(fn, x):
    x = f64(x)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = fn(x)
        g = inner.gradient(y, x)
    return g.numpy(), outer.gradient(g, x).numpy()


def test_second_derivative_of_cube(device):
    g, h = _second(lambda x: x ** 3, [1.0, -2.0, 0.5])
    np.testing.assert_allclose(g, [3, 12, 0.75])
    np.testing.assert_allclose(h, [6, -12, 3])


def test_second_derivative_of_sin(device):
    x = np.array([0.1, 1.0, 2.5])
    g, h = _second(tf.sin, x)
    np.testing.assert_allclose(g, np.cos(x))
    np.testing.assert_allclose(h, -np.sin(x))


def test_third_derivative_of_exp_times_x(device):
    x = f64(0.7)
    with tf.GradientTape() as t3:
        t3.watch(x)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                y = x * tf.exp(x)
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    np.testing.assert_allclose([float(d1), float(d2), float(d3)], np.exp(0.7) * np.array([1.7, 2.7, 3.7]))


def test_hessian_vector_product_of_a_tanh_mlp_matches_finite_differences(device):
    w1, w2 = f64(rand(3, 4)), f64(rand(4, 1, seed=1))
    x = f64(rand(2, 3, seed=2))
    v = rand(3, 4, seed=3)

    def grad_w1(w):
        with tf.GradientTape() as t:
            t.watch(w)
            loss = tf.reduce_sum(tf.tanh(tf.matmul(tf.tanh(tf.matmul(x, w)), w2)) ** 2)
        return t.gradient(loss, w)

    with tf.GradientTape() as outer:
        outer.watch(w1)
        g = grad_w1(w1)
        gv = tf.reduce_sum(g * v)
    hv = outer.gradient(gv, w1).numpy()
    eps = 1e-6
    fd = (grad_w1(f64(w1.numpy() + eps * v)).numpy() - grad_w1(f64(w1.numpy() - eps * v)).numpy()) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


def test_second_derivative_through_conv2d_is_a_clear_error():
    x, w = f64(rand(1, 4, 4, 2)), f64(rand(3, 3, 2, 2, seed=1))
    with tf.GradientTape() as outer:
        outer.watch([x, w])
        with tf.GradientTape() as inner:
            inner.watch([x, w])
            y = tf.nn.conv2d(x, w, 1, "SAME")
        gx = inner.gradient(y, x)
    with pytest.raises(NotImplementedError, match="Conv2DBackpropInput.*higher-order"):
        outer.gradient(gx, w)


def test_second_derivative_through_dense_is_a_clear_error():
    x, w = f64(rand(2, 3)), tf.Variable(rand(3, 2, seed=1))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            y = nn_ops.fused_dense(x, w, activation="relu")
        gw = inner.gradient(y, w)
    with pytest.raises(NotImplementedError, match="DenseBackpropFilter"):
        outer.gradient(gw, x)


def test_second_derivative_through_max_pool_is_zero_not_an_error(device):
    # max pooling's gradient is piecewise constant in x: its derivative is zero (None)
    x = tf.constant(rand(1, 4, 4, 1).astype(np.float32))  # the CUDA kernels take float32
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.nn.max_pool2d(x, 2, 2, "VALID")
        g = inner.gradient(y, x)
    assert outer.gradient(g, x) is None


def test_an_op_made_with_vjp_none_is_not_differentiable():
    # make_op(..., vjp=None) is TensorFlow's ops.NotDifferentiable: no node, None through it (zeros if asked),
    # while a trainable variable it reads is still watched, as TensorFlow watches a variable when read
    from gpuflow.ops.core import make_op
    x, v = f64([1.0, 2.0]), tf.Variable([3.0, 4.0], dtype="float64")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = make_op("Opaque", (x, v), x._data * v._data, None)
        z = y * 2.0 + x
    assert tape.gradient(y, [x, v]) == [None, None]
    assert tape.gradient(z, x).numpy().tolist() == [1.0, 1.0]  # the path through "Opaque" adds nothing
    assert tape.gradient(y, v, unconnected_gradients="zero").numpy().tolist() == [0.0, 0.0]
    assert tape.watched_variables() == (v,)


def test_a_gradient_op_is_first_order_only():
    # the backward passes of the fused primitives: recorded (the inputs it depends on are connected) but
    # differentiating through one raises, naming it, rather than giving a silently wrong None
    from gpuflow.ops.core import make_gradient_op
    x = f64([1.0, -2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = make_gradient_op("SomeGrad", (x,), x._data * 3.0)
    with pytest.raises(NotImplementedError, match="'SomeGrad'.*higher-order"):
        tape.gradient(y, x)


def test_recording_tape_count_counts_the_nested_tapes():
    from gpuflow import autodiff
    assert autodiff.recording_tape_count() == 0
    with tf.GradientTape() as outer:
        with tf.GradientTape():
            assert autodiff.recording_tape_count() == 2
            with outer.stop_recording():
                assert autodiff.recording_tape_count() == 1
    assert autodiff.recording_tape_count() == 0


# -- watching ------------------------------------------------------------------------
def test_constants_are_not_watched_unless_asked():
    x = f64(2.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert float(tape.gradient(y, x)) == 4.0


def test_watch_accepts_nested_structures_and_rejects_non_tensors():
    a, b = f64(1.0), f64(2.0)
    with tf.GradientTape() as tape:
        tape.watch([a, {"k": (b,)}])
        y = a * b
    ga, gb = tape.gradient(y, [a, b])
    assert float(ga) == 2.0 and float(gb) == 1.0
    with pytest.raises(ValueError, match="Tensors or Variables.*Received: float"):
        tf.GradientTape().watch([a, [1.0]])


def test_trainable_variables_are_watched_when_read():
    v = tf.Variable(2.0)
    frozen = tf.Variable(3.0, trainable=False)
    with tf.GradientTape() as tape:
        y = v * frozen
    gv, gf = tape.gradient(y, [v, frozen])
    assert float(gv) == 3.0 and gf is None
    assert tape.watched_variables() == (v,)


def test_watch_accessed_variables_false():
    v, u = tf.Variable(2.0), tf.Variable(5.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(u)
        y = v * u
    gv, gu = tape.gradient(y, [v, u])
    assert gv is None and float(gu) == 2.0
    assert tape.watched_variables() == (u,)


def test_variable_created_inside_the_tape_is_watched(device):
    with tf.GradientTape() as tape:
        v = tf.Variable([1.0, 2.0])
        y = tf.reduce_sum(v * v)
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2, 4])


# -- unconnected, integer, structures, output_gradients -----------------------------------
def test_unconnected_gradients_none_and_zero(device):
    x, z = f64([1.0, 2.0]), f64([[3.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = x * 2
    assert tape.gradient(y, z) is None
    gz = tape.gradient(y, z, unconnected_gradients="zero")
    assert gz.dtype == tf.float64 and tuple(gz.shape) == (1, 1) and float(gz.numpy().sum()) == 0
    gz = tape.gradient(y, z, unconnected_gradients=tf.autodiff.UnconnectedGradients.ZERO)
    assert gz is not None
    with pytest.raises(ValueError, match="unconnected_gradients.*'none' or 'zero'.*'some'"):
        tape.gradient(y, z, unconnected_gradients="some")


def test_integer_sources_and_targets_give_none():
    i = tf.constant([1, 2])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(i)
        f = tf.cast(i, tf.float32) * 2.0
        j = i * 3
    assert tape.gradient(f, i) is None
    assert tape.gradient(j, i) is None
    assert tape.gradient(f, i, unconnected_gradients="zero") is not None


def test_gradient_structure_follows_sources():
    a, b, c = f64(1.0), f64(2.0), f64(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, b, c])
        y = a * b * c
    g = tape.gradient(y, {"a": a, "rest": [b, (c,)]})
    assert set(g) == {"a", "rest"} and isinstance(g["rest"], list) and isinstance(g["rest"][1], tuple)
    assert [float(g["a"]), float(g["rest"][0]), float(g["rest"][1][0])] == [6.0, 3.0, 2.0]
    ga, gb = tape.gradient(y, (a, b))
    assert (float(ga), float(gb)) == (6.0, 3.0)
    with pytest.raises(ValueError, match="sources.*Received: float"):
        tape.gradient(y, [a, 1.0])


def test_output_gradients(device):
    x = f64([1.0, 2.0, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = tf.reduce_sum(x)
    np.testing.assert_allclose(tape.gradient(y, x, output_gradients=f64([1.0, 0.0, -1.0])).numpy(), [2, 0, -6])
    np.testing.assert_allclose(tape.gradient(y, x, output_gradients=np.array([0.5, 1.0, 2.0])).numpy(), [1, 4, 12])
    g = tape.gradient([y, z], x, output_gradients=[np.ones(3), 2.0])
    np.testing.assert_allclose(g.numpy(), [4, 6, 8])
    with pytest.raises(ValueError, match="output_gradients.*Expected: 2.*Received: 1"):
        tape.gradient([y, z], x, output_gradients=[np.ones(3)])
    with pytest.raises(ValueError, match="shape.*Expected: \\(3,\\).*Received: \\(2,\\)"):
        tape.gradient(y, x, output_gradients=f64([1.0, 2.0]))
    with pytest.raises(ValueError, match="float64.*float32"):
        tape.gradient(y, x, output_gradients=tf.constant([1.0, 1.0, 1.0]))


def test_stop_gradient(device):
    x = f64(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * tf.stop_gradient(x * x)
    assert float(tape.gradient(y, x)) == 9.0


def test_tape_stop_recording():
    x = f64(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            z = y * x
        w = y + z
    assert float(tape.gradient(w, x)) == 4.0  # only through y


def test_module_stop_recording_pauses_every_tape():
    x = f64(2.0)
    with tf.GradientTape() as t1, tf.GradientTape() as t2:
        t1.watch(x)
        t2.watch(x)
        with tf.stop_recording():
            y = x * x
            assert not tf.autodiff.is_recording()
        assert tf.autodiff.is_recording()
        z = y * x
    assert float(t1.gradient(z, x)) == 4.0 and float(t2.gradient(z, x)) == 4.0
    assert not tf.autodiff.is_recording()


def test_gradient_inside_the_tape_context_and_reset():
    x = f64(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        g = tape.gradient(y, x)  # the gradient ops are not recorded on the tape itself
        z = y * 3
    assert float(g) == 4.0 and float(tape.gradient(z, x)) == 12.0
    tape.reset()
    assert tape.gradient(z, x) is None


def test_non_float_target_gives_none():
    x = f64(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(x > 1, tf.int32)
    assert tape.gradient(y, x) is None


def test_gradient_accumulates_over_reuse_and_broadcast(device):
    x = f64([[1.0], [2.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x * tf.ones([2, 3], tf.float64) + x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[6], [6]])  # 3 columns, twice


def test_tapes_are_thread_local():
    import threading
    x = f64(2.0)
    seen = []
    with tf.GradientTape():
        t = threading.Thread(target=lambda: seen.append(tf.autodiff.is_recording()))
        t.start()
        t.join()
    assert seen == [False]
