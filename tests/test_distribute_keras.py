"""Keras under tf.distribute in one process: MirroredStrategy with one replica is training without a strategy;
a model runs its loops in the strategy it was created in; BackupAndRestore (Keras 3's callback) resumes an
interrupted fit to the uninterrupted weights."""
import json

import numpy as np
import pytest

import gpuflow as tf
from gpuflow import keras

import distribute_worker as cases


def test_mirrored_strategy_with_one_cpu_replica_equals_no_strategy():
    with_strategy = cases.cnn_case(tf.distribute.MirroredStrategy(devices=["/cpu:0"]))
    without = cases.cnn_case(None)
    assert set(with_strategy) == set(without)
    for k in without:
        np.testing.assert_array_equal(with_strategy[k], without[k], err_msg=k)


def test_model_remembers_the_strategy_of_its_creation():
    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert model.distribute_strategy is strategy
    seen = []
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(on_train_begin=lambda *logs: seen.append(
                  tf.distribute.get_strategy()))])
    assert seen == [strategy]


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise RuntimeError("interrupted")


@pytest.mark.parametrize("save_freq, meta", [("epoch", {"epoch": 1, "batch": 0, "steps_done": 0}),
                                             (2, {"epoch": 1, "batch": 1, "steps_done": 2})])
def test_backup_and_restore_resumes_to_the_uninterrupted_weights(tmp_path, save_freq, meta):
    """Interrupted at epoch 1, batch 3 (shuffled data, dropout, Adam), then the same fit again."""
    uninterrupted = cases.backup_case(None, tmp_path / "a")
    assert not (tmp_path / "a").exists()  # delete_checkpoint=True

    def run(callbacks):
        keras.utils.set_random_seed(4)
        x, y = cases._images(48)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                                  keras.layers.Flatten(), keras.layers.Dropout(0.3), keras.layers.Dense(4)])
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=8, epochs=3, shuffle=True, verbose=0, callbacks=callbacks)
        return cases._weights(model)
    backup = keras.callbacks.BackupAndRestore(tmp_path / "b", save_freq=save_freq)
    with pytest.raises(RuntimeError, match="interrupted"):
        run([backup, _Interrupt(1, 3)])
    saved = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert {k: saved[k] for k in meta} == meta
    resumed = run([keras.callbacks.BackupAndRestore(tmp_path / "b", save_freq=save_freq)])
    for k in uninterrupted:
        np.testing.assert_allclose(resumed[k], uninterrupted[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_backup_and_restore_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    x, y = cases._images(16)

    def fit(epochs, **kwargs):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        seen = []
        log = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: seen.append(epoch))
        backup = keras.callbacks.BackupAndRestore(tmp_path, double_checkpoint=True, **kwargs)
        model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=[backup, log])
        return seen
    assert fit(2, delete_checkpoint=False) == [0, 1]
    assert (tmp_path / "latest.weights.h5.bkp").exists() and (tmp_path / "training_metadata.json.bkp").exists()
    (tmp_path / "latest.weights.h5").write_bytes(b"not HDF5")  # a backup cut short
    assert fit(3) == [1, 2]  # resumed from the previous backup (after epoch 0)
    assert not tmp_path.exists()
