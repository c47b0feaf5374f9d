"""keras.config / keras.backend settings, keras.random, keras.utils helpers (pad_sequences, normalize, images,
split_dataset, custom_object_scope), keras.preprocessing and keras.models.clone_model, against Keras 3.15's
documented behaviour (the examples of its docstrings, values computed here by hand)."""
import io
import logging

import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras


@pytest.fixture
def restore_config():
    cfg = keras.config
    saved = (cfg.floatx(), cfg.epsilon(), cfg.image_data_format(), cfg.is_interactive_logging_enabled())
    yield cfg
    cfg.set_floatx(saved[0])
    cfg.set_epsilon(saved[1])
    cfg.set_image_data_format(saved[2])
    (cfg.enable_interactive_logging if saved[3] else cfg.disable_interactive_logging)()


# -- keras.config / keras.backend -----------------------------------------------------------------------------
def test_floatx_sets_the_default_dtype_of_new_layers(restore_config):
    assert keras.config.floatx() == keras.backend.floatx() == "float32"
    keras.config.set_floatx("float64")
    layer = keras.layers.Dense(2)
    out = layer(np.ones((1, 3), "float64"))
    assert layer.kernel.dtype == tf.float64 and out.dtype == tf.float64
    assert keras.Input((3,)).dtype in ("float64", tf.float64)
    assert keras.backend.standardize_dtype(None) == "float64"
    with pytest.raises(ValueError, match="Unknown `floatx` value: float8"):
        keras.config.set_floatx("float8")


def test_image_data_format_channels_first_is_refused_by_layers_that_take_it(restore_config):
    keras.backend.set_image_data_format("channels_first")
    assert keras.config.image_data_format() == "channels_first"
    with pytest.raises(NotImplementedError, match="channels_last"):
        keras.layers.Conv2D(2, 3)
    keras.layers.Conv2D(2, 3, data_format="channels_last")  # explicit still fine
    with pytest.raises(ValueError, match="data_format"):
        keras.config.set_image_data_format("nchw")


def test_epsilon_and_uid(restore_config):
    keras.config.set_epsilon(1e-5)
    assert keras.backend.epsilon() == 1e-5
    first = keras.backend.get_uid("breadth_test_prefix")
    assert keras.backend.get_uid("breadth_test_prefix") == first + 1
    assert keras.backend.is_keras_tensor(keras.Input((2,))) and not keras.backend.is_keras_tensor(tf.constant(1.0))
    with pytest.raises(ValueError, match="Invalid dtype: nope"):
        keras.backend.standardize_dtype("nope")


def test_set_backend_accepts_only_gpuflow():
    keras.config.set_backend("gpuflow")
    with pytest.raises(ValueError, match="backend='gpuflow'"):
        keras.config.set_backend("jax")


def test_disabled_interactive_logging_sends_fit_output_to_logging(restore_config, capsys, caplog):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    keras.config.disable_interactive_logging()
    with caplog.at_level(logging.INFO, logger="gpuflow"):
        model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), epochs=2, verbose=2)
    assert "loss" not in capsys.readouterr().out
    messages = [r.getMessage() for r in caplog.records]
    assert "Epoch 2/2" in messages and any("loss:" in m for m in messages)
    keras.config.enable_interactive_logging()
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), epochs=2, verbose=2)
    assert "Epoch 2/2" in capsys.readouterr().out


# -- keras.random ----------------------------------------------------------------------------------------------
def test_random_int_seed_repeats_and_seed_generator_advances():
    r = keras.random
    np.testing.assert_array_equal(r.normal((3,), seed=7).numpy(), r.normal((3,), seed=7).numpy())
    gen = r.SeedGenerator(1)
    a, b = r.uniform((4,), seed=gen).numpy(), r.uniform((4,), seed=gen).numpy()
    assert not np.array_equal(a, b)
    gen2 = r.SeedGenerator(1)
    np.testing.assert_array_equal(a, r.uniform((4,), seed=gen2).numpy())  # the same stream for the same seed
    ints = r.randint((200,), 2, 5, seed=3).numpy()
    assert ints.dtype == np.int32 and set(np.unique(ints)) == {2, 3, 4}
    assert r.normal((2,)).dtype == tf.float32
    with pytest.raises(ValueError, match="floating point"):
        r.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="SeedGenerator"):
        r.normal((2,), seed="x")


