"""compile / fit / evaluate / predict: History contents, validation, shuffling,
return shapes, "accuracy" resolution, convergence for every optimizer and loss,
callbacks, and the errors of bad training data.

Problems are tiny (tens of samples, two features) so the whole file runs in
seconds on two CPU cores.
"""
import math
import warnings

import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras
layers = keras.layers


@pytest.fixture(autouse=True)
def _seeded():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield


def blobs(n=60, classes=3, seed=0):
    """``classes`` well separated Gaussian blobs in 2-D: (x float32 (n, 2), y int64 (n,))."""
    rng = np.random.default_rng(seed)
    centers = np.array([[math.cos(2 * math.pi * k / classes), math.sin(2 * math.pi * k / classes)]
                        for k in range(classes)]) * 3
    y = np.arange(n) % classes
    rng.shuffle(y)
    x = centers[y] + 0.4 * rng.standard_normal((n, 2))
    return x.astype("float32"), y.astype("int64")


def mlp(out, activation=None, hidden=8):
    return keras.Sequential([keras.Input((2,)), layers.Dense(hidden, activation="tanh"),
                             layers.Dense(out, activation=activation)])


# -- History -------------------------------------------------------------------------------------
def test_fit_returns_history_with_sorted_keys_and_params():
    x, y = blobs(40)
    model = mlp(3, "softmax")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert isinstance(hist, keras.callbacks.History)
    assert list(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 and all(isinstance(a, float) for a in v) for v in hist.history.values())
    assert hist.params == {"verbose": 0, "epochs": 3, "steps": 2}  # 30 training samples / 16
    assert hist.epoch == [0, 1, 2]
    assert model.history is hist


def test_history_without_metrics_and_default_batch_size():
    x, y = blobs(70)
    model = mlp(3)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, epochs=2, verbose=0)
    assert list(hist.history) == ["loss"]
    assert hist.params["steps"] == 3  # ceil(70 / 32)


def test_epoch_logs_are_the_sample_weighted_mean_of_batch_losses():
    x, y = blobs(10)
    model = mlp(3, "softmax")
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")  # lr 0: weights fixed
    hist = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    probs = model.predict(x, verbose=0).astype(np.float64)
    per_sample = -np.log(np.clip(probs[np.arange(10), y], 1e-7, 1 - 1e-7))
    np.testing.assert_allclose(hist.history["loss"][0], per_sample.mean(), rtol=1e-5)


# -- validation -------------------------------------------------------------------------------------
def test_validation_split_takes_the_last_fraction():
    x, y = blobs(20)
    model = mlp(3, "softmax")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    hist = model.fit(x, y, epochs=1, batch_size=5, validation_split=0.25, verbose=0, callbacks=[Spy()])
    assert seen == [0, 1, 2]  # 15 training samples in batches of 5
    val = model.evaluate(x[15:], y[15:], verbose=0, return_dict=True)
    np.testing.assert_allclose(hist.history["val_loss"][0], val["loss"], rtol=1e-6)
    np.testing.assert_allclose(hist.history["val_accuracy"][0], val["accuracy"], rtol=1e-6)
    other = model.evaluate(x[:5], y[:5], verbose=0, return_dict=True)
    assert not np.isclose(other["loss"], val["loss"])


def test_validation_split_never_trains_on_the_held_out_part():
    # shuffle=False and lr such that training on the tail would change the weights differently
    x, y = blobs(20)
    a, b = mlp(3), mlp(3)
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    a.fit(x, y, epochs=2, batch_size=5, validation_split=0.25, shuffle=False, verbose=0)
    b.fit(x[:15], y[:15], epochs=2, batch_size=5, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_validation_data():
    x, y = blobs(30)
    xv, yv = blobs(12, seed=5)
    model = mlp(3, "softmax")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=2, validation_data=(xv, yv), verbose=0)
    assert list(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    val = model.evaluate(xv, yv, verbose=0)
    np.testing.assert_allclose(hist.history["val_loss"][-1], val[0], rtol=1e-6)
    np.testing.assert_allclose(hist.history["val_accuracy"][-1], val[1], rtol=1e-6)


def test_validation_freq():
    x, y = blobs(20)
    model = mlp(3, "softmax")
    model.compile("adam", "sparse_categorical_crossentropy")
    logs = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, l: logs.append(sorted(l)))
    model.fit(x, y, epochs=4, validation_split=0.2, validation_freq=2, verbose=0, callbacks=[cb])
    assert logs == [["loss"], ["loss", "val_loss"], ["loss"], ["loss", "val_loss"]]


