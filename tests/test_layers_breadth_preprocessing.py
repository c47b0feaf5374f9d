"""CategoryEncoding, Discretization, RandomBrightness and RandomCrop (Keras 3.15's arguments, configs and the
TensorFlow backend's encodings): run_layer_test on every device, expected values worked out by hand or with
NumPy here."""
import numpy as np
import pytest

import gpuflow as tf
from layer_test_utils import run_layer_test, rnd

keras = tf.keras
layers = keras.layers


def _one_hot(ids, depth):
    return np.eye(depth, dtype=np.float32)[ids]


@pytest.mark.parametrize("mode,ids,expected_shape", [
    ("multi_hot", [[0, 2], [1, 1], [3, 0]], (3, 4)), ("count", [[0, 2], [1, 1], [3, 0]], (3, 4)),
    ("one_hot", [[0, 2], [1, 1], [3, 0]], (3, 2, 4)), ("one_hot", [[0], [2], [1]], (3, 4))])
def test_category_encoding(device, mode, ids, expected_shape):
    ids = np.array(ids, np.int32)
    oh = _one_hot(ids, 4)
    expected = oh.reshape(expected_shape) if mode == "one_hot" else oh.max(1) if mode == "multi_hot" else oh.sum(1)
    run_layer_test(layers.CategoryEncoding, {"num_tokens": 4, "output_mode": mode}, ids.shape, expected_shape,
                   input_data=ids, input_dtype="int32", expected_output=expected)


def test_category_encoding_rank1_counts_and_weights():
    # a rank-1 input is one sample (Keras with TensorFlow): (n,) -> (depth,)
    np.testing.assert_array_equal(layers.CategoryEncoding(4, output_mode="count")(np.array([0, 2, 1, 2])).numpy(),
                                  [1, 1, 2, 0])
    np.testing.assert_array_equal(layers.CategoryEncoding(4)(np.array([0, 2, 1, 2])).numpy(), [1, 1, 1, 0])
    out = layers.CategoryEncoding(4, output_mode="count")(np.array([[0, 2], [1, 1]]),
                                                          count_weights=np.array([[0.5, 1.0], [2.0, 3.0]]))
    np.testing.assert_array_equal(out.numpy(), [[0.5, 0, 1, 0], [0, 5, 0, 0]])
    assert layers.CategoryEncoding(3, output_mode="binary").output_mode == "multi_hot"
    with pytest.raises(ValueError, match="`count_weights` is not used"):
        layers.CategoryEncoding(3)(np.array([[0]]), count_weights=np.ones((1, 1)))
    with pytest.raises(ValueError, match="num_tokens must be set"):
        layers.CategoryEncoding()
    with pytest.raises(ValueError, match="Unknown arg for output_mode"):
        layers.CategoryEncoding(3, output_mode="tf_idf")
    sym = layers.CategoryEncoding(4, output_mode="one_hot")(keras.Input((3,), dtype="int32"))
    assert tuple(sym.shape) == (None, 3, 4)


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization(device, mode):
    x = np.array([[-1.5, 0.0, 0.5], [1.0, 2.5, 0.99]], np.float32)
    ids = np.array([[0, 1, 1], [2, 3, 1]])  # boundaries [0, 1, 2]: x in [b[i-1], b[i]) -> i
    oh = _one_hot(ids, 4)
    expected = {"int": ids, "one_hot": oh, "multi_hot": oh.max(1), "count": oh.sum(1)}[mode]
    run_layer_test(layers.Discretization, {"bin_boundaries": [0.0, 1.0, 2.0], "output_mode": mode}, (2, 3),
                   expected.shape, input_data=x, expected_output=expected,
                   expected_output_dtype="int32" if mode == "int" else "float32")


