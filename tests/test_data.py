"""gpuflow.data.Dataset follows tf.data: element structure, batching, shuffling, cardinality,
and fit/evaluate/predict accept a Dataset or a generator."""
import numpy as np
import pytest

import gpuflow as tf

Dataset = tf.data.Dataset
keras = tf.keras


def test_from_tensor_slices_structures_and_iteration_types():
    x = np.arange(12, dtype="float32").reshape(6, 2)
    y = np.arange(6)
    ds = Dataset.from_tensor_slices((x, y))
    first = next(iter(ds))
    assert isinstance(first, tuple) and isinstance(first[0], tf.Tensor)
    np.testing.assert_array_equal(first[0].numpy(), x[0])
    items = list(ds.as_numpy_iterator())
    assert len(items) == 6 and isinstance(items[0][0], np.ndarray)
    d = list(Dataset.from_tensor_slices({"a": x, "b": y}).as_numpy_iterator())
    assert d[2]["b"] == 2
    assert Dataset.from_tensor_slices([1.0, 2.0]).as_numpy_iterator().__next__().dtype == np.float32
    with pytest.raises(ValueError, match="same size"):
        Dataset.from_tensor_slices((x, y[:5]))


def test_batch_and_cardinality():
    ds = Dataset.range(10)
    assert len(ds) == 10 and int(ds.cardinality()) == 10
    b = ds.batch(4)
    assert [list(a) for a in b.as_numpy_iterator()] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(b) == 3 and len(ds.batch(4, drop_remainder=True)) == 2
    assert int(ds.repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
    assert int(ds.filter(lambda v: v > 3).cardinality()) == tf.data.UNKNOWN_CARDINALITY
    assert len(ds.repeat(3)) == 30 and len(ds.take(4)) == 4 and len(ds.skip(7)) == 3
    assert list(ds.repeat().take(12).as_numpy_iterator())[10:] == [0, 1]
    with pytest.raises(TypeError, match="infinite"):
        len(ds.repeat())
    with pytest.raises(ValueError, match="batch_size"):
        ds.batch(0)


def test_map_unpacks_tuples_and_filter():
    ds = Dataset.from_tensor_slices((np.arange(5.0), np.arange(5))).map(lambda a, b: (a * 2, b + 1))
    assert [(float(a), int(b)) for a, b in ds.as_numpy_iterator()] == [(0, 1), (2, 2), (4, 3), (6, 4), (8, 5)]
    even = Dataset.range(10).filter(lambda v: tf.equal(v % 2, 0))
    assert list(even.as_numpy_iterator()) == [0, 2, 4, 6, 8]


def test_shuffle_is_a_permutation_seeded_and_reshuffled_each_epoch():
    ds = Dataset.range(50).shuffle(10, seed=3)
    a, b = list(ds.as_numpy_iterator()), list(ds.as_numpy_iterator())
    assert sorted(a) == list(range(50)) and a != list(range(50))
    assert a != b  # reshuffle_each_iteration=True
    fixed = Dataset.range(50).shuffle(10, seed=3, reshuffle_each_iteration=False)
    assert list(fixed.as_numpy_iterator()) == list(fixed.as_numpy_iterator())
    assert list(Dataset.range(50).shuffle(10, seed=3).as_numpy_iterator()) == a  # same seed, same first epoch
    # a buffer of 1 does not shuffle (TF's algorithm)
    assert list(Dataset.range(5).shuffle(1).as_numpy_iterator()) == [0, 1, 2, 3, 4]


def test_cache_runs_the_source_once_and_generators():
    calls = []

    def gen():
        for i in range(3):
            calls.append(i)
            yield np.float32(i), np.int64(i)
    ds = Dataset.from_generator(gen, output_signature=None).cache()
    assert len(list(ds.as_numpy_iterator())) == 3 and len(list(ds.as_numpy_iterator())) == 3
    assert calls == [0, 1, 2]
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(gen())
    z = Dataset.zip((Dataset.range(3), Dataset.range(10, 20)))
    assert list(z.as_numpy_iterator()) == [(0, 10), (1, 11), (2, 12)] and len(z) == 3
    assert Dataset.range(4).prefetch(tf.data.AUTOTUNE).as_numpy_iterator().__next__() == 0


def _model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    return m


def _xy(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def test_fit_on_a_dataset_equals_fit_on_arrays_without_shuffle():
    x, y = _xy()
    a, b = _model(), _model()
    ha = a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    hb = b.fit(Dataset.from_tensor_slices((x, y)).batch(16), epochs=2, verbose=0)
    assert hb.params["steps"] == 4
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    ds = Dataset.from_tensor_slices((x, y)).batch(16)
    assert b.evaluate(ds, verbose=0) == pytest.approx(b.evaluate(x, y, batch_size=16, verbose=0), rel=1e-6)
    np.testing.assert_allclose(b.predict(Dataset.from_tensor_slices(x).batch(10), verbose=0),
                               b.predict(x, verbose=0), rtol=1e-6)


def test_fit_with_generator_steps_and_dataset_validation():
    x, y = _xy()

    def batches():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]
    m = _model()
    h = m.fit(batches(), steps_per_epoch=4, epochs=3, verbose=0,
              validation_data=Dataset.from_tensor_slices((x, y)).batch(32))
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"] and len(h.history["loss"]) == 3
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_dataset_input_errors():
    x, y = _xy()
    m = _model()
    ds = Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="`y`"):
        m.fit(ds, y, verbose=0)
    with pytest.raises(ValueError, match="infinite"):
        m.fit(ds.repeat(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(ds, validation_split=0.2, verbose=0)
    m.fit(ds.repeat(), steps_per_epoch=3, epochs=1, verbose=0)
