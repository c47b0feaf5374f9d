"""Tensor and Variable: printing, NumPy interop, the Python protocol, and Variable semantics.

The tests that move values between NumPy and a device or compute with them (NumPy interop, indexing,
operators, tf.constant, Variable assignment and aliasing) take the ``device`` fixture
(tests/conftest.py) and run on cpu, emulator and gpu. Printing, shapes, dtype inference and error
messages stay CPU-only: they are decided on the host whichever backend holds the array."""
import numpy as np
import pytest

import gpuflow as tf


# -- printing (TensorFlow's formats) ------------------------------------------------------
@pytest.mark.parametrize("value,dtype,r,s", [
    ([1.0, 2.0], None, "<tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>",
     "tf.Tensor([1. 2.], shape=(2,), dtype=float32)"),
    (1.0, None, "<tf.Tensor: shape=(), dtype=float32, numpy=1.0>", "tf.Tensor(1.0, shape=(), dtype=float32)"),
    (0.1, None, "<tf.Tensor: shape=(), dtype=float32, numpy=0.1>", "tf.Tensor(0.1, shape=(), dtype=float32)"),
    (3, None, "<tf.Tensor: shape=(), dtype=int32, numpy=3>", "tf.Tensor(3, shape=(), dtype=int32)"),
    (True, None, "<tf.Tensor: shape=(), dtype=bool, numpy=True>", "tf.Tensor(True, shape=(), dtype=bool)"),
    ([[1, 2], [3, 4]], None,
     "<tf.Tensor: shape=(2, 2), dtype=int32, numpy=\narray([[1, 2],\n       [3, 4]], dtype=int32)>",
     "tf.Tensor(\n[[1 2]\n [3 4]], shape=(2, 2), dtype=int32)"),
    ([1.5, 2.0], "float64", "<tf.Tensor: shape=(2,), dtype=float64, numpy=array([1.5, 2. ])>",
     "tf.Tensor([1.5 2. ], shape=(2,), dtype=float64)"),
])
def test_repr_and_str_follow_tensorflow(value, dtype, r, s):
    t = tf.constant(value, dtype=dtype)
    assert repr(t) == r
    assert str(t) == s


def test_variable_repr():
    v = tf.Variable([1.0, 2.0], name="w")
    assert repr(v) == "<tf.Variable 'w' shape=(2,) dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert repr(tf.Variable([[1, 2], [3, 4]], name="m")) == (
        "<tf.Variable 'm' shape=(2, 2) dtype=int32, numpy=\narray([[1, 2],\n       [3, 4]], dtype=int32)>")
    assert repr(tf.Variable(2.5)) == "<tf.Variable 'Variable' shape=() dtype=float32, numpy=2.5>"


def test_tensor_shape():
    t = tf.ones([2, 3])
    assert t.shape == (2, 3) and t.shape.as_list() == [2, 3] and t.shape.rank == 2 and t.ndim == 2
    assert t.shape.num_elements() == 6 and t.get_shape() == (2, 3)
    assert repr(t.shape) == "TensorShape([2, 3])" and str(t.shape) == "(2, 3)"
    assert tf.TensorShape([2, None]).num_elements() is None


# -- NumPy interop ------------------------------------------------------------------------
def test_numpy_and_asarray(device):
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(t), a)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    if device == "gpu":  # a copy out of device memory: writing it leaves the Tensor alone
        a[0, 0] = 5
        np.asarray(t)[0, 0] = 5
        assert t.numpy()[0, 0] == 1
    else:
        with pytest.raises(ValueError):  # a Tensor is immutable: its NumPy view of host memory is read-only
            a[0, 0] = 5
        with pytest.raises(ValueError):
            np.asarray(t)[0, 0] = 5
    c = np.array(t)  # an explicit copy is writable and independent
    c[0, 0] = 9
    assert t.numpy()[0, 0] == 1
    assert np.sum(t) == 10.0 and np.allclose(np.exp(t), np.exp(a))


def test_operators_with_numpy_arrays_give_tensors_both_ways(device):
    t = tf.constant([1.0, 2.0])
    arr = np.array([10.0, 20.0], dtype=np.float32)
    for r in (t + arr, arr + t, arr - t, arr * t, arr / t, arr ** t, np.float32(2.0) * t, arr > t):
        assert isinstance(r, tf.Tensor)
    np.testing.assert_array_equal((arr - t).numpy(), [9, 18])
    np.testing.assert_array_equal((arr / t).numpy(), [10, 10])
    m = np.eye(2, dtype=np.float32)
    assert isinstance(m @ tf.constant([[1.0], [2.0]]), tf.Tensor)
    assert (arr + t).dtype == tf.float32


def test_numpy_arrays_convert_to_tensors_keeping_dtype():
    assert tf.constant(np.ones(2)).dtype == tf.float64
    assert tf.convert_to_tensor(np.ones(2, np.float32)).dtype == tf.float32
    assert tf.reduce_sum(np.arange(4)).dtype == tf.int64


