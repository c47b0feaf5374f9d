"""The layers added for Keras breadth against files written by Keras 3.15.1 (tests/fixtures/make_breadth_layers.py):
their get_config() equals Keras's for the same arguments and Keras's config builds them back; a functional model
holding most of them, saved by Keras as .keras and as legacy .h5, loads in gpuflow and predicts what Keras
predicted; and gpuflow's own save of it reloads to the same predictions."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import gpuflow as tf

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KERAS = json.loads((FIXTURES / "keras_breadth_layer_configs.json").read_text())
_spec = importlib.util.spec_from_file_location("make_breadth_layers", FIXTURES / "make_breadth_layers.py")
maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(maker)
LAYERS = maker.layers(tf.keras.layers)


def _plain(config):
    return json.loads(json.dumps(config, default=list))


@pytest.mark.parametrize("key", sorted(LAYERS))
def test_config_equals_keras(key):
    ours, want = _plain(LAYERS[key].get_config()), KERAS[key]
    assert sorted(ours) == sorted(want)
    assert {k: v for k, v in ours.items() if k != "name"} == {k: v for k, v in want.items() if k != "name"}
    again = type(LAYERS[key]).from_config(want)  # Keras's config builds the gpuflow layer
    assert _plain(again.get_config()) == want


@pytest.mark.parametrize("filename", ["breadth_layers.keras", "breadth_layers.h5"])
def test_keras_written_model_loads_and_predicts_the_same(filename, tmp_path):
    data = np.load(FIXTURES / "breadth_layers.npz")
    inputs = [data[f"x{i}"] for i in range(4)]
    model = tf.keras.models.load_model(FIXTURES / filename, compile=False)
    outputs = model.predict(inputs, verbose=0)
    for i, out in enumerate(outputs):
        np.testing.assert_allclose(out, data[f"y{i}"], rtol=1e-4, atol=1e-5)
    names = {type(layer).__name__ for layer in model.layers}
    assert {"RNN", "EinsumDense", "Conv3DTranspose", "AdditiveAttention", "GroupNormalization", "Discretization",
            "CategoryEncoding"} <= names
    model.save(tmp_path / "again.keras")
    again = tf.keras.models.load_model(tmp_path / "again.keras", compile=False)
    for a, b in zip(again.predict(inputs, verbose=0), outputs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_keras_written_adapted_lookups_load_their_vocabulary_assets(tmp_path):
    """Keras keeps an adapted vocabulary in the archive's assets/<layer path>/vocabulary.txt: gpuflow reads it (after
    the tf_idf weights) and writes it back in the same place."""
    data = np.load(FIXTURES / "breadth_lookup.npz")
    model = tf.keras.models.load_model(FIXTURES / "breadth_lookup.keras", compile=False)
    lookup = model.get_layer("lookup")
    assert lookup.get_vocabulary() == [-1, 5, 3, 9, 7, 1]  # by count, ties by the larger id (Keras's file)
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "again.keras")
    import zipfile
    with zipfile.ZipFile(tmp_path / "again.keras") as z:
        assert z.read("assets/layers/integer_lookup/vocabulary.txt") == b"-1\n5\n3\n9\n7\n1"
    again = tf.keras.models.load_model(tmp_path / "again.keras", compile=False)
    np.testing.assert_allclose(again.predict(data["x"], verbose=0), data["y"], rtol=1e-5, atol=1e-6)