# -- shuffle --------------------------------------------------------------------------------------
def test_shuffle_false_is_deterministic_and_equals_manual_steps():
    x, y = blobs(24)
    models = [mlp(3) for _ in range(3)]
    for m in models[1:]:
        m.set_weights(models[0].get_weights())
    for m in models:
        m.compile(keras.optimizers.SGD(0.1, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    models[0].fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    models[1].fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for _ in range(2):  # the same steps, by hand, in order
        for start in range(0, 24, 8):
            models[2].train_on_batch(x[start:start + 8], y[start:start + 8])
    for wa, wb, wc in zip(*(m.get_weights() for m in models)):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_allclose(wa, wc, rtol=1e-6, atol=1e-7)


def test_shuffle_true_changes_batch_order():
    x, y = blobs(24)
    a, b = mlp(3), mlp(3)
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    a.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    b.fit(x, y, epochs=1, batch_size=4, shuffle=True, verbose=0)
    assert not np.allclose(a.get_weights()[0], b.get_weights()[0])


# -- evaluate / predict -------------------------------------------------------------------------------
def test_evaluate_return_forms():
    x, y = blobs(20)
    model = mlp(3, "softmax")
    model.compile("adam", "sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    res = model.evaluate(x, y, verbose=0)
    assert isinstance(res, list) and len(res) == 2
    np.testing.assert_allclose(res[0], loss, rtol=1e-6)
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(d) == ["accuracy", "loss"] and d["loss"] == res[0] and d["accuracy"] == res[1]
    assert model.metrics_names == ["loss", "compile_metrics"]  # Keras 3 lists the container


def test_evaluate_numbers_with_uneven_batches():
    x, y = blobs(10)
    model = mlp(3, "softmax")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, batch_size=3, verbose=0)
    probs = model.predict(x, verbose=0).astype(np.float64)
    ref_loss = -np.log(np.clip(probs[np.arange(10), y], 1e-7, 1 - 1e-7)).mean()
    ref_acc = (probs.argmax(1) == y).mean()
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    np.testing.assert_allclose(acc, ref_acc, rtol=1e-6)


def test_predict_shape_dtype_and_batching():
    x, _ = blobs(37)
    model = mlp(4)
    out = model.predict(x, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (37, 4) and out.dtype == np.float32
    # Other batch sizes run GEMMs of other shapes, for which BLAS may pick another kernel that adds in another
    # order: the outputs then agree within float32 rounding, not bit for bit. Two orders of a k-term sum differ
    # by at most 2 * k * 2**-24 * sum|terms|: with |x| < 4.3 and Glorot-uniform weights, sum|terms| <= 6.7 in
    # the first layer (k = 2 inputs + bias) and <= 5.7 in the second (k = 8 units + bias), which also carries
    # the first layer's difference (times sum|W2| <= 5.7): 2e-5 at worst.
    other_gemms = dict(rtol=1e-6, atol=2e-5)
    np.testing.assert_allclose(out, model(x).numpy(), **other_gemms)  # predict: batches of 32 + 5, not 37
    np.testing.assert_allclose(model.predict(x, batch_size=5, verbose=0), out, **other_gemms)
    np.testing.assert_array_equal(model.predict(tf.constant(x), verbose=0), out)  # the same GEMMs: bit for bit
    np.testing.assert_array_equal(model.predict(x.astype("float64"), verbose=0), out)  # cast to float32 first
    np.testing.assert_allclose(model.predict_on_batch(x[:3]), out[:3], **other_gemms)


def test_predict_does_not_need_compile():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    assert model.predict(np.zeros((4, 3), "float32"), verbose=0).shape == (4, 2)


def test_train_and_test_on_batch():
    x, y = blobs(12)
    model = mlp(3, "softmax")
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.test_on_batch(x, y)
    out = model.train_on_batch(x, y, return_dict=True)
    assert list(out) == ["accuracy", "loss"]
    np.testing.assert_allclose(out["loss"], before[0], rtol=1e-6)  # computed before the step
    assert model.test_on_batch(x, y)[0] < before[0]


# -- "accuracy" resolution ----------------------------------------------------------------------------
@pytest.mark.parametrize("y_kind,out,activation,loss,expected", [
    ("sparse", 3, "softmax", "sparse_categorical_crossentropy", "SparseCategoricalAccuracy"),
    ("sparse_col", 3, "softmax", "sparse_categorical_crossentropy", "SparseCategoricalAccuracy"),
    ("onehot", 3, "softmax", "categorical_crossentropy", "CategoricalAccuracy"),
    ("binary_col", 1, "sigmoid", "binary_crossentropy", "BinaryAccuracy"),
])
@pytest.mark.parametrize("name", ["accuracy", "acc"])
def test_accuracy_is_resolved_from_shapes(y_kind, out, activation, loss, expected, name):
    x, y = blobs(30, classes=3 if out > 1 else 2)
    targets = {"sparse": y, "sparse_col": y[:, None], "onehot": np.eye(3, dtype="float32")[y],
               "binary_col": y[:, None].astype("float32")}[y_kind]
    model = mlp(out, activation)
    model.compile("adam", loss, metrics=[name])
    hist = model.fit(x, targets, epochs=1, batch_size=30, shuffle=False, verbose=0)
    metric = model.metrics[1].metrics[0]  # inside Keras 3's compile_metrics container
    assert type(metric).__name__ == expected and metric.name == name
    assert list(hist.history) == [name, "loss"]
    probs = model.predict(x, verbose=0)
    res = model.evaluate(x, targets, verbose=0, return_dict=True)
    ref = ((probs[:, 0] > 0.5) == y).mean() if out == 1 else (probs.argmax(1) == y).mean()
    np.testing.assert_allclose(res[name], ref, rtol=1e-6)


def test_metrics_are_logged_under_the_given_name_and_unweighted():
    x, y = blobs(20, classes=2)
    t = y[:, None].astype("float32")
    model = mlp(1, "sigmoid")
    model.compile("sgd", "binary_crossentropy", metrics=["mae", "binary_accuracy", keras.metrics.MeanSquaredError()])
    res = model.evaluate(x, t, verbose=0, return_dict=True)
    assert list(res) == ["binary_accuracy", "loss", "mae", "mean_squared_error"]
    sw = np.linspace(0.0, 2.0, 20).astype("float32")
    weighted = model.evaluate(x, t, sample_weight=sw, verbose=0, return_dict=True)
    for k in ("binary_accuracy", "mae", "mean_squared_error"):  # `metrics=` ignore sample weights (Keras 3)
        np.testing.assert_allclose(weighted[k], res[k], rtol=1e-6)
    p = model.predict(x, verbose=0).astype(np.float64)[:, 0]
    bce = -(y * np.log(np.clip(p, 1e-7, 1 - 1e-7)) + (1 - y) * np.log(np.clip(1 - p, 1e-7, 1 - 1e-7)))
    np.testing.assert_allclose(weighted["loss"], (bce * sw).mean(), rtol=1e-5)  # the loss does use them


# -- convergence: every optimizer, every loss ------------------------------------------------------------
OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.1),
    "sgd_momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    "sgd_nesterov": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(0.02),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
    "rmsprop_centered_momentum": lambda: keras.optimizers.RMSprop(0.005, momentum=0.5, centered=True),
    "adam_amsgrad": lambda: keras.optimizers.Adam(0.02, amsgrad=True),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_each_optimizer_reduces_the_loss(opt):
    x, y = blobs(60)
    model = mlp(3)
    model.compile(OPTIMIZERS[opt](), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=15, batch_size=20, verbose=0)
    loss = hist.history["loss"]
    assert loss[-1] < 0.5 * loss[0], loss
    assert hist.history["accuracy"][-1] >= 0.9


def _targets(kind, y):
    if kind in ("sparse", "sparse_logits"):
        return y, 3
    if kind in ("onehot", "onehot_logits", "mse"):
        return np.eye(3, dtype="float32")[y], 3
    return (y[:, None] == 0).astype("float32"), 1  # binary: class 0 against the rest


LOSSES = [
    ("mse", "mse", "softmax"),
    ("mse_obj", keras.losses.MeanSquaredError(), "softmax"),
    ("mae", "mae", "softmax"),
    ("binary_sigmoid", "binary_crossentropy", "sigmoid"),
    ("binary_logits", keras.losses.BinaryCrossentropy(from_logits=True), None),
    ("onehot", "categorical_crossentropy", "softmax"),
    ("onehot_logits", keras.losses.CategoricalCrossentropy(from_logits=True), None),
    ("sparse", "sparse_categorical_crossentropy", "softmax"),
    ("sparse_logits", keras.losses.SparseCategoricalCrossentropy(from_logits=True), None),
    ("fn", keras.losses.categorical_crossentropy, "softmax"),
]


@pytest.mark.parametrize("kind,loss,activation", LOSSES, ids=[c[0] for c in LOSSES])
def test_each_loss_trains(kind, loss, activation):
    x, y = blobs(60)
    t, out = _targets({"mse_obj": "mse", "mae": "mse", "fn": "onehot"}.get(kind, kind)
                      if not kind.startswith("binary") else "binary", y)
    model = mlp(out, activation)
    model.compile(keras.optimizers.Adam(0.03), loss, metrics=["accuracy"])
    hist = model.fit(x, t, epochs=15, batch_size=20, verbose=0)
    loss_curve = hist.history["loss"]
    assert loss_curve[-1] < (0.7 if kind == "mae" else 0.5) * loss_curve[0], loss_curve
    assert hist.history["accuracy"][-1] >= 0.9


def test_from_logits_both_ways_agree_on_a_fixed_model():
    x, y = blobs(20)
    logits_model = mlp(3)
    probs_model = keras.Sequential([logits_model, layers.Softmax()])
    logits_model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    probs_model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=False))
    np.testing.assert_allclose(logits_model.evaluate(x, y, verbose=0), probs_model.evaluate(x, y, verbose=0),
                               rtol=1e-5)