def test_random_shuffle_dropout_categorical():
    r = keras.random
    x = np.arange(12).reshape(6, 2)
    s = r.shuffle(x, seed=5).numpy()
    assert sorted(map(tuple, s)) == sorted(map(tuple, x)) and not np.array_equal(s, x)
    d = r.dropout(np.ones((50, 40), "float32"), 0.25, seed=2).numpy()
    assert set(np.unique(d)) == {0.0, np.float32(1 / 0.75)}
    assert 0.15 < (d == 0).mean() < 0.35
    logits = np.log(np.array([[0.2, 0.8], [1.0, 1e-9]]))
    c = r.categorical(logits, 4000, seed=1).numpy()
    assert c.shape == (2, 4000) and c.dtype == np.int32
    assert abs(c[0].mean() - 0.8) < 0.03 and c[1].max() == 0


# -- keras.utils -----------------------------------------------------------------------------------------------
def test_pad_sequences_docstring_examples():
    seq = [[1], [2, 3], [4, 5, 6]]
    pad = keras.utils.pad_sequences
    np.testing.assert_array_equal(pad(seq), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad(seq, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad(seq, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad(seq, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    np.testing.assert_array_equal(pad(seq, maxlen=2, truncating="post"), [[0, 1], [2, 3], [4, 5]])
    assert pad(seq).dtype == np.int32
    from gpuflow.keras.preprocessing.sequence import pad_sequences
    assert pad_sequences is pad
    assert pad([[], [[1, 2]]], dtype="float32").shape == (2, 1, 2)  # item shape from the first non-empty
    with pytest.raises(ValueError, match="dtype=object"):
        pad([["a"]], value="x")
    with pytest.raises(ValueError, match='Padding type "mid"'):
        pad(seq, padding="mid")
    with pytest.raises(ValueError, match="non-iterable"):
        pad([1, 2])


def test_normalize_numpy_and_tensor():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x, order=1), [[3 / 7, 4 / 7], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x, axis=0), [[1.0, 1.0], [0.0, 0.0]])
    t = keras.utils.normalize(tf.constant(x.astype("float32")))
    np.testing.assert_allclose(t.numpy(), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


def test_image_round_trip_through_png(tmp_path):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3)).astype("float32")
    path = tmp_path / "img.png"
    keras.utils.save_img(path, rgb, scale=False)
    img = keras.utils.load_img(path)
    assert img.size == (7, 5) and img.mode == "RGB"
    np.testing.assert_array_equal(keras.utils.img_to_array(img), rgb)
    gray = keras.utils.load_img(str(path), color_mode="grayscale", target_size=(3, 4))
    assert gray.size == (4, 3) and keras.utils.img_to_array(gray).shape == (3, 4, 1)
    assert keras.utils.img_to_array(img, data_format="channels_first").shape == (3, 5, 7)
    scaled = keras.utils.img_to_array(keras.utils.array_to_img(np.array([[[0.0], [0.5]], [[1.0], [0.25]]])))
    np.testing.assert_array_equal(scaled[..., 0], [[0, 127], [255, 63]])  # min 0, max 255, truncated to uint8
    buf = io.BytesIO()
    keras.utils.save_img(buf, rgb, file_format="png", scale=False)
    buf.seek(0)
    assert keras.utils.load_img(buf).size == (7, 5)
    with pytest.raises(ValueError, match="rank 3"):
        keras.utils.array_to_img(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="color_mode"):
        keras.utils.load_img(path, color_mode="cmyk")


def test_split_dataset_sizes_and_structure():
    x, y = np.arange(10), np.arange(10) * 10
    left, right = keras.utils.split_dataset((x, y), left_size=0.8)
    lx = np.array([a.numpy() for a, _ in left])
    rx = [(int(a.numpy()), int(b.numpy())) for a, b in right]
    np.testing.assert_array_equal(lx, np.arange(8))
    assert rx == [(8, 80), (9, 90)]
    left, right = keras.utils.split_dataset(x, right_size=3, shuffle=True, seed=1)
    got = sorted([int(v.numpy()) for v in left] + [int(v.numpy()) for v in right])
    assert got == list(range(10)) and int(right.cardinality()) == 3
    import random as pyrandom
    order = list(range(10))
    pyrandom.Random(1).shuffle(order)  # Keras: random.seed(seed); random.shuffle(samples)
    assert [int(v.numpy()) for v in right] == order[-3:]
    with pytest.raises(ValueError, match="At least one"):
        keras.utils.split_dataset(x)
    with pytest.raises(ValueError, match="greater than 1"):
        keras.utils.split_dataset(x, left_size=0.6, right_size=0.6)
    with pytest.raises(TypeError, match="dataset"):
        keras.utils.split_dataset("abc", left_size=1)


def test_pack_and_unpack_x_y_sample_weight():
    u = keras.utils
    assert u.pack_x_y_sample_weight(1) == 1 and u.pack_x_y_sample_weight((1, 2)) == ((1, 2),)
    assert u.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    assert u.unpack_x_y_sample_weight((1, 2)) == (1, 2, None) and u.unpack_x_y_sample_weight(1) == (1, None, None)
    with pytest.raises(ValueError, match="format"):
        u.unpack_x_y_sample_weight((1, 2, 3, 4))


class _Scaled(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_custom_object_scope_lets_load_model_find_a_class(tmp_path):
    model = keras.Sequential([keras.Input((2,)), _Scaled(3.0, name="scaled")])
    path = tmp_path / "m.keras"
    model.save(path)
    with pytest.raises(ValueError, match="_Scaled"):
        keras.models.load_model(path)
    with keras.utils.custom_object_scope({"_Scaled": _Scaled}):
        assert keras.saving.get_registered_object("_Scaled") is _Scaled
        loaded = keras.models.load_model(path)
    assert keras.saving.get_registered_object("_Scaled") is None  # gone after the block
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2), "float32"), verbose=0), [[3.0, 3.0]])


