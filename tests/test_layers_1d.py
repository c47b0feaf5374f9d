"""Conv1D, Conv1DTranspose, MaxPooling1D/AveragePooling1D: the shared layer checks (run_layer_test, on every
device) and values against the 2-D reference ops of height 1, worked out independently of the layers."""
import numpy as np
import pytest

import gpuflow as tf
from layer_test_utils import run_layer_test

layers = tf.keras.layers


def _conv1d_reference(x, k, b, stride, dilation, left, right):
    """Direct 1-D cross-correlation with explicit zero padding (a loop, not the layer's reshape)."""
    x = np.pad(x, ((0, 0), (left, right), (0, 0)))
    span = dilation * (k.shape[0] - 1) + 1
    steps = (x.shape[1] - span) // stride + 1
    out = np.zeros((x.shape[0], steps, k.shape[2]))
    for t in range(steps):
        window = x[:, t * stride:t * stride + span:dilation, :]  # (batch, k, channels)
        out[:, t] = np.einsum("bkc,kcf->bf", window, k) + b
    return out


@pytest.mark.parametrize("padding,strides,dilation,pads", [
    ("valid", 1, 1, (0, 0)), ("same", 2, 1, (1, 1)), ("causal", 1, 2, (4, 0)), ("valid", 1, 2, (0, 0))])
def test_conv1d_values(device, padding, strides, dilation, pads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 3)).astype("float32")
    steps = _conv1d_reference(x, np.zeros((3, 3, 4)), 0, strides, dilation, *pads).shape[1]
    layer = run_layer_test(layers.Conv1D, {"filters": 4, "kernel_size": 3, "strides": strides, "padding": padding,
                                           "dilation_rate": dilation}, (2, 7, 3), (2, steps, 4), input_data=x,
                           expected_num_trainable_weights=2, expected_weight_shapes=[(3, 3, 4), (4,)])
    k, b = layer.get_weights()
    np.testing.assert_allclose(layer(x).numpy(), _conv1d_reference(x, k, b, strides, dilation, *pads), rtol=1e-5,
                               atol=1e-5)


def test_conv1d_causal_sees_only_the_past():
    layer = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = np.random.default_rng(1).standard_normal((1, 9, 2)).astype("float32")
    y = layer(x).numpy()
    x2 = x.copy()
    x2[:, 5:] = 7.0
    np.testing.assert_array_equal(layer(x2).numpy()[:, :5], y[:, :5])
    assert layer.get_config()["padding"] == "causal"


def test_conv1d_transpose_is_the_gradient_of_conv1d(device):
    """Conv1DTranspose(x) equals the input gradient of the Conv1D with the same kernel (Keras's definition)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 3)).astype("float32")
    layer = run_layer_test(layers.Conv1DTranspose, {"filters": 5, "kernel_size": 3, "strides": 2,
                                                    "padding": "same", "use_bias": False}, (2, 4, 3), (2, 8, 5),
                           input_data=x, expected_num_trainable_weights=1, expected_weight_shapes=[(3, 5, 3)])
    k = layer.get_weights()[0]  # (kernel, filters, in)
    conv = layers.Conv1D(3, 3, strides=2, padding="same", use_bias=False)
    conv.build((2, 8, 5))
    conv.set_weights([k])
    z = tf.Variable(np.zeros((2, 8, 5), "float32"))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(conv(z) * tf.constant(x))
    np.testing.assert_allclose(layer(x).numpy(), tape.gradient(y, z).numpy(), rtol=1e-5, atol=1e-5)


def test_conv1d_errors():
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.Conv1D(2, 3)(np.zeros((2, 5, 5, 1), "float32"))
    with pytest.raises(ValueError, match="padding"):
        layers.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="output_padding"):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=2)


@pytest.mark.parametrize("cls,reduce", [(layers.MaxPooling1D, np.max), (layers.AveragePooling1D, np.mean)])
def test_pooling1d(device, cls, reduce):
    x = np.random.default_rng(3).standard_normal((2, 7, 3)).astype("float32")
    want = np.stack([reduce(x[:, 2 * t:2 * t + 3], axis=1) for t in range(3)], axis=1)
    run_layer_test(cls, {"pool_size": 3, "strides": 2}, (2, 7, 3), (2, 3, 3), input_data=x, expected_output=want)
    assert cls(pool_size=3).get_config()["pool_size"] == (3,)
    assert cls()(x).shape == (2, 3, 3)  # pool_size 2, strides = pool_size
