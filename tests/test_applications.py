"""``keras.applications``: the architectures against Keras 3.15, weight files written by Keras, the download cache.

The reference figures come from Keras itself: ``tests/fixtures/make_applications.py`` (run with Keras 3.15 and
TensorFlow) wrote ``applications_layers.json`` (every layer's name, class and weight shapes, parameter counts, output
shapes), the MobileNetV2 weight files and Keras's predictions. VGG16/VGG19/ResNet50/ResNet101/MobileNetV2 files of
full size are too large to commit; ``tests/fixtures/check_applications_by_hand.py`` checks them by hand, both file
formats: largest difference from Keras's outputs 2.6e-6 for VGG16's logits (largest 0.94), 2.4e-7 for VGG19's
pooled features (0.40), 1.2e-6 for ResNet50's softmax (0.04), 6.3e-3 for ResNet101's features (14.3) and 1.1e-5
for MobileNetV2's logits (2.9): float32 sums in another order.

No test touches the network: ``file_utils.open_url``, the one place that downloads, is replaced where a download is
expected and the cache is a temporary ``KERAS_HOME``.
"""
import hashlib
import importlib.util
import json
import os
import urllib.error

import h5py
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.keras.applications import imagenet_utils
from gpuflow.keras.utils import file_utils

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
apps = tf.keras.applications


