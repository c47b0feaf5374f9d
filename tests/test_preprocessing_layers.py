"""Preprocessing and augmentation layers: Normalization.adapt, Resizing, CenterCrop and the random layers (active
only in training, seeded), with the geometric sampling checked against TensorFlow's ImageProjectiveTransformV3
(tests/fixtures/tf_image_ops.npz, written by tests/fixtures/make_tf_image_ops.py)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.keras.layers.preprocessing import _affine

layers = tf.keras.layers
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REF = np.load(FIXTURES / "tf_image_ops.npz")
_spec = importlib.util.spec_from_file_location("make_tf_image_ops", FIXTURES / "make_tf_image_ops.py")
ops_maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ops_maker)


def test_normalization_adapt_and_given_statistics(tmp_path):
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((50, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]).astype("float32")
    norm = layers.Normalization()
    norm.adapt(data)
    out = norm(data).numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, rtol=1e-4)
    assert [w.name for w in norm.weights] == ["mean", "variance", "count"] and not norm.trainable_weights
    batched = layers.Normalization()
    batched.adapt(tf.data.Dataset.from_tensor_slices(data).batch(7))  # merged batch by batch, Keras's formulas
    np.testing.assert_allclose(batched.get_weights()[0], data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(batched.get_weights()[1], data.var(0), rtol=1e-4)
    inverse = layers.Normalization(mean=data.mean(0), variance=data.var(0), invert=True)
    np.testing.assert_allclose(inverse(out).numpy(), data, rtol=1e-4, atol=1e-4)
    model = tf.keras.Sequential([tf.keras.Input((3,)), norm])
    model.save(tmp_path / "n.keras")
    np.testing.assert_allclose(tf.keras.models.load_model(tmp_path / "n.keras").predict(data, verbose=0), out,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        layers.Normalization(mean=1.0)


def test_resizing_and_center_crop():
    image = REF["image"]
    np.testing.assert_allclose(layers.Resizing(4, 5)(image[None]).numpy()[0], REF["bilinear_4x5"], atol=2e-4)
    np.testing.assert_allclose(layers.Resizing(13, 11, interpolation="nearest")(image).numpy(),
                               REF["nearest_13x11"])
    assert layers.Resizing(4, 4, crop_to_aspect_ratio=True)(image).shape == (4, 4, 3)
    np.testing.assert_array_equal(layers.CenterCrop(3, 5)(image[None]).numpy()[0], image[2:5, 2:7])
    assert layers.CenterCrop(10, 10)(image).shape == (10, 10, 3)  # smaller: resized up, as Keras
    assert layers.Resizing(4, 5).compute_output_shape((None, 7, 9, 3)) == (None, 4, 5, 3)


@pytest.mark.parametrize("name", ["rot", "zoom", "shift"])
def test_affine_sampling_matches_tensorflow(name):
    for fill in ops_maker.FILL_MODES:
        for interp in ("bilinear", "nearest"):
            got = _affine(REF["batch"][0], REF[name], interp, fill, 3.0)
            np.testing.assert_allclose(got, REF[f"{name}_{fill}_{interp}"][0], atol=5e-4, err_msg=f"{fill} {interp}")


@pytest.mark.parametrize("cls,kwargs", [
    (layers.RandomFlip, {}), (layers.RandomRotation, {"factor": 0.2}), (layers.RandomZoom, {"height_factor": 0.3}),
    (layers.RandomTranslation, {"height_factor": 0.2, "width_factor": 0.2}), (layers.RandomContrast, {"factor": 0.5}),
])
def test_random_layers_train_only_and_seeded(cls, kwargs):
    images = REF["batch"].repeat(4, axis=0)
    layer = cls(seed=3, **kwargs)
    np.testing.assert_array_equal(layer(images, training=False).numpy(), images)
    out = layer(images).numpy()  # training by default when called directly, as Keras 3
    assert out.shape == images.shape and not np.allclose(out, images)
    np.testing.assert_array_equal(cls(seed=3, **kwargs)(images, training=True).numpy(), out)  # seeded
    model = tf.keras.Sequential([tf.keras.Input((7, 9, 2)), layer])
    np.testing.assert_array_equal(model.predict(images, verbose=0), images)  # inference: identity
    again = cls.from_config(layer.get_config())
    assert again.get_config() == {**layer.get_config(), "name": again.name}


def test_random_contrast_and_flip_values():
    image = 100 + np.arange(12, dtype="float32").reshape(1, 2, 3, 2) * 5  # no clipping at c <= 1.5
    out = layers.RandomContrast(factor=(0.5, 0.5), seed=0)(image).numpy()
    mean = image.mean(axis=(1, 2), keepdims=True)
    c = (out - mean).ravel()[0] / (image - mean).ravel()[0]
    assert 0.5 <= c <= 1.5
    np.testing.assert_allclose(out, np.clip((image - mean) * c + mean, 0, 255), rtol=1e-5)
    flips = {layers.RandomFlip("horizontal", seed=s)(image).numpy().tobytes() for s in range(8)}
    assert flips == {image.tobytes(), image[:, :, ::-1].tobytes()}
    with pytest.raises(ValueError, match="unknown mode"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="factor"):
        layers.RandomContrast(1.5)
