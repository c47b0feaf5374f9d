"""ConvLSTM1D/2D/3D (Keras 3.15's weights, gates and configs): a ConvLSTM1D against a NumPy recurrence with direct
convolution loops, a 1x1 ConvLSTM2D against an LSTM run on every pixel, shapes of the 3-D layer, finite-difference
gradients in float64."""
import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_gradients
from layer_test_utils import rnd, same_pads

keras = tf.keras
layers = keras.layers


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _conv1d(x, k, padding):
    """(batch, steps, C) * (kernel, C, F), stride 1: a loop."""
    if padding == "same":
        _, left, right = same_pads(x.shape[1], k.shape[0], 1)
        x = np.pad(x, ((0, 0), (left, right), (0, 0)))
    steps = x.shape[1] - k.shape[0] + 1
    return np.stack([np.einsum("bkc,kcf->bf", x[:, t:t + k.shape[0]], k) for t in range(steps)], axis=1)


def test_conv_lstm1d_equals_a_numpy_recurrence(device):
    x = rnd(2, 4, 6, 3)  # (batch, time, steps, channels)
    layer = layers.ConvLSTM1D(2, 3, return_sequences=True)
    out = layer(x).numpy()
    k, rk, b = layer.get_weights()
    assert (k.shape, rk.shape, b.shape) == ((3, 3, 8), (3, 2, 8), (8,))
    np.testing.assert_array_equal(b, [0, 0, 1, 1, 0, 0, 0, 0])  # unit_forget_bias
    h = c = np.zeros((2, 4, 2))
    expected = []
    for t in range(4):
        z = _conv1d(x[:, t].astype(np.float64), k, "valid") + b + _conv1d(h, rk, "same")
        zi, zf, zc, zo = np.split(z, 4, axis=-1)
        c = _sigmoid(zf) * c + _sigmoid(zi) * np.tanh(zc)
        h = _sigmoid(zo) * np.tanh(c)
        expected.append(h)
    np.testing.assert_allclose(out, np.stack(expected, 1), rtol=1e-5, atol=1e-5)


def test_pointwise_conv_lstm2d_is_an_lstm_on_every_pixel():
    x = rnd(2, 3, 4, 5, 2, seed=1)
    conv = layers.ConvLSTM2D(3, 1, return_state=True)
    out, h, c = conv(x)
    k, rk, b = conv.get_weights()
    lstm = layers.LSTM(3, return_state=True)
    pixels = x.transpose(0, 2, 3, 1, 4).reshape(2 * 4 * 5, 3, 2)
    lstm(pixels)
    lstm.set_weights([k[0, 0], rk[0, 0], b])
    ref, ref_h, ref_c = lstm(pixels)
    np.testing.assert_allclose(out.numpy(), ref.numpy().reshape(2, 4, 5, 3), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.numpy(), ref_c.numpy().reshape(2, 4, 5, 3), rtol=1e-5, atol=1e-6)
    assert [w.path for w in conv.weights] == [f"{conv.name}/conv_lstm_cell/{n}" for n in
                                              ("kernel", "recurrent_kernel", "bias")]


def test_conv_lstm_shapes_config_and_errors():
    sym = layers.ConvLSTM3D(2, 2, padding="same", return_sequences=True)(keras.Input((2, 3, 4, 4, 2)))
    assert tuple(sym.shape) == (None, 2, 3, 4, 4, 2)
    layer = layers.ConvLSTM2D(4, (2, 3), strides=(2, 1), padding="same", go_backwards=True)
    assert tuple(layer(rnd(1, 2, 5, 6, 3)).shape) == (1, 3, 6, 4)
    config = layer.get_config()
    assert "cell" not in config and config["kernel_size"] == (2, 3) and config["go_backwards"] is True
    assert config["recurrent_initializer"]["class_name"] == "Orthogonal" and config["unroll"] is False
    assert layers.ConvLSTM2D.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="expected ndim=5"):
        layers.ConvLSTM2D(2, 3)(rnd(2, 3, 4, 5))



def test_conv_lstm_dropout_per_gate():
    x = rnd(2, 3, 5, 5, 2, seed=6)
    layer = layers.ConvLSTM2D(3, 3, padding="same", dropout=0.3, recurrent_dropout=0.2, seed=1, return_sequences=True)
    plain = layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True)
    out = layer(x, training=False).numpy()  # no dropout outside training
    plain(x)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(out, plain(x).numpy(), rtol=1e-6)
    dropped = layer(x, training=True).numpy()
    assert np.all(np.isfinite(dropped)) and not np.allclose(dropped, out)
    # the per-gate path (one convolution per gate slice) with all-ones masks is the fused computation
    layer.cell._gate_masks = lambda kind, like, rate: [tf.ones_like(like)] * 4
    np.testing.assert_allclose(layer(x, training=True).numpy(), out, rtol=1e-5, atol=1e-6)
    masks = layers.ConvLSTM1D(2, 3, dropout=0.5, seed=3).cell
    masks.build((1, 6, 2))
    a = masks._gate_masks("input", tf.ones((1, 6, 2)), 0.5)
    assert len(a) == 4 and masks._gate_masks("input", tf.ones((1, 6, 2)), 0.5) is a  # drawn once per sequence
    assert set(np.unique(np.concatenate([m.numpy().ravel() for m in a]))) <= {0.0, 2.0}


def test_conv_lstm1d_gradients():
    x = rnd(1, 3, 4, 2, seed=2).astype(np.float64)
    k, rk, b = rnd(2, 2, 4, seed=3), rnd(2, 1, 4, seed=4), rnd(4, seed=5)

    def f(x, k, rk, b):
        layer = layers.ConvLSTM1D(1, 2, padding="same", dtype="float64")
        layer.build(x.shape)
        for attr, v in (("kernel", k), ("recurrent_kernel", rk), ("bias", b)):
            object.__setattr__(layer.cell, attr, v)
        return layer(x)
    check_gradients(f, x, k.astype(np.float64), rk.astype(np.float64), b.astype(np.float64))
