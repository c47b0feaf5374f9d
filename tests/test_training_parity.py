"""gpuflow trains a Conv1D model, an Embedding(mask_zero=True)+LSTM model, a MultiHeadAttention model, a
Masking+GRU model and stacked Bidirectional layers on a masked Embedding as Keras 3 / TensorFlow 2.21 does: from
Keras's initial weights, the same loss per epoch and the same final weights. The Keras runs are recorded in
tests/fixtures/training_parity.npz by tests/fixtures/make_training_parity.py, whose ``build`` and ``data`` this
test runs with gpuflow; the trained models saved by Keras load and predict as Keras did."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import gpuflow as tf

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("make_training_parity", FIXTURES / "make_training_parity.py")
maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(maker)
REF = np.load(FIXTURES / "training_parity.npz")


@pytest.mark.parametrize("name", maker.MODELS)
def test_training_matches_keras(name):
    x, y = maker.data(name)
    np.testing.assert_array_equal(x, REF[f"{name}_x"])
    model = maker.build(tf.keras, name)
    n = len(model.get_weights())
    assert [w.shape for w in model.get_weights()] == [REF[f"{name}_w0_{i}"].shape for i in range(n)]
    model.set_weights([REF[f"{name}_w0_{i}"] for i in range(n)])
    history = model.fit(x, y, batch_size=len(x), epochs=maker.EPOCHS, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], REF[f"{name}_loss"], rtol=1e-5)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, REF[f"{name}_w1_{i}"], rtol=1e-5, atol=1e-6, err_msg=f"{name} weight {i}")


def test_loads_keras_multi_head_attention_weights_file():
    model = maker.build(tf.keras, "mha")
    model.load_weights(FIXTURES / "mha_trained.weights.h5")
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, REF[f"mha_w1_{i}"])


@pytest.mark.parametrize("name", maker.MODELS)
def test_loads_the_keras_file_of_the_trained_model(name):
    """Keras's saved configs of Conv1D (causal), MaxPooling1D, Embedding(mask_zero), LSTM, MultiHeadAttention (a
    node with use_causal_mask), LayerNormalization, Masking, GRU, Bidirectional, and the mask operations Keras
    records as nodes (NotEqual, Any): the loaded model predicts as Keras did."""
    model = tf.keras.models.load_model(FIXTURES / f"parity_{name}.keras")
    np.testing.assert_allclose(model.predict(REF[f"{name}_x"], verbose=0), REF[f"{name}_pred"], rtol=1e-5, atol=1e-6)