def _load_fixture_script():
    spec = importlib.util.spec_from_file_location("make_applications", os.path.join(FIXTURES, "make_applications.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _load_fixture_script()
with open(os.path.join(FIXTURES, "applications_layers.json")) as _f:
    KERAS_LAYERS = json.load(_f)
REF = np.load(os.path.join(FIXTURES, "applications.npz"))


def _table(model):
    return dict(model=model.name, params=int(model.count_params()), output=list(model.output.shape),
                layers=[[l.name, type(l).__name__, [list(w.shape) for w in l.weights]] for l in model.layers])


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """A fresh, empty KERAS_HOME and no network: returns the list of URLs a download was attempted from."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    tried = []

    def no_network(url):
        tried.append(url)
        raise urllib.error.URLError("network is unreachable (test)")
    monkeypatch.setattr(file_utils, "open_url", no_network)
    return tried


@pytest.mark.parametrize("name,kwargs", MAKER.LAYER_CONFIGS, ids=[MAKER.config_key(*c) for c in MAKER.LAYER_CONFIGS])
def test_architecture_matches_keras(name, kwargs):
    tf.keras.backend.clear_session()  # default layer names ("global_average_pooling2d") count from zero, as Keras's
    model = getattr(apps, name)(weights=None, **kwargs)
    want = KERAS_LAYERS[MAKER.config_key(name, kwargs)]
    got = _table(model)
    assert got["model"] == want["model"] and got["output"] == want["output"] and got["params"] == want["params"]
    assert len(got["layers"]) == len(want["layers"])
    for g, w in zip(got["layers"], want["layers"]):
        assert g == w


def test_published_parameter_counts():
    """Keras's published figures (keras.io/api/applications): VGG16 138,357,544 with the top, ResNet50 25,636,712,
    MobileNetV2 3,538,984. The architectures equal Keras's (test above); VGG16 with the top is checked from its
    32x32, 10-class build (same layers; only fc1's input, 1x1x512 instead of 7x7x512, and the classes differ), so
    that no test allocates its 138M weights."""
    assert KERAS_LAYERS["ResNet50()"]["params"] == 25_636_712
    assert KERAS_LAYERS["MobileNetV2()"]["params"] == 3_538_984
    assert KERAS_LAYERS["VGG16(include_top=False)"]["params"] == 14_714_688
    small = KERAS_LAYERS["VGG16(classes=10, input_shape=(32, 32, 3))"]
    assert [l[2] for l in small["layers"] if l[0] in ("fc1", "predictions")] == [[[512, 4096], [4096]],
                                                                                 [[4096, 10], [10]]]
    assert small["params"] + (7 * 7 - 1) * 512 * 4096 + (1000 - 10) * (4096 + 1) == 138_357_544


@pytest.mark.parametrize("filename", ["mobilenet_v2_035_10.h5", "mobilenet_v2_035_10.weights.h5"])
def test_keras_weight_file_predicts_as_keras(filename):
    model = apps.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), classes=10, weights=os.path.join(FIXTURES, filename))
    y = model.predict(REF["x_tf"], verbose=0)
    assert REF["y"].std(axis=0).max() > 1e-3  # predictions that differ per image: a misplaced weight shows
    np.testing.assert_allclose(y, REF["y"], rtol=2e-4, atol=2e-5)  # float32 sums in another order, 60 layers deep
    fresh = apps.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), classes=10, weights=None)
    assert np.abs(fresh.predict(REF["x_tf"], verbose=0) - REF["y"]).max() > 1e-3


def test_preprocess_input_as_keras():
    x = REF["x"]
    np.testing.assert_array_equal(apps.mobilenet_v2.preprocess_input(x.copy()), REF["x_tf"])
    np.testing.assert_array_equal(apps.vgg16.preprocess_input(x.copy()), REF["x_caffe"])
    np.testing.assert_array_equal(apps.resnet50.preprocess_input(x.copy()), REF["x_caffe"])
    np.testing.assert_array_equal(imagenet_utils.preprocess_input(x.copy(), mode="torch"), REF["x_torch"])
    chw = x[0].transpose(2, 0, 1).copy()
    np.testing.assert_array_equal(apps.vgg19.preprocess_input(chw, data_format="channels_first"), REF["x_caffe_cf"])
    # A gpuflow Tensor gives a Tensor with the same values; uint8 images become float32 (the NumPy path too).
    for mode in ("caffe", "torch", "tf"):
        got = imagenet_utils.preprocess_input(tf.constant(x), mode=mode)
        np.testing.assert_allclose(got.numpy(), REF[f"x_{mode}"], rtol=1e-6, atol=1e-5)
    assert apps.vgg16.preprocess_input(x.astype("uint8")).dtype == np.float32
    with pytest.raises(ValueError, match="mode=caffee"):
        imagenet_utils.preprocess_input(x, mode="caffee")
    with pytest.raises(ValueError, match="data_format=channels_middle"):
        apps.vgg16.preprocess_input(x, data_format="channels_middle")


def test_vgg16_transfer_learning_snippet_runs_unchanged():
    """The TF guide's transfer learning and fine-tuning steps, with weights=None (CI is offline) and 32x32 images."""
    IMG_SHAPE = (32, 32, 3)
    base_model = tf.keras.applications.VGG16(input_shape=IMG_SHAPE, include_top=False, weights=None)
    base_model.trainable = False
    inputs = tf.keras.Input(shape=IMG_SHAPE)
    x = tf.keras.applications.vgg16.preprocess_input(inputs)  # a KerasTensor: a layer in the model
    x = base_model(x, training=False)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dropout(0.2)(x)
    outputs = tf.keras.layers.Dense(1)(x)
    model = tf.keras.Model(inputs, outputs)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=1e-4),
                  loss=tf.keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    assert len(model.trainable_variables) == 2
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(0, 255, (1, 32, 32, 3)).astype("float32"), np.array([[1.0]], "float32")
    frozen = [w.numpy() for w in base_model.weights]
    model.fit(images, labels, epochs=1, verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(frozen, base_model.weights))
    base_model.trainable = True
    for layer in base_model.layers[:15]:  # fine-tune from block5 on
        layer.trainable = False
    model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  optimizer=tf.keras.optimizers.RMSprop(learning_rate=1e-5), metrics=["accuracy"])
    assert len(model.trainable_variables) == 2 + 2 * 3  # block5_conv1..3
    history = model.fit(images, labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    block5 = base_model.get_layer("block5_conv3").kernel.numpy()
    assert not np.array_equal(block5, [w for w in frozen if w.shape == block5.shape][-1])


def test_preprocess_input_layer_saves_and_loads(tmp_path):
    inputs = tf.keras.Input((4, 4, 3))
    model = tf.keras.Model(inputs, apps.resnet50.preprocess_input(inputs))
    model.save(tmp_path / "p.keras")
    x = REF["x"][:, :4, :4]
    np.testing.assert_allclose(tf.keras.models.load_model(tmp_path / "p.keras").predict(x, verbose=0),
                               REF["x_caffe"][:, :4, :4], rtol=1e-6, atol=1e-4)


def test_input_tensor_and_pooling():
    inp = tf.keras.Input((40, 40, 3))
    x = tf.keras.layers.Rescaling(1.0 / 255)(inp)
    model = apps.ResNet50(input_tensor=x, include_top=False, pooling="max", weights=None)
    assert model.inputs[0] is inp and model.layers[1].name == "rescaling" and model.output.shape == (None, 2048)
    assert model.get_layer("max_pool") is model.layers[-1]
    with pytest.raises(ValueError, match="input_tensor"):
        apps.VGG16(input_tensor=np.zeros((1, 32, 32, 3)), include_top=False, weights=None)


def test_argument_errors_as_keras(tmp_path):
    with pytest.raises(ValueError, match="weights=no_such_file.h5"):
        apps.VGG16(weights="no_such_file.h5")
    with pytest.raises(ValueError, match="classes=10"):
        apps.ResNet50(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="Input size must be at least 32x32"):
        apps.VGG19(weights=None, include_top=False, input_shape=(31, 64, 3))
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        apps.VGG16(weights="imagenet", input_shape=(200, 200, 3))
    with pytest.raises(ValueError, match="alpha=0.6"):
        apps.MobileNetV2(weights="imagenet", alpha=0.6, include_top=False)
    with pytest.raises(ValueError, match="classifier_activation=.*relu"):
        apps.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), classes=10, classifier_activation="relu",
                         weights=os.path.join(FIXTURES, "mobilenet_v2_035_10.h5"))
    with pytest.raises(ValueError, match="static `input_shape`"):
        apps.MobileNetV2(weights=None, input_shape=(None, None, 3))


