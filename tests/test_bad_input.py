"""Bad input to the Keras API fails early and clearly, naming the argument and the value received (issue 10).

Each case says which Keras 3 behaviour it mirrors or, where Keras 3 silently accepts the value or fails deep
inside (``range()``, slicing, a dtype cast), that gpuflow refuses it up front while keeping Keras's accepted range.
Tiny Dense models only: the whole file runs in about a second.
"""
import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras
layers = keras.layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


def tiny(loss="mse", units=2):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(units)])
    model.compile("sgd", loss)
    return model


def data(n=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)).astype("float32"), rng.standard_normal((n, 2)).astype("float32")


# -- fit / evaluate / predict arguments ------------------------------------------------------------------------
# Keras 3 (trainer.py, epoch_iterator.py, array_data_adapter.py) documents these as "Integer" / "Integer or None"
# / "Float between 0 and 1" / "auto, 0, 1 or 2" but checks almost none of them: epochs=-1 trains nothing,
# epochs=2.7 / "3" / None raise TypeError inside range(), validation_split="0.2" a TypeError at `1.0 - split`,
# validation_split=1.5 slices nonsense, verbose=3 silently prints nothing. Each is a ValueError here.
@pytest.mark.parametrize("kwargs,named", [
    (dict(epochs=-1), "epochs=-1"),                # Keras: range(0, -1) is empty, trains nothing silently
    (dict(epochs=2.7), "epochs=2.7"),              # Keras: TypeError in range()
    (dict(epochs=2.0), "epochs=2.0"),              # Keras: TypeError in range() too, even when integral
    (dict(epochs="3"), "epochs='3'"),              # Keras: TypeError in range()
    (dict(epochs=None), "epochs=None"),            # Keras: TypeError in range()
    (dict(epochs=True), "epochs=True"),
    (dict(initial_epoch=-1), "initial_epoch=-1"),
    (dict(initial_epoch=0.5), "initial_epoch=0.5"),
    (dict(validation_split="0.2"), "validation_split='0.2'"),  # Keras: TypeError at 1.0 - "0.2"
    (dict(validation_split=1.0), "validation_split=1.0"),      # Keras: ValueError, nothing left to train on
    (dict(validation_split=1.5), "validation_split=1.5"),      # Keras: slices nonsense silently
    (dict(validation_split=-0.1), "validation_split=-0.1"),
    (dict(validation_split=float("nan")), "validation_split=nan"),
    (dict(batch_size=0), "batch_size=0"),          # Keras: `if not batch_size` makes 0 the default 32
    (dict(batch_size=-4), "batch_size=-4"),        # Keras: a negative number of batches
    (dict(batch_size=2.5), "batch_size=2.5"),      # Keras: fails while slicing
    (dict(batch_size="4"), "batch_size='4'"),      # Keras: TypeError in math.ceil(n / "4")
    (dict(steps_per_epoch=0), "steps_per_epoch=0"),
    (dict(steps_per_epoch=1.5), "steps_per_epoch=1.5"),
    (dict(validation_split=0.25, validation_steps=-1), "validation_steps=-1"),
    (dict(validation_split=0.25, validation_batch_size=0), "validation_batch_size=0"),
    (dict(validation_split=0.25, validation_freq=0), "validation_freq=0"),      # Keras: ZeroDivisionError
    (dict(validation_split=0.25, validation_freq="2"), "validation_freq='2'"),  # Keras's own ValueError
    (dict(verbose=3), "verbose=3"),                # Keras: no progress bar and no error
    (dict(verbose=-1), "verbose=-1"),
    (dict(verbose="1"), "verbose='1'"),
    (dict(verbose=None), "verbose=None"),
])
def test_fit_refuses_bad_arguments_naming_them(kwargs, named):
    model = tiny()
    before = model.get_weights()
    kwargs.setdefault("verbose", 0)
    with pytest.raises(ValueError) as e:
        model.fit(*data(), **kwargs)
    assert named in str(e.value)
    for a, b in zip(before, model.get_weights()):  # refused before any training step
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs", [dict(epochs=0), dict(epochs=np.int64(0)), dict(epochs=3, initial_epoch=3),
                                    dict(verbose=False), dict(verbose="auto", epochs=0)])
