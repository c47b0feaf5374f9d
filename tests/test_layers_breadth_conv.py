"""DepthwiseConv1D and SeparableConv1D (Keras 3.15's arguments, weights and configs): run_layer_test on every device
against direct NumPy loops written here, finite-difference gradients in float64."""
import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_gradients
from layer_test_utils import run_layer_test, rnd, same_pads

layers = tf.keras.layers


def _depthwise1d_reference(x, k, stride, dilation, padding):
    """(batch, steps, C) * (kernel, C, M) -> (batch, out, C * M), output channel c * M + m."""
    size = x.shape[1]
    if padding == "same":
        _, left, right = same_pads(size, k.shape[0], stride, dilation)
    else:
        left = right = 0
    x = np.pad(x.astype(np.float64), ((0, 0), (left, right), (0, 0)))
    span = dilation * (k.shape[0] - 1) + 1
    steps = (x.shape[1] - span) // stride + 1
    out = np.zeros((x.shape[0], steps, k.shape[1], k.shape[2]))
    for t in range(steps):
        window = x[:, t * stride:t * stride + span:dilation, :]  # (batch, kernel, C)
        out[:, t] = np.einsum("bkc,kcm->bcm", window, k)
    return out.reshape(x.shape[0], steps, -1)


@pytest.mark.parametrize("kwargs,out_steps", [
    ({"kernel_size": 3, "depth_multiplier": 2}, 5), ({"kernel_size": 3, "strides": 2, "padding": "same"}, 4),
    ({"kernel_size": 2, "dilation_rate": 2}, 5)])
def test_depthwise_conv1d(device, kwargs, out_steps):
    x = rnd(2, 7, 3)
    m = kwargs.get("depth_multiplier", 1)
    layer = run_layer_test(layers.DepthwiseConv1D, kwargs, (2, 7, 3), (2, out_steps, 3 * m), input_data=x,
                           expected_num_trainable_weights=2,
                           expected_weight_shapes=[(kwargs["kernel_size"], 3, m), (3 * m,)])
    k, b = layer.get_weights()
    expected = _depthwise1d_reference(x, k, kwargs.get("strides", 1), kwargs.get("dilation_rate", 1),
                                      kwargs.get("padding", "valid")) + b
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert [w.path.split("/")[1] for w in layer.weights] == ["kernel", "bias"]


@pytest.mark.parametrize("kwargs,out_steps", [
    ({"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, 5),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}, 4)])
def test_separable_conv1d(device, kwargs, out_steps):
    x = rnd(2, 7, 3)
    m = kwargs.get("depth_multiplier", 1)
    f = kwargs["filters"]
    layer = run_layer_test(layers.SeparableConv1D, kwargs, (2, 7, 3), (2, out_steps, f), input_data=x,
                           expected_num_trainable_weights=3, expected_weight_shapes=[(3, 3, m), (1, 3 * m, f), (f,)])
    dk, pk, b = layer.get_weights()
    depthwise = _depthwise1d_reference(x, dk, kwargs.get("strides", 1), 1, kwargs.get("padding", "valid"))
    expected = depthwise @ pk[0] + b
    if kwargs.get("activation") == "relu":
        expected = np.maximum(expected, 0)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert [w.path.split("/")[1] for w in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert layers.SeparableConvolution1D is layers.SeparableConv1D


def test_depthwise_and_separable_conv1d_gradients():
    x = rnd(1, 6, 2, seed=3).astype(np.float64)
    dk, pk, b = rnd(3, 2, 2, seed=4), rnd(1, 4, 3, seed=5), rnd(3, seed=6)

    def sep(x, dk, pk, b):
        layer = layers.SeparableConv1D(3, 3, strides=2, padding="same", depth_multiplier=2, dtype="float64")
        layer.build(x.shape)
        for attr, v in (("depthwise_kernel", dk), ("pointwise_kernel", pk), ("bias", b)):
            object.__setattr__(layer, attr, v)
        return layer(x)
    check_gradients(sep, x, dk.astype(np.float64), pk.astype(np.float64), b.astype(np.float64))

    def dw(x, k):
        layer = layers.DepthwiseConv1D(3, dilation_rate=2, depth_multiplier=2, use_bias=False, dtype="float64")
        layer.build(x.shape)
        object.__setattr__(layer, "kernel", k)
        return layer(x)
    check_gradients(dw, x, dk.astype(np.float64))


def test_conv1d_family_rank_error():
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.DepthwiseConv1D(3)(rnd(2, 5, 5, 3))
