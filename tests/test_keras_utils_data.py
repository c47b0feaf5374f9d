"""keras.utils.PyDataset, timeseries_dataset_from_array and image_dataset_from_directory (Keras 3's rules)."""
from pathlib import Path

import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras
FIXTURES = Path(__file__).resolve().parent / "fixtures"


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.seen, self.epochs_ended = [], 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        self.seen.append(index)
        sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[sl], self.y[sl]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_py_dataset_in_fit_evaluate_predict():
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 3)).astype("float32"), rng.random((10, 1)).astype("float32")
    data = Batches(x, y, 4, workers=1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(data, epochs=3, verbose=0, shuffle=True)
    assert data.epochs_ended == 3 and sorted(data.seen) == sorted([0, 1, 2] * 3) and data.num_batches == 3
    want = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert model.evaluate(data, verbose=0) == pytest.approx(want, rel=1e-5)
    data.seen.clear()
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert data.seen == [0, 1, 2]
    with pytest.raises(ValueError, match="workers"):
        Batches(x, y, 4, workers=0)


def test_timeseries_dataset_from_array_keras_examples():
    data = np.arange(100)
    ds = keras.utils.timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10, batch_size=16)
    inputs, targets = next(iter(ds.as_numpy_iterator()))
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == 10 and inputs.shape == (16, 10)
    assert sum(len(b[0]) for b in ds.as_numpy_iterator()) == 81  # 90 steps - 9
    ds = keras.utils.timeseries_dataset_from_array(data, None, sequence_length=5, sampling_rate=2,
                                                   sequence_stride=3, batch_size=None, start_index=4, end_index=30)
    windows = list(ds.as_numpy_iterator())
    np.testing.assert_array_equal(windows[0], [4, 6, 8, 10, 12])
    np.testing.assert_array_equal(windows[1], [7, 9, 11, 13, 15])
    assert windows[-1][-1] <= 29
    shuffled = keras.utils.timeseries_dataset_from_array(data, None, sequence_length=3, batch_size=200,
                                                         shuffle=True, seed=1)
    rows = next(iter(shuffled.as_numpy_iterator()))
    assert sorted(rows[:, 0].tolist()) == list(range(98)) and rows[:, 0].tolist() != list(range(98))
    with pytest.raises(ValueError, match="`end_index` must be lower than the length of the data"):
        keras.utils.timeseries_dataset_from_array(data, None, 3, end_index=100)
    with pytest.raises(ValueError, match="sequence_length"):
        keras.utils.timeseries_dataset_from_array(data, None, 0)


def test_resize_matches_tensorflow():
    from gpuflow.keras.utils.image_dataset import resize
    ref = np.load(FIXTURES / "tf_image_ops.npz")
    for key in ref.files:
        if key.startswith(("bilinear_", "nearest_")):
            method, size = key.split("_")
            got = resize(ref["image"], tuple(int(v) for v in size.split("x")), method)
            np.testing.assert_allclose(got, ref[key], atol=2e-4, err_msg=key)


def test_image_dataset_from_directory(tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="Pillow not installed (pip install 'gpuflow[images]')")
    for k, cls in enumerate(["cat", "dog", "emu"]):
        (tmp_path / cls).mkdir()
        for i in range(k + 2):
            Image.fromarray(np.full((6, 8, 3), 40 * k + i, np.uint8)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    ds = keras.utils.image_dataset_from_directory(tmp_path, image_size=(3, 4), batch_size=4, seed=3)
    assert ds.class_names == ["cat", "dog", "emu"]
    images, labels = zip(*ds.as_numpy_iterator())
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert images.shape == (9, 3, 4, 3) and images.dtype == np.float32 and labels.dtype == np.int32
    np.testing.assert_array_equal(np.sort(labels), [0, 0, 1, 1, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(images[:, 0, 0, 0] // 40, labels)  # each image carries its class's label
    train, val = keras.utils.image_dataset_from_directory(
        tmp_path, image_size=(3, 4), label_mode="categorical", color_mode="grayscale", validation_split=0.34,
        subset="both", seed=3, batch_size=None)
    assert len(train.file_paths) == 6 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    image, label = next(iter(val.as_numpy_iterator()))
    assert image.shape == (3, 4, 1) and label.shape == (3,) and label.sum() == 1
    with pytest.raises(ValueError, match="must provide a `seed`"):
        keras.utils.image_dataset_from_directory(tmp_path, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="exactly 2"):
        keras.utils.image_dataset_from_directory(tmp_path, label_mode="binary")