def test_fit_with_no_epoch_to_run_trains_nothing_as_keras(kwargs):
    """Keras 3 accepts epochs=0 (its fit tests `epochs > 0` before finalizing) and epochs <= initial_epoch:
    nothing is trained and the History is empty."""
    model = tiny()
    before = model.get_weights()
    kwargs.setdefault("epochs", 0)
    hist = model.fit(*data(), **{"verbose": 0, **kwargs})
    assert hist.history == {} and hist.epoch == []
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_accepted_values_still_work():
    model = tiny()
    x, y = data(8)
    hist = model.fit(x, y, epochs=np.int32(2), batch_size=np.int64(4), validation_split=np.float32(0.25),
                     validation_freq=[2], verbose=True)
    assert hist.epoch == [0, 1] and len(hist.history["val_loss"]) == 1  # validated on epoch 2 only (a list)
    assert model.fit(x, y, validation_split=0, verbose=0).history.keys() == {"loss"}
    for off in (None, False):  # Keras 3 tests `if validation_split and ...`: any falsy value is no split
        assert model.fit(x, y, validation_split=off, verbose=0).history.keys() == {"loss"}


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("kwargs,named", [
    (dict(batch_size=0), "batch_size=0"), (dict(batch_size=-1), "batch_size=-1"),
    (dict(batch_size=1.5), "batch_size=1.5"), (dict(steps=0), "steps=0"), (dict(steps=-1), "steps=-1"),
    (dict(steps="2"), "steps='2'"), (dict(verbose=5), "verbose=5"),
])
def test_evaluate_and_predict_refuse_bad_arguments(method, kwargs, named):
    model = tiny()
    x, y = data()
    args = (x, y) if method == "evaluate" else (x,)
    with pytest.raises(ValueError) as e:
        getattr(model, method)(*args, **{"verbose": 0, **kwargs})
    assert named in str(e.value)


# -- labels --------------------------------------------------------------------------------------------------
# Keras 3 / TensorFlow cast sparse cross-entropy labels to int64 (backend/tensorflow/nn.py), so 1.5 silently
# becomes 1; gpuflow refuses non-integral floats (whole-number floats stay class ids, as in Keras). Fit checks
# the host arrays once; the loss checks host tensors, so the CUDA path gains no device-to-host sync.
def test_fit_refuses_non_integral_float_labels_naming_y():
    model = tiny("sparse_categorical_crossentropy")
    x, _ = data(4)
    with pytest.raises(ValueError, match=r"`y` must hold integer class ids.*Received: y\[2\]=1\.5"):
        model.fit(x, np.array([0.0, 1.0, 1.5, 0.0]), verbose=0)
    with pytest.raises(ValueError, match=r"Received: y\[1, 0\]=nan"):
        model.fit(x, np.array([[0.0], [np.nan], [1.0], [0.0]]), verbose=0)
    with pytest.raises(ValueError, match=r"`validation_data y` must hold integer class ids.*=0\.5"):
        model.fit(x, np.zeros(4), validation_data=(x, np.full(4, 0.5)), verbose=0)
    with pytest.raises(ValueError, match=r"`y` must hold integer class ids.*=0\.25"):
        model.evaluate(x, np.full(4, 0.25), verbose=0)


