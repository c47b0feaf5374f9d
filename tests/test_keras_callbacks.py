"""Callbacks follow Keras 3: EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, CSVLogger,
ModelCheckpoint, TerminateOnNaN, LambdaCallback, custom Callback hooks."""
import csv

import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras


def small_model(lr=0.01):
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return m


def data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


class Scripted(keras.callbacks.Callback):
    """Feeds a scripted val_loss into the logs, so stopping rules are tested exactly."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_early_stopping_patience_and_restore_best_weights(capsys):
    m = small_model()
    x, y = data()
    snapshots = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: saved.append(m.get_weights()))
    saved = []
    es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True, verbose=1)
    h = m.fit(x, y, epochs=10, verbose=0, callbacks=[Scripted([5, 3, 4, 4, 1, 0]), snapshots, es])
    assert len(h.history["loss"]) == 4  # best at epoch 2 (index 1), two worse epochs, stop
    assert es.stopped_epoch == 3 and es.best == 3 and es.best_epoch == 1
    for a, b in zip(m.get_weights(), saved[1]):
        np.testing.assert_array_equal(a, b)
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out and "best epoch: 2." in out


def test_early_stopping_mode_auto_for_accuracy_is_max():
    es = keras.callbacks.EarlyStopping(monitor="val_accuracy")
    assert es.mode == "max"
    with pytest.raises(ValueError, match="mode"):
        keras.callbacks.EarlyStopping(mode="up")


def test_reduce_lr_on_plateau():
    m = small_model(lr=0.1)
    x, y = data()
    cb = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=0.02)
    h = m.fit(x, y, epochs=5, verbose=0, callbacks=[Scripted([1, 1, 1, 1, 1]), cb])
    # Keras logs the rate each epoch ran with, then reduces it for the next one.
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.02])
    with pytest.raises(ValueError, match="factor"):
        keras.callbacks.ReduceLROnPlateau(factor=2.0)


def test_learning_rate_scheduler_one_and_two_arguments():
    m = small_model()
    x, y = data()
    h = m.fit(x, y, epochs=3, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    m.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: 0.003)])
    assert float(m.optimizer.learning_rate.numpy()) == pytest.approx(0.003)


def test_csv_logger(tmp_path):
    m = small_model()
    x, y = data()
    path = tmp_path / "log.csv"
    m.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[keras.callbacks.CSVLogger(path)])
    rows = list(csv.DictReader(open(path)))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert set(rows[0]) == {"epoch", "loss", "val_loss"}
    m.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[keras.callbacks.CSVLogger(path, append=True)])
    assert len(list(csv.DictReader(open(path)))) == 3


def test_model_checkpoint_weights_best_only_and_formatting(tmp_path):
    pytest.importorskip("h5py")
    m = small_model()
    x, y = data()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.1f}.weights.h5")
    cb = keras.callbacks.ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True, save_weights_only=True)
    m.fit(x, y, epochs=4, verbose=0, callbacks=[Scripted([3.0, 2.0, 2.5, 1.0]), cb])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt-01-3.0.weights.h5", "ckpt-02-2.0.weights.h5", "ckpt-04-1.0.weights.h5"]
    fresh = small_model()
    fresh.load_weights(str(tmp_path / "ckpt-04-1.0.weights.h5"))
    for a, b in zip(fresh.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_rejects_wrong_extension():
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        keras.callbacks.ModelCheckpoint("w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `\.keras` or `\.h5`. Received: filepath=m.pt"):
        keras.callbacks.ModelCheckpoint("m.pt")


def test_model_checkpoint_saves_whole_models_as_legacy_h5_too(tmp_path):
    pytest.importorskip("h5py")
    m = small_model()
    x, y = data()
    path = tmp_path / "ckpt-{epoch}.h5"  # Keras 3 accepts .keras and .h5 for whole models
    with pytest.warns(UserWarning, match="legacy"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(path)])
    loaded = keras.models.load_model(tmp_path / "ckpt-1.h5")
    for a, b in zip(loaded.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_best_only_without_the_monitor_warns_and_saves(tmp_path):
    pytest.importorskip("h5py")
    m = small_model()
    x, y = data()
    path = tmp_path / "best.weights.h5"
    cb = keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True, save_weights_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[cb])  # no validation data: no val_loss (as Keras: saved anyway)
    assert path.exists()


def test_model_checkpoint_names_a_format_field_missing_from_the_logs(tmp_path):
    m = small_model()
    x, y = data()
    cb = keras.callbacks.ModelCheckpoint(str(tmp_path / "{epoch}-{val_acc:.2f}.keras"))
    with pytest.raises(KeyError, match=r"Failed to format this callback filepath: .*\{val_acc:.2f\}.keras.* "
                                       r"Reason: .*val_acc"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[cb])


def test_terminate_on_nan_stops_and_names_the_batch(capsys):
    m = small_model(lr=1e30)
    x, y = data()
    with pytest.warns(RuntimeWarning, match="step"):
        h = m.fit(x * 1e20, y, epochs=5, batch_size=8, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 1
    assert "Invalid loss, terminating training" in capsys.readouterr().out


def test_custom_callback_sees_every_hook_in_order():
    calls = []

    class Recorder(keras.callbacks.Callback):
        def __getattribute__(self, name):
            if name.startswith("on_"):
                calls.append(name)
            return super().__getattribute__(name)
    m = small_model()
    x, y = data(16)
    m.fit(x, y, epochs=1, batch_size=8, verbose=0, validation_split=0.5, callbacks=[Recorder()])
    assert calls[0] == "on_train_begin" and calls[-1] == "on_train_end"
    assert calls.count("on_train_batch_end") == 1 and "on_epoch_end" in calls


def _read_events(folder):
    """Scalars from TFRecord event files (length, crc, Event proto, crc), parsed with tensorboardX's protos."""
    import os
    import struct
    from tensorboardX.proto import event_pb2
    out = {}
    for name in os.listdir(folder):
        data = open(os.path.join(folder, name), "rb").read()
        i = 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            ev = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4
            for v in ev.summary.value:
                out.setdefault(v.tag, []).append((ev.step, v.simple_value))
    return out


def test_tensorboard_writes_keras_scalar_layout(tmp_path):
    pytest.importorskip("tensorboardX")
    m = small_model()
    x, y = data()
    m.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25,
          callbacks=[keras.callbacks.TensorBoard(tmp_path, update_freq="batch")])
    train, val = _read_events(tmp_path / "train"), _read_events(tmp_path / "validation")
    assert [s for s, _ in train["epoch_loss"]] == [0, 1] and len(val["epoch_loss"]) == 2
    assert "epoch_learning_rate" in train and len(train["batch_loss"]) == 6  # 48 samples / 16, two epochs
    assert train["epoch_loss"][1][1] == pytest.approx(m.history.history["loss"][1], rel=1e-6)
    with pytest.raises(NotImplementedError):
        keras.callbacks.TensorBoard(tmp_path, histogram_freq=1)
