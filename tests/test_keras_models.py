"""Models: Sequential (construction, names, nesting, weights), subclassed Model and
Layer, and the functional ``Model(inputs, outputs)`` — structure and forward passes,
not training (see test_keras_training.py)."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.zoo import build_seed_cnn

keras = tf.keras
layers = keras.layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def seed_cnn():
    return build_seed_cnn(keras)


# -- Sequential construction ---------------------------------------------------------------
def test_seed_cnn_params_shapes_and_names():
    model = seed_cnn()
    assert model.built
    assert model.count_params() == 225_034
    assert [l.name for l in model.layers] == ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten",
                                             "dense", "dense_1"]
    assert [l.count_params() for l in model.layers] == [320, 0, 18496, 0, 0, 204928, 1290]
    assert [tuple(w.shape) for w in model.weights] == [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 128),
                                                      (128,), (128, 10), (10,)]
    assert model.output_shape == (None, 10)
    assert model.name == "sequential"
    y = model(rnd(2, 28, 28, 1))
    assert tuple(y.shape) == (2, 10) and y.dtype.name == "float32"


def test_layers_excludes_the_input_layer():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    assert len(model.layers) == 1 and isinstance(model.layers[0], layers.Dense)
    model2 = keras.Sequential([layers.InputLayer(shape=(4,)), layers.Dense(2)])
    assert [type(l).__name__ for l in model2.layers] == ["Dense"] and model2.built


def test_add_builds_like_the_list_form():
    a = keras.Sequential([keras.Input((5,)), layers.Dense(3, activation="relu"), layers.Dense(1)])
    b = keras.Sequential()
    assert not b.built and b.layers == []
    b.add(keras.Input((5,)))
    b.add(layers.Dense(3, activation="relu"))
    assert b.built
    b.add(layers.Dense(1))
    assert b.built and b.count_params() == a.count_params() == 5 * 3 + 3 + 3 + 1
    b.set_weights(a.get_weights())
    x = rnd(4, 5)
    np.testing.assert_allclose(a(x).numpy(), b(x).numpy(), rtol=1e-6)


def test_input_shape_on_first_layer():
    model = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    assert model.built and model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    assert model.input_shape == (None, 3) and model.output_shape == (None, 2)


def test_deferred_build_on_first_call():
    model = keras.Sequential([layers.Dense(4), layers.Dense(2)])
    assert not model.built
    with pytest.raises(ValueError, match="isn't built"):
        model.count_params()
    y = model(rnd(3, 7))
    assert model.built and tuple(y.shape) == (3, 2) and model.count_params() == 7 * 4 + 4 + 4 * 2 + 2


def test_calling_a_model_equals_calling_its_layers_in_order():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(5, activation="tanh"), layers.Dense(3),
                              layers.Softmax()])
    x = rnd(4, 6)
    h = x
    for layer in model.layers:
        h = layer(h)
    np.testing.assert_allclose(model(x).numpy(), h.numpy(), rtol=1e-6)
    kt = model(keras.Input((6,)))
    assert kt.shape == (None, 3)


def test_nested_sequential():
    inner = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3)], name="inner")
    outer = keras.Sequential([keras.Input((5,)), inner, layers.Dense(1)])
    assert outer.built and inner.built
    assert [l.name for l in outer.layers] == ["inner", "dense_2"]
    assert outer.count_params() == (5 * 4 + 4) + (4 * 3 + 3) + (3 + 1)
    assert len(outer.weights) == 6
    x = rnd(2, 5)
    np.testing.assert_allclose(outer(x).numpy(), outer.layers[1](inner(x)).numpy(), rtol=1e-6)
    inner.trainable = False
    assert len(outer.trainable_weights) == 2 and len(outer.non_trainable_weights) == 4


def test_sequential_names_and_clear_session():
    assert keras.Sequential().name == "sequential"
    assert keras.Sequential().name == "sequential_1"
    assert keras.Sequential(name="net").name == "net"
    assert [layers.Dense(1).name, layers.Dense(1).name] == ["dense", "dense_1"]
    keras.backend.clear_session()
    assert keras.Sequential().name == "sequential" and layers.Dense(1).name == "dense"


def test_duplicate_layer_name_error():
    with pytest.raises(ValueError) as e:
        keras.Sequential([layers.Dense(2, name="fc"), layers.Dense(2, name="fc")])
    assert "'fc'" in str(e.value) and "unique" in str(e.value)
    model = keras.Sequential([layers.Dense(2, name="fc")])
    with pytest.raises(ValueError, match="'fc'"):
        model.add(layers.Dense(3, name="fc"))


def test_add_rejects_non_layers_and_late_inputs():
    model = keras.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="Only instances of `keras.Layer`"):
        model.add("dense")
    with pytest.raises(ValueError, match="first layer"):
        model.add(keras.Input((3,)))


def test_pop():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(2)])
    popped = model.pop()
    assert popped.name == "dense_1" and [l.name for l in model.layers] == ["dense"]
    assert model.output_shape == (None, 4)


def test_get_layer():
    model = seed_cnn()
    assert model.get_layer("flatten") is model.layers[4]
    assert model.get_layer(index=0).name == "conv2d"
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="index 9"):
        model.get_layer(index=9)


def test_input_rank_standardised_like_keras():
    """Keras 3 adds a missing trailing size-1 axis ((N, 28, 28) into Input((28, 28, 1))) and rejects the rest."""
    model = seed_cnn()
    assert tuple(model(np.zeros((2, 28, 28), "float32")).shape) == (2, 10)
    with pytest.raises(ValueError) as e:
        model(np.zeros((2, 28), "float32"))
    assert "(None, 28, 28, 1)" in str(e.value) and "(2, 28)" in str(e.value) and "sequential" in str(e.value)
    with pytest.raises(ValueError) as e:
        keras.Sequential([keras.Input((1600,)), layers.Dense(128)])(np.zeros((2, 100), "float32"))
    assert "(None, 1600)" in str(e.value) and "(2, 100)" in str(e.value)


def test_wrong_input_to_a_layer_names_the_layer():
    conv = layers.Conv2D(4, 3)
    with pytest.raises(ValueError) as e:
        conv(np.zeros((2, 28, 28), "float32"))
    assert f'"{conv.name}"' in str(e.value) and "(2, 28, 28)" in str(e.value)
    dense = layers.Dense(3)
    dense(np.zeros((2, 1600), "float32"))
    with pytest.raises(ValueError) as e:
        dense(np.zeros((2, 100), "float32"))
    assert f'"{dense.name}"' in str(e.value) and "1600" in str(e.value) and "(2, 100)" in str(e.value)


# -- trainable and weights ---------------------------------------------------------------------
def test_trainable_false_moves_weights():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(2)])
    assert len(model.trainable_weights) == 4 and model.non_trainable_weights == []
    model.layers[0].trainable = False
    assert [w.path for w in model.trainable_weights] == ["dense_1/kernel", "dense_1/bias"]
    assert [w.path for w in model.non_trainable_weights] == ["dense/kernel", "dense/bias"]
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4
    model.trainable = True
    assert len(model.trainable_weights) == 4


def test_get_weights_set_weights_round_trip_and_errors():
    model = seed_cnn()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [tuple(v.shape) for v in model.weights]
    new = [np.full(w.shape, 0.01, "float32") for w in weights]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    bad = list(new)
    bad[4] = np.zeros((100, 128), "float32")
    with pytest.raises(ValueError) as e:
        model.set_weights(bad)
    msg = str(e.value)
    assert "(1600, 128)" in msg and "(100, 128)" in msg
    with pytest.raises(ValueError) as e:
        model.set_weights(new[:3])
    assert "length 3" in str(e.value) and "expecting 8" in str(e.value)
    for a, b in zip(model.get_weights(), new):  # a failed set_weights changes nothing
        np.testing.assert_array_equal(a, b)


def test_get_weights_returns_copies():
    model = keras.Sequential([keras.Input((2,)), layers.Dense(2)])
    w = model.get_weights()
    w[0][...] = 123.0
    assert not np.any(model.get_weights()[0] == 123.0)


# -- subclassing ---------------------------------------------------------------------------------
class MLP(keras.Model):
    def __init__(self, hidden=8, out=3, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(hidden, activation="relu")
        self.drop = layers.Dropout(0.5)
        self.out = layers.Dense(out)

    def call(self, x, training=False):
        return self.out(self.drop(self.hidden(x), training=training))


def test_subclassed_model():
    model = MLP()
    assert model.name == "mlp" and not model.built
    x = rnd(4, 5)
    y = model(x)
    assert tuple(y.shape) == (4, 3)
    assert [l.name for l in model.layers] == ["dense", "dropout", "dense_1"]
    assert model.count_params() == 5 * 8 + 8 + 8 * 3 + 3
    np.testing.assert_array_equal(model(x).numpy(), y.numpy())  # inference: no dropout
    h = np.maximum(x @ model.hidden.get_weights()[0] + model.hidden.get_weights()[1], 0)
    np.testing.assert_allclose(y.numpy(), h @ model.out.get_weights()[0] + model.out.get_weights()[1], rtol=1e-5,
                               atol=1e-6)
    assert not np.allclose(model(x, training=True).numpy(), y.numpy())
    assert MLP(name="custom").name == "custom"


class Affine(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.steps = self.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False, name="steps")

    def call(self, inputs):
        return tf.matmul(inputs, self.kernel) + self.bias


def test_subclassed_layer_inside_sequential_and_training():
    model = keras.Sequential([keras.Input((3,)), Affine(2), layers.Dense(1)])
    assert [l.name for l in model.layers] == ["affine", "dense"]
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 1
    assert model.count_params() == 3 * 2 + 2 + 1 + 2 + 1
    model.compile(keras.optimizers.SGD(0.05), "mse")
    x = rnd(32, 3)
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    before = model.get_weights()
    hist = model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    after = model.get_weights()
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert not np.array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[2], after[2])  # the non-trainable weight is untouched


def test_model_with_build_and_add_weight():
    class Linear(keras.Model):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 1), initializer="zeros", name="w")

        def call(self, x):
            return tf.matmul(x, self.w)

    model = Linear()
    assert tuple(model(rnd(2, 4)).shape) == (2, 1)
    assert [w.path for w in model.weights] == ["linear/w"]


# -- functional ------------------------------------------------------------------------------------
def test_functional_model_basics():
    inputs = keras.Input((4,), name="features")
    h = layers.Dense(8, activation="relu")(inputs)
    outputs = layers.Dense(3, activation="softmax")(h)
    model = keras.Model(inputs=inputs, outputs=outputs)
    assert model.name == "functional"
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Dense", "Dense"]
    assert model.layers[0].name == "features"
    assert model.count_params() == 4 * 8 + 8 + 8 * 3 + 3
    assert model.inputs == [inputs] and model.outputs == [outputs]
    x = rnd(5, 4)
    y = model(x).numpy()
    ref = model.layers[2](model.layers[1](x)).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-6)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    assert model(keras.Input((4,))).shape == (None, 3)
    assert keras.Model(inputs, outputs, name="clf").name == "clf"


def test_functional_shared_layer_and_multiple_outputs():
    inputs = keras.Input((3,))
    shared = layers.Dense(3)
    a = shared(inputs)
    b = shared(a)
    model = keras.Model(inputs, [a, b])
    assert len(model.weights) == 2
    x = rnd(2, 3)
    ya, yb = model(x)
    np.testing.assert_allclose(yb.numpy(), shared(shared(x)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(ya.numpy(), shared(x).numpy(), rtol=1e-6)


def test_functional_inside_sequential_and_sequential_inside_functional():
    inputs = keras.Input((4,))
    block = keras.Sequential([layers.Dense(3), layers.Dense(2)])
    model = keras.Model(inputs, block(inputs))
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2
    assert tuple(model(rnd(2, 4)).shape) == (2, 2)


def test_functional_errors():
    a, b = keras.Input((3,)), keras.Input((3,))
    out = layers.Dense(2)(b)
    with pytest.raises(ValueError, match="not in `inputs`"):
        keras.Model(a, out)
    with pytest.raises(ValueError, match="KerasTensors"):
        keras.Model(a, np.zeros(3))
    model = keras.Model(b, out)
    with pytest.raises(ValueError) as e:
        model(np.zeros((2, 5), "float32"))
    assert model.name in str(e.value) and "(None, 3)" in str(e.value) and "(2, 5)" in str(e.value)


def test_build_with_an_explicit_input_shape():
    model = keras.Sequential([layers.Dense(3), layers.Dense(1)])
    model.build((None, 4))
    assert model.built and model.count_params() == 4 * 3 + 3 + 3 + 1


def test_sequential_config_round_trip():
    model = keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(3, 3, padding="same", activation="relu"),
                              layers.MaxPooling2D(), layers.Flatten(), layers.Dropout(0.2),
                              layers.Dense(4, activation="softmax")], name="net")
    config = model.get_config()
    assert config["name"] == "net"
    assert [l["class_name"] for l in config["layers"]] == ["InputLayer", "Conv2D", "MaxPooling2D", "Flatten",
                                                           "Dropout", "Dense"]
    clone = keras.Sequential.from_config(config)
    assert clone.built and [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x = rnd(2, 6, 6, 2)
    np.testing.assert_allclose(clone(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_layer_dtype_float64():
    layer = layers.Dense(2, dtype="float64")
    y = layer(np.ones((1, 3), "float32"))
    assert y.dtype.name == "float64" and layer.kernel.dtype.name == "float64"
    assert layer.get_config()["dtype"]["config"]["name"] == "float64"


def test_add_loss_holds_the_latest_call_only():
    class Reg(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1, kernel_initializer="ones")

        def call(self, x):
            y = self.dense(x)
            self.add_loss(tf.reduce_mean(y * y))
            return y

    model = Reg()
    x = np.ones((2, 3), "float32")
    model(x)
    model(x)
    assert len(model.losses) == 1
    np.testing.assert_allclose(model.losses[0].numpy(), 9.0)


def test_incompatible_stack_fails_at_construction():
    with pytest.raises(ValueError) as e:
        keras.Sequential([keras.Input((28, 28)), layers.Conv2D(2, 3)])
    msg = str(e.value)
    assert '"conv2d"' in msg and "min_ndim=4" in msg and "(None, 28, 28)" in msg


def test_multi_input_fit_and_multi_output_layer_in_a_functional_model():
    """Encoder/decoder style: LSTM(return_state=True) feeds its states to a second LSTM; two inputs."""
    enc_in, dec_in = keras.Input((5, 3)), keras.Input((6, 2))
    _, h, c = layers.LSTM(4, return_state=True)(enc_in)
    seq = layers.LSTM(4, return_sequences=True)(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], layers.Dense(1)(seq))
    rng = np.random.default_rng(0)
    xe, xd = rng.standard_normal((16, 5, 3)).astype("float32"), rng.standard_normal((16, 6, 2)).astype("float32")
    y = rng.standard_normal((16, 6, 1)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit([xe, xd], y, batch_size=8, epochs=3, verbose=0, validation_split=0.25)
    assert sorted(hist.history) == ["loss", "val_loss"]
    assert model.predict([xe, xd], verbose=0).shape == (16, 6, 1)
    assert np.isfinite(model.train_on_batch([xe[:4], xd[:4]], y[:4]))
    with pytest.raises(ValueError, match="cardinality"):
        model.fit([xe, xd[:15]], y, verbose=0)


def test_functional_summary_has_keras_connected_to_column_only_for_branching_graphs():
    a, b = keras.Input((3,), name="in_a"), keras.Input((2,), name="in_b")
    d = layers.Dense(4, name="proj")
    out = layers.Dense(1, name="head")(layers.Concatenate(name="cat")([d(a), b]))
    lines = []
    keras.Model([a, b], out).summary(print_fn=lines.append)
    text = "".join(lines)
    assert "Connected to" in text and "proj[0][0]" in text and "in_b[0][0]" in text and "cat[0][0]" in text
    i = keras.Input((3,))
    lines = []
    keras.Model(i, layers.Dense(2)(layers.Dense(4)(i))).summary(print_fn=lines.append)
    assert "Connected to" not in "".join(lines)


def test_keras_guide_custom_train_step_on_a_functional_subclass():
    """The 'customizing fit' guide of Keras 3: a Model subclass built functional-style, a train_step that
    unpacks (x, y), calls compute_loss and updates every metric in self.metrics."""
    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    model = CustomModel(inputs, layers.Dense(1)(inputs))
    assert isinstance(model, CustomModel) and tuple(model(np.zeros((2, 32), "float32")).shape) == (2, 1)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = np.random.default_rng(0).random((64, 32)).astype("float32"), np.zeros((64, 1), "float32")
    hist = model.fit(x, y, epochs=2, verbose=0)
    assert sorted(hist.history) == ["loss", "mae"] and hist.history["loss"][1] < hist.history["loss"][0]


def test_two_output_model_with_loss_dict_and_weights():
    i = keras.Input((4,))
    h = layers.Dense(8, activation="relu")(i)
    model = keras.Model(i, [layers.Dense(1, name="reg")(h), layers.Dense(3, name="cls")(h)])
    model.compile("adam", loss={"reg": "mse", "cls": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  loss_weights={"reg": 0.5})
    rng = np.random.default_rng(0)
    x = rng.random((64, 4)).astype("float32")
    y1, y2 = x.sum(1, keepdims=True), (x[:, 0] * 3).astype("int64")
    h = model.fit(x, [y1, y2], epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    preds = model.predict(x, verbose=0)
    assert isinstance(preds, list) and [p.shape for p in preds] == [(64, 1), (64, 3)]
    # the total is the weighted sum of the per-output losses
    mse = float(np.mean((preds[0] - y1) ** 2))
    p = np.exp(preds[1] - preds[1].max(1, keepdims=True))
    ce = float(np.mean(-np.log((p / p.sum(1, keepdims=True))[np.arange(64), y2])))
    # Keras 3: [loss, reg_loss, cls_loss], the per-output losses unweighted
    assert model.evaluate(x, [y1, y2], batch_size=64, verbose=0) == pytest.approx([0.5 * mse + ce, mse, ce], rel=1e-4)
    with pytest.raises(ValueError, match="unknown outputs"):
        model.compile("adam", loss={"nope": "mse"})
    with pytest.raises(ValueError, match="one entry per output"):
        model.compile("adam", loss=["mse"])


# -- Keras 3's input / output / inputs / outputs / input_shape / output_shape --------------------------
def test_functional_attributes_follow_keras_3():
    a, b = keras.Input((4,), name="a"), keras.Input((2,), name="b")
    out1 = layers.Dense(1, name="o1")(a)
    out2 = layers.Dense(2, name="o2")(layers.Concatenate()([a, b]))
    single = keras.Model(a, out1)
    assert single.input is a and single.output is out1  # one tensor, not a list
    assert single.inputs == [a] and single.outputs == [out1]
    assert single.input_shape == (None, 4) and single.output_shape == (None, 1)
    multi = keras.Model([a, b], [out1, out2])
    assert multi.input == [a, b] and multi.output == [out1, out2]
    assert multi.input_shape == [(None, 4), (None, 2)] and multi.output_shape == [(None, 1), (None, 2)]
    assert keras.Model([a], [out1]).input == [a]  # the structure given, as Keras's _inputs_struct


def test_sequential_attributes_once_built_and_keras_errors_before():
    model = keras.Sequential([layers.Dense(4), layers.Dense(2)])
    for attr in ("inputs", "outputs", "input_shape", "output_shape"):  # Keras 3's test_hasattr
        assert not hasattr(model, attr)
    with pytest.raises(AttributeError, match="Sequential model 'sequential' has no defined output shape yet"):
        model.output_shape
    with pytest.raises(AttributeError, match="The layer sequential has never been called and thus has no defined "
                                             "output"):
        model.output
    model(rnd(3, 5))  # built on the first call
    assert model.input_shape == (None, 5) and model.output_shape == (None, 2)
    assert model.inputs == [model.input] and model.outputs == [model.output]
    assert model.output is model.layers[-1].output and model.output.shape == (None, 2)

    inputs = keras.Input((2,))
    declared = keras.Sequential([inputs, layers.Dense(4)])  # Keras 3's test_functional_properties
    assert declared.inputs == [inputs] and declared.input is inputs
    assert declared.outputs == [declared.layers[-1].output]
    assert declared.input_shape == (None, 2) and declared.output_shape == (None, 4)
    declared.pop()
    assert not hasattr(declared, "output_shape")


def test_layer_input_and_output_are_those_of_the_first_symbolic_call():
    dense = layers.Dense(3)
    with pytest.raises(AttributeError, match="The layer dense has never been called and thus has no defined input"):
        dense.input
    x1, x2 = keras.Input((4,)), keras.Input((4,))
    y1 = dense(x1)
    dense(x2)
    assert dense.input is x1 and dense.output is y1
    concat = layers.Concatenate()
    z = concat([x1, x2])
    assert concat.input == [x1, x2] and concat.output is z
    assert keras.Input((4,), name="img").shape == (None, 4)


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_transfer_learning_from_base_model_output(kind):
    """The seed snippet: ``x = base_model.output; x = GlobalAveragePooling2D()(x); ...;
    model = Model(base_model.input, outputs)`` with a frozen base, trained end to end."""
    conv = [layers.Conv2D(4, 3, activation="relu"), layers.Conv2D(6, 3, activation="relu")]
    if kind == "functional":
        inp = keras.Input((8, 8, 1))
        base_model = keras.Model(inp, conv[1](conv[0](inp)))
    else:
        base_model = keras.Sequential([keras.Input((8, 8, 1))] + conv)
    assert base_model.output_shape == (None, 4, 4, 6)
    base_model.trainable = False
    x = base_model.output
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(3, activation="softmax")(x)
    model = keras.Model(base_model.input, outputs)
    assert model.input_shape == (None, 8, 8, 1) and model.output_shape == (None, 3)
    assert [l.name for l in model.layers[1:3]] == [l.name for l in conv]  # the base's layers, shared
    assert len(model.trainable_weights) == 2  # only the new Dense
    frozen = [w.copy() for w in base_model.get_weights()]
    head = model.layers[-1].get_weights()[0].copy()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((8, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 8), epochs=1, batch_size=4,
              verbose=0)
    for before, after in zip(frozen, base_model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.array_equal(head, model.layers[-1].get_weights()[0])
    x_new = rnd(2, 8, 8, 1)
    np.testing.assert_allclose(model.predict(x_new, verbose=0),
                               model.layers[-1](model.layers[-2](base_model(x_new))).numpy(), rtol=1e-5, atol=1e-6)


def test_sequential_on_a_built_model_is_built_at_once():
    """Keras 3's ``Sequential._maybe_rebuild``: a first layer with an ``input_shape`` (a functional model, a built
    Sequential) builds the stack at construction, so ``Sequential([base_model, head...]).output_shape`` and
    ``summary()`` work before any data, as in the transfer-learning guide."""
    inp = keras.Input((8, 8, 1))
    base_model = keras.Model(inp, layers.Conv2D(4, 3)(inp))
    model = keras.Sequential([base_model, layers.GlobalAveragePooling2D(), layers.Dense(2)])
    assert model.built and model.input_shape == (None, 8, 8, 1) and model.output_shape == (None, 2)
    assert model.count_params() == base_model.count_params() + 4 * 2 + 2
    outer = keras.Sequential([keras.Sequential([keras.Input((5,)), layers.Dense(4)]), layers.Dense(3)])
    assert outer.output_shape == (None, 3)
    assert not keras.Sequential([keras.Sequential([layers.Dense(4)]), layers.Dense(3)]).built  # nothing to go by

    class Sub(keras.Model):  # a subclassed model's own attribute named input_shape is not a batch shape
        def __init__(self):
            super().__init__()
            self.input_shape = (8, 8, 1)
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)
    model = keras.Sequential([Sub(), layers.Dense(3)])
    assert not model.built and model.predict(rnd(2, 5), verbose=0).shape == (2, 3)


def test_sequential_takes_its_one_input_in_a_list():
    """Keras 3 (a Sequential runs as a Functional) accepts ``[x]`` for the one input: fit([x], y), predict([x])."""
    x = rnd(6, 3)
    for model in (keras.Sequential([keras.Input((3,)), layers.Dense(2)]), keras.Sequential([layers.Dense(2)])):
        model.compile("sgd", "mse")
        model.fit([x], np.zeros((6, 2), "float32"), verbose=0)
        np.testing.assert_array_equal(model.predict([x], verbose=0), model.predict(x, verbose=0))
        np.testing.assert_array_equal(model((x,)).numpy(), model(x).numpy())
