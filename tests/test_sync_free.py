"""A training step on the CUDA backend (here its emulator) makes no host contact: fit, evaluate and predict
bring values to the host once per epoch (verbose 0/2), when a callback asks, or when the live bar redraws; label
checks and the NaN-loss report are made on the device and reported at the next host contact, naming the step.
The counts are gpuflow.profiler's host contacts (emulator-verified; nothing here has run on a GPU)."""
import warnings

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.device import probe_emulator
from gpuflow.zoo import build_seed_cnn

keras = tf.keras
ok, why = probe_emulator()
pytestmark = pytest.mark.skipif(not ok, reason=f"emulator unavailable: {why}")


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, n)


def _model(device, **compile_kwargs):
    rng = np.random.default_rng(1)
    with tf.device(device):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)])
        model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
        model.compile(optimizer=keras.optimizers.Adam(0.01, clipnorm=0.5), metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), **compile_kwargs)
    return model


def _contacts(fn):
    with tf.profiler.profile() as prof:
        out = fn()
    return out, prof.host_contacts()


def test_seed_cnn_fit_epoch_makes_no_device_to_host_copy_per_step():
    x = np.random.default_rng(0).random((6, 28, 28, 1), dtype=np.float32)
    y = np.array([0, 3, 9, 1, 2, 3])
    with tf.device("emulator"):
        model = build_seed_cnn(keras)
        model.compile(optimizer="adam", metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history, hc = _contacts(lambda: model.fit(x, y, batch_size=2, epochs=1, verbose=2))
    # 3 steps: one copy for the epoch's logs (and the deferred checks), no synchronization
    assert hc["d2h"]["count"] == 1 and hc["sync"]["count"] == 0, hc
    assert np.isfinite(history.history["loss"][0])


def test_host_contacts_per_epoch_do_not_grow_with_the_steps():
    counts = []
    for n in (4, 12):
        x, y = _data(n)
        model = _model("emulator")
        with tf.device("emulator"):
            _, hc = _contacts(lambda: model.fit(x, y, batch_size=2, epochs=2, verbose=0,
                                                validation_data=(x, y)))
        counts.append((hc["d2h"]["count"], hc["sync"]["count"]))
    assert counts[0] == counts[1] == (4, 0)  # per epoch: the training logs and the validation logs


def test_emulator_training_follows_the_cpu():
    x, y = _data(12)
    logs = {}
    for device in ("cpu", "emulator"):
        model = _model(device)
        with tf.device(device):
            h = model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
            logs[device] = (h.history, model.evaluate(x, y, verbose=0), model.predict(x, verbose=0),
                            model.optimizer.iterations.numpy())
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(logs["emulator"][0][key], logs["cpu"][0][key], rtol=1e-5)
    np.testing.assert_allclose(logs["emulator"][1], logs["cpu"][1], rtol=1e-5)
    np.testing.assert_allclose(logs["emulator"][2], logs["cpu"][2], rtol=1e-5, atol=1e-6)
    assert logs["emulator"][3] == logs["cpu"][3] == 6


def test_evaluate_and_predict_copy_once():
    x, y = _data(10)
    model = _model("emulator")
    with tf.device("emulator"):
        _, hc = _contacts(lambda: model.evaluate(x, y, batch_size=2, verbose=0))
        assert hc["d2h"]["count"] == 1
        out, hc = _contacts(lambda: model.predict(x, batch_size=2, verbose=0))
        assert hc["d2h"] == {"count": 1, "bytes": out.nbytes} and out.shape == (10, 3)


def test_a_callback_with_batch_hooks_gets_values_once_per_execution():
    x, y = _data(12)
    model = _model("emulator", steps_per_execution=2)
    seen = []

    class Batches(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_train_batch_end(self, batch, logs=None):
            seen.append(("end", batch, sorted(logs)))

    with tf.device("emulator"):
        _, hc = _contacts(lambda: model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[Batches()]))
    assert [s[:2] for s in seen] == [("begin", 0), ("end", 1), ("begin", 2), ("end", 3), ("begin", 4), ("end", 5)]
    assert seen[1][2] == ["accuracy", "loss"]
    assert hc["d2h"]["count"] == 3  # one per execution; the epoch reuses the last
    assert model.optimizer.iterations.numpy() == 6


def test_the_live_bar_asks_for_values_only_when_it_redraws(monkeypatch, capsys):
    monkeypatch.setattr(keras.callbacks.ProgbarLogger, "LIVE_INTERVAL", 1e9)
    x, y = _data(12)
    model = _model("emulator")
    with tf.device("emulator"):
        _, hc = _contacts(lambda: model.fit(x, y, batch_size=2, epochs=1, verbose=1))
    assert hc["d2h"]["count"] == 2  # the first step and the last
    assert "6/6" in capsys.readouterr().out


def test_a_label_out_of_range_is_reported_at_the_next_host_contact_naming_the_step():
    x, y = _data(8)
    y[5] = 7  # batch 2 (step 3) of 4
    model = _model("emulator")
    with tf.device("emulator"), pytest.raises(ValueError, match=r"label value of 7 which is outside the valid "
                                                                r"range of \[0, 3\).*epoch 1, step 3 \(batch 2\)"):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)