# -- callbacks -------------------------------------------------------------------------------------------
def test_callback_hooks_order():
    x, y = blobs(8)
    calls = []

    class Rec(keras.callbacks.Callback):
        def on_train_begin(self, logs=None): calls.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): calls.append(f"epoch_begin{epoch}")
        def on_train_batch_end(self, batch, logs=None): calls.append(f"batch{batch}:{sorted(logs)}")
        def on_epoch_end(self, epoch, logs=None): calls.append(f"epoch_end{epoch}:{sorted(logs)}")
        def on_train_end(self, logs=None): calls.append("train_end")

    rec = Rec()
    model = mlp(3)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[rec])
    assert calls == ["train_begin", "epoch_begin0", "batch0:['loss']", "batch1:['loss']", "epoch_end0:['loss']",
                     "epoch_begin1", "batch0:['loss']", "batch1:['loss']", "epoch_end1:['loss']", "train_end"]
    assert rec.model is model and rec.params == {"verbose": 0, "epochs": 2, "steps": 2}


def test_stop_training_and_initial_epoch_and_steps_per_epoch():
    x, y = blobs(40)
    model = mlp(3)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def stop(epoch, logs):
        if epoch == 1:
            model.stop_training = True

    hist = model.fit(x, y, epochs=5, verbose=0, callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=stop)])
    assert hist.epoch == [0, 1]
    hist = model.fit(x, y, epochs=4, initial_epoch=2, verbose=0)
    assert hist.epoch == [2, 3]
    hist = model.fit(x, y, epochs=1, batch_size=4, steps_per_epoch=3, verbose=0)
    assert hist.params["steps"] == 3