def test_discretization_adapt_and_config():
    layer = layers.Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(np.linspace(0, 10, 101).astype("float32"))
    # Keras 3.15.1 learns these boundaries from the same data (its approximate quantiles)
    np.testing.assert_allclose(layer.bin_boundaries, [2.4250011444091797, 4.950006484985352, 7.475005149841309],
                               rtol=1e-6)
    config = layer.get_config()
    assert config == {"bin_boundaries": layer.bin_boundaries, "num_bins": 4, "epsilon": 0.01, "output_mode": "int",
                      "sparse": False, "name": layer.name, "dtype": "float32"}
    clone = layers.Discretization.from_config(config)  # both set: the boundaries applied after construction
    np.testing.assert_array_equal(clone(np.array([[1.0, 3.0, 9.0]])).numpy(), [[0, 1, 3]])
    big = np.random.default_rng(0).standard_normal(4000)
    layer = layers.Discretization(num_bins=3)
    layer.adapt(tf.data.Dataset.from_tensor_slices(big).batch(1000))
    np.testing.assert_allclose(layer.bin_boundaries, np.quantile(big, [1 / 3, 2 / 3]), atol=0.05)
    with pytest.raises(ValueError, match="Both `num_bins` and `bin_boundaries` should not be set"):
        layers.Discretization([0.0], num_bins=2)
    with pytest.raises(ValueError, match="Cannot adapt a Discretization layer"):
        layers.Discretization([0.0]).adapt(big)
    with pytest.raises(ValueError, match="call `adapt"):
        layers.Discretization(num_bins=2)(big)


def test_random_brightness():
    x = np.full((64, 3, 3, 2), 0.5, np.float32)
    layer = layers.RandomBrightness((-0.5, 0.5), value_range=(1, 0), seed=1)
    assert layer.value_range == [0, 1] and layer.get_config()["factor"] == (-0.5, 0.5)
    y = layer(x, training=True).numpy()
    per_image = y.reshape(64, -1)
    assert (per_image == per_image[:, :1]).all()  # one shift per image
    assert y.min() >= 0 and y.max() <= 1 and np.unique(per_image[:, 0]).size > 10
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    y = layers.RandomBrightness(0.2, seed=2)(np.full((2, 2, 1), 200.0, np.float32)).numpy()  # one image, 0-255
    assert abs(float(y[0, 0, 0]) - 200) <= 0.2 * 255 + 1e-3 and np.unique(y).size == 1
    with pytest.raises(ValueError, match="should be a list of two numbers"):
        layers.RandomBrightness(0.1, value_range=1)
    with pytest.raises(ValueError, match=r"in the range \[-1.0, 1.0\]"):
        layers.RandomBrightness(1.5)


def test_random_crop(device):
    x = np.arange(2 * 6 * 8, dtype=np.float32).reshape(2, 6, 8, 1)
    layer = layers.RandomCrop(3, 4, seed=1)
    y = layer(x, training=True).numpy()
    assert y.shape == (2, 3, 4, 1)
    top, left = divmod(int(y[0, 0, 0, 0]), 8)
    np.testing.assert_array_equal(y, x[:, top:top + 3, left:left + 4])  # one place for the whole batch
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)  # Keras 3.15: unchanged in inference
    assert layer.compute_output_shape((2, 6, 8, 1)) == (2, 3, 4, 1)
    # not larger on both axes: the centred slice of the target aspect ratio (columns 2..5 here)
    np.testing.assert_array_equal(layers.RandomCrop(6, 4)(x).numpy(), x[:, :, 2:6])
    # smaller: resized up, bilinear (tf.image.resize's half-pixel rule): the first row as Keras 3.15.1 gives it
    up = layers.RandomCrop(8, 10)(x).numpy()
    np.testing.assert_allclose(up[0, 0, :, 0], [0, 0.7, 1.5, 2.3, 3.1, 3.9, 4.7, 5.5, 6.3, 7.0], atol=1e-5)
    assert isinstance(layers.RandomCrop(2, 2).get_config()["seed"], int)
    run_layer_test(layers.RandomCrop, {"height": 2, "width": 3, "seed": 3}, (2, 4, 5, 2), (2, 2, 3, 2),
                   deterministic=False)