def test_eager_label_checks_stay_immediate_outside_the_loops():
    with tf.device("emulator"), pytest.raises(ValueError, match="label value of 3 which is outside"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant([0, 3]), tf.zeros((2, 3)))


def test_a_nan_loss_is_reported_naming_the_step_where_it_appeared():
    x, y = _data(8)
    x[4] = np.inf  # batch 2 (step 3)
    model = _model("emulator")
    with tf.device("emulator"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
    nan = [str(w.message) for w in caught if "the loss became" in str(w.message)]
    assert len(nan) == 1 and "at epoch 1, step 3 (batch 2)" in nan[0] and "next host contact" in nan[0], nan


def test_kernels_compile_when_the_model_is_compiled_not_in_the_first_step(monkeypatch):
    from gpuflow.backend.kernels import KernelSet, emulator_loader
    loaded = []
    model = _model("emulator")  # built (keras.Input), compiled on the emulator
    be = model.weights[0].backend
    monkeypatch.setattr(be, "kernels", KernelSet(lambda code, name: (loaded.append(name), emulator_loader(code, name))[1]))
    with tf.device("emulator"):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        assert sorted(loaded) == ["conv2d.cu", "dense.cu", "pool2d.cu"]
        model.fit(*_data(4), batch_size=2, verbose=0)
    assert len(loaded) == 3  # nothing compiled inside the steps


def test_info_names_the_kernel_caches(monkeypatch, tmp_path):
    from gpuflow.backend.cupy_backend import kernel_cache_line
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    assert f"GPU (CuPy) {tmp_path};" in kernel_cache_line()
    monkeypatch.setenv("CUPY_CACHE_IN_MEMORY", "1")
    assert "in memory" in kernel_cache_line()


def test_a_step_that_raises_drops_the_checks_deferred_before_it():
    x, y = _data(6)
    y[0] = 9  # step 1: deferred
    model = _model("emulator")

    class Boom(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                raise RuntimeError("boom")

    with tf.device("emulator"):
        with pytest.raises(RuntimeError, match="boom"):
            model.fit(x, y, batch_size=2, verbose=0, shuffle=False, callbacks=[Boom()])
        assert model.evaluate(x[2:], y[2:], verbose=0)  # no stale label error from the fit


def test_batch_normalization_and_dropout_steps_stay_on_the_device():
    x, y = _data(16)
    counts = []
    for n in (4, 16):
        with tf.device("emulator"):
            layers = keras.layers
            model = keras.Sequential([keras.Input((4,)), layers.Dense(6), layers.BatchNormalization(),
                                      layers.Activation("relu"), layers.Dropout(0.3), layers.Dense(3)])
            model.compile(optimizer=keras.optimizers.RMSprop(momentum=0.5, global_clipnorm=1.0),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
            _, hc = _contacts(lambda: model.fit(x[:n], y[:n], batch_size=2, verbose=0))
        counts.append(hc["d2h"]["count"])
    assert counts == [1, 1]


def _sequence_model(case):
    layers = keras.layers
    if case == "lstm":
        body = [keras.Input((5, 3)), layers.LSTM(4)]
    elif case == "masked_gru":
        body = [keras.Input((5, 3)), layers.Masking(), layers.GRU(4, go_backwards=True)]
    elif case == "embedding":  # the unfused recurrence (recurrent dropout), its mask, a Bidirectional
        body = [keras.Input((5,)), layers.Embedding(10, 4, mask_zero=True),
                layers.Bidirectional(layers.SimpleRNN(3, recurrent_dropout=0.2, return_sequences=True)),
                layers.GlobalAveragePooling1D()]
    else:  # stateful: the states kept between batches on the device
        body = [keras.Input((5, 3), batch_size=2), layers.GRU(4, stateful=True)]
    model = keras.Sequential(body + [layers.Dense(3)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _sequences(case, n):
    rng = np.random.default_rng(2)
    if case == "embedding":
        x = rng.integers(1, 10, (n, 5)).astype("float32")  # a model's inputs arrive as its float dtype
        x[:, 3:] = 0
    else:
        x = rng.normal(size=(n, 5, 3)).astype("float32")
        x[::2, 4:] = 0  # masked last step where the model masks
    return x, rng.integers(0, 3, n)


@pytest.mark.parametrize("case", ["lstm", "masked_gru", "embedding", "stateful"])
def test_recurrent_and_embedding_steps_stay_on_the_device(case):
    counts = []
    for n in (4, 8):
        with tf.device("emulator"):
            model = _sequence_model(case)
            _, hc = _contacts(lambda: model.fit(*_sequences(case, n), batch_size=2, verbose=0, shuffle=False))
        counts.append(hc["d2h"]["count"])
    assert counts == [1, 1]  # the epoch's logs only, at 2 steps as at 4


def test_the_gradient_of_a_gather_stays_on_the_device():
    x, y = np.random.default_rng(4).normal(size=(8, 4, 4, 1)).astype("float32"), np.arange(8) % 3
    counts, weights = [], {}
    for device, n in (("emulator", 4), ("emulator", 8), ("cpu", 8)):
        with tf.device(device):
            layers = keras.layers  # bilinear upsampling: four gathers along an axis, their gradients scatter-adds
            model = keras.Sequential([keras.Input((4, 4, 1)), layers.Conv2D(2, 3, padding="same"),
                                      layers.UpSampling2D(interpolation="bilinear"), layers.Flatten(),
                                      layers.Dense(3)])
            model.set_weights([np.full(w.shape, 0.1, "float32") for w in model.get_weights()])
            model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            _, hc = _contacts(lambda: model.fit(x[:n], y[:n], batch_size=2, verbose=0, shuffle=False))
        counts.append(hc["d2h"]["count"])
        weights[device] = model.get_weights()
    assert counts[:2] == [1, 1]
    for a, b in zip(weights["emulator"], weights["cpu"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_evaluate_and_predict_of_an_embedding_copy_a_constant_number_of_times():
    counts = []
    for n in (4, 8):
        x, y = _sequences("embedding", n)
        with tf.device("emulator"):
            model = _sequence_model("embedding")
            _, ev = _contacts(lambda: model.evaluate(x, y, batch_size=2, verbose=0))
            _, pr = _contacts(lambda: model.predict(x, batch_size=2, verbose=0))
        counts.append((ev["d2h"]["count"], pr["d2h"]["count"]))
    assert counts == [(1, 2), (1, 2)]  # predict: the deferred index checks, then the outputs
    x[5, 2] = 10  # batch 2 (step 3)
    with tf.device("emulator"), pytest.raises(IndexError, match=r"an index 10 .*predict, step 3 \(batch 2\)"):
        model.predict(x, batch_size=2, verbose=0)


def test_an_embedding_index_out_of_range_is_reported_at_the_next_host_contact_naming_the_step():
    x, y = _sequences("embedding", 8)
    x[5, 1] = 12  # batch 2 (step 3) of 4
    with tf.device("emulator"):
        model = _sequence_model("embedding")
        with pytest.raises(IndexError, match=r"Embedding 'embedding.*indices must be in \[0, 10\).*an index 12 .*"
                                             r"epoch 1, step 3 \(batch 2\)"):
            model.fit(x, y, batch_size=2, verbose=0, shuffle=False)
        x[5, 1] = 1.5
        with pytest.raises(ValueError, match=r"non-integer value 1.5 .*epoch 1, step 3 \(batch 2\)"):
            model.fit(x, y, batch_size=2, verbose=0, shuffle=False)
        # outside a loop: raised by the call itself, as on the CPU
        with pytest.raises(IndexError, match=r"gather: indices must be in \[0, 3\). Received: an index -1$"):
            tf.gather(tf.constant([1.0, 2.0, 3.0]), tf.constant([0, -1, 5]))


def test_a_learning_rate_schedule_is_evaluated_on_the_device_with_the_host_values():
    sched = keras.optimizers.schedules
    for schedule in (sched.ExponentialDecay(0.05, 2, 0.5, staircase=True),
                     sched.PiecewiseConstantDecay([2], [0.1, 0.01]),
                     sched.CosineDecay(0.0, 4, warmup_target=0.1, warmup_steps=2)):
        counts, weights = [], {}
        for device, n in (("emulator", 4), ("emulator", 8), ("cpu", 8)):
            x, y = _data(n)
            model = _model(device)
            with tf.device(device):
                model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.5),
                              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
                _, hc = _contacts(lambda: model.fit(x, y, batch_size=2, verbose=0, shuffle=False))
                lr = float(model.optimizer.learning_rate.numpy())
            counts.append(hc["d2h"]["count"])
            weights[device] = (model.get_weights(), lr)
        assert counts[:2] == [1, 1], (schedule, counts)
        assert weights["emulator"][1] == weights["cpu"][1] == np.float32(schedule(4))
        for a, b in zip(weights["emulator"][0], weights["cpu"][0]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_loss_scaling_skips_and_grows_on_the_device_as_on_the_cpu():
    steps = [1.0, np.inf, 2.0, np.nan, 0.5, 1.5, -1.0]  # finite, skipped, ..., grown after 2 finite steps
    seen = {}
    for device in ("cpu", "emulator"):
        with tf.device(device):
            opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.1), initial_scale=8.0,
                                                      dynamic_growth_steps=2)
            w, b = tf.Variable([1.0, -2.0]), tf.Variable([0.5])
            trace, copies = [], 0
            for s in steps:
                grads = [tf.constant([s, 2 * s]) * 8.0, tf.constant([-s])]
                with tf.profiler.profile() as prof:
                    opt.apply_gradients(zip(grads, [w, b]))
                copies += prof.host_contacts()["d2h"]["count"]
                trace.append([np.array(t.numpy()) for t in (opt.dynamic_scale, opt.step_counter, opt.iterations, w,
                                                             b, opt.inner_optimizer.get_slot(w, "velocity"))])
        seen[device] = trace, copies
    assert seen["emulator"][1] == 0  # no copy in the 7 steps
    assert [float(row[0]) for row in seen["cpu"][0]] == [8, 4, 4, 2, 2, 4, 4]
    assert [int(row[2]) for row in seen["cpu"][0]] == [1, 1, 2, 2, 3, 4, 5]
    for cpu, emu in zip(seen["cpu"][0], seen["emulator"][0]):
        for a, b in zip(cpu, emu):
            np.testing.assert_allclose(b, a, rtol=1e-6)


def test_precision_recall_and_auc_count_on_the_device():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 2, (8, 1)).astype("float32")
    counts, logs = [], {}
    for device, n in (("emulator", 4), ("emulator", 8), ("cpu", 8)):
        with tf.device(device):
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
            model.set_weights([np.full((4, 1), 0.3, "float32"), np.zeros(1, "float32")])
            model.compile(optimizer="sgd", loss="binary_crossentropy",
                          metrics=[keras.metrics.Precision(), keras.metrics.Recall(thresholds=0.6),
                                   keras.metrics.AUC(num_thresholds=20), keras.metrics.AUC(curve="PR", name="pr")])
            h, hc = _contacts(lambda: model.fit(x[:n], y[:n], batch_size=2, verbose=0, shuffle=False,
                                                sample_weight=np.linspace(0.5, 1.5, n)))
        counts.append(hc["d2h"]["count"])
        logs[device] = h.history
    assert counts[:2] == [1, 1]
    for key in ("precision", "recall", "auc", "pr"):
        np.testing.assert_allclose(logs["emulator"][key], logs["cpu"][key], rtol=1e-6)