def test_non_callback_in_callbacks_raises():
    model = mlp(3)
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="Callback"):
        model.fit(*blobs(4), callbacks=[lambda: None], verbose=0)


# -- NaN ---------------------------------------------------------------------------------------------------
def _nan_data():
    x = np.ones((16, 2), "float32")
    y = np.ones((16, 1), "float32")
    y[5] = np.nan  # the second batch of 4, with shuffle=False
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    return model, x, y


def test_nan_loss_warns_with_epoch_and_step():
    model, x, y = _nan_data()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    ours = [w for w in rec if issubclass(w.category, RuntimeWarning) and "fit:" in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in rec]  # reported once, at the first NaN
    msg = str(ours[0].message)
    assert "nan" in msg and "epoch 1" in msg and "step 2" in msg


def test_exploding_loss_warns_too():
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    model.compile(keras.optimizers.SGD(1e20), "mse")
    with warnings.catch_warnings(record=True) as rec, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        model.fit(np.full((16, 2), 1e3, "float32"), np.ones((16, 1), "float32"), epochs=2, batch_size=4,
                  shuffle=False, verbose=0)
    assert any("fit: the loss became" in str(w.message) and "epoch 1" in str(w.message) for w in rec)


def test_terminate_on_nan():
    model, x, y = _nan_data()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        hist = model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0,
                         callbacks=[keras.callbacks.TerminateOnNaN()])
    assert hist.epoch == [0]
    assert int(model.optimizer.iterations.numpy()) == 2  # stopped right after the NaN step


