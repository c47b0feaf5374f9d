"""Keras callbacks, metrics and layers under tf.distribute without processes: BackupAndRestore's arguments,
the chief-only callback rule, metrics summed over replicas (a fake two-rank world), synchronized
BatchNormalization with one replica. Training under strategies: test_distribute_keras.py, test_distribute_mpi.py."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow import keras
from gpuflow.distribute.collectives import LocalCollectives
from gpuflow.distribute.keras_hooks import reduced_metrics
from gpuflow.distribute.strategy import Strategy


def test_backup_and_restore_arguments():
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        keras.callbacks.BackupAndRestore("")
    for bad in ("batch", 0, 1.5):
        with pytest.raises(ValueError, match=f"Received: save_freq={bad}"):
            keras.callbacks.BackupAndRestore("d", save_freq=bad)


def test_backup_and_restore_needs_a_built_model(tmp_path):
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    cb = keras.callbacks.BackupAndRestore(tmp_path)
    cb.set_model(model)
    with pytest.raises(ValueError, match="must be built"):
        cb.on_train_begin()


class _FakeRank(LocalCollectives):
    """Rank ``rank`` of a world of two identical replicas: all_reduce doubles."""
    size = 2

    def __init__(self, rank=0):
        self.rank = rank

    def all_reduce(self, array, op="sum"):
        return array * 2 if op == "sum" else array


def test_only_the_chief_prints_and_writes(tmp_path):
    cbs = [keras.callbacks.CSVLogger(str(tmp_path / "log.csv")), keras.callbacks.History(),
           keras.callbacks.ModelCheckpoint(str(tmp_path / "m.weights.h5"), save_weights_only=True),
           keras.callbacks.BackupAndRestore(tmp_path / "backup")]
    for rank, expected in ((0, ["CSVLogger", "History", "ModelCheckpoint", "BackupAndRestore", "ProgbarLogger"]),
                           (1, ["History", "BackupAndRestore"])):
        with Strategy(_FakeRank(rank)).scope():
            got = keras.callbacks.CallbackList(cbs, add_progbar=True).callbacks
        assert [type(c).__name__ for c in got] == expected


def test_metrics_are_summed_over_replicas_and_restored():
    mean, auc = keras.metrics.Mean(), keras.metrics.AUC(num_thresholds=5)
    mean.update_state([1.0, 3.0])
    auc.update_state([0, 1, 1], [0.2, 0.7, 0.4])
    before = float(mean.result().numpy()), float(auc.result().numpy()), auc.tp.copy()
    with Strategy(_FakeRank()).scope():
        with reduced_metrics([mean, auc]):
            assert mean.total == 8.0 and mean.count == 4.0  # both replicas' sums
            np.testing.assert_array_equal(auc.tp, before[2] * 2)
            assert float(mean.result().numpy()) == before[0] and float(auc.result().numpy()) == before[1]
    assert mean.total == 4.0 and mean.count == 2.0
    np.testing.assert_array_equal(auc.tp, before[2])
    assert len(auc.thresholds) == 5  # configuration is not state


def test_synchronized_batch_normalization_with_one_replica_is_batch_normalization():
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    outs = []
    for synchronized in (False, True):
        layer = keras.layers.BatchNormalization(synchronized=synchronized)
        outs.append(layer(x, training=True).numpy())
        assert layer.get_config()["synchronized"] is synchronized
    np.testing.assert_array_equal(outs[0], outs[1])


def test_random_state_round_trips_through_json(monkeypatch):
    """What BackupAndRestore stores: NumPy's global generator and every backend's (Generator or RandomState)."""
    import json
    import types
    from gpuflow.device import _backends
    from gpuflow.distribute.keras_hooks import rng_state, set_rng_state
    keras.utils.set_random_seed(5)
    monkeypatch.setitem(_backends, "fake", types.SimpleNamespace(_rng=np.random.RandomState(1)))
    state = json.loads(json.dumps(rng_state()))

    def draws():
        return np.random.random(3), _backends["fake"]._rng.random_sample(3), tf.random.uniform((3,)).numpy()
    first = draws()
    set_rng_state(state)
    for a, b in zip(first, draws()):
        np.testing.assert_array_equal(a, b)