def test_whole_number_float_labels_train_exactly_like_integer_labels():
    x, _ = data(6)
    labels = np.array([0, 1, 1, 0, 1, 0])
    weights = []
    for y in (labels, labels.astype("float32"), labels.astype("float64")[:, None]):
        keras.utils.set_random_seed(0)
        model = tiny("sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)


def test_string_labels_and_inputs_are_refused_naming_the_argument():
    model = tiny("sparse_categorical_crossentropy")
    x, _ = data(2)
    with pytest.raises(TypeError, match=r"`y` must be numeric.*Received: y with dtype <U3 \(e\.g\. 'cat'\)"):
        model.fit(x, np.array(["cat", "dog"]), verbose=0)
    with pytest.raises(TypeError, match=r"`x` must be numeric.*dtype <U"):
        model.predict([["a", "b", "c"]], verbose=0)
    with pytest.raises(TypeError, match="`sample_weight` must be numeric"):
        model.fit(x, np.array([0, 1]), sample_weight=np.array(["1", "2"]), verbose=0)


@pytest.mark.parametrize("loss", [keras.losses.SparseCategoricalCrossentropy(),
                                  keras.losses.sparse_categorical_crossentropy])
def test_the_loss_itself_names_y_true(loss):
    probs = np.full((2, 3), 1 / 3, "float32")
    with pytest.raises(ValueError, match=r"`y_true` must hold integer class ids.*y_true\[1\]=2\.5"):
        loss(np.array([1.0, 2.5]), probs)
    with pytest.raises(TypeError, match="`y_true` must be numeric"):
        loss(np.array(["a", "b"]), probs)
    with pytest.raises(TypeError, match="`y_pred` must be numeric"):
        loss(np.array([0, 1]), np.array([["a"] * 3] * 2))
    np.testing.assert_allclose(np.asarray(loss(np.array([1.0, 2.0]), probs)).mean(), np.log(3), rtol=1e-6)


def test_a_generator_with_float_labels_is_caught_by_the_loss_on_the_host():
    x, _ = data(4)
    model = tiny("sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"`y_true` must hold integer class ids.*=0\.5"):
        model.fit(iter([(x, np.full(4, 0.5))]), verbose=0)


def test_multi_output_labels_name_the_output():
    inp = keras.Input((3,))
    model = keras.Model(inp, [layers.Dense(1, name="reg")(inp), layers.Dense(2, name="cls")(inp)])
    model.compile("sgd", ["mse", "sparse_categorical_crossentropy"])
    x, _ = data(4)
    with pytest.raises(ValueError, match=r"`y\[1\]` must hold integer class ids.*y\[1\]\[0\]=0\.5"):
        model.fit(x, [np.full(4, 0.5, "float32"), np.full(4, 0.5)], verbose=0)  # mse's floats are fine


def test_tf_nn_sparse_softmax_cross_entropy_takes_integer_labels_only_as_tf():
    with pytest.raises(TypeError, match="`labels` must be integer class ids.*float32"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(np.array([1.0, 0.0], "float32"), np.ones((2, 2), "float32"))


# -- construction: shapes, optimizers, normalization -----------------------------------------------------------
# keras.Input: Keras 3's standardize_shape refuses negative, float and string dimensions ("Cannot convert ... to a
# shape") and accepts 0 and None; gpuflow follows it and names the argument.
@pytest.mark.parametrize("make,match", [
    (lambda: keras.Input(shape=(-1, 3)), r"Negative dimensions are not allowed.*shape=\(-1, 3\)"),
    (lambda: keras.Input(shape=(3, 2.5)), r"invalid dimension '2.5'.*shape=\(3, 2.5\)"),
    (lambda: keras.Input(shape=("3",)), r"invalid dimension '3'"),
    (lambda: keras.Input(shape=None), r"You must pass a `shape`"),
    (lambda: keras.Input(shape=(3,), batch_size=-1), r"batch_size=-1"),
    (lambda: keras.Input(batch_shape=(None, -2)), r"Negative dimensions.*batch_shape=\(None, -2\)"),
    (lambda: keras.Input(shape=(3,), batch_shape=(None, 3)), r"both `shape` and `batch_shape`"),  # Keras's check
    (lambda: layers.Dense(2, input_shape=(-4,)), r"Negative dimensions.*input_shape=\(-4,\)"),
])
def test_input_shapes_are_checked_as_keras(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_input_shapes_keras_accepts():
    assert keras.Input(shape=(0, None, 3)).shape == (None, 0, None, 3)  # zero is a size in Keras
    assert keras.Input(shape=np.array([4])[0]).shape == (None, 4)
    assert keras.Input(shape=(2,), batch_size=np.int64(8)).shape == (8, 2)


# Optimizers: Keras 3 checks only SGD's momentum in [0, 1] (sgd.py) and the type of learning_rate; it takes
# Adam(beta_1=2), a NaN or negative learning rate and epsilon=0 and trains into NaN. gpuflow refuses them at
# construction (the learning-rate setter too) and keeps what Keras code legitimately passes: schedules,
# callables, learning_rate=0, momentum=0 or 1, int and NumPy values, clipnorm=0 (no clipping, as Keras).
@pytest.mark.parametrize("make,named", [
    (lambda: keras.optimizers.Adam(beta_1=2), "beta_1=2"),
    (lambda: keras.optimizers.Adam(beta_1=1.0), "beta_1=1.0"),
    (lambda: keras.optimizers.Adam(beta_2=-0.1), "beta_2=-0.1"),
    (lambda: keras.optimizers.Adam(learning_rate=float("nan")), "learning_rate=nan"),
    (lambda: keras.optimizers.Adam(learning_rate=float("inf")), "learning_rate=inf"),
    (lambda: keras.optimizers.Adam(learning_rate=-1e-3), "learning_rate=-0.001"),
    (lambda: keras.optimizers.Adam(learning_rate="0.1"), "learning_rate='0.1'"),  # Keras's own ValueError
    (lambda: keras.optimizers.Adam(epsilon=0), "epsilon=0"),
    (lambda: keras.optimizers.AdamW(weight_decay=-0.1), "weight_decay=-0.1"),
    (lambda: keras.optimizers.SGD(momentum=1.5), "momentum=1.5"),  # Keras's own check
    (lambda: keras.optimizers.SGD(momentum=-0.5), "momentum=-0.5"),
    (lambda: keras.optimizers.SGD(clipnorm=-1.0), "clipnorm=-1.0"),
    (lambda: keras.optimizers.SGD(clipvalue=float("nan")), "clipvalue=nan"),
    (lambda: keras.optimizers.RMSprop(rho=1.0), "rho=1.0"),
    (lambda: keras.optimizers.RMSprop(momentum=2), "momentum=2"),
    (lambda: keras.optimizers.RMSprop(epsilon=-1e-7), "epsilon=-1e-07"),
])
def test_optimizer_hyperparameters_are_checked_at_construction(make, named):
    with pytest.raises(ValueError) as e:
        make()
    assert named in str(e.value)


def test_optimizer_values_keras_accepts_still_work():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    for opt in (keras.optimizers.Adam(learning_rate=schedule), keras.optimizers.Adam(learning_rate=lambda: 0.01),
                keras.optimizers.SGD(learning_rate=0, momentum=0), keras.optimizers.SGD(1, momentum=1.0),
                keras.optimizers.Adam(learning_rate=np.float32(1e-3), beta_1=0), keras.optimizers.RMSprop(rho=0)):
        assert np.isfinite(float(opt.learning_rate.numpy()))
    opt = keras.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="learning_rate=nan"):
        opt.learning_rate = float("nan")
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.1)


def test_clipnorm_zero_means_no_clipping_as_keras():
    v = tf.Variable(np.array([3.0, 4.0], "float32"))
    keras.optimizers.SGD(1.0, clipnorm=0.0).apply_gradients([(tf.constant([3.0, 4.0]), v)])
    np.testing.assert_allclose(v.numpy(), [0.0, 0.0])  # the full gradient step, not a zeroed one


# BatchNormalization: Keras 3 takes any momentum and epsilon (float()); outside [0, 1] the moving statistics
# diverge and epsilon <= 0 can divide by a zero variance, so both are refused at construction.
@pytest.mark.parametrize("make,named", [
    (lambda: layers.BatchNormalization(momentum=5), "momentum=5"),
    (lambda: layers.BatchNormalization(momentum=-0.1), "momentum=-0.1"),
    (lambda: layers.BatchNormalization(epsilon=0), "epsilon=0"),
    (lambda: layers.BatchNormalization(epsilon=-1e-3), "epsilon=-0.001"),
    (lambda: layers.LayerNormalization(epsilon=0.0), "epsilon=0.0"),
])
def test_normalization_arguments_are_checked_at_construction(make, named):
    with pytest.raises(ValueError) as e:
        make()
    assert named in str(e.value)
    assert layers.BatchNormalization(momentum=0, epsilon=1e-5).momentum == 0.0  # Keras's range kept


# -- a scalar where samples are expected ----------------------------------------------------------------------
# Keras 3's array adapter reads shape[0] of every array and fails with an IndexError on a scalar; gpuflow names
# the argument and its shape ().
@pytest.mark.parametrize("call", [
    lambda m: m.predict(5.0, verbose=0),
    lambda m: m.predict(np.float32(5.0), verbose=0),
    lambda m: m.predict(tf.constant(5.0), verbose=0),
    lambda m: m.predict_on_batch(np.array(5.0)),
    lambda m: m.fit(5.0, np.zeros((1, 2)), verbose=0),
    lambda m: m.evaluate(np.array(5.0), np.zeros((1, 2)), verbose=0),
    lambda m: m.train_on_batch(5.0, np.zeros((1, 2))),
])
def test_a_scalar_x_is_refused_naming_x_and_its_shape(call):
    with pytest.raises(ValueError, match=r"`x` must be an array whose first axis indexes the samples.*Received: "
                                         r"x=5\.0 with shape \(\)"):
        call(tiny())


def test_a_scalar_y_or_sample_weight_is_refused_too():
    model = tiny()
    x, y = data(2)
    with pytest.raises(ValueError, match=r"Received: y=1 with shape \(\)"):
        model.fit(x, 1, verbose=0)
    with pytest.raises(ValueError, match=r"Received: sample_weight=0\.5 with shape \(\)"):
        model.fit(x, y, sample_weight=0.5, verbose=0)
    assert model.predict(x[:1], verbose=0).shape == (1, 2)  # one sample as a batch of one works