def _notop_copy(src, dst):
    """A weights-only legacy file without the classifier: what Keras publishes as ``..._no_top.h5``."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        names = [n for n in f.attrs["layer_names"] if n != "predictions"]
        for key in f.attrs:
            g.attrs[key] = f.attrs[key]
        g.attrs["layer_names"] = [n.encode() for n in names]
        for n in names:
            f.copy(f[n], g, n)


def test_imagenet_weights_reuse_the_keras_cache(offline, tmp_path):
    """A file Keras already downloaded ($KERAS_HOME/models/<Keras's name>) is loaded with no network."""
    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    _notop_copy(os.path.join(FIXTURES, "mobilenet_v2_035_10.h5"),
                cache / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5")
    model = apps.MobileNetV2(weights="imagenet", alpha=0.35, include_top=False, input_shape=(96, 96, 3))
    ref = apps.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), classes=10,
                           weights=os.path.join(FIXTURES, "mobilenet_v2_035_10.h5"))
    loaded = [l for l in model.layers if l.weights]
    assert len(loaded) == len([l for l in ref.layers if l.weights]) - 1  # all but predictions
    for layer in loaded:
        for a, b in zip(layer.get_weights(), ref.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert offline == []


def test_imagenet_weights_offline_says_where_to_put_the_file(offline, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        apps.VGG16(weights="imagenet", include_top=False)
    msg = str(e.value)
    where = os.path.join(str(tmp_path / "keras"), "models", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert where in msg and "not there" in msg and "copy it to" in msg and "KERAS_HOME" in msg
    assert offline == [apps.vgg16.WEIGHTS_PATH_NO_TOP] and apps.vgg16.WEIGHTS_PATH_NO_TOP in msg
    assert "6d6bbae143d832006294945121d1f1fc" in msg  # the md5 Keras checks


def test_cached_file_with_wrong_hash_is_an_error_naming_it(offline, tmp_path):
    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    bad = cache / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    bad.write_bytes(b"truncated")
    with pytest.raises(ValueError) as e:
        apps.ResNet50(weights="imagenet", include_top=False)
    msg = str(e.value)
    assert str(bad) in msg and hashlib.md5(b"truncated").hexdigest() in msg
    assert "4d473c1dd8becc155b73f8504c6f6626" in msg  # Keras's md5 of the file
    assert len(offline) == 1  # Keras's rule: a stale file is downloaded again (here the network is down)


def test_mobilenet_v2_imagenet_input_size_rules(offline):
    """Keras publishes MobileNetV2 weights for square inputs of 96...224: any other size warns and asks for 224's."""
    with pytest.warns(UserWarning, match=r"Weights for input shape \(224, 224\) will be loaded"):
        with pytest.raises(FileNotFoundError, match="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top"):
            apps.MobileNetV2(weights="imagenet", include_top=False, input_shape=(64, 96, 3))
    with pytest.raises(FileNotFoundError, match="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_128.h5"):
        apps.MobileNetV2(weights="imagenet", alpha=0.5, input_shape=(128, 128, 3))
    assert offline == [apps.mobilenet_v2.BASE_WEIGHT_PATH + n for n in (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_128.h5")]


def test_get_file_downloads_checks_and_caches(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    payload = b"weights"
    served = []

    class Response:
        def __init__(self, data):
            self.data = data

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self, n):
            out, self.data = self.data[:n], self.data[n:]
            return out

    monkeypatch.setattr(file_utils, "open_url", lambda url: served.append(url) or Response(payload))
    md5 = hashlib.md5(payload).hexdigest()
    path = imagenet_utils.get_file("w.h5", "https://example.invalid/w.h5", md5)
    assert path == os.path.join(str(tmp_path), "models", "w.h5") and open(path, "rb").read() == payload
    assert imagenet_utils.get_file("w.h5", "https://example.invalid/w.h5", md5) == path and len(served) == 1
    with pytest.raises(ValueError, match="Checksum mismatch for https://example.invalid/v.h5: expected MD5 0+"):
        imagenet_utils.get_file("v.h5", "https://example.invalid/v.h5", "0" * 32)
    assert not os.path.exists(os.path.join(str(tmp_path), "models", "v.h5"))  # a bad download is discarded


def test_decode_predictions(monkeypatch, offline):
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)})
    preds = np.zeros((2, 1000), "float32")
    preds[0, [3, 7]] = [0.2, 0.7]
    preds[1, 999] = 1.0
    out = apps.vgg16.decode_predictions(tf.constant(preds), top=2)
    assert out[0] == [("n00000007", "class_7", pytest.approx(0.7)), ("n00000003", "class_3", pytest.approx(0.2))]
    assert out[1][0][:2] == ("n00000999", "class_999")
    with pytest.raises(ValueError, match=r"shape: \(2, 10\)"):
        apps.resnet.decode_predictions(np.zeros((2, 10)))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    with pytest.raises(FileNotFoundError, match="imagenet_class_index.json"):
        apps.mobilenet_v2.decode_predictions(preds)


def test_public_names():
    assert tf.keras.applications.VGG16 is apps.vgg16.VGG16 and apps.ResNet50 is apps.resnet50.ResNet50
    assert apps.ResNet101.__doc__.startswith("Instantiates ResNet101")
