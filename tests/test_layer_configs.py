"""``get_config()`` of the 1-D, attention, masking and preprocessing layers equals Keras 3.15's for the same
arguments (tests/fixtures/keras_layer_configs.json, written by tests/fixtures/make_layer_configs.py), so a
config round-trips between the two."""
import importlib.util
import json
from pathlib import Path

import pytest

import gpuflow as tf

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KERAS = json.loads((FIXTURES / "keras_layer_configs.json").read_text())
_spec = importlib.util.spec_from_file_location("make_layer_configs", FIXTURES / "make_layer_configs.py")
maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(maker)
LAYERS = maker.layers(tf.keras.layers)


@pytest.mark.parametrize("key", sorted(LAYERS))
def test_config_equals_keras(key):
    ours = json.loads(json.dumps(LAYERS[key].get_config(), default=list))
    want = KERAS[key]
    assert sorted(ours) == sorted(want)
    assert {k: v for k, v in ours.items() if k != "name"} == {k: v for k, v in want.items() if k != "name"}
    cls = type(LAYERS[key])
    again = cls.from_config(want)  # Keras's config builds the gpuflow layer
    assert json.loads(json.dumps(again.get_config(), default=list)) == want