def test_optimizer_iterations_count_the_steps():
    x, y = blobs(20)
    model = mlp(3)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 6


# -- errors ----------------------------------------------------------------------------------------------
def test_fit_evaluate_before_compile():
    model = mlp(3)
    with pytest.raises(RuntimeError, match=r"compile\(\)"):
        model.fit(*blobs(4), verbose=0)
    with pytest.raises(RuntimeError, match=r"compile\(\)"):
        model.evaluate(*blobs(4), verbose=0)


def test_data_cardinality_is_ambiguous():
    x, y = blobs(10)
    model = mlp(3)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError) as e:
        model.fit(x, y[:7], verbose=0)
    msg = str(e.value)
    assert "Data cardinality is ambiguous" in msg and "'x' sizes: 10" in msg and "'y' sizes: 7" in msg
    with pytest.raises(ValueError, match="'sample_weight' sizes: 3"):
        model.fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="cardinality"):
        model.evaluate(x[:4], y, verbose=0)
    with pytest.raises(ValueError, match="cardinality"):
        model.fit(x, y, validation_data=(x[:3], y[:4]), verbose=0)


@pytest.mark.parametrize("kwargs,ident", [
    (dict(optimizer="adamw2", loss="mse"), "adamw2"),
    (dict(optimizer="sgd", loss="mean_squared_errorr"), "mean_squared_errorr"),
    (dict(optimizer="sgd", loss="mse", metrics=["accuracyy"]), "accuracyy"),
])
def test_unknown_strings_in_compile(kwargs, ident):
    model = mlp(1)
    with pytest.raises(ValueError) as e:
        model.compile(**kwargs)
    assert ident in str(e.value) and "Could not interpret" in str(e.value)


def test_metrics_must_be_a_list():
    with pytest.raises(TypeError, match="metrics=accuracy"):
        mlp(1).compile("sgd", "mse", metrics="accuracy")


@pytest.mark.parametrize("bad", [3, -1, 7])
@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_labels_out_of_range(bad, from_logits):
    x, y = blobs(6)
    y = y.copy()
    y[4] = bad
    model = mlp(3, None if from_logits else "softmax")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    with pytest.raises(ValueError) as e:
        model.fit(x, y, verbose=0)
    msg = str(e.value)
    assert f"label value of {bad}" in msg and "[0, 3)" in msg


def test_mismatched_label_shapes():
    x, y = blobs(8)
    model = mlp(3, "softmax")
    model.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ValueError) as e:
        model.fit(x, y, verbose=0)  # sparse labels given to categorical_crossentropy
    assert "(8,)" in str(e.value) and "(8, 3)" in str(e.value)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError) as e:
        model.fit(x, np.zeros((8, 4), "float32"), verbose=0)
    assert "(8, 4)" in str(e.value) and "(8, 3)" in str(e.value)