# -- keras.models.clone_model -----------------------------------------------------------------------------------
def test_clone_sequential_new_weights_same_config_and_compile():
    model = keras.Sequential([keras.Input((4,), name="inp"), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile("adam", "mse", metrics=["mae"])
    clone = keras.models.clone_model(model)
    assert [l.get_config() for l in clone.layers] == [l.get_config() for l in model.layers]
    assert clone.compiled and clone.optimizer is not model.optimizer
    assert not any(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(model.weights[::2], clone.weights[::2]))
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    late = keras.models.clone_model(keras.Sequential([keras.layers.Dense(3, input_shape=(4,))]))
    assert late.built and late.input_shape == (None, 4)
    with pytest.raises(ValueError, match="call_function"):
        keras.models.clone_model(model, call_function=lambda layer, *a, **k: layer(*a, **k))
    with pytest.raises(ValueError, match="Unexpected keyword"):
        keras.models.clone_model(model, foo=1)


def test_clone_functional_keeps_shared_layers_and_applies_clone_function():
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    shared = keras.layers.Dense(4, name="shared")
    x = keras.layers.Concatenate()([shared(a), shared(b)])
    model = keras.Model([a, b], [keras.layers.Dense(1, name="o1")(x), keras.layers.Dense(2, name="o2")(x)])
    seen = []

    def clone_function(layer):
        seen.append(layer.name)
        config = layer.get_config()
        if layer.name == "o2":
            config["activation"] = "sigmoid"
        return layer.__class__.from_config(config)
    clone = keras.models.clone_model(model, clone_function=clone_function)
    assert sorted(seen) == sorted(["shared", "concatenate", "o1", "o2"])  # shared layer cloned once
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert len(clone.weights) == len(model.weights) == 6
    clone.set_weights(model.get_weights())
    xs = [np.ones((2, 5), "float32"), np.full((2, 5), 2.0, "float32")]
    want1, want2 = model.predict(xs, verbose=0)
    got1, got2 = clone.predict(xs, verbose=0)
    np.testing.assert_allclose(got1, want1, rtol=1e-6)
    np.testing.assert_allclose(got2, 1 / (1 + np.exp(-want2)), rtol=1e-5)


# -- evaluate's list with a subclass's own metrics (Keras's "customizing fit" guide) ------------------------------
class _TrackedModel(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(keras.losses.mean_squared_error(y, y_pred))
        self.mae_metric.update_state(y, y_pred)
        return {"zeta": self.mae_metric.result(), "loss": self.loss_tracker.result(),
                "mae": self.mae_metric.result()}


def test_evaluate_lists_a_subclass_metrics_then_other_keys_sorted():
    model = _TrackedModel()
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).random((16, 3)).astype("float32")
    y = np.zeros((16, 1), "float32")
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert model.evaluate(x, y, verbose=0) == [logs["loss"], logs["mae"], logs["zeta"]]
