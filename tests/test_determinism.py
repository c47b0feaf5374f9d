"""A seed reproduces whatever the thread count: the NumPy backend's batch chunks, the order their partial
gradients are summed in and the arithmetic inside each chunk do not depend on ``GPUFLOW_NUM_THREADS``."""
import numpy as np
import pytest

import gpuflow as tf
import gpuflow.backend.numpy_backend as nb
from gpuflow.ops import rnn_ops

keras = tf.keras
layers = keras.layers


def _cnn():
    return [
        keras.Input((9, 9, 2)),
        layers.Conv2D(4, 3, activation="relu"),  # 7x7: the pooling's floor leaves the last row and column
        layers.MaxPooling2D(2),
        layers.Conv2D(5, 2, padding="same"),
        layers.AveragePooling2D(2),
        layers.Flatten(),
        layers.Dense(8, activation="relu"),
        layers.Dense(3),
    ]


def _train(steps=3, build=_cnn):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(build())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((13,) + tuple(model.input_shape[1:])).astype("float32")
    y = rng.integers(0, 3, 13)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for _ in range(steps):
        model.train_on_batch(x, y)
    return model.get_weights()


@pytest.mark.parametrize("fusion", [True, False])
def test_weights_are_byte_identical_for_any_thread_count(monkeypatch, fusion):
    # Small chunks, so that even this tiny model's batch (13, odd) splits into several in every primitive.
    monkeypatch.setattr(nb, "_CHUNK_WORK", 50)
    monkeypatch.setattr(nb, "_block", lambda sample_bytes: 4)
    chunks = []
    bounds = nb._chunk_bounds
    monkeypatch.setattr(nb, "_chunk_bounds", lambda *a, **k: chunks.append(len(bounds(*a, **k)) - 1) or bounds(*a, **k))
    if not fusion:
        monkeypatch.setenv("GPUFLOW_FUSION", "0")
    runs = {}
    for threads in (1, 2, 3):
        monkeypatch.setattr(nb, "_THREADS", threads)
        runs[threads] = _train()
    keras.utils.set_random_seed(0)
    initial = [np.asarray(w) for w in _train(steps=0)]
    assert any(not np.array_equal(a, b) for a, b in zip(runs[1], initial))  # it trained
    assert chunks and min(chunks) > 1, chunks  # in chunks, every time
    for threads in (2, 3):
        for i, (a, b) in enumerate(zip(runs[threads], runs[1])):
            assert a.tobytes() == b.tobytes(), \
                f"weight {i}: {threads} threads vs 1 differ by up to {np.max(np.abs(a - b)):.3g}"


def test_growing_the_thread_pool_leaves_the_old_pool_usable(monkeypatch):
    """Another thread may be about to submit to the pool it read a moment before: growing the pool must not
    shut that one down (a submit to a shut-down executor raises RuntimeError)."""
    monkeypatch.setattr(nb, "_pool", None)
    monkeypatch.setattr(nb, "_pool_workers", 0)
    monkeypatch.setattr(nb, "_THREADS", 2)
    assert nb._batch_parallel(lambda a, b: b - a, 8, per_chunk=2) == [2, 2, 2, 2]
    old = nb._pool
    monkeypatch.setattr(nb, "_THREADS", 4)
    assert nb._batch_parallel(lambda a, b: b - a, 8, per_chunk=2) == [2, 2, 2, 2]
    assert nb._pool is not old and nb._pool_workers == 3
    assert old.submit(lambda: 7).result() == 7


def test_lstm_weights_are_byte_identical_for_any_thread_count(monkeypatch):
    """The fused recurrent op runs the batch in chunks of rows, one recurrence per thread."""
    monkeypatch.setattr(rnn_ops, "_ROWS", 4)  # batch 13: 4 chunks
    monkeypatch.setattr(nb, "_CHUNK_WORK", 50)
    chunks = []
    bounds = nb._chunk_bounds
    monkeypatch.setattr(nb, "_chunk_bounds", lambda n, work=0, per_chunk=None: chunks.append((n, per_chunk)) or
                        bounds(n, work, per_chunk))
    runs = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(nb, "_THREADS", threads)
        runs.append(_train(build=lambda: [keras.Input((5, 3)), layers.LSTM(6), layers.Dense(3)]))
    assert chunks.count((13, 4)) == 2 * 3 * 3  # forward and backward, 3 steps, 3 runs
    for run in runs[1:]:
        assert [w.tobytes() for w in run] == [w.tobytes() for w in runs[0]]


@pytest.mark.parametrize("k, chunk_work, chunks", [(3, 10, (9, 8)), (130, 2000, (130, 2))])
def test_dense_kernel_gradient_in_chunks_of_the_batch_or_of_its_rows(monkeypatch, k, chunk_work, chunks):
    """dense_bwd's kernel gradient: in chunks of its rows (k = 130: 2 chunks of 65) or, when those would have
    fewer than _MIN_ROWS rows (k = 3), of the batch (9 rows: 8 chunks) with the partials summed in order."""
    monkeypatch.setattr(nb, "_CHUNK_WORK", chunk_work)
    rng = np.random.default_rng(0)
    x, dy, w = rng.standard_normal((9, k)), rng.standard_normal((9, 4)), rng.standard_normal((k, 4))
    calls = []
    bounds = nb._chunk_bounds
    monkeypatch.setattr(nb, "_chunk_bounds", lambda n, *a, **kw: calls.append((n, len(bounds(n, *a, **kw)) - 1)) or
                        bounds(n, *a, **kw))
    _, dw, db = nb.NumpyBackend().dense_bwd(dy, x, w, need_dx=False)
    np.testing.assert_allclose(dw, x.T @ dy, rtol=1e-12)
    np.testing.assert_allclose(db, dy.sum(0), rtol=1e-12)
    assert calls[-1] == chunks, calls  # the kernel gradient's chunks
