"""MultiHeadAttention and Attention: Keras's weight layout, values against a NumPy transcription of the
attention formula, masks (Keras masks, attention_mask, use_causal_mask) and the functional round trip."""
import json

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.keras.layers.mask_utils import get_keras_mask

layers = tf.keras.layers


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _mha_reference(layer, q, v, mask=None):
    """softmax(Q K^T / sqrt(key_dim)) V per head, then the output projection (Vaswani et al., 2017)."""
    wq, bq, wk, bk, wv, bv, wo, bo = layer.get_weights()
    Q = np.einsum("btd,dnh->bnth", q, wq) + bq.transpose(0, 1)[None, :, None, :]
    K = np.einsum("bsd,dnh->bnsh", v, wk) + bk[None, :, None, :]
    V = np.einsum("bsd,dnh->bnsh", v, wv) + bv[None, :, None, :]
    s = np.einsum("bnth,bnsh->bnts", Q, K) / np.sqrt(wq.shape[-1])
    if mask is not None:
        s = np.where(mask[:, None], s, -1e9)
    out = np.einsum("bnts,bnsh->btnh", _softmax(s), V)
    return np.einsum("btnh,nhe->bte", out, wo) + bo


def test_mha_weights_as_keras_and_values(device):
    rng = np.random.default_rng(0)
    q, v = rng.standard_normal((2, 5, 4)).astype("float32"), rng.standard_normal((2, 6, 7)).astype("float32")
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=3)
    out, scores = layer(q, v, return_attention_scores=True)
    assert [tuple(w.shape) for w in layer.weights] == [(4, 2, 3), (2, 3), (7, 2, 3), (2, 3), (7, 2, 3), (2, 3),
                                                        (2, 3, 4), (4,)]
    assert [w.path for w in layer.weights][::2] == [f"{layer.name}/{n}/kernel" for n in
                                                   ("query", "key", "value", "attention_output")]
    assert out.shape == (2, 5, 4) and scores.shape == (2, 2, 5, 6)
    np.testing.assert_allclose(out.numpy(), _mha_reference(layer, q, v), rtol=1e-4, atol=1e-5)
    causal = np.tril(np.ones((5, 6), bool))[None].repeat(2, 0)
    np.testing.assert_allclose(layer(q, v, use_causal_mask=True).numpy(), _mha_reference(layer, q, v, causal),
                               rtol=1e-4, atol=1e-5)
    am = rng.random((2, 5, 6)) > 0.3
    am[:, :, 0] = True
    np.testing.assert_allclose(layer(q, v, attention_mask=am).numpy(), _mha_reference(layer, q, v, am),
                               rtol=1e-4, atol=1e-5)


def test_mha_config_and_gradients():
    layer = layers.MultiHeadAttention(2, 4, dropout=0.1, output_shape=6, seed=1)
    config = layer.get_config()
    for k, want in (("num_heads", 2), ("key_dim", 4), ("value_dim", 4), ("output_shape", (6,)), ("dropout", 0.1)):
        assert config[k] == want
    again = layers.MultiHeadAttention.from_config(config)
    x = tf.constant(np.random.default_rng(1).standard_normal((2, 3, 5)).astype("float32"))
    assert again(x, x).shape == (2, 3, 6)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(x, x, training=True) ** 2)
    grads = tape.gradient(y, layer.trainable_weights)
    assert len(grads) == 8 and all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)
    with pytest.raises(ValueError, match="num_heads"):
        layers.MultiHeadAttention(0, 4)
    with pytest.raises(NotImplementedError, match="attention_axes"):
        layers.MultiHeadAttention(2, 4, attention_axes=(1, 2))


def test_mha_uses_the_keras_masks_of_its_inputs():
    ids = np.array([[1, 2, 0], [3, 0, 0]])
    emb = layers.Embedding(4, 4, mask_zero=True)
    layer = layers.MultiHeadAttention(1, 2)
    h = emb(ids)
    out = layer(h, h)
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), ids != 0)
    x = h.numpy()
    mask = (ids != 0)[:, :, None] & (ids != 0)[:, None, :]
    want = _mha_reference(layer, x, x, mask)
    np.testing.assert_allclose(out.numpy()[ids != 0], want[ids != 0], rtol=1e-4, atol=1e-5)
    # Keras 3.15 reads the query's own Keras mask and ignores a `query_mask` argument; `value_mask` counts
    plain = tf.constant(x)
    np.testing.assert_array_equal(layer(plain, plain, query_mask=ids == 0).numpy(), layer(plain, plain).numpy())
    vm = ids != 0
    np.testing.assert_allclose(layer(plain, plain, value_mask=vm).numpy(),
                               _mha_reference(layer, x, x, np.broadcast_to(vm[:, None, :], (2, 3, 3))),
                               rtol=1e-4, atol=1e-5)


def test_mha_functional_round_trip_keeps_use_causal_mask(tmp_path):
    inp = tf.keras.Input((5, 4))
    model = tf.keras.Model(inp, layers.MultiHeadAttention(2, 4)(inp, inp, use_causal_mask=True))
    x = np.random.default_rng(2).standard_normal((1, 5, 4)).astype("float32")
    y = model.predict(x, verbose=0)
    x2 = x.copy()
    x2[:, 3:] = 9.0
    np.testing.assert_allclose(model.predict(x2, verbose=0)[:, :3], y[:, :3], rtol=1e-6)  # the past only
    node = json.loads(model.to_json())["config"]["layers"][1]["inbound_nodes"][0]
    assert node["kwargs"] == {"use_causal_mask": True} and len(node["args"]) == 2  # Keras's node form
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(tf.keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0), y, rtol=1e-6)


@pytest.mark.parametrize("score_mode", ["dot", "concat"])
def test_attention_values_and_masks(device, score_mode):
    rng = np.random.default_rng(3)
    q, v = rng.standard_normal((2, 3, 4)).astype("float32"), rng.standard_normal((2, 5, 4)).astype("float32")
    layer = layers.Attention(use_scale=True, score_mode=score_mode)
    qm, vm = np.array([[1, 1, 0], [1, 1, 1]], bool), np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    out, w = layer([q, v], mask=[qm, vm], return_attention_scores=True)
    s = q @ v.transpose(0, 2, 1) if score_mode == "dot" else np.tanh(q[:, :, None] + v[:, None]).sum(-1)
    probs = _softmax(np.where(vm[:, None], s, s - 1e9))
    np.testing.assert_allclose(w.numpy(), probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), (probs @ v) * qm[..., None], rtol=1e-5, atol=1e-6)
    assert len(layer.weights) == (1 if score_mode == "dot" else 2)
    assert layers.Attention.from_config(layer.get_config()).score_mode == score_mode
    causal = layers.Attention()([q, q], use_causal_mask=True).numpy()
    np.testing.assert_allclose(causal[:, 0], q[:, 0], rtol=1e-6)  # step 0 attends to itself only
