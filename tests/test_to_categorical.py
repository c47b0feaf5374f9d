"""Tests for gpuflow.keras.utils.numerical_utils.to_categorical (Keras 3 semantics)."""

import numpy as np
import pytest

from gpuflow.keras.utils.numerical_utils import to_categorical


def reference(labels, num_classes):
    """One-hot by comparison with the class index, independent of the code under test."""
    labels = np.asarray(labels)
    return (labels[..., None] == np.arange(num_classes)).astype(np.float64)


def test_keras_docstring_example():
    np.testing.assert_array_equal(to_categorical([0, 1, 2, 3], num_classes=4), np.eye(4))


@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 3, 4), (1,)])
def test_matches_reference_at_several_shapes(shape):
    labels = np.random.default_rng(0).integers(0, 5, shape)
    got = to_categorical(labels, num_classes=6)
    assert got.dtype == np.float64 and got.shape == shape + (6,)
    np.testing.assert_array_equal(got, reference(labels, 6))


@pytest.mark.parametrize("shape,out", [((4, 1), (4, 3)), ((2, 5, 1), (2, 5, 3)), ((1, 1), (1, 3))])
def test_trailing_dimension_of_one_is_squeezed(shape, out):
    labels = np.arange(np.prod(shape)).reshape(shape) % 3
    got = to_categorical(labels, 3)
    assert got.shape == out
    np.testing.assert_array_equal(got, reference(labels[..., 0], 3))


def test_only_the_last_dimension_is_squeezed():
    assert to_categorical(np.zeros((1, 4), int), 2).shape == (1, 4, 2)
    assert to_categorical(np.zeros((3, 1, 1), int), 2).shape == (3, 1, 2)


def test_scalar_label():
    np.testing.assert_array_equal(to_categorical(2, 4), [0, 0, 1, 0])


def test_num_classes_is_inferred_as_max_plus_one():
    got = to_categorical([1, 4, 1])
    assert got.shape == (3, 5)
    np.testing.assert_array_equal(got, reference([1, 4, 1], 5))


@pytest.mark.parametrize("labels", [
    np.array([0, 2, 1], np.uint8), np.array([0, 2, 1], np.int16), np.array([0, 2, 1], np.uint64),
    [0.0, 2.0, 1.0], (0, 2, 1),
], ids=["uint8", "int16", "uint64", "integral-floats", "tuple"])
def test_label_dtypes(labels):
    np.testing.assert_array_equal(to_categorical(labels, 3), reference([0, 2, 1], 3))


def test_booleans():
    np.testing.assert_array_equal(to_categorical([True, False]), [[0, 1], [1, 0]])


def test_object_with_numpy_method():
    class FakeTensor:
        def numpy(self):
            return np.array([1, 0])

    np.testing.assert_array_equal(to_categorical(FakeTensor(), 2), [[0, 1], [1, 0]])


def test_numpy_integer_num_classes():
    assert to_categorical([1], np.int64(3)).shape == (1, 3)


def test_empty_input_with_num_classes():
    got = to_categorical(np.zeros((0,), int), 4)
    assert got.shape == (0, 4) and got.dtype == np.float64


def test_empty_input_without_num_classes():
    message = r"cannot infer `num_classes` from an empty `x`.*shape=\(0,\)"
    with pytest.raises(ValueError, match=message):
        to_categorical([])


def test_label_too_large():
    message = (r"`x` in \[0, num_classes\) = \[0, 3\), num_classes=3\. "
               r"Received: x.min\(\)=0, x.max\(\)=5 \(2 labels out of range\)")
    with pytest.raises(ValueError, match=message):
        to_categorical([0, 5, 1, 3], num_classes=3)


def test_negative_label():
    with pytest.raises(ValueError, match=r"\[0, 3\), num_classes=3 \(inferred as max\(x\) \+ 1\)\. "
                                         r"Received: x.min\(\)=-1, x.max\(\)=2"):
        to_categorical([0, -1, 2])


def test_all_negative_labels():
    with pytest.raises(ValueError, match=r"Received: x.min\(\)=-4, x.max\(\)=-2"):
        to_categorical([-2, -4])


@pytest.mark.parametrize("labels,shown",
                         [([0.0, 1.5], "1.5"), ([np.nan], "nan"), ([np.inf], "inf")])
def test_non_integer_labels(labels, shown):
    message = f"integer class labels in `x`. Received: x containing {shown}"
    with pytest.raises(ValueError, match=message):
        to_categorical(labels, 3)


def test_string_labels():
    with pytest.raises(ValueError, match="integer class labels in `x`. Received: x with dtype=<U1"):
        to_categorical(["a", "b"])


@pytest.mark.parametrize("num_classes", [0, -2])
def test_num_classes_must_be_positive(num_classes):
    with pytest.raises(ValueError, match=f"`num_classes` must be a positive int or None. "
                                         f"Received: num_classes={num_classes}"):
        to_categorical([0], num_classes)


def test_num_classes_must_be_an_int():
    with pytest.raises(TypeError, match=r"Received: num_classes=3\.0"):
        to_categorical([0], 3.0)
