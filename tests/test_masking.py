"""Keras masks: Embedding(mask_zero=True) and Masking attach them, layers pass them on, RNNs skip masked steps,
GlobalAveragePooling1D, losses and metrics leave masked steps out (Keras 3's rules)."""
import json
import zipfile
from pathlib import Path

import numpy as np

import gpuflow as tf
from gpuflow.keras.layers.mask_utils import get_keras_mask

layers = tf.keras.layers
IDS = np.array([[3, 1, 0, 0], [2, 0, 0, 0]])


def test_embedding_mask_zero_attaches_the_mask_and_dense_passes_it_on():
    emb = layers.Embedding(5, 3, mask_zero=True)
    h = emb(IDS)
    np.testing.assert_array_equal(get_keras_mask(h).numpy(), IDS != 0)
    assert emb.get_config()["mask_zero"] is True
    assert get_keras_mask(layers.Dense(2)(h)) is not None
    assert get_keras_mask(layers.Embedding(5, 3)(IDS)) is None


def test_lstm_skips_masked_steps():
    """The masked sequence gives what the unpadded one gives; masked steps repeat the last output."""
    emb = layers.Embedding(5, 3, mask_zero=True)
    lstm = layers.LSTM(4, return_sequences=True)
    seq = lstm(emb(IDS))
    np.testing.assert_array_equal(get_keras_mask(seq).numpy(), IDS != 0)
    short = lstm(emb(IDS[:1, :2])).numpy()
    # batch 2 against batch 1: BLAS may sum in another order for another shape (float32 rounding; |h| < 1)
    tol = dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(seq.numpy()[0, :2], short[0], **tol)
    np.testing.assert_allclose(seq.numpy()[0, 3], short[0, 1], **tol)
    last = layers.LSTM(4)
    last.build((None, 4, 3))
    last.set_weights(lstm.get_weights())
    out = last(emb(IDS))
    assert get_keras_mask(out) is None
    np.testing.assert_allclose(out.numpy()[0], short[0, 1], **tol)


def test_global_average_pooling_1d_averages_unmasked_steps():
    emb = layers.Embedding(5, 3, mask_zero=True)
    h = emb(IDS)
    pooled = layers.GlobalAveragePooling1D()(h).numpy()
    table = emb.get_weights()[0]
    np.testing.assert_allclose(pooled[0], table[[3, 1]].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(pooled[1], table[2], rtol=1e-6)


def test_masking_layer():
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]]], "float32")
    out = layers.Masking(mask_value=0.0)(x)
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), [[True, False, True]])
    np.testing.assert_array_equal(out.numpy(), x)
    y = layers.Masking(mask_value=1.0)(np.ones((1, 2, 2), "float32"))
    np.testing.assert_array_equal(y.numpy(), 0.0)