def test_bad_fit_arguments():
    model = mlp(3)
    model.compile("sgd", "mse")
    x, y = blobs(4)
    t = np.eye(3, dtype="float32")[y]
    with pytest.raises(ValueError, match="batch_size=0"):
        model.fit(x, t, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split=1.5"):
        model.fit(x, t, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="verbose=3"):
        model.fit(x, t, verbose=3)


def test_fit_with_add_loss_only():
    class Shrink(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            y = self.dense(x)
            self.add_loss(tf.reduce_mean(y * y))
            return y

    x, _ = blobs(16)
    model = Shrink()
    model.compile(keras.optimizers.SGD(0.05))
    hist = model.fit(x, epochs=5, batch_size=16, verbose=0)
    loss = hist.history["loss"]
    assert all(b < a for a, b in zip(loss, loss[1:])), loss  # one stale term would break the monotone decrease
    assert len(model.losses) == 1


def test_compiled_loss_without_targets():
    model = mlp(1)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="y=None"):
        model.fit(blobs(4)[0], verbose=0)


def test_fit_accepts_tensors_lists_and_column_weights():
    x, y = blobs(12)
    t = np.eye(3, dtype="float32")[y]
    model = mlp(3, "softmax")
    model.compile("sgd", "categorical_crossentropy")
    assert len(model.fit(tf.constant(x), tf.constant(t), verbose=0).history["loss"]) == 1
    assert len(model.fit(x.tolist(), t.tolist(), verbose=0).history["loss"]) == 1
    assert len(model.fit(x, t, sample_weight=np.ones((12, 1)), verbose=0).history["loss"]) == 1


def test_regression_with_1d_targets_and_mse_metric():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 2)).astype("float32")
    y = (x @ np.array([1.5, -2.0]) + 0.5).astype("float32")  # shape (40,), model output (40, 1)
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse", metrics=["mse", "mae"])
    hist = model.fit(x, y, epochs=20, batch_size=10, verbose=0)
    assert hist.history["loss"][-1] < 0.01 * hist.history["loss"][0]
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(res["mse"], ((p - y) ** 2).mean(), rtol=1e-4)  # not broadcast to (40, 40)
    np.testing.assert_allclose(res["loss"], res["mse"], rtol=1e-5)
    np.testing.assert_allclose(res["mae"], np.abs(p - y).mean(), rtol=1e-4)


def test_history_keys_training_then_validation():
    def zero_one(y_true, y_pred):  # a name that sorts after "val_..."
        return np.zeros(len(y_true), "float32")

    x, y = blobs(20)
    model = mlp(3, "softmax")
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=[zero_one, "accuracy"])
    hist = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    assert list(hist.history) == ["accuracy", "loss", "zero_one", "val_accuracy", "val_loss", "val_zero_one"]
    assert model.evaluate(x, y, verbose=0)[1] == 0.0  # evaluate lists [loss, *metrics] in compile order


def test_set_random_seed_makes_training_reproducible():
    def run():
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((2,)), layers.Dense(4), layers.Dropout(0.3), layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(np.random.rand(20, 2), np.random.rand(20, 1), epochs=2, batch_size=4, verbose=0)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


# -- CNN ------------------------------------------------------------------------------------------------
def test_cnn_gradients_match_finite_differences_in_float64():
    dt = "float64"
    model = keras.Sequential([
        keras.Input((7, 7, 2), dtype=dt),
        layers.Conv2D(3, 3, padding="same", activation="relu", dtype=dt),
        layers.AveragePooling2D(2, padding="same", dtype=dt),
        layers.Conv2D(2, 2, activation="tanh", dtype=dt),
        layers.MaxPooling2D(2, dtype=dt),
        layers.Flatten(dtype=dt),
        layers.Dense(3, dtype=dt),
    ])
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 7, 7, 2)), np.array([0, 1, 2, 1])

    def loss_value():
        return float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))).numpy())

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_weights)
    assert len(grads) == 6
    for g, w in zip(grads, model.trainable_weights):
        flat = w.numpy().ravel()
        for i in rng.choice(flat.size, min(4, flat.size), replace=False):
            values = []
            for step in (1e-6, -1e-6):
                moved = flat.copy()
                moved[i] += step
                w.assign(moved.reshape(w.shape))
                values.append(loss_value())
            w.assign(flat.reshape(w.shape))
            numeric = (values[0] - values[1]) / 2e-6
            assert abs(numeric - g.numpy().ravel()[i]) < 1e-7, (w.path, i)


def test_small_cnn_learns():
    rng = np.random.default_rng(0)
    n = 48
    y = np.arange(n) % 2
    x = rng.normal(0, 0.3, (n, 8, 8, 1)).astype("float32")
    x[y == 0, :4] += 1.0  # class 0: bright top half; class 1: bright bottom half
    x[y == 1, 4:] += 1.0
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(),
                              layers.Flatten(), layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert model.evaluate(x, y, verbose=0)[1] == 1.0