# -- Python protocol ----------------------------------------------------------------------
def test_indexing_iteration_len_bool(device):
    t = tf.constant([[1, 2, 3], [4, 5, 6]])
    assert len(t) == 2
    rows = list(t)
    assert len(rows) == 2 and all(isinstance(r, tf.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[1].numpy(), [4, 5, 6])
    assert int(t[1, 2]) == 6 and t[1, 2].dtype == tf.int32
    np.testing.assert_array_equal(t[:, 1].numpy(), [2, 5])
    np.testing.assert_array_equal(t[..., ::-1].numpy(), [[3, 2, 1], [6, 5, 4]])
    assert bool(tf.constant(1.0)) and not bool(tf.constant(0))
    assert bool(tf.constant([True]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    assert float(tf.constant(2.5)) == 2.5 and int(tf.constant(7)) == 7
    assert [10, 20, 30][tf.constant(1)] == 20  # __index__
    with pytest.raises(TypeError, match="integer.*float32"):
        [1, 2][tf.constant(1.0)]


def test_scalar_len_and_iteration_raise():
    s = tf.constant(3.0)
    with pytest.raises(TypeError, match="len.*scalar"):
        len(s)
    with pytest.raises(TypeError, match="scalar"):
        iter(s)


def test_tensor_is_unhashable_and_eq_is_elementwise(device):
    t = tf.constant([1.0, 2.0])
    with pytest.raises(TypeError, match="unhashable"):
        hash(t)
    with pytest.raises(TypeError, match="unhashable"):
        {t: 1}
    assert (t == None) is False and (t != None) is True  # noqa: E711 - TensorFlow's rule
    assert t not in [None, None]  # so membership tests against None work
    eq = t == tf.constant([1.0, 3.0])
    assert isinstance(eq, tf.Tensor) and eq.dtype == tf.bool
    np.testing.assert_array_equal(eq.numpy(), [True, False])


def test_unary_operators(device):
    t = tf.constant([-1.5, 2.0])
    np.testing.assert_array_equal((-t).numpy(), [1.5, -2.0])
    np.testing.assert_array_equal(abs(t).numpy(), [1.5, 2.0])
    assert +t is t


# -- tf.constant ---------------------------------------------------------------------------
def test_constant_with_shape(device):
    np.testing.assert_array_equal(tf.constant(5, shape=[2, 2]).numpy(), np.full((2, 2), 5))
    np.testing.assert_array_equal(tf.constant([7.0], shape=[3]).numpy(), [7, 7, 7])
    np.testing.assert_array_equal(tf.constant([1, 2, 3, 4], shape=(2, 2)).numpy(), [[1, 2], [3, 4]])
    t = tf.constant(0.0, shape=(2, 3))
    assert t.dtype == tf.float32 and tuple(t.shape) == (2, 3)
    assert np.asarray(t).flags.c_contiguous  # a real array, not a broadcast view
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 2\)"):
        tf.constant([1, 2, 3], shape=(2, 2))


def test_constant_of_a_tensor(device):
    t = tf.constant([1.0, 2.0])
    c = tf.constant(t)
    np.testing.assert_array_equal(c.numpy(), t.numpy())
    assert tf.constant(t, dtype=tf.float64).dtype == tf.float64


# -- Variable ------------------------------------------------------------------------------
def test_variable_basics(device):
    v = tf.Variable([1.0, 2.0], name="w")
    assert isinstance(v, tf.Tensor) and v.name == "w" and v.trainable and v.dtype == tf.float32
    assert not tf.Variable(1.0, trainable=False).trainable
    assert tf.Variable(1, dtype=tf.float64).dtype == tf.float64
    assert tf.Variable(lambda: tf.ones([2])).shape == (2,)
    np.testing.assert_array_equal((v * 2).numpy(), [2, 4])
    assert isinstance(v * 2, tf.Tensor) and not isinstance(v * 2, tf.Variable)


def test_variable_assign_semantics(device):
    v = tf.Variable([1.0, 2.0])
    r = v.assign([3.0, 4.0])
    assert r is v
    np.testing.assert_array_equal(v.numpy(), [3, 4])
    v.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(v.numpy(), [4, 5])
    v.assign_sub(tf.constant([0.5, 0.5]))
    np.testing.assert_array_equal(v.numpy(), [3.5, 4.5])
    v.assign(np.array([1, 2]))  # cast to the variable's dtype
    assert v.dtype == tf.float32
    np.testing.assert_array_equal(v.numpy(), [1, 2])
    i = tf.Variable([1, 2])
    with pytest.raises(TypeError):
        i.assign([1.5, 2.0])
    with pytest.raises(ValueError, match="float32.*float64|float64.*float32"):
        v.assign(tf.constant([1.0, 2.0], dtype=tf.float64))


@pytest.mark.parametrize("op", ["assign", "assign_add", "assign_sub"])
def test_variable_shape_mismatch_error(op):
    v = tf.Variable(np.zeros((2, 3)), name="kernel")
    with pytest.raises(ValueError, match=rf"{op}.*'kernel'.*Expected: \(2, 3\).*Received: value.shape=\(3, 2\)"):
        getattr(v, op)(np.zeros((3, 2)))


def test_variable_does_not_alias_its_initial_value(device):
    a = np.array([1.0, 2.0])
    v = tf.Variable(a)
    a[0] = 100
    assert v.numpy()[0] == 1
    v.assign_add([1.0, 1.0])
    assert a[1] == 2  # and writing the variable does not write the array
    t = tf.constant([1.0, 2.0])
    w = tf.Variable(t)
    w.assign([5.0, 5.0])
    np.testing.assert_array_equal(t.numpy(), [1, 2])
    u = tf.Variable(w)
    u.assign([0.0, 0.0])
    np.testing.assert_array_equal(w.numpy(), [5, 5])


def test_values_read_from_a_variable_are_snapshots(device):
    v = tf.Variable([1.0, 2.0])
    n, a, val = v.numpy(), np.asarray(v), v.value()
    doubled = v * 2
    v.assign([7.0, 7.0])
    np.testing.assert_array_equal(n, [1, 2])
    np.testing.assert_array_equal(a, [1, 2])
    np.testing.assert_array_equal(val.numpy(), [1, 2])
    np.testing.assert_array_equal(doubled.numpy(), [2, 4])
    n[0] = 50  # a copy, writable, and not the variable
    assert v.numpy()[0] == 7