def test_loss_and_metric_leave_masked_steps_out():
    """A per-step model: the compiled loss and metric equal those over the unmasked steps only (Keras 3)."""
    model = tf.keras.Sequential([tf.keras.Input((4,), dtype="int32"), layers.Embedding(5, 3, mask_zero=True),
                                 layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    y = np.arange(8, dtype="float32").reshape(2, 4, 1)
    pred = model.predict(IDS, verbose=0)
    keep = IDS != 0
    want_mse = np.mean(((pred - y)[..., 0] ** 2)[keep])
    want_mae = np.mean(np.abs(pred - y)[..., 0][keep])
    logs = model.evaluate(IDS, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], want_mse, rtol=1e-5)
    np.testing.assert_allclose(logs["mae"], want_mae, rtol=1e-5)
    model.fit(IDS, y, epochs=1, verbose=0)  # trains through the mask


def test_custom_layers_pass_masks_as_keras():
    class ClassAttribute(layers.Layer):  # Keras 2 style
        supports_masking = True

        def call(self, x):
            return x * 2.0

    class WithComputeMask(layers.Layer):  # Keras 3: defining compute_mask means supporting masks
        def call(self, x):
            return x + 1.0

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else tf.logical_not(mask)

    class Plain(layers.Layer):
        def call(self, x):
            return x - 1.0

    h = layers.Embedding(5, 3, mask_zero=True)(IDS)
    np.testing.assert_array_equal(get_keras_mask(ClassAttribute()(h)).numpy(), IDS != 0)
    np.testing.assert_array_equal(get_keras_mask(WithComputeMask()(h)).numpy(), IDS == 0)
    assert get_keras_mask(Plain()(h)) is None


class TemporalSoftmax(layers.Layer):
    """The Keras masking guide's custom layer that needs its mask: here a softmax over the unmasked time steps."""

    def call(self, inputs, mask=None):
        broadcast_float_mask = tf.expand_dims(tf.cast(mask, "float32"), -1)
        inputs_exp = tf.exp(inputs) * broadcast_float_mask
        return inputs_exp / tf.reduce_sum(inputs_exp, axis=1, keepdims=True)


def test_functional_graph_computes_masks_and_builds_a_layer_that_needs_one():
    inputs = tf.keras.Input(shape=(None,), dtype="int32")
    emb = layers.Embedding(input_dim=5, output_dim=3, mask_zero=True)
    x = emb(inputs)
    assert get_keras_mask(x).shape == (None, None) and get_keras_mask(x).dtype == "bool"  # symbolic, as Keras 3
    assert get_keras_mask(layers.Dense(2)(x)).shape == (None, None)  # passed on by compute_mask
    model = tf.keras.Model(inputs, TemporalSoftmax()(x))
    e = np.exp(emb.get_weights()[0][IDS]) * (IDS != 0)[..., None]
    np.testing.assert_allclose(model(IDS).numpy(), e / e.sum(axis=1, keepdims=True), rtol=1e-6)
    assert get_keras_mask(layers.Embedding(5, 3)(inputs)) is None


def test_explicit_symbolic_mask_is_an_argument_of_the_node(tmp_path):
    ids, keep = tf.keras.Input((None,), dtype="int32"), tf.keras.Input((None,), dtype="bool")
    emb = layers.Embedding(5, 3, mask_zero=True)
    pooled = layers.GlobalAveragePooling1D()(emb(ids), mask=keep)  # wins over the Embedding's mask (Keras 3)
    model = tf.keras.Model([ids, keep], pooled)
    keep_value = np.array([[True, False, True, True], [True, True, False, False]])
    e = emb.get_weights()[0][IDS]
    expected = (e * keep_value[..., None]).sum(axis=1) / keep_value.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model([IDS, keep_value]).numpy(), expected, rtol=1e-6)
    node = json.loads(model.to_json())["config"]["layers"][-1]["inbound_nodes"][0]
    assert node["kwargs"]["mask"]["config"]["keras_history"][0] == keep.name  # Keras's node form
    model.save(tmp_path / "m.keras")
    loaded = tf.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded([IDS, keep_value]).numpy(), expected, rtol=1e-6)


def test_keras_mask_operation_nodes_are_kept_but_not_listed_as_layers(tmp_path):
    """Keras 3 writes Embedding(mask_zero)'s mask as a NotEqual node passed as the LSTM's `mask`: gpuflow keeps
    the node (and writes it back as Keras does) but, as Keras, does not list it in `model.layers`."""
    path = Path(__file__).parent / "fixtures" / "parity_masked_lstm.keras"
    model = tf.keras.models.load_model(path)
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Embedding", "LSTM", "GlobalAveragePooling1D",
                                                        "Dense"]
    model.save(tmp_path / "again.keras")
    with zipfile.ZipFile(tmp_path / "again.keras") as z:
        written = {l["class_name"]: l for l in json.loads(z.read("config.json"))["config"]["layers"]}
    assert written["NotEqual"]["module"] == "keras.src.ops.numpy"
    assert written["NotEqual"]["inbound_nodes"][0]["args"][1] == 0
    assert written["LSTM"]["inbound_nodes"][0]["kwargs"]["mask"]["config"]["keras_history"][0] == "not_equal"
    ids = np.array([[3, 1, 2, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(tf.keras.models.load_model(tmp_path / "again.keras")(ids).numpy(),
                               model(ids).numpy(), rtol=1e-6)