# -- class_weight (Keras 3's class_weight_to_sample_weights) ------------------------------------------
def _weights_after(fit):
    keras.utils.set_random_seed(7)
    model = mlp(3, "softmax")
    model.compile("sgd", "categorical_crossentropy" if fit.__name__ == "one_hot" else "sparse_categorical_crossentropy")
    history = fit(model)
    return [w.copy() for w in model.get_weights()], history


def test_class_weight_is_a_sample_weight_per_class():
    """``class_weight={c: w}`` trains as ``sample_weight=w[y]`` (classes not named weigh 1; one-hot and (N, 1)
    targets give their class ids; a Dataset is weighted per batch) and leaves the validation loss unweighted."""
    x, y = blobs(24)
    cw = {0: 2.0, 2: 0.0}  # class 1 not named: 1.0

    def weighted(model):
        return model.fit(x, y, sample_weight=np.array([2.0, 1.0, 0.0])[y], batch_size=8, shuffle=False, verbose=0)

    def ids(model):
        return model.fit(x, y, class_weight=cw, batch_size=8, shuffle=False, verbose=0)

    def column(model):
        return model.fit(x, y.reshape(-1, 1).astype("float32"), class_weight=cw, batch_size=8, shuffle=False,
                         verbose=0)

    def one_hot(model):
        return model.fit(x, np.eye(3, dtype="float32")[y], class_weight=cw, batch_size=8, shuffle=False, verbose=0)

    def dataset(model):
        return model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), class_weight=cw, verbose=0)

    want, _ = _weights_after(weighted)
    for fit in (ids, column, one_hot, dataset):
        got, _ = _weights_after(fit)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=fit.__name__)

    def split(model):
        return model.fit(x, y, class_weight={0: 100.0}, validation_split=0.5, epochs=1, batch_size=8, verbose=0)
    model_weights, history = _weights_after(split)
    model = mlp(3, "softmax")
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.set_weights(model_weights)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[12:], y[12:], verbose=0), rel=1e-5)


def test_class_weight_train_on_batch_and_errors():
    x, y = blobs(12)
    runs = []
    for kwargs in ({"class_weight": {1: 3.0}}, {"sample_weight": np.where(y == 1, 3.0, 1.0)}):
        keras.utils.set_random_seed(3)
        model = mlp(3, "softmax")
        model.compile("sgd", "sparse_categorical_crossentropy")
        runs.append(model.train_on_batch(x, y, **kwargs))
    assert runs[0] == pytest.approx(runs[1], rel=1e-6)
    model = mlp(3, "softmax")
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="You cannot `class_weight` and `sample_weight` at the same time"):
        model.fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(12), verbose=0)
    with pytest.raises(ValueError, match="You cannot `class_weight` and `sample_weight` at the same time"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y, np.ones(12))).batch(4), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="must be a dict-like mapping"):
        model.fit(x, y, class_weight=[1.0, 2.0, 3.0], verbose=0)
    with pytest.raises(ValueError, match="integer keys"):
        model.fit(x, y, class_weight={"a": 1.0}, verbose=0)
    a = keras.Input((2,))
    two = keras.Model(a, [layers.Dense(3, activation="softmax")(a), layers.Dense(1)(a)])
    two.compile("sgd", ["sparse_categorical_crossentropy", "mse"])
    with pytest.raises(ValueError, match="only supported for Models with a single output"):
        two.fit(x, [y, y.astype("float32")], class_weight={0: 1.0}, verbose=0)


def test_on_batch_methods_take_a_list_of_targets_for_several_outputs():
    x, y = blobs(6)
    a = keras.Input((2,))
    model = keras.Model(a, [layers.Dense(3, activation="softmax")(a), layers.Dense(1)(a)])
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"])
    targets = [y, x[:, :1]]
    before = model.test_on_batch(x, targets)
    assert before == pytest.approx(model.evaluate(x, targets, verbose=0), rel=1e-6)
    assert model.train_on_batch(x, targets) == pytest.approx(before, rel=1e-6)  # the loss before the update
    assert model.test_on_batch(x, targets) < before
